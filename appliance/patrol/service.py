"""NFC patrol (巡检): checkpoints, routes, plans and their rounds, every badge tap, the checklist answered at
a checkpoint (a check record, 排查记录) and "last seen" per person.

Every change is an event (`events.recording`). The rules — when rounds are due, how a round is judged,
what looks faked, whether a station's post is authentic — are pure functions in `patrol_rules`.

A tap is resolved like this:
- the UID is a checkpoint's tag → the reader is carried: the inspector is whoever last tapped their badge
  on that reader (within `CARRIED_LOGIN_MS`);
- else it is a badge: unknown or deactivated → refused, shown on the checkpoint screen;
- a badge at a reader fixed at a checkpoint is a visit; at any other reader it logs the holder in to
  that (carried) reader;
- a visit counts for the earliest open round of a plan that allows the person and whose route has the
  checkpoint and still lacks it; with no such round it is recorded as outside any round.
"""
from __future__ import annotations

import json
import logging
import secrets
from datetime import datetime, timedelta
from typing import Literal
from zoneinfo import ZoneInfo

import peewee
from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from appliance.core import events
from appliance.patrol import rules as PR
from appliance.core.db import BaseModel as Model
from appliance.core.errors import Conflict, Forbidden, NotFound, ValidationFailed
from appliance.hazards.service import CATEGORIES
from appliance.core.people import Area, Badge, Input, Person, Update, normalize_uid, site_timezone

log = logging.getLogger(__name__)

CARRIED_LOGIN_MS = 15 * PR.MINUTE_MS   # a badge on a carried reader logs its holder in for this long
REPEAT_MS = 5 * PR.MINUTE_MS           # the same person at the same checkpoint again this soon: one visit
ANSWER_WINDOW_MS = 30 * PR.MINUTE_MS   # the checklist must be answered this soon after the tap
HORIZON_MS = 24 * 3600 * 1000          # rounds are scheduled this far ahead
BACKFILL_MS = 24 * 3600 * 1000         # rounds missed while the appliance was off are made this far back


class Checkpoint(Model):
    code = peewee.TextField()
    name = peewee.TextField()
    name_en = peewee.TextField()
    area_id = peewee.IntegerField()
    reader = peewee.TextField(null=True)
    tag_uid = peewee.TextField(null=True)
    checklist = peewee.TextField()
    active = peewee.BooleanField()
    created_at = peewee.IntegerField()
    updated_at = peewee.IntegerField()

    class Meta:
        table_name = "checkpoints"


class Route(Model):
    code = peewee.TextField()
    name = peewee.TextField()
    name_en = peewee.TextField()
    active = peewee.BooleanField()
    created_at = peewee.IntegerField()
    updated_at = peewee.IntegerField()

    class Meta:
        table_name = "routes"


class RouteStop(Model):
    route_id = peewee.IntegerField()
    position = peewee.IntegerField()
    checkpoint_id = peewee.IntegerField()
    min_walk_s = peewee.IntegerField()

    class Meta:
        table_name = "route_stops"
        primary_key = peewee.CompositeKey("route_id", "position")


class Plan(Model):
    name = peewee.TextField()
    route_id = peewee.IntegerField()
    shift = peewee.TextField()
    schedule = peewee.TextField()
    grace_min = peewee.IntegerField()
    people = peewee.TextField()
    departments = peewee.TextField()
    streak_limit = peewee.IntegerField()
    active = peewee.BooleanField()
    created_at = peewee.IntegerField()
    updated_at = peewee.IntegerField()

    class Meta:
        table_name = "patrol_plans"


class Round(Model):
    plan_id = peewee.IntegerField()
    route_id = peewee.IntegerField()
    due_start = peewee.IntegerField()
    due_end = peewee.IntegerField()
    grace_ms = peewee.IntegerField()
    status = peewee.TextField()
    verdict = peewee.TextField()
    suspicious = peewee.BooleanField()
    person_id = peewee.IntegerField(null=True)
    reviewed_by = peewee.TextField(null=True)
    review_note = peewee.TextField(null=True)
    reviewed_at = peewee.IntegerField(null=True)
    closed = peewee.BooleanField()
    updated_at = peewee.IntegerField()

    class Meta:
        table_name = "patrol_rounds"


class PatrolTap(Model):
    reader = peewee.TextField()
    uid = peewee.TextField()
    at = peewee.IntegerField()
    recorded_at = peewee.IntegerField()
    outcome = peewee.TextField()
    person_id = peewee.IntegerField(null=True)
    checkpoint_id = peewee.IntegerField(null=True)
    round_id = peewee.IntegerField(null=True)
    station = peewee.TextField(null=True)
    station_tap = peewee.TextField(null=True)
    answered = peewee.BooleanField()
    checklist = peewee.TextField(null=True)

    class Meta:
        table_name = "patrol_taps"


class CheckRecord(Model):
    measure_id = peewee.IntegerField(null=True)
    tap_id = peewee.IntegerField(null=True)
    round_id = peewee.IntegerField(null=True)
    checkpoint_id = peewee.IntegerField()
    person_id = peewee.IntegerField(null=True)
    status = peewee.IntegerField()
    answers = peewee.TextField()
    note = peewee.TextField()
    hazard_ids = peewee.TextField()
    checked_at = peewee.IntegerField()

    class Meta:
        table_name = "check_records"


class LastSeen(Model):
    person_id = peewee.IntegerField(primary_key=True)
    area_id = peewee.IntegerField(null=True)
    checkpoint_id = peewee.IntegerField(null=True)
    reader = peewee.TextField()
    at = peewee.IntegerField()

    class Meta:
        table_name = "last_seen"


# ---------------------------------------------------------------- inputs

_CODE = r"^[A-Za-z0-9_.-]{1,40}$"
_HM = r"^(?:[01]\d|2[0-3]):[0-5]\d$|^24:00$"


