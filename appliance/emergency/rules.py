"""Emergency rules as data and pure functions (no database, no clock): accident grading and the reporting
deadlines of 《生产安全事故报告和调查处理条例》 (国务院令第493号), the walk graph over the plant's areas and
doors (shortest route avoiding the affected and downwind areas), the downwind sector, who was near, the
muster count, and the resources ranked for dispatch.
"""
from __future__ import annotations

import heapq
import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date

MIN = 60_000
H = 60 * MIN
DAY = 24 * H

# ---------------------------------------------------------------- accident grading, 国务院令第493号 第三条
# (grade, zh, en, deaths ≥, serious injuries (重伤, 含急性工业中毒) ≥, direct economic loss ≥ yuan), most severe
# first. 第三条: "以上" includes the number, "以下" excludes it — so each lower bound is inclusive and the
# grade is the most severe one that ANY of the three criteria reaches (第三条 "或者").
GRADES: tuple[tuple[str, str, str, int, int, int], ...] = (
    ("especially_major", "特别重大事故", "especially major", 30, 100, 100_000_000),   # 第三条（一）
    ("major", "重大事故", "major", 10, 50, 50_000_000),                               # 第三条（二）
    ("larger", "较大事故", "larger", 3, 10, 10_000_000),                              # 第三条（三）
    ("general", "一般事故", "general", 0, 0, 0),                                      # 第三条（四）: below 较大
)
GRADE_NAMES = {g: (zh, en) for g, zh, en, *_ in GRADES}


def grade(deaths: int, serious_injuries: int, direct_loss_yuan: int) -> str:
    """The accident's grade under 493号令 第三条 (a negative count is a caller's error)."""
    if min(deaths, serious_injuries, direct_loss_yuan) < 0:
        raise ValueError("deaths, injuries and loss cannot be negative")
    for code, _zh, _en, d, s, loss in GRADES[:-1]:
        if deaths >= d or serious_injuries >= s or direct_loss_yuan >= loss:
            return code
    return "general"


# ---------------------------------------------------------------- reporting and investigation deadlines
# Who investigates (第十九条) and which authority the report climbs to (第十条).
INVESTIGATED_BY = {"especially_major": ("国务院或其授权部门", "the State Council"),
                   "major": ("省级人民政府", "the provincial government"),
                   "larger": ("设区的市级人民政府", "the city government"),
                   "general": ("县级人民政府", "the county government")}
REPORTED_UP_TO = {"especially_major": ("国务院安全生产监督管理部门", "the State Council's work-safety department"),
                  "major": ("国务院安全生产监督管理部门", "the State Council's work-safety department"),
                  "larger": ("省级安全生产监督管理部门", "the provincial work-safety department"),
                  "general": ("设区的市级安全生产监督管理部门", "the city work-safety department")}


@dataclass(frozen=True)
class Deadline:
    code: str
    due_at: int
    zh: str
    en: str
    clause: str


def deadlines(grade_code: str, occurred_at: int, kind: str = "other") -> list[Deadline]:
    """The statutory clocks that start when the accident happens (493号令), earliest first."""
    if grade_code not in GRADE_NAMES:
        raise ValueError(f"unknown grade {grade_code!r}")
    # 第十三条: casualties changing within 30 days are reported again; 7 days for road traffic and fire
    supplement = 7 * DAY if kind in ("fire", "road_traffic") else 30 * DAY
    approve = 30 * DAY if grade_code == "especially_major" else 15 * DAY
    return [
        # 第九条: people at the scene report to the unit's head at once
        Deadline("scene_to_head", occurred_at, "现场人员立即报告本单位负责人", "people at the scene tell the unit head at once",
                 "第九条"),
        # 第九条: the unit's head reports to the county-level (or higher) work-safety authority within 1 hour
        Deadline("head_to_authority", occurred_at + 1 * H,
                 "单位负责人 1 小时内报告县级以上安全生产监督管理部门",
                 "the unit head reports to the county work-safety authority within 1 hour", "第九条"),
        # 第十一条: each level of authority passes it on within 2 hours (shown for the unit's follow-up)
        Deadline("authority_up", occurred_at + 3 * H,
                 f"监管部门逐级上报至{REPORTED_UP_TO[grade_code][0]}（每级不超过 2 小时）",
                 f"authorities pass it up to {REPORTED_UP_TO[grade_code][1]} (≤ 2 h a level)", "第十条、第十一条"),
        Deadline("casualties_supplement", occurred_at + supplement,
                 "伤亡人数变化补报截止", "last day to report a change in casualties", "第十三条"),
        # 第二十九条: the investigation team reports within 60 days (extendable by at most 60 days)
        Deadline("investigation_report", occurred_at + 60 * DAY, "事故调查报告提交期限（60 日）",
                 "investigation report due (60 days)", "第二十九条"),
        # 第三十二条: the government approves within 15 days of the report (30 for 特别重大) — from day 60 at latest
        Deadline("approval", occurred_at + 60 * DAY + approve, "人民政府批复期限", "government's decision due",
                 "第三十二条"),
    ]


