"""Training records (培训记录) and hours per person per year against the statutory minimums (3号令 Art. 9/13,
`rules.HOURS`): a person's category (主要负责人 / 安全管理人员 / 从业人员) and the year of their initial
training decide which minimum applies in a year; an exam passed is not training time and is not counted."""
from __future__ import annotations

from datetime import date
from typing import Literal

import peewee
from pydantic import Field, field_validator

from appliance.core import events
from appliance.core.db import BaseModel as Model
from appliance.core.errors import ValidationFailed
from appliance.core.people import Input, Person
from appliance.training import rules as R
from appliance.training import settings

RECORD_KINDS = ("initial", "yearly", "refresher", "special", "briefing")


class Profile(Model):
    person_id = peewee.IntegerField(primary_key=True)
    category = peewee.TextField()
    initial_year = peewee.IntegerField()
    updated_at = peewee.IntegerField()

    class Meta:
        table_name = "training_profiles"


class Record(Model):
    person_id = peewee.IntegerField()
    held_on = peewee.TextField()
    hours = peewee.FloatField()
    title = peewee.TextField()
    kind = peewee.TextField()
    trainer = peewee.TextField()
    created_at = peewee.IntegerField()

    class Meta:
        table_name = "training_records"


class RecordIn(Input):
    person_id: int = Field(gt=0, le=2**31)
    held_on: str
    hours: float = Field(gt=0, le=24)
    title: str = Field(min_length=2, max_length=200)
    kind: Literal[RECORD_KINDS] = "yearly"  # type: ignore[valid-type]
    trainer: str = Field("", max_length=60)

    @field_validator("held_on")
    @classmethod
    def _day(cls, v: str) -> str:
        try:
            return date.fromisoformat(v).isoformat()
        except ValueError:
            raise ValueError("must be a date YYYY-MM-DD") from None


class ProfileIn(Input):
    category: Literal[R.PERSON_CATEGORIES]  # type: ignore[valid-type]
    initial_year: int = Field(ge=1990, le=2100)


def _person(person_id: int) -> Person:
    p = Person.get_or_none(Person.id == person_id)
    if p is None:
        raise ValidationFailed(f"person_id：人员 {person_id} 不存在", f"person_id: person {person_id} does not exist",
                               details=[{"key": "person_id"}])
    return p


def add_record(data: RecordIn, *, actor: str) -> Record:
    with events.recording(actor) as rec:
        _person(data.person_id)
        r = Record.create(**data.model_dump(), created_at=events.now_ms())
        rec.emit("training.record_added", entity=("training_record", r.id), payload=data.model_dump())
    return r


def set_profile(person_id: int, data: ProfileIn, *, actor: str) -> Profile:
    with events.recording(actor) as rec:
        _person(person_id)
        Profile.insert(person_id=person_id, **data.model_dump(), updated_at=events.now_ms()).on_conflict_replace().execute()
        rec.emit("training.profile_set", entity=("person", person_id), payload=data.model_dump())
    return Profile.get_by_id(person_id)


def hours(year: int, person_id: int | None = None) -> list[dict]:
    """Per person (with a profile, or with records that year): hours done in `year` against the minimum."""
    industry = settings.current().industry
    profiles = {p.person_id: p for p in Profile.select()}
    done: dict[int, float] = {}
    q = Record.select().where(Record.held_on.between(f"{year}-01-01", f"{year}-12-31"))
    if person_id is not None:
        q = q.where(Record.person_id == person_id)
    for r in q:
        done[r.person_id] = done.get(r.person_id, 0.0) + r.hours
    ids = set(done) | (set(profiles) if person_id is None else {person_id} & set(profiles))
    people = {p.id: p for p in Person.select().where(Person.id.in_(ids))}
    out = []
    for pid in sorted(ids):
        prof = profiles.get(pid)
        required = None
        if prof is not None and year >= prof.initial_year:
            required = R.required_hours(industry, prof.category, year == prof.initial_year)
        p = people.get(pid)
        out.append({"person_id": pid, "person": p.name if p else None, "department": p.department if p else "",
                    "category": prof.category if prof else None,
                    "initial": bool(prof and year == prof.initial_year), "year": year,
                    **R.hours_status(done.get(pid, 0.0), required)})
    return out


def records_of(person_id: int) -> list[dict]:
    return [{"id": r.id, "held_on": r.held_on, "hours": r.hours, "title": r.title, "kind": r.kind, "trainer": r.trainer}
            for r in Record.select().where(Record.person_id == person_id).order_by(Record.held_on.desc())]
