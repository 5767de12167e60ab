"""Rows of a plant's risk register spreadsheet (one row per control measure) → the register tree, or every
bad row with its row number and the reason in zh-CN and en. Pure: no database, no files.

A row names its whole path in the regulators' hierarchy (RULES.md §B.4): risk analysis object (by its
code, HAZARD_CODE) → risk analysis unit (by name within the object) → risk event (by name within the
unit, with its LEC or LS assessment) → control measure (by its text within the event). Rows that share a
path must agree on what they say about it (one object, one name; one event, one assessment): a
disagreement is reported on the later row, naming the earlier one. Headers are matched in Chinese or in
English (the template, `COLUMNS`, has both), in any order; unknown columns are ignored.
"""
from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from appliance.risk import rules as RR
from appliance.risk import task_rules as TR
from appliance.risk.register import CLASSIFY1, CLASSIFY2

# key, zh header, en header, required
COLUMNS: list[tuple[str, str, str, bool]] = [
    ("object_code", "风险分析对象编码", "Risk object code", True),
    ("object_name", "风险分析对象", "Risk object", True),
    ("major_hazard", "重大危险源", "Major hazard source", False),
    ("unit_name", "风险分析单元", "Risk unit", True),
    ("department", "责任部门", "Department", False),
    ("liable_person", "责任人", "Responsible person", False),
    ("area_code", "区域编码", "Area code", False),
    ("event_name", "风险事件", "Risk event", True),
    ("method", "评价方法", "Method", True),
    ("profile", "分级标准", "Profile", False),
    ("l", "L", "L", True),
    ("e", "E", "E", False),
    ("c", "C", "C", False),
    ("s", "S", "S", False),
    ("res_l", "残余L", "Residual L", False),
    ("res_e", "残余E", "Residual E", False),
    ("res_c", "残余C", "Residual C", False),
    ("res_s", "残余S", "Residual S", False),
    ("measure", "管控措施", "Control measure", True),
    ("classify1", "管控措施分类1", "Classification 1", False),
    ("classify2", "管控措施分类2", "Classification 2", True),
    ("classify3", "管控措施分类3", "Classification 3", False),
    ("data_src", "数据来源", "Data source", False),
    ("troubleshoot_content", "隐患排查内容", "Check content", False),
    ("check_cycle", "排查周期", "Check cycle", False),
    ("check_cycle_unit", "周期单位", "Cycle unit", False),
]
HEADER_ROW = 1  # where the headers are unless a title row comes first (see find_header)
HEADER_SEARCH = 10  # plants often put a merged title row (XX公司风险分级管控清单) above the headers
MAX_COLUMNS = 60

_BY_HEADER = {}
for _key, _zh, _en, _req in COLUMNS:
    for _h in (_key, _zh, _en):
        _BY_HEADER[re.sub(r"[\s_()（）]", "", _h).lower()] = _key
_LABEL = {k: (zh, en) for k, zh, en, _ in COLUMNS}

CODE_RE = re.compile(r"^[A-Za-z0-9_-]{1,40}$")
YES = {"是", "y", "yes", "true", "1", "√", "✓"}
NO = {"否", "n", "no", "false", "0", ""}
CYCLE_UNITS = {"hour": "hour", "小时": "hour", "时": "hour", "day": "day", "天": "day", "日": "day",
               "week": "week", "周": "week", "星期": "week", "month": "month", "月": "month", "year": "year",
               "年": "year"}
DATA_SRC = {"1": 1, "自动化监控": 1, "automatic": 1, "2": 2, "隐患排查": 2, "check": 2}
MAX_LEN = {"object_name": 100, "unit_name": 100, "department": 60, "liable_person": 60, "event_name": 200,
           "measure": 500, "classify3": 100, "troubleshoot_content": 500}


