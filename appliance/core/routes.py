"""Health, the OpenAPI document, who am I, the event log and its live SSE stream."""
from __future__ import annotations

import json
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from importlib import resources

from flask import Blueprint, Response, current_app, jsonify, request

from appliance.core import auth, db, events, names
from appliance.core.access import current, error_response, lang, public, require
from appliance.core.api import int_arg
from appliance.core.domain import registered
from appliance.core.errors import RateLimited
from appliance.core.health import overall

api_bp = Blueprint("core_api", __name__, url_prefix="/api/v1")
root_bp = Blueprint("core_root", __name__)

STREAM_BATCH = 500  # events per read when a client catches up from the log
HEARTBEAT_S = 5.0  # a keep-alive this often also finds dead clients and frees their thread


@api_bp.get("/health")
@public
def health():
    """Every component's state; 200 when ok or degraded, 503 when something is in fault."""
    runtime = current_app.extensions["appliance"]
    body = overall(runtime)
    return jsonify(body), (503 if body["status"] == "fault" else 200)


@root_bp.get("/ca.crt")
@public
def ca_certificate():
    """The CA that signed the appliance's HTTPS certificate, for tablets to install (served on plain HTTP too:
    compare its fingerprint with the admin page's)."""
    from appliance.core import tls

    cfg = current_app.config["APPLIANCE"]
    paths = tls.paths_for(cfg)
    if not cfg.web.tls or not paths.ca_cert.is_file():
        return error_response("no_tls", "未启用 HTTPS（[web] tls）", "HTTPS is off ([web] tls)", 404)
    return Response(tls.ca_pem(paths), mimetype="application/x-x509-ca-cert",
                    headers={"Content-Disposition": 'attachment; filename="safety-appliance-ca.crt"'})


@api_bp.get("/openapi.json")
@public
def openapi():
    return jsonify(openapi_document())


def openapi_document() -> dict:
    """The core's OpenAPI document with every registered domain's fragment (paths and schemas) merged in."""
    doc = json.loads(resources.files("appliance.core").joinpath("openapi.json").read_text(encoding="utf-8"))
    for d in registered():
        if d.openapi is None:
            continue
        frag = json.loads(d.openapi.read_text(encoding="utf-8"))
        doc["paths"].update(frag.get("paths", {}))
        schemas = frag.get("components", {}).get("schemas", {})
        if schemas:
            doc.setdefault("components", {}).setdefault("schemas", {}).update(schemas)
    return doc


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
    item = _itemizer()
    # each event's JSON with its names is made once per language for the feed and the live streams alike (_ITEMS):
    # ten boards asking for the same fifty events named each with queries of their own (bench/load.py, issue 14)
    body = '{"events":[' + ",".join(item(e) for e in evs) + '],"head":' + str(events.head_seq()) + "}"
    return Response(body, mimetype="application/json")


def _last_event_id() -> int:
    raw = request.headers.get("Last-Event-ID") or request.args.get("last_event_id")
    if raw is None or raw == "":
        return events.head_seq()  # a new client gets what happens from now on
    try:
        v = int(raw)
    except ValueError:
        from appliance.core.errors import ValidationFailed
        raise ValidationFailed("Last-Event-ID 应为整数", "Last-Event-ID must be an integer") from None
    return max(0, v)


def sse_frame(ev: events.Committed, present=None) -> str:
    """One event as an SSE frame; with `present` (see `_presenter`) its JSON carries `names`, the words that
    replace its ids on a screen (issue 15: never "user:wangfang" or "device:reader:GATE")."""
    if present is None:
        return f"id: {ev.seq}\ndata: {ev.json}\n\n"
    return f"id: {ev.seq}\ndata: {event_item(ev, present)}\n\n"


def event_item(ev: events.Committed, present) -> str:
    """The event's JSON with its `names` (see `_presenter`): an item of the event feed, the data of an SSE frame."""
    return f"{ev.json[:-1]},\"names\":{json.dumps(present(ev), ensure_ascii=False)}}}"


class _ItemCache:
    """Each event's JSON with its names in each language, made once however many screens stream it or ask the
    feed for it (the SSE frame wraps it per stream: a concatenation): a register import
    is ~6,600 events, and 50 wall boards each naming and serialising all of them (behind a names cache of 4,096
    that a burst cleared before the next screen got there) took the pages to 5 s and the process to 500 MB
    (bench/load.py maintenance phase, issue 14). Least recently used out first."""

    def __init__(self, size: int) -> None:
        self.size = size
        self._lock = threading.Lock()
        self._items: OrderedDict[tuple[int, str, str], str] = OrderedDict()

    def get(self, key: tuple[int, str, str], make: Callable[[], str]) -> str:
        with self._lock:
            hit = self._items.get(key)
            if hit is not None:
                self._items.move_to_end(key)
                return hit
        frame = make()
        with self._lock:
            self._items[key] = frame
            while len(self._items) > self.size:
                self._items.popitem(last=False)
        return frame


_ITEMS = _ItemCache(2048)   # recent live events, mostly: a bulk write's items are made only if the feed is read through them


def _presenter():
    """`event -> names` in the caller's language (`names.event_names`); usable outside the request (the
    stream's generator)."""
    translate = current_app.config.get("TRANSLATE")
    viewer = lang()
    cams = {c.name: (c.title or c.name) for c in getattr(current_app.config["APPLIANCE"], "cameras", None) or []}

    def text(key: str, **values) -> str:
        return translate(viewer, key, **values) if translate is not None else key

    def present(ev: events.Committed) -> dict:
        return names.event_names(ev.actor, ev.payload, text, viewer, cams)

    present.viewer = viewer   # type: ignore[attr-defined]
    return present


