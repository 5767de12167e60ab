"""Special work (特殊作业) rules per GB 30871-2022 《危险化学品企业特殊作业安全规范》, as data and pure functions.

The standard's full text was not available to us (shared/domain/RULES.md §B.1 and §D): every value here is
the standard's as quoted by secondary sources, with the clause named where the sources name it. They are
data so a site can be checked against its purchased copy and a value changed in one place.
"""
from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from appliance.permits.measures import MEASURES, measures_missing  # noqa: F401  (part of the rules' names)

H = 3_600_000   # one hour in ms
MIN = 60_000

# ---------------------------------------------------------------- work types and grades

# GB 30871-2022 §3/§4: the eight special work types (regional schema ZylxEnum 1–8, RULES.md §B.1)
TYPES: dict[str, tuple[str, str]] = {
    "hot_work": ("动火作业", "Hot work"),
    "confined_space": ("受限空间作业", "Confined space entry"),
    "blinding": ("盲板抽堵作业", "Line blinding"),
    "height": ("高处作业", "Work at height"),
    "lifting": ("吊装作业", "Lifting"),
    "temp_power": ("临时用电作业", "Temporary power"),
    "excavation": ("动土作业", "Excavation"),
    "road_closure": ("断路作业", "Road closure"),
}

# Approver levels (RULES.md §B.1 "Approval authority", [U]): 特级动火 → 主要负责人; 一级 → 安全管理负责人;
# 二级 and the other types → 所在车间/部门负责人. Each level → the roles that may approve at it.
APPROVER_ROLES: dict[str, tuple[str, ...]] = {
    "principal": ("admin",),
    "safety": ("admin", "safety_officer"),
    "workshop": ("admin", "safety_officer", "supervisor"),
}
LEVEL_RANK = {"workshop": 1, "safety": 2, "principal": 3}


@dataclass(frozen=True)
class Grade:
    code: str
    zh: str
    en: str
    approver: str      # a key of APPROVER_ROLES
    validity_ms: int   # the longest a permit of this grade may be valid


# GB 30871-2022 §5.2 (动火分级) and §5.4 (validity): 特级/一级 ≤ 8 h (one shift), 二级 ≤ 72 h.
# §6 受限空间 ≤ 24 h. §8 高处 Ⅰ–Ⅳ (GB/T 3608 bands). §9 吊装 一/二/三级 (> 100 t / 40–100 t / < 40 t).
# Types without grades in the standard get one grade "-" (workshop approval; validity as in the sources:
# 24 h, the confined-space figure, until the purchased standard says otherwise).
GRADES: dict[str, dict[str, Grade]] = {
    "hot_work": {g.code: g for g in (
        Grade("special", "特级", "Special", "principal", 8 * H),
        Grade("1", "一级", "Grade 1", "safety", 8 * H),
        Grade("2", "二级", "Grade 2", "workshop", 72 * H))},
    "confined_space": {"-": Grade("-", "—", "—", "workshop", 24 * H)},
    # §7 盲板抽堵: graded by the line's medium, temperature and pressure (`blinding_grade`); "-" applies
    # for the grade the medium gives (the form's default), and reads a permit applied before grading existed
    "blinding": {g.code: g for g in (
        Grade("-", "按介质定级", "by the medium", "workshop", 24 * H),
        Grade("1", "一级（有毒/易燃易爆介质或高温、低温、较高压力）", "Grade 1 (toxic/flammable, hot, cold or pressurised)",
              "safety", 24 * H),
        Grade("2", "二级（其他介质）", "Grade 2 (other media)", "workshop", 24 * H))},
    "height": {g.code: g for g in (
        Grade("I", "Ⅰ级（2–5 m）", "I (2–5 m)", "workshop", 24 * H),
        Grade("II", "Ⅱ级（5–15 m）", "II (5–15 m)", "workshop", 24 * H),
        Grade("III", "Ⅲ级（15–30 m）", "III (15–30 m)", "safety", 24 * H),
        Grade("IV", "Ⅳ级（> 30 m）", "IV (> 30 m)", "safety", 24 * H))},
    "lifting": {g.code: g for g in (
        Grade("1", "一级（> 100 t）", "Grade 1 (> 100 t)", "safety", 24 * H),
        Grade("2", "二级（40–100 t）", "Grade 2 (40–100 t)", "workshop", 24 * H),
        Grade("3", "三级（< 40 t）", "Grade 3 (< 40 t)", "workshop", 24 * H))},
    "temp_power": {"-": Grade("-", "—", "—", "workshop", 24 * H)},
    "excavation": {"-": Grade("-", "—", "—", "workshop", 24 * H)},
    "road_closure": {"-": Grade("-", "—", "—", "workshop", 24 * H)},
}


