"""Patrol: checkpoints, routes, plans, rounds and their review, taps and checklist answers, last seen,
and the signed endpoint satellite reader stations post their taps to."""
from __future__ import annotations

import logging
import time

from flask import current_app, jsonify, request

from .. import patrol as P
from ..errors import ApplianceError
from ..web import current, public, require
from . import api_bp, body, int_arg

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
            from ..errors import ValidationFailed
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


@api_bp.get("/patrol/stations")
@require("stations.write")
def list_stations():
    import json

    return jsonify({"stations": [{"id": s.id, "name": s.name, "readers": json.loads(s.readers), "active": bool(s.active),
                                  "last_post_at": s.last_post_at}
                                 for s in P.Station.select().order_by(P.Station.name)]})


@api_bp.post("/patrol/stations")
@require("stations.write")
def create_station():
    """Register a satellite reader station. The key is in this answer only: put it in the station's config."""
    s, key = P.create_station(body(P.StationIn), actor=current().actor)
    return jsonify({"id": s.id, "name": s.name, "key": key}), 201


STATION_BODY_MAX = 256 * 1024   # 500 taps fit many times over; anything bigger is not a station


class StationPostTooLarge(ApplianceError):
    code = "too_large"
    http_status = 413


class StationAuthFailed(ApplianceError):
    code = "station_refused"
    http_status = 401


_REFUSALS = {
    "unknown_station": ("未知或已停用的读卡站", "unknown or deactivated station"),
    "bad_signature": ("签名错误（密钥不符或内容被改动）", "bad signature (wrong key or altered body)"),
    "stale": ("时间戳超出允许范围（时钟偏差或重放）", "timestamp out of range (clock skew or replay)"),
    "replayed": ("重复的请求（重放）", "replayed request"),
    "bad_timestamp": ("时间戳格式错误", "malformed timestamp"),
    "bad_nonce": ("随机数格式错误", "malformed nonce"),
}


@api_bp.post("/patrol/station-taps")
@public
def station_taps():
    """Taps relayed by a satellite station, signed: headers X-Station, X-Timestamp (unix seconds),
    X-Nonce, X-Signature = hex HMAC-SHA256(key, timestamp + "\\n" + nonce + "\\n" + body). Each tap
    carries the station's own id, so a re-sent tap is recorded once."""
    h = request.headers
    name = h.get("X-Station", "")
    if (request.content_length or 0) > STATION_BODY_MAX:
        raise StationPostTooLarge(f"读卡站请求过大（上限 {STATION_BODY_MAX // 1024} KB），请分批发送",
                                  f"station post too large (limit {STATION_BODY_MAX // 1024} KB); send smaller batches")
    raw = request.get_data(cache=True)
    try:
        results = P.accept_station_post(name, h.get("X-Timestamp", ""), h.get("X-Nonce", ""), raw,
                                        h.get("X-Signature", ""), time.time())
    except P.StationRefused as exc:
        stats = current_app.extensions["appliance"].station_refusals
        seen = stats.setdefault(exc.reason, {"count": 0, "last": None, "station": None})
        seen.update(count=seen["count"] + 1, last=int(time.time() * 1000), station=name[:40])
        log.warning("station post refused", extra={"station": name[:40], "reason": exc.reason,
                                                   "remote": request.remote_addr})
        zh, en = _REFUSALS[exc.reason]
        raise StationAuthFailed(zh, en, code=f"station_{exc.reason}") from None
    resp = jsonify({"results": results})
    resp.headers["X-Signature"] = P.sign_answer(name, h.get("X-Nonce", ""), resp.get_data())
    return resp
