"""The 双重预防机制 (dual prevention mechanism) report of a month or a quarter (as XLSX or PDF: `export`).

What it holds (RULES.md §B.4; SAWS order 16 Art. 14 for the hazard statistics):
- 报告信息: the plant, the period, when it was made, and the event-log head (seq + hash) it was made at —
  a regulator holding a synced copy of the log checks that event `seq` has that hash (`safety-appliance audit
  verify` walks the chain), so the figures are tied to a log state that cannot be rewritten unnoticed;
- 风险清单: the risk register by unit and level (重大/较大/一般/低, the residual level where assessed, else
  the inherent one) — the register as it stands when the report is made;
- 管控任务: control tasks (隐患排查任务) due in the period by department: due, checked, missed (未排查), rate;
- 隐患统计: hazards found / rectified / open / overdue by grade and the rectification rate, computed by the
  hazard domain's own `hazards.stats.statistics` (the same table as the Art. 14 statistics page), and the
  found hazards by category;
- 重大事故隐患: each major hazard found in, or open during, the period, with where its treatment stands;
- 重大危险源: the major-hazard installations (GB 18218 R value and level);
- 事故统计: the accidents that occurred in the period by grade (国务院令第493号 第三条) with their casualties and
  direct loss, and the cockpit's accident rate over the period (GB/T 6441-1986 §6.3 百万工时伤害率, the hours
  estimated as the cockpit does: active employees × 8 h × days).
"""
from __future__ import annotations

import datetime as dt
import json
import re
from zoneinfo import ZoneInfo

from appliance.cockpit.service import rows
from appliance.core import events
from appliance.core.errors import ValidationFailed
from appliance.core.people import Area, Site, site_timezone
from appliance.hazards import stats as ST

LEVELS = (1, 2, 3, 4)
LEVEL_NAMES = {1: "重大风险", 2: "较大风险", 3: "一般风险", 4: "低风险"}
_PERIOD = re.compile(r"^(\d{4})-(?:(0[1-9]|1[0-2])|Q([1-4]))$")


def parse_period(text: str | None, tz: str) -> tuple[str, int, int]:
    """(label, since, until) of "YYYY-MM" (a month) or "YYYY-Qn" (a quarter), local midnight to midnight in
    `tz`, as UTC milliseconds; ValidationFailed naming `period` otherwise."""
    m = _PERIOD.match(text or "")
    if not m or not 2000 <= int(m.group(1)) <= 2100:
        raise ValidationFailed("参数 period 应为 YYYY-MM（月报）或 YYYY-Qn（季报），例如 2025-06 或 2025-Q2",
                               "parameter period must be YYYY-MM (monthly) or YYYY-Qn (quarterly), e.g. 2025-06 or 2025-Q2",
                               details=[{"key": "period"}])
    year = int(m.group(1))
    if m.group(3):
        since, until = ST.period_bounds(year, int(m.group(3)), tz)
        return f"{year}-Q{m.group(3)}", since, until
    month = int(m.group(2))
    zone = ZoneInfo(tz)
    start = dt.datetime(year, month, 1, tzinfo=zone)
    end = dt.datetime(year + (month == 12), month % 12 + 1, 1, tzinfo=zone)
    return f"{year}-{month:02d}", int(start.timestamp() * 1000), int(end.timestamp() * 1000)


def head() -> dict:
    """The event log's head when the report is made: its seq and hash (seq 0 and the genesis hash when empty)."""
    ev = events.Event.select(events.Event.seq, events.Event.hash).order_by(events.Event.seq.desc()).first()
    return {"seq": ev.seq, "hash": ev.hash} if ev else {"seq": 0, "hash": events.GENESIS_HASH}


def _rate(n: int, d: int) -> float | None:
    return round(n / d, 3) if d else None