class CheckItem(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)
    id: str = Field(pattern=r"^[A-Za-z0-9_-]{1,20}$")
    text: str = Field(min_length=1, max_length=200)
    text_en: str = Field("", max_length=200)
    category: Literal[CATEGORIES] = "安全"  # type: ignore[valid-type]  # of the hazard an 异常 opens
    # a control measure (管控措施) this item checks: its answer is also that measure's check record
    measure_id: int | None = Field(None, gt=0, le=2**31)


def _unique_items(v: list[CheckItem]) -> list[CheckItem]:
    ids = [i.id for i in v]
    if len(set(ids)) != len(ids):
        raise ValueError("checklist item ids must be unique")
    return v


def _uid_or_none(v: str | None) -> str | None:
    return None if v is None else normalize_uid(v)


class CheckpointIn(Input):
    code: str = Field(pattern=_CODE)
    name: str = Field(min_length=1, max_length=100)
    name_en: str = Field("", max_length=100)
    area_id: int = Field(gt=0, le=2**31)
    reader: str | None = Field(None, pattern=_CODE)
    tag_uid: str | None = None
    checklist: list[CheckItem] = Field(default_factory=list, max_length=30)
    _items = field_validator("checklist")(_unique_items)
    _tag = field_validator("tag_uid")(_uid_or_none)

    @model_validator(mode="after")
    def _placed(self):
        if self.reader is None and self.tag_uid is None:
            raise ValueError("reader/tag_uid: a checkpoint needs a fixed reader, a tag, or both")
        return self


class CheckpointUpdate(Update):
    name: str | None = Field(None, min_length=1, max_length=100)
    name_en: str | None = Field(None, max_length=100)
    area_id: int | None = Field(None, gt=0, le=2**31)
    checklist: list[CheckItem] | None = Field(None, max_length=30)
    active: bool | None = None
    _items = field_validator("checklist")(_unique_items)


class StopIn(Input):
    checkpoint_id: int = Field(gt=0, le=2**31)
    min_walk_s: int = Field(0, ge=0, le=4 * 3600)


def _distinct_stops(v):
    if v is not None:
        ids = [s.checkpoint_id for s in v]
        if len(set(ids)) != len(ids):
            raise ValueError("a checkpoint appears twice on the route")
    return v


class RouteIn(Input):
    code: str = Field(pattern=_CODE)
    name: str = Field(min_length=1, max_length=100)
    name_en: str = Field("", max_length=100)
    stops: list[StopIn] = Field(min_length=1, max_length=60)

    _distinct = field_validator("stops")(_distinct_stops)


class RouteUpdate(Update):
    name: str | None = Field(None, min_length=1, max_length=100)
    name_en: str | None = Field(None, max_length=100)
    stops: list[StopIn] | None = Field(None, min_length=1, max_length=60)
    active: bool | None = None
    _distinct = field_validator("stops")(_distinct_stops)


class ScheduleIn(Input):
    window_min: int = Field(ge=1, le=24 * 60)
    times: list[str] = Field(default_factory=list, max_length=48)
    every_min: int | None = Field(None, ge=5, le=24 * 60)
    from_time: str = Field("00:00", pattern=_HM)
    to_time: str = Field("24:00", pattern=_HM)
    weekdays: list[int] = Field(default_factory=lambda: [1, 2, 3, 4, 5, 6, 7], min_length=1, max_length=7)

    @field_validator("times")
    @classmethod
    def _times(cls, v):
        import re

        for t in v:
            if not re.fullmatch(_HM, t) or t == "24:00":
                raise ValueError(f"time {t!r} is not HH:MM")
        return sorted(set(v))

    @field_validator("weekdays")
    @classmethod
    def _days(cls, v):
        if any(d < 1 or d > 7 for d in v):
            raise ValueError("weekdays are 1 (Monday) to 7 (Sunday)")
        return sorted(set(v))

    @model_validator(mode="after")
    def _one_kind(self):
        if bool(self.times) == bool(self.every_min):
            raise ValueError("give either times or every_min")
        if self.every_min and self.from_time >= self.to_time:
            raise ValueError("from_time must be before to_time")
        if self.every_min and self.window_min > self.every_min:
            raise ValueError("window_min: a round may not last longer than the interval between rounds")
        if len(self.times) > 1:
            mins = [int(t[:2]) * 60 + int(t[3:]) for t in self.times]
            gaps = [b - a for a, b in zip(mins, mins[1:])] + [mins[0] + 1440 - mins[-1]]
            if self.window_min > min(gaps):
                raise ValueError("window_min: rounds would overlap (it is longer than the gap between two times)")
        return self

    def rule(self) -> PR.Schedule:
        return PR.Schedule(window_min=self.window_min, times=tuple(self.times), every_min=self.every_min,
                           from_time=self.from_time, to_time=self.to_time, weekdays=tuple(self.weekdays))


class PlanIn(Input):
    name: str = Field(min_length=1, max_length=100)
    route_id: int = Field(gt=0, le=2**31)
    shift: str = Field("", max_length=40)
    schedule: ScheduleIn
    grace_min: int = Field(15, ge=0, le=24 * 60)
    people: list[str] = Field(default_factory=list, max_length=500)
    departments: list[str] = Field(default_factory=list, max_length=100)
    streak_limit: int = Field(PR.DEFAULT_STREAK, ge=0, le=1000)


class PlanUpdate(Update):
    name: str | None = Field(None, min_length=1, max_length=100)
    shift: str | None = Field(None, max_length=40)
    schedule: ScheduleIn | None = None
    grace_min: int | None = Field(None, ge=0, le=24 * 60)
    people: list[str] | None = Field(None, max_length=500)
    departments: list[str] | None = Field(None, max_length=100)
    streak_limit: int | None = Field(None, ge=0, le=1000)
    active: bool | None = None


class AnswerIn(Input):
    answers: dict[str, Literal["normal", "abnormal"]]
    note: str = Field("", max_length=1000)


class ReviewIn(Input):
    verdict: Literal["genuine", "faked"]
    note: str = Field("", max_length=1000)


# ---------------------------------------------------------------- views

