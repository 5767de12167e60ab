"""Major hazard installations (危险化学品重大危险源) per GB 18218-2018, as data and pure functions.

- Identification, GB 18218-2018 §4.2 (式 1): a production or storage unit is a major hazard installation
  when the dangerous chemicals in it reach their critical quantities: one substance q ≥ Q, several
  S = Σ qᵢ/Qᵢ ≥ 1 (q: the actual maximum quantity in t; Q: the critical quantity of §4.1, 表 1 / 表 2).
- Grading, GB 18218-2018 §4.3 (式 2): R = α · Σ (βᵢ · qᵢ / Qᵢ), with β the correction factor of the
  substance (表 3 for the toxic gases named there, else 表 4 by hazard category) and α the factor of the
  people exposed outside the plant within 500 m (表 5); the level by R (表 6): 一级 R ≥ 100, 二级
  50 ≤ R < 100, 三级 10 ≤ R < 50, 四级 R < 10. RULES.md §B.5.
A unit below the identification threshold is not a major hazard installation and has no level.
"""
from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass

# GB 18218-2018 表 3 毒性气体校正系数 β: CAS → (名称, β)
BETA_TOXIC_GASES: dict[str, tuple[str, float]] = {
    "630-08-0": ("一氧化碳", 2), "7446-09-5": ("二氧化硫", 2), "7664-41-7": ("氨", 2), "75-21-8": ("环氧乙烷", 2),
    "7647-01-0": ("氯化氢", 3), "74-83-9": ("溴甲烷", 3), "7782-50-5": ("氯", 4), "7783-06-4": ("硫化氢", 5),
    "7664-39-3": ("氟化氢", 5), "10102-44-0": ("二氧化氮", 10), "74-90-8": ("氰化氢", 10), "75-44-5": ("碳酰氯", 20),
    "7803-51-2": ("磷化氢", 20), "624-83-9": ("异氰酸甲酯", 20),
}
# the same gases by the names plants write (名称 and common aliases), for rows without a CAS number
TOXIC_GAS_NAMES: dict[str, str] = {
    **{name: cas for cas, (name, _) in BETA_TOXIC_GASES.items()},
    "氨气": "7664-41-7", "液氨": "7664-41-7", "氯气": "7782-50-5", "液氯": "7782-50-5", "光气": "75-44-5",
    "甲基异氰酸酯": "624-83-9", "氰化氢气体": "74-90-8", "煤气": "630-08-0",
}
# GB 18218-2018 表 4: β of the dangerous chemicals not in 表 3, by hazard category (符号 → (类别, β))
BETA_CATEGORIES: dict[str, tuple[str, float]] = {
    "J1": ("急性毒性 类别1，气体", 4), "J2": ("急性毒性 类别1，固体、液体", 1), "J3": ("急性毒性 类别2、3，气体", 2),
    "J4": ("急性毒性 类别2、3，吸入，液体（沸点 ≤ 35 °C）", 2), "J5": ("急性毒性 类别2，液体（J4 以外）、固体", 1),
    "W1.1": ("不稳定爆炸物", 2), "W1.2": ("1.1 项爆炸物", 2), "W1.3": ("1.1 项以外的爆炸物", 2),
    "W2": ("易燃气体 类别1、2", 1.5), "W3": ("气溶胶", 1), "W4": ("氧化性气体", 1),
    "W5.1": ("易燃液体 类别1", 1.5), "W5.2": ("易燃液体 类别1–3，工作温度高于沸点", 1),
    "W5.3": ("易燃液体 类别2、3，有引发重大事故的特殊工艺条件", 1), "W5.4": ("易燃液体 类别2、3（W5.2、W5.3 以外）", 1),
    "W6.1": ("自反应物质和混合物 A、B 型", 1.5), "W6.2": ("自反应物质和混合物 C–F 型", 1),
    "W7.1": ("有机过氧化物 A、B 型", 1.5), "W7.2": ("有机过氧化物 C–F 型", 1),
    "W8": ("自燃液体和自燃固体", 1), "W9.1": ("氧化性固体和液体 类别1", 1), "W9.2": ("氧化性固体和液体 类别2、3", 1),
    "W10": ("易燃固体 类别1", 1), "W11": ("遇水放出易燃气体的物质和混合物 类别1、2", 1),
    "other": ("其他危险化学品", 1),
}
# GB 18218-2018 表 5: α by the people exposed outside the plant within 500 m (lowest count of the band → α)
ALPHA_BANDS: tuple[tuple[int, float], ...] = ((100, 2.0), (50, 1.5), (30, 1.2), (1, 1.0), (0, 0.5))
# GB 18218-2018 表 6: level → the lowest R of it (四级: everything below 10)
LEVEL_FROM: tuple[tuple[int, float], ...] = ((1, 100.0), (2, 50.0), (3, 10.0), (4, 0.0))
LEVEL_NAMES = {1: ("一级", "level 1"), 2: ("二级", "level 2"), 3: ("三级", "level 3"), 4: ("四级", "level 4")}
KINDS = {"tank_farm": ("储罐区", "tank farm"), "warehouse": ("库区", "warehouse"),
         "production": ("生产装置", "production unit")}
