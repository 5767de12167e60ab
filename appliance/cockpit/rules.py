"""The safety cockpit's KPIs (安全驾驶舱): each one's definition as data, and pure functions that compute
them from the facts of one time window (never from all history) and compare them with the window before.

The figures and where their rules come from:
- 隐患整改率 / 按期整改率 / 逾期 / 重复隐患: 《安全生产事故隐患排查治理暂行规定》 (SAWS order 16) Art. 10–14 —
  computed by the hazard domain's own `hazards.rules.rates`, so the cockpit, the hazard page and the
  dual-prevention report never disagree.
- 管控任务排查率 / 未排查: the dual prevention mechanism's check tasks (RULES.md §B.4, CHECK_STATUS 2 未排查).
- 巡检完成率 / 漏检点: patrol rounds closed in the window (`patrol.rules` statuses; a `late` round counts as done,
  an `incomplete` or `missed` one does not); missed checkpoints are the route stops never tapped.
- 报警负荷: EEMUA 191 (≤ 1 alarm per 10 min per operator in normal running), chattering as in `gas.load`
  (≥ 3 raises in 60 s, ISA-18.2 rule of thumb); standing alarms are those active now.
- 违章率: confirmed PPE violations per 100 person-hours. The appliance does not record how many people the
  cameras saw, so the exposure is estimated as active employees × 8 h × days in the window (stated in the
  definition) — a plant-wide rate, not a per-camera one.
- 作业票中止: permits suspended in the window (by hand or by the gas interlock, GB 30871-2022 gas gate).
- 承包商拒绝入场: contractor gate entries refused in the window.
- 证书即将到期: special-operation certificates lapsing within 30 days (warning steps 60/30/7/0, GUIDE §3).
- 事故起数 / 事故率: accidents that occurred in the window (the emergency domain's records, graded by 国务院令
  第493号), and the injury frequency of GB/T 6441-1986《企业职工伤亡事故分类》§6.3, 百万工时伤害率
  A = 伤害人数 (死亡 + 重伤 + 轻伤) × 10⁶ ÷ 实际总工时. The hours worked are those a safety officer recorded
  for each month (`hours`, migration 0031; the plant's record, else the sum of its departments' and firms'),
  a window taking the share of each month it covers; a month without a record is estimated (active
  employees × 8 h × its days in the window). Which one was used is shown beside the rate (`window_hours`).
"""
from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any
from zoneinfo import ZoneInfo

from appliance.gas.load import TARGET_PER_10_MIN, chattering, per_10_min
from appliance.hazards.rules import rates as hazard_rates

DAY_MS = 86_400_000
MIN_DAYS, MAX_DAYS = 1, 366          # a window is at most a year: the cockpit never reads all history
DEFAULT_DAYS = 30
SHIFT_HOURS = 8                      # nominal hours a person works a day (the violation-rate exposure)
PER_MILLION_HOURS = 1_000_000       # GB/T 6441-1986 §6.3: injuries per 10⁶ hours worked
CERT_HORIZON_DAYS = 30               # "expiring": lapsing within this many days (warning step 30, GUIDE §3)
DONE_ROUNDS = ("completed", "late")  # patrol.rules: a late round was walked; incomplete / missed were not


@dataclass(frozen=True)
class Kpi:
    """One cockpit figure: what it is called, how it is defined (shown one tap away), which way is better,
    and where its records are (drill-down)."""

    key: str
    group: str            # hazards | tasks | patrol | alarms | accidents | violations | permits | contractors | training
    unit: str             # rate (0–1) | count | per_10_min | per_100h | per_1m_h
    better: str           # up | down
    zh: str
    en: str
    definition_zh: str
    definition_en: str
    source: str           # the standard or rule the definition follows
    drill: str            # the domain's own page with the records behind the figure (`page`); the cockpit's
                          # drill-down /cockpit/drill/<key> lists exactly those the tile counted (`drill`)
    point_in_time: bool = False   # a figure of now, not of a window: it has no previous period
    windowed: bool = False        # the page takes ?since=&until= (ms) and then lists the window's records only


