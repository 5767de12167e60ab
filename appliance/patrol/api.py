"""Patrol: checkpoints, routes, plans, rounds and their review, taps and checklist answers, last seen,
and the signed endpoint satellite reader stations post their taps to."""
from __future__ import annotations

import logging
import time

from flask import Blueprint, current_app, jsonify, request

from appliance.patrol import service as P
from appliance.core.errors import ApplianceError
from appliance.core.access import current, public, require
from appliance.core.api import body, int_arg

api_bp = Blueprint("patrol_api", __name__, url_prefix="/api/v1")

log = logging.getLogger(__name__)


@api_bp.get("/patrol/checkpoints")
@require("patrol.read")
def list_checkpoints():
    return jsonify({"checkpoints": [P.checkpoint_dict(c) for c in P.Checkpoint.select().order_by(P.Checkpoint.code)]})


@api_bp.post("/patrol/checkpoints")
@require("patrol.write")
def create_checkpoint():
    return jsonify(P.checkpoint_dict(P.create_checkpoint(body(P.CheckpointIn), actor=current().actor))), 201


@api_bp.patch("/patrol/checkpoints/<int:cp_id>")
@require("patrol.write")
def update_checkpoint(cp_id: int):
    return jsonify(P.checkpoint_dict(P.update_checkpoint(cp_id, body(P.CheckpointUpdate), actor=current().actor)))


@api_bp.get("/patrol/routes")
@require("patrol.read")
def list_routes():
    return jsonify({"routes": [P.route_dict(r) for r in P.Route.select().order_by(P.Route.code)]})


@api_bp.post("/patrol/routes")
@require("patrol.write")
def create_route():
    return jsonify(P.route_dict(P.create_route(body(P.RouteIn), actor=current().actor))), 201


@api_bp.patch("/patrol/routes/<int:route_id>")
@require("patrol.write")
def update_route(route_id: int):
    return jsonify(P.route_dict(P.update_route(route_id, body(P.RouteUpdate), actor=current().actor)))


@api_bp.get("/patrol/plans")
@require("patrol.read")
def list_plans():
    return jsonify({"plans": [P.plan_dict(p) for p in P.Plan.select().order_by(P.Plan.id)]})


@api_bp.post("/patrol/plans")
@require("patrol.write")
def create_plan():
    p = P.create_plan(body(P.PlanIn), actor=current().actor)
    P.schedule_rounds()
    return jsonify(P.plan_dict(p)), 201


@api_bp.patch("/patrol/plans/<int:plan_id>")
@require("patrol.write")
def update_plan(plan_id: int):
    p = P.update_plan(plan_id, body(P.PlanUpdate), actor=current().actor)
    P.schedule_rounds()
    return jsonify(P.plan_dict(p))


@api_bp.get("/patrol/summary")
@require("patrol.read")
def patrol_summary():
    """Today's rounds (or ?day=YYYY-MM-DD) per route by bucket, and the rounds themselves."""
    return jsonify(P.summary(_day()))


def _day() -> str | None:
    day = request.args.get("day")
    if day is not None:
        try:
            time.strptime(day, "%Y-%m-%d")
        except ValueError:
            from appliance.core.errors import ValidationFailed
            raise ValidationFailed("参数 day 应为 YYYY-MM-DD", "parameter day must be YYYY-MM-DD",
                                   details=[{"key": "day"}]) from None
    return day


@api_bp.get("/patrol/rounds")
@require("patrol.read")
def list_rounds():
    """?day=YYYY-MM-DD (default today), or ?suspicious=1 for closed, flagged rounds not yet reviewed."""
    if request.args.get("suspicious") == "1":
        q = (P.Round.select().where(P.Round.closed & P.Round.suspicious & P.Round.reviewed_by.is_null())
             .order_by(P.Round.due_start.desc()).limit(200))
        return jsonify({"rounds": [P.round_dict(r) for r in q]})
    return jsonify({"rounds": P.rounds_of_day(_day())})


@api_bp.get("/patrol/rounds/<int:round_id>")
@require("patrol.read")
def get_round(round_id: int):
    return jsonify(P.round_dict(P._get(P.Round, round_id, "巡检轮次", "round"), detail=True))


@api_bp.post("/patrol/rounds/<int:round_id>/review")
@require("patrol.review")
def review_round(round_id: int):
    return jsonify(P.round_dict(P.review(round_id, body(P.ReviewIn), current()), detail=True))


@api_bp.get("/patrol/taps")
@require("patrol.read")
def list_taps():
    q = P.PatrolTap.select().order_by(P.PatrolTap.id.desc())
    reader = request.args.get("reader")
    if reader:
        q = q.where(P.PatrolTap.reader == reader)
    return jsonify({"taps": [P.tap_dict(t) for t in q.limit(int_arg("limit", 50, 1, 500))]})


@api_bp.post("/patrol/taps/<int:tap_id>/answers")
@require("patrol.answer")
def answer_tap(tap_id: int):
    """The checklist answered after a tap: {"answers": {item id: "normal" | "abnormal"}, "note"}. Each
    异常 opens a hazard report. Who may: the checkpoint's screen (a device token named after the tap's
    reader), the person who tapped, or the shift (patrol.review)."""
    c = P.answer(tap_id, body(P.AnswerIn), current())
    return jsonify(P.check_dict(c)), 201


@api_bp.get("/patrol/last-seen")
@require("people.read")
def last_seen():
    """Where each person was last seen (their last tap), for muster."""
    return jsonify({"people": P.last_seen()})
