"""The periodic reports beside the 双重预防机制 one (`report`): patrol (巡检), gas alarms (报警) and training
(培训), each for a month (YYYY-MM) or a quarter (YYYY-Qn), as figures (plain values) and as tables (the
XLSX's sheets and the PDF's sections, `export`). Each reads only the period's records (by the indexed time
column the domain keeps), never all history, and carries the event-log head it was made at.

The window rules are the cockpit's (`service.facts`), so a report and the cockpit over the same span agree:
- patrol: closed rounds whose window ended in the period; walked = completed + late (`rules.DONE_ROUNDS`);
  missed checkpoints from each round's stored verdict;
- alarms: gas alarms raised in the period; EEMUA 191 load (alarms per 10 min per operator, the busiest
  10 minutes) and chattering points (≥ 3 raises in 60 s) by `gas.load`; acknowledgement and active times;
- training: records held in the period (local dates), exam attempts submitted in it, certificates that
  expire in it or within 60 days after it (3号令/30号令: warn before expiry, `training.rules`), and the
  valid certificates by kind at its end.
"""
from __future__ import annotations

import datetime as dt
import json
from collections import Counter, defaultdict
from typing import Any
from zoneinfo import ZoneInfo

from appliance.cockpit import rules as CR
from appliance.cockpit.report import _local, _pct, _rate, head, parse_period
from appliance.cockpit.service import OPERATORS, rows
from appliance.core import events
from appliance.core.people import Person, Site, site_timezone

ROUND_STATES = ("completed", "late", "incomplete", "missed")
ROUND_NAMES = {"completed": "按时完成", "late": "超时完成", "incomplete": "漏检点", "missed": "未巡检"}
CERT_HORIZON_DAYS = 60


def base(period: str | None, now: int | None = None) -> dict:
    """The period's bounds and what every report's information block shows."""
    tz = site_timezone()
    label, since, until = parse_period(period, tz)
    site = Site.get_or_none(Site.id == 1)
    return {"site": site.name if site else "", "period": label, "since": since, "until": until, "timezone": tz,
            "generated_at": events.now_ms() if now is None else now, "head": head()}


def info_rows(name: str, f: dict, note: str = "") -> list[list]:
    """The 报告信息 sheet: plant, report, period, when made and the event-log head (as the dual-prevention one)."""
    tz = f["timezone"]
    out = [["项目 Item", "内容 Value"], ["单位 Plant", f["site"]], ["报告 Report", name], ["报告期 Period", f["period"]],
           ["起 From", _local(f["since"], tz)], ["止 To (exclusive)", _local(f["until"], tz)], ["时区 Time zone", tz],
           ["生成时间 Generated", _local(f["generated_at"], tz)],
           ["事件日志头序号 Event-log head seq", f["head"]["seq"]], ["事件日志头哈希 Event-log head hash", f["head"]["hash"]],
           ["核验 Verify", "在同步副本中核对该序号事件的哈希一致，并用 safety-appliance audit verify 校验哈希链 / "
                           "check that event seq has this hash in the synced copy; `safety-appliance audit verify` walks the chain"]]
    if note:
        out.append(["说明 Note", note])
    return out


# ------------------------------------------------------------------ patrol

