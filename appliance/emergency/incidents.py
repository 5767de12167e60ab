"""Incidents and musters, stored. A level-2 gas alarm (an `alarm.raised` event on the bus) opens an incident
draft in the same bus delivery: the detectors and area, the gas, who was seen there and next door in the last
`NEAR_WINDOW_MIN` minutes (patrol taps, gate entries, permit sign-ins), the permits there (which the permits
domain has suspended on that same event, before us in ENABLED), the nearest resources and teams by walk
distance, the downwind areas and the evacuation route to an assembly point that avoids them. A muster starts
with it; a badge tap at an assembly point's reader (a `patrol.tap`, the same path patrol uses) marks that
person present. A drill does all of this from a plan, marked DRILL, and never writes an alarm record."""
from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable
from datetime import datetime
from zoneinfo import ZoneInfo

from pydantic import Field

from appliance.core import events
from appliance.core.errors import Conflict, NotFound
from appliance.core.people import Area, Person
from appliance.emergency import rules as R
from appliance.emergency import setup as S
from appliance.emergency.models import AssemblyPoint, Drill, Incident, Muster, MusterMark, Plan

log = logging.getLogger(__name__)

NEAR_WINDOW_MIN = 30          # "people near": seen in the last 30 minutes
MUSTER_WINDOW_H = 12          # expected at a muster: seen on site in the last 12 hours (one shift)
LIVE_PERMITS = ("approved", "briefed", "active", "suspended")


class ManualIn(S.In):
    kind: str = "leak"
    area: str = Field(min_length=1, max_length=32)
    title: str = Field("", max_length=200)
    gas: str | None = Field(None, max_length=20)
    wind_from: float | None = Field(None, ge=0, lt=360)


class DrillIn(S.In):
    plan_id: int = Field(gt=0)
    area: str = Field(min_length=1, max_length=32)
    form: str = Field("practical", pattern="^(practical|tabletop)$")
    gas: str | None = Field(None, max_length=20)
    wind_from: float | None = Field(None, ge=0, lt=360)


class WindIn(S.In):
    """A person's wind (kept until a person changes it), or `follow`: hand it back to the weather point."""
    wind_from: float | None = Field(None, ge=0, lt=360)
    follow: bool = False


class NoteIn(S.In):
    note: str = Field("", max_length=500)


class MarkIn(S.In):
    person_id: int = Field(gt=0)


# ---------------------------------------------------------------- wind from a weather point

_wind_source: Callable[[], float | None] | None = None
_wind_last: tuple[float, int] | None = None     # the point's last good reading and when (ms), for a fault's display


def configure_wind(source: Callable[[], float | None] | None) -> None:
    """Where the draft reads the wind when nobody typed one in ([emergency] wind_point; None: nowhere)."""
    global _wind_source, _wind_last
    _wind_source, _wind_last = source, None


def wind_point_configured() -> bool:
    return _wind_source is not None


def wind_view(now: int | None = None) -> dict:
    """The weather point as the screens show it: state ok|fault|none, the last good value and its age."""
    if _wind_source is None:
        return {"state": "none", "value": None, "at": None, "age_s": None}
    now = events.now_ms() if now is None else now
    v = sensor_wind()
    last = _wind_last
    return {"state": "ok" if v is not None else "fault", "value": last[0] if last else None,
            "at": last[1] if last else None, "age_s": round((now - last[1]) / 1000) if last else None}


def sensor_wind() -> float | None:
    """The weather point's wind direction now (degrees FROM, 0–360), or None: no point, no fresh reading,
    or a reading that is not a direction. A fault here never stops the draft: the wind is then unknown."""
    if _wind_source is None:
        return None
    try:
        v = _wind_source()
    except Exception:
        log.exception("wind point unreadable")
        return None
    if v is None or not 0 <= v <= 360:
        return None
    global _wind_last
    _wind_last = (float(v) % 360, events.now_ms())
    return float(v) % 360


# ---------------------------------------------------------------- who was where