def _itemizer():
    """`event -> its JSON with names` in the caller's language, made once per event and language however many
    screens stream it or ask the feed for it (`_ITEMS`)."""
    present = _presenter()
    viewer = present.viewer   # type: ignore[attr-defined]

    def item(ev: events.Committed) -> str:
        # the id as well as the seq: a restored log reuses seqs for other events
        return _ITEMS.get((ev.seq, ev.id, viewer), lambda: event_item(ev, present))

    return item


def _framer():
    """`event -> SSE frame` with its names in the caller's language (the item made once: `_itemizer`)."""
    item = _itemizer()

    def frame(ev: events.Committed) -> str:
        return f"id: {ev.seq}\ndata: {item(ev)}\n\n"

    return frame


class StreamLimits:
    """Each open stream holds a web thread: keep `reserve` threads for everything else, and let one
    principal (a kiosk token, a user) hold at most `per_principal` streams."""

    def __init__(self, threads: int, reserve: int = 8, per_principal: int = 16):
        self.total = threading.BoundedSemaphore(max(1, threads - reserve))
        self.per_principal = per_principal
        self.open: dict[str, int] = {}
        self.lock = threading.Lock()

    def acquire(self, who: str) -> None:
        with self.lock:
            if self.open.get(who, 0) >= self.per_principal:
                raise StreamsExhausted(f"{who} 的实时连接已达 {self.per_principal} 个",
                                       f"{who} already holds {self.per_principal} live streams", retry_after=15)
            if not self.total.acquire(blocking=False):
                raise StreamsExhausted("实时连接已满，请稍后重试", "all live-stream slots are taken; retry later",
                                       retry_after=15)
            self.open[who] = self.open.get(who, 0) + 1

    def release(self, who: str) -> None:
        with self.lock:
            self.open[who] -= 1
            if not self.open[who]:
                del self.open[who]
            self.total.release()


class StreamsExhausted(RateLimited):
    """No live-stream slot is free (for this caller or at all)."""

    code = "streams_exhausted"
    http_status = 503


def _limits() -> StreamLimits:
    ext = current_app.extensions
    if "stream_limits" not in ext:
        web = current_app.config["APPLIANCE"].web
        ext["stream_limits"] = StreamLimits(web.threads, per_principal=web.streams_per_client)
    return ext["stream_limits"]


def _still_allowed(p) -> bool:
    """Re-check at each heartbeat that the caller's token or account still stands (revoked → stream ends)."""
    if p.kind == "device":
        return auth.token_active(p.id)
    role = auth.active_role(p.id)
    return role is not None and auth.allowed(role, "events.read")


@api_bp.get("/stream")
@require("events.read")
def stream():
    """Server-Sent Events: every committed event with `id: seq`; resumes after Last-Event-ID."""
    bus: events.Bus = current_app.extensions["appliance"].bus
    cursor = _last_event_id()
    principal = current()
    limits = _limits()
    present = _framer()
    # frames asked for (?frames=board): the latest state of a screen's live part, sent when it changes
    wanted = [f for f in request.args.get("frames", "").split(",") if f][:4]
    limits.acquire(principal.actor)
    sent: dict[str, int] = {}

    def fresh_frames() -> str:
        if bus is None:
            return ""
        out = []
        for name in wanted:
            f = bus.frame(name)
            if f is not None and f.version != sent.get(name) and auth.allowed(principal.role, f.permission):
                sent[name] = f.version
                out.append(f"event: {name}\ndata: {f.text}\n\n")
        return "".join(out)

    def generate(cursor: int = cursor):
        yield "retry: 2000\n\n"
        checked = last_out = time.monotonic()
        head = events.head_seq()
        db.release_connection()   # the stream's thread holds no SQLite connection between heartbeats
        if cursor > head:
            # The client saw events this log no longer has (a restored backup): tell it to reload its
            # page rather than silently skip what comes next.
            yield f"event: reset\ndata: {json.dumps({'head': head})}\n\n"
            cursor = head
        first = fresh_frames()   # the screen's current state at once: no list to fetch on (re)connect
        if first:
            yield first
        while True:
            batch = bus.wait_after(cursor, HEARTBEAT_S) if bus is not None else None
            if batch is None:  # older than memory holds (or no bus): read the log itself
                batch = events.read_after(cursor, STREAM_BATCH)
                db.release_connection()
            if bus is None or bus.stopping:
                if batch:
                    yield "".join(present(e) for e in batch if e.live)
                return
            if time.monotonic() - checked >= HEARTBEAT_S:
                allowed = _still_allowed(principal)
                db.release_connection()
                if not allowed:
                    return
                checked = time.monotonic()
            out = ""
            if batch:
                batch = batch[:STREAM_BATCH]   # a burst goes out in parts: one stream never holds it all at once
                cursor = batch[-1].seq
                # a bulk write's items stay in the log; screens get its summary event (events.Committed.live)
                out = "".join(present(e) for e in batch if e.live)
            # events first, then the frame that follows from them (a new alarm, then the banner's state)
            out += fresh_frames()
            # naming the events (people, points, areas) may have read the database: the connection goes back
            # now, not at the next heartbeat (50 wall boards held ~50 connections and ~20 MB of SQLite's
            # page caches between heartbeats under bench/load.py, issue 14)
            db.release_connection()
            if out:
                last_out = time.monotonic()
                yield out
            elif time.monotonic() - last_out >= HEARTBEAT_S - 0.1:
                last_out = time.monotonic()
                yield ": keep-alive\n\n"

    resp = Response(generate(), mimetype="text/event-stream",
                    headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"})
    resp.call_on_close(lambda: limits.release(principal.actor))  # runs even if the stream never started
    return resp