KPIS: tuple[Kpi, ...] = (
    Kpi("rectification_rate", "hazards", "rate", "up", "隐患整改率", "Hazard rectification rate",
        "窗口内上报的隐患中已验收销号的比例（已销号 ÷ 上报）", "hazards reported in the window that are closed (closed ÷ reported)",
        "16号令 第十条–第十四条", "/tablet/hazards", windowed=True),
    Kpi("on_time_rate", "hazards", "rate", "up", "按期整改率", "On-time rectification rate",
        "已销号隐患中在整改期限内销号的比例", "closed hazards that closed by their deadline (on time ÷ closed)",
        "16号令 第十条", "/tablet/hazards", windowed=True),
    Kpi("overdue", "hazards", "count", "down", "逾期隐患", "Overdue hazards",
        "窗口内上报、至窗口结束仍未销号且已过整改期限的隐患数", "hazards reported in the window, not closed and past their deadline at its end",
        "16号令 第十条", "/tablet/hazards?overdue=1", windowed=True),
    Kpi("recurrences", "hazards", "count", "down", "重复隐患", "Recurring hazards",
        "窗口内上报、与同区域同类别较早隐患关联的隐患数", "hazards reported in the window linked to an earlier one of the same area and category",
        "hazards.rules.is_recurrence", "/tablet/hazards", windowed=True),
    Kpi("major_found", "hazards", "count", "down", "重大事故隐患", "Major hazards found",
        "窗口内上报的重大事故隐患数", "major hazards (重大事故隐患) reported in the window",
        "16号令 第三条、第十四条", "/tablet/hazards/statistics"),
    Kpi("task_rate", "tasks", "rate", "up", "管控任务排查率", "Control tasks checked",
        "窗口内到期的隐患排查任务中已排查的比例", "control tasks due in the window that were checked (checked ÷ due)",
        "双重预防机制 隐患排查任务 CHECK_STATUS", "/tablet/risks"),
    Kpi("tasks_missed", "tasks", "count", "down", "未排查任务", "Control tasks missed (未排查)",
        "窗口内到期但未排查的任务数", "control tasks due in the window and never checked",
        "CHECK_STATUS 2 未排查", "/tablet/risks"),
    Kpi("patrol_rate", "patrol", "rate", "up", "巡检完成率", "Patrol completion",
        "窗口内结束的巡检轮次中完成（含迟到）的比例", "patrol rounds ended in the window that were walked (completed or late ÷ ended)",
        "patrol.rules 轮次判定", "/tablet/patrol"),
    Kpi("missed_checkpoints", "patrol", "count", "down", "漏检点", "Missed checkpoints",
        "窗口内结束的巡检轮次中未打卡的检查点合计", "route checkpoints never tapped in the rounds ended in the window",
        "patrol.rules 未排查", "/tablet/patrol"),
    Kpi("alarms_per_10_min", "alarms", "per_10_min", "down", "每10分钟报警数（每操作员）", "Alarms per 10 min per operator",
        "窗口内气体报警数 ÷ 窗口的10分钟段数 ÷ 操作员数；目标 ≤ 1", "gas alarms raised in the window ÷ its 10-minute slots ÷ operators; target ≤ 1",
        "EEMUA 191", "/tablet/alarms"),
    Kpi("alarm_peak_10_min", "alarms", "count", "down", "最忙10分钟报警数", "Busiest 10 minutes",
        "窗口内报警最多的10分钟段的报警数", "alarms in the window's busiest 10-minute slot",
        "EEMUA 191（报警泛滥）", "/tablet/alarms"),
    Kpi("standing_alarms", "alarms", "count", "down", "常驻报警", "Standing alarms",
        "当前仍在报警状态（未恢复）的气体报警数", "gas alarms active now (not cleared)",
        "EEMUA 191", "/tablet/alarms", point_in_time=True),
    Kpi("chattering_points", "alarms", "count", "down", "振荡报警点", "Chattering points",
        "窗口内60秒内报警≥3次的检测点数", "points that raised ≥ 3 times within 60 s in the window",
        "ISA-18.2 / gas.load", "/tablet/alarms"),
    Kpi("accidents", "accidents", "count", "down", "事故起数", "Accidents",
        "窗口内发生的生产安全事故起数（按发生时间；含无人员伤亡的事故）",
        "accidents that occurred in the window (by the time they occurred; those without casualties included)",
        "国务院令第493号 第三条（事故分级）", "/tablet/emergency#em-accidents"),
    Kpi("accident_rate", "accidents", "per_1m_h", "down", "事故率（百万工时伤害率）", "Accident rate (injuries per 1,000,000 person-hours)",
        "窗口内发生事故的伤害人数（死亡＋重伤＋轻伤）× 1,000,000 ÷ 实际总工时（按月记录的工时，按窗口所占比例计；"
        "未记录的月份估算：在册员工 × 8 小时 × 天数；所用口径见指标下方）",
        "people injured (deaths + serious + minor injuries) in accidents that occurred in the window × 1,000,000 ÷ "
        "person-hours worked (the hours recorded per month, each month's share the window covers; a month without "
        "a record estimated as active employees × 8 h × days; the tile says which was used)",
        "GB/T 6441-1986《企业职工伤亡事故分类》6.3 百万工时伤害率", "/tablet/emergency#em-accidents"),
    Kpi("violation_rate", "violations", "per_100h", "down", "违章率（每百人工时）", "PPE violations per 100 person-hours",
        "窗口内确认的未戴安全帽等违章数 × 100 ÷ 人工时（按月记录的工时；未记录的月份估算：在册员工 × 8 小时 × 天数；所用口径见指标下方）",
        "confirmed PPE violations in the window × 100 ÷ person-hours (the hours recorded per month; a month without "
        "a record estimated as active employees × 8 h × days; the tile says which was used)",
        "全厂工时口径（摄像头下人工时未单独记录）", "/tablet/violations"),
    Kpi("permit_suspensions", "permits", "count", "down", "作业票中止", "Permits suspended",
        "窗口内中止的特殊作业票数（手动或气体联锁）", "special-work permits suspended in the window (by hand or by the gas interlock)",
        "GB 30871-2022 气体分析", "/tablet/permits"),
    Kpi("interlock_suspensions", "permits", "count", "down", "气体联锁中止", "Suspended by the gas interlock",
        "其中因气体报警联锁自动中止的", "of those, suspended by the live gas interlock",
        "GB 30871-2022 / GB/T 50493-2019", "/tablet/permits"),
    Kpi("gate_refused", "contractors", "count", "down", "承包商拒绝入场", "Contractor entries refused",
        "窗口内大门读卡被拒绝的入场次数", "gate entries refused in the window",
        "承包商准入", "/tablet/contractors"),
    Kpi("certs_expiring", "training", "count", "down", "证书即将到期", "Certificates expiring",
        "30天内到期（含已过期未撤销）的特种作业证书数", "certificates lapsing within 30 days (or lapsed, not revoked)",
        "特种作业人员安全技术培训考核管理规定（6年有效，3年复审）", "/tablet/training", point_in_time=True),
)
BY_KEY = {k.key: k for k in KPIS}
# KPIs left out on purpose, each with the reason the cockpit shows ({"key", "zh", "en"}); none now
MISSING: tuple[dict[str, str], ...] = ()


