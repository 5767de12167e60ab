"""Control tasks (隐患排查任务): every control measure with a check cycle gets one task per period,
assigned by responsibility (the risk unit's department and liable person), reminded before the period ends
and flagged missed (未排查) after it. A task is done by a check record (排查记录) with the regulator's status
0 正常 / 1 存在隐患 / 2 未排查 / 3 其他 — answered on a tablet, or at a patrol checkpoint whose checklist item
carries the measure (`measure_id`), so the checkpoint answer is also the check record. 存在隐患 opens a
hazard report. The period rules are `task_rules`.
"""
from __future__ import annotations

import logging
from collections.abc import Iterable
from typing import cast

import peewee
from pydantic import Field, model_validator

from appliance.core import db, events
from appliance.core.db import BaseModel as Model
from appliance.core.db import database
from appliance.core.errors import Conflict, NotFound, ValidationFailed
from appliance.core.people import Input, site_timezone
from appliance.risk import settings
from appliance.risk import task_rules as TR
from appliance.risk.register import RiskMeasure

log = logging.getLogger(__name__)

RESULT_NAMES = {0: "正常", 1: "存在隐患", 2: "未排查", 3: "其他"}


class ControlTask(Model):
    measure_id = peewee.IntegerField()
    period_start = peewee.IntegerField()
    period_end = peewee.IntegerField()
    department = peewee.TextField()
    assignee = peewee.TextField()
    status = peewee.TextField()
    result = peewee.IntegerField(null=True)
    check_record_id = peewee.IntegerField(null=True)
    checked_by = peewee.TextField(null=True)
    checked_at = peewee.IntegerField(null=True)
    note = peewee.TextField()
    hazard_id = peewee.IntegerField(null=True)
    reminded_at = peewee.IntegerField(null=True)

    class Meta:
        table_name = "control_tasks"


class CheckIn(Input):
    result: int = Field(ge=0, le=3)        # CHECK_STATUS: 0 正常 / 1 存在隐患 / 3 其他 (2 未排查 is the system's)
    note: str = Field("", max_length=1000)

    @model_validator(mode="after")
    def _reasoned(self):
        if self.result == 2:
            raise ValueError("result: 2 (未排查) is recorded by the system when a period ends unchecked")
        if self.result in (1, 3) and not self.note.strip():
            raise ValueError("note: say what was found (存在隐患 / 其他 need a note)")
        return self


_INFO_SQL = """
SELECT m.id, m.description, e.name, u.name, o.name, COALESCE(u.area_id, o.area_id), u.department, u.liable_person
FROM risk_measures m JOIN risk_events e ON e.id = m.event_id JOIN risk_units u ON u.id = e.unit_id
JOIN risk_objects o ON o.id = u.object_id"""
_IDS_PER_QUERY = 500


def _measure_infos(ids: list[int] | None = None) -> dict[int, dict]:
    """What a task shows of its measure (and its event, unit, object, area, department, liable person), for
    the measures `ids` (all when None) in one joined query per 500: four lookups per measure cost the
    control-task job 20 000 queries a minute on a 5 000-measure register (issue 14)."""
    def rows(sql: str, params: tuple) -> list[tuple]:
        return list(database.execute_sql(sql, params).fetchall())

    if ids is None:
        found = rows(_INFO_SQL, ())
    else:
        uniq, found = sorted(set(ids)), []
        for i in range(0, len(uniq), _IDS_PER_QUERY):
            part = uniq[i:i + _IDS_PER_QUERY]
            found += rows(f"{_INFO_SQL} WHERE m.id IN ({', '.join('?' * len(part))})", tuple(part))
    return {r[0]: {"measure": r[1], "event": r[2], "unit": r[3], "object": r[4], "area_id": r[5],
                   "department": r[6], "assignee": r[7]} for r in found}


def _measure_info(measure_id: int) -> dict:
    info = _measure_infos([measure_id]).get(measure_id)
    if info is None:
        raise NotFound("没有这个管控措施", "no such control measure")
    return info


def task_dict(t: ControlTask, info: dict | None = None) -> dict:
    info = info or _measure_info(t.measure_id)
    return {"id": t.id, "measure_id": t.measure_id, "period_start": t.period_start, "period_end": t.period_end,
            "department": t.department, "assignee": t.assignee, "status": t.status, "result": t.result,
            "check_record_id": t.check_record_id, "checked_by": t.checked_by, "checked_at": t.checked_at,
            "note": t.note, "hazard_id": t.hazard_id, "overdue": t.status == "open" and events.now_ms() >= t.period_end,
            **{k: info[k] for k in ("measure", "event", "unit", "object", "area_id")}}