def clause_en(clause: str) -> str:
    """The decree's articles as an English page cites them: "第九条" → "Art. 9", "第十条、第十一条" →
    "Arts. 10, 11" (numbers 1-99 in Chinese numerals; anything else is kept as it is)."""
    digits = "一二三四五六七八九"

    def number(s: str) -> int | None:
        if s and all(c in digits for c in s) and len(s) == 1:
            return digits.index(s) + 1
        tens, sep, ones = s.partition("十")
        if not sep or len(tens) > 1 or len(ones) > 1 or any(c not in digits for c in tens + ones):
            return None
        return (digits.index(tens) + 1 if tens else 1) * 10 + (digits.index(ones) + 1 if ones else 0)

    parts = [p.strip() for p in clause.split("、")]
    nums = [number(p[1:-1]) if p.startswith("第") and p.endswith("条") else None for p in parts]
    if not parts or any(n is None for n in nums):
        return clause
    return ("Art. " if len(nums) == 1 else "Arts. ") + ", ".join(str(n) for n in nums)


# ---------------------------------------------------------------- the walk graph
# Areas are nodes; doors/passages are undirected edges with a walking distance in metres (data, edited per
# site). No standard fixes this: evacuation "upwind or crosswind, away from the release" is the practice
# plans written to GB/T 29639-2020 (应急预案编制导则) describe; the rules here only compute it.

Edge = tuple[str, str, float]


def _adjacency(edges: Iterable[Edge]) -> dict[str, list[tuple[str, float]]]:
    adj: dict[str, list[tuple[str, float]]] = {}
    for a, b, m in edges:
        if m < 0:
            raise ValueError(f"negative distance {a}–{b}")
        adj.setdefault(a, []).append((b, float(m)))
        adj.setdefault(b, []).append((a, float(m)))
    return adj


def distances(edges: Iterable[Edge], start: str, avoid: Iterable[str] = ()) -> dict[str, float]:
    """Walking distance from `start` to every area reachable without passing through `avoid` (Dijkstra).
    `start` itself may be in `avoid`: the people there must get out."""
    adj, blocked = _adjacency(edges), set(avoid) - {start}
    best = {start: 0.0}
    heap = [(0.0, start)]
    while heap:
        d, node = heapq.heappop(heap)
        if d > best.get(node, math.inf):
            continue
        for nxt, m in adj.get(node, ()):
            if nxt in blocked:
                continue
            nd = d + m
            if nd < best.get(nxt, math.inf):
                best[nxt] = nd
                heapq.heappush(heap, (nd, nxt))
    return best


def route(edges: Iterable[Edge], start: str, targets: Iterable[str], avoid: Iterable[str] = ()) -> tuple[list[str], float] | None:
    """The shortest walk from `start` to the nearest of `targets` that passes through none of `avoid` (a
    target inside `avoid` is no refuge), as (areas in order, metres); None when every way is cut."""
    edges = list(edges)
    blocked = set(avoid) - {start}
    goals = set(targets) - blocked
    adj = _adjacency(edges)
    best: dict[str, float] = {start: 0.0}
    prev: dict[str, str] = {}
    heap = [(0.0, start)]
    while heap:
        d, node = heapq.heappop(heap)
        if d > best.get(node, math.inf):
            continue
        if node in goals:
            path = [node]
            while path[-1] != start:
                path.append(prev[path[-1]])
            return path[::-1], d
        for nxt, m in adj.get(node, ()):
            if nxt in blocked:
                continue
            nd = d + m
            if nd < best.get(nxt, math.inf):
                best[nxt], prev[nxt] = nd, node
                heapq.heappush(heap, (nd, nxt))
    return None


def neighbours(edges: Iterable[Edge], area: str) -> set[str]:
    """Areas one door away."""
    return {b for b, _ in _adjacency(edges).get(area, ())}


