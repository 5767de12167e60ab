"""The records of one window that the cockpit's figures count, read from the other domains' tables (bounded
by the window's times, never all history). `service.facts` builds the KPIs' facts from exactly these lists
and `drill` lists them per tile, so a tile and its drill-down cannot disagree.

Each record is a small dict: `id`, `at` (the time that puts it in the window) and the fields the KPI rules
need. The names shown on the drill-down page (area, route, measure, person) are looked up by `drill` for the
page it shows only, so the cockpit's own reads stay lean."""
from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any, cast

from appliance.core import events


def rows(query) -> list[tuple[Any, ...]]:
    """A peewee select's rows as plain tuples (typed for the checker, which sees model instances)."""
    return list(cast(Iterable[tuple[Any, ...]], query.tuples()))


def hazards(since: int, until: int) -> list[dict]:
    """Hazards reported in the window, duplicates left out (`hazards.service.counted`): a duplicate report
    is the same hazard again, not found twice and never rectified."""
    from appliance.hazards.service import Hazard, counted

    q = (Hazard.select(Hazard.id, Hazard.reported_at, Hazard.state, Hazard.deadline, Hazard.accepted_at,
                       Hazard.recurrence_of, Hazard.grade, Hazard.area_id)
         .where((Hazard.reported_at >= since) & (Hazard.reported_at < until) & counted()))
    return [{"id": i, "at": t, "state": s, "deadline": d, "accepted_at": a, "recurrence_of": r, "grade": g,
             "area_id": area} for i, t, s, d, a, r, g, area in rows(q)]


def tasks(since: int, until: int) -> list[dict]:
    """Control tasks whose period ended in (since, until] (the same window rule as risk.tasks.rates)."""
    from appliance.risk.tasks import ControlTask

    q = (ControlTask.select(ControlTask.id, ControlTask.period_end, ControlTask.status, ControlTask.measure_id,
                            ControlTask.department, ControlTask.assignee)
         .where((ControlTask.period_end > since) & (ControlTask.period_end <= until)))
    return [{"id": i, "at": t, "status": s, "measure_id": m, "department": d, "assignee": a}
            for i, t, s, m, d, a in rows(q)]


def rounds(since: int, until: int) -> list[dict]:
    """Patrol rounds closed whose due time ended in the window, with the checkpoints never tapped."""
    from appliance.patrol.models import Round

    q = (Round.select(Round.id, Round.due_end, Round.status, Round.verdict, Round.route_id)
         .where(Round.closed & (Round.due_end >= since) & (Round.due_end < until)))
    return [{"id": i, "at": t, "status": s, "missed": list(json.loads(v or "{}").get("missed", [])), "route_id": r}
            for i, t, s, v, r in rows(q)]


def alarms(since: int, until: int) -> list[dict]:
    """Gas alarms raised in the window."""
    from appliance.gas.sensors import Alarm

    q = (Alarm.select(Alarm.id, Alarm.raised_at, Alarm.point, Alarm.level, Alarm.cleared_at)
         .where((Alarm.kind == "gas") & (Alarm.raised_at >= since) & (Alarm.raised_at < until)))
    return [{"id": i, "at": t, "point": p, "level": lv, "cleared_at": c} for i, t, p, lv, c in rows(q)]


def standing() -> list[dict]:
    """Gas alarms active now (not cleared), whenever raised."""
    from appliance.gas.sensors import Alarm

    q = (Alarm.select(Alarm.id, Alarm.raised_at, Alarm.point, Alarm.level, Alarm.cleared_at)
         .where(Alarm.cleared_at.is_null() & (Alarm.kind == "gas")))
    return [{"id": i, "at": t, "point": p, "level": lv, "cleared_at": c} for i, t, p, lv, c in rows(q)]


def violations(since: int, until: int) -> list[dict]:
    """Confirmed PPE violations that occurred in the window."""
    from appliance.vision.violations import Violation

    q = (Violation.select(Violation.id, Violation.occurred_at, Violation.camera, Violation.zone, Violation.area)
         .where((Violation.state == "confirmed") & (Violation.occurred_at >= since) & (Violation.occurred_at < until)))
    return [{"id": i, "at": t, "camera": c, "zone": z, "area": a} for i, t, c, z, a in rows(q)]


def accidents(since: int, until: int) -> list[dict]:
    """Accidents that occurred in the window (by when they occurred)."""
    from appliance.emergency.models import Accident

    q = (Accident.select(Accident.id, Accident.occurred_at, Accident.deaths, Accident.serious_injuries,
                         Accident.minor_injuries, Accident.title, Accident.grade, Accident.area_id)
         .where((Accident.occurred_at >= since) & (Accident.occurred_at < until)))
    return [{"id": i, "at": t, "deaths": d, "serious": s, "minor": m, "title": title, "grade": g, "area_id": a}
            for i, t, d, s, m, title, g, a in rows(q)]


def suspensions(since: int, until: int) -> list[dict]:
    """Permit suspensions (`permit.suspended` events) in the window, and whether the gas interlock did it."""
    E = events.Event
    q = (E.select(E.seq, E.occurred_at, E.entity_id, E.payload)
         .where((E.type == "permit.suspended") & (E.occurred_at >= since) & (E.occurred_at < until)))
    out = []
    for seq, t, permit, payload in rows(q):
        p = json.loads(payload or "{}")
        out.append({"id": seq, "at": t, "permit_id": int(permit) if permit and str(permit).isdigit() else None,
                    "interlock": bool(p.get("interlock")), "no": p.get("no"), "type": p.get("type"),
                    "area": p.get("area"), "location": p.get("location"), "reason": p.get("suspended_reason") or ""})
    return out


def gate(since: int, until: int) -> list[dict]:
    """Contractor gate entries in the window with their decision."""
    from appliance.contractors.models import GateEntry

    q = (GateEntry.select(GateEntry.id, GateEntry.at, GateEntry.decision, GateEntry.reader, GateEntry.firm_id,
                          GateEntry.person_id, GateEntry.reason, GateEntry.direction)
         .where((GateEntry.at >= since) & (GateEntry.at < until)))
    return [{"id": i, "at": t, "decision": d, "reader": r, "firm_id": f, "person_id": p, "reason": why,
             "direction": dr} for i, t, d, r, f, p, why, dr in rows(q)]


def certificates_expiring(horizon_days: int) -> list[dict]:
    """Certificates lapsing within `horizon_days` (lapsed ones not revoked included): the training domain's
    own listing."""
    from appliance.training.certificates import listing

    return listing(expiring_within_days=horizon_days)