def window(now: int, days: int) -> tuple[int, int]:
    """[since, until) of the last `days` days ending now; ValueError("days") outside 1–366."""
    if not isinstance(days, int) or not MIN_DAYS <= days <= MAX_DAYS:
        raise ValueError("days")
    return now - days * DAY_MS, now


def previous(since: int, until: int) -> tuple[int, int]:
    """The window of the same length just before [since, until)."""
    return since - (until - since), since


@dataclass
class Facts:
    """What one window holds, read from the domains' records (plain values, so the KPIs are pure)."""

    since: int
    until: int
    hazards: list[tuple[str, int | None, int | None, int | None]] = field(default_factory=list)  # hazards.rules.rates
    major_found: int = 0
    tasks: list[str] = field(default_factory=list)                  # status of each task due in the window
    rounds: list[tuple[str, int]] = field(default_factory=list)     # (final status, checkpoints missed)
    alarms: list[tuple[str, int]] = field(default_factory=list)     # (point, raised_at) of each gas alarm raise
    operators: int = 1
    standing: int | None = None                                     # now; None for a past window
    violations: int = 0                                             # confirmed in the window
    employees: int = 0                                              # active employees (the exposure)
    accidents: list[tuple[int, int, int]] = field(default_factory=list)  # (deaths, serious, minor) of each
    suspensions: list[bool] = field(default_factory=list)           # one per suspension: by the interlock?
    gate: list[str] = field(default_factory=list)                   # decision of each gate entry
    certs_expiring: int | None = None                               # now; None for a past window
    hours: float | None = None                                      # hours worked (window_hours); None: estimate
    hours_basis: str = "estimated"                                  # recorded | mixed | estimated