def patrol_figures(period: str | None, now: int | None = None) -> dict:
    from appliance.patrol.models import Checkpoint, Plan, Round

    f = base(period, now)
    plans = {p.id: p.name for p in Plan.select(Plan.id, Plan.name)}
    names = {c.id: f"{c.code} {c.name}" for c in Checkpoint.select(Checkpoint.id, Checkpoint.code, Checkpoint.name)}
    by_plan: dict[int, Counter] = defaultdict(Counter)
    missed: Counter = Counter()
    suspicious = 0
    for plan_id, status, verdict, susp in rows(Round.select(Round.plan_id, Round.status, Round.verdict, Round.suspicious)
                                               .where(Round.closed & (Round.due_end >= f["since"])
                                                      & (Round.due_end < f["until"]))):
        by_plan[plan_id][status] += 1
        suspicious += bool(susp)
        for c in json.loads(verdict or "{}").get("missed", []):
            missed[c] += 1
    plan_rows: list[dict[str, Any]] = []
    for pid in sorted(by_plan):
        c = by_plan[pid]
        due = sum(c.values())
        walked = sum(c[s] for s in CR.DONE_ROUNDS)
        plan_rows.append({"plan": plans.get(pid, str(pid)), "due": due, **{s: c[s] for s in ROUND_STATES},
                          "walked": walked, "rate": _rate(walked, due)})
    due = sum(r["due"] for r in plan_rows)
    walked = sum(r["walked"] for r in plan_rows)
    return {**f, "plans": plan_rows, "total": {"due": due, "walked": walked, "rate": _rate(walked, due),
                                               **{s: sum(r[s] for r in plan_rows) for s in ROUND_STATES},
                                               "missed_checkpoints": sum(missed.values()), "suspicious": suspicious},
            "checkpoints": [{"checkpoint": names.get(c, str(c)), "missed": n}
                            for c, n in sorted(missed.items(), key=lambda kv: (-kv[1], kv[0]))]}


def patrol_sheets(f: dict) -> list[tuple[str, list[list]]]:
    t = f["total"]
    head_row = ["巡检计划 Plan", "应巡 Due", *[f"{ROUND_NAMES[s]} {s.title()}" for s in ROUND_STATES], "完成率 Rate"]
    plans = [head_row] + [[r["plan"], r["due"], *[r[s] for s in ROUND_STATES], _pct(r["rate"])] for r in f["plans"]]
    plans.append(["合计 Total", t["due"], *[t[s] for s in ROUND_STATES], _pct(t["rate"])])
    summary = [["指标 Figure", "数值 Value"], ["应巡次数 Rounds due", t["due"]], ["已巡次数 Rounds walked", t["walked"]],
               ["巡检完成率 Completion rate", _pct(t["rate"])], ["漏检点次 Missed checkpoints", t["missed_checkpoints"]],
               ["可疑巡检 Suspicious rounds", t["suspicious"]]]
    cps = [["巡检点 Checkpoint", "漏检次数 Missed"]] + [[c["checkpoint"], c["missed"]] for c in f["checkpoints"]]
    note = "完成率 = (按时完成 + 超时完成) ÷ 应巡；按巡检时段结束时间计入报告期 / rate = (completed + late) ÷ due; a round counts in the period its window ended"
    return [("报告信息", info_rows("巡检报告 Patrol report", f, note)), ("巡检汇总", summary), ("按计划", plans),
            ("漏检点", cps)]


# ------------------------------------------------------------------ alarms

def alarm_figures(period: str | None, now: int | None = None) -> dict:
    from appliance.gas.load import TARGET_PER_10_MIN, chattering, per_10_min
    from appliance.gas.sensors import Alarm

    f = base(period, now)
    since, until = f["since"], f["until"]
    found = rows(Alarm.select(Alarm.point, Alarm.level, Alarm.raised_at, Alarm.acked_at, Alarm.cleared_at)
                 .where((Alarm.kind == "gas") & (Alarm.raised_at >= since) & (Alarm.raised_at < until)))
    points: dict[str, dict] = {}
    for point, level, raised, acked, cleared in found:
        p = points.setdefault(point, {"point": point, "alarms": 0, "level1": 0, "level2": 0, "ack_ms": [],
                                      "longest_ms": 0, "active_at_end": 0})
        p["alarms"] += 1
        p["level1"] += level == 1
        p["level2"] += level >= 2
        if acked is not None:
            p["ack_ms"].append(acked - raised)
        if cleared is None or cleared >= until:
            p["active_at_end"] += 1
        p["longest_ms"] = max(p["longest_ms"], (min(cleared, until) if cleared is not None else until) - raised)
    for p in points.values():
        acks = p.pop("ack_ms")
        p["mean_ack_s"] = round(sum(acks) / len(acks) / 1000, 1) if acks else None
    raises = [(p, t) for p, _, t, _, _ in found]
    avg, peak = per_10_min([t for _, t in raises], until - 1, until - since)
    others = Counter(k for (k,) in rows(Alarm.select(Alarm.kind).where(
        (Alarm.kind != "gas") & (Alarm.raised_at >= since) & (Alarm.raised_at < until))))
    return {**f, "total": len(found), "per_10_min": round(avg / OPERATORS, 3), "peak_10_min": peak,
            "target": TARGET_PER_10_MIN, "operators": OPERATORS, "chattering": chattering(raises),
            "points": sorted(points.values(), key=lambda p: (-p["alarms"], p["point"])), "other_kinds": dict(others)}


