"""The risk register (风险分级管控): objects → units → events (assessed by LEC or LS) → control measures, and
the four-colour risk map (四色图): each area coloured by the most severe level of the risk events in it.

Changes go through the event log; grading is `risk_rules`. An event's level on the map is its residual
level when the measures have been assessed, else its inherent level.
"""
from __future__ import annotations

import json
from typing import Literal

import peewee
from pydantic import Field, model_validator

from appliance.core import events
from appliance.core.db import BaseModel as Model
from appliance.core.db import database
from appliance.core.errors import Conflict, ValidationFailed
from appliance.core.people import Area, Input
from appliance.risk import rules as RR
from appliance.risk import settings
from appliance.risk import task_rules as TR

# CLASSIFY2 codes of the regulators' schema (RULES.md §B.4)
CLASSIFY2 = {"1-1": "工艺控制", "1-2": "关键设备/部件", "1-3": "安全附件", "1-4": "安全仪表", "1-5": "其他",
             "2-1": "动设备", "2-2": "静设备", "3-1": "人员资质", "3-2": "操作记录", "3-3": "交接班",
             "4-1": "应急设施", "4-2": "个体防护", "4-3": "消防设施", "4-4": "应急预案", "4-5": "其他"}
CLASSIFY1 = {1: "工程技术", 2: "维护保养", 3: "操作行为", 4: "应急措施"}


class RiskObject(Model):
    code = peewee.TextField(unique=True)
    name = peewee.TextField()
    major_hazard = peewee.BooleanField()
    area_id = peewee.IntegerField(null=True)
    active = peewee.BooleanField()
    created_at = peewee.IntegerField()
    updated_at = peewee.IntegerField()

    class Meta:
        table_name = "risk_objects"


class RiskUnit(Model):
    object_id = peewee.IntegerField()
    name = peewee.TextField()
    department = peewee.TextField()
    liable_person = peewee.TextField()
    area_id = peewee.IntegerField(null=True)
    created_at = peewee.IntegerField()
    updated_at = peewee.IntegerField()

    class Meta:
        table_name = "risk_units"


class RiskEvent(Model):
    unit_id = peewee.IntegerField()
    name = peewee.TextField()
    method = peewee.TextField()
    profile = peewee.TextField()
    factors = peewee.TextField()
    score = peewee.FloatField()
    inherent_level = peewee.IntegerField()
    residual_factors = peewee.TextField(null=True)
    residual_score = peewee.FloatField(null=True)
    residual_level = peewee.IntegerField(null=True)
    created_at = peewee.IntegerField()
    updated_at = peewee.IntegerField()

    class Meta:
        table_name = "risk_events"


class RiskMeasure(Model):
    event_id = peewee.IntegerField()
    description = peewee.TextField()
    classify1 = peewee.IntegerField()
    classify2 = peewee.TextField()
    classify3 = peewee.TextField()
    data_src = peewee.IntegerField()
    troubleshoot_content = peewee.TextField()
    check_cycle = peewee.IntegerField(null=True)
    check_cycle_unit = peewee.TextField(null=True)
    created_at = peewee.IntegerField()
    updated_at = peewee.IntegerField()

    class Meta:
        table_name = "risk_measures"


class ObjectIn(Input):
    code: str = Field(pattern=r"^[A-Za-z0-9_-]{1,40}$")
    name: str = Field(min_length=1, max_length=100)
    major_hazard: bool = False
    area_id: int | None = Field(None, gt=0, le=2**31)


class UnitIn(Input):
    object_id: int = Field(gt=0, le=2**31)
    name: str = Field(min_length=1, max_length=100)
    department: str = Field("", max_length=60)
    liable_person: str = Field("", max_length=60)
    area_id: int | None = Field(None, gt=0, le=2**31)


class Assessment(Input):
    """LEC factors (l, e, c) or LS factors (l, s), with the profile to grade them by."""

    l: float
    e: float | None = None
    c: float | None = None
    s: int | None = None


class EventIn(Input):
    unit_id: int = Field(gt=0, le=2**31)
    name: str = Field(min_length=1, max_length=200)
    method: Literal["LEC", "LS"]
    profile: str | None = None  # default: "default" for LEC, "A" for LS
    inherent: Assessment
    residual: Assessment | None = None

    @model_validator(mode="after")
    def _grade(self):
        grade(self.method, self.profile_or_default, self.inherent)  # raises naming the factor
        if self.residual is not None:
            grade(self.method, self.profile_or_default, self.residual)
        return self

    @property
    def profile_or_default(self) -> str:
        return self.profile or ("default" if self.method == "LEC" else "A")


