"""The reference receiver (`safety-appliance receiver`): what a head office could run, and what tests and
`make demo` sync to. Flask on waitress, SQLite in its data directory, many appliances at once.

It is strict: a bad signature is 401 (a timestamp too far from its clock is 401 "clock_skew" with its own
time in X-Server-Time), a batch that does not continue what it holds of that appliance's lane is 409
"chain_gap" with the seq it holds, a full disk is 507 and nothing of the batch is kept. Each event is
checked on its own: its hash must match its content (else "altered"), it must link to its stored
neighbours, and an event id it already holds is a duplicate, counted and not stored twice.
`GET /v1/appliances/<id>/verify` walks one appliance's whole chain; `GET /` shows what it holds.

It also takes webhooks (`sync/webhook.py`): our JSON format under `/v1/hooks/<name>` (signature checked
when started with a hook secret) and stand-ins for the WeCom and DingTalk group robots
(`sync/receiver_hooks.py`).
"""
from __future__ import annotations

import errno
import hashlib
import json
import logging
import os
import sqlite3
import threading
import time
from pathlib import Path

from flask import Flask, Response, jsonify, request

from appliance.core.events import GENESIS_HASH, HASHED_FIELDS, event_hash
from sync import crypto

log = logging.getLogger(__name__)

MAX_BODY = 64 * 1024 * 1024
HASH_RE_LEN = 64

SCHEMA = """
CREATE TABLE IF NOT EXISTS events (
    appliance_id TEXT NOT NULL, seq INTEGER NOT NULL, id TEXT NOT NULL UNIQUE, type TEXT NOT NULL,
    occurred_at INTEGER NOT NULL, recorded_at INTEGER NOT NULL, actor TEXT NOT NULL, entity_type TEXT,
    entity_id TEXT, payload TEXT NOT NULL, prev_hash TEXT NOT NULL, hash TEXT NOT NULL,
    received_at INTEGER NOT NULL, PRIMARY KEY (appliance_id, seq)) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS lanes (
    appliance_id TEXT NOT NULL, lane TEXT NOT NULL, head INTEGER NOT NULL, updated_at INTEGER NOT NULL,
    PRIMARY KEY (appliance_id, lane));
CREATE TABLE IF NOT EXISTS photos (
    sha256 TEXT PRIMARY KEY, bytes INTEGER NOT NULL, appliance_id TEXT, received_at INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS stats (name TEXT PRIMARY KEY, n INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS hooks (
    name TEXT NOT NULL, key TEXT NOT NULL, body TEXT NOT NULL, headers TEXT NOT NULL, received_at INTEGER NOT NULL,
    PRIMARY KEY (name, key));
CREATE TABLE IF NOT EXISTS aggregates (
    appliance_id TEXT NOT NULL, point TEXT NOT NULL, minute INTEGER NOT NULL, min REAL, avg REAL, max REAL,
    n INTEGER, received_at INTEGER NOT NULL, PRIMARY KEY (appliance_id, point, minute)) WITHOUT ROWID;
"""

_COLS = HASHED_FIELDS + ("prev_hash", "hash")


class DiskFull(Exception):
    """The receiver cannot store: its disk (or its configured size limit) is full."""


