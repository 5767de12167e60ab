"""Core master data: the site, its areas on the floor plan, people (employees and contractors) and badges.

Every change goes through the event log (`events.recording`). Input shapes are pydantic models that
reject unknown keys; the HTTP API and the demo seeding use the same functions.
"""
from __future__ import annotations

import json
from typing import Literal

import peewee
from pydantic import BaseModel, ConfigDict, Field, field_validator

from appliance.core import events
from appliance.core.db import BaseModel as Model
from appliance.core.db import database
from appliance.core.errors import Conflict, NotFound, ValidationFailed
from drivers.base import normalize_uid  # the one rule for a badge UID

# ---------------------------------------------------------------- records

class Site(Model):
    id = peewee.IntegerField(primary_key=True)
    name = peewee.TextField()
    name_en = peewee.TextField()
    timezone = peewee.TextField()
    plan_width = peewee.IntegerField()
    plan_height = peewee.IntegerField()
    updated_at = peewee.IntegerField()

    class Meta:
        table_name = "site"


class Area(Model):
    code = peewee.TextField(unique=True)
    name = peewee.TextField()
    name_en = peewee.TextField()
    kind = peewee.TextField()
    polygon = peewee.TextField()
    active = peewee.BooleanField()
    created_at = peewee.IntegerField()
    updated_at = peewee.IntegerField()

    class Meta:
        table_name = "areas"


class Person(Model):
    employee_no = peewee.TextField(unique=True)
    name = peewee.TextField()
    kind = peewee.TextField()
    department = peewee.TextField()
    job = peewee.TextField()
    company = peewee.TextField()
    active = peewee.BooleanField()
    created_at = peewee.IntegerField()
    updated_at = peewee.IntegerField()
    badges: peewee.ModelSelect[Badge]   # the backref of Badge.person

    class Meta:
        table_name = "people"


class Badge(Model):
    uid = peewee.TextField(unique=True)
    person = peewee.ForeignKeyField(Person, column_name="person_id", backref="badges")
    person_id: int   # the column behind `person`, made by the ForeignKeyField
    active = peewee.BooleanField()
    created_at = peewee.IntegerField()
    updated_at = peewee.IntegerField()

    class Meta:
        table_name = "badges"


# ---------------------------------------------------------------- input shapes