def height_grade(metres: float) -> str:
    """GB 30871-2022 §8 with GB/T 3608: the height-work grade of a work height (≥ 2 m is height work)."""
    if metres < 2:
        raise ValueError("below 2 m is not height work (GB/T 3608)")
    return "I" if metres <= 5 else "II" if metres <= 15 else "III" if metres <= 30 else "IV"


def lifting_grade(tonnes: float) -> str:
    """GB 30871-2022 §9: 一级 m > 100 t, 二级 40 t ≤ m ≤ 100 t, 三级 m < 40 t."""
    return "1" if tonnes > 100 else "2" if tonnes >= 40 else "3"


# GB 30871-2022 §7 (盲板抽堵作业) as the sources quote it (RULES.md §B.1: the permit records 管道介质 gdjz,
# 温度 gdwd and 压力 gdyl; the standard's own text was not available): the line is depressurised to atmospheric
# and drained before the work; a toxic medium needs respiratory protection (GB 39800.1), a flammable one
# anti-static clothing and non-sparking tools; a hot or cold medium, measures against scalds or frostbite.
# The standard names no grades for this work [U]: the issue grades it "by medium", so the grading below is the
# plant's, as data — a medium that is toxic or flammable (or unknown), or hot, cold or at a higher pressure,
# is grade 1 (safety-level approval); any other is grade 2 (workshop).
BLINDING_MEDIA: dict[str, str] = {
    # toxic (GBZ 2.1 / 高毒物品目录) — also those that burn: the toxic hazard is the graver one here
    "H2S": "toxic", "CO": "toxic", "NH3": "toxic", "Cl2": "toxic", "HCN": "toxic", "C6H6": "toxic",
    "SO2": "toxic", "NO2": "toxic", "COCl2": "toxic", "CH3OH": "toxic", "HCl": "toxic",
    # flammable/explosive (the LEL table above, and liquids below 60 °C flash point as GB 50160 class 甲/乙)
    "CH4": "flammable", "C3H8": "flammable", "H2": "flammable", "C2H4": "flammable", "C4H10": "flammable",
    "gasoline": "flammable", "diesel": "flammable", "LPG": "flammable", "natural_gas": "flammable",
    # other: not toxic nor flammable (an asphyxiant like N2 still needs the isolation and ventilation measures)
    "N2": "other", "air": "other", "steam": "other", "water": "other", "CO2": "other",
}
BLINDING_HOT_C = 60.0        # [U] a medium at or above this is "hot" (scalds): grade 1
BLINDING_COLD_C = -10.0      # [U] at or below this is "cold" (frostbite, brittle bolts): grade 1
BLINDING_PRESSURE_MPA = 1.6  # [U] operating pressure (gauge) at or above this — GB/T 20801's medium-pressure line
                             # — is grade 1 even after it is depressurised for the work


def blinding_hazard(medium: str | None) -> str:
    """toxic | flammable | other | unknown (a medium not in BLINDING_MEDIA counts as unknown)."""
    return BLINDING_MEDIA.get((medium or "").strip(), "unknown")


def blinding_grade(medium: str | None, temp_c: float | None = None, pressure_mpa: float | None = None) -> str:
    """GB 30871-2022 §7 by medium, temperature and pressure (the plant's grading, see BLINDING_MEDIA): "1" for
    a toxic, flammable or unknown medium, a hot or cold one, or a line at the higher pressure; else "2"."""
    if blinding_hazard(medium) in ("toxic", "flammable", "unknown"):
        return "1"
    if temp_c is not None and (temp_c >= BLINDING_HOT_C or temp_c <= BLINDING_COLD_C):
        return "1"
    if pressure_mpa is not None and pressure_mpa >= BLINDING_PRESSURE_MPA:
        return "1"
    return "2"


