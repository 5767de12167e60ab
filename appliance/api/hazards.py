"""Hazards: report (anyone on the LAN with a login, anonymously if they wish), dispatch, rectify, accept,
reject. Photos, automatic dispatch and the tablet pages come next."""
from __future__ import annotations

from flask import jsonify, request

from .. import hazards as H
from ..web import current, require
from . import api_bp, body


@api_bp.get("/hazards")
@require("board.read")
def list_hazards():
    q = H.Hazard.select().order_by(H.Hazard.id.desc())
    state = request.args.get("state")
    if state:
        q = q.where(H.Hazard.state == state)
    return jsonify({"hazards": [H.hazard_dict(h) for h in q.limit(500)]})


@api_bp.get("/hazards/<int:hazard_id>")
@require("board.read")
def get_hazard(hazard_id: int):
    return jsonify(H.hazard_dict(H._get(hazard_id)))


@api_bp.post("/hazards")
@require("hazards.report")
def report_hazard():
    return jsonify(H.hazard_dict(H.report(body(H.ReportIn), actor=current().actor))), 201


@api_bp.post("/hazards/<int:hazard_id>/dispatch")
@require("hazards.handle")
def dispatch_hazard(hazard_id: int):
    return jsonify(H.hazard_dict(H.dispatch(hazard_id, body(H.DispatchIn), current())))


@api_bp.post("/hazards/<int:hazard_id>/rectify")
@require("hazards.report")
def rectify_hazard(hazard_id: int):
    """By the assignee (any role) or the safety office; the rules check who."""
    return jsonify(H.hazard_dict(H.rectify(hazard_id, body(H.NoteIn), current())))


@api_bp.post("/hazards/<int:hazard_id>/accept")
@require("hazards.handle")
def accept_hazard(hazard_id: int):
    return jsonify(H.hazard_dict(H.accept(hazard_id, body(H.NoteIn), current())))


@api_bp.post("/hazards/<int:hazard_id>/reject")
@require("hazards.handle")
def reject_hazard(hazard_id: int):
    return jsonify(H.hazard_dict(H.reject(hazard_id, body(H.NoteIn), current())))