def _ratio(n: int, d: int) -> float | None:
    return round(n / d, 3) if d else None


def injury_rate(injured: int, person_hours: float) -> float | None:
    """GB/T 6441-1986 §6.3 百万工时伤害率: people injured (deaths + serious + minor) per 10⁶ hours worked;
    None with no hours to divide by."""
    return round(injured * PER_MILLION_HOURS / person_hours, 3) if person_hours else None


def compute(f: Facts) -> dict[str, Any]:
    """Every KPI of `f`'s window, by key. A rate with nothing to divide is None (not 0 %, not 100 %)."""
    if f.until <= f.since:
        raise ValueError("window")
    hz = hazard_rates(f.hazards, f.until)
    done_tasks = sum(1 for s in f.tasks if s == "done")
    walked = sum(1 for s, _ in f.rounds if s in DONE_ROUNDS)
    span = f.until - f.since
    alarms = [(p, t) for p, t in f.alarms if f.since <= t < f.until]
    avg, peak = per_10_min([t for _, t in alarms], f.until - 1, span)
    days = span / DAY_MS
    hours = f.hours if f.hours is not None else f.employees * SHIFT_HOURS * days
    injured = sum(d + s + m for d, s, m in f.accidents)
    return {
        "rectification_rate": hz["rectification_rate"], "on_time_rate": hz["on_time_rate"],
        "overdue": hz["overdue"], "recurrences": hz["recurrences"], "major_found": f.major_found,
        "hazards_reported": hz["reported"], "hazards_closed": hz["closed"],
        "task_rate": _ratio(done_tasks, len(f.tasks)),
        "tasks_missed": sum(1 for s in f.tasks if s == "missed"), "tasks_due": len(f.tasks),
        "patrol_rate": _ratio(walked, len(f.rounds)), "rounds": len(f.rounds),
        "missed_checkpoints": sum(m for _, m in f.rounds),
        "alarms_per_10_min": round(avg / max(f.operators, 1), 3), "alarm_peak_10_min": peak,
        "alarms": len(alarms), "alarm_target": TARGET_PER_10_MIN,
        "standing_alarms": f.standing, "chattering_points": len(chattering(alarms)),
        "violation_rate": round(f.violations * 100 / hours, 3) if hours else None, "violations": f.violations,
        "accidents": len(f.accidents), "injured": injured, "person_hours": round(hours, 1),
        "hours_basis": f.hours_basis if f.hours is not None else "estimated",
        "accident_rate": injury_rate(injured, hours),
        "permit_suspensions": len(f.suspensions), "interlock_suspensions": sum(1 for s in f.suspensions if s),
        "gate_refused": sum(1 for d in f.gate if d == "refused"), "gate_entries": sum(1 for d in f.gate if d != "exit"),
        "certs_expiring": f.certs_expiring,
    }