def sightings(since: int) -> list[R.Sighting]:
    """Every place a person was seen since `since`: patrol taps at checkpoints, gate entries, sign-ins on a
    permit (its area), and taps at assembly points."""
    from appliance.contractors.models import GateEntry
    from appliance.patrol.models import Checkpoint, PatrolTap
    from appliance.permits.service import Permit, Presence

    codes = S.area_codes()
    cp_area = {c.id: codes.get(c.area_id) for c in Checkpoint.select()}
    reader_area = {c.reader: codes.get(c.area_id) for c in Checkpoint.select() if c.reader}
    reader_area.update({p.reader: codes.get(p.area_id) for p in AssemblyPoint.select() if p.reader})
    gate = Area.get_or_none((Area.kind == "gate") & Area.active)
    out = []
    for t in PatrolTap.select().where((PatrolTap.at >= since) & PatrolTap.person_id.is_null(False)
                                      & PatrolTap.outcome.in_(("ok", "outside_round", "repeat", "reader_login"))):
        area = cp_area.get(t.checkpoint_id) if t.checkpoint_id else reader_area.get(t.reader)
        if area and t.person_id is not None:
            out.append(R.Sighting(t.person_id, area, t.at, "patrol"))
    for e in GateEntry.select().where((GateEntry.at >= since) & GateEntry.person_id.is_null(False)
                                      & (GateEntry.decision != "refused")):
        if e.person_id is None:
            continue
        out.append(R.Sighting(e.person_id, reader_area.get(e.reader) or (gate.code if gate else None), e.at,
                              "gate" if e.direction == "in" else "gate_out"))
    permit_area = {p.id: codes.get(p.area_id) for p in Permit.select().where(Permit.state.in_(LIVE_PERMITS))}
    for x in Presence.select().where((Presence.at >= since) & Presence.permit_id.in_(list(permit_area) or [0])):
        out.append(R.Sighting(x.person_id, permit_area[x.permit_id], x.at, "permit"))
    return out


def _names(ids) -> dict[int, Person]:
    ids = list(ids)
    return {p.id: p for p in Person.select().where(Person.id.in_(ids))} if ids else {}


def _sighting_dict(s: R.Sighting, people: dict[int, Person]) -> dict:
    p = people.get(s.person_id)
    return {"person": p.name if p else None, "person_id": s.person_id, "employee_no": p.employee_no if p else None,
            "area": s.area, "last_seen_at": s.at, "source": s.source}


# ---------------------------------------------------------------- the draft

def draft(area: Area, gas_kind: str | None, kind: str, wind_from: float | None, now: int) -> dict:
    """Everything the commander needs about `area` now (the incident's snapshot)."""
    from appliance.permits.service import Permit

    graph = S.edges()
    centres = S.centres()
    down = R.downwind(area.code, centres, wind_from)
    affected = {area.code} | down
    near_areas = affected | R.neighbours(graph, area.code)
    people = R.people_near(sightings(now - NEAR_WINDOW_MIN * R.MIN), near_areas, now - NEAR_WINDOW_MIN * R.MIN)
    names = _names(s.person_id for s in people)
    codes = S.area_codes()
    permits = [{"id": p.id, "no": p.no, "type": p.type, "area": codes.get(p.area_id), "state": p.state,
                "location": p.location, "suspended_reason": p.suspended_reason}
               for p in Permit.select().where(Permit.state.in_(LIVE_PERMITS)
                                              & Permit.area_id.in_([a for a, c in codes.items() if c in near_areas]))]
    dist = R.distances(graph, area.code)
    needed = R.NEEDED.get(gas_kind or "", R.NEEDED.get(kind, R.NEEDED["combustible"]))
    res = {r.id: r for r in S.resources()}
    ranked = R.rank_resources([S.as_rule(r, codes) for r in res.values()], dist, needed, now)
    teams = sorted(((t, dist.get(codes.get(t.area_id or 0, ""), 1e9)) for t in S.teams()),
                   key=lambda x: (not x[0].on_duty, x[1]))
    pts = {codes.get(p.area_id): p for p in S.points()}
    path = R.route(graph, area.code, [c for c in pts if c], affected)
    return {
        "affected": sorted(affected), "downwind": sorted(down), "wind_from": wind_from, "near_areas": sorted(near_areas),
        "people_near": [_sighting_dict(s, names) for s in people],
        "permits": permits,
        "resources": [S.resource_dict(res[r.id], codes, now, m) for r, m in ranked],
        "teams": [S.team_dict(t, codes, m if m < 1e9 else None) for t, m in teams[:3]],
        "route": {"areas": path[0], "metres": round(path[1]), "assembly_point": S.point_dict(pts[path[0][-1]], codes),
                  "points": [list(centres[c]) for c in path[0] if c in centres]} if path else None,
        "window_min": NEAR_WINDOW_MIN,
    }


