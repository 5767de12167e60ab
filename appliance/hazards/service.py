"""Hazards (隐患) through their closed loop, every step an event. The rules are `hazard_rules`."""
from __future__ import annotations

import json
from typing import Literal

import peewee
from pydantic import Field

from appliance.core import events
from appliance.core.db import BaseModel as Model
from appliance.core.errors import Conflict, Forbidden, NotFound, ValidationFailed
from appliance.core.people import Area, Input
from appliance.hazards import rules as HR

EVENT_TYPES = {"dispatch": "hazard.dispatched", "rectify": "hazard.rectified", "accept": "hazard.accepted",
               "reject": "hazard.rejected"}
CATEGORIES = ("安全", "工艺", "电气", "仪表", "消防", "总图", "设备", "其他")  # HAZARD_DANGER_TYPE 1–8


class Hazard(Model):
    area_id = peewee.IntegerField()
    category = peewee.TextField()
    description = peewee.TextField()
    grade = peewee.TextField()
    state = peewee.TextField()
    reporter = peewee.TextField()
    reported_at = peewee.IntegerField()
    assignee = peewee.TextField(null=True)
    deadline = peewee.IntegerField(null=True)
    plan = peewee.TextField(null=True)
    rectifier = peewee.TextField(null=True)
    rectified_at = peewee.IntegerField(null=True)
    rectify_note = peewee.TextField(null=True)
    accepted_by = peewee.TextField(null=True)
    accepted_at = peewee.IntegerField(null=True)
    accept_note = peewee.TextField(null=True)
    rejections = peewee.IntegerField()
    recurrence_of = peewee.IntegerField(null=True)
    updated_at = peewee.IntegerField()
    photo = peewee.TextField(null=True)
    after_photo = peewee.TextField(null=True)
    reminded_at = peewee.IntegerField(null=True)
    escalated_at = peewee.IntegerField(null=True)

    class Meta:
        table_name = "hazards"


class ReportIn(Input):
    area_id: int = Field(gt=0, le=2**31)
    category: Literal[CATEGORIES]  # type: ignore[valid-type]
    description: str = Field(min_length=2, max_length=2000)
    grade: Literal["general", "major"] = "general"
    anonymous: bool = False
    photo: str | None = Field(None, pattern=r"^[0-9a-f]{64}$")  # SHA-256 from POST /api/v1/photos


class DispatchIn(Input):
    assignee: str = Field(pattern=r"^[A-Za-z0-9_.@-]{2,40}$")
    deadline: int | None = Field(None, gt=0)  # default by grade
    plan: dict[str, str] | None = None        # required for a major hazard (SAWS order 16 Art. 15)


class NoteIn(Input):
    note: str = Field("", max_length=2000)
    photo: str | None = Field(None, pattern=r"^[0-9a-f]{64}$")  # the after-photo of a rectification


def hazard_dict(h: Hazard) -> dict:
    return {"id": h.id, "area_id": h.area_id, "category": h.category, "description": h.description,
            "grade": h.grade, "state": h.state, "danger_state": HR.STATE_CODE[h.state], "reporter": h.reporter,
            "reported_at": h.reported_at, "assignee": h.assignee, "deadline": h.deadline,
            "overdue": bool(h.deadline and h.state != "closed" and events.now_ms() > h.deadline),
            "plan": json.loads(h.plan) if h.plan else None, "rectifier": h.rectifier, "rectified_at": h.rectified_at,
            "rectify_note": h.rectify_note, "accepted_by": h.accepted_by, "accepted_at": h.accepted_at,
            "accept_note": h.accept_note, "rejections": h.rejections, "recurrence_of": h.recurrence_of,
            "photo": h.photo, "after_photo": h.after_photo}


class DispatchRule(Model):
    area_id = peewee.IntegerField(null=True)
    category = peewee.TextField(null=True)
    assignee = peewee.TextField()
    created_at = peewee.IntegerField()

    class Meta:
        table_name = "hazard_dispatch_rules"


class RuleIn(Input):
    area_id: int | None = Field(None, gt=0, le=2**31)
    category: Literal[CATEGORIES] | None = None  # type: ignore[valid-type]
    assignee: str = Field(pattern=r"^[A-Za-z0-9_.@-]{2,40}$")