# ---------------------------------------------------------------- wind: the downwind sector

DOWNWIND_HALF_SECTOR_DEG = 45.0   # a site setting: areas within ±45° of the downwind bearing are "downwind"


def centroid(polygon: list[list[float]] | list[tuple[float, float]]) -> tuple[float, float]:
    """The mean of a polygon's corners (good enough for the convex area shapes on a plant plan)."""
    if not polygon:
        raise ValueError("empty polygon")
    xs, ys = zip(*polygon, strict=True)
    return sum(xs) / len(xs), sum(ys) / len(ys)


def bearing(frm: tuple[float, float], to: tuple[float, float]) -> float:
    """Compass bearing (0 = north = up on the plan, clockwise) from one plan point to another."""
    dx, dy = to[0] - frm[0], to[1] - frm[1]
    return math.degrees(math.atan2(dx, -dy)) % 360


def downwind(source: str, centres: Mapping[str, tuple[float, float]], wind_from_deg: float | None,
             half_sector: float = DOWNWIND_HALF_SECTOR_DEG) -> set[str]:
    """Areas whose centre lies in the sector the wind carries the release into. `wind_from_deg` follows the
    meteorological convention (the direction the wind blows FROM: 0 a north wind); None (calm, unknown) marks
    none. The source area itself is affected anyway and not listed."""
    if wind_from_deg is None or source not in centres:
        return set()
    to = (wind_from_deg + 180) % 360
    out = set()
    for code, c in centres.items():
        if code == source or c == centres[source]:
            continue
        diff = abs((bearing(centres[source], c) - to + 180) % 360 - 180)
        if diff <= half_sector:
            out.add(code)
    return out


# ---------------------------------------------------------------- wind followed from a weather point

# One point of the 16-point compass that weather observation reports wind direction in (GB/T 35227-2017
# 地面气象观测规范 风向和风速: 16 方位, 22.5° each): a smaller swing is the same wind for the plan.
WIND_CHANGE_DEG = 22.5
# A gust swings the vane for seconds; the plan is redrawn only when the new direction held this long
# (site practice; the 2-minute mean wind of the same standard is the slower reference).
WIND_SUSTAIN_S = 30


def wind_delta(a: float, b: float) -> float:
    """The smaller angle between two directions (350° and 10° are 20° apart)."""
    return abs((a - b + 180) % 360 - 180)


def wind_follow(applied: float | None, reading: float | None, since: int | None, now: int,
                threshold: float = WIND_CHANGE_DEG, sustain_s: float = WIND_SUSTAIN_S) -> tuple[str, int | None]:
    """What to do with an incident whose wind follows the weather point, given the direction the plan was
    drawn for (`applied`), the point's reading now (None: fault, no reading) and since when (ms) the reading
    has differed by more than `threshold`. Returns (decision, since): "fault" (keep the plan, the wind is
    shown unknown), "keep" (same wind), "wait" (changed, not yet for `sustain_s`), "apply" (redraw)."""
    if reading is None:
        return "fault", None
    if applied is None:
        return "apply", None            # the wind was unknown: any reading is better than none
    if wind_delta(applied, reading) <= threshold:
        return "keep", None
    if since is None:
        return "wait", now
    if now - since >= sustain_s * 1000:
        return "apply", None
    return "wait", since


# ---------------------------------------------------------------- people near, muster

@dataclass(frozen=True)
class Sighting:
    person_id: int
    area: str | None
    at: int
    source: str           # patrol | gate | permit


def latest(sightings: Iterable[Sighting]) -> dict[int, Sighting]:
    """Each person's latest sighting (an older relayed tap never moves anyone back)."""
    out: dict[int, Sighting] = {}
    for s in sightings:
        if s.person_id not in out or s.at > out[s.person_id].at:
            out[s.person_id] = s
    return out


def people_near(sightings: Iterable[Sighting], areas: Iterable[str], since: int) -> list[Sighting]:
    """People whose LATEST sighting since `since` is in one of `areas` (somebody who tapped at the tank farm
    and then at the gate is at the gate), newest first."""
    wanted = set(areas)
    return sorted((s for s in latest(x for x in sightings if x.at >= since).values() if s.area in wanted),
                  key=lambda s: -s.at)