# The line's conditions a 盲板抽堵 permit records (RULES.md §B.1: 温度 gdwd in °C, 压力 gdyl in MPa gauge), each
# required on a blinding permit; [U] the plausible ranges (outside: a typo or a wrong unit, e.g. kPa or °F):
# from liquid nitrogen (−196 °C) to a furnace line, and from full vacuum (−0.1 MPa gauge) to 42 MPa (the
# highest class of process piping, GB/T 20801's PN 420)
BLINDING_TEMP_RANGE_C = (-196.0, 800.0)
BLINDING_PRESSURE_RANGE_MPA = (-0.1, 42.0)


def blinding_condition_problems(temp_c: float | None, pressure_mpa: float | None) -> list[tuple[str, str]]:
    """(field, "missing" | "range") for a blinding permit's medium temperature (°C) and pressure (MPa)."""
    out = []
    for key, v, (lo, hi) in (("medium_temp_c", temp_c, BLINDING_TEMP_RANGE_C),
                             ("medium_pressure_mpa", pressure_mpa, BLINDING_PRESSURE_RANGE_MPA)):
        if v is None:
            out.append((key, "missing"))
        elif not lo <= v <= hi:
            out.append((key, "range"))
    return out


def grade_of(work_type: str, grade: str) -> Grade:
    """The grade record, or ValueError naming what is known."""
    if work_type not in GRADES:
        raise ValueError(f"unknown work type {work_type!r}")
    g = GRADES[work_type].get(grade)
    if g is None:
        raise ValueError(f"grade {grade!r} is not a grade of {work_type} ({', '.join(GRADES[work_type])})")
    return g


def check_validity(work_type: str, grade: str, valid_from: int, valid_to: int) -> str | None:
    """GB 30871-2022 §5.4 etc.: None when the window is allowed, else the reason (one permit, one window)."""
    g = grade_of(work_type, grade)
    if valid_to <= valid_from:
        return "valid_to must be after valid_from"
    if valid_to - valid_from > g.validity_ms:
        return f"longer than {g.validity_ms // H} h allowed for this grade"
    return None


# ---------------------------------------------------------------- the state machine

# GB 30871-2022 §4 (作业流程): 申请 → 措施确认 → 审批 → 现场交底 → 作业 → 完工验收; suspended when conditions
# change (§4.x: 作业条件发生变化应停止作业), resumed only after a new analysis.
STATES = ("applied", "measures_confirmed", "approved", "briefed", "active", "suspended", "expired", "closed",
          "cancelled", "rejected")
TRANSITIONS: dict[str, dict[str, str]] = {
    "confirm": {"applied": "measures_confirmed"},
    "approve": {"measures_confirmed": "approved"},
    # a rejection at any level of the approval chain (chain.py) ends the permit, with its reason
    "reject": {"measures_confirmed": "rejected"},
    "brief": {"approved": "briefed"},
    "start": {"briefed": "active"},
    "suspend": {"active": "suspended"},
    "resume": {"suspended": "active"},
    # an expired permit still gets its 完工验收 (the site is checked and the permit closed)
    "close": {"active": "closed", "suspended": "closed", "expired": "closed"},
    # GB 30871-2022 §4 (作业证有效期): past its validity a permit stops, wherever it stood; work goes on only
    # on a new permit
    "expire": {s: "expired" for s in ("applied", "measures_confirmed", "approved", "briefed", "active", "suspended")},
    "cancel": {"applied": "cancelled", "measures_confirmed": "cancelled", "approved": "cancelled",
               "briefed": "cancelled"},
}
LIVE = ("active", "suspended")   # on site: the area's SIMOPS and the guardian's one job count these and "briefed"


def next_state(state: str, action: str) -> str:
    """The state after `action`, or ValueError when the action is not allowed from `state`."""
    to = TRANSITIONS.get(action, {}).get(state)
    if to is None:
        raise ValueError(f"cannot {action} a permit that is {state}")
    return to