_EPS = 9   # decimals kept before comparing with a threshold: 0.1 + 0.2 t must reach a 0.3 t critical quantity


@dataclass(frozen=True)
class Substance:
    name: str
    q: float                # actual maximum quantity, t
    critical: float         # critical quantity Q, t
    category: str = "other"  # 表 4 symbol, or "other"
    cas: str = ""


def beta(s: Substance) -> tuple[float, str]:
    """(β, where it came from): 表 3 by CAS number, else by name, for the toxic gases it names; else 表 4 by
    category. ValueError for a category 表 4 does not have."""
    cas = s.cas.strip()
    if cas in BETA_TOXIC_GASES:
        return BETA_TOXIC_GASES[cas][1], "表3"
    by_name = TOXIC_GAS_NAMES.get(s.name.strip())
    if not cas and by_name:
        return BETA_TOXIC_GASES[by_name][1], "表3"
    if s.category not in BETA_CATEGORIES:
        raise ValueError(f"category must be one of {', '.join(BETA_CATEGORIES)} (GB 18218-2018 表4), not {s.category!r}")
    return BETA_CATEGORIES[s.category][1], "表4"


def alpha(people_500m: int) -> float:
    """α of GB 18218-2018 表 5 for the people within 500 m outside the plant; ValueError below 0."""
    if not isinstance(people_500m, int) or isinstance(people_500m, bool) or people_500m < 0:
        raise ValueError("people_500m must be a whole number ≥ 0")
    return next(a for lowest, a in ALPHA_BANDS if people_500m >= lowest)


def level_of(r: float) -> int:
    """The level (1 一级 … 4 四级) of R per GB 18218-2018 表 6."""
    r = round(r, _EPS)
    return next(lv for lv, lowest in LEVEL_FROM if r >= lowest)


def _check(s: Substance) -> None:
    if not (isinstance(s.critical, (int, float)) and math.isfinite(s.critical) and s.critical > 0):
        raise ValueError(f"critical quantity Q of {s.name!r} must be a number > 0 t (GB 18218-2018 §4.1)")
    if not (isinstance(s.q, (int, float)) and math.isfinite(s.q) and s.q >= 0):
        raise ValueError(f"quantity q of {s.name!r} must be a number ≥ 0 t")


@dataclass(frozen=True)
class Grade:
    ratio_sum: float         # S = Σ q/Q (§4.2)
    is_major: bool           # S ≥ 1
    alpha: float
    weighted_sum: float      # Σ β·q/Q
    r: float | None          # R = α·Σβq/Q, only for a major hazard installation
    level: int | None        # 1..4, only for a major hazard installation
    betas: tuple[float, ...]


def assess(substances: Iterable[Substance], people_500m: int) -> Grade:
    """Identify (§4.2) and grade (§4.3) one unit. An empty list is no major hazard installation; a
    Q ≤ 0, a negative q or an unknown category is a ValueError naming the substance."""
    items = list(substances)
    for s in items:
        _check(s)
    a = alpha(people_500m)
    betas = tuple(beta(s)[0] for s in items)
    ratio = round(math.fsum(s.q / s.critical for s in items), _EPS)
    weighted = round(math.fsum(b * s.q / s.critical for b, s in zip(betas, items, strict=True)), _EPS)
    major = ratio >= 1
    r = round(a * weighted, _EPS) if major else None
    return Grade(ratio, major, a, weighted, r, level_of(r) if r is not None else None, betas)
