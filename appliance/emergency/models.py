"""The emergency domain's records (migrations 0026_emergency.sql, 0032_emergency_retire.sql)."""
from __future__ import annotations

import peewee

from appliance.core.db import BaseModel as Model


class WalkEdge(Model):
    a_area_id = peewee.IntegerField()
    b_area_id = peewee.IntegerField()
    metres = peewee.FloatField()
    door = peewee.TextField()

    class Meta:
        table_name = "emergency_walk_edges"


class AssemblyPoint(Model):
    code = peewee.TextField(unique=True)
    name = peewee.TextField()
    name_en = peewee.TextField()
    area_id = peewee.IntegerField()
    reader = peewee.TextField(null=True)
    active = peewee.BooleanField()

    class Meta:
        table_name = "emergency_assembly_points"


class Resource(Model):
    code = peewee.TextField(unique=True)
    kind = peewee.TextField()
    name = peewee.TextField()
    area_id = peewee.IntegerField()
    location = peewee.TextField()
    quantity = peewee.IntegerField()
    available = peewee.IntegerField()
    inspected_on = peewee.TextField(null=True)
    next_inspection = peewee.TextField(null=True)
    expires_on = peewee.TextField(null=True)
    active = peewee.BooleanField()
    updated_at = peewee.IntegerField()

    class Meta:
        table_name = "emergency_resources"


class Team(Model):
    name = peewee.TextField(unique=True)
    kind = peewee.TextField()
    area_id = peewee.IntegerField(null=True)
    on_duty = peewee.BooleanField()
    members = peewee.TextField()
    updated_at = peewee.IntegerField()
    active = peewee.BooleanField(default=True)    # 0032

    class Meta:
        table_name = "emergency_teams"


class Plan(Model):
    code = peewee.TextField(unique=True)
    scenario = peewee.TextField()
    name = peewee.TextField()
    level = peewee.TextField()
    steps = peewee.TextField()
    updated_at = peewee.IntegerField()
    active = peewee.BooleanField(default=True)    # 0032

    class Meta:
        table_name = "emergency_plans"


class Incident(Model):
    kind = peewee.TextField()
    drill = peewee.BooleanField()
    state = peewee.TextField()
    source = peewee.TextField()
    area_id = peewee.IntegerField()
    title = peewee.TextField()
    detectors = peewee.TextField()
    gas = peewee.TextField(null=True)
    wind_from = peewee.FloatField(null=True)
    plan_id = peewee.IntegerField(null=True)
    snapshot = peewee.TextField()
    steps = peewee.TextField()
    opened_at = peewee.IntegerField()
    opened_by = peewee.TextField()
    closed_at = peewee.IntegerField(null=True)
    closed_by = peewee.TextField(null=True)
    close_note = peewee.TextField(null=True)
    updated_at = peewee.IntegerField()

    class Meta:
        table_name = "emergency_incidents"


class Muster(Model):
    incident_id = peewee.IntegerField(null=True)
    drill = peewee.BooleanField()
    started_at = peewee.IntegerField()
    ended_at = peewee.IntegerField(null=True)
    expected = peewee.TextField()

    class Meta:
        table_name = "emergency_musters"


class MusterMark(Model):
    muster_id = peewee.IntegerField()
    person_id = peewee.IntegerField()
    point_id = peewee.IntegerField(null=True)
    how = peewee.TextField()
    at = peewee.IntegerField()

    class Meta:
        table_name = "emergency_muster_marks"


class Drill(Model):
    plan_id = peewee.IntegerField()
    incident_id = peewee.IntegerField()
    form = peewee.TextField()
    started_at = peewee.IntegerField()
    ended_at = peewee.IntegerField(null=True)
    evaluation = peewee.TextField(null=True)
    findings = peewee.TextField()

    class Meta:
        table_name = "emergency_drills"


class Accident(Model):
    incident_id = peewee.IntegerField(null=True)
    occurred_at = peewee.IntegerField()
    area_id = peewee.IntegerField()
    kind = peewee.TextField()
    type = peewee.TextField()
    title = peewee.TextField()
    description = peewee.TextField()
    reporter = peewee.TextField()
    deaths = peewee.IntegerField()
    serious_injuries = peewee.IntegerField()
    minor_injuries = peewee.IntegerField()
    direct_loss_yuan = peewee.IntegerField()
    grade = peewee.TextField()
    reported_at = peewee.IntegerField(null=True)
    investigation = peewee.TextField()
    corrective = peewee.TextField()
    related = peewee.TextField()
    state = peewee.TextField()
    created_at = peewee.IntegerField()
    updated_at = peewee.IntegerField()

    class Meta:
        table_name = "emergency_accidents"
