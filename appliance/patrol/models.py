"""The patrol tables: checkpoints, routes and their stops, plans, rounds, taps, check records and last seen.
"""
from __future__ import annotations

import logging
from typing import TYPE_CHECKING

import peewee

from appliance.core.db import BaseModel as Model

if TYPE_CHECKING:
    from appliance.core.people import Person

log = logging.getLogger(__name__)


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
    person: Person   # attached by a query that joins Person (last_seen())
    area_id = peewee.IntegerField(null=True)
    checkpoint_id = peewee.IntegerField(null=True)
    reader = peewee.TextField()
    at = peewee.IntegerField()

    class Meta:
        table_name = "last_seen"


def stops_of(route_id: int) -> list[RouteStop]:
    return list(RouteStop.select().where(RouteStop.route_id == route_id).order_by(RouteStop.position))


def fn_exists_taps():
    return peewee.fn.EXISTS(PatrolTap.select(PatrolTap.id).where(PatrolTap.round_id == Round.id))