def incident_dict(i: Incident, full: bool = True) -> dict:
    area = Area.get_or_none(Area.id == i.area_id)
    snap = json.loads(i.snapshot)
    out = {"id": i.id, "kind": i.kind, "drill": bool(i.drill), "state": i.state, "source": i.source,
           "area": area.code if area else None, "area_name": area.name if area else None,
           "area_name_en": (area.name_en or area.name) if area else None, "title": i.title,
           "opened_at": i.opened_at, "closed_at": i.closed_at, "gas": i.gas, "wind_from": i.wind_from,
           "detectors": json.loads(i.detectors), "people_near": snap.get("people_near", []),
           "resources": snap.get("resources", []), "wind_source": snap.get("wind_source")}
    if full:
        plan = Plan.get_or_none(Plan.id == i.plan_id) if i.plan_id else None
        done = json.loads(i.steps)
        out.update({k: snap.get(k) for k in ("affected", "downwind", "near_areas", "permits", "teams", "route",
                                             "window_min")})
        out["plan"] = {"id": plan.id, "code": plan.code, "name": plan.name} if plan else None
        out["steps"] = [{**s, **done.get(s["code"], {}), "done": s["code"] in done}
                        for s in (json.loads(plan.steps) if plan else [])]
        out["opened_by"], out["close_note"] = i.opened_by, i.close_note
        out["wind_point"] = wind_view() if out["wind_source"] == "sensor" else None
        m = Muster.get_or_none(Muster.incident_id == i.id)
        out["muster"] = roll(m) if m else None
    return out


def get(incident_id: int) -> Incident:
    i = Incident.get_or_none(Incident.id == incident_id)
    if i is None:
        raise NotFound("事件不存在", "no such incident")
    return i


def _gas_kind(gas: str | None) -> str | None:
    from appliance.gas.gases import GASES

    g = GASES.get(gas or "")
    return g.kind if g else None


def _open(rec, *, kind: str, area: Area, title: str, source: str, drill: bool, detectors: list[dict],
          gas: str | None, wind_from: float | None, plan: Plan | None, actor: str, at: int) -> Incident:
    now = events.now_ms()
    # typed by a person: kept until a person changes it; else the weather point's, followed while open
    wind_source = "manual" if wind_from is not None else ("sensor" if wind_point_configured() else None)
    if wind_from is None:
        wind_from = sensor_wind()
    snap = draft(area, _gas_kind(gas), kind, wind_from, now)
    snap["wind_source"] = wind_source
    i = Incident.create(kind=kind, drill=drill, state="open", source=source, area_id=area.id, title=title,
                        detectors=json.dumps(detectors, ensure_ascii=False), gas=gas, wind_from=wind_from,
                        plan_id=plan.id if plan else None, snapshot=json.dumps(snap, ensure_ascii=False), steps="{}",
                        opened_at=at, opened_by=actor, updated_at=now)
    d = incident_dict(i, full=False)
    rec.emit("emergency.incident_opened", entity=("emergency_incident", i.id), occurred_at=at,
             payload={**d, "area_name": area.name, "route": snap["route"], "downwind": snap["downwind"],
                      "permits": snap["permits"], "teams": snap["teams"]})
    start_muster(rec, i, now)
    return i


def on_alarm(ev) -> Incident | None:
    """Bus subscriber: a level-2 `alarm.raised` (not shelved) opens an incident draft for its area, or adds the
    detector to the area's open incident."""
    p = ev.payload
    if ev.type != "alarm.raised" or p.get("level") != 2 or p.get("shelved") or not p.get("area"):
        return None
    area = Area.get_or_none(Area.code == p["area"])
    if area is None:
        return None
    det = {k: p.get(k) for k in ("point", "name", "name_en", "gas", "level", "value", "unit", "alarm_id", "over_range")}
    with events.recording("system:emergency") as rec:
        i = Incident.get_or_none((Incident.state == "open") & (Incident.area_id == area.id) & ~Incident.drill)
        if i is not None:
            dets = json.loads(i.detectors)
            if all(d.get("point") != det["point"] for d in dets):
                dets.append(det)
                Incident.update(detectors=json.dumps(dets, ensure_ascii=False), updated_at=events.now_ms()) \
                    .where(Incident.id == i.id).execute()
                rec.emit("emergency.incident_updated", entity=("emergency_incident", i.id),
                         payload={"id": i.id, "area": area.code, "detector": det, "drill": False})
            return i
        scenario = "leak"
        return _open(rec, kind=scenario, area=area, title=f"{area.name} {p.get('name') or p.get('point')} 二级报警",
                     source="alarm", drill=False, detectors=[det], gas=p.get("gas"), wind_from=None,
                     plan=S.plan_for(scenario), actor="system:emergency", at=ev.occurred_at)