def risk_inventory() -> list[dict]:
    """Per risk unit: its object, department, liable person and the count of risk events at each level."""
    from appliance.risk.register import RiskEvent, RiskObject, RiskUnit

    objects = {o.id: o for o in RiskObject.select().where(RiskObject.active)}
    units = [u for u in RiskUnit.select().order_by(RiskUnit.object_id, RiskUnit.id) if u.object_id in objects]
    levels: dict[int, dict[int, int]] = {u.id: dict.fromkeys(LEVELS, 0) for u in units}
    for unit_id, inherent, residual in rows(RiskEvent.select(RiskEvent.unit_id, RiskEvent.inherent_level,
                                                             RiskEvent.residual_level)):
        lv = residual or inherent
        if unit_id in levels and lv in LEVELS:
            levels[unit_id][lv] += 1
    return [{"object": objects[u.object_id].name, "major_hazard": bool(objects[u.object_id].major_hazard),
             "unit": u.name, "department": u.department, "liable_person": u.liable_person,
             "levels": levels[u.id], "total": sum(levels[u.id].values())} for u in units]


def control_tasks(since: int, until: int) -> list[dict]:
    """Control tasks whose period ended in (since, until] (as `risk.tasks.rates`), by department."""
    from appliance.risk.tasks import ControlTask

    by: dict[str, dict[str, int]] = {}
    for dept, status in rows(ControlTask.select(ControlTask.department, ControlTask.status).where(
            (ControlTask.period_end > since) & (ControlTask.period_end <= until))):
        d = by.setdefault(dept or "—", {"due": 0, "checked": 0, "missed": 0})
        d["due"] += 1
        d["checked"] += status == "done"
        d["missed"] += status == "missed"
    return [{"department": k, **v, "rate": _rate(v["checked"], v["due"])} for k, v in sorted(by.items())]


def hazard_statistics(since: int, until: int, now: int) -> dict:
    """`hazards.stats.statistics` over the period, its rows made as `hazards.service.statistics` makes them,
    and the found hazards by category."""
    from appliance.hazards.major import stage
    from appliance.hazards.service import Hazard, counted

    areas = {a.id: a.name for a in Area.select()}
    found: list[dict] = []
    cats: dict[str, int] = {}
    # a duplicate report is left out: it is the same hazard again, closed without rectification or acceptance
    for h in Hazard.select().where((Hazard.reported_at < until) & counted()
                                   & (Hazard.accepted_at.is_null() | (Hazard.accepted_at >= since))):
        evaluation = json.loads(h.evaluation) if h.evaluation else None
        found.append({"id": h.id, "grade": h.grade, "state": h.state, "reported_at": h.reported_at,
                     "accepted_at": h.accepted_at if h.state == "closed" else None, "deadline": h.deadline,
                     "cost": h.cost, "description": h.description, "area": areas.get(h.area_id, str(h.area_id)),
                     "category": h.category, "stage": stage(h.grade, h.state, evaluation),
                     "evaluation_result": evaluation and evaluation.get("result")})
        if since <= h.reported_at < until:
            cats[h.category] = cats.get(h.category, 0) + 1
    out = ST.statistics(found, since, until, now)
    out["categories"] = dict(sorted(cats.items(), key=lambda kv: (-kv[1], kv[0])))
    return out


HOURS_LABEL = {
    "recorded": "工时（按月记录）Person-hours (recorded per month)",
    "mixed": "工时（部分月份记录，其余估算）Person-hours (recorded for some months, the rest estimated: employees × 8 h × days)",
    "estimated": "工时（估算）Person-hours (estimated: employees × 8 h × days)",
}


