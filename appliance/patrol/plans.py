"""Checkpoints, routes and plans (patrol master data): their inputs, their views and their changes, each an event.
"""
from __future__ import annotations

import json
import logging
from collections.abc import Sequence
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from appliance.core import events
from appliance.core.errors import Conflict, NotFound, ValidationFailed
from appliance.core.people import Area, Badge, Input, Update, normalize_uid
from appliance.hazards.service import CATEGORIES
from appliance.patrol import rules as PR
from appliance.patrol.models import Checkpoint, Plan, Round, Route, RouteStop, fn_exists_taps, stops_of

log = logging.getLogger(__name__)


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
            gaps = [b - a for a, b in zip(mins, mins[1:], strict=False)] + [mins[0] + 1440 - mins[-1]]
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


def checkpoint_dict(c: Checkpoint) -> dict:
    return {"id": c.id, "code": c.code, "name": c.name, "name_en": c.name_en, "area_id": c.area_id,
            "reader": c.reader, "tag_uid": c.tag_uid, "checklist": json.loads(c.checklist), "active": bool(c.active)}


def route_dict(r: Route) -> dict:
    return {"id": r.id, "code": r.code, "name": r.name, "name_en": r.name_en, "active": bool(r.active),
            "stops": [{"checkpoint_id": s.checkpoint_id, "min_walk_s": s.min_walk_s} for s in stops_of(r.id)]}


def plan_dict(p: Plan) -> dict:
    return {"id": p.id, "name": p.name, "route_id": p.route_id, "shift": p.shift, "schedule": json.loads(p.schedule),
            "grace_min": p.grace_min, "people": json.loads(p.people), "departments": json.loads(p.departments),
            "streak_limit": p.streak_limit, "active": bool(p.active)}


def get_record(model, id_: int, zh: str, en: str):
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


def _check_measures(items: Sequence[CheckItem | dict]) -> None:
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
        c = get_record(Checkpoint, cp_id, "点位", "checkpoint")
        changes = data.given()
        if "area_id" in changes:
            _area(changes["area_id"])
        if "checklist" in changes:
            assert data.checklist is not None   # given, and an Update refuses an explicit null
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
        r = get_record(Route, route_id, "路线", "route")
        changes = data.given()
        stops = changes.pop("stops", None)
        if stops is not None:
            assert data.stops is not None   # given, and an Update refuses an explicit null
            _write_stops(r.id, data.stops)
        if changes:
            Route.update(**changes, updated_at=events.now_ms()).where(Route.id == r.id).execute()
        if changes or stops is not None:
            rec.emit("route.updated", entity=("route", r.id), payload=route_dict(Route.get_by_id(r.id)))
    return Route.get_by_id(route_id)


def create_plan(data: PlanIn, *, actor: str) -> Plan:
    with events.recording(actor) as rec:
        get_record(Route, data.route_id, "路线", "route")
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
        p = get_record(Plan, plan_id, "计划", "plan")
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
