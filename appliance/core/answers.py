"""One answer for the many screens that ask the same question at once.

Fifty wall boards and tablets ask for the same lists (open hazards, the risk map) every few seconds; on two
cores, building the same 500-hazard JSON seven times a second took a large share of the one interpreter the web
shares with the alarm path (bench/load.py, issue 14). An answer is kept while the event log's head is where it
was (every record change is written with its event, in one transaction) and for at most `ttl_s` seconds (for
what the clock changes: a deadline passing makes a hazard overdue). Concurrent askers of a missing answer
wait for the one that builds it instead of building it each.

Keys are scoped by the database file, so two appliances in one process (tests, a restore) never share one.
"""
from __future__ import annotations

import json
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from typing import Any

from flask import Response

from appliance.core import db, events

MAX_ANSWERS = 64
_lock = threading.Lock()
_answers: OrderedDict[tuple, tuple[float, bytes]] = OrderedDict()
_building: dict[tuple, threading.Lock] = {}


def _fresh(key: tuple, now: float) -> bytes | None:
    with _lock:
        hit = _answers.get(key)
        if hit is None or hit[0] <= now:
            return None
        _answers.move_to_end(key)
        return hit[1]


def shared_json(key: str, build: Callable[[], Any], ttl_s: float = 2.0) -> Response:
    """The JSON answer to `key` (the request's path and query, plus anything else it depends on) built by
    `build()`, shared with every caller asking the same while nothing was recorded and `ttl_s` has not
    passed. Only for answers that are the same for everyone allowed to ask (the caller checks access)."""
    full = (str(db.database.database), events.head_seq(), key)
    body = _fresh(full, time.monotonic())
    if body is None:
        with _lock:
            gate = _building.setdefault(full, threading.Lock())
        with gate:
            body = _fresh(full, time.monotonic())   # built by the caller we waited for
            if body is None:
                body = json.dumps(build(), ensure_ascii=False, separators=(",", ":")).encode()
                with _lock:
                    _answers[full] = (time.monotonic() + ttl_s, body)
                    _answers.move_to_end(full)
                    while len(_answers) > MAX_ANSWERS:
                        _answers.popitem(last=False)
        with _lock:
            if _building.get(full) is gate and not gate.locked():
                del _building[full]
    return Response(body, mimetype="application/json")


def forget() -> None:
    """Drop every kept answer (a restore, a test's new database)."""
    with _lock:
        _answers.clear()
