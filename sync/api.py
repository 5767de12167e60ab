"""Sync status, the dead-letter list and its replay (the uplink itself lives in `sync/`)."""
from __future__ import annotations

from flask import Blueprint, current_app, jsonify
from pydantic import Field

from appliance.core import events
from appliance.core.access import current, require
from appliance.core.api import body
from appliance.core.errors import NotFound
from appliance.core.people import Input

api_bp = Blueprint("sync_api", __name__, url_prefix="/api/v1")


class ReplayIn(Input):
    ids: list[int] | None = Field(None, max_length=10000)  # default: every open dead letter of the endpoint


def endpoint_status(runtime, config) -> list[dict]:
    """Each configured endpoint's status: the live worker's when the sync runs, else what the log says."""
    from sync import store

    syncer = getattr(runtime, "syncer", None)
    out = []
    for ep in config.sync.endpoints:
        w = syncer.workers.get(ep.name) if syncer else None
        if w is not None:
            out.append({**w.snapshot(), "enabled": True})
            continue
        per = {lane: store.backlog(ep.name, lane)[0] for lane in ep.lanes}
        out.append({"name": ep.name, "type": ep.type, "enabled": ep.enabled and config.sync.enabled,
                    "backlog": per, "backlog_total": sum(per.values()), "dead_letters": store.open_dead_letters(ep.name),
                    "last_success_at": None, "last_error": None, "lag_s": None, "reachable": None})
    return out


@api_bp.get("/sync/status")
@require("sync.read")
def sync_status():
    return jsonify({"endpoints": endpoint_status(current_app.extensions["appliance"], current_app.config["APPLIANCE"])})


@api_bp.get("/sync/dead-letters")
@require("sync.read")
def sync_dead_letters():
    from sync import store

    return jsonify({"dead_letters": store.dead_letters()})


@api_bp.post("/sync/endpoints/<name>/replay")
@require("sync.write")
def sync_replay(name: str):
    from sync import store

    cfg = current_app.config["APPLIANCE"]
    if name not in {e.name for e in cfg.sync.endpoints}:
        raise NotFound(f"没有名为 {name} 的同步端点", f"no sync endpoint named {name}")
    data = body(ReplayIn)
    me = current()
    assert me is not None  # behind require()
    with events.recording(me.actor) as rec:
        n = store.mark_replay(name, data.ids)
        if n:
            rec.emit("sync.replay_requested", entity=("sync_endpoint", name), payload={"endpoint": name, "count": n})
    syncer = getattr(current_app.extensions["appliance"], "syncer", None)
    if syncer is not None:
        syncer.poke()
    return jsonify({"endpoint": name, "replaying": n})