def approver_may(level: str, role: str) -> bool:
    """GB 30871-2022 (approval authority): whether a user of `role` may approve at `level`."""
    return role in APPROVER_ROLES[level]


def self_approval(approver_login: str, approver_person: int | None, applicant_login: str,
                  people_on_job: Iterable[int]) -> bool:
    """No self-approval (GB 30871-2022 §4: 审批人 is not the applicant nor one who does the work or guards it)."""
    return approver_login == applicant_login or (approver_person is not None and approver_person in set(people_on_job))


# ---------------------------------------------------------------- safety measures (JSA checklist): measures.py

# ---------------------------------------------------------------- gas analysis

# Lower explosive limits, % V/V (GB 50160 / GB/T 50493 tables); the hot-work criterion depends on it.
LEL_VV: dict[str, float] = {"CH4": 5.0, "C3H8": 2.1, "H2": 4.0, "C2H4": 2.7, "CO": 12.5, "NH3": 15.0, "H2S": 4.0,
                            "C6H6": 1.2}

# GB 30871-2022 §5.3.2: a hot-work analysis passes when the combustibles are < 0.5 % V/V where the gas's
# LEL ≥ 4 %, and < 0.2 % V/V where it is < 4 %.
HOT_LIMIT_HIGH_LEL = 0.5
HOT_LIMIT_LOW_LEL = 0.2
LEL_SPLIT = 4.0
# GB 30871-2022 §6.4 a): O₂ 19.5–21 % V/V in a confined space (≤ 23.5 % where the air is oxygen-rich)
O2_MIN, O2_MAX, O2_MAX_RICH = 19.5, 21.0, 23.5
# §5.3.1 / §6.4: sampled ≤ 30 min before work starts; §5.3.4 / §6.5: re-analysis after an interruption
# > 60 min (特级/一级动火 > 30 min in the enterprise measure lists, RULES.md §B.1 "Interruption")
ANALYSIS_FRESH_MS = 30 * MIN
INTERRUPTION_MS = {"hot_work:special": 30 * MIN, "hot_work:1": 30 * MIN}
INTERRUPTION_DEFAULT_MS = 60 * MIN
# GB 30871-2022 §6.4 (受限空间 气体检测): during the work the O₂, combustibles and toxics are detected
# continuously (portable or mobile detector) and recorded "2 h 记录 1 次" (GB 30871-2014 §6.3.4: "至少每 2 h
# 监测一次"); [S] in RULES.md §B.1 — a permit whose last passing analysis is older than this is overdue and the
# entry stops (`reanalysis_overdue`) until a new analysis passes
CONFINED_REANALYSIS_MS = 2 * H
# which types need an analysis before they start
NEEDS_ANALYSIS = ("hot_work", "confined_space", "blinding")


def hot_limit_vv(lel_vv: float) -> float:
    """GB 30871-2022 §5.3.2: the combustible limit in % V/V for a gas with this LEL."""
    return HOT_LIMIT_HIGH_LEL if lel_vv >= LEL_SPLIT else HOT_LIMIT_LOW_LEL


@dataclass(frozen=True)
class Sample:
    """One measured gas: its code (GASES), kind, value, unit (%LEL, %VOL, ppm, mg/m3), and its limit for a
    toxic gas (the OEL in the same unit)."""
    gas: str
    kind: str           # combustible | toxic | oxygen
    value: float
    unit: str
    oel: float | None = None


def to_vv(s: Sample, medium_lel: float | None) -> float | None:
    """A combustible sample in % V/V: %LEL × LEL/100 (the detector gas's LEL, else the medium's)."""
    if s.unit in ("%VOL", "%V/V", "%vol"):
        return s.value
    if s.unit == "%LEL":
        lel = LEL_VV.get(s.gas, medium_lel)
        return None if lel is None else s.value * lel / 100
    return None