class Store:
    """The receiver's SQLite file; one connection per thread, writes serialised by one lock."""

    def __init__(self, data_dir: Path, max_db_mb: float | None = None):
        self.dir = Path(data_dir)
        self.dir.mkdir(parents=True, exist_ok=True)
        (self.dir / "photos").mkdir(exist_ok=True)
        self.path = self.dir / "receiver.db"
        self.max_bytes = int(max_db_mb * 1024 * 1024) if max_db_mb else None
        self.lock = threading.Lock()
        self.reject_types: frozenset[str] = frozenset()
        self._local = threading.local()
        self.conn().executescript(SCHEMA)

    def conn(self) -> sqlite3.Connection:
        c = getattr(self._local, "conn", None)
        if c is None:
            c = sqlite3.connect(self.path, timeout=30, isolation_level=None, check_same_thread=False)
            c.execute("PRAGMA journal_mode=WAL")
            c.execute("PRAGMA synchronous=FULL")
            c.execute("PRAGMA busy_timeout=30000")
            self._local.conn = c
        return c

    def size(self) -> int:
        return sum(p.stat().st_size for p in self.dir.glob("receiver.db*") if p.exists())

    def check_room(self) -> None:
        if self.max_bytes is not None and self.size() >= self.max_bytes:
            raise DiskFull(f"size limit {self.max_bytes // (1024 * 1024)} MB reached")

    def bump(self, c, name: str, n: int = 1) -> None:
        c.execute("INSERT INTO stats (name, n) VALUES (?, ?) ON CONFLICT (name) DO UPDATE SET n = n + excluded.n",
                  (name, n))

    def lane_head(self, appliance: str, lane: str) -> int:
        row = self.conn().execute("SELECT head FROM lanes WHERE appliance_id = ? AND lane = ?",
                                  (appliance, lane)).fetchone()
        return row[0] if row else 0

    def ingest(self, appliance: str, lane: str, after: int, replay: bool, events: list[dict]) -> dict:
        """Store a batch in one transaction. Returns the answer body, or {"gap": head}."""
        with self.lock:
            self.check_room()
            c = self.conn()
            try:
                c.execute("BEGIN IMMEDIATE")
                head = self.lane_head(appliance, lane)
                if not replay and after > head:
                    c.execute("ROLLBACK")
                    return {"gap": head}
                accepted, dups, rejected = 0, 0, []
                for ev in events:
                    verdict = self.check(c, appliance, ev)
                    if verdict == "new":
                        c.execute(f"INSERT INTO events ({', '.join(_COLS)}, appliance_id, received_at) "
                                  f"VALUES ({', '.join('?' * (len(_COLS) + 2))})",
                                  (*(ev[k] for k in _COLS), appliance, int(time.time() * 1000)))
                        accepted += 1
                    elif verdict == "duplicate":
                        dups += 1
                    else:
                        rejected.append({"seq": ev.get("seq"), "id": ev.get("id"), "reason": verdict})
                last = max(int(e["seq"]) for e in events)
                if not replay:
                    c.execute("INSERT INTO lanes (appliance_id, lane, head, updated_at) VALUES (?, ?, ?, ?) "
                              "ON CONFLICT (appliance_id, lane) DO UPDATE SET head = max(head, excluded.head), "
                              "updated_at = excluded.updated_at", (appliance, lane, last, int(time.time() * 1000)))
                self.bump(c, "accepted", accepted)
                self.bump(c, "duplicates", dups)
                self.bump(c, "rejected", len(rejected))
                c.execute("COMMIT")
            except BaseException:
                if c.in_transaction:
                    c.execute("ROLLBACK")
                raise
        return {"accepted": accepted, "duplicates": dups, "rejected": rejected, "head": max(head, last)}

    def check(self, c, appliance: str, ev: dict) -> str:
        """"new", "duplicate", or why the event is refused."""
        try:
            fields = {k: ev[k] for k in _COLS}
            seq = int(fields["seq"])
            if seq < 1 or not isinstance(fields["payload"], str):
                raise ValueError
        except (KeyError, TypeError, ValueError):
            return "malformed event (fields missing or of the wrong type)"
        if event_hash(fields["prev_hash"], fields) != fields["hash"]:
            return "content does not match its hash (altered)"
        if fields["type"] in self.reject_types:
            return f"this receiver does not accept {fields['type']} records"
        same_id = c.execute("SELECT appliance_id, seq, hash FROM events WHERE id = ?", (fields["id"],)).fetchone()
        if same_id is not None:
            if same_id == (appliance, seq, fields["hash"]):
                return "duplicate"
            return "event id already held with other content (conflict)"
        if c.execute("SELECT 1 FROM events WHERE appliance_id = ? AND seq = ?", (appliance, seq)).fetchone():
            return f"seq {seq} already holds another event (forked chain)"
        prev = GENESIS_HASH if seq == 1 else (c.execute(
            "SELECT hash FROM events WHERE appliance_id = ? AND seq = ?", (appliance, seq - 1)).fetchone() or [None])[0]
        if prev is not None and prev != fields["prev_hash"]:
            return f"does not link to seq {seq - 1} (chain broken)"
        nxt = c.execute("SELECT prev_hash FROM events WHERE appliance_id = ? AND seq = ?",
                        (appliance, seq + 1)).fetchone()
        if nxt is not None and nxt[0] != fields["hash"]:
            return f"seq {seq + 1} does not link to it (chain broken)"
        return "new"

    def verify(self, appliance: str) -> dict:
        """Walk one appliance's chain from seq 1: count, the first gap or broken link, the head."""
        c = self.conn()
        prev, expected, n = GENESIS_HASH, 1, 0
        for seq, ph, h in c.execute("SELECT seq, prev_hash, hash FROM events WHERE appliance_id = ? ORDER BY seq",
                                    (appliance,)):
            if seq != expected:
                return {"ok": False, "events": n, "first_gap": expected, "contiguous_head": expected - 1}
            if ph != prev:
                return {"ok": False, "events": n, "broken_at": seq, "contiguous_head": expected - 1}
            prev, expected, n = h, seq + 1, n + 1
        return {"ok": True, "events": n, "contiguous_head": n, "head_hash": prev}

    def summary(self) -> dict:
        c = self.conn()
        apps = {}
        for app, n, top, last in c.execute("SELECT appliance_id, count(*), max(seq), max(received_at) FROM events "
                                           "GROUP BY appliance_id"):
            apps[app] = {"events": n, "max_seq": top, "last_received_at": last, "lanes": {}}
        for app, lane, head in c.execute("SELECT appliance_id, lane, head FROM lanes"):
            apps.setdefault(app, {"events": 0, "max_seq": 0, "last_received_at": None, "lanes": {}})["lanes"][lane] = head
        for app, n in c.execute("SELECT appliance_id, count(*) FROM aggregates GROUP BY appliance_id"):
            apps.setdefault(app, {"events": 0, "max_seq": 0, "last_received_at": None, "lanes": {}})["aggregates"] = n
        stats = dict(c.execute("SELECT name, n FROM stats").fetchall())
        photos = c.execute("SELECT count(*) FROM photos").fetchone()[0]
        return {"appliances": apps, "stats": stats, "photos": photos}

    def store_aggregates(self, appliance: str, rows: list[dict]) -> int:
        with self.lock:
            self.check_room()
            c = self.conn()
            now = int(time.time() * 1000)
            c.execute("BEGIN IMMEDIATE")
            try:
                c.executemany("INSERT OR REPLACE INTO aggregates (appliance_id, point, minute, min, avg, max, n, "
                              "received_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                              [(appliance, str(r["point"]), int(r["minute"]), r["min"], r["avg"], r["max"], int(r["n"]),
                                now) for r in rows])
                c.execute("COMMIT")
            except BaseException:
                if c.in_transaction:
                    c.execute("ROLLBACK")
                raise
        return len(rows)


