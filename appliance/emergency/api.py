"""Emergency management over HTTP: incidents (the contract `GET /emergency/incidents?state=open`), the muster
(`GET /emergency/muster`, and the roll as CSV), drills, accidents, and the master data (walk graph,
assembly points, resources, teams, plans)."""
from __future__ import annotations

import csv
import io

from flask import Blueprint, Response, jsonify, request

from appliance.core.access import principal, require
from appliance.core.api import body
from appliance.core.errors import ValidationFailed
from appliance.emergency import accidents as A
from appliance.emergency import incidents as I
from appliance.emergency import setup as S
from appliance.emergency.models import Accident, Drill, Incident

api_bp = Blueprint("emergency_api", __name__, url_prefix="/api/v1")


# ---------------------------------------------------------------- incidents

@api_bp.get("/emergency/incidents")
@require("emergency.read")
def list_incidents():
    """?state=open|closed → {"incidents": [{id, kind, area, opened_at, people_near: [{person, area,
    last_seen_at}], resources: [...], …}]}"""
    q = Incident.select().order_by(Incident.id.desc())
    state = request.args.get("state")
    if state:
        if state not in ("open", "closed"):
            raise ValidationFailed("参数 state 应为 open 或 closed", "parameter state must be open or closed",
                                   details=[{"key": "state"}])
        q = q.where(Incident.state == state)
    return jsonify({"incidents": [I.incident_dict(i) for i in q.limit(200)]})


@api_bp.get("/emergency/incidents/<int:incident_id>")
@require("emergency.read")
def get_incident(incident_id: int):
    return jsonify(I.incident_dict(I.get(incident_id)))


@api_bp.post("/emergency/incidents")
@require("emergency.call")
def call():
    """A manual call: anyone with a login may raise it."""
    return jsonify(I.incident_dict(I.open_manual(body(I.ManualIn), actor=principal().actor))), 201


@api_bp.post("/emergency/incidents/<int:incident_id>/wind")
@require("emergency.command")
def wind(incident_id: int):
    return jsonify(I.incident_dict(I.set_wind(incident_id, body(I.WindIn), actor=principal().actor)))


@api_bp.post("/emergency/incidents/<int:incident_id>/steps/<code>")
@require("emergency.command")
def step(incident_id: int, code: str):
    return jsonify(I.incident_dict(I.step_done(incident_id, code, actor=principal().actor)))


@api_bp.post("/emergency/incidents/<int:incident_id>/close")
@require("emergency.command")
def close_incident(incident_id: int):
    return jsonify(I.incident_dict(I.close(incident_id, body(I.NoteIn), actor=principal().actor)))


# ---------------------------------------------------------------- muster

@api_bp.get("/emergency/muster")
@require("emergency.read")
def muster():
    """→ {"expected", "present", "missing": [{person, person_id, area, last_seen_at}], per_area, …} of the
    muster running now (zeros when none is)."""
    return jsonify(I.roll(I.current_muster()))


@api_bp.get("/emergency/muster.csv")
@require("emergency.read")
def muster_csv():
    """The roll, exportable: everyone expected or present with state, employee number, place and time in the
    plant's time zone (the site's; a warden reads it on paper), UTF-8 with BOM for Excel."""
    from appliance.core.people import site_timezone

    tz = site_timezone()
    r = I.roll(I.current_muster())
    out = io.StringIO()
    w = csv.writer(out)
    w.writerow(["状态 state", "姓名 person", "工号 employee no.", "最后出现区域 last area",
                f"最后出现时间 last seen ({tz})", "集合点 point", f"到达时间 at ({tz})"])
    for p in r.get("present_list", []):
        w.writerow(["present", p["person"], p["employee_no"] or "", "", "", p["point"] or p["how"],
                    I.local_time(p["at"], tz)])
    for m in r["missing"]:
        w.writerow(["missing", m["person"], m["employee_no"] or "", m["area"] or "", I.local_time(m["last_seen_at"], tz),
                    "", ""])
    return Response("\ufeff" + out.getvalue(), mimetype="text/csv",
                    headers={"Content-Disposition": "attachment; filename=muster.csv"})


@api_bp.post("/emergency/muster/marks")
@require("emergency.command")
def mark():
    """A person accounted for by hand (no badge, carried out, seen by the warden)."""
    data = body(I.MarkIn)
    from appliance.core import events

    r = I.mark(data.person_id, how="manual", point=None, at=events.now_ms(), actor=principal().actor)
    return jsonify(r if r is not None else I.roll(I.current_muster()))


# ---------------------------------------------------------------- drills

@api_bp.post("/emergency/drills")
@require("emergency.command")
def start_drill():
    i, d = I.start_drill(body(I.DrillIn), actor=principal().actor)
    return jsonify({"drill": A.drill_dict(d), "incident": I.incident_dict(i)}), 201


@api_bp.get("/emergency/drills")
@require("emergency.read")
def list_drills():
    return jsonify({"drills": [A.drill_dict(d) for d in Drill.select().order_by(Drill.id.desc()).limit(200)]})


@api_bp.post("/emergency/drills/<int:drill_id>/evaluation")
@require("emergency.command")
def evaluate_drill(drill_id: int):
    return jsonify(A.drill_dict(A.evaluate_drill(drill_id, body(A.EvaluationIn), actor=principal().actor)))


# ---------------------------------------------------------------- accidents

