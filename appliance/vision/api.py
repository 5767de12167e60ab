"""Cameras and PPE violations: the newest annotated frame of each camera (for the board's tiles), the
violations found by the vision process, and their review (confirm → hazard, reject → training example).
Snapshots are photos: `GET /api/v1/photos/<sha256>`."""
from __future__ import annotations

from flask import Blueprint, Response, current_app, jsonify, request

from appliance.core import auth
from appliance.core.access import current, principal, require
from appliance.core.api import body, int_arg
from appliance.core.errors import ApplianceError, NotFound, ValidationFailed
from appliance.core.people import site_timezone
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


def _shown(d: dict) -> dict:
    """The person's name is for those who may read people (a wall board's token lists violations too)."""
    if d.get("person") is not None and not auth.allowed(principal().role, "people.read"):
        d["person"] = None
    return d


@api_bp.get("/violations")
@require("board.read")
def list_violations():
    """The newest violations (?state=, ?limit=); ?format=csv or xlsx exports them (up to 10 000) with the
    person named on each."""
    q = V.Violation.select().order_by(V.Violation.id.desc())
    state = request.args.get("state")
    if state:
        q = q.where(V.Violation.state == state)
    fmt = request.args.get("format", "json")
    if fmt not in ("json", "csv", "xlsx"):
        raise ValidationFailed("参数 format 应为 json、csv 或 xlsx", "parameter format must be json, csv or xlsx",
                               details=[{"key": "format"}])
    rows = list(q.limit(int_arg("limit", 100 if fmt == "json" else 10_000, 1, 500 if fmt == "json" else 10_000)))
    people = V.people_of(rows)
    dicts = [_shown(V.violation_dict(v, people)) for v in rows]
    if fmt == "json":
        return jsonify({"violations": dicts})
    from appliance.core import spreadsheet
    from appliance.vision.export import violation_rows

    table = violation_rows(dicts, tz=site_timezone())
    if fmt == "csv":
        return Response(spreadsheet.write_csv(table), mimetype="text/csv; charset=utf-8",
                        headers={"Content-Disposition": "attachment; filename=violations.csv"})
    return Response(spreadsheet.write_xlsx([("违章 violations", table)]),
                    mimetype="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
                    headers={"Content-Disposition": "attachment; filename=violations.xlsx"})


@api_bp.get("/violations/<int:violation_id>")
@require("board.read")
def get_violation(violation_id: int):
    return jsonify(_shown(V.violation_dict(V.get(violation_id))))


@api_bp.post("/violations/<int:violation_id>/person")
@require("hazards.handle")
def name_violation_person(violation_id: int):
    """Name, correct or clear (null) the person seen on a confirmed violation (its whole group); the person
    named is offered the related training units."""
    return jsonify(V.violation_dict(V.name_person(violation_id, body(V.PersonIn), current())))


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