def gunzip(body: bytes, limit: int = MAX_BODY) -> bytes:
    """Inflate at most `limit` bytes: a small body that would inflate to gigabytes is refused, not held."""
    import zlib

    d = zlib.decompressobj(wbits=16 + zlib.MAX_WBITS)
    try:
        out = d.decompress(body, limit)
    except zlib.error as exc:
        raise ValueError(f"not gzip: {exc}") from None
    if d.unconsumed_tail:
        raise ValueError(f"inflates to more than {limit // (1024 * 1024)} MB")
    return out


def _disk_full(exc: BaseException) -> bool:
    if isinstance(exc, DiskFull):
        return True
    if isinstance(exc, OSError) and exc.errno in (errno.ENOSPC, errno.EDQUOT):
        return True
    return isinstance(exc, sqlite3.OperationalError) and "full" in str(exc).lower()


def error(status: int, code: str, message: str, headers: dict | None = None, **extra):
    resp = jsonify({"error": {"code": code, "message": message}, **extra})
    resp.status_code = status
    for k, v in (headers or {}).items():
        resp.headers[k] = v
    return resp


class Throttle:
    """429 on purpose: every Nth request (tests), and at most one request per `min_interval` per appliance."""

    def __init__(self, every: int = 0, retry_after: float = 1, min_interval: float = 0):
        self.every, self.retry_after, self.min_interval = every, retry_after, min_interval
        self.count = 0
        self.last: dict[str, float] = {}
        self.lock = threading.Lock()

    def check(self, who: str) -> float | None:
        """Seconds to come back after, or None to go ahead."""
        with self.lock:
            self.count += 1
            if self.every and self.count % self.every == 0:
                return self.retry_after
            if self.min_interval:
                now = time.monotonic()
                left = self.last.get(who, -1e9) + self.min_interval - now
                if left > 0:
                    return left
                self.last[who] = now
        return None