def muster(expected: Mapping[int, Sighting], present: Mapping[int, int]) -> dict:
    """The roll: expected (each with their last-seen place and time before the muster), present (person →
    tap time); counts per area of last sighting, the missing by name order of id, and people present who
    were not expected (visitors, a late arrival) counted as present too."""
    per_area: dict[str | None, dict[str, int]] = {}
    for pid, s in expected.items():
        row = per_area.setdefault(s.area, {"expected": 0, "present": 0})
        row["expected"] += 1
        row["present"] += pid in present
    missing = sorted((s for pid, s in expected.items() if pid not in present), key=lambda s: (s.area or "", s.person_id))
    extra = sorted(set(present) - set(expected))
    return {"expected": len(expected), "present": len(set(present) | set(expected)) - len(missing),
            "missing": missing, "extra": extra, "per_area": per_area, "all_accounted": not missing}


# ---------------------------------------------------------------- resources for dispatch

RESOURCE_KINDS = {
    "breathing_apparatus": ("正压式空气呼吸器", "breathing apparatus"),
    "gas_detector": ("便携式气体检测仪", "portable gas detector"),
    "fire_extinguisher": ("灭火器", "fire extinguisher"),
    "fire_hydrant": ("消火栓", "fire hydrant"),
    "eyewash": ("洗眼器/紧急喷淋", "eyewash / safety shower"),
    "first_aid": ("急救箱", "first-aid kit"),
    "spill_kit": ("泄漏应急处置包", "spill kit"),
    "chemical_suit": ("防化服", "chemical protective suit"),
    "stretcher": ("担架", "stretcher"),
}

# what a responder needs first, by the gas's kind (appliance.gas.gases Kind) and by incident kind
NEEDED = {
    "toxic": ("breathing_apparatus", "gas_detector", "chemical_suit", "eyewash", "first_aid"),
    "combustible": ("breathing_apparatus", "gas_detector", "fire_extinguisher", "fire_hydrant", "first_aid"),
    "oxygen": ("breathing_apparatus", "gas_detector", "first_aid", "stretcher"),
    "fire": ("fire_extinguisher", "fire_hydrant", "breathing_apparatus", "first_aid"),
    "poisoning": ("breathing_apparatus", "gas_detector", "eyewash", "first_aid", "stretcher"),
    "confined_space": ("breathing_apparatus", "gas_detector", "stretcher", "first_aid"),
}
EXPIRY_WARN_DAYS = 30   # a resource this close to its expiry or inspection date is flagged (site practice)


@dataclass(frozen=True)
class Resource:
    id: int
    kind: str
    area: str
    available: int
    expires_on_ms: int | None = None
    next_inspection_ms: int | None = None


def resource_state(r: Resource, now: int) -> str:
    """ok | warn (expiry or inspection within EXPIRY_WARN_DAYS) | expired | overdue (inspection passed) |
    empty (none available)."""
    if r.available <= 0:
        return "empty"
    if r.expires_on_ms is not None and r.expires_on_ms <= now:
        return "expired"
    if r.next_inspection_ms is not None and r.next_inspection_ms <= now:
        return "overdue"
    soon = now + EXPIRY_WARN_DAYS * DAY
    if any(x is not None and x <= soon for x in (r.expires_on_ms, r.next_inspection_ms)):
        return "warn"
    return "ok"


# the days before an expiry or inspection date on which the safety office is told, once each (site practice,
# as for certificates): a month to order or book it, a week's reminder, and the day itself (and after)
RESOURCE_WARN_DAYS = (EXPIRY_WARN_DAYS, 7, 0)


def resource_warnings(due_on: date, today: date, sent: Iterable[int],
                      warn_days: Iterable[int] = RESOURCE_WARN_DAYS) -> list[int]:
    """The thresholds (days before `due_on`) whose day has come by `today` and that were not warned yet, most
    urgent last; a threshold missed while the box was off comes late, never skipped."""
    done, left = set(sent), (due_on - today).days
    return [n for n in sorted(set(warn_days), reverse=True) if n not in done and left <= n]


def rank_resources(resources: Iterable[Resource], dist: Mapping[str, float], needed: Iterable[str], now: int,
                   per_kind: int = 2) -> list[tuple[Resource, float]]:
    """Usable resources (available, in date) of the needed kinds, nearest first by walk distance, `per_kind`
    of each, in the order of need. Unreachable ones are left out."""
    usable = [r for r in resources if resource_state(r, now) in ("ok", "warn") and r.area in dist]
    out = []
    for kind in needed:
        mine = sorted((r for r in usable if r.kind == kind), key=lambda r: (dist[r.area], -r.available, r.id))
        out += [(r, dist[r.area]) for r in mine[:per_kind]]
    return out