class Input(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


class Update(Input):
    """A partial change: a field left out means "unchanged"; an explicit null is refused (422), because
    no column of these records may become empty."""

    @field_validator("*", mode="before")
    @classmethod
    def _no_nulls(cls, v):
        if v is None:
            raise ValueError("may not be null (leave it out to keep it)")
        return v

    def given(self) -> dict:
        return self.model_dump(exclude_unset=True)


AREA_KINDS = ("tank_farm", "process", "warehouse", "loading", "control", "gate", "office", "utility", "other")
Point = tuple[float, float]


def _check_polygon(v: list[Point] | None) -> list[Point] | None:
    if v is None:
        return v
    if len(v) < 3:
        raise ValueError("a polygon needs at least 3 points")
    for x, y in v:
        if not (0 <= x <= 10000 and 0 <= y <= 10000):
            raise ValueError("points must lie within 0..10000")
    return v


class SiteUpdate(Update):
    name: str | None = Field(None, min_length=1, max_length=100)
    name_en: str | None = Field(None, min_length=1, max_length=100)
    plan_width: int | None = Field(None, ge=100, le=10000)
    plan_height: int | None = Field(None, ge=100, le=10000)


class AreaIn(Input):
    code: str = Field(pattern=r"^[A-Za-z0-9_-]{1,32}$")
    name: str = Field(min_length=1, max_length=60)
    name_en: str = Field("", max_length=60)
    kind: Literal[AREA_KINDS] = "other"  # type: ignore[valid-type]
    polygon: list[Point] = Field(default_factory=list)
    _poly = field_validator("polygon")(_check_polygon)


class AreaUpdate(Update):
    name: str | None = Field(None, min_length=1, max_length=60)
    name_en: str | None = Field(None, max_length=60)
    kind: Literal[AREA_KINDS] | None = None  # type: ignore[valid-type]
    polygon: list[Point] | None = None
    active: bool | None = None
    _poly = field_validator("polygon")(_check_polygon)


class PersonIn(Input):
    employee_no: str = Field(pattern=r"^[A-Za-z0-9_-]{1,32}$")
    name: str = Field(min_length=1, max_length=60)
    kind: Literal["employee", "contractor"] = "employee"
    department: str = Field("", max_length=60)
    job: str = Field("", max_length=60)
    company: str = Field("", max_length=100)


class PersonUpdate(Update):
    name: str | None = Field(None, min_length=1, max_length=60)
    kind: Literal["employee", "contractor"] | None = None
    department: str | None = Field(None, max_length=60)
    job: str | None = Field(None, max_length=60)
    company: str | None = Field(None, max_length=100)
    active: bool | None = None


class BadgeIn(Input):
    uid: str
    person_id: int = Field(gt=0, le=2**31)
    _uid = field_validator("uid")(normalize_uid)


class BadgeUpdate(Update):
    active: bool


# ---------------------------------------------------------------- views

def site_dict(s: Site) -> dict:
    return {"name": s.name, "name_en": s.name_en, "timezone": s.timezone,
            "plan_width": s.plan_width, "plan_height": s.plan_height, "updated_at": s.updated_at}


def area_dict(a: Area) -> dict:
    return {"id": a.id, "code": a.code, "name": a.name, "name_en": a.name_en, "kind": a.kind,
            "polygon": json.loads(a.polygon), "active": bool(a.active), "updated_at": a.updated_at}


def person_dict(p: Person) -> dict:
    return {"id": p.id, "employee_no": p.employee_no, "name": p.name, "kind": p.kind,
            "department": p.department, "job": p.job, "company": p.company, "active": bool(p.active),
            "updated_at": p.updated_at}


def badge_dict(b: Badge) -> dict:
    return {"id": b.id, "uid": b.uid, "person_id": b.person_id, "active": bool(b.active), "updated_at": b.updated_at}


# ---------------------------------------------------------------- changes

def _get(model, id_: int, zh: str, en: str):
    obj = model.get_or_none(model.id == id_)
    if obj is None:
        raise NotFound(f"{zh} {id_} 不存在", f"{en} {id_} does not exist")
    return obj


def _changes(obj, update: Update) -> dict:
    """Fields of `update` that were given and differ from `obj` (for the event payload)."""
    out = {}
    for k, v in update.given().items():
        if k == "polygon":
            v = json.dumps(v)
        if getattr(obj, k) != v:
            out[k] = v
    return out


def site_timezone() -> str:
    """The plant's time zone (the site row's, Asia/Shanghai before the site is set)."""
    s = Site.get_or_none(Site.id == 1)
    return s.timezone if s else "Asia/Shanghai"


def get_site() -> Site:
    s = Site.get_or_none(Site.id == 1)
    if s is None:
        raise NotFound("尚未设置工厂信息", "the site has not been set up")
    return s


def set_site(name: str, name_en: str, timezone: str, plan_width: int, plan_height: int, *, actor: str) -> Site:
    """Create or replace the site row (start-up and demo seeding)."""
    with events.recording(actor) as rec:
        values = dict(name=name, name_en=name_en, timezone=timezone, plan_width=plan_width,
                      plan_height=plan_height, updated_at=events.now_ms())
        Site.insert(id=1, **values).on_conflict_replace().execute()
        rec.emit("site.set", entity=("site", 1), payload=values)
    return get_site()


def update_site(data: SiteUpdate, *, actor: str) -> Site:
    with events.recording(actor) as rec:
        s = get_site()
        changes = _changes(s, data)
        if changes:
            Site.update(**changes, updated_at=events.now_ms()).where(Site.id == 1).execute()
            rec.emit("site.updated", entity=("site", 1), payload=changes)
    return get_site()


def create_area(data: AreaIn, *, actor: str) -> Area:
    with events.recording(actor) as rec:
        if Area.get_or_none(Area.code == data.code):
            raise Conflict(f"区域编码已存在：{data.code}", f"area code already exists: {data.code}")
        t = events.now_ms()
        a = Area.create(code=data.code, name=data.name, name_en=data.name_en, kind=data.kind,
                        polygon=json.dumps(data.polygon), active=True, created_at=t, updated_at=t)
        rec.emit("area.created", entity=("area", a.id), payload=area_dict(a))
    return a


def update_area(area_id: int, data: AreaUpdate, *, actor: str) -> Area:
    with events.recording(actor) as rec:
        a = _get(Area, area_id, "区域", "area")
        changes = _changes(a, data)
        if changes:
            Area.update(**changes, updated_at=events.now_ms()).where(Area.id == a.id).execute()
            if "polygon" in changes:
                changes["polygon"] = json.loads(changes["polygon"])
            rec.emit("area.updated", entity=("area", a.id), payload={"code": a.code, **changes})
    return Area.get_by_id(area_id)


def create_person(data: PersonIn, *, actor: str) -> Person:
    with events.recording(actor) as rec:
        if Person.get_or_none(Person.employee_no == data.employee_no):
            raise Conflict(f"工号已存在：{data.employee_no}", f"employee number already exists: {data.employee_no}")
        t = events.now_ms()
        p = Person.create(**data.model_dump(), active=True, created_at=t, updated_at=t)
        rec.emit("person.created", entity=("person", p.id), payload=person_dict(p))
    return p


def update_person(person_id: int, data: PersonUpdate, *, actor: str) -> Person:
    with events.recording(actor) as rec:
        p = _get(Person, person_id, "人员", "person")
        changes = _changes(p, data)
        if changes:
            Person.update(**changes, updated_at=events.now_ms()).where(Person.id == p.id).execute()
            rec.emit("person.updated", entity=("person", p.id), payload={"name": p.name, **changes})
            if changes.get("active") is False:
                # A person who leaves loses every badge with them, in the same transaction.
                for b in Badge.select().where((Badge.person == p.id) & Badge.active):
                    Badge.update(active=False, updated_at=events.now_ms()).where(Badge.id == b.id).execute()
                    rec.emit("badge.deactivated", entity=("badge", b.id),
                             payload={"uid": b.uid, "person_id": p.id, "reason": "person deactivated"})
    return Person.get_by_id(person_id)


def issue_badge(data: BadgeIn, *, actor: str) -> Badge:
    with events.recording(actor) as rec:
        person = Person.get_or_none(Person.id == data.person_id)
        if person is None:
            raise ValidationFailed(f"person_id：人员 {data.person_id} 不存在", f"person_id: person {data.person_id} does not exist",
                                   details=[{"key": "person_id"}])
        if not person.active:
            raise Conflict(f"人员 {person.name} 已停用，不能发卡", f"person {person.name} is inactive; cannot issue a badge")
        if Badge.get_or_none(Badge.uid == data.uid):
            raise Conflict(f"卡号已登记：{data.uid}", f"card UID already registered: {data.uid}")
        # a patrol checkpoint's tag is read as the checkpoint, never as a badge
        if database.execute_sql("SELECT 1 FROM checkpoints WHERE tag_uid = ?", (data.uid,)).fetchone():
            raise Conflict(f"此卡号是巡检点标签：{data.uid}", f"this UID is a patrol checkpoint's tag: {data.uid}")
        t = events.now_ms()
        b = Badge.create(uid=data.uid, person=person.id, active=True, created_at=t, updated_at=t)
        rec.emit("badge.issued", entity=("badge", b.id), payload={**badge_dict(b), "person_name": person.name})
    return b


def set_badge_active(badge_id: int, data: BadgeUpdate, *, actor: str) -> Badge:
    with events.recording(actor) as rec:
        b = _get(Badge, badge_id, "卡", "badge")
        if bool(b.active) != data.active:
            if data.active and not b.person.active:
                raise Conflict("持卡人已停用，不能启用此卡", "the badge holder is inactive; cannot activate the badge")
            Badge.update(active=data.active, updated_at=events.now_ms()).where(Badge.id == b.id).execute()
            rec.emit("badge.activated" if data.active else "badge.deactivated", entity=("badge", b.id),
                     payload={"uid": b.uid, "person_id": b.person_id})
    return Badge.get_by_id(badge_id)


def person_for_badge(uid: str) -> Person | None:
    """The active person holding the active badge `uid`, or None (unknown or deactivated)."""
    try:
        uid = normalize_uid(uid)
    except ValueError:
        return None
    b = (Badge.select(Badge, Person).join(Person)
         .where((Badge.uid == uid) & Badge.active & Person.active).first())
    return b.person if b else None