def create_receiver(data_dir: str | Path, secrets: dict[str, str] | str, *, max_skew_s: float = 300,
                    throttle: Throttle | None = None, max_db_mb: float | None = None,
                    reject_types: tuple[str, ...] = (), clock_offset_s: float = 0, hooks: dict | None = None) -> Flask:
    """`secrets`: one secret for every appliance, or {appliance id: secret}. `reject_types`: event types
    this receiver refuses record by record (an endpoint that does not take them yet). `hooks`: the webhook
    side's options (`receiver_hooks.register`: hook_secret, wecom_key, dingtalk_token, dingtalk_secret)."""
    store = Store(Path(data_dir), max_db_mb)
    store.reject_types = frozenset(reject_types)
    throttle = throttle or Throttle()
    app = Flask(__name__)
    app.config["MAX_CONTENT_LENGTH"] = MAX_BODY
    app.extensions["receiver"] = store

    def secret_for(appliance: str) -> str | None:
        return secrets if isinstance(secrets, str) else secrets.get(appliance)

    def authenticate(body: bytes):
        appliance = request.headers.get("X-Appliance-Id", "")
        ts = request.headers.get("X-Timestamp", "")
        secret = secret_for(appliance)
        if not secret or not ts.isdigit() or not crypto.verify(secret, ts, body, request.headers.get("X-Signature", "")):
            with store.lock:
                store.bump(store.conn(), "unauthorised")
            return None, error(401, "bad_signature", "signature missing or wrong (check the endpoint secret)")
        now = time.time() + clock_offset_s
        skew = abs(int(ts) / 1000 - now)
        if skew > max_skew_s:
            return None, error(401, "clock_skew", f"timestamp is {skew:.0f} s from the receiver's clock",
                               {"X-Server-Time": str(int(now * 1000))})
        return appliance, None

    @app.get("/v1/ping")
    def ping():
        return jsonify({"ok": True, "time": int(time.time() * 1000)})

    @app.post("/v1/events")
    def receive():
        body = request.get_data(cache=False)
        appliance, fail = authenticate(body)
        if fail:
            return fail
        wait = throttle.check(appliance)
        if wait is not None:
            with store.lock:
                store.bump(store.conn(), "throttled")
            return error(429, "throttled", "too many requests; come back later",
                         {"Retry-After": str(max(1, int(wait + 0.999)))})
        try:
            raw = gunzip(body) if request.headers.get("Content-Encoding") == "gzip" else body
            batch = json.loads(raw)
            events = batch["events"]
            lane, after, replay = str(batch["lane"]), int(batch["after"]), bool(batch.get("replay"))
            if batch.get("appliance_id") != appliance or not isinstance(events, list) or not events:
                raise ValueError("appliance_id does not match the header, or no events")
            seqs = [int(e["seq"]) for e in events]
            if f"{min(seqs)}-{max(seqs)}" != request.headers.get("X-Seq-Range") or \
                    events[-1].get("hash") != request.headers.get("X-Chain-Head"):
                raise ValueError("X-Seq-Range or X-Chain-Head does not match the body")
        except (OSError, EOFError, ValueError, KeyError, TypeError) as exc:
            return error(400, "bad_batch", f"unreadable batch: {exc}")
        try:
            out = store.ingest(appliance, lane, after, replay, events)
        except Exception as exc:
            if _disk_full(exc):
                log.error("receiver disk full", extra={"error": str(exc)})
                return error(507, "disk_full", f"the receiver's disk is full; nothing of this batch was stored ({exc})",
                             {"Retry-After": "60"})
            raise
        if "gap" in out:
            return error(409, "chain_gap", f"this receiver holds lane {lane} of {appliance} only up to seq "
                         f"{out['gap']}, the batch continues from {after}", expected_after=out["gap"])
        return jsonify(out)

    @app.post("/v1/aggregates")
    def receive_aggregates():
        body = request.get_data(cache=False)
        appliance, fail = authenticate(body)
        if fail:
            return fail
        wait = throttle.check(appliance)
        if wait is not None:
            return error(429, "throttled", "too many requests; come back later",
                         {"Retry-After": str(max(1, int(wait + 0.999)))})
        try:
            raw = gunzip(body) if request.headers.get("Content-Encoding") == "gzip" else body
            batch = json.loads(raw)
            rows = batch["rows"]
            if batch.get("appliance_id") != appliance or not isinstance(rows, list):
                raise ValueError("appliance_id does not match the header, or no rows")
            for r in rows:
                float(r["min"]), float(r["avg"]), float(r["max"]), int(r["n"]), int(r["minute"]), str(r["point"])
        except (OSError, EOFError, ValueError, KeyError, TypeError) as exc:
            return error(400, "bad_batch", f"unreadable aggregates: {exc}")
        try:
            n = store.store_aggregates(appliance, rows)
        except Exception as exc:
            if _disk_full(exc):
                return error(507, "disk_full", f"the receiver's disk is full; nothing was stored ({exc})",
                             {"Retry-After": "60"})
            raise
        return jsonify({"stored": n})

    @app.route("/v1/photos/<digest>", methods=["HEAD", "PUT"])
    def photo(digest: str):
        if len(digest) != HASH_RE_LEN or any(ch not in "0123456789abcdef" for ch in digest):
            return error(404, "not_found", "no such photo")
        body = request.get_data(cache=False) if request.method == "PUT" else b""
        appliance, fail = authenticate(body)
        if fail:
            return fail
        final, part = store.dir / "photos" / f"{digest}.jpg", store.dir / "photos" / f"{digest}.part"
        if request.method == "HEAD":
            if final.exists():
                return Response(status=200)
            return Response(status=404, headers={"Upload-Offset": str(part.stat().st_size if part.exists() else 0)})
        if final.exists():
            return Response(status=200)
        try:
            unit, _, rng = request.headers.get("Content-Range", "").partition(" ")
            span, _, total_text = rng.partition("/")
            start_text, _, end_text = span.partition("-")
            start, end, total = int(start_text), int(end_text), int(total_text)
            if unit != "bytes" or end - start + 1 != len(body) or end >= total:
                raise ValueError
        except ValueError:
            return error(400, "bad_range", "Content-Range missing or does not match the body")
        try:
            have = part.stat().st_size if part.exists() else 0
            if start != have:
                return Response(status=308, headers={"Upload-Offset": str(have)})
            with open(part, "ab") as fh:
                fh.write(body)
                fh.flush()
                os.fsync(fh.fileno())
            if end + 1 < total:
                return Response(status=308, headers={"Upload-Offset": str(end + 1)})
            if hashlib.sha256(part.read_bytes()).hexdigest() != digest:
                part.unlink()
                return error(422, "hash_mismatch", "the uploaded bytes do not have the SHA-256 named")
            os.replace(part, final)
            with store.lock:
                store.conn().execute("INSERT OR IGNORE INTO photos (sha256, bytes, appliance_id, received_at) "
                                     "VALUES (?, ?, ?, ?)", (digest, total, appliance, int(time.time() * 1000)))
        except Exception as exc:
            if _disk_full(exc):
                return error(507, "disk_full", f"the receiver's disk is full ({exc})", {"Retry-After": "60"})
            raise
        return Response(status=201)

    from sync import receiver_hooks

    receiver_hooks.register(app, store, throttle, error, max_skew_s=max_skew_s, clock_offset_s=clock_offset_s,
                            **(hooks or {}))

    @app.get("/v1/appliances/<appliance>/verify")
    def verify(appliance: str):
        return jsonify(store.verify(appliance))

    @app.get("/v1/status")
    def status():
        return jsonify(store.summary())

    @app.get("/")
    def index():
        s = store.summary()
        rows = "".join(f"<tr><td>{a}</td><td>{v['events']}</td><td>{v['max_seq']}</td>"
                       f"<td>{', '.join(f'{k} {h}' for k, h in v['lanes'].items())}</td></tr>"
                       for a, v in sorted(s["appliances"].items()))
        stats = ", ".join(f"{k} {v}" for k, v in sorted(s["stats"].items()))
        html = (f"<!doctype html><meta charset=utf-8><meta http-equiv=refresh content=2><title>sync receiver</title>"
                f"<h1>同步接收端 / sync receiver</h1><p>{stats}; photos {s['photos']}</p>"
                f"<table border=1 cellpadding=4><tr><th>appliance</th><th>events</th><th>max seq</th>"
                f"<th>lane heads</th></tr>{rows}</table>")
        return Response(html, mimetype="text/html")

    return app


def serve(app: Flask, host: str, port: int, threads: int = 8) -> None:
    """Serve until SIGTERM/SIGINT; prints READY once listening (the test and demo harness waits for it)."""
    import signal

    from waitress.server import create_server

    server = create_server(app, host=host, port=port, threads=threads, ident="sync-receiver",
                           channel_timeout=60)
    print(f"receiver listening on http://{host}:{server.effective_port}", flush=True)  # type: ignore[union-attr]  # waitress-stubs omit effective_port
    print("READY", flush=True)

    def _stop(signum, frame):
        raise SystemExit(0)

    signal.signal(signal.SIGTERM, _stop)
    try:
        server.run()
    finally:
        server.close()