def judge_analysis(work_type: str, samples: Sequence[Sample], medium_lel: float | None = None,
                   oxygen_rich: bool = False) -> tuple[bool, list[str]]:
    """GB 30871-2022 §5.3.2 (hot work) and §6.4 (confined space): (passed, reasons for failing).

    Hot work needs a combustible sample; a confined space needs O₂ and a combustible sample; every toxic
    sample must be ≤ its OEL (GBZ 2.1). A combustible whose LEL is unknown cannot pass (enter its LEL)."""
    fails: list[str] = []
    comb = [s for s in samples if s.kind == "combustible"]
    oxy = [s for s in samples if s.kind == "oxygen"]
    if work_type in NEEDS_ANALYSIS and not comb:
        fails.append("combustible: no sample")
    if work_type == "confined_space" and not oxy:
        fails.append("O2: no sample")
    for s in comb:
        vv = to_vv(s, medium_lel)
        if vv is None:
            fails.append(f"{s.gas}: LEL unknown (enter the medium's LEL)")
            continue
        lel = LEL_VV.get(s.gas, medium_lel)
        limit = hot_limit_vv(lel if lel is not None else 0.0)
        if not vv < limit:
            fails.append(f"{s.gas}: {vv:.3g} %V/V ≥ {limit} %V/V")
    hi = O2_MAX_RICH if oxygen_rich else O2_MAX
    for s in oxy:
        if not O2_MIN <= s.value <= hi:
            fails.append(f"O2: {s.value} %VOL outside {O2_MIN}–{hi}")
    for s in samples:
        if s.kind == "toxic":
            if s.oel is None:
                fails.append(f"{s.gas}: no exposure limit known")
            elif s.value > s.oel:
                fails.append(f"{s.gas}: {s.value} > OEL {s.oel}")
    return not fails, fails


def interruption_ms(work_type: str, grade: str) -> int:
    return INTERRUPTION_MS.get(f"{work_type}:{grade}", INTERRUPTION_DEFAULT_MS)


def analysis_gate(work_type: str, grade: str, now: int, last_pass_at: int | None, *, resuming_since: int | None = None,
                  last_work_at: int | None = None) -> str | None:
    """GB 30871-2022 §5.3.1/§6.4 (≤ 30 min before work) and §5.3.4/§6.5 (re-analysis after an interruption):
    None when work may begin (or resume) now, else why not.

    `resuming_since`: when the permit was suspended (a resumption needs an analysis taken after it);
    `last_work_at`: when work last stopped (an interruption longer than the type's limit needs a new one)."""
    if work_type not in NEEDS_ANALYSIS:
        return None
    if last_pass_at is None:
        return "no passing gas analysis"
    if now - last_pass_at > ANALYSIS_FRESH_MS:
        return "gas analysis older than 30 min"
    if resuming_since is not None and last_pass_at <= resuming_since:
        return "a new gas analysis is needed after the suspension"
    if last_work_at is not None and now - last_work_at > interruption_ms(work_type, grade) and last_pass_at <= last_work_at:
        return "interrupted too long: analyse again"
    return None


def reanalysis_due(work_type: str, last_pass_at: int | None) -> int | None:
    """When the next analysis is due while a confined-space entry goes on (None: no periodic one)."""
    if work_type != "confined_space" or last_pass_at is None:
        return None
    return last_pass_at + CONFINED_REANALYSIS_MS


def reanalysis_overdue(work_type: str, state: str, last_pass_at: int | None, now: int) -> bool:
    """GB 30871-2022 §6.4: an active confined-space entry whose periodic analysis (every 2 h) is past due
    must stop (the due instant itself is still in time)."""
    due = reanalysis_due(work_type, last_pass_at)
    return state == "active" and due is not None and now > due


def expired(state: str, valid_to: int, now: int) -> bool:
    """GB 30871-2022 §4: a permit not finished (closed, cancelled) is expired once `now` is past its
    validity (the last millisecond of the window is still valid)."""
    return state in TRANSITIONS["expire"] and now > valid_to