def accident_statistics(since: int, until: int) -> dict:
    """The accidents that occurred in [since, until) by grade (count, deaths, serious and minor injuries, direct
    loss), and the injury rate per 10⁶ person-hours over the period (`cockpit.rules.injury_rate`)."""
    from appliance.cockpit import rules as CR
    from appliance.core.people import Person
    from appliance.emergency.models import Accident
    from appliance.emergency.rules import GRADES

    by = {g: {"accidents": 0, "deaths": 0, "serious": 0, "minor": 0, "loss": 0} for g, *_ in GRADES}
    for grade, deaths, serious, minor, loss in rows(Accident.select(
            Accident.grade, Accident.deaths, Accident.serious_injuries, Accident.minor_injuries,
            Accident.direct_loss_yuan).where((Accident.occurred_at >= since) & (Accident.occurred_at < until))):
        row = by.setdefault(grade, {"accidents": 0, "deaths": 0, "serious": 0, "minor": 0, "loss": 0})
        for k, v in (("accidents", 1), ("deaths", deaths), ("serious", serious), ("minor", minor), ("loss", loss)):
            row[k] += v
    total = {k: sum(r[k] for r in by.values()) for k in ("accidents", "deaths", "serious", "minor", "loss")}
    from appliance.cockpit.service import hours_worked

    employees = Person.select().where(Person.active & (Person.kind == "employee")).count()
    worked = hours_worked(since, until, employees)       # recorded per month, else estimated
    hours = worked["hours"]
    injured = total["deaths"] + total["serious"] + total["minor"]
    return {"by_grade": by, "total": total, "injured": injured, "employees": employees,
            "person_hours": round(hours, 1), "hours_basis": worked["basis"], "rate": CR.injury_rate(injured, hours)}


def figures(period: str | None, now: int | None = None) -> dict:
    """Everything the report shows, as plain values (the XLSX is written from this)."""
    from appliance.risk.major import installations

    tz = site_timezone()
    label, since, until = parse_period(period, tz)
    now = events.now_ms() if now is None else now
    site = Site.get_or_none(Site.id == 1)
    return {"site": site.name if site else "", "period": label, "since": since, "until": until, "timezone": tz, "generated_at": now, "head": head(),
            "risks": risk_inventory(), "tasks": control_tasks(since, until),
            "hazards": hazard_statistics(since, until, now), "installations": installations(),
            "accidents": accident_statistics(since, until)}


def _local(ms: int | None, tz: str) -> str:
    if ms is None:
        return ""
    return dt.datetime.fromtimestamp(ms / 1000, ZoneInfo(tz)).strftime("%Y-%m-%d %H:%M")


def _pct(v: float | None) -> str:
    return "—" if v is None else f"{v * 100:.1f}%"


GRADE_NAMES = {"general": "一般事故隐患", "major": "重大事故隐患", "total": "合计"}
STATE_NAMES = {"reported": "已上报", "rectifying": "整改中", "pending_acceptance": "待验收", "closed": "已销号",
               "awaiting_evaluation": "待评估", "awaiting_sign_off": "待主要负责人签字"}


