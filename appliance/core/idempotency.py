"""Idempotent API writes (issue 15): a double tap on 提交, or a resend after a lost answer, files once.

A form sends an `Idempotency-Key` header, generated once per submission (kiosk_ui forms.js). For an unsafe
API request (POST, PUT, PATCH, DELETE) that carries one, keyed by (principal, method, path, key):
- the first request claims the key and runs; a successful (2xx) answer is kept for `TTL_MS` (24 h);
- a repeat with the same body gets the kept answer again, marked `Idempotent-Replayed: true` (a kept 201
  is answered 200: it was created the first time, not now — the convention the hazard report set);
- a repeat while the first still runs gets 409 (the form shows it; the first answer reloads the page);
- the same key with another body (or query) gets 422: the client reused a key for a different request.
A failed answer (4xx, 5xx) is not kept: the failed write changed nothing, so a resend runs afresh.

The guard is best effort around the write it protects: when its own row cannot be read or written (the
disk is full, the database stays locked past the busy timeout) it logs and lets the request run unguarded,
so a good write never becomes a 500 because of it. A claim left 'running' by a process that died is taken
over after `STALE_MS`. Old rows are pruned by a scheduled job (`prune`).
"""
from __future__ import annotations

import hashlib
import logging
import re
import sqlite3

import peewee
from flask import Flask, Response, g, request

from appliance.core import events, storage
from appliance.core.access import current, error_response
from appliance.core.db import database
from appliance.core.errors import ValidationFailed

log = logging.getLogger(__name__)

HEADER = "Idempotency-Key"
REPLAYED = "Idempotent-Replayed"
KEY_RE = re.compile(r"^[A-Za-z0-9_.:-]{8,80}$")   # the same charset and length the hazard report checks
METHODS = {"POST", "PUT", "PATCH", "DELETE"}
TTL_MS = 24 * 3_600_000
STALE_MS = 120_000   # a claim older than this while still 'running' was left by a request that died

# what can go wrong with the guard's own row: the request then runs without it
_STORE_ERRORS = (peewee.PeeweeException, sqlite3.Error, OSError)


def check_key(key: str | None) -> str | None:
    """The request's key, or None without one; a malformed key is refused (422)."""
    if key is None or key == "":
        return None
    if not KEY_RE.match(key):
        raise ValidationFailed("Idempotency-Key：须为 8–80 个字母、数字或 _.:-",
                               "Idempotency-Key: must be 8-80 letters, digits or _.:-",
                               details=[{"key": HEADER}])
    return key


def fingerprint(query: bytes, body: bytes) -> str:
    """What makes two requests under one key the same request: the query string and the body bytes."""
    h = hashlib.sha256()
    h.update(len(query).to_bytes(8, "big"))
    h.update(query)
    h.update(body)
    return h.hexdigest()


MAX_HASHED_BODY = 1024 * 1024


def _request_fingerprint() -> str:
    """The fingerprint of this request. A JSON (or other small) body is hashed as sent. A multipart upload
    (a course video, a spreadsheet) is not read into memory for this: its boundary changes on every resend
    anyway, so its fields and its files' names and sizes stand for it (the files are spooled to disk by
    the parser the view uses next)."""
    if request.mimetype == "multipart/form-data":
        parts = sorted(request.form.items(multi=True))
        files = []
        for name, f in request.files.items(multi=True):
            f.stream.seek(0, 2)
            files.append((name, f.filename or "", f.stream.tell()))
            f.stream.seek(0)
        return fingerprint(request.query_string, repr((parts, sorted(files))).encode())
    if (request.content_length or 0) > MAX_HASHED_BODY:
        return fingerprint(request.query_string, f"length:{request.content_length}".encode())
    return fingerprint(request.query_string, request.get_data(cache=True))


def decide(row: tuple | None, fp: str, now: int) -> str:
    """What to do with a request, given the stored row (fingerprint, state, created_at) for its key:
    "run" (no row, or an expired or abandoned one), "replay", "in_flight" or "mismatch". Pure."""
    if row is None:
        return "run"
    stored_fp, state, created_at = row
    if now - created_at >= TTL_MS or (state == "running" and now - created_at >= STALE_MS):
        return "run"
    if stored_fp != fp:
        return "mismatch"
    return "in_flight" if state == "running" else "replay"


