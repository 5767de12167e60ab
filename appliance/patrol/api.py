"""Patrol: checkpoints, routes, plans, rounds and their review, taps and checklist answers, last seen,
and the signed endpoint satellite reader stations post their taps to."""
from __future__ import annotations

import logging
import time

from flask import Blueprint, current_app, jsonify, request

from appliance.core.access import current, principal, require
from appliance.core.api import body, int_arg
from appliance.patrol import last_seen, models, plans, review, rounds, taps

api_bp = Blueprint("patrol_api", __name__, url_prefix="/api/v1")

log = logging.getLogger(__name__)


@api_bp.get("/patrol/checkpoints")
@require("patrol.read")
def list_checkpoints():
    return jsonify({"checkpoints": [plans.checkpoint_dict(c) for c in models.Checkpoint.select().order_by(models.Checkpoint.code)]})


@api_bp.post("/patrol/checkpoints")
@require("patrol.write")
def create_checkpoint():
    return jsonify(plans.checkpoint_dict(plans.create_checkpoint(body(plans.CheckpointIn), actor=current().actor))), 201


@api_bp.patch("/patrol/checkpoints/<int:cp_id>")
@require("patrol.write")
def update_checkpoint(cp_id: int):
    return jsonify(plans.checkpoint_dict(plans.update_checkpoint(cp_id, body(plans.CheckpointUpdate), actor=principal().actor)))


@api_bp.get("/patrol/routes")
@require("patrol.read")
def list_routes():
    return jsonify({"routes": [plans.route_dict(r) for r in models.Route.select().order_by(models.Route.code)]})


@api_bp.post("/patrol/routes")
@require("patrol.write")
def create_route():
    return jsonify(plans.route_dict(plans.create_route(body(plans.RouteIn), actor=current().actor))), 201


@api_bp.patch("/patrol/routes/<int:route_id>")
@require("patrol.write")
def update_route(route_id: int):
    return jsonify(plans.route_dict(plans.update_route(route_id, body(plans.RouteUpdate), actor=principal().actor)))


@api_bp.get("/patrol/plans")
@require("patrol.read")
def list_plans():
    return jsonify({"plans": [plans.plan_dict(p) for p in models.Plan.select().order_by(models.Plan.id)]})


@api_bp.post("/patrol/plans")
@require("patrol.write")
def create_plan():
    p = plans.create_plan(body(plans.PlanIn), actor=current().actor)
    rounds.schedule_rounds()
    return jsonify(plans.plan_dict(p)), 201


@api_bp.patch("/patrol/plans/<int:plan_id>")
@require("patrol.write")
def update_plan(plan_id: int):
    p = plans.update_plan(plan_id, body(plans.PlanUpdate), actor=principal().actor)
    rounds.schedule_rounds()
    return jsonify(plans.plan_dict(p))


@api_bp.get("/patrol/summary")
@require("patrol.read")
def patrol_summary():
    """Today's rounds (or ?day=YYYY-MM-DD) per route by bucket, and the rounds themselves."""
    return jsonify(rounds.summary(_day()))


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
        return jsonify({"rounds": rounds.to_review(200)})
    return jsonify({"rounds": rounds.rounds_of_day(_day())})


@api_bp.get("/patrol/rounds/<int:round_id>")
@require("patrol.read")
def get_round(round_id: int):
    return jsonify(rounds.round_dict(plans.get_record(models.Round, round_id, "巡检轮次", "round"), detail=True))


@api_bp.post("/patrol/rounds/<int:round_id>/review")
@require("patrol.review")
def review_round(round_id: int):
    return jsonify(rounds.round_dict(review.review(round_id, body(review.ReviewIn), current()), detail=True))


@api_bp.get("/patrol/taps")
@require("patrol.read")
def list_taps():
    q = models.PatrolTap.select().order_by(models.PatrolTap.id.desc())
    reader = request.args.get("reader")
    if reader:
        q = q.where(models.PatrolTap.reader == reader)
    return jsonify({"taps": [rounds.tap_dict(t) for t in q.limit(int_arg("limit", 50, 1, 500))]})


@api_bp.post("/patrol/taps/<int:tap_id>/answers")
@require("patrol.answer")
def answer_tap(tap_id: int):
    """The checklist answered after a tap: {"answers": {item id: "normal" | "abnormal"}, "note"}. Each
    异常 opens a hazard report. Who may: the checkpoint's screen (a device token named after the tap's
    reader), the person who tapped, or the shift (patrol.review)."""
    c = taps.answer(tap_id, body(taps.AnswerIn), current(), photo_root=_photo_root())
    return jsonify(rounds.check_dict(c)), 201


def _photo_root():
    return current_app.config["APPLIANCE"].storage.data_dir / "photos"


@api_bp.post("/patrol/taps/<int:tap_id>/photos")
@require("patrol.answer")
def tap_photo(tap_id: int):
    """A photo for an 异常 item's hazard draft, taken at the checkpoint (multipart field `photo`): stored
    like a hazard photo, by SHA-256, which the answers then name. Who may: as for the answers."""
    from appliance.core import photos

    taps.check_answerer(plans.get_record(models.PatrolTap, tap_id, "刷卡记录", "tap"), current())
    f = request.files.get("photo")
    if f is None:
        raise photos.BadPhoto("photo：缺少照片文件（multipart 字段 photo）", "photo: no file (multipart field photo)",
                              details=[{"key": "photo"}])
    return jsonify({"sha256": photos.store(f.read(), _photo_root())}), 201


@api_bp.get("/patrol/last-seen")
@require("people.read")
def people_last_seen():
    """Where each person was last seen (their last tap), for muster."""
    return jsonify({"people": last_seen.last_seen()})
