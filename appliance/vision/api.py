"""Cameras and PPE violations: the newest annotated frame of each camera (for the board's tiles), the
violations found by the vision process, and their review (confirm → hazard, reject → training example).
Snapshots are photos: `GET /api/v1/photos/<sha256>`."""
from __future__ import annotations

from flask import Blueprint, Response, current_app, jsonify, request

from appliance.core.access import current, require
from appliance.core.api import body, int_arg
from appliance.core.errors import ApplianceError, NotFound
from appliance.hazards.service import hazard_dict
from appliance.vision import violations as V

api_bp = Blueprint("vision_api", __name__, url_prefix="/api/v1")


class NoFrame(ApplianceError):
    """The camera has not delivered a frame yet (or the vision process is down)."""

    code = "no_frame"
    http_status = 503


def _runtime():
    return current_app.extensions["appliance"]


def _camera(name: str):
    for c in current_app.config["APPLIANCE"].cameras:
        if c.name == name:
            return c
    raise NotFound(f"摄像头 {name} 不存在", f"camera {name} does not exist")


def _data_dir():
    return current_app.config["APPLIANCE"].storage.data_dir


@api_bp.get("/cameras")
@require("board.read")
def list_cameras():
    vision = _runtime().vision
    out = []
    for c in current_app.config["APPLIANCE"].cameras:
        h = vision.camera_health(c.name) if vision is not None else {"status": "fault", "reason": "vision not running"}
        f = vision.frame(c.name) if vision is not None else None
        out.append({"name": c.name, "title": c.title or c.name, "type": c.type, "area": c.area,
                    "zones": [z.name for z in c.zones], "status": h.get("status"), "reason": h.get("reason"),
                    "frame": f[0] if f else None, "frame_at": f[1] if f else None})
    return jsonify({"cameras": out})


@api_bp.get("/cameras/<name>/frame.jpg")
@require("board.read")
def camera_frame(name: str):
    """The newest annotated frame; `?after=N` waits up to 5 s for a frame numbered above N."""
    _camera(name)
    vision = _runtime().vision
    after = int_arg("after", -1, -1, 2**62)
    f = None
    if vision is not None:
        f = vision.wait_frame(name, after, 5.0) if after >= 0 else vision.frame(name)
    if f is None:
        raise NoFrame(f"摄像头 {name} 暂无画面", f"camera {name} has no frame yet")
    resp = Response(f[2], mimetype="image/jpeg")
    resp.headers["Cache-Control"] = "no-store"
    resp.headers["X-Frame-Number"] = str(f[0])
    resp.headers["X-Frame-At"] = str(f[1])
    return resp


@api_bp.get("/violations")
@require("board.read")
def list_violations():
    q = V.Violation.select().order_by(V.Violation.id.desc())
    state = request.args.get("state")
    if state:
        q = q.where(V.Violation.state == state)
    limit = int_arg("limit", 100, 1, 500)
    return jsonify({"violations": [V.violation_dict(v) for v in q.limit(limit)]})


@api_bp.get("/violations/<int:violation_id>")
@require("board.read")
def get_violation(violation_id: int):
    return jsonify(V.violation_dict(V.get(violation_id)))


@api_bp.post("/violations/<int:violation_id>/confirm")
@require("hazards.handle")
def confirm_violation(violation_id: int):
    """A real violation: reported as a hazard (category 安全) with the snapshot as its photo."""
    v, h = V.confirm(violation_id, body(V.ConfirmIn), current(), _data_dir())
    return jsonify({"violation": V.violation_dict(v), "hazard": hazard_dict(h)})


@api_bp.post("/violations/<int:violation_id>/reject")
@require("hazards.handle")
def reject_violation(violation_id: int):
    """A false alarm: the snapshot and the raw frame are kept as a training example."""
    return jsonify(V.violation_dict(V.reject(violation_id, body(V.RejectIn), current(), _data_dir())))