def sheets(f: dict) -> list[tuple[str, list[list]]]:
    """The report's tables, (title, rows with the header row first): the XLSX's sheets and the PDF's
    sections are both written from these, so the two formats carry the same figures."""
    tz = f["timezone"]
    info = [["项目 Item", "内容 Value"],
            ["单位 Plant", f["site"]], ["报告 Report", "双重预防机制运行情况报告 Dual prevention mechanism report"],
            ["报告期 Period", f["period"]], ["起 From", _local(f["since"], tz)], ["止 To (exclusive)", _local(f["until"], tz)],
            ["时区 Time zone", tz], ["生成时间 Generated", _local(f["generated_at"], tz)],
            ["事件日志头序号 Event-log head seq", f["head"]["seq"]], ["事件日志头哈希 Event-log head hash", f["head"]["hash"]],
            ["核验 Verify", "在同步副本中核对该序号事件的哈希一致，并用 safety-appliance audit verify 校验哈希链 / "
                            "check that event seq has this hash in the synced copy; `safety-appliance audit verify` walks the chain"],
            ["说明 Note", "风险清单为生成时的登记状态；事故率的工时为估算（在册员工 × 8 小时 × 天数）/ the risk inventory is "
                          "the register as of generation; the accident rate's hours are estimated (employees × 8 h × days)"],
            ["主要负责人签字 Principal's signature", ""], ["日期 Date", ""]]
    risks = [["风险分析对象 Object", "重大危险源 Major hazard", "风险分析单元 Unit", "责任部门 Department", "责任人 Liable",
              *[LEVEL_NAMES[lv] for lv in LEVELS], "合计 Total"]]
    for r in f["risks"]:
        risks.append([r["object"], "是" if r["major_hazard"] else "否", r["unit"], r["department"], r["liable_person"],
                      *[r["levels"][lv] for lv in LEVELS], r["total"]])
    risks.append(["合计 Total", "", "", "", "", *[sum(r["levels"][lv] for r in f["risks"]) for lv in LEVELS],
                  sum(r["total"] for r in f["risks"])])
    tasks = [["部门 Department", "应排查 Due", "已排查 Checked", "未排查 Missed", "排查率 Rate"]]
    for t in f["tasks"]:
        tasks.append([t["department"], t["due"], t["checked"], t["missed"], _pct(t["rate"])])
    due, checked = sum(t["due"] for t in f["tasks"]), sum(t["checked"] for t in f["tasks"])
    tasks.append(["合计 Total", due, checked, sum(t["missed"] for t in f["tasks"]), _pct(_rate(checked, due))])
    hz = f["hazards"]
    stats = [["等级 Grade", "发现 Found", "整改销号 Rectified", "当期发现已整改 Found & rectified", "未整改 Open",
              "逾期 Overdue", "整改率 Rate", "整改资金(元) Cost"]]
    for g, row in (("general", hz["by_grade"]["general"]), ("major", hz["by_grade"]["major"]), ("total", hz["total"])):
        stats.append([GRADE_NAMES[g], row["found"], row["rectified"], row["found_rectified"], row["open"], row["overdue"],
                      _pct(row["rectification_rate"]), row["cost"]])
    stats.append([])
    stats.append(["类别 Category", "发现 Found"])
    stats.extend([c, n] for c, n in hz["categories"].items())
    majors = [["编号 No.", "区域 Area", "类别 Category", "描述 Description", "上报 Reported", "期限 Deadline",
               "状态 State", "评估结论 Evaluation"]]
    for m in hz["majors"]:
        majors.append([m["id"], m["area"], m["category"], m["description"], _local(m["reported_at"], tz),
                       _local(m["deadline"], tz), STATE_NAMES.get(m["stage"] or m["state"], m["state"]),
                       m["evaluation_result"] or ""])
    inst = [["编号 Code", "名称 Name", "类型 Kind", "R 值", "级别 Level", "500m 内人数 People"]]
    for i in f["installations"]:
        inst.append([i["code"], i["name"], i["kind_name"], i["r"], i["level_name"] or "未构成 Not major", i["people_500m"]])
    from appliance.emergency.rules import GRADE_NAMES as ACCIDENT_GRADES

    ac = f["accidents"]
    accidents = [["等级 Grade", "起数 Accidents", "死亡 Deaths", "重伤 Serious injuries", "轻伤 Minor injuries",
                  "直接经济损失(元) Direct loss (yuan)"]]
    for g, row in [*ac["by_grade"].items(), ("total", ac["total"])]:
        name = "合计 Total" if g == "total" else ACCIDENT_GRADES.get(g, (g,))[0]
        accidents.append([name, row["accidents"], row["deaths"], row["serious"], row["minor"], row["loss"]])
    accidents.append([])
    accidents.append(["指标 Figure", "数值 Value"])
    accidents.append(["百万工时伤害率 Injuries per 1,000,000 person-hours (GB/T 6441-1986 6.3)",
                      "—" if ac["rate"] is None else ac["rate"]])
    accidents.append(["伤害人数 People injured", ac["injured"]])
    accidents.append([HOURS_LABEL[ac["hours_basis"]], ac["person_hours"]])
    return [("报告信息", info), ("风险清单", risks), ("管控任务", tasks), ("隐患统计", stats),
            ("重大事故隐患", majors), ("重大危险源", inst), ("事故统计", accidents)]


def workbook(f: dict) -> bytes:
    """The report as XLSX (through the core's spreadsheet writer, openpyxl's one owner)."""
    from appliance.core.spreadsheet import write_xlsx

    return write_xlsx(sheets(f))