def alarm_sheets(f: dict) -> list[tuple[str, list[list]]]:
    summary = [["指标 Figure", "数值 Value"], ["气体报警次数 Gas alarms", f["total"]],
               ["每10分钟报警数（每操作员）Alarms per 10 min per operator", f["per_10_min"]],
               ["目标 Target (EEMUA 191)", f"≤ {f['target']:g}"], ["最忙10分钟 Busiest 10 min", f["peak_10_min"]],
               ["振荡报警点 Chattering points", "、".join(f["chattering"]) or "无 none"],
               *[[f"其他报警 Other alarms: {k}", n] for k, n in sorted(f["other_kinds"].items())]]
    pts = [["测点 Point", "报警 Alarms", "一级 Level 1", "二级 Level 2", "平均确认用时(秒) Mean ack (s)",
            "最长持续(分) Longest (min)", "期末仍报警 Active at end"]]
    pts += [[p["point"], p["alarms"], p["level1"], p["level2"], "—" if p["mean_ack_s"] is None else p["mean_ack_s"],
             round(p["longest_ms"] / 60_000, 1), p["active_at_end"]] for p in f["points"]]
    note = ("报警负荷按 EEMUA 191（正常运行每操作员每10分钟 ≤ 1 次）；振荡：60 秒内 ≥ 3 次 / alarm load per EEMUA 191 "
            "(≤ 1 per 10 min per operator); chattering: ≥ 3 raises in 60 s")
    return [("报告信息", info_rows("报警报告 Alarm report", f, note)), ("报警汇总", summary), ("按测点", pts)]


# ------------------------------------------------------------------ training

def _day(ms: int, tz: str) -> dt.date:
    return dt.datetime.fromtimestamp(ms / 1000, ZoneInfo(tz)).date()