@dataclass(frozen=True)
class RowError:
    """One problem: the spreadsheet row (1 = the header row), the column key ('' for the whole row)."""

    row: int
    column: str
    zh: str
    en: str

    def as_dict(self) -> dict:
        zh, en = _LABEL.get(self.column, ("", ""))
        return {"row": self.row, "column": self.column, "column_zh": zh, "column_en": en, "zh": self.zh, "en": self.en}


@dataclass
class Measure:
    row: int
    description: str
    classify1: int
    classify2: str
    classify3: str
    data_src: int
    troubleshoot_content: str
    check_cycle: int | None
    check_cycle_unit: str | None


@dataclass
class Event:
    row: int
    name: str
    method: str
    profile: str
    factors: dict
    score: float
    level: int
    residual_factors: dict | None
    residual_score: float | None
    residual_level: int | None
    measures: dict[str, Measure] = field(default_factory=dict)


@dataclass
class Unit:
    row: int
    name: str
    department: str
    liable_person: str
    area_code: str | None
    events: dict[str, Event] = field(default_factory=dict)


@dataclass
class Object:
    row: int
    code: str
    name: str
    major_hazard: bool
    units: dict[str, Unit] = field(default_factory=dict)


def _known(cells: list[Any]) -> int:
    return sum(1 for c in cells[:MAX_COLUMNS] if re.sub(r"[\s_()（）]", "", text(c)).lower() in _BY_HEADER)


def find_header(rows: list[tuple[int, list[Any]]]) -> int:
    """Index (into `rows`) of the header row: among the first HEADER_SEARCH rows, the first with the most
    known column names (title and note rows above it have few or none)."""
    head = rows[:HEADER_SEARCH]
    best = max(range(len(head)), key=lambda i: (_known(head[i][1]), -i), default=0)
    return best


def map_header(cells: list[Any], row: int = HEADER_ROW) -> tuple[dict[int, str], list[RowError]]:
    """Column index → key for the header row (spreadsheet row `row`); errors for missing required and
    repeated columns."""
    colmap: dict[int, str] = {}
    errors: list[RowError] = []
    seen: dict[str, int] = {}
    for i, cell in enumerate(cells[:MAX_COLUMNS]):
        key = _BY_HEADER.get(re.sub(r"[\s_()（）]", "", text(cell)).lower())
        if key is None:
            continue
        if key in seen:
            errors.append(RowError(row, key, f"列“{_LABEL[key][0]}”重复出现", f"column '{_LABEL[key][1]}' appears twice"))
            continue
        seen[key] = i
        colmap[i] = key
    for key, zh, en, required in COLUMNS:
        if required and key not in seen:
            errors.append(RowError(row, key, f"缺少必需的列“{zh}”", f"required column '{en}' is missing"))
    return colmap, errors


def text(v: Any) -> str:
    """A cell as trimmed text (a whole float such as 3.0 reads '3')."""
    if v is None:
        return ""
    if isinstance(v, bool):
        return "1" if v else "0"
    if isinstance(v, float) and v.is_integer():
        return str(int(v))
    return str(v).strip()


def _number(v: str) -> float | None:
    try:
        f = float(v)
    except ValueError:
        return None
    return f if f == f and f not in (float("inf"), float("-inf")) else None


class _Row:
    """One data row's cells by key, collecting its errors."""

    def __init__(self, number: int, cells: dict[str, str], lec_profiles: dict | None = None,
                 ls_profiles: dict | None = None):
        self.n = number
        self.cells = cells
        self.errors: list[RowError] = []
        self.lec_profiles = RR.LEC_PROFILES if lec_profiles is None else lec_profiles   # the plant's cut-offs
        self.ls_profiles = RR.LS_PROFILES if ls_profiles is None else ls_profiles

    def get(self, key: str) -> str:
        return self.cells.get(key, "")

    def bad(self, key: str, zh: str, en: str) -> None:
        self.errors.append(RowError(self.n, key, zh, en))

    def required(self, key: str) -> str:
        v = self.get(key)
        if not v:
            self.bad(key, f"“{_LABEL[key][0]}”不能为空", f"'{_LABEL[key][1]}' must not be empty")
        elif key in MAX_LEN and len(v) > MAX_LEN[key]:
            self.bad(key, f"“{_LABEL[key][0]}”超过 {MAX_LEN[key]} 个字符", f"'{_LABEL[key][1]}' is longer than {MAX_LEN[key]} characters")
        return v

    def optional(self, key: str) -> str:
        v = self.get(key)
        if key in MAX_LEN and len(v) > MAX_LEN[key]:
            self.bad(key, f"“{_LABEL[key][0]}”超过 {MAX_LEN[key]} 个字符", f"'{_LABEL[key][1]}' is longer than {MAX_LEN[key]} characters")
        return v