@api_bp.get("/emergency/accidents")
@require("emergency.read")
def list_accidents():
    return jsonify({"accidents": [A.accident_dict(a) for a in Accident.select().order_by(Accident.id.desc()).limit(200)]})


@api_bp.get("/emergency/accidents/<int:accident_id>")
@require("emergency.read")
def get_accident(accident_id: int):
    return jsonify(A.accident_dict(A._get(accident_id)))


@api_bp.post("/emergency/accidents")
@require("emergency.call")
def report_accident():
    return jsonify(A.accident_dict(A.report(body(A.AccidentIn), actor=principal().actor))), 201


@api_bp.post("/emergency/accidents/<int:accident_id>/reported")
@require("emergency.command")
def accident_reported(accident_id: int):
    return jsonify(A.accident_dict(A.mark_reported(accident_id, body(A.ReportedIn), actor=principal().actor)))


@api_bp.post("/emergency/accidents/<int:accident_id>/investigation")
@require("emergency.write")
def investigate(accident_id: int):
    return jsonify(A.accident_dict(A.investigate(accident_id, body(A.InvestigationIn), actor=principal().actor)))


@api_bp.post("/emergency/accidents/<int:accident_id>/corrective")
@require("emergency.write")
def corrective(accident_id: int):
    return jsonify(A.accident_dict(A.add_corrective(accident_id, body(A.CorrectiveIn), actor=principal().actor))), 201


@api_bp.post("/emergency/accidents/<int:accident_id>/links")
@require("emergency.write")
def link(accident_id: int):
    return jsonify(A.accident_dict(A.link(accident_id, body(A.LinkIn), actor=principal().actor)))


@api_bp.post("/emergency/accidents/<int:accident_id>/close")
@require("emergency.write")
def close_accident(accident_id: int):
    return jsonify(A.accident_dict(A.close(accident_id, actor=principal().actor)))


# ---------------------------------------------------------------- master data

@api_bp.get("/emergency/graph")
@require("emergency.read")
def get_graph():
    return jsonify(S.graph_dict())


@api_bp.put("/emergency/graph")
@require("emergency.write")
def put_graph():
    return jsonify(S.set_graph(body(S.GraphIn), actor=principal().actor))


@api_bp.get("/emergency/assembly-points")
@require("emergency.read")
def list_points():
    return jsonify({"assembly_points": [S.point_dict(p) for p in S.points()]})


@api_bp.post("/emergency/assembly-points")
@require("emergency.write")
def save_point():
    return jsonify(S.point_dict(S.save_point(body(S.PointIn), actor=principal().actor))), 201


@api_bp.get("/emergency/resources")
@require("emergency.read")
def list_resources():
    codes = S.area_codes()
    return jsonify({"resources": [S.resource_dict(r, codes) for r in S.resources()]})


@api_bp.post("/emergency/resources")
@require("emergency.write")
def save_resource():
    return jsonify(S.resource_dict(S.save_resource(body(S.ResourceIn), actor=principal().actor))), 201


@api_bp.get("/emergency/teams")
@require("emergency.read")
def list_teams():
    return jsonify({"teams": [S.team_dict(t) for t in S.teams()]})


@api_bp.post("/emergency/teams")
@require("emergency.write")
def save_team():
    return jsonify(S.team_dict(S.save_team(body(S.TeamIn), actor=principal().actor))), 201


@api_bp.get("/emergency/plans")
@require("emergency.read")
def list_plans():

    return jsonify({"plans": [S.plan_dict(p) for p in S.plans()]})


@api_bp.post("/emergency/plans")
@require("emergency.write")
def save_plan():
    return jsonify(S.plan_dict(S.save_plan(body(S.PlanIn), actor=principal().actor))), 201


# ---------------------------------------------------------------- resource warnings (the upkeep inbox)

@api_bp.get("/emergency/resource-warnings")
@require("emergency.read")
def resource_warnings():
    """→ {"warnings": [{resource, name, area, location, what: expiry|inspection, due_on, days_left, state,
    acked: {by, at}|null}], "counts": {open, acked, overdue, total}}"""
    from appliance.emergency import upkeep

    w = upkeep.open_warnings()
    return jsonify({"warnings": w, "counts": upkeep.counts(w)})


@api_bp.post("/emergency/resource-warnings/ack")
@require("emergency.command")
def ack_resource_warning():
    from appliance.emergency import upkeep

    return jsonify(upkeep.acknowledge(body(upkeep.AckIn), actor=principal().actor))


@api_bp.post("/emergency/resource-warnings/resolve")
@require("emergency.write")
def resolve_resource_warning():
    from appliance.emergency import upkeep

    return jsonify(upkeep.resolve(body(upkeep.ResolveIn), actor=principal().actor))


# ---------------------------------------------------------------- retiring master data

@api_bp.post("/emergency/resources/<code>/retire")
@require("emergency.write")
def retire_resource(code: str):
    return jsonify(S.retire("resource", code, actor=principal().actor))


@api_bp.post("/emergency/assembly-points/<code>/retire")
@require("emergency.write")
def retire_point(code: str):
    return jsonify(S.retire("point", code, actor=principal().actor))


@api_bp.post("/emergency/teams/<int:team_id>/retire")
@require("emergency.write")
def retire_team(team_id: int):
    return jsonify(S.retire("team", team_id, actor=principal().actor))


@api_bp.post("/emergency/plans/<code>/retire")
@require("emergency.write")
def retire_plan(code: str):
    return jsonify(S.retire("plan", code, actor=principal().actor))