def checkpoint_dict(c: Checkpoint) -> dict:
    return {"id": c.id, "code": c.code, "name": c.name, "name_en": c.name_en, "area_id": c.area_id,
            "reader": c.reader, "tag_uid": c.tag_uid, "checklist": json.loads(c.checklist), "active": bool(c.active)}


def stops_of(route_id: int) -> list[RouteStop]:
    return list(RouteStop.select().where(RouteStop.route_id == route_id).order_by(RouteStop.position))


def route_dict(r: Route) -> dict:
    return {"id": r.id, "code": r.code, "name": r.name, "name_en": r.name_en, "active": bool(r.active),
            "stops": [{"checkpoint_id": s.checkpoint_id, "min_walk_s": s.min_walk_s} for s in stops_of(r.id)]}


def plan_dict(p: Plan) -> dict:
    return {"id": p.id, "name": p.name, "route_id": p.route_id, "shift": p.shift, "schedule": json.loads(p.schedule),
            "grace_min": p.grace_min, "people": json.loads(p.people), "departments": json.loads(p.departments),
            "streak_limit": p.streak_limit, "active": bool(p.active)}


def _visits(round_id: int) -> list[PatrolTap]:
    return list(PatrolTap.select().where((PatrolTap.round_id == round_id) & (PatrolTap.outcome == "ok"))
                .order_by(PatrolTap.at))


def _verdict(r: Round, now: int, stops: list[RouteStop] | None = None) -> PR.Verdict:
    stops = stops_of(r.route_id) if stops is None else stops
    # a round not yet due has no visits (a tap counts only from the window's start): no query for them
    visits = [] if now < r.due_start else [PR.Visit(t.checkpoint_id, t.at) for t in _visits(r.id)]
    return PR.evaluate([PR.Stop(s.checkpoint_id, s.min_walk_s) for s in stops], visits, r.due_start, r.due_end,
                       now, r.grace_ms)


class _Lookup:
    """Routes, their stops and people's names, read once for a list of rounds (a day holds up to a
    hundred and more; the board asks on every patrol event)."""

    def __init__(self):
        self.routes: dict[int, Route | None] = {}
        self.stops: dict[int, list[RouteStop]] = {}
        self.names: dict[int, str | None] = {}

    def route(self, rid: int) -> Route | None:
        if rid not in self.routes:
            self.routes[rid] = Route.get_or_none(Route.id == rid)
        return self.routes[rid]

    def stops_of(self, rid: int) -> list[RouteStop]:
        if rid not in self.stops:
            self.stops[rid] = stops_of(rid)
        return self.stops[rid]

    def name(self, pid: int | None) -> str | None:
        if pid not in self.names:
            self.names[pid] = _person_name(pid)
        return self.names[pid]


def round_dict(r: Round, now: int | None = None, detail: bool = False, look: _Lookup | None = None) -> dict:
    """A round as stored once closed; while open, judged live at `now`."""
    now = events.now_ms() if now is None else now
    look = look or _Lookup()
    verdict = json.loads(r.verdict) if r.closed else _verdict(r, now, look.stops_of(r.route_id)).as_dict()
    route = look.route(r.route_id)
    total = len(look.stops_of(r.route_id))
    out = {"id": r.id, "plan_id": r.plan_id, "route_id": r.route_id, "route": route.name if route else "",
           "route_en": route.name_en if route else "", "due_start": r.due_start, "due_end": r.due_end,
           "grace_ms": r.grace_ms, "status": verdict["status"], "bucket": PR.BUCKET[verdict["status"]],
           "visited": len(verdict["visited"]), "total": total, "missed": verdict["missed"], "flags": verdict["flags"],
           "suspicious": bool(r.suspicious) or bool(verdict["flags"]), "person_id": r.person_id,
           "person": look.name(r.person_id), "closed": bool(r.closed), "reviewed_by": r.reviewed_by,
           "review_note": r.review_note}
    if detail:
        out["verdict"] = verdict
        cps = {c.id: c for c in Checkpoint.select()}
        out["stops"] = [{"checkpoint_id": s.checkpoint_id, "checkpoint": cps[s.checkpoint_id].name,
                         "checkpoint_en": cps[s.checkpoint_id].name_en, "min_walk_s": s.min_walk_s}
                        for s in stops_of(r.route_id)]
        out["taps"] = [tap_dict(t) for t in PatrolTap.select().where(PatrolTap.round_id == r.id).order_by(PatrolTap.at)]
        out["checks"] = [check_dict(c) for c in CheckRecord.select().where(CheckRecord.round_id == r.id)
                         .order_by(CheckRecord.id)]
    return out


def _person_name(person_id: int | None) -> str | None:
    if person_id is None:
        return None
    p = Person.get_or_none(Person.id == person_id)
    return p.name if p else None


def tap_dict(t: PatrolTap) -> dict:
    return {"id": t.id, "reader": t.reader, "uid": t.uid, "at": t.at, "outcome": t.outcome, "person_id": t.person_id,
            "person": _person_name(t.person_id), "checkpoint_id": t.checkpoint_id, "round_id": t.round_id,
            "station": t.station, "answered": bool(t.answered)}


def check_dict(c: CheckRecord) -> dict:
    return {"id": c.id, "tap_id": c.tap_id, "round_id": c.round_id, "checkpoint_id": c.checkpoint_id,
            "person_id": c.person_id, "status": c.status, "answers": json.loads(c.answers), "note": c.note,
            "hazard_ids": json.loads(c.hazard_ids), "checked_at": c.checked_at, "measure_id": c.measure_id}


# ---------------------------------------------------------------- master data

def _get(model, id_: int, zh: str, en: str):
    obj = model.get_or_none(model.id == id_)
    if obj is None:
        raise NotFound(f"{zh} {id_} 不存在", f"{en} {id_} does not exist")
    return obj


def _area(area_id: int) -> Area:
    a = Area.get_or_none((Area.id == area_id) & Area.active)
    if a is None:
        raise ValidationFailed(f"area_id：区域 {area_id} 不存在", f"area_id: area {area_id} does not exist",
                               details=[{"key": "area_id"}])
    return a