def training_figures(period: str | None, now: int | None = None) -> dict:
    from appliance.training import rules as TR
    from appliance.training.certificates import Certificate
    from appliance.training.exams import Attempt, Exam
    from appliance.training.records import Record

    f = base(period, now)
    tz = f["timezone"]
    first, end = _day(f["since"], tz), _day(f["until"], tz)      # held_on in [first, end): local dates
    recs = rows(Record.select(Record.person_id, Record.kind, Record.hours)
                .where((Record.held_on >= first.isoformat()) & (Record.held_on < end.isoformat())))
    kinds: dict[str, dict] = {}
    per_person: dict[int, dict] = {}
    for pid, kind, hours in recs:
        k = kinds.setdefault(kind, {"kind": kind, "records": 0, "hours": 0.0, "people": set()})
        k["records"] += 1
        k["hours"] += hours
        k["people"].add(pid)
        pp = per_person.setdefault(pid, {"records": 0, "hours": 0.0})
        pp["records"] += 1
        pp["hours"] += hours
    people = {p.id: p for p in Person.select().where(Person.id.in_(list(per_person)))} if per_person else {}
    exams = {e.id: e.title for e in Exam.select(Exam.id, Exam.title)}
    by_exam: dict[int, dict] = {}
    for exam_id, passed, score in rows(Attempt.select(Attempt.exam_id, Attempt.passed, Attempt.score).where(
            Attempt.submitted_at.is_null(False) & (Attempt.submitted_at >= f["since"])
            & (Attempt.submitted_at < f["until"]))):
        e = by_exam.setdefault(exam_id, {"exam": exams.get(exam_id, str(exam_id)), "attempts": 0, "passed": 0,
                                         "scores": []})
        e["attempts"] += 1
        e["passed"] += bool(passed)
        if score is not None:
            e["scores"].append(score)
    horizon = end + dt.timedelta(days=CERT_HORIZON_DAYS)
    certs = list(Certificate.select().where(~Certificate.revoked))
    expiring = [c for c in certs if first.isoformat() <= c.expires_on < horizon.isoformat()]
    holders = {p.id: p for p in Person.select().where(Person.id.in_([c.person_id for c in expiring]))} if expiring else {}
    valid_at_end = Counter(c.kind for c in certs if c.issued_on < end.isoformat() <= c.expires_on)

    def kind_name(code: str) -> str:
        k = TR.KINDS.get(code)
        return f"{k.zh} {code}" if k else code

    return {**f, "kinds": [{**k, "hours": round(k["hours"], 1), "people": len(k["people"])}
                           for k in sorted(kinds.values(), key=lambda k: k["kind"])],
            "total": {"records": len(recs), "hours": round(sum(h for *_, h in recs), 1), "people": len(per_person)},
            "people": [{"employee_no": people[pid].employee_no if pid in people else "", "name": people[pid].name
                        if pid in people else str(pid), "records": v["records"], "hours": round(v["hours"], 1)}
                       for pid, v in sorted(per_person.items(), key=lambda kv: (-kv[1]["hours"], kv[0]))],
            "exams": [{"exam": e["exam"], "attempts": e["attempts"], "passed": e["passed"],
                       "pass_rate": _rate(e["passed"], e["attempts"]),
                       "mean_score": round(sum(e["scores"]) / len(e["scores"]), 1) if e["scores"] else None}
                      for _, e in sorted(by_exam.items())],
            "expiring": [{"name": holders[c.person_id].name if c.person_id in holders else str(c.person_id),
                          "kind": kind_name(c.kind), "number": c.number, "expires_on": c.expires_on}
                         for c in sorted(expiring, key=lambda c: (c.expires_on, c.id))],
            "valid_at_end": {kind_name(k): n for k, n in sorted(valid_at_end.items())}}


KIND_NAMES = {"initial": "初次培训", "yearly": "年度再培训", "refresher": "复训", "special": "专项培训", "briefing": "安全交底"}


def training_sheets(f: dict) -> list[tuple[str, list[list]]]:
    t = f["total"]
    kinds = [["类别 Kind", "记录 Records", "学时 Hours", "人数 People"]]
    kinds += [[f"{KIND_NAMES.get(k['kind'], k['kind'])} {k['kind']}", k["records"], k["hours"], k["people"]]
              for k in f["kinds"]]
    kinds.append(["合计 Total", t["records"], t["hours"], t["people"]])
    people = [["工号 No.", "姓名 Name", "记录 Records", "学时 Hours"]]
    people += [[p["employee_no"], p["name"], p["records"], p["hours"]] for p in f["people"]]
    exams = [["考试 Exam", "参考人次 Attempts", "合格 Passed", "合格率 Pass rate", "平均分 Mean score"]]
    exams += [[e["exam"], e["attempts"], e["passed"], _pct(e["pass_rate"]), "—" if e["mean_score"] is None
               else e["mean_score"]] for e in f["exams"]]
    certs = [["姓名 Name", "证书 Certificate", "编号 No.", "有效期至 Expires"]]
    certs += [[c["name"], c["kind"], c["number"], c["expires_on"]] for c in f["expiring"]]
    valid = [["证书类别 Certificate", "期末有效 Valid at end"]] + [[k, n] for k, n in f["valid_at_end"].items()]
    note = (f"证书到期：报告期内及其后 {CERT_HORIZON_DAYS} 天内到期（未吊销） / certificates expiring in the period or "
            f"within {CERT_HORIZON_DAYS} days after it (not revoked)")
    return [("报告信息", info_rows("培训报告 Training report", f, note)), ("培训汇总", kinds), ("人员学时", people),
            ("考试", exams), ("证书到期", certs), ("有效证书", valid)]