def resume_gate(work_type: str, grade: str, now: int, last_pass_at: int | None, suspended_at: int | None,
                interlock: bool) -> str | None:
    """Whether a suspended permit may resume now (None) or why not.

    GB 30871-2022 §5.3.4 / §6.5: after an interruption longer than the type's limit (特级/一级动火 30 min,
    others 60 min: `interruption_ms`) the work resumes only on a new analysis; the gas gate's 30-min
    freshness (§5.3.1 / §6.4) applies to every resumption of gas-tested work. This appliance is stricter
    where the standard is silent: a suspension by the gas interlock, or any suspension of gas-tested work,
    needs an analysis taken after it (a suspension means the conditions changed, §4)."""
    gated = work_type in NEEDS_ANALYSIS or interlock
    if not gated:
        return None
    kind = work_type if work_type in NEEDS_ANALYSIS else "hot_work"
    why = analysis_gate(kind, grade, now, last_pass_at, resuming_since=suspended_at, last_work_at=suspended_at)
    if why and suspended_at is not None and now - suspended_at > interruption_ms(work_type, grade):
        return f"interrupted {(now - suspended_at) // MIN} min (> {interruption_ms(work_type, grade) // MIN}): {why}"
    return why


# ---------------------------------------------------------------- the live interlock

def interlock_reason(event_type: str, payload: Mapping) -> str | None:
    """GB 30871-2022 §4 (stop work when conditions change): why a gas event suspends a permit in its
    area — a level-1/2 alarm, an over-range, a comm or sensor fault — or None."""
    if event_type == "alarm.raised" and int(payload.get("level") or 0) >= 1:
        what = "over-range" if payload.get("over_range") else f"level-{payload.get('level')} alarm"
        return f"{payload.get('point')} {what}"
    if event_type == "point.fault":
        return f"{payload.get('point')} fault: {payload.get('reason') or 'no reading'}"
    return None


# A live analysis is a reading of "now": a fixed detector whose newest reading is older than this cannot give
# one (its poll is seconds; the gas domain's own stale fault comes later, after its `stale_after_s`)
LIVE_READING_MAX_AGE_MS = 60_000


def point_blocks(view: Mapping, now: int | None = None, max_age_ms: int = LIVE_READING_MAX_AGE_MS) -> str | None:
    """Why a live detector cannot give an analysis now (alarm, over-range, fault, stale), or None.
    With `now`, a reading older than `max_age_ms` (or one without a time) is stale."""
    if view.get("state") == "fault" or view.get("fault"):
        return f"{view.get('id')}: fault"
    if view.get("over_range"):
        return f"{view.get('id')}: over range"
    if int(view.get("level") or 0) >= 1:
        return f"{view.get('id')}: in alarm"
    if view.get("value") is None:
        return f"{view.get('id')}: no reading"
    if now is not None:
        at = view.get("updated_at")
        if at is None or now - int(at) > max_age_ms:
            return f"{view.get('id')}: no recent reading"
    return None


# ---------------------------------------------------------------- SIMOPS and people

# Conflicting simultaneous work (RULES.md §C.9; GB 30871-2022 §4 交叉作业): in one area (or adjacent ones)
# hot work with an open confined space or a line break is refused; lifting over another job needs the
# higher (safety) approval.
CONFLICTS: dict[frozenset, str] = {
    frozenset({"hot_work", "confined_space"}): "refuse",
    frozenset({"hot_work", "blinding"}): "refuse",
    frozenset({"lifting", "hot_work"}): "escalate",
    frozenset({"lifting", "confined_space"}): "escalate",
    frozenset({"lifting", "height"}): "escalate",
    frozenset({"lifting", "excavation"}): "escalate",
}


def simops(work_type: str, others: Iterable[str], near: Iterable[str] = ()) -> str | None:
    """The strongest SIMOPS verdict against the live permits' types in the area (`others`) and in the
    neighbouring areas (`near`): "refuse", "escalate" or None. GB 30871-2022 §4 (交叉作业) and the issue:
    conflicting work in one area is refused (or escalated, per CONFLICTS); the same conflict one area away
    needs the higher approval rather than a refusal (a wall or a road apart, the approver weighs it)."""
    verdicts = {CONFLICTS.get(frozenset({work_type, o})) for o in others}
    if any(CONFLICTS.get(frozenset({work_type, o})) for o in near):
        verdicts.add("escalate")
    return "refuse" if "refuse" in verdicts else "escalate" if "escalate" in verdicts else None