def _check_measures(items: list[CheckItem] | list[dict]) -> None:
    from appliance.risk.register import RiskMeasure

    for i, item in enumerate(items):
        mid = item.measure_id if isinstance(item, CheckItem) else item.get("measure_id")
        if mid is not None and RiskMeasure.get_or_none(RiskMeasure.id == mid) is None:
            raise ValidationFailed(f"checklist.{i}.measure_id：管控措施 {mid} 不存在",
                                   f"checklist.{i}.measure_id: control measure {mid} does not exist",
                                   details=[{"key": f"checklist.{i}.measure_id"}])


def create_checkpoint(data: CheckpointIn, *, actor: str) -> Checkpoint:
    with events.recording(actor) as rec:
        _area(data.area_id)
        _check_measures(data.checklist)
        if Checkpoint.get_or_none(Checkpoint.code == data.code):
            raise Conflict(f"点位编码已存在：{data.code}", f"checkpoint code already exists: {data.code}")
        if data.reader and Checkpoint.get_or_none(Checkpoint.reader == data.reader):
            raise Conflict(f"读卡器 {data.reader} 已用于其他点位", f"reader {data.reader} is already at another checkpoint")
        if data.tag_uid and (Checkpoint.get_or_none(Checkpoint.tag_uid == data.tag_uid)
                             or Badge.get_or_none(Badge.uid == data.tag_uid)):
            raise Conflict(f"标签 {data.tag_uid} 已被使用", f"tag {data.tag_uid} is already in use")
        t = events.now_ms()
        c = Checkpoint.create(code=data.code, name=data.name, name_en=data.name_en, area_id=data.area_id,
                              reader=data.reader, tag_uid=data.tag_uid,
                              checklist=json.dumps([i.model_dump() for i in data.checklist], ensure_ascii=False),
                              active=True, created_at=t, updated_at=t)
        rec.emit("checkpoint.created", entity=("checkpoint", c.id), payload=checkpoint_dict(c))
    return c


def update_checkpoint(cp_id: int, data: CheckpointUpdate, *, actor: str) -> Checkpoint:
    with events.recording(actor) as rec:
        c = _get(Checkpoint, cp_id, "点位", "checkpoint")
        changes = data.given()
        if "area_id" in changes:
            _area(changes["area_id"])
        if "checklist" in changes:
            _check_measures(data.checklist)
            # every key of each item, defaults included (given() leaves out what the client left out)
            changes["checklist"] = json.dumps([i.model_dump() for i in data.checklist], ensure_ascii=False)
        if changes:
            Checkpoint.update(**changes, updated_at=events.now_ms()).where(Checkpoint.id == c.id).execute()
            payload = {"code": c.code, **data.given()}
            rec.emit("checkpoint.updated", entity=("checkpoint", c.id), payload=payload)
    return Checkpoint.get_by_id(cp_id)


def _write_stops(route_id: int, stops: list[StopIn]) -> None:
    known = {c.id for c in Checkpoint.select(Checkpoint.id).where(Checkpoint.id.in_([s.checkpoint_id for s in stops]))}
    for i, s in enumerate(stops):
        if s.checkpoint_id not in known:
            raise ValidationFailed(f"stops.{i}.checkpoint_id：点位 {s.checkpoint_id} 不存在",
                                   f"stops.{i}.checkpoint_id: checkpoint {s.checkpoint_id} does not exist",
                                   details=[{"key": f"stops.{i}.checkpoint_id"}])
    RouteStop.delete().where(RouteStop.route_id == route_id).execute()
    RouteStop.insert_many([{"route_id": route_id, "position": i, "checkpoint_id": s.checkpoint_id,
                            "min_walk_s": 0 if i == 0 else s.min_walk_s} for i, s in enumerate(stops)]).execute()


def create_route(data: RouteIn, *, actor: str) -> Route:
    with events.recording(actor) as rec:
        if Route.get_or_none(Route.code == data.code):
            raise Conflict(f"路线编码已存在：{data.code}", f"route code already exists: {data.code}")
        t = events.now_ms()
        r = Route.create(code=data.code, name=data.name, name_en=data.name_en, active=True, created_at=t, updated_at=t)
        _write_stops(r.id, data.stops)
        rec.emit("route.created", entity=("route", r.id), payload=route_dict(r))
    return r


def update_route(route_id: int, data: RouteUpdate, *, actor: str) -> Route:
    """A changed route applies to rounds not yet started; rounds already walked keep being judged
    against the stops they were walked on only as far as their taps go."""
    with events.recording(actor) as rec:
        r = _get(Route, route_id, "路线", "route")
        changes = data.given()
        stops = changes.pop("stops", None)
        if stops is not None:
            _write_stops(r.id, data.stops)
        if changes:
            Route.update(**changes, updated_at=events.now_ms()).where(Route.id == r.id).execute()
        if changes or stops is not None:
            rec.emit("route.updated", entity=("route", r.id), payload=route_dict(Route.get_by_id(r.id)))
    return Route.get_by_id(route_id)


def create_plan(data: PlanIn, *, actor: str) -> Plan:
    with events.recording(actor) as rec:
        _get(Route, data.route_id, "路线", "route")
        t = events.now_ms()
        p = Plan.create(name=data.name, route_id=data.route_id, shift=data.shift,
                        schedule=json.dumps(data.schedule.model_dump()), grace_min=data.grace_min,
                        people=json.dumps(data.people, ensure_ascii=False),
                        departments=json.dumps(data.departments, ensure_ascii=False),
                        streak_limit=data.streak_limit, active=True, created_at=t, updated_at=t)
        rec.emit("plan.created", entity=("plan", p.id), payload=plan_dict(p))
    return p