def task_dicts(tasks) -> list[dict]:
    """`task_dict` of many tasks, their measures read together."""
    tasks = list(tasks)
    infos = _measure_infos([t.measure_id for t in tasks])
    return [task_dict(t, infos.get(t.measure_id)) for t in tasks]


def tick(now: int | None = None) -> dict:
    """The scheduler's job: open this period's task of every cycled measure, remind the ones due soon,
    and close the ones whose period ended unchecked as 未排查 (one event per fact).

    Everything is read first, outside the write transaction; the transaction then writes only what
    changes (usually nothing), behind the gas alarms' writes (db.WriteGate). Reading a 5 000-measure
    register inside it held SQLite's one write lock for seconds each minute and the alarms, the patrol
    job and every page waited (py-spy under bench/load.py, issue 14). A write re-checks its row's state,
    so a check made between the read and the write is never overwritten."""
    now = events.now_ms() if now is None else now
    tz = site_timezone()
    shift = settings.current().shift_time
    made = reminded = missed = 0
    infos = _measure_infos()
    ended = list(ControlTask.select().where((ControlTask.status == "open") & (ControlTask.period_end <= now)))
    current = set(ControlTask.select(ControlTask.measure_id, ControlTask.period_start)
                  .where(ControlTask.period_end > now).tuples())
    last_ends: dict[int, int] = dict(cast(Iterable[tuple[int, int]], ControlTask.select(
        ControlTask.measure_id, peewee.fn.MAX(ControlTask.period_end)).group_by(ControlTask.measure_id).tuples()))
    rows, backfill = [], []
    for m in RiskMeasure.select().where(RiskMeasure.check_cycle.is_null(False)):
        assert m.check_cycle is not None   # the query selects only measures with a cycle
        info = infos.get(m.id)
        if info is None:   # its event or unit went meanwhile
            continue
        try:
            start, end = TR.period(m.check_cycle, m.check_cycle_unit, now, tz, shift)
        except ValueError as exc:   # one odd measure must not stop every other task
            log.warning("control measure skipped", extra={"measure": m.id, "error": str(exc)})
            continue
        if (m.id, start) not in current:
            rows.append({"measure_id": m.id, "period_start": start, "period_end": end, "department": info["department"],
                         "assignee": info["assignee"], "status": "open", "note": ""})
        if last_ends.get(m.id) is not None and last_ends[m.id] < start:
            backfill.append((m, info, start, last_ends[m.id]))
    remind = [t for t in ControlTask.select().where((ControlTask.status == "open") & ControlTask.reminded_at.is_null())
              if t.period_end > now and TR.due_soon(t.period_start, t.period_end, now)]
    if not (ended or rows or backfill or remind):
        return {"opened": 0, "reminded": 0, "missed": 0}
    with db.write_gate.bulk(), events.recording("system") as rec:
        for t in ended:
            n = ControlTask.update(status="missed", result=2).where(
                (ControlTask.id == t.id) & (ControlTask.status == "open")).execute()
            if n:
                rec.emit("control_task.missed", entity=("control_task", t.id),
                         payload={"id": t.id, "measure_id": t.measure_id,
                                  "measure": infos.get(t.measure_id, {}).get("measure", "")[:80],
                                  "assignee": t.assignee, "period_end": t.period_end, "result": 2})
                missed += 1
        for m, info, start, last_end in backfill:
            missed += _backfill(m, info, start, now, tz, rec, shift, last_end)
        for i in range(0, len(rows), _IDS_PER_QUERY):
            ControlTask.insert_many(rows[i:i + _IDS_PER_QUERY]).on_conflict_ignore().execute()
            made += database.execute_sql("SELECT changes()").fetchone()[0]
        if made:
            rec.emit("control_tasks.opened", payload={"count": made})
        for t in remind:
            n = ControlTask.update(reminded_at=now).where(
                (ControlTask.id == t.id) & (ControlTask.status == "open") & ControlTask.reminded_at.is_null()).execute()
            if n:
                rec.emit("control_task.due_soon", entity=("control_task", t.id),
                         payload={"id": t.id, "measure": infos.get(t.measure_id, {}).get("measure", "")[:80],
                                  "assignee": t.assignee, "period_end": t.period_end})
                reminded += 1
    return {"opened": made, "reminded": reminded, "missed": missed}


BACKFILL_MS = 24 * 3600 * 1000   # periods slept through (the appliance was off) are recorded this far back


