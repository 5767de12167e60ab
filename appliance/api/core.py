"""Health, the OpenAPI document, who am I, the event log and its live SSE stream."""
from __future__ import annotations

import json
from importlib import resources

from flask import Response, current_app, jsonify, request

from .. import events
from ..health import overall
from ..web import current, public, require
from . import api_bp, int_arg

# A kiosk that has been away longer than this many events reloads instead of replaying (its page has
# the full state); below it, it replays every event it missed.
STREAM_BATCH = 500
HEARTBEAT_S = 15.0


@api_bp.get("/health")
@public
def health():
    """Every component's state; 200 when ok or degraded, 503 when something is in fault."""
    runtime = current_app.extensions["appliance"]
    body = overall(runtime)
    return jsonify(body), (503 if body["status"] == "fault" else 200)


@api_bp.get("/openapi.json")
@public
def openapi():
    doc = json.loads(resources.files("appliance.api").joinpath("openapi.json").read_text(encoding="utf-8"))
    return jsonify(doc)


@api_bp.get("/me")
@require("board.read")
def me():
    p = current()
    return jsonify({"kind": p.kind, "name": p.name, "role": p.role})


@api_bp.get("/events")
@require("events.read")
def list_events():
    after = int_arg("after", 0, 0, 2**62)
    limit = int_arg("limit", 100, 1, 1000)
    evs = events.read_after(after, limit)
    return jsonify({"events": [e.as_dict() for e in evs], "head": events.head_seq()})


def _last_event_id() -> int:
    raw = request.headers.get("Last-Event-ID") or request.args.get("last_event_id")
    if raw is None or raw == "":
        return events.head_seq()  # a new client gets what happens from now on
    try:
        v = int(raw)
    except ValueError:
        from ..errors import ValidationFailed
        raise ValidationFailed("Last-Event-ID 应为整数", "Last-Event-ID must be an integer") from None
    return max(0, v)


def sse_frame(ev: events.Committed) -> str:
    return f"id: {ev.seq}\ndata: {ev.json}\n\n"


@api_bp.get("/stream")
@require("events.read")
def stream():
    """Server-Sent Events: every committed event with `id: seq`; resumes after Last-Event-ID."""
    bus: events.Bus = current_app.extensions["appliance"].bus
    cursor = _last_event_id()

    def generate(cursor: int = cursor):
        yield "retry: 2000\n\n"
        head = events.head_seq()
        if cursor > head:
            # The client saw events this log no longer has (a restored backup): tell it to reload its
            # page rather than silently skip what comes next.
            yield f"event: reset\ndata: {json.dumps({'head': head})}\n\n"
            cursor = head
        while True:
            batch = bus.wait_after(cursor, HEARTBEAT_S) if bus is not None else None
            if batch is None:  # older than memory holds (or no bus): read the log itself
                batch = events.read_after(cursor, STREAM_BATCH)
            if bus is None or bus.stopping:
                if batch:
                    yield "".join(sse_frame(e) for e in batch)
                return
            if not batch:
                yield ": keep-alive\n\n"
                continue
            yield "".join(sse_frame(e) for e in batch)
            cursor = batch[-1].seq

    return Response(generate(), mimetype="text/event-stream",
                    headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"})
