"""Satellite reader stations: registering them (admin) and the signed posts of the taps they relay."""
from __future__ import annotations

import json
import logging
import time

from flask import Blueprint, current_app, jsonify, request

from appliance.core.access import current, error_response, public, require
from appliance.core.api import body
from appliance.core.errors import ApplianceError
from appliance.stations import service as S

log = logging.getLogger(__name__)

api_bp = Blueprint("stations_api", __name__, url_prefix="/api/v1")


@api_bp.get("/patrol/stations")
@require("stations.write")
def list_stations():
    return jsonify({"stations": [{"id": s.id, "name": s.name, "readers": json.loads(s.readers), "active": bool(s.active),
                                  "last_post_at": s.last_post_at}
                                 for s in S.Station.select().order_by(S.Station.name)]})


@api_bp.post("/patrol/stations")
@require("stations.write")
def create_station():
    """Register a satellite reader station. The key is in this answer only: put it in the station's config."""
    s, key = S.create_station(body(S.StationIn), actor=current().actor)
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
        results = S.accept_station_post(name, h.get("X-Timestamp", ""), h.get("X-Nonce", ""), raw,
                                        h.get("X-Signature", ""), time.time())
    except S.StationRefused as exc:
        stats = current_app.extensions["appliance"].station_refusals
        seen = stats.setdefault(exc.reason, {"count": 0, "last": None, "station": None})
        seen.update(count=seen["count"] + 1, last=int(time.time() * 1000), station=name[:40])
        log.warning("station post refused", extra={"station": name[:40], "reason": exc.reason,
                                                   "remote": request.remote_addr})
        zh, en = _REFUSALS[exc.reason]
        if exc.reason == "stale":
            # the station proved it holds its key (the signature was checked first); its clock is off (a Pi
            # has no RTC): answer with this appliance's time, signed, so the station corrects its clock
            resp = error_response(f"station_{exc.reason}", zh, en, 401)
            body = json.loads(resp.get_data())
            body["appliance_time_ms"] = int(time.time() * 1000)
            resp.set_data(json.dumps(body, ensure_ascii=False).encode())
            resp.headers["X-Signature"] = S.sign_answer(name, h.get("X-Nonce", ""), resp.get_data())
            return resp
        raise StationAuthFailed(zh, en, code=f"station_{exc.reason}") from None
    resp = jsonify({"results": results})
    resp.headers["X-Signature"] = S.sign_answer(name, h.get("X-Nonce", ""), resp.get_data())
    return resp
