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
_answers: OrderedDict[tuple, tuple[float, Any]] = OrderedDict()
_building: dict[tuple, threading.Lock] = {}


_MISSING = object()


def _fresh(key: tuple, now: float) -> Any:
    with _lock:
        hit = _answers.get(key)
        if hit is None or hit[0] <= now:
            return _MISSING
        _answers.move_to_end(key)
        return hit[1]


def shared(key: str, build: Callable[[], Any], ttl_s: float = 2.0, *, scope: str | tuple[str, ...] = "",
           ttl_of: Callable[[Any], float] | None = None) -> Any:
    """What `build()` returns for `key`, shared with every caller asking the same while nothing was recorded
    and `ttl_s` has not passed. Callers only read what they get (it is the same object for all of them).
    `ttl_of(value)`, when given, says how long this value stays right by the clock (until the next deadline
    it shows passes) instead of `ttl_s`.

    With `scope` (an event type prefix such as "risk."), the answer is kept while no event of that scope was
    recorded, however much else the log moves: for an answer built only from records that are written with
    events of that scope (the risk register changes only with risk.* events; gas readings move the log's
    head every second). A tuple of prefixes: kept while none of them was recorded."""
    version: int | tuple[int, ...]
    if isinstance(scope, tuple):
        version = tuple(events.head_seq_of(p) for p in scope)
    else:
        version = events.head_seq_of(scope) if scope else events.head_seq()
    full = (str(db.database.database), scope, version, key)
    value = _fresh(full, time.monotonic())
    if value is _MISSING:
        with _lock:
            gate = _building.setdefault(full, threading.Lock())
        with gate:
            value = _fresh(full, time.monotonic())   # built by the caller we waited for
            if value is _MISSING:
                value = build()
                ttl = ttl_of(value) if ttl_of is not None else ttl_s
                with _lock:
                    now = time.monotonic()
                    _answers[full] = (now + ttl, value)
                    _answers.move_to_end(full)
                    _drop_dead(full, now)
                    while len(_answers) > MAX_ANSWERS:
                        _answers.popitem(last=False)
        with _lock:
            if _building.get(full) is gate and not gate.locked():
                del _building[full]
            if len(_building) > 4 * MAX_ANSWERS:   # gates a race left behind: none is held now
                for k in [k for k, g in _building.items() if not g.locked()]:
                    del _building[k]
    return value


def _drop_dead(stored: tuple, now: float) -> None:
    """Drop the answers no one can get any more (the caller holds _lock): those whose time is up, and those of
    an earlier head of the same database's log and scope (the head only grows). They stayed until 64 were kept:
    with the log moving every second or two under a plant's load that was a dozen dead copies of the 370 KB
    hazard list (bench/load.py's database, issue 14: memory <= 150 MB under load)."""
    file, scope, head = stored[0], stored[1], stored[2]
    for k in [k for k, (until, _) in _answers.items()
              if until <= now or (k[0] == file and k[1] == scope and k[2] < head)]:
        del _answers[k]


def shared_json(key: str, build: Callable[[], Any], ttl_s: float = 2.0, *,
                scope: str | tuple[str, ...] = "", ttl_of: Callable[[Any], float] | None = None) -> Response:
    """The JSON answer to `key` (the request's path and query, plus anything else it depends on) built from
    `build()`, shared as `shared` does (`ttl_of` is given what `build()` returned). Only for answers that are
    the same for everyone allowed to ask (the caller checks access)."""
    ttl = [ttl_s]

    def encoded() -> bytes:
        value = build()
        if ttl_of is not None:
            ttl[0] = ttl_of(value)
        return json.dumps(value, ensure_ascii=False, separators=(",", ":")).encode()

    body = shared("json:" + key, encoded, ttl_s, scope=scope, ttl_of=lambda _: ttl[0])
    return Response(body, mimetype="application/json")


def forget() -> None:
    """Drop every kept answer (a restore, a test's new database)."""
    with _lock:
        _answers.clear()