def update_plan(plan_id: int, data: PlanUpdate, *, actor: str) -> Plan:
    """Changes apply to rounds scheduled from now on; a deactivated plan's future, untouched rounds go."""
    with events.recording(actor) as rec:
        p = _get(Plan, plan_id, "计划", "plan")
        changes = data.given()
        for k in ("schedule", "people", "departments"):
            if k in changes:
                changes[k] = json.dumps(changes[k], ensure_ascii=False)
        if changes:
            Plan.update(**changes, updated_at=events.now_ms()).where(Plan.id == p.id).execute()
            dropped = 0
            if "schedule" in changes or changes.get("active") is False:
                untouched = Round.select(Round.id).where(
                    (Round.plan_id == p.id) & (Round.due_start > events.now_ms()) & ~Round.closed
                    & ~fn_exists_taps())
                dropped = Round.delete().where(Round.id.in_(untouched)).execute()
            rec.emit("plan.updated", entity=("plan", p.id), payload={**plan_dict(Plan.get_by_id(p.id)),
                                                                     "future_rounds_dropped": dropped})
    return Plan.get_by_id(plan_id)


def fn_exists_taps():
    return peewee.fn.EXISTS(PatrolTap.select(PatrolTap.id).where(PatrolTap.round_id == Round.id))


# ---------------------------------------------------------------- rounds

_site_tz = site_timezone


def schedule_rounds(now: int | None = None, horizon_ms: int = HORIZON_MS) -> int:
    """Create the rounds of every active plan due from now until `horizon_ms` ahead (idempotent)."""
    now = events.now_ms() if now is None else now
    tz = _site_tz()
    made = 0
    with events.recording("system") as rec:
        for p in Plan.select().where(Plan.active):
            sched = ScheduleIn.model_validate(json.loads(p.schedule)).rule()
            latest = Round.select(peewee.fn.MAX(Round.due_start)).where(Round.plan_id == p.id).scalar()
            if latest is None:   # a new plan starts with the round open now
                start_from = now - sched.window_min * PR.MINUTE_MS
            else:
                # after the appliance was off, the rounds it slept through are made too (and judged missed
                # unless a station relays their taps), back to BACKFILL_MS and never before the plan's last change
                start_from = max(latest + 1, now - BACKFILL_MS, p.updated_at)
            wins = PR.windows(sched, start_from, now + horizon_ms, tz)
            if not wins:
                continue
            rows = [{"plan_id": p.id, "route_id": p.route_id, "due_start": s, "due_end": e,
                     "grace_ms": p.grace_min * PR.MINUTE_MS, "status": PR.SCHEDULED, "verdict": "{}",
                     "suspicious": False, "closed": False, "updated_at": now} for s, e in wins]
            Round.insert_many(rows).on_conflict_ignore().execute()
            made += len(rows)
            rec.emit("patrol.rounds_scheduled", entity=("plan", p.id),
                     payload={"plan_id": p.id, "plan": p.name, "count": len(rows), "first": wins[0][0],
                              "last": wins[-1][0]})
    return made


def _all_normal(round_id: int) -> bool:
    statuses = [c.status for c in CheckRecord.select(CheckRecord.status).where(CheckRecord.round_id == round_id)]
    return bool(statuses) and all(s == PR.CHECK_NORMAL for s in statuses)


def _judge(r: Round, now: int, rec, *, event: str) -> PR.Verdict:
    """Final verdict of a round over (inside the caller's recording): status, 未排查 records for what was
    not visited and for visited checkpoints whose checklist was never answered, the suspicion flags."""
    v = _verdict(r, max(now, r.due_end + r.grace_ms + 1))
    flags = list(v.flags)
    CheckRecord.delete().where((CheckRecord.round_id == r.id) & (CheckRecord.status == PR.CHECK_NOT_DONE)
                               & CheckRecord.tap_id.is_null()).execute()   # a re-judged round starts afresh
    for cp in v.missed:
        CheckRecord.create(round_id=r.id, checkpoint_id=cp, person_id=r.person_id, status=PR.CHECK_NOT_DONE,
                           answers="{}", note="", hazard_ids="[]", checked_at=now)
    unanswered = []
    for t in _visits(r.id):
        answered = PatrolTap.select().where((PatrolTap.round_id == r.id) & (PatrolTap.checkpoint_id == t.checkpoint_id)
                                            & PatrolTap.answered).exists()
        if not answered and json.loads(t.checklist or "[]") and t.checkpoint_id not in unanswered:
            unanswered.append(t.checkpoint_id)
            CheckRecord.create(round_id=r.id, checkpoint_id=t.checkpoint_id, person_id=t.person_id,
                               status=PR.CHECK_NOT_DONE, answers="{}", note="visited, checklist not answered",
                               hazard_ids="[]", checked_at=now)
    if unanswered:
        flags.append("unanswered")
    plan = Plan.get_or_none(Plan.id == r.plan_id)
    if v.status in (PR.COMPLETED, PR.LATE) and plan is not None:
        history = [_all_normal(x.id) for x in Round.select(Round.id).where(
            (Round.route_id == r.route_id) & Round.closed & Round.status.in_([PR.COMPLETED, PR.LATE])
            & (Round.id != r.id) & (Round.due_start < r.due_start)).order_by(Round.due_start.desc())
            .limit(max(plan.streak_limit, 1))][::-1]
        history.append(_all_normal(r.id))
        if PR.streak_suspicious(history, plan.streak_limit):
            flags.append("all_normal_streak")
    verdict = {**v.as_dict(), "flags": flags}
    Round.update(status=v.status, verdict=json.dumps(verdict), suspicious=bool(flags), closed=True,
                 updated_at=now).where(Round.id == r.id).execute()
    route = Route.get_or_none(Route.id == r.route_id)
    rec.emit(event, entity=("round", r.id),
             payload={"id": r.id, "route": route.name if route else "", "route_en": route.name_en if route else "",
                      "status": v.status, "bucket": PR.BUCKET[v.status], "missed": list(v.missed),
                      "flags": flags, "suspicious": bool(flags), "due_start": r.due_start})
    return v