# ---------------------------------------------------------------- neighbouring areas

# "in or near its area" (the issue; GB 30871-2022 §4: stop work when the conditions around it change): the
# areas one passage away on the site's walk graph (the emergency domain's data, edited per site) are near;
# a site without a walk graph falls back to the floor plan: areas whose polygons touch or overlap, within
# NEAR_GAP plan units (a road drawn between two areas is not a wall). [U] no standard fixes the distance.
NEAR_GAP = 0.0


def neighbour_map(pairs: Iterable[tuple[str, str]]) -> dict[str, set[str]]:
    """Each area → the areas it neighbours (the relation is symmetric; an area is not its own neighbour)."""
    out: dict[str, set[str]] = {}
    for a, b in pairs:
        if a != b:
            out.setdefault(a, set()).add(b)
            out.setdefault(b, set()).add(a)
    return out


def _seg_dist(p, q, r, s) -> float:
    """The shortest distance between segments pq and rs (0 when they cross)."""
    def cross(o, a, b):
        return (a[0] - o[0]) * (b[1] - o[1]) - (a[1] - o[1]) * (b[0] - o[0])

    d1, d2, d3, d4 = cross(r, s, p), cross(r, s, q), cross(p, q, r), cross(p, q, s)
    if ((d1 > 0) != (d2 > 0)) and ((d3 > 0) != (d4 > 0)) and 0 not in (d1, d2, d3, d4):
        return 0.0

    def pt(a, b, c):   # point a to segment bc
        bx, by, cx, cy = b[0], b[1], c[0], c[1]
        L = (cx - bx) ** 2 + (cy - by) ** 2
        t = 0.0 if L == 0 else max(0.0, min(1.0, ((a[0] - bx) * (cx - bx) + (a[1] - by) * (cy - by)) / L))
        return ((a[0] - bx - t * (cx - bx)) ** 2 + (a[1] - by - t * (cy - by)) ** 2) ** 0.5
    return min(pt(p, r, s), pt(q, r, s), pt(r, p, q), pt(s, p, q))


def _inside(pt, poly) -> bool:
    x, y = pt
    inside = False
    for (x1, y1), (x2, y2) in zip(poly, poly[1:] + poly[:1], strict=True):
        if (y1 > y) != (y2 > y) and x < x1 + (y - y1) * (x2 - x1) / (y2 - y1):
            inside = not inside
    return inside


def polygons_near(a: Sequence[Sequence[float]], b: Sequence[Sequence[float]], gap: float = NEAR_GAP) -> bool:
    """Whether two floor-plan polygons overlap, touch, or lie within `gap` of each other."""
    if len(a) < 3 or len(b) < 3:
        return False
    pa, pb = [tuple(p) for p in a], [tuple(p) for p in b]
    if _inside(pa[0], pb) or _inside(pb[0], pa):
        return True
    ea = list(zip(pa, pa[1:] + pa[:1], strict=True))
    eb = list(zip(pb, pb[1:] + pb[:1], strict=True))
    return any(_seg_dist(p, q, r, s) <= gap + 1e-9 for p, q in ea for r, s in eb)


def plan_neighbours(polygons: Mapping[str, Sequence[Sequence[float]]], gap: float = NEAR_GAP) -> dict[str, set[str]]:
    """The neighbour relation the floor plan gives (areas whose polygons touch or overlap)."""
    codes = sorted(polygons)
    return neighbour_map((x, y) for i, x in enumerate(codes) for y in codes[i + 1:]
                         if polygons_near(polygons[x], polygons[y], gap))


def interlock_scope(permit_area: object, event_area: object, event_neighbours: Iterable[object]) -> str | None:
    """Whether a gas event in `event_area` (whose neighbours are `event_neighbours`) reaches a permit in
    `permit_area`: "here", "near" or None (GB 30871-2022 §4; the issue's "a detector in or near its area")."""
    if permit_area == event_area:
        return "here"
    return "near" if permit_area in set(event_neighbours) else None


