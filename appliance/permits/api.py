"""Special work permits over HTTP: the list and one permit (the contract other programs use), and each
step, by the roles GB 30871-2022 gives it (the service checks the grade's approval level and who)."""
from __future__ import annotations

from flask import Blueprint, current_app, jsonify, request

from appliance.core.access import principal, require
from appliance.core.api import body
from appliance.core.errors import ValidationFailed
from appliance.permits import rules as R
from appliance.permits import service as S

api_bp = Blueprint("permits_api", __name__, url_prefix="/api/v1")

STATES = R.STATES


def _person_id() -> int | None:
    from appliance.core import auth

    u = auth.User.get_or_none(auth.User.login == principal().name) if principal().kind == "user" else None
    return u.person_id if u else None


def _points() -> list[dict] | None:
    sensors = current_app.extensions["appliance"].sensors
    return sensors.view() if sensors is not None else None


@api_bp.get("/permits")
@require("board.read")
def list_permits():
    """?state=active|suspended|closed|… → {"permits": [{id, type, grade, area, state, valid_from, valid_to,
    suspended_reason}]}"""
    q = S.Permit.select().order_by(S.Permit.id.desc())
    state = request.args.get("state")
    if state:
        if state not in STATES:
            raise ValidationFailed(f"参数 state 应为 {'、'.join(STATES)} 之一", f"parameter state must be one of {', '.join(STATES)}",
                                   details=[{"key": "state"}])
        q = q.where(S.Permit.state == state)
    from appliance.core.people import Area

    areas = {a.id: a for a in Area.select()}
    return jsonify({"permits": [S.summary(p, areas) for p in q.limit(500)]})


@api_bp.get("/permits/<int:permit_id>")
@require("board.read")
def get_permit(permit_id: int):
    return jsonify(S.permit_dict(S.get(permit_id)))


@api_bp.get("/permits/rules")
@require("board.read")
def permit_rules():
    """The work types, their grades (approver level, validity) and measures lists, as the forms need them."""
    return jsonify({"standard": "GB 30871-2022", "types": [
        {"code": t, "zh": zh, "en": en,
         "grades": [{"code": g.code, "zh": g.zh, "en": g.en, "approver": g.approver, "validity_h": g.validity_ms / R.H}
                    for g in R.GRADES[t].values()],
         "measures": [{"code": c, "zh": mz, "en": me} for c, mz, me in R.MEASURES[t]]}
        for t, (zh, en) in R.TYPES.items()]})


def _cameras() -> dict[str, set[str]]:
    """The configured cameras → the area codes each covers (its own and its zones')."""
    return {c.name: {a for a in (c.area, *(z.area for z in c.zones)) if a}
            for c in current_app.config["APPLIANCE"].cameras}


@api_bp.get("/permits/board")
@require("board.read")
def permit_board():
    """The wall board's picture: the permits on site (briefed, active, suspended, expired after starting) with
    their countdowns
    (expiry, confined-space re-analysis), and per area the strongest SIMOPS verdict among them."""
    from appliance.core.people import Area
    from appliance.permits import onmap

    areas = {a.id: a for a in Area.select()}
    live = list(onmap.on_site().order_by(S.Permit.valid_to))
    per_area: dict[str, list[str]] = {}
    out = []
    for p in live:
        e = S.summary(p, areas)
        per_area.setdefault(e["area"] or "", []).append(p.type)
        out.append({**e, "reanalysis_due": R.reanalysis_due(p.type, p.last_pass_at) if p.state == "active" else None,
                    "violations": S.PermitViolation.select().where(S.PermitViolation.permit_id == p.id).count()})
    from appliance.permits import near

    relation = near.relation()   # SIMOPS one door away counts too (escalate)
    conflicts = {a: v for a, types in per_area.items()
                 if (v := R.area_conflict(types, [t for n in relation.get(a, ()) for t in per_area.get(n, [])]))}
    return jsonify({"permits": out, "simops": conflicts})