def _who() -> str | None:
    p = current()
    return None if p is None else f"{p.kind}:{p.id}"


def begin() -> Response | None:
    """before_request: claim the key, or answer a repeat (replay, 409, 422); None lets the request run."""
    if request.method not in METHODS or not request.path.startswith("/api/"):
        return None
    key = check_key(request.headers.get(HEADER))
    who = _who()
    if key is None or who is None:   # no key, or anonymous (refused by the view anyway)
        return None
    ident = (who, request.method, request.path, key)
    fp = _request_fingerprint()
    now = events.now_ms()
    try:
        with database.atomic():     # BEGIN IMMEDIATE: two taps racing see each other's claim
            row = database.execute_sql(
                "SELECT fingerprint, state, created_at, status, body FROM idempotency_keys "
                "WHERE principal = ? AND method = ? AND path = ? AND key = ?", ident).fetchone()
            verdict = decide(None if row is None else row[:3], fp, now)
            if verdict == "run":
                database.execute_sql(
                    "INSERT OR REPLACE INTO idempotency_keys (principal, method, path, key, fingerprint, state, "
                    "status, body, created_at) VALUES (?, ?, ?, ?, ?, 'running', NULL, NULL, ?)", (*ident, fp, now))
    except _STORE_ERRORS as exc:
        _trouble("could not claim an idempotency key; the request runs unguarded", exc)
        return None
    if verdict == "run":
        g.idempotency = ident
        return None
    if verdict == "mismatch":
        return error_response("idempotency_key_reused", "该 Idempotency-Key 已用于另一份内容不同的请求，请刷新页面后重新提交",
                              "this Idempotency-Key was already used for a different request; reload the page and "
                              "submit again", 422, details=[{"key": HEADER}])
    if verdict == "in_flight":
        return error_response("idempotency_in_flight", "同一提交仍在处理中，请稍候，不要重复提交",
                              "the same submission is still being processed; wait, do not submit it again", 409,
                              headers={"Retry-After": "1"})
    status, body = row[3], row[4]
    resp = Response(body or "", status=200 if status == 201 else status,
                    mimetype="application/json" if body else None)
    resp.headers[REPLAYED] = "true"
    return resp


def finish(resp: Response) -> Response:
    """after_request: keep a successful answer for a repeat; release the claim of a failed one."""
    ident = g.pop("idempotency", None)
    if ident is None:
        return resp
    try:
        if 200 <= resp.status_code < 300 and not resp.is_streamed:
            body = resp.get_data(as_text=True) if resp.is_json else ""
            database.execute_sql("UPDATE idempotency_keys SET state = 'done', status = ?, body = ? "
                                 "WHERE principal = ? AND method = ? AND path = ? AND key = ?",
                                 (resp.status_code, body, *ident))
        else:
            _release(ident)
    except _STORE_ERRORS as exc:
        # the write itself is done: its answer goes out; a repeat within STALE_MS gets 409, later it runs again
        _trouble("could not keep the answer of an idempotent request", exc)
    return resp


def _release(ident: tuple) -> None:
    database.execute_sql("DELETE FROM idempotency_keys WHERE principal = ? AND method = ? AND path = ? AND key = ? "
                         "AND state = 'running'", ident)


def abandon(_exc: BaseException | None) -> None:
    """teardown_request: a request that ended without an answer (an exception that propagated) gives its
    claim back, so that the resend runs."""
    ident = g.pop("idempotency", None)
    if ident is None:
        return
    try:
        _release(ident)
    except _STORE_ERRORS as exc:
        _trouble("could not release an idempotency key", exc)


def prune(now: int | None = None) -> int:
    """Delete the rows older than TTL_MS (scheduled); returns how many."""
    now = events.now_ms() if now is None else now
    return database.execute_sql("DELETE FROM idempotency_keys WHERE created_at < ?", (now - TTL_MS,)).rowcount


def _trouble(what: str, exc: BaseException) -> None:
    if storage.is_disk_full(exc):
        storage.note_full(exc)
    log.warning(what, extra={"path": request.path, "error": str(exc)})


def init_app(app: Flask) -> None:
    """Hook the guard into the app (after the principal is known and CSRF is checked)."""
    app.before_request(begin)
    app.after_request(finish)
    app.teardown_request(abandon)