def add_rule(data: RuleIn, *, actor: str) -> DispatchRule:
    from appliance.core.auth import User

    if data.area_id is None and data.category is None:
        raise ValidationFailed("area_id/category：至少指定区域或类别之一", "area_id/category: give an area, a category or both",
                               details=[{"key": "area_id"}])
    if User.get_or_none((User.login == data.assignee) & User.active) is None:
        raise ValidationFailed(f"assignee：用户 {data.assignee} 不存在", f"assignee: user {data.assignee} does not exist",
                               details=[{"key": "assignee"}])
    with events.recording(actor) as rec:
        if data.area_id is not None and Area.get_or_none(Area.id == data.area_id) is None:
            raise ValidationFailed(f"area_id：区域 {data.area_id} 不存在", f"area_id: area {data.area_id} does not exist",
                                   details=[{"key": "area_id"}])
        same_area = DispatchRule.area_id.is_null() if data.area_id is None else DispatchRule.area_id == data.area_id
        same_cat = DispatchRule.category.is_null() if data.category is None else DispatchRule.category == data.category
        DispatchRule.delete().where(same_area & same_cat).execute()  # one rule per key: the new one replaces
        r = DispatchRule.create(**data.model_dump(), created_at=events.now_ms())
        rec.emit("hazard.rule_set", entity=("hazard_rule", r.id), payload=data.model_dump())
    return r


def remove_rule(rule_id: int, *, actor: str) -> None:
    """Delete a dispatch rule; hazards already dispatched by it keep their assignee."""
    with events.recording(actor) as rec:
        r = DispatchRule.get_or_none(DispatchRule.id == rule_id)
        if r is None:
            raise NotFound(f"派发规则 {rule_id} 不存在", f"dispatch rule {rule_id} does not exist")
        r.delete_instance()
        rec.emit("hazard.rule_removed", entity=("hazard_rule", rule_id),
                 payload={"area_id": r.area_id, "category": r.category, "assignee": r.assignee})


def _get(hazard_id: int) -> Hazard:
    h = Hazard.get_or_none(Hazard.id == hazard_id)
    if h is None:
        raise NotFound(f"隐患 {hazard_id} 不存在", f"hazard {hazard_id} does not exist")
    return h


def _photo_exists(digest: str | None, photo_root, key: str) -> None:
    from appliance.core.photos import path_of

    if digest is not None and (photo_root is None or path_of(photo_root, digest) is None):
        raise ValidationFailed(f"{key}：照片未上传", f"{key}: no such uploaded photo", details=[{"key": key}])


def report(data: ReportIn, *, actor: str, photo_root=None) -> Hazard:
    _photo_exists(data.photo, photo_root, "photo")
    with events.recording(actor) as rec:
        area = Area.get_or_none((Area.id == data.area_id) & Area.active)
        if area is None:
            raise ValidationFailed(f"area_id：区域 {data.area_id} 不存在", f"area_id: area {data.area_id} does not exist",
                                   details=[{"key": "area_id"}])
        t = events.now_ms()
        earlier = [(h.id, h.area_id, h.category, h.reported_at) for h in Hazard.select().where(
            (Hazard.area_id == data.area_id) & (Hazard.category == data.category)
            & (Hazard.reported_at >= t - HR.RECURRENCE_DAYS * 86_400_000))]
        h = Hazard.create(area_id=data.area_id, category=data.category, description=data.description,
                          grade=data.grade, state="reported", reporter="anonymous" if data.anonymous else actor,
                          reported_at=t, rejections=0, updated_at=t, photo=data.photo,
                          recurrence_of=HR.is_recurrence(data.area_id, data.category, t, earlier))
        rec.emit("hazard.reported", entity=("hazard", h.id),
                 payload={**hazard_dict(h), "area": area.name, "area_en": area.name_en})
        rules = [(r.area_id, r.category, r.assignee) for r in DispatchRule.select()]
        who = HR.pick_assignee(data.area_id, data.category, rules)
        if who is not None and data.grade == "general":
            # automatic dispatch by rule; a major hazard waits for the safety office, who must write its
            # treatment plan (SAWS order 16 Art. 15)
            dl = HR.deadline("general", t)
            Hazard.update(state="rectifying", assignee=who, deadline=dl, updated_at=t).where(Hazard.id == h.id).execute()
            rec.emit("hazard.dispatched", entity=("hazard", h.id),
                     payload={"id": h.id, "state": "rectifying", "description": h.description[:80], "assignee": who,
                              "deadline": dl, "by_rule": True})
        if data.grade == "major":
            rec.emit("hazard.major_reported", entity=("hazard", h.id),
                     payload={"id": h.id, "description": h.description[:80], "area": area.name,
                              "to": ["safety_officer", "plant_manager"]})
    return Hazard.get_by_id(h.id)