def required_level(grade_level: str, simops_verdict: str | None) -> str:
    """The approval level after SIMOPS: an "escalate" conflict needs at least the safety level."""
    if simops_verdict == "escalate" and LEVEL_RANK[grade_level] < LEVEL_RANK["safety"]:
        return "safety"
    return grade_level


def area_conflict(types: Iterable[str], near: Iterable[str] = ()) -> str | None:
    """The strongest SIMOPS verdict among the live permits of one area, and against those of its neighbouring
    areas (`near`: escalate at most, as `simops` has it), for the risk map's marker."""
    ts, around = list(types), list(near)
    verdicts = {simops(t, ts[:i] + ts[i + 1:], around) for i, t in enumerate(ts)}
    return "refuse" if "refuse" in verdicts else "escalate" if "escalate" in verdicts else None


def guardian_busy(guardian: int, live_guardians: Iterable[int]) -> bool:
    """GB 30871-2022 §4 (监护人): a guardian watches one job at a time."""
    return guardian in set(live_guardians)


# Required special-operation certificates (特种作业操作证, 安监总局令第30号) per work type; a worker's
# certificates come from the training domain (not wired yet) as {"kind", "valid_from", "valid_to"} dicts.
CERTIFICATES: dict[str, tuple[str, ...]] = {
    "hot_work": ("welding",),        # 焊接与热切割作业
    "temp_power": ("electrician",),  # 电工作业
    "height": ("height",),           # 高处作业
    "lifting": ("crane",),           # 起重机械作业 (特种设备作业人员证)
}


# The training domain's certificate categories (30号令 catalogue, appliance/training/rules.py) standing for
# each kind above.
TRAINING_CATEGORY: dict[str, str] = {"welding": "WELD", "electrician": "ELEC", "height": "HEIGHT", "crane": "LIFT"}
CERTIFICATE_NAMES: dict[str, tuple[str, str]] = {
    "welding": ("焊接与热切割作业操作证", "welding and thermal cutting certificate"),
    "electrician": ("电工作业操作证", "electrician's certificate"),
    "height": ("高处作业操作证", "work-at-height certificate"),
    "crane": ("起重机械作业人员证", "crane operator's certificate"),
}


def crew_gaps(work_type: str, holders: Mapping[str, Iterable[int]]) -> list[str]:
    """The certificate kinds nobody in the crew holds for the whole job window (30号令 Art. 5: the special
    operation itself — the welding, the electrical connection, the crane — is done by a certified person;
    helpers on the same permit need not hold it). `holders`: kind → workers holding a valid one."""
    return [k for k in CERTIFICATES.get(work_type, ()) if not list(holders.get(k, ()))]


def certificate_gaps(work_type: str, certificates: Iterable[Mapping], valid_from: int, valid_to: int) -> list[str]:
    """The certificate kinds a worker lacks for the job's whole window (empty: qualified)."""
    have = [c for c in certificates if c.get("valid_from", 0) <= valid_from and c.get("valid_to", 0) >= valid_to]
    kinds = {c.get("kind") for c in have}
    return [k for k in CERTIFICATES.get(work_type, ()) if k not in kinds]


# the roles a tapped person plays; all three must be verified on site before 交底 (GB 30871-2022 §4)
ON_SITE_ROLES = ("worker", "guardian", "issuer")


def presence_missing(required: Mapping[str, Iterable[int]], tapped: Iterable[int]) -> list[str]:
    """The roles (worker, guardian, issuer) with someone not yet verified by a badge tap at the site."""
    seen = set(tapped)
    return [role for role in ON_SITE_ROLES if any(p not in seen for p in required.get(role, ()))]


# ---------------------------------------------------------------- video (PPE violations on the job)

def violation_on_permit(permit_area: str, permit_cameras: Iterable[str], camera: str, area: str | None) -> bool:
    """A PPE violation belongs to a permit's job (GB 30871-2022 §4: 作业人员正确佩戴个体防护装备; the
    guardian watches it): seen by a camera linked to the permit, or placed in the permit's area."""
    return camera in set(permit_cameras) or (bool(area) and area == permit_area)


VIDEO_STATES = ("active", "suspended")   # while the job is on site, its violations are the guardian's
