"""Sync state in the appliance database: cursors per endpoint and lane, batches read after a cursor,
the dead-letter list and the photos an endpoint already holds.

The event log is the outbox: nothing is copied out of it. A cursor moves only when `acknowledge` is
called with what the endpoint acknowledged, in the same transaction as the dead letters it refused.
"""
from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass

from appliance.core import photos
from appliance.core.db import database
from appliance.core.domain import safety_event_prefixes
from appliance.core.events import now_ms

# Priority lanes: safety records first (the event types each domain declares: alarms, hazards, patrol and
# control checks, risk register, PPE violations, point faults), then every other record (master data,
# system), then the per-minute telemetry aggregates (rows of reading_minutes, not events: their cursor is a
# minute), then photos.
LANES_ORDER = ("safety", "records", "aggregates", "photos")
COLUMNS = ("seq", "id", "type", "occurred_at", "recorded_at", "actor", "entity_type", "entity_id", "payload",
           "prev_hash", "hash")


def lane_sql(lane: str) -> str:
    """The WHERE clause over `events` that selects one lane's events."""
    if lane == "photos":
        return photos.EVENT_SQL_FILTER
    safety = "(" + (" OR ".join(f"type GLOB '{p}*'" for p in safety_event_prefixes()) or "0") + ")"
    return safety if lane == "safety" else f"NOT {safety}"


def lane_of(event_type: str) -> str:
    return "safety" if event_type.startswith(safety_event_prefixes()) else "records"


@dataclass
class Row:
    """One event as read for sending (payload kept as its stored canonical text, so hashes re-check)."""

    seq: int
    id: str
    type: str
    occurred_at: int
    recorded_at: int
    actor: str
    entity_type: str | None
    entity_id: str | None
    payload: str
    prev_hash: str
    hash: str

    def as_dict(self) -> dict:
        return {k: getattr(self, k) for k in COLUMNS}

    @property
    def size(self) -> int:
        return len(self.payload) + len(self.actor) + len(self.type) + 300


def cursors(endpoint: str) -> dict[str, int]:
    rows = database.execute_sql("SELECT lane, cursor FROM sync_cursors WHERE endpoint = ?", (endpoint,)).fetchall()
    return {lane: c for lane, c in rows}


def cursor(endpoint: str, lane: str) -> int:
    row = database.execute_sql("SELECT cursor FROM sync_cursors WHERE endpoint = ? AND lane = ?",
                               (endpoint, lane)).fetchone()
    return row[0] if row else 0


def read_batch(lane: str, after: int, max_events: int, max_bytes: int) -> list[Row]:
    """Events of `lane` with seq > after, in seq order, at most `max_events` and about `max_bytes`
    (always at least one, however large)."""
    sql = f"SELECT {', '.join(COLUMNS)} FROM events WHERE seq > ? AND {lane_sql(lane)} ORDER BY seq LIMIT ?"
    out: list[Row] = []
    size = 0
    for r in database.execute_sql(sql, (after, max_events)).fetchall():
        row = Row(*r)
        size += row.size
        if out and size > max_bytes:
            break
        out.append(row)
    return out


def rows_by_seq(seqs: list[int]) -> list[Row]:
    if not seqs:
        return []
    marks = ", ".join("?" * len(seqs))
    sql = f"SELECT {', '.join(COLUMNS)} FROM events WHERE seq IN ({marks}) ORDER BY seq"
    return [Row(*r) for r in database.execute_sql(sql, seqs).fetchall()]


def finished_before(now: int | None = None) -> int:
    """Minutes starting before this (UTC ms) are finished: the sensors no longer add to them."""
    now = now_ms() if now is None else now
    return now - now % 60_000 - 60_000


def read_aggregates(after_minute: int, max_rows: int, before: int | None = None) -> list[dict]:
    """Whole finished minutes of reading_minutes after `after_minute`, about `max_rows` rows (never a
    minute cut in two, so the minute cursor is exact)."""
    before = finished_before() if before is None else before
    minutes = [m for (m,) in database.execute_sql(
        "SELECT DISTINCT minute FROM reading_minutes WHERE minute > ? AND minute < ? ORDER BY minute LIMIT ?",
        (after_minute, before, max(1, max_rows))).fetchall()]
    out: list[dict] = []
    for m in minutes:
        rows = database.execute_sql("SELECT point, minute, min, avg, max, n FROM reading_minutes WHERE minute = ? "
                                    "ORDER BY point", (m,)).fetchall()
        if out and len(out) + len(rows) > max_rows:
            break
        out += [dict(zip(("point", "minute", "min", "avg", "max", "n"), r, strict=False)) for r in rows]
    return out


BACKLOG_COUNT_CAP = 100_000


def head_seq() -> int:
    return database.execute_sql("SELECT coalesce(max(seq), 0) FROM events").fetchone()[0]


def backlog(endpoint: str, lane: str, known_empty_to: int = 0) -> tuple[int, int | None]:
    """(records not yet acknowledged in this lane, the time of the oldest of them); events up to
    `known_empty_to` are known not to be in the lane and are not counted again."""
    c = cursor(endpoint, lane)
    if lane == "aggregates":
        n, oldest = database.execute_sql("SELECT count(*), min(minute) FROM reading_minutes WHERE minute > ? "
                                         "AND minute < ?", (c, finished_before())).fetchone()
        return n, oldest
    start = max(c, known_empty_to)
    # counted up to BACKLOG_COUNT_CAP (a long outage must not make this poll scan the whole backlog every
    # few seconds): past it the figure reads as "at least"; the oldest is the first in the lane after the cursor
    (n,) = database.execute_sql(
        f"SELECT count(*) FROM (SELECT 1 FROM events WHERE seq > ? AND {lane_sql(lane)} LIMIT ?)",
        (start, BACKLOG_COUNT_CAP)).fetchone()
    row = database.execute_sql(
        f"SELECT recorded_at FROM events WHERE seq > ? AND {lane_sql(lane)} ORDER BY seq LIMIT 1", (start,)).fetchone()
    return n, row[0] if row else None