def _assess(r: _Row, method: str, profile: str, keys: tuple[str, str, str, str], optional: bool):
    """(score, level, factors) of one assessment, or None (errors added to the row)."""
    raw = {k: r.get(k) for k in keys}
    if optional and not any(raw.values()):
        return None
    lk, ek, ck, sk = keys
    nums = {}
    for k, v in raw.items():
        if v:
            n = _number(v)
            if n is None:
                r.bad(k, f"“{_LABEL[k][0]}”应为数字，而不是“{v}”", f"'{_LABEL[k][1]}' must be a number, not '{v}'")
                return None
            nums[k] = n
    if method == "LEC":
        missing = [k for k in (lk, ek, ck) if k not in nums]
        if missing or sk in nums:
            k = missing[0] if missing else sk
            r.bad(k, "LEC 法需要填写 L、E、C（不填 S）", "LEC needs L, E and C (and no S)")
            return None
        try:
            score, level = RR.lec(nums[lk], nums[ek], nums[ck], profile, r.lec_profiles)
        except ValueError as exc:
            which = {"L": lk, "E": ek, "C": ck}.get(str(exc)[:1], lk)
            scales: dict[str, Iterable[float]] = {lk: RR.LEC_L, ek: RR.LEC_E, ck: RR.LEC_C}
            scale = scales.get(which, RR.LEC_L)
            r.bad(which, f"“{_LABEL[which][0]}”取值应为 {'/'.join(f'{v:g}' for v in sorted(scale))} 之一",
                  f"'{_LABEL[which][1]}' must be one of {', '.join(f'{v:g}' for v in sorted(scale))}")
            return None
        return score, level, {"l": nums[lk], "e": nums[ek], "c": nums[ck]}
    missing = [k for k in (lk, sk) if k not in nums]
    if missing or ek in nums or ck in nums:
        k = missing[0] if missing else (ek if ek in nums else ck)
        r.bad(k, "LS 法需要填写 L 和 S（不填 E、C）", "LS needs L and S (and no E or C)")
        return None
    for k in (lk, sk):
        if not (nums[k].is_integer() and 1 <= nums[k] <= 5):
            r.bad(k, f"“{_LABEL[k][0]}”应为 1–5 的整数", f"'{_LABEL[k][1]}' must be an integer 1–5")
            return None
    score, level = RR.ls(int(nums[lk]), int(nums[sk]), profile, r.ls_profiles)
    return score, level, {"l": int(nums[lk]), "s": int(nums[sk])}


def _object(r: _Row) -> Object:
    code = r.required("object_code")
    if code and not CODE_RE.match(code):
        r.bad("object_code", f"编码“{code}”只能含字母、数字、- 和 _（最多 40 个）",
              f"code '{code}' may hold only letters, digits, - and _ (40 at most)")
    name = r.required("object_name")
    major = r.get("major_hazard").lower()
    if major not in YES | NO:
        r.bad("major_hazard", f"“重大危险源”应为 是/否，而不是“{r.get('major_hazard')}”",
              f"'Major hazard source' must be yes/no, not '{r.get('major_hazard')}'")
    return Object(r.n, code, name, major in YES)


