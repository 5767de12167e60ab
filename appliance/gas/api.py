"""Gas points and alarms: live values, history for trends, active alarms, acknowledge and shelve."""
from __future__ import annotations

from flask import Blueprint, current_app, jsonify, request
from pydantic import Field

from appliance.core import events
from appliance.core.access import principal, require
from appliance.core.api import body
from appliance.core.db import database
from appliance.core.errors import ApplianceError, NotFound, ValidationFailed
from appliance.core.people import Input
from appliance.gas import SAFETY_OFFICERS
from appliance.gas.sensors import Alarm, Sensors, alarm_dict, standing_alarms

api_bp = Blueprint("gas_api", __name__, url_prefix="/api/v1")

RANGES_MS = {"1h": 3_600_000, "24h": 86_400_000, "7d": 7 * 86_400_000}


class AckIn(Input):
    note: str = Field("", max_length=500)


class ShelveIn(Input):
    minutes: int  # the limits (one shift at most) are the alarm rules' (`rules.check_shelve`)
    reason: str = Field(min_length=1, max_length=500)


class NoSensors(ApplianceError):
    """The appliance runs without the sensor loop (a bare web app, e.g. in tests)."""

    code = "sensors_unavailable"
    http_status = 503


def _sensors() -> Sensors:
    s = current_app.extensions["appliance"].sensors
    if s is None:
        raise NoSensors("测点服务未运行", "the sensor service is not running")
    return s


@api_bp.get("/points")
@require("board.read")
def list_points():
    return jsonify({"points": _sensors().view()})


@api_bp.get("/points/<point_id>/history")
@require("board.read")
def point_history(point_id: str):
    p = _sensors().point(point_id)
    rng = request.args.get("range", "1h")
    if rng not in RANGES_MS:
        raise ValidationFailed("range 应为 1h、24h 或 7d", "range must be 1h, 24h or 7d", details=[{"key": "range"}])
    since = events.now_ms() - RANGES_MS[rng]
    if rng == "1h":
        rows = database.execute_sql(
            "SELECT at, value, state FROM readings WHERE point = ? AND at >= "
            "coalesce((SELECT max(at) FROM readings WHERE point = ? AND at < ?), ?) ORDER BY at",
            (point_id, point_id, since, since)).fetchall()
        series = [{"at": at, "value": v, "state": st} for at, v, st in rows]
    else:
        bucket = 60_000 if rng == "24h" else 600_000
        rows = database.execute_sql(
            "SELECT minute - minute % ? AS b, min(min), sum(avg * n) / sum(n), max(max) FROM reading_minutes "
            "WHERE point = ? AND minute >= ? GROUP BY b ORDER BY b", (bucket, point_id, since)).fetchall()
        series = [{"at": b, "min": lo, "avg": avg, "max": hi} for b, lo, avg, hi in rows]
    return jsonify({"point": p.view(), "range": rng, "series": series})


@api_bp.get("/alarms")
@require("board.read")
def list_alarms():
    if request.args.get("active", "0") in ("1", "true"):
        return jsonify({"alarms": standing_alarms()})   # what the board frame carries (gas/board.py)
    return jsonify({"alarms": [alarm_dict(a) for a in Alarm.select().order_by(Alarm.id.desc()).limit(200)]})


@api_bp.get("/alarms/load")
@require("board.read")
def alarm_load():
    """EEMUA 191 alarm-load figures: alarms per 10 min (24 h average and peak), standing, chattering."""
    return jsonify(_sensors().load())


@api_bp.post("/alarms/<int:alarm_id>/ack")
@require("alarms.ack")
def ack_alarm(alarm_id: int):
    data = body(AckIn)
    return jsonify(alarm_dict(_sensors().acknowledge(alarm_id, by=principal().actor, note=data.note)))


@api_bp.post("/alarms/<int:alarm_id>/shelve")
@require("alarms.shelve")
def shelve_alarm(alarm_id: int):
    """Shelve the point this alarm belongs to for a while (the board stops sounding it)."""
    data = body(ShelveIn)
    a = Alarm.get_or_none(Alarm.id == alarm_id)
    if a is None:
        raise NotFound(f"报警 {alarm_id} 不存在", f"alarm {alarm_id} does not exist")
    who = principal()
    return jsonify(_sensors().shelve(a.point, by=who.actor, minutes=data.minutes, reason=data.reason,
                                     safety_officer=who.role in SAFETY_OFFICERS))
