"""Component health for /api/v1/health, the kiosk status bar and the systemd watchdog.

Each component reports {"status": "ok" | "degraded" | "fault", ...}. The overall status is the worst;
a check that itself fails is a fault of that component, never an error of the endpoint.
"""
from __future__ import annotations

import logging
import shutil
import time

from appliance.core import db, events, storage

log = logging.getLogger(__name__)

RANK = {"ok": 0, "starting": 1, "degraded": 1, "fault": 2}


def database_check(config) -> dict:
    try:
        head = events.head_seq()
        version = db.database.execute_sql("PRAGMA user_version").fetchone()[0]
        failing = storage.status()
        if failing["writes_failing"]:  # reads still work, but nothing new can be stored
            return {"status": "fault", "reason": f"writes failing: {failing['last_error']}", "schema_version": version,
                    "event_head": head}
        return {"status": "ok", "schema_version": version, "event_head": head}
    except Exception as exc:  # any failure to read is the state to show
        return {"status": "fault", "reason": str(exc)}


def disk_check(config) -> dict:
    d = config.storage.data_dir
    try:
        u = shutil.disk_usage(d)
    except OSError as exc:
        return {"status": "fault", "reason": str(exc)}
    free_mb = u.free // (1024 * 1024)
    status = "fault" if free_mb < config.storage.disk_min_free_mb else (
        "degraded" if free_mb < 2 * config.storage.disk_min_free_mb else "ok")
    st = storage.status()
    out = {"status": status, "free_mb": free_mb, "total_mb": u.total // (1024 * 1024), "path": str(d), **st}
    if status != "ok":
        out["reason"] = f"free space {free_mb} MB (minimum {config.storage.disk_min_free_mb} MB)"
    full = [why for why, on in (("writes are failing", st["writes_failing"]),
                                 ("the safety reserve is in use", config.storage.reserve_mb and st["reserve_released_at"]))
            if on]
    if full:
        out["status"] = "fault"
        out["reason"] = f"disk full ({d}): " + "; ".join(full)
    return out


def bus_check(runtime) -> dict:
    bus = runtime.bus
    if bus is None:
        return {"status": "degraded", "reason": "event bus not started"}
    if not bus.running:
        return {"status": "fault", "reason": "event bus stopped"}
    if bus.error:
        return {"status": "fault", "reason": bus.error}
    return {"status": "ok", "head": bus.head}


def overall(runtime) -> dict:
    cfg = runtime.config
    components = {"database": database_check(cfg), "disk": disk_check(cfg), "event_bus": bus_check(runtime)}
    for name, check in list(runtime.health_checks.items()):
        try:
            components[name] = check()
        except Exception as exc:  # a broken check is that component's fault
            log.exception("health check failed", extra={"component": name})
            components[name] = {"status": "fault", "reason": str(exc)}
    worst = max((c.get("status", "fault") for c in components.values()), key=lambda s: RANK.get(s, 2))
    return {"status": worst, "appliance_id": cfg.site.appliance_id, "time": events.now_ms(),
            "uptime_s": round(time.time() - runtime.started_at, 1), "components": components}