def open_manual(data: ManualIn, *, actor: str) -> Incident:
    """A manual call (anyone may raise it): the same draft without a detector."""
    if data.kind not in S.KINDS:
        raise S.bad("kind", f"类型应为 {'、'.join(S.KINDS)} 之一", f"kind must be one of {', '.join(S.KINDS)}")
    area = S.area_by_code(data.area)
    with events.recording(actor) as rec:
        return _open(rec, kind=data.kind, area=area, title=data.title or f"{area.name} 人工报警", source="manual",
                     drill=False, detectors=[], gas=data.gas, wind_from=data.wind_from,
                     plan=S.plan_for(data.kind) if data.kind in S.SCENARIOS else None, actor=actor,
                     at=events.now_ms())


def start_drill(data: DrillIn, *, actor: str) -> tuple[Incident, Drill]:
    """演练: the plan run as a scenario on the live screens, marked DRILL; the simulated detector lives only in
    the incident record (no alarm row, no alarm.* event)."""
    plan = S.get_plan(data.plan_id)
    area = S.area_by_code(data.area)
    now = events.now_ms()
    with events.recording(actor) as rec:
        # a drill's muster would be the newest and collect the taps of real people at the assembly point
        if Muster.select().where(Muster.ended_at.is_null() & ~Muster.drill).exists():
            raise Conflict("真实事件的集合清点正在进行，不能开始演练（先关闭该事件）",
                           "a real incident's muster is open: no drill until that incident is closed")
        det = [{"point": "DRILL", "name": "演练模拟报警", "name_en": "drill (simulated)", "gas": data.gas, "level": 2,
                "simulated": True}]
        i = _open(rec, kind=plan.scenario, area=area, title=f"【演练 DRILL】{plan.name}", source="drill", drill=True,
                  detectors=det, gas=data.gas, wind_from=data.wind_from, plan=plan, actor=actor, at=now)
        d = Drill.create(plan_id=plan.id, incident_id=i.id, form=data.form, started_at=now, findings="[]")
        rec.emit("emergency.drill_started", entity=("emergency_drill", d.id),
                 payload={"id": d.id, "incident_id": i.id, "plan": plan.name, "area": area.code, "form": data.form,
                          "drill": True})
    return i, d


def set_wind(incident_id: int, data: WindIn, *, actor: str) -> Incident:
    """Wind entered by a person (kept until a person changes it), or handed back to the weather point
    (`follow`: its reading now, then followed): the downwind areas and the route are worked out again."""
    if data.follow:
        if not wind_point_configured():
            raise S.bad("follow", "未配置气象点（[emergency] wind_point）", "no weather point is configured ([emergency] wind_point)")
        return apply_wind(incident_id, sensor_wind(), source="sensor", actor=actor)
    return apply_wind(incident_id, data.wind_from, source="manual", actor=actor)


def apply_wind(incident_id: int, wind_from: float | None, *, source: str | None, actor: str,
               expect_source: str | None = None) -> Incident:
    """Redraw the incident for `wind_from` (one transaction: the snapshot and an `emergency.incident_updated`
    event with the wind before and after and where it came from). `expect_source`: only while the incident's
    wind still comes from there (a person's wind typed meanwhile is not overwritten by the follower)."""
    with events.recording(actor) as rec:
        i = _live(incident_id)
        area = Area.get_by_id(i.area_id)
        old = json.loads(i.snapshot)
        if expect_source is not None and old.get("wind_source") != expect_source:
            return i
        snap = draft(area, _gas_kind(i.gas), i.kind, wind_from, events.now_ms())
        snap["people_near"] = old.get("people_near", snap["people_near"])   # who was there when it began
        snap["wind_source"] = source
        Incident.update(wind_from=wind_from, snapshot=json.dumps(snap, ensure_ascii=False),
                        updated_at=events.now_ms()).where(Incident.id == i.id).execute()
        rec.emit("emergency.incident_updated", entity=("emergency_incident", i.id),
                 payload={"id": i.id, "area": area.code, "change": "wind", "wind_from": wind_from,
                          "wind_before": i.wind_from, "wind_source": source, "downwind": snap["downwind"],
                          "route": snap["route"], "drill": bool(i.drill)})
    return get(incident_id)