def _backfill(m: RiskMeasure, info: dict, current_start: int, now: int, tz: str, rec, shift, last_end: int) -> int:
    """Periods of measure `m` that ended while nobody opened a task (the appliance was off): recorded as
    missed (未排查), back to BACKFILL_MS and never before the measure existed or its last task (`last_end`;
    a measure's first task has nothing due before it, so the caller skips it)."""
    floor = max(now - BACKFILL_MS, m.created_at, last_end)
    made = 0
    start = current_start
    while True:
        assert m.check_cycle is not None   # only measures with a cycle are backfilled
        start, end = TR.period(m.check_cycle, m.check_cycle_unit, start - 1, tz, shift)
        if start < floor or end <= last_end:
            return made
        t = ControlTask.create(measure_id=m.id, period_start=start, period_end=end, department=info["department"],
                               assignee=info["assignee"], status="missed", result=2, note="appliance was off")
        rec.emit("control_task.missed", entity=("control_task", t.id),
                 payload={"id": t.id, "measure_id": m.id, "measure": info["measure"][:80], "assignee": t.assignee,
                          "period_end": end, "result": 2})
        made += 1


def current_task(measure_id: int, at: int) -> ControlTask | None:
    """The task of the period holding `at` for a check made then: opened now if the scheduler has not yet
    (a check in the period's first minute), and a task already closed as missed is still credited (a
    check relayed late by a satellite station). None for a measure without a cycle, or one done already."""
    m = RiskMeasure.get_or_none(RiskMeasure.id == measure_id)
    if m is None or m.check_cycle is None:
        return None
    try:
        start, end = TR.period(m.check_cycle, m.check_cycle_unit, at, site_timezone(), settings.current().shift_time)
    except ValueError:
        return None
    t = ControlTask.get_or_none((ControlTask.measure_id == measure_id) & (ControlTask.period_start == start))
    if t is None:
        info = _measure_info(measure_id)
        t = ControlTask.create(measure_id=measure_id, period_start=start, period_end=end, department=info["department"],
                               assignee=info["assignee"], status="open", note="")
    return t if t.status in ("open", "missed") else None


def complete(task: ControlTask, result: int, note: str, *, actor: str, check_record_id: int | None = None,
             hazard_id: int | None = None) -> None:
    """Mark `task` done (inside the caller's recording)."""
    with events.recording(actor) as rec:
        t = events.now_ms()
        ControlTask.update(status="done", result=result, note=note, checked_by=actor, checked_at=t,
                           check_record_id=check_record_id, hazard_id=hazard_id).where(ControlTask.id == task.id).execute()
        rec.emit("control_task.checked", entity=("control_task", task.id),
                 payload={"id": task.id, "measure_id": task.measure_id, "result": result, "measure": _measure_info(task.measure_id)["measure"][:80],
                          "hazard_id": hazard_id, "check_record_id": check_record_id})


def check(task_id: int, data: CheckIn, principal) -> ControlTask:
    """A check recorded on a tablet; 存在隐患 opens a hazard report in the measure's area."""
    from appliance.hazards import service as hazards

    with events.recording(principal.actor):
        task = ControlTask.get_or_none(ControlTask.id == task_id)
        if task is None:
            raise NotFound(f"排查任务 {task_id} 不存在", f"control task {task_id} does not exist")
        if task.status != "open":
            raise Conflict("此排查任务已关闭（已排查或已过期）", "this control task is closed (checked or its period is over)")
        hazard_id = None
        if data.result == 1:
            info = _measure_info(task.measure_id)
            if info["area_id"] is None:
                raise ValidationFailed("该管控措施所属单元未指定区域，请在隐患页面上报并选择区域",
                                       "the measure's risk unit has no area; report the hazard on the hazards page")
            h = hazards.report(hazards.ReportIn(area_id=info["area_id"], category="安全",
                                                description=f"排查发现：{info['measure']} — {data.note}"[:2000]),
                               actor=principal.actor)
            hazard_id = h.id
        complete(task, data.result, data.note, actor=principal.actor, hazard_id=hazard_id)
    return ControlTask.get_by_id(task_id)


def rates(since: int, until: int) -> dict:
    """For the cockpit: tasks due in [since, until) and how many were checked (排查率)."""
    q = ControlTask.select().where((ControlTask.period_end > since) & (ControlTask.period_end <= until))
    total = q.count()
    done = q.where(ControlTask.status == "done").count()
    return {"due": total, "checked": done, "missed": q.where(ControlTask.status == "missed").count(),
            "rate": round(done / total, 3) if total else None}