class MeasureIn(Input):
    event_id: int = Field(gt=0, le=2**31)
    description: str = Field(min_length=1, max_length=500)
    classify1: Literal[1, 2, 3, 4]
    classify2: str
    classify3: str = Field("", max_length=100)
    data_src: Literal[1, 2] = 2
    troubleshoot_content: str = Field("", max_length=500)
    check_cycle: int | None = Field(None, ge=1, le=10000)
    # "week" is taken and stored as 7 days (the regulators' units); whole weeks run on calendar weeks
    check_cycle_unit: Literal["hour", "day", "week", "month", "year"] | None = None

    @model_validator(mode="after")
    def _codes(self):
        if self.classify2 not in CLASSIFY2 or not self.classify2.startswith(f"{self.classify1}-"):
            raise ValueError(f"classify2 must be one of {self.classify1}-1..{self.classify1}-5 under classify1 "
                             f"{self.classify1}")
        if (self.check_cycle is None) != (self.check_cycle_unit is None):
            raise ValueError("check_cycle and check_cycle_unit go together")
        if self.check_cycle is not None and self.check_cycle_unit is not None:
            bad = TR.check_cycle(self.check_cycle, self.check_cycle_unit)
            if bad:
                raise ValueError(f"check_cycle: {bad[1]}")
            self.check_cycle, self.check_cycle_unit = TR.normalize(self.check_cycle, self.check_cycle_unit)
        return self


def grade(method: str, profile: str, a: Assessment) -> tuple[float, int, dict]:
    """(score, level, factors) of one assessment; ValueError naming what is wrong."""
    if method == "LEC":
        if a.e is None or a.c is None or a.s is not None:
            raise ValueError("LEC needs l, e and c (and no s)")
        d, level = RR.lec(a.l, a.e, a.c, profile, settings.lec_profiles())
        return d, level, {"l": a.l, "e": a.e, "c": a.c}
    if a.s is None or a.e is not None or a.c is not None or a.l != int(a.l):
        raise ValueError("LS needs integer l and s (and no e or c)")
    r, level = RR.ls(int(a.l), a.s, profile, settings.ls_profiles())
    return r, level, {"l": int(a.l), "s": a.s}


def _need(model, id_, zh, en, key):
    if id_ is not None and model.get_or_none(model.id == id_) is None:
        raise ValidationFailed(f"{key}：{zh} {id_} 不存在", f"{key}: {en} {id_} does not exist", details=[{"key": key}])


def create_object(data: ObjectIn, *, actor: str) -> RiskObject:
    with events.recording(actor) as rec:
        _need(Area, data.area_id, "区域", "area", "area_id")
        if RiskObject.get_or_none(RiskObject.code == data.code):
            raise Conflict(f"风险分析对象编码已存在：{data.code}", f"risk object code already exists: {data.code}")
        t = events.now_ms()
        o = RiskObject.create(**data.model_dump(), active=True, created_at=t, updated_at=t)
        rec.emit("risk.object_created", entity=("risk_object", o.id), payload=data.model_dump())
    return o


def create_unit(data: UnitIn, *, actor: str) -> RiskUnit:
    with events.recording(actor) as rec:
        _need(RiskObject, data.object_id, "风险分析对象", "risk object", "object_id")
        _need(Area, data.area_id, "区域", "area", "area_id")
        t = events.now_ms()
        u = RiskUnit.create(**data.model_dump(), created_at=t, updated_at=t)
        rec.emit("risk.unit_created", entity=("risk_unit", u.id), payload=data.model_dump())
    return u


def create_event(data: EventIn, *, actor: str) -> RiskEvent:
    score, level, factors = grade(data.method, data.profile_or_default, data.inherent)
    res = grade(data.method, data.profile_or_default, data.residual) if data.residual else (None, None, None)
    with events.recording(actor) as rec:
        _need(RiskUnit, data.unit_id, "风险分析单元", "risk unit", "unit_id")
        t = events.now_ms()
        e = RiskEvent.create(unit_id=data.unit_id, name=data.name, method=data.method, profile=data.profile_or_default,
                             factors=json.dumps(factors), score=score, inherent_level=level,
                             residual_factors=json.dumps(res[2]) if res[2] else None, residual_score=res[0],
                             residual_level=res[1], created_at=t, updated_at=t)
        rec.emit("risk.event_assessed", entity=("risk_event", e.id), payload=event_dict(e))
    return e


def create_measure(data: MeasureIn, *, actor: str) -> RiskMeasure:
    with events.recording(actor) as rec:
        _need(RiskEvent, data.event_id, "风险事件", "risk event", "event_id")
        t = events.now_ms()
        m = RiskMeasure.create(**data.model_dump(), created_at=t, updated_at=t)
        rec.emit("risk.measure_added", entity=("risk_measure", m.id), payload=data.model_dump())
    return m


def acceptable(method: str, profile: str, score, level) -> bool:
    """The LEC 稍有危险，可以接受 marker (rules.lec_acceptable) under the plant's cut-offs."""
    return RR.lec_acceptable(method, score, level, profile, settings.lec_profiles())