def _live(incident_id: int) -> Incident:
    i = get(incident_id)
    if i.state != "open":
        raise Conflict("事件已关闭", "the incident is closed")
    return i


def step_done(incident_id: int, code: str, *, actor: str) -> Incident:
    """A checklist step done (its time kept: a drill is timed step by step from its start)."""
    with events.recording(actor) as rec:
        i = _live(incident_id)
        plan = Plan.get_or_none(Plan.id == i.plan_id) if i.plan_id else None
        steps = {s["code"]: s for s in json.loads(plan.steps)} if plan else {}
        if code not in steps:
            raise S.bad("step", "预案中没有此步骤", "the plan has no such step")
        done = json.loads(i.steps)
        if code in done:
            raise Conflict("此步骤已完成", "this step is done already")
        now = events.now_ms()
        done[code] = {"at": now, "by": actor, "elapsed_s": round((now - i.opened_at) / 1000)}
        Incident.update(steps=json.dumps(done), updated_at=now).where(Incident.id == i.id).execute()
        rec.emit("emergency.step_done", entity=("emergency_incident", i.id),
                 payload={"id": i.id, "step": code, "text": steps[code]["text"], "elapsed_s": done[code]["elapsed_s"],
                          "drill": bool(i.drill)})
    return get(incident_id)


def close(incident_id: int, data: NoteIn, *, actor: str) -> Incident:
    with events.recording(actor) as rec:
        i = _live(incident_id)
        now = events.now_ms()
        Incident.update(state="closed", closed_at=now, closed_by=actor, close_note=data.note, updated_at=now) \
            .where(Incident.id == i.id).execute()
        Muster.update(ended_at=now).where((Muster.incident_id == i.id) & Muster.ended_at.is_null()).execute()
        d = Drill.get_or_none(Drill.incident_id == i.id)
        if d is not None and d.ended_at is None:
            Drill.update(ended_at=now).where(Drill.id == d.id).execute()
        rec.emit("emergency.incident_closed", entity=("emergency_incident", i.id),
                 payload={"id": i.id, "area": incident_dict(i, False)["area"], "note": data.note, "drill": bool(i.drill)})
    return get(incident_id)


def open_incidents() -> list[Incident]:
    return list(Incident.select().where(Incident.state == "open").order_by(Incident.drill, Incident.id.desc()))


# ---------------------------------------------------------------- muster (集合点清点)

def start_muster(rec, i: Incident, now: int) -> Muster:
    """Who is expected: everyone seen on site in the last shift and not since out of the gate, where last seen."""
    seen = R.latest(sightings(now - MUSTER_WINDOW_H * R.H))
    expected = [{"person_id": s.person_id, "area": s.area, "at": s.at, "source": s.source}
                for s in seen.values() if s.source != "gate_out"]
    m = Muster.create(incident_id=i.id, drill=i.drill, started_at=now, expected=json.dumps(expected))
    counts = roll(m)
    rec.emit("emergency.muster_started", entity=("emergency_muster", m.id),
             payload={"id": m.id, "incident_id": i.id, "expected": counts["expected"], "present": counts["present"],
                      "drill": bool(i.drill)})
    return m


def current_muster() -> Muster | None:
    """The open muster taps count for: a real one before any drill (a real incident opened during a drill
    takes the assembly point), the newest of those."""
    return Muster.select().where(Muster.ended_at.is_null()).order_by(Muster.drill, Muster.id.desc()).first()