def _act(hazard_id: int, action: str, principal, change) -> Hazard:
    with events.recording(principal.actor) as rec:
        h = _get(hazard_id)
        try:
            new = HR.next_state(h.state, action)
            HR.check_actor(action, principal.role, principal.actor, assignee=h.assignee and f"user:{h.assignee}",
                           rectifier=h.rectifier)
        except HR.TransitionRefused as exc:
            raise (Forbidden if exc.who else Conflict)(exc.zh, exc.en) from None
        values = change(h)
        Hazard.update(state=new, updated_at=events.now_ms(), **values).where(Hazard.id == h.id).execute()
        h = Hazard.get_by_id(h.id)
        rec.emit(EVENT_TYPES[action], entity=("hazard", h.id), payload={"id": h.id, "state": new, "description": h.description[:80],
                                                   **{k: v for k, v in values.items() if k != "plan"}})
    return h


def dispatch(hazard_id: int, data: DispatchIn, principal) -> Hazard:
    from appliance.core.auth import User

    if User.get_or_none((User.login == data.assignee) & User.active) is None:
        raise ValidationFailed(f"assignee：用户 {data.assignee} 不存在", f"assignee: user {data.assignee} does not exist",
                               details=[{"key": "assignee"}])

    def change(h):
        if h.grade == "major":
            missing = HR.missing_plan_fields(data.plan)
            if missing:
                raise ValidationFailed(f"plan：重大隐患须有治理方案，缺少 {', '.join(missing)}",
                                       f"plan: a major hazard needs a treatment plan; missing {', '.join(missing)}",
                                       details=[{"key": "plan"}])
        return {"assignee": data.assignee, "deadline": data.deadline or HR.deadline(h.grade, h.reported_at),
                "plan": json.dumps(data.plan, ensure_ascii=False) if data.plan else None}

    return _act(hazard_id, "dispatch", principal, change)


def rectify(hazard_id: int, data: NoteIn, principal, photo_root=None) -> Hazard:
    _photo_exists(data.photo, photo_root, "photo")
    return _act(hazard_id, "rectify", principal,
                lambda h: {"rectifier": principal.actor, "rectified_at": events.now_ms(), "rectify_note": data.note,
                           "after_photo": data.photo})


def accept(hazard_id: int, data: NoteIn, principal) -> Hazard:
    return _act(hazard_id, "accept", principal,
                lambda h: {"accepted_by": principal.actor, "accepted_at": events.now_ms(), "accept_note": data.note})


def reject(hazard_id: int, data: NoteIn, principal) -> Hazard:
    if not data.note.strip():
        raise ValidationFailed("note：退回须说明原因", "note: a rejection needs the reason", details=[{"key": "note"}])
    return _act(hazard_id, "reject", principal,
                lambda h: {"rejections": h.rejections + 1, "accept_note": data.note, "rectifier": None,
                           "rectified_at": None})


def chase_deadlines(now: int | None = None) -> int:
    """Scheduled: remind the assignee before the deadline and escalate to the safety officer after it,
    once each (as events, which the tablet inbox and the board show). Returns how many."""
    now = now or events.now_ms()
    n = 0
    with events.recording("system:hazards") as rec:
        for h in Hazard.select().where((Hazard.state == "rectifying") & Hazard.deadline.is_null(False)
                                       & (Hazard.reminded_at.is_null() | Hazard.escalated_at.is_null())):
            for action in HR.due_actions(h.state, h.deadline, h.reminded_at, h.escalated_at, now):
                field, etype = ("reminded_at", "hazard.due_soon") if action == "remind" else ("escalated_at", "hazard.overdue")
                Hazard.update(**{field: now}).where(Hazard.id == h.id).execute()
                rec.emit(etype, entity=("hazard", h.id),
                         payload={"id": h.id, "assignee": h.assignee, "deadline": h.deadline,
                                  "description": h.description[:80], "grade": h.grade,
                                  "to": h.assignee if action == "remind" else "safety_officer"})
                n += 1
    return n


def open_by_area() -> dict[int, int]:
    """Area id → hazards not yet closed (for the risk map overlay)."""
    from appliance.core.db import database

    # the WHERE matches the partial index hazards_open_area (migration 0009) word for word
    rows = database.execute_sql("SELECT area_id, count(*) FROM hazards WHERE state != 'closed' GROUP BY area_id")
    return dict(rows.fetchall())


def rates(since: int, until: int, now: int | None = None) -> dict:
    """Hazard figures over the hazards reported in [since, until) (`hazard_rules.rates`)."""
    rows = [(h.state, h.deadline, h.accepted_at, h.recurrence_of) for h in
            Hazard.select(Hazard.state, Hazard.deadline, Hazard.accepted_at, Hazard.recurrence_of)
            .where((Hazard.reported_at >= since) & (Hazard.reported_at < until))]
    return HR.rates(rows, events.now_ms() if now is None else now)