@api_bp.get("/permits/map")
@require("board.read")
def permit_map():
    """The risk map's layer (kiosk/_plan.html): per area the permits on site and its SIMOPS verdict, and each
    clashing pair with its verdict and whether the two are in one area or neighbouring ones."""
    from appliance.permits import onmap

    return jsonify(onmap.map_view())


@api_bp.post("/permits")
@require("permits.apply")
def apply_permit():
    return jsonify(S.permit_dict(S.apply(body(S.ApplyIn), actor=principal().actor, cameras=_cameras()))), 201


@api_bp.post("/permits/<int:permit_id>/measures")
@require("permits.operate")
def confirm_measures(permit_id: int):
    return jsonify(S.permit_dict(S.confirm_measures(permit_id, body(S.MeasuresIn), actor=principal().actor)))


@api_bp.post("/permits/<int:permit_id>/approve")
@require("permits.approve")
def approve_permit(permit_id: int):
    """The next level of the permit's approval chain approves (chain.py: in order, each by another person)."""
    from appliance.permits import approvals

    me = principal()
    return jsonify(S.permit_dict(approvals.approve(permit_id, actor=me.actor, role=me.role, person_id=_person_id(),
                                                   note=body(S.NoteIn).note)))


@api_bp.post("/permits/<int:permit_id>/reject")
@require("permits.approve")
def reject_permit(permit_id: int):
    """The pending level rejects the permit, with its reason: the permit ends (state rejected)."""
    from appliance.permits import approvals
    from appliance.permits.inputs import RejectIn

    me = principal()
    return jsonify(S.permit_dict(approvals.reject(permit_id, body(RejectIn).reason, actor=me.actor, role=me.role,
                                                  person_id=_person_id())))


@api_bp.post("/permits/<int:permit_id>/taps")
@require("permits.apply")
def tap_permit(permit_id: int):
    """A badge read at the site by a tablet or phone (NFC): verifies that person on the permit."""
    out = S.tap_at_device(permit_id, body(S.TapIn).uid, actor=principal().actor)
    return jsonify({**out, "permit": S.permit_dict(S.get(permit_id))})


@api_bp.post("/permits/<int:permit_id>/brief")
@require("permits.operate")
def brief_permit(permit_id: int):
    return jsonify(S.permit_dict(S.brief(permit_id, actor=principal().actor, note=body(S.NoteIn).note)))


@api_bp.post("/permits/<int:permit_id>/analyses")
@require("permits.operate")
def analyse_permit(permit_id: int):
    a = S.analyse(permit_id, body(S.AnalysisIn), actor=principal().actor, points=_points())
    return jsonify({"analysis": S.analysis_dict(a), "permit": S.permit_dict(S.get(permit_id))}), 201


@api_bp.post("/permits/<int:permit_id>/start")
@require("permits.operate")
def start_permit(permit_id: int):
    return jsonify(S.permit_dict(S.start(permit_id, actor=principal().actor)))


@api_bp.post("/permits/<int:permit_id>/suspend")
@require("permits.suspend")
def suspend_permit(permit_id: int):
    """Anyone on the job (the guardian above all) may stop the work."""
    return jsonify(S.permit_dict(S.suspend(permit_id, body(S.SuspendIn).reason, actor=principal().actor)))


@api_bp.post("/permits/<int:permit_id>/resume")
@require("permits.operate")
def resume_permit(permit_id: int):
    return jsonify(S.permit_dict(S.resume(permit_id, actor=principal().actor)))


@api_bp.post("/permits/<int:permit_id>/close")
@require("permits.operate")
def close_permit(permit_id: int):
    return jsonify(S.permit_dict(S.close(permit_id, actor=principal().actor, note=body(S.NoteIn).note)))


@api_bp.post("/permits/<int:permit_id>/cancel")
@require("permits.operate")
def cancel_permit(permit_id: int):
    return jsonify(S.permit_dict(S.cancel(permit_id, actor=principal().actor, note=body(S.NoteIn).note)))