def _unit(r: _Row, area_codes: set[str]) -> Unit:
    area = r.get("area_code") or None
    if area is not None and area not in area_codes:
        r.bad("area_code", f"区域编码“{area}”不存在", f"area code '{area}' does not exist")
    return Unit(r.n, r.required("unit_name"), r.optional("department"), r.optional("liable_person"), area)


def _event(r: _Row) -> Event | None:
    name = r.required("event_name")
    method = r.get("method").upper()
    if method not in ("LEC", "LS"):
        r.bad("method", f"“评价方法”应为 LEC 或 LS，而不是“{r.get('method')}”", f"'Method' must be LEC or LS, not '{r.get('method')}'")
        return None
    profile = r.get("profile") or ("default" if method == "LEC" else "A")
    known = r.lec_profiles if method == "LEC" else r.ls_profiles
    if profile not in known:
        r.bad("profile", f"{method} 没有分级标准“{profile}”（可选：{'、'.join(known)}）",
              f"{method} has no profile '{profile}' (known: {', '.join(known)})")
        return None
    inherent = _assess(r, method, profile, ("l", "e", "c", "s"), optional=False)
    residual = _assess(r, method, profile, ("res_l", "res_e", "res_c", "res_s"), optional=True)
    if inherent is None or (residual is None and any(r.get(k) for k in ("res_l", "res_e", "res_c", "res_s"))):
        return None
    return Event(r.n, name, method, profile, inherent[2], inherent[0], inherent[1], residual and residual[2],
                 residual and residual[0], residual and residual[1])


def _measure(r: _Row) -> Measure | None:
    desc = r.required("measure")
    c2 = r.get("classify2")
    c1_raw = r.get("classify1")
    c1: int | None = None
    if c1_raw:
        head = c1_raw.split()[0] if c1_raw.split() else c1_raw
        c1 = int(head) if head in ("1", "2", "3", "4") else {v: k for k, v in CLASSIFY1.items()}.get(c1_raw)
        if c1 is None:
            r.bad("classify1", f"“管控措施分类1”应为 1–4（{'/'.join(f'{k} {v}' for k, v in CLASSIFY1.items())}）",
                  "'Classification 1' must be 1–4 (1 engineering, 2 maintenance, 3 operation, 4 emergency)")
            return None
    code2 = c2.split()[0] if c2 else ""
    if code2 not in CLASSIFY2:
        r.bad("classify2", f"“管控措施分类2”应为 {', '.join(CLASSIFY2)} 之一，而不是“{c2}”",
              f"'Classification 2' must be one of {', '.join(CLASSIFY2)}, not '{c2}'")
        return None
    if c1 is None:
        c1 = int(code2[0])
    elif not code2.startswith(f"{c1}-"):
        r.bad("classify2", f"分类2“{code2}”不属于分类1“{c1}”", f"classification 2 '{code2}' is not under classification 1 '{c1}'")
        return None
    src = DATA_SRC.get(r.get("data_src").lower() or "2")
    if src is None:
        r.bad("data_src", "“数据来源”应为 1 自动化监控 或 2 隐患排查", "'Data source' must be 1 (automatic) or 2 (check)")
    cycle_raw, unit_raw = r.get("check_cycle"), r.get("check_cycle_unit")
    cycle, unit = None, None
    if cycle_raw:
        n = _number(cycle_raw)
        if n is None or not n.is_integer() or not 1 <= n <= 10000:
            r.bad("check_cycle", f"“排查周期”应为 1–10000 的整数，而不是“{cycle_raw}”",
                  f"'Check cycle' must be an integer 1–10000, not '{cycle_raw}'")
        else:
            cycle = int(n)
    if unit_raw:
        unit = CYCLE_UNITS.get(unit_raw.lower())
        if unit is None:
            r.bad("check_cycle_unit", f"“周期单位”应为 小时/天/周/月/年，而不是“{unit_raw}”",
                  f"'Cycle unit' must be hour/day/week/month/year, not '{unit_raw}'")
    if bool(cycle_raw) != bool(unit_raw):
        r.bad("check_cycle_unit" if cycle_raw else "check_cycle", "“排查周期”与“周期单位”需同时填写",
              "'Check cycle' and 'Cycle unit' go together")
    elif cycle is not None and unit is not None:
        bad = TR.check_cycle(cycle, unit)   # e.g. 10000 小时: no task could ever be made for it
        if bad:
            r.bad("check_cycle", f"“排查周期”：{bad[0]}", f"'Check cycle': {bad[1]}")
        else:
            cycle, unit = TR.normalize(cycle, unit)   # 2 周 → 14 天, run on calendar weeks
    return Measure(r.n, desc, c1, code2, r.optional("classify3"), src or 2, r.optional("troubleshoot_content"),
                   cycle, unit)


