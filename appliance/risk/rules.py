"""Risk grading of the dual prevention mechanism (双重预防机制 · 风险分级管控), as data and pure functions.

Four levels with the regulators' RISK_CLASS codes: 1 重大 (red), 2 较大 (orange), 3 一般 (yellow), 4 低 (blue).

- LEC (作业条件危险性评价法): D = L × E × C with the classic factor scales; D > 320 red, 160–320 orange,
  70–160 yellow, below 70 blue (GUIDE §3; boundary inclusivity differs between sources and some enterprises
  use other cut-offs, so the cut-offs are a profile, set by the plant in [risk.lec]). Below 70 the classic
  table has two bands (RULES.md §B.4): 20–70 一般危险 and D < 20 稍有危险，可以接受 — both blue, the second
  marked acceptable (`lec_acceptable`), so a register never shows such an event as merely blank.
- LS (风险矩阵): R = L × S on 1–5 scales; provinces disagree on the bands, so two profiles ship:
  A: 20–25 重大, 9–16 较大, 4–8 一般, 1–3 低;  B: 20–25 重大, 10–16 较大, 4–9 一般, 1–3 低.
"""
from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

LEVELS = {1: ("重大", "major", "red"), 2: ("较大", "significant", "orange"), 3: ("一般", "general", "yellow"),
          4: ("低", "low", "blue")}

LEC_L = {10: "完全可以预料", 6: "相当可能", 3: "可能但不经常", 1: "可能性小，完全意外", 0.5: "很不可能，可以设想",
         0.2: "极不可能", 0.1: "实际不可能"}
LEC_E = {10: "连续暴露", 6: "每天工作时间内暴露", 3: "每周一次或偶然暴露", 2: "每月一次暴露", 1: "每年几次暴露",
         0.5: "非常罕见地暴露"}
LEC_C = {100: "大灾难，许多人死亡", 40: "灾难，数人死亡", 15: "非常严重，一人死亡", 7: "严重，重伤", 3: "重大，致残",
         1: "引人注目，需要救护"}


@dataclass(frozen=True)
class LecProfile:
    """D above `red_above` is 重大; from `orange_from` 较大; from `yellow_from` 一般; below it 低, and below
    `acceptable_below` also 稍有危险，可以接受."""

    red_above: float = 320
    orange_from: float = 160
    yellow_from: float = 70
    acceptable_below: float = 20


@dataclass(frozen=True)
class LsProfile:
    """Lowest R of each level (R = L × S, 1..25)."""

    major_from: int
    significant_from: int
    general_from: int


LEC_PROFILES = {"default": LecProfile()}
LS_PROFILES = {"A": LsProfile(20, 9, 4), "B": LsProfile(20, 10, 4)}


# The classic LEC danger bands (RULES.md §B.4), most severe first; the last one is the acceptable one.
LEC_BANDS = {1: ("极其危险，不能继续作业", "extremely dangerous"), 2: ("高度危险，需立即整改", "highly dangerous"),
             3: ("显著危险，需要整改", "substantially dangerous"), 4: ("一般危险，需要注意", "possibly dangerous"),
             5: ("稍有危险，可以接受", "slightly dangerous, acceptable")}


def lec(l: float, e: float, c: float, profile: str = "default",
        profiles: Mapping[str, LecProfile] | None = None) -> tuple[float, int]:
    """(D, level) for the LEC factors; ValueError for a factor not on its scale or an unknown profile.
    `profiles` are the plant's (settings.lec_profiles), LEC_PROFILES when not given."""
    for name, v, scale in (("L", l, LEC_L), ("E", e, LEC_E), ("C", c, LEC_C)):
        if v not in scale:
            raise ValueError(f"{name} must be one of {sorted(scale)}")
    p = (LEC_PROFILES if profiles is None else profiles).get(profile)
    if p is None:
        raise ValueError(f"unknown LEC profile {profile!r}")
    d = round(l * e * c, 4)
    level = 1 if d > p.red_above else 2 if d >= p.orange_from else 3 if d >= p.yellow_from else 4
    return d, level


def lec_band(d: float, profile: str = "default", profiles: Mapping[str, LecProfile] | None = None) -> int:
    """The LEC danger band 1..5 of D (LEC_BANDS): 1–4 are the levels, 5 is 稍有危险，可以接受 (D below the
    profile's `acceptable_below`, RULES.md §B.4)."""
    p = (LEC_PROFILES if profiles is None else profiles).get(profile)
    if p is None:
        raise ValueError(f"unknown LEC profile {profile!r}")
    if d > p.red_above:
        return 1
    if d >= p.orange_from:
        return 2
    if d >= p.yellow_from:
        return 3
    return 4 if d >= p.acceptable_below else 5


def lec_acceptable(method: str, score: float | None, level: int | None, profile: str = "default",
                   profiles: Mapping[str, LecProfile] | None = None) -> bool:
    """True for an LEC assessment in the 稍有危险，可以接受 band (D < acceptable_below). Only ever for a 低
    (level 4) event: a level stored under older, stricter cut-offs is never contradicted by the marker."""
    if method != "LEC" or score is None or level != 4:
        return False
    try:
        return lec_band(score, profile, profiles) == 5
    except ValueError:   # a profile no longer configured: no marker rather than a wrong one
        return False


def ls(l: int, s: int, profile: str = "A", profiles: Mapping[str, LsProfile] | None = None) -> tuple[int, int]:
    """(R, level) for likelihood and severity on 1–5; ValueError outside the scale or for an unknown profile.
    `profiles` are the plant's (settings.ls_profiles), LS_PROFILES when not given."""
    for name, v in (("L", l), ("S", s)):
        if not (isinstance(v, int) and 1 <= v <= 5):
            raise ValueError(f"{name} must be an integer 1..5")
    known = LS_PROFILES if profiles is None else profiles
    p = known.get(profile)
    if p is None:
        raise ValueError(f"unknown LS profile {profile!r}; known: {', '.join(known)}")
    r = l * s
    level = 1 if r >= p.major_from else 2 if r >= p.significant_from else 3 if r >= p.general_from else 4
    return r, level


def highest(levels) -> int | None:
    """The most severe level among `levels` (1 is the most severe); None when there is none."""
    present = [v for v in levels if v]
    return min(present) if present else None