def close_rounds(now: int | None = None) -> int:
    """Judge every round whose window and grace are over: final status, 未排查 records for checkpoints
    not visited (or visited without answering), and the suspicion flags (too fast, out of order,
    unanswered, a long all-正常 streak)."""
    now = events.now_ms() if now is None else now
    closed = 0
    due = list(Round.select().where(~Round.closed & (Round.due_end + Round.grace_ms < now)).order_by(Round.due_end))
    for r in due:
        with events.recording("system") as rec:
            r = Round.get_by_id(r.id)
            if r.closed:
                continue
            _judge(r, now, rec, event="patrol.round_closed")
            closed += 1
    return closed


def tick(now: int | None = None) -> None:
    """The scheduler's patrol job: schedule ahead, close what is over."""
    schedule_rounds(now)
    close_rounds(now)


def review(round_id: int, data: ReviewIn, principal) -> Round:
    with events.recording(principal.actor) as rec:
        r = _get(Round, round_id, "巡检轮次", "round")
        if not r.closed:
            raise Conflict("巡检尚未结束，结束后再复核", "the round is not over yet; review it once it is closed")
        if not r.suspicious:
            raise Conflict("此轮巡检未被标记为可疑", "this round is not flagged as suspicious")
        if r.reviewed_by:
            raise Conflict(f"此轮巡检已由 {r.reviewed_by} 复核", f"this round was already reviewed by {r.reviewed_by}")
        if r.person_id is not None and _person_of(principal) == r.person_id:
            raise Forbidden("不能复核自己的巡检", "you may not review a round you walked yourself")
        t = events.now_ms()
        Round.update(reviewed_by=principal.actor, review_note=f"{data.verdict}: {data.note}".strip(": "),
                     reviewed_at=t, updated_at=t).where(Round.id == r.id).execute()
        rec.emit("patrol.round_reviewed", entity=("round", r.id),
                 payload={"id": r.id, "verdict": data.verdict, "note": data.note})
    return Round.get_by_id(round_id)


def _person_of(principal) -> int | None:
    """The person behind a logged-in user (None for device tokens and users without a person)."""
    if principal.kind != "user":
        return None
    from appliance.core.auth import User

    u = User.get_or_none(User.id == principal.id)
    return u.person_id if u else None


# ---------------------------------------------------------------- taps

OUTCOME_STATUS = {"ok": "ok", "reader_login": "ok", "repeat": "ok", "outside_round": "warn", "unknown_badge": "refused",
                  "inactive_badge": "refused", "bad_uid": "refused", "no_inspector": "refused",
                  "foreign_reader": "refused", "stale_tap": "refused"}
MESSAGES = {
    "ok": ("{person} 已签到：{checkpoint}", "{person} checked in: {checkpoint}"),
    "reader_login": ("{person} 已登录巡检仪，请读取点位标签", "{person} logged in to this reader; now read the checkpoint tag"),
    "outside_round": ("{person} 已记录（{checkpoint}），但不在任何巡检计划时段内",
                      "{person} recorded at {checkpoint}, but outside any patrol round"),
    "unknown_badge": ("未登记的卡，拒绝", "Unknown card: refused"),
    "inactive_badge": ("此卡已停用，拒绝", "This card is deactivated: refused"),
    "bad_uid": ("读卡数据无效，请重刷", "Unreadable card data: tap again"),
    "no_inspector": ("请先刷工卡登录巡检仪", "Tap your badge on this reader first"),
    "repeat": ("{person} 已在此签到过（重复刷卡）", "{person} already checked in here (repeated tap)"),
    "foreign_reader": ("读卡站无权上报此读卡器的刷卡", "The station may not post taps for this reader"),
    "stale_tap": ("刷卡时间无效（读卡站时钟错误？）", "The tap's time is not plausible (station clock wrong?)"),
}

def _resolve(reader: str, uid: str, at: int) -> tuple[str, Person | None, Checkpoint | None]:
    try:
        uid = normalize_uid(uid)
    except ValueError:
        return "bad_uid", None, None
    tag_cp = Checkpoint.get_or_none((Checkpoint.tag_uid == uid) & Checkpoint.active)
    if tag_cp is not None:
        login = (PatrolTap.select().where((PatrolTap.reader == reader) & (PatrolTap.outcome == "reader_login")
                                          & (PatrolTap.at >= at - CARRIED_LOGIN_MS) & (PatrolTap.at <= at))
                 .order_by(PatrolTap.at.desc()).first())
        person = Person.get_or_none((Person.id == login.person_id) & Person.active) if login else None
        return ("ok", person, tag_cp) if person else ("no_inspector", None, tag_cp)
    badge = Badge.get_or_none(Badge.uid == uid)
    if badge is None:
        return "unknown_badge", None, None
    person = Person.get_by_id(badge.person_id)
    if not badge.active or not person.active:
        return "inactive_badge", person, None
    fixed = Checkpoint.get_or_none((Checkpoint.reader == reader) & Checkpoint.active)
    return ("ok", person, fixed) if fixed else ("reader_login", person, None)


def _allowed(plan: Plan, person: Person) -> bool:
    people, depts = json.loads(plan.people), json.loads(plan.departments)
    if people and person.employee_no not in people:
        return False
    return not depts or person.department in depts


def _round_for(person: Person, cp: Checkpoint, at: int) -> Round | None:
    # closed rounds too: a tap made in the window but relayed late (a station whose LAN was down) still counts
    candidates = (Round.select(Round).join(RouteStop, on=(RouteStop.route_id == Round.route_id))
                  .where((RouteStop.checkpoint_id == cp.id) & (Round.due_start <= at)
                         & (Round.due_end + Round.grace_ms >= at)
                         & (Round.person_id.is_null() | (Round.person_id == person.id)))
                  .order_by(Round.due_start))
    # a round whose window holds the tap comes before an earlier one that is only in its grace time
    for r in sorted(candidates, key=lambda r: (not r.due_start <= at <= r.due_end, r.due_start)):
        plan = Plan.get_or_none(Plan.id == r.plan_id)
        if plan is None or not _allowed(plan, person):
            continue
        done = PatrolTap.select().where((PatrolTap.round_id == r.id) & (PatrolTap.checkpoint_id == cp.id)
                                        & (PatrolTap.outcome == "ok")).exists()
        if not done:
            return r
    return None