def roll(m: Muster | None) -> dict:
    """The contract's muster: {expected, present, missing: [{person, person_id, area, last_seen_at}], …}."""
    if m is None:
        return {"expected": 0, "present": 0, "missing": [], "per_area": [], "extra": [], "muster_id": None,
                "incident_id": None, "drill": False, "all_accounted": True}
    expected = {e["person_id"]: R.Sighting(e["person_id"], e["area"], e["at"], e["source"])
                for e in json.loads(m.expected)}
    marks = {x.person_id: x for x in MusterMark.select().where(MusterMark.muster_id == m.id)}
    r = R.muster(expected, {pid: x.at for pid, x in marks.items()})
    people = _names(set(expected) | set(marks))
    pts = {p.id: p for p in AssemblyPoint.select()}
    names = S.area_names()
    return {"muster_id": m.id, "incident_id": m.incident_id, "drill": bool(m.drill), "started_at": m.started_at,
            "ended_at": m.ended_at, "expected": r["expected"], "present": r["present"],
            "all_accounted": r["all_accounted"],
            "missing": [_sighting_dict(s, people) for s in r["missing"]],
            "extra": [{"person_id": pid, "person": people[pid].name if pid in people else None} for pid in r["extra"]],
            "per_area": [{"area": a, "area_name": names.get(a, (a, a))[0], "area_name_en": names.get(a, (a, a))[1], **c}
                         for a, c in sorted(r["per_area"].items(), key=lambda x: x[0] or "")],
            "present_list": [{"person_id": pid, "person": people[pid].name if pid in people else None,
                              "employee_no": people[pid].employee_no if pid in people else None, "at": x.at,
                              "how": x.how, "point": pts[x.point_id].code if x.point_id in pts else None}
                             for pid, x in sorted(marks.items(), key=lambda kv: kv[1].at)]}


def local_time(ms: int | None, tz: str) -> str:
    """UTC milliseconds as the plant's wall-clock time ("2026-03-01 14:05:09"), for exports read by people."""
    if ms is None:
        return ""
    return datetime.fromtimestamp(ms / 1000, ZoneInfo(tz)).strftime("%Y-%m-%d %H:%M:%S")


def mark(person_id: int, *, how: str, point: AssemblyPoint | None, at: int, actor: str) -> dict | None:
    """A person present at the current muster (once); returns the new counts, None if none is running or they
    were marked already."""
    with events.recording(actor) as rec:
        m = current_muster()
        if m is None:
            return None
        if MusterMark.get_or_none((MusterMark.muster_id == m.id) & (MusterMark.person_id == person_id)):
            return None
        person = Person.get_or_none(Person.id == person_id)
        if person is None:
            raise S.bad("person_id", "人员不存在", "no such person")
        MusterMark.create(muster_id=m.id, person_id=person_id, point_id=point.id if point else None, how=how, at=at)
        r = roll(m)
        rec.emit("emergency.mustered", entity=("emergency_muster", m.id), occurred_at=at,
                 payload={"muster_id": m.id, "incident_id": m.incident_id, "person_id": person_id,
                          "person": person.name, "point": point.code if point else None, "how": how,
                          "expected": r["expected"], "present": r["present"], "missing": len(r["missing"]),
                          "all_accounted": r["all_accounted"], "drill": bool(m.drill)})
    return r


def on_tap(ev) -> dict | None:
    """Bus subscriber: a badge tap (patrol owns every reader) at an assembly point's reader marks its holder."""
    p = ev.payload
    if ev.type != "patrol.tap" or not p.get("person_id") or p.get("status") == "refused":
        return None
    point = AssemblyPoint.get_or_none((AssemblyPoint.reader == p.get("reader")) & AssemblyPoint.active)
    if point is None:
        return None
    for attempt in range(5):   # a busy database is retried, as the gate does
        try:
            return mark(p["person_id"], how="tap", point=point, at=ev.occurred_at, actor=f"device:reader:{point.reader}")
        except Exception:
            if attempt == 4:
                log.exception("muster tap not recorded", extra={"reader": point.reader})
            else:
                time.sleep(0.2 * 2 ** attempt)
    return None


SUBSCRIBED = ("alarm.raised", "patrol.tap")   # the event types `subscriber` acts on


def subscriber(ev) -> None:
    """The domain's one bus subscriber."""
    if ev.type == "alarm.raised":
        on_alarm(ev)
    elif ev.type == "patrol.tap":
        on_tap(ev)
