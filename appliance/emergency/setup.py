"""The emergency master data, stored: the walk graph (areas and doors), assembly points with their readers,
resources (stock, place, inspection and expiry), teams with members and phones, and plans with their steps.
Every change is a record row plus an `emergency.*` event in one transaction."""
from __future__ import annotations

import json
from datetime import date, datetime, time
from typing import Any
from zoneinfo import ZoneInfo

from pydantic import BaseModel, ConfigDict, Field

from appliance.core import events
from appliance.core.errors import NotFound, ValidationFailed
from appliance.core.people import Area, Person, site_timezone
from appliance.emergency import rules as R
from appliance.emergency.models import AssemblyPoint, Plan, Resource, Team, WalkEdge

SCENARIOS = ("leak", "fire", "poisoning", "confined_space")
KINDS = (*SCENARIOS, "other")
TEAM_KINDS = ("rescue", "fire", "medical", "evacuation", "leak")   # offered on the screen; the API takes any


class In(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


def bad(key: str, zh: str, en: str) -> ValidationFailed:
    return ValidationFailed(f"{key}：{zh}", f"{key}: {en}", details=[{"key": key}])


def area_by_code(code: str, key: str = "area") -> Area:
    a = Area.get_or_none((Area.code == code) & Area.active)
    if a is None:
        raise bad(key, f"区域 {code} 不存在", f"no such area {code}")
    return a


def area_codes() -> dict[int, str]:
    return {a.id: a.code for a in Area.select()}


def area_names() -> dict[str, tuple[str, str]]:
    """area code → (zh name, en name; the zh one where no English name was given), for the screens."""
    return {a.code: (a.name, a.name_en or a.name) for a in Area.select()}


def centres() -> dict[str, tuple[float, float]]:
    out = {}
    for a in Area.select().where(Area.active):
        poly = json.loads(a.polygon)
        if poly:
            out[a.code] = R.centroid(poly)
    return out


# ---------------------------------------------------------------- the walk graph

class EdgeIn(In):
    a: str = Field(min_length=1, max_length=32)
    b: str = Field(min_length=1, max_length=32)
    metres: float = Field(ge=0, le=100_000)
    door: str = Field("", max_length=60)


class GraphIn(In):
    edges: list[EdgeIn] = Field(max_length=500)


def edges() -> list[R.Edge]:
    codes = area_codes()
    return [(codes[e.a_area_id], codes[e.b_area_id], e.metres) for e in WalkEdge.select()
            if e.a_area_id in codes and e.b_area_id in codes]


def graph_dict() -> dict:
    codes = area_codes()
    return {"edges": [{"a": codes.get(e.a_area_id), "b": codes.get(e.b_area_id), "metres": e.metres, "door": e.door}
                      for e in WalkEdge.select().order_by(WalkEdge.id)]}


def set_graph(data: GraphIn, *, actor: str) -> dict:
    """Replace the walk graph (areas and the doors between them, with walking distances)."""
    rows = []
    seen = set()
    for i, e in enumerate(data.edges):
        if e.a == e.b:
            raise bad(f"edges[{i}]", "通道两端不能是同一区域", "a passage joins two different areas")
        pair = frozenset((e.a, e.b))
        if pair in seen:
            raise bad(f"edges[{i}]", "重复的通道", "passage listed twice")
        seen.add(pair)
        rows.append((area_by_code(e.a, f"edges[{i}].a").id, area_by_code(e.b, f"edges[{i}].b").id, e.metres, e.door))
    with events.recording(actor) as rec:
        WalkEdge.delete().execute()
        for a, b, m, door in rows:
            WalkEdge.create(a_area_id=a, b_area_id=b, metres=m, door=door)
        rec.emit("emergency.walk_graph_set", entity=("emergency_graph", 1), payload=graph_dict())
    return graph_dict()


# ---------------------------------------------------------------- assembly points

class PointIn(In):
    code: str = Field(pattern=r"^[A-Za-z0-9_-]{1,32}$")
    name: str = Field(min_length=1, max_length=60)
    name_en: str = Field("", max_length=60)
    area: str = Field(min_length=1, max_length=32)
    reader: str | None = Field(None, pattern=r"^[A-Za-z0-9][A-Za-z0-9_.:-]{0,63}$")


def point_dict(p: AssemblyPoint, codes: dict[int, str] | None = None) -> dict:
    codes = codes or area_codes()
    return {"id": p.id, "code": p.code, "name": p.name, "name_en": p.name_en, "area": codes.get(p.area_id),
            "reader": p.reader, "active": bool(p.active)}


def save_point(data: PointIn, *, actor: str) -> AssemblyPoint:
    area = area_by_code(data.area)
    with events.recording(actor) as rec:
        other = AssemblyPoint.get_or_none((AssemblyPoint.reader == data.reader) & (AssemblyPoint.code != data.code)) \
            if data.reader else None
        if other is not None:
            raise bad("reader", f"读卡器已用于集合点 {other.code}", f"the reader is already at assembly point {other.code}")
        p = AssemblyPoint.get_or_none(AssemblyPoint.code == data.code)
        values = {"name": data.name, "name_en": data.name_en, "area_id": area.id, "reader": data.reader, "active": True}
        if p is None:
            p = AssemblyPoint.create(code=data.code, **values)
        else:
            AssemblyPoint.update(**values).where(AssemblyPoint.id == p.id).execute()
            p = AssemblyPoint.get_by_id(p.id)
        rec.emit("emergency.assembly_point_saved", entity=("emergency_point", p.id), payload=point_dict(p))
    return p


def points() -> list[AssemblyPoint]:
    return list(AssemblyPoint.select().where(AssemblyPoint.active).order_by(AssemblyPoint.code))


# ---------------------------------------------------------------- resources

class ResourceIn(In):
    code: str = Field(pattern=r"^[A-Za-z0-9_-]{1,32}$")
    kind: str
    name: str = Field(min_length=1, max_length=80)
    area: str = Field(min_length=1, max_length=32)
    location: str = Field("", max_length=120)
    quantity: int = Field(ge=0, le=100_000)
    available: int | None = Field(None, ge=0, le=100_000)
    inspected_on: date | None = None
    next_inspection: date | None = None
    expires_on: date | None = None


def _ms(d: str | None) -> int | None:
    if not d:
        return None
    return int(datetime.combine(date.fromisoformat(d), time(0), ZoneInfo(site_timezone())).timestamp() * 1000)


def as_rule(r: Resource, codes: dict[int, str]) -> R.Resource:
    return R.Resource(r.id, r.kind, codes.get(r.area_id, ""), r.available, _ms(r.expires_on), _ms(r.next_inspection))


def resource_dict(r: Resource, codes: dict[int, str] | None = None, now: int | None = None,
                  metres: float | None = None) -> dict:
    codes = codes or area_codes()
    zh, en = R.RESOURCE_KINDS.get(r.kind, (r.kind, r.kind))
    out = {"id": r.id, "code": r.code, "kind": r.kind, "kind_name": zh, "kind_name_en": en, "name": r.name,
           "area": codes.get(r.area_id), "location": r.location, "quantity": r.quantity, "available": r.available,
           "inspected_on": r.inspected_on, "next_inspection": r.next_inspection, "expires_on": r.expires_on,
           "state": R.resource_state(as_rule(r, codes), now or events.now_ms())}
    if metres is not None:
        out["metres"] = round(metres)
    return out


def save_resource(data: ResourceIn, *, actor: str) -> Resource:
    if data.kind not in R.RESOURCE_KINDS:
        raise bad("kind", f"未知物资类别（{', '.join(R.RESOURCE_KINDS)}）", f"unknown kind ({', '.join(R.RESOURCE_KINDS)})")
    available = data.quantity if data.available is None else data.available
    if available > data.quantity:
        raise bad("available", "可用数量不能多于库存", "available cannot exceed the quantity")
    area = area_by_code(data.area)
    iso = lambda d: d.isoformat() if d else None  # noqa: E731
    values = {"kind": data.kind, "name": data.name, "area_id": area.id, "location": data.location,
              "quantity": data.quantity, "available": available, "inspected_on": iso(data.inspected_on),
              "next_inspection": iso(data.next_inspection), "expires_on": iso(data.expires_on), "active": True,
              "updated_at": events.now_ms()}
    with events.recording(actor) as rec:
        r = Resource.get_or_none(Resource.code == data.code)
        if r is None:
            r = Resource.create(code=data.code, **values)
        else:
            Resource.update(**values).where(Resource.id == r.id).execute()
            r = Resource.get_by_id(r.id)
        rec.emit("emergency.resource_saved", entity=("emergency_resource", r.id), payload=resource_dict(r))
    return r


def resources() -> list[Resource]:
    return list(Resource.select().where(Resource.active).order_by(Resource.kind, Resource.code))


# ---------------------------------------------------------------- teams

class MemberIn(In):
    person_id: int = Field(gt=0)
    role: str = Field("", max_length=40)
    phone: str = Field(pattern=r"^[0-9+() -]{3,30}$")


class TeamIn(In):
    name: str = Field(min_length=1, max_length=60)
    kind: str = Field(min_length=1, max_length=30)
    area: str | None = Field(None, max_length=32)
    on_duty: bool = True
    members: list[MemberIn] = Field(min_length=1, max_length=50)


def team_dict(t: Team, codes: dict[int, str] | None = None, metres: float | None = None) -> dict:
    codes = codes or area_codes()
    members = json.loads(t.members)
    names = {p.id: p.name for p in Person.select().where(Person.id.in_([m["person_id"] for m in members]))}
    out = {"id": t.id, "name": t.name, "kind": t.kind, "area": codes.get(t.area_id) if t.area_id else None,
           "on_duty": bool(t.on_duty), "active": bool(t.active), "members": [{**m, "name": names.get(m["person_id"])} for m in members]}
    if metres is not None:
        out["metres"] = round(metres)
    return out


def save_team(data: TeamIn, *, actor: str) -> Team:
    area = area_by_code(data.area) if data.area else None
    ids = [m.person_id for m in data.members]
    found = {p.id for p in Person.select().where(Person.id.in_(ids) & Person.active)}
    if set(ids) - found:
        raise bad("members", f"人员不存在或已停用：{sorted(set(ids) - found)}", f"no such active person: {sorted(set(ids) - found)}")
    values = {"kind": data.kind, "area_id": area.id if area else None, "on_duty": data.on_duty,
              "members": json.dumps([m.model_dump() for m in data.members], ensure_ascii=False),
              "updated_at": events.now_ms(), "active": True}
    with events.recording(actor) as rec:
        t = Team.get_or_none(Team.name == data.name)
        if t is None:
            t = Team.create(name=data.name, **values)
        else:
            Team.update(**values).where(Team.id == t.id).execute()
            t = Team.get_by_id(t.id)
        rec.emit("emergency.team_saved", entity=("emergency_team", t.id), payload=team_dict(t))
    return t


def teams() -> list[Team]:
    return list(Team.select().where(Team.active).order_by(Team.name))


# ---------------------------------------------------------------- plans (预案)

class StepIn(In):
    code: str = Field(pattern=r"^[a-z0-9_]{1,32}$")
    text: str = Field(min_length=1, max_length=200)
    text_en: str = Field("", max_length=200)
    role: str = Field("", max_length=40)


class PlanIn(In):
    code: str = Field(pattern=r"^[A-Za-z0-9_-]{1,32}$")
    scenario: str
    name: str = Field(min_length=1, max_length=100)
    level: str = Field("现场处置方案", max_length=40)
    steps: list[StepIn] = Field(min_length=1, max_length=40)


def plan_dict(p: Plan) -> dict:
    return {"id": p.id, "code": p.code, "scenario": p.scenario, "name": p.name, "level": p.level,
            "steps": json.loads(p.steps), "active": bool(p.active)}


def save_plan(data: PlanIn, *, actor: str) -> Plan:
    if data.scenario not in SCENARIOS:
        raise bad("scenario", f"场景应为 {'、'.join(SCENARIOS)} 之一", f"scenario must be one of {', '.join(SCENARIOS)}")
    codes = [s.code for s in data.steps]
    if len(set(codes)) != len(codes):
        raise bad("steps", "步骤编码重复", "a step code is repeated")
    values = {"scenario": data.scenario, "name": data.name, "level": data.level,
              "steps": json.dumps([s.model_dump() for s in data.steps], ensure_ascii=False), "updated_at": events.now_ms(),
              "active": True}
    with events.recording(actor) as rec:
        p = Plan.get_or_none(Plan.code == data.code)
        if p is None:
            p = Plan.create(code=data.code, **values)
        else:
            Plan.update(**values).where(Plan.id == p.id).execute()
            p = Plan.get_by_id(p.id)
        rec.emit("emergency.plan_saved", entity=("emergency_plan", p.id), payload=plan_dict(p))
    return p


def plans() -> list[Plan]:
    return list(Plan.select().where(Plan.active).order_by(Plan.code))


def plan_for(scenario: str) -> Plan | None:
    return Plan.select().where((Plan.scenario == scenario) & Plan.active).order_by(Plan.id).first()


def get_plan(plan_id: int) -> Plan:
    p = Plan.get_or_none(Plan.id == plan_id)
    if p is None:
        raise NotFound("预案不存在", "no such plan")
    if not p.active:
        raise bad("plan_id", "预案已停用", "the plan is retired")
    return p


# ---------------------------------------------------------------- retiring (the tablet's master-data screens)

RETIRABLE: dict[str, tuple[Any, str]] = {"resource": (Resource, "code"), "point": (AssemblyPoint, "code"),
                                         "team": (Team, "id"), "plan": (Plan, "code")}


def retire(kind: str, key: str | int, *, actor: str) -> dict:
    """No longer offered (dispatch, routes, new incidents, drills); the row stays for the records that name it.
    A later save of the same code brings it back."""
    model, field = RETIRABLE[kind]
    row = model.get_or_none((getattr(model, field) == key) & model.active)
    if row is None:
        raise NotFound("记录不存在或已停用", "no such record in use")
    with events.recording(actor) as rec:
        model.update(active=False).where(model.id == row.id).execute()
        rec.emit(f"emergency.{kind}_retired", entity=(f"emergency_{kind}", row.id),
                 payload={"id": row.id, "key": key, "name": getattr(row, "name", None)})
    return {"id": row.id, "retired": True}