def _repeat_of(person: Person, cp: Checkpoint, at: int) -> PatrolTap | None:
    """The visit this tap repeats: the same person at the same checkpoint within `REPEAT_MS`."""
    return (PatrolTap.select().where((PatrolTap.person_id == person.id) & (PatrolTap.checkpoint_id == cp.id)
                                     & PatrolTap.outcome.in_(("ok", "outside_round"))
                                     & (PatrolTap.at >= at - REPEAT_MS) & (PatrolTap.at <= at + REPEAT_MS))
            .order_by(PatrolTap.at.desc()).first())


def record_tap(reader: str, uid: str, at: int, *, station: str | None = None, station_tap: str | None = None,
               actor: str | None = None, refused: str | None = None) -> dict:
    """Record one badge or tag read; returns what the checkpoint screen shows (also the event payload).
    `refused` records a relayed tap that may not count (a foreign reader, an implausible time)."""
    actor = actor or (f"device:station:{station}" if station else f"device:reader:{reader}")
    raw_uid = uid.strip()[:40]
    # the write transaction (BEGIN IMMEDIATE) serialises taps: two at once cannot pick the same round stop
    with events.recording(actor) as rec:
        if station and station_tap:
            seen = PatrolTap.get_or_none((PatrolTap.station == station) & (PatrolTap.station_tap == station_tap))
            if seen is not None:  # the station re-sent a tap we already hold (its ack was lost)
                return {**tap_dict(seen), "status": OUTCOME_STATUS[seen.outcome], "duplicate": True}
        if refused:
            outcome, person, cp = refused, None, None
        else:
            outcome, person, cp = _resolve(reader, raw_uid, at)
        rnd = None
        if outcome == "ok" and cp is not None:
            if _repeat_of(person, cp, at) is not None:
                outcome = "repeat"
            else:
                rnd = _round_for(person, cp, at)
                if rnd is None:
                    outcome = "outside_round"
        t = events.now_ms()
        try:
            stored_uid = normalize_uid(raw_uid)
        except ValueError:
            stored_uid = raw_uid
        shown = cp.checklist if cp is not None and outcome in ("ok", "outside_round") else None
        tap = PatrolTap.create(reader=reader, uid=stored_uid, at=at, recorded_at=t, outcome=outcome,
                               person_id=person.id if person else None, checkpoint_id=cp.id if cp else None,
                               round_id=rnd.id if rnd else None, station=station, station_tap=station_tap,
                               answered=False, checklist=shown)
        area = Area.get_or_none(Area.id == cp.area_id) if cp else None
        if outcome in ("ok", "outside_round", "repeat"):
            # where the person was last seen only moves forward in time (a relayed tap may be older)
            LastSeen.insert(person_id=person.id, area_id=area.id if area else None, checkpoint_id=cp.id,
                            reader=reader, at=at).on_conflict(
                conflict_target=[LastSeen.person_id],
                update={LastSeen.area_id: peewee.EXCLUDED.area_id, LastSeen.checkpoint_id: peewee.EXCLUDED.checkpoint_id,
                        LastSeen.reader: peewee.EXCLUDED.reader, LastSeen.at: peewee.EXCLUDED.at},
                where=(peewee.EXCLUDED.at > LastSeen.at)).execute()
        round_status = None
        if rnd is not None:
            if rnd.person_id is None:
                Round.update(person_id=person.id).where(Round.id == rnd.id).execute()
            rnd = Round.get_by_id(rnd.id)
            if rnd.closed:   # judged already: judge it again with this visit
                round_status = _judge(rnd, t, rec, event="patrol.round_rejudged").status
            else:
                v = _verdict(rnd, t)
                round_status = v.status
                Round.update(status=v.status, verdict=json.dumps(v.as_dict()), updated_at=t).where(Round.id == rnd.id).execute()
        zh, en = MESSAGES[outcome]
        names = {"checkpoint": cp.name if cp else "", "person": person.name if person else ""}
        names_en = {"checkpoint": (cp.name_en or cp.name) if cp else "", "person": person.name if person else ""}
        route = Route.get_or_none(Route.id == rnd.route_id) if rnd else None
        payload = {"tap_id": tap.id, "reader": reader, "status": OUTCOME_STATUS[outcome], "outcome": outcome,
                   "uid_tail": stored_uid[-4:], "person_id": person.id if person else None,
                   "person": person.name if person else None, "checkpoint_id": cp.id if cp else None,
                   "checkpoint": cp.name if cp else None, "checkpoint_en": cp.name_en if cp else None,
                   "area_id": area.id if area else None, "area": area.name if area else None,
                   "round_id": rnd.id if rnd else None, "route": route.name if route else None,
                   "route_en": route.name_en if route else None, "round_status": round_status,
                   "station": station, "message": zh.format(**names), "message_en": en.format(**names_en)}
        if shown is not None:
            payload["checklist"] = json.loads(shown)
        rec.emit("patrol.tap", entity=("tap", tap.id), payload=payload, occurred_at=at)
    if outcome not in ("ok", "reader_login", "repeat"):
        log.info("tap not counted", extra={"reader": reader, "outcome": outcome, "uid_tail": stored_uid[-4:]})
    return payload


