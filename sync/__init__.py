"""Store-and-forward sync: the only package that makes uplink HTTP calls.

Per-endpoint cursors over the event log, batching and priority lanes (`store`, `engine`), endpoint
adapters (generic JSON, government profiles; `adapters/`), the status API (`api`) and the reference
receiver (`receiver`, `receiver_gov`). It reads the appliance only through the core (the event log,
photos by digest, the domains' safety-lane event types); nothing the appliance needs to keep running
offline is here — sync reads the log, and writes only its own records of what it sent (the webhooks'
deliveries, `webhook`; a replay asked for). Only the service and the CLI import it.
"""
from __future__ import annotations

from pathlib import Path


def _start(runtime):
    from sync import webhook
    from sync.engine import Syncer  # one thread per endpoint, only reads the log

    syncer = runtime.syncer = Syncer(runtime.config).start(runtime.bus)
    for name, worker in syncer.workers.items():
        runtime.health_checks[f"sync:{name}"] = worker.health
    # the [training] webhook of certificate warnings (webhook.training_hook): a thread that follows the log
    hooks = webhook.start_all(runtime.config, runtime.bus)
    for h in hooks:
        runtime.health_checks[f"webhook:{h.hook.name}"] = h.health

    def stop() -> None:
        for h in hooks:
            h.stop()
        syncer.stop()

    return stop


def _admin_context() -> dict:
    """The admin page's sync section: each endpoint's status and the dead letters."""
    from flask import current_app

    from sync import store
    from sync.api import endpoint_status

    runtime = current_app.extensions["appliance"]
    return {"sync_endpoints": endpoint_status(runtime, current_app.config["APPLIANCE"]),
            "dead_letters": store.dead_letters(limit=50)}


def _init_app(app) -> None:
    app.config.setdefault("ADMIN_CONTEXT", []).append(_admin_context)


def domain():
    from appliance.core.domain import Domain
    from sync import api

    return Domain(name="sync", blueprints=[api.api_bp], openapi=Path(__file__).parent / "openapi.json",
                  # uplink status and dead letters for the safety office; replaying them for the admin
                  permissions={"sync.read": ("admin", "safety_officer"), "sync.write": ("admin",)},
                  start=_start, init_app=_init_app)