def event_dict(e: RiskEvent) -> dict:
    shown = e.residual_level or e.inherent_level
    return {"acceptable": acceptable(e.method, e.profile, e.score, e.inherent_level),
            "residual_acceptable": acceptable(e.method, e.profile, e.residual_score, e.residual_level),
            "id": e.id, "unit_id": e.unit_id, "name": e.name, "method": e.method, "profile": e.profile,
            "factors": json.loads(e.factors), "score": e.score, "inherent_level": e.inherent_level,
            "residual_factors": json.loads(e.residual_factors) if e.residual_factors else None,
            "residual_score": e.residual_score, "residual_level": e.residual_level, "level": shown,
            "colour": RR.LEVELS[shown][2]}


def register() -> list[dict]:
    """The whole register as a tree: objects with units, events and measures (plain rows, no model
    objects: a plant register has thousands of measures). Read with plain SQL and the grading profiles
    looked up once: peewee's row conversion and a profile lookup per event took 80 % of 0.3–0.7 s for
    5,000 measures (bench/hazard_board.py's register tree, issue 14)."""
    lec = settings.lec_profiles()

    def ok(method, profile, score, level) -> bool:
        return RR.lec_acceptable(method, score, level, profile, lec)

    q = database.execute_sql
    objects = {oid: {"id": oid, "code": code, "name": name, "major_hazard": bool(major), "area_id": area, "units": []}
               for oid, code, name, major, area in q(
                   "SELECT id, code, name, major_hazard, area_id FROM risk_objects WHERE active ORDER BY id")}
    units: dict[int, dict] = {}
    for uid, oid, name, dept, liable, area in q(
            "SELECT id, object_id, name, department, liable_person, area_id FROM risk_units ORDER BY id"):
        if oid in objects:
            units[uid] = {"id": uid, "name": name, "department": dept, "liable_person": liable, "area_id": area,
                          "events": []}
            objects[oid]["units"].append(units[uid])
    evs: dict[int, dict] = {}
    for (eid, uid, name, method, profile, factors, score, inherent, r_factors, r_score, r_level) in q(
            "SELECT id, unit_id, name, method, profile, factors, score, inherent_level, residual_factors, "
            "residual_score, residual_level FROM risk_events ORDER BY id"):
        if uid in units:
            shown = r_level or inherent
            evs[eid] = {"id": eid, "unit_id": uid, "name": name, "method": method, "profile": profile,
                        "factors": json.loads(factors), "score": score, "inherent_level": inherent,
                        "residual_factors": json.loads(r_factors) if r_factors else None,
                        "residual_score": r_score, "residual_level": r_level,
                        "level": shown, "colour": RR.LEVELS[shown][2], "measures": [],
                        "acceptable": ok(method, profile, score, inherent),
                        "residual_acceptable": ok(method, profile, r_score, r_level)}
            units[uid]["events"].append(evs[eid])
    for mid, eid, desc, c1, c2, src, content, cycle, cycle_unit in q(
            "SELECT id, event_id, description, classify1, classify2, data_src, troubleshoot_content, check_cycle, "
            "check_cycle_unit FROM risk_measures ORDER BY id"):
        if eid in evs:
            evs[eid]["measures"].append(
                {"id": mid, "description": desc, "classify1": c1, "classify2": c2, "classify2_name": CLASSIFY2[c2],
                 "data_src": src, "troubleshoot_content": content, "check_cycle": cycle,
                 "check_cycle_unit": cycle_unit})
    return list(objects.values())


def area_levels() -> dict[int, int]:
    """Area id → the most severe level of the risk events located in it (unit area, else object area)."""
    rows = database.execute_sql(
        "SELECT coalesce(u.area_id, o.area_id) AS area, min(coalesce(e.residual_level, e.inherent_level)) "
        "FROM risk_events e JOIN risk_units u ON u.id = e.unit_id JOIN risk_objects o ON o.id = u.object_id "
        "WHERE o.active AND coalesce(u.area_id, o.area_id) IS NOT NULL GROUP BY area").fetchall()
    return {area: level for area, level in rows}


def risk_map() -> list[dict]:
    from appliance.hazards.service import open_by_area
    from appliance.risk.major import area_levels as major_levels

    levels = area_levels()
    hazards = open_by_area()  # live overlay: open hazards per area
    majors = major_levels()   # GB 18218-2018 major hazard installations per area
    out = []
    for a in Area.select().where(Area.active).order_by(Area.code):
        lv = levels.get(a.id)
        mh = majors.get(a.id)
        out.append({"area_id": a.id, "code": a.code, "name": a.name, "name_en": a.name_en, "level": lv,
                    "level_name": RR.LEVELS[lv][0] if lv else None, "colour": RR.LEVELS[lv][2] if lv else None,
                    "open_hazards": hazards.get(a.id, 0), "major_hazard_level": mh["level"] if mh else None,
                    "major_hazards": mh["names"] if mh else []})
    return out