def answer(tap_id: int, data: AnswerIn, principal) -> CheckRecord:
    """The checklist answered at the checkpoint after a tap: the check record (排查记录, status 0 正常 or
    1 存在隐患), and for each 异常 a hazard report with the checkpoint, area and person filled in."""
    from appliance.hazards import service as hazards

    with events.recording(principal.actor) as rec:
        tap = _get(PatrolTap, tap_id, "刷卡记录", "tap")
        # who may answer: the checkpoint's own screen (a device token named after the tap's reader), the
        # person who tapped (their tablet login), or the shift and safety office (patrol.review)
        from appliance.core.auth import allowed

        if principal.kind == "device":
            if principal.name != tap.reader:
                raise Forbidden("只能在刷卡的点位屏上填写（设备令牌须以读卡器命名）",
                                "answer on the screen of the checkpoint where the card was tapped "
                                "(its device token is named after the reader)")
        elif _person_of(principal) != tap.person_id and not allowed(principal.role, "patrol.review"):
            raise Forbidden("只能填写本人刷卡的检查表", "you may answer only the checklist of your own tap")
        if tap.outcome not in ("ok", "outside_round") or tap.checkpoint_id is None:
            raise Conflict("此次刷卡没有可填写的检查表", "this tap has no checklist to answer")
        if tap.answered:
            raise Conflict("此次刷卡的检查表已提交", "the checklist of this tap was already answered")
        if events.now_ms() - tap.recorded_at > ANSWER_WINDOW_MS:
            raise Forbidden("刷卡已超过 30 分钟，请重新刷卡后填写", "the tap is over 30 minutes old; tap again to answer")
        cp = Checkpoint.get_by_id(tap.checkpoint_id)
        items = {i["id"]: i for i in json.loads(tap.checklist or cp.checklist)}   # as shown at the tap
        if set(data.answers) != set(items):
            missing = sorted(set(items) - set(data.answers))
            extra = sorted(set(data.answers) - set(items))
            raise ValidationFailed(f"answers：须逐项填写（缺 {missing}，多 {extra}）",
                                   f"answers: every item must be answered (missing {missing}, unknown {extra})",
                                   details=[{"key": "answers"}])
        person = Person.get_or_none(Person.id == tap.person_id)
        # the checkpoint's screen cannot tell who pressed the buttons: the person who just tapped did
        reporter = (f"person:{person.employee_no}" if person else principal.actor) if principal.kind == "device" \
            else principal.actor
        hazard_ids = []
        for item_id, value in data.answers.items():
            if value == "abnormal":
                item = items[item_id]
                text = f"巡检异常：{cp.name} · {item['text']}" + (f"（{data.note}）" if data.note else "")
                h = hazards.report(hazards.ReportIn(area_id=cp.area_id, category=item.get("category", "安全"),
                                                    description=text[:2000]), actor=reporter)
                hazard_ids.append(h.id)
        status = PR.CHECK_HAZARD if hazard_ids else PR.CHECK_NORMAL
        c = CheckRecord.create(tap_id=tap.id, round_id=tap.round_id, checkpoint_id=cp.id, person_id=tap.person_id,
                               status=status, answers=json.dumps(data.answers), note=data.note,
                               hazard_ids=json.dumps(hazard_ids), checked_at=events.now_ms())
        PatrolTap.update(answered=True).where(PatrolTap.id == tap.id).execute()
        # items that check a control measure: a check record per measure, which is that period's control task
        from appliance.risk.tasks import complete, current_task

        item_hazards = dict(zip([k for k, v in data.answers.items() if v == "abnormal"], hazard_ids))
        for item_id, value in data.answers.items():
            mid = items[item_id].get("measure_id")
            if mid is None:
                continue
            result = PR.CHECK_HAZARD if value == "abnormal" else PR.CHECK_NORMAL
            hz = item_hazards.get(item_id)
            mc = CheckRecord.create(tap_id=tap.id, round_id=tap.round_id, checkpoint_id=cp.id, person_id=tap.person_id,
                                    status=result, answers=json.dumps({item_id: value}), note=data.note,
                                    hazard_ids=json.dumps([hz] if hz else []), checked_at=events.now_ms(), measure_id=mid)
            task = current_task(mid, tap.at)
            if task is not None:
                complete(task, result, data.note, actor=reporter, check_record_id=mc.id, hazard_id=hz)
        rec.emit("patrol.checked", entity=("check", c.id),
                 payload={"id": c.id, "tap_id": tap.id, "round_id": tap.round_id, "reader": tap.reader,
                          "checkpoint_id": cp.id, "checkpoint": cp.name, "checkpoint_en": cp.name_en,
                          "person": person.name if person else None, "status": status, "hazard_ids": hazard_ids,
                          "hazards": len(hazard_ids)})
    return c


def last_seen() -> list[dict]:
    rows = (LastSeen.select(LastSeen, Person.name, Person.employee_no)
            .join(Person, on=(Person.id == LastSeen.person_id)).order_by(LastSeen.at.desc()))
    areas = {a.id: a for a in Area.select()}
    return [{"person_id": r.person_id, "person": r.person.name, "employee_no": r.person.employee_no,
             "area_id": r.area_id, "area": areas[r.area_id].name if r.area_id in areas else None,
             "checkpoint_id": r.checkpoint_id, "reader": r.reader, "at": r.at} for r in rows]


def day_bounds(day: str | None, tz: str | None = None) -> tuple[int, int]:
    """[start, end) of a local calendar day (YYYY-MM-DD; today when None) in UTC ms."""
    zone = ZoneInfo(tz or _site_tz())
    d = datetime.strptime(day, "%Y-%m-%d").date() if day else datetime.now(zone).date()
    start = datetime(d.year, d.month, d.day, tzinfo=zone)
    return int(start.timestamp() * 1000), int((start + timedelta(days=1)).timestamp() * 1000)


def rounds_of_day(day: str | None = None) -> list[dict]:
    start, end = day_bounds(day)
    now = events.now_ms()
    look = _Lookup()
    return [round_dict(r, now, look=look) for r in Round.select().where((Round.due_start >= start) & (Round.due_start < end))
            .order_by(Round.due_start, Round.id)]


def summary(day: str | None = None) -> dict:
    """The wall board's patrol panel: today's rounds per route, counted by bucket."""
    rounds = rounds_of_day(day)
    routes: dict[int, dict] = {}
    for r in rounds:
        e = routes.setdefault(r["route_id"], {"route_id": r["route_id"], "route": r["route"], "route_en": r["route_en"],
                                              "pending": 0, "in_progress": 0, "done": 0, "late": 0, "missed": 0,
                                              "suspicious": 0})
        e[r["bucket"]] += 1
        e["suspicious"] += bool(r["suspicious"])
    return {"routes": list(routes.values()), "rounds": rounds}
