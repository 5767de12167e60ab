"""Satellite reader stations registered with this appliance (`service`, `api`): the far checkpoints whose
taps arrive as signed posts (the station program itself is the `satellite` package)."""
from __future__ import annotations

from pathlib import Path

from appliance.core.domain import Domain


def _start(runtime):
    runtime.health_checks["stations"] = lambda: _health(runtime)
    return None


def _health(runtime) -> dict:
    """When each station last posted, and refused posts by reason (a wrong key shows here)."""
    import time

    from appliance.stations.service import Station

    stations = [{"name": s.name, "active": bool(s.active), "last_post_at": s.last_post_at}
                for s in Station.select().order_by(Station.name)]
    refused = {k: dict(v) for k, v in runtime.station_refusals.items()}
    # a station posting with a wrong key in the last 10 minutes: its taps are not arriving
    recent = [k for k, v in refused.items() if v["last"] and time.time() * 1000 - v["last"] < 600_000
              and k in ("bad_signature", "unknown_station")]
    out = {"status": "degraded" if recent else "ok", "stations": stations, "refused": refused}
    if recent:
        out["reason"] = f"station posts refused: {', '.join(recent)}"
    return out


def domain() -> Domain:
    from appliance.stations import api

    return Domain(name="stations", blueprints=[api.api_bp], permissions={"stations.write": ("admin",)},
                  start=_start, openapi=Path(__file__).parent / "openapi.json",
                  i18n=Path(__file__).parent / "i18n")