def months(since: int, until: int, tz: str) -> list[tuple[str, int, int]]:
    """The calendar months (plant time) that [since, until) touches: (YYYY-MM, ms of the window in it, ms
    of the whole month)."""
    zone = ZoneInfo(tz)
    d = dt.datetime.fromtimestamp(since / 1000, zone).date().replace(day=1)
    out = []
    while True:
        start = int(dt.datetime(d.year, d.month, 1, tzinfo=zone).timestamp() * 1000)
        if start >= until:
            break
        nxt = (d + dt.timedelta(days=32)).replace(day=1)
        end = int(dt.datetime(nxt.year, nxt.month, 1, tzinfo=zone).timestamp() * 1000)
        out.append((f"{d.year:04d}-{d.month:02d}", min(end, until) - max(start, since), end - start))
        d = nxt
    return out


def window_hours(since: int, until: int, recorded: Mapping[str, float], employees: int, tz: str) -> dict[str, Any]:
    """The hours worked in [since, until) (GB/T 6441-1986 §6.3 实际总工时): of each month touched, the
    recorded hours × the share of the month the window covers, or, for a month without a record, the
    estimate (active employees × SHIFT_HOURS × its days in the window). `basis`: recorded (every month
    recorded), estimated (none), mixed."""
    total, rec, est = 0.0, [], []
    for month, inside, whole in months(since, until, tz):
        if month in recorded:
            total += recorded[month] * inside / whole
            rec.append(month)
        else:
            total += employees * SHIFT_HOURS * inside / DAY_MS
            est.append(month)
    basis = "recorded" if rec and not est else ("mixed" if rec else "estimated")
    return {"hours": total, "basis": basis, "recorded_months": rec, "estimated_months": est}


def trend(cur: float | None, prev: float | None, better: str) -> dict[str, Any]:
    """How `cur` compares with the previous window: the change and whether that is better or worse
    (`better` says which way is good); None where either side has no figure."""
    if cur is None or prev is None:
        return {"previous": prev, "delta": None, "direction": None}
    delta = round(cur - prev, 3)
    if delta == 0:
        direction = "same"
    else:
        direction = "better" if (delta > 0) == (better == "up") else "worse"
    return {"previous": prev, "delta": delta, "direction": direction}


def page(k: Kpi, since: int | None = None, until: int | None = None) -> str:
    """The address of the domain's own page for `k`'s records: for a windowed page, of the window [since,
    until) only."""
    if not k.windowed or since is None or until is None:
        return k.drill
    return f"{k.drill}{'&' if '?' in k.drill else '?'}since={since}&until={until}"


def drill(k: Kpi, since: int | None = None, until: int | None = None) -> str:
    """The address of the cockpit's drill-down of `k`: exactly the records the tile counted in [since,
    until) (`cockpit.drill`)."""
    if since is None or until is None:
        return f"/cockpit/drill/{k.key}"
    return f"/cockpit/drill/{k.key}?since={since}&until={until}"


def cockpit(cur: Mapping[str, Any], prev: Mapping[str, Any], kpis: Sequence[Kpi] = KPIS,
            since: int | None = None, until: int | None = None) -> list[dict]:
    """One entry per KPI: its value now, its definition, its trend against the previous window and the
    address of its records (of the window [since, until) where the page filters by time)."""
    out = []
    for k in kpis:
        value = cur.get(k.key)
        t = trend(value, None if k.point_in_time else prev.get(k.key), k.better)
        out.append({"key": k.key, "group": k.group, "unit": k.unit, "better": k.better, "value": value,
                    "name": {"zh-CN": k.zh, "en": k.en},
                    "definition": {"zh-CN": k.definition_zh, "en": k.definition_en}, "source": k.source,
                    "drill": drill(k, since, until), "page": page(k, since, until),
                    "point_in_time": k.point_in_time, **t})
    return out