def _differs(r: _Row, what_zh: str, what_en: str, first: int, mine: dict, theirs: dict) -> bool:
    for k, v in mine.items():
        if theirs[k] != v:
            r.bad(k if k in _LABEL else "", f"与第 {first} 行的同一{what_zh}不一致（{_LABEL.get(k, (k,))[0]}）",
                  f"disagrees with row {first} about the same {what_en} ({_LABEL.get(k, ('', k))[1]})")
            return True
    return False


def validate(rows: list[tuple[int, dict[str, Any]]], area_codes: set[str],
             header_row: int = HEADER_ROW, lec_profiles: dict | None = None,
             ls_profiles: dict | None = None) -> tuple[list[Object], list[RowError]]:
    """`rows` are (row number, {key: cell}) for every data row; blank rows are skipped. Returns the tree
    (objects in first-seen order) and every error; use the tree only when there are no errors. Events are
    graded by the plant's profiles when given (settings.lec_profiles / ls_profiles), else the shipped ones."""
    objects: dict[str, Object] = {}
    errors: list[RowError] = []
    n_data = 0
    for number, raw in rows:
        cells = {k: text(v) for k, v in raw.items()}
        if not any(cells.values()):
            continue
        n_data += 1
        r = _Row(number, cells, lec_profiles, ls_profiles)
        o, u, e, m = _object(r), _unit(r, area_codes), _event(r), _measure(r)
        if r.errors or e is None or m is None:
            errors.extend(r.errors)
            continue
        have_o = objects.get(o.code)
        if have_o is None:
            have_o = objects[o.code] = o
        elif _differs(r, "风险分析对象", "risk object", have_o.row, {"object_name": o.name, "major_hazard": o.major_hazard},
                      {"object_name": have_o.name, "major_hazard": have_o.major_hazard}):
            errors.extend(r.errors)
            continue
        have_u = have_o.units.get(u.name)
        if have_u is None:
            have_u = have_o.units[u.name] = u
        elif _differs(r, "风险分析单元", "risk unit", have_u.row,
                      {"department": u.department, "liable_person": u.liable_person, "area_code": u.area_code},
                      {"department": have_u.department, "liable_person": have_u.liable_person,
                       "area_code": have_u.area_code}):
            errors.extend(r.errors)
            continue
        have_e = have_u.events.get(e.name)
        if have_e is None:
            have_e = have_u.events[e.name] = e
        elif _differs(r, "风险事件", "risk event", have_e.row,
                      {"method": e.method, "profile": e.profile, "l": e.factors, "res_l": e.residual_factors},
                      {"method": have_e.method, "profile": have_e.profile, "l": have_e.factors,
                       "res_l": have_e.residual_factors}):
            errors.extend(r.errors)
            continue
        if m.description in have_e.measures:
            errors.append(RowError(number, "measure", f"与第 {have_e.measures[m.description].row} 行的管控措施重复",
                                   f"repeats the control measure of row {have_e.measures[m.description].row}"))
            continue
        have_e.measures[m.description] = m
    if n_data == 0 and not errors:
        errors.append(RowError(header_row + 1, "", "表格中没有数据行", "the sheet has no data rows"))
    return list(objects.values()), errors