def acknowledge(endpoint: str, lane: str, through: int, rejected: Sequence[tuple[int, str, str]] = ()) -> None:
    """The endpoint acknowledged the lane up to `through`; `rejected` (seq, event id, reason) go to the
    dead-letter list. A cursor never moves backwards here (see `rewind`)."""
    t = now_ms()
    with database.atomic():
        for seq, event_id, reason in rejected:
            database.execute_sql(
                "INSERT INTO sync_dead_letters (endpoint, seq, event_id, reason, created_at) VALUES (?, ?, ?, ?, ?) "
                "ON CONFLICT (endpoint, seq) DO UPDATE SET reason = excluded.reason, replayed_at = NULL, "
                "resolved_at = NULL", (endpoint, seq, event_id, reason[:1000], t))
        database.execute_sql(
            "INSERT INTO sync_cursors (endpoint, lane, cursor, updated_at) VALUES (?, ?, ?, ?) "
            "ON CONFLICT (endpoint, lane) DO UPDATE SET cursor = max(cursor, excluded.cursor), "
            "updated_at = excluded.updated_at", (endpoint, lane, through, t))


def rewind(endpoint: str, lane: str, to: int) -> int:
    """The endpoint holds less than we thought (its data was restored): send again from `to`. Returns
    the new cursor (never forward)."""
    with database.atomic():
        c = min(cursor(endpoint, lane), max(0, to))
        database.execute_sql(
            "INSERT INTO sync_cursors (endpoint, lane, cursor, updated_at) VALUES (?, ?, ?, ?) "
            "ON CONFLICT (endpoint, lane) DO UPDATE SET cursor = excluded.cursor, updated_at = excluded.updated_at",
            (endpoint, lane, c, now_ms()))
    return c


def dead_letters(endpoint: str | None = None, open_only: bool = True, limit: int = 200) -> list[dict]:
    where, args = [], []
    if endpoint:
        where.append("d.endpoint = ?")
        args.append(endpoint)
    if open_only:
        where.append("d.resolved_at IS NULL")
    sql = ("SELECT d.id, d.endpoint, d.seq, d.event_id, d.reason, d.created_at, d.replayed_at, d.resolved_at, e.type "
           "FROM sync_dead_letters d LEFT JOIN events e ON e.seq = d.seq"
           + (" WHERE " + " AND ".join(where) if where else "") + " ORDER BY d.id DESC LIMIT ?")
    cols = ("id", "endpoint", "seq", "event_id", "reason", "created_at", "replayed_at", "resolved_at", "type")
    return [dict(zip(cols, r, strict=False)) for r in database.execute_sql(sql, (*args, limit)).fetchall()]


def open_dead_letters(endpoint: str) -> int:
    return database.execute_sql("SELECT count(*) FROM sync_dead_letters WHERE endpoint = ? AND resolved_at IS NULL",
                                (endpoint,)).fetchone()[0]


def mark_replay(endpoint: str, ids: list[int] | None = None) -> int:
    """Ask for dead letters (all open ones of the endpoint, or those ids) to be sent again."""
    sql = "UPDATE sync_dead_letters SET replayed_at = ? WHERE endpoint = ? AND resolved_at IS NULL"
    args: list = [now_ms(), endpoint]
    if ids:
        sql += f" AND id IN ({', '.join('?' * len(ids))})"
        args += ids
    with database.atomic():
        return database.execute_sql(sql, args).rowcount


def replay_due(endpoint: str, limit: int) -> list[Row]:
    seqs = [r[0] for r in database.execute_sql(
        "SELECT seq FROM sync_dead_letters WHERE endpoint = ? AND replayed_at IS NOT NULL AND resolved_at IS NULL "
        "ORDER BY seq LIMIT ?", (endpoint, limit)).fetchall()]
    return rows_by_seq(seqs)


def replay_done(endpoint: str, accepted: list[int], rejected: list[tuple[int, str, str]]) -> None:
    t = now_ms()
    with database.atomic():
        for seq in accepted:
            database.execute_sql("UPDATE sync_dead_letters SET resolved_at = ? WHERE endpoint = ? AND seq = ?",
                                 (t, endpoint, seq))
        for seq, _, reason in rejected:
            database.execute_sql("UPDATE sync_dead_letters SET replayed_at = NULL, reason = ? "
                                 "WHERE endpoint = ? AND seq = ?", (reason[:1000], endpoint, seq))


def photos_in(rows: list[Row]) -> list[str]:
    seen: dict[str, None] = {}
    for r in rows:
        for digest in photos.digests_in(json.loads(r.payload)):
            seen.setdefault(digest, None)
    return list(seen)


def photo_sent(endpoint: str, digest: str) -> bool:
    return database.execute_sql("SELECT 1 FROM sync_photos WHERE endpoint = ? AND sha256 = ?",
                                (endpoint, digest)).fetchone() is not None


def mark_photo_sent(endpoint: str, digest: str) -> None:
    with database.atomic():
        database.execute_sql("INSERT OR IGNORE INTO sync_photos (endpoint, sha256, sent_at) VALUES (?, ?, ?)",
                             (endpoint, digest, now_ms()))
