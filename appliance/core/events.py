"""The event log: the appliance's spine.

Every domain change goes through `recording()`: the record row(s) and one event row per fact are written
in one SQLite transaction. Each event carries `hash = sha256(prev_hash || canonical_json(event))`, so the
log is a tamper-evident audit trail that `verify_chain` walks. After commit the in-process `Bus` reads
the new events (in `seq` order, whichever process wrote them) and hands them to subscribers: the SSE
stream for kiosks, later the sync engine and the reports.

    with events.recording(actor="user:admin") as rec:
        person = Person.create(...)
        rec.emit("person.created", entity=("person", person.id), payload={...})
"""
from __future__ import annotations

import dataclasses
import hashlib
import itertools
import json
import logging
import queue
import threading
import time
import uuid
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, cast

import peewee

from appliance.core.db import BaseModel, database
from appliance.core.errors import ChainBroken

log = logging.getLogger(__name__)

GENESIS_HASH = "0" * 64


def now_ms() -> int:
    """Current UTC time in integer milliseconds (the only time unit stored)."""
    return time.time_ns() // 1_000_000


_CANONICAL = json.JSONEncoder(sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False)


def canonical_json(obj: Any) -> str:
    """Deterministic JSON: sorted keys, no spaces, UTF-8 text kept as is."""
    return _CANONICAL.encode(obj)


class Event(BaseModel):
    seq = peewee.IntegerField(primary_key=True)
    id = peewee.TextField(unique=True)  # type: ignore[assignment]  # peewee: a field may replace the base's AutoField
    type = peewee.TextField()
    occurred_at = peewee.IntegerField()
    recorded_at = peewee.IntegerField()
    actor = peewee.TextField()
    entity_type = peewee.TextField(null=True)
    entity_id = peewee.TextField(null=True)
    payload = peewee.TextField()
    prev_hash = peewee.TextField()
    hash = peewee.TextField()

    class Meta:
        table_name = "events"


HASHED_FIELDS = ("seq", "id", "type", "occurred_at", "recorded_at", "actor", "entity_type", "entity_id", "payload")


_json_str = json.encoder.encode_basestring  # the string encoder canonical_json uses (ensure_ascii=False)


def _opt(v: str | None) -> str:
    return "null" if v is None else _json_str(v)


def _hash_body(seq, id, type, occurred_at, recorded_at, actor, entity_type, entity_id, payload) -> str:
    """Canonical JSON of the hashed fields, written out in sorted key order: the same bytes as
    `canonical_json` (a test holds them equal) at a fraction of the cost, on the log's hot path."""
    return (f'{{"actor":{_json_str(actor)},"entity_id":{_opt(entity_id)},"entity_type":{_opt(entity_type)},'
            f'"id":{_json_str(id)},"occurred_at":{int(occurred_at)},"payload":{_json_str(payload)},'
            f'"recorded_at":{int(recorded_at)},"seq":{int(seq)},"type":{_json_str(type)}}}')


def event_hash(prev_hash: str, fields: dict) -> str:
    """sha256(prev_hash || canonical JSON of the hashed fields). `payload` is hashed as its stored text."""
    body = _hash_body(*(fields[k] for k in HASHED_FIELDS))
    return hashlib.sha256(prev_hash.encode("ascii") + body.encode("utf-8")).hexdigest()


@dataclass(frozen=True)
class Committed:
    """An event as published after commit (what SSE clients and subscribers see)."""

    seq: int
    id: str
    type: str
    occurred_at: int
    recorded_at: int
    actor: str
    entity_type: str | None
    entity_id: str | None
    payload: dict
    hash: str
    # False for the items of a bulk write (a register import's thousands of rows): stored, chained, synced
    # and seen by subscribers, but live streams send only the write's summary event (issue 14). Not stored:
    # the bus marks them again as it reads them back (QUIET).
    live: bool = field(default=True, compare=False)

    @property
    def json(self) -> str:
        """The event as compact JSON, built once however many SSE clients send it. Not functools'
        cached_property: on Python 3.11 it holds one lock for every instance of the class, and 50 live
        streams queued on it (py-spy under bench/load.py's maintenance phase, issue 14). Two threads
        building it at once build the same string."""
        made = self.__dict__.get("_json")
        if made is None:
            made = json.dumps(self.as_dict(), ensure_ascii=False, separators=(",", ":"))
            self.__dict__["_json"] = made
        return made

    def as_dict(self) -> dict:
        return {"seq": self.seq, "id": self.id, "type": self.type, "occurred_at": self.occurred_at,
                "recorded_at": self.recorded_at, "actor": self.actor, "entity_type": self.entity_type,
                "entity_id": self.entity_id, "payload": self.payload, "hash": self.hash}

    @classmethod
    def from_row(cls, row: dict) -> Committed:
        return cls(seq=row["seq"], id=row["id"], type=row["type"], occurred_at=row["occurred_at"],
                   recorded_at=row["recorded_at"], actor=row["actor"], entity_type=row["entity_type"],
                   entity_id=row["entity_id"], payload=json.loads(row["payload"]), hash=row["hash"])


class _Chain:
    """The events of one outermost transaction, chained but not yet inserted."""

    def __init__(self) -> None:
        self.head: tuple[int, str] | None = None
        self.rows: list[tuple] = []
        self.emitted: list[Committed] = []

    def mark(self) -> tuple:
        return (self.head, len(self.rows))

    def rewind(self, mark: tuple) -> None:
        """Forget what a rolled-back inner block emitted (its savepoint undid its record rows)."""
        self.head, n = mark
        del self.rows[n:]
        del self.emitted[n:]


class Recorder:
    """Handed out by `recording()`; `emit` chains one event, and all of them are inserted together just
    before the outermost transaction commits (a rolled-back block inserts none)."""

    def __init__(self, actor: str, chain: _Chain | None = None, live: bool = True):
        self.actor = actor
        self.chain = chain or _Chain()
        self.live = live

    @property
    def emitted(self) -> list[Committed]:
        return self.chain.emitted

    def emit(self, type: str, *, entity: tuple[str, Any] | None = None, payload: dict | None = None,
             occurred_at: int | None = None) -> Committed:
        c = self.chain
        if c.head is None:
            last = database.execute_sql(_HEAD_SQL).fetchone()
            c.head = (last[0], last[1]) if last else (0, GENESIS_HASH)
        seq, prev = c.head[0] + 1, c.head[1]
        payload = payload or {}
        recorded = now_ms()
        occurred = recorded if occurred_at is None else int(occurred_at)
        # the columns in HASHED_FIELDS order (also Committed's field order)
        row = (seq, str(uuid.uuid4()), type, occurred, recorded, self.actor,
               entity[0] if entity else None, str(entity[1]) if entity else None, canonical_json(payload))
        h = hashlib.sha256(prev.encode("ascii") + _hash_body(*row).encode("utf-8")).hexdigest()
        c.rows.append((*row, prev, h))
        c.head = (seq, h)
        ev = Committed(*row[:8], payload, h, live=self.live)
        c.emitted.append(ev)
        return ev

    def flush(self) -> None:
        """Insert the chained events with one executemany (fixed SQL: peewee's query building cost more
        than SQLite's write) inside the still-open transaction."""
        if self.chain.rows:
            database.connection().executemany(_INSERT_SQL, self.chain.rows)
            self.chain.rows = []


_OPEN = threading.local()  # the outermost Recorder of this thread's open transaction


_HEAD_SQL = "SELECT seq, hash FROM events ORDER BY seq DESC LIMIT 1"
_INSERT_SQL = (f"INSERT INTO events ({', '.join(HASHED_FIELDS)}, prev_hash, hash) "
               f"VALUES ({', '.join('?' * (len(HASHED_FIELDS) + 2))})")


@contextmanager
def recording(actor: str, live: bool = True) -> Iterator[Recorder]:
    """Open the one write transaction through which every domain change goes.

    Record rows written inside the block and the events emitted on the recorder commit together or not
    at all. A `recording` inside another joins it (a savepoint; its events go on the same chain). On
    commit the bus is woken so subscribers see the events at once.
    """
    outer: Recorder | None = getattr(_OPEN, "recorder", None)
    if outer is not None:  # nested: a savepoint in the same transaction, events on the same chain
        rec = Recorder(actor, outer.chain, live)
        mark = rec.chain.mark()
        try:
            with database.atomic():
                yield rec
        except BaseException:
            rec.chain.rewind(mark)
            raise
        return
    rec = Recorder(actor, live=live)
    _OPEN.recorder = rec
    quiet: list[tuple[str, int, int]] = []
    try:
        with database.atomic():
            yield rec
            # known before the commit, so the bus never reads these rows as live ones
            quiet = QUIET.add(e.seq for e in rec.emitted if not e.live)
            rec.flush()
    except BaseException:
        QUIET.discard(quiet)   # rolled back: these seqs will be used again by other events
        raise
    finally:
        _OPEN.recorder = None
    if rec.emitted and BUS is not None:
        BUS.poke()


class _QuietRanges:
    """The seqs of this process's bulk items (`recording(live=False)`), as the bus reads events back from
    the log: they reach subscribers marked `live=False` and live streams skip them. Only recent ranges are
    kept (the bus reads events within a second of their commit); an item written by another process (but a
    child that relays its ranges here, `relay`), or read from the log by a stream far behind, is sent as any
    other event.

    A range belongs to one database file: seqs start again at 1 in another log (a restore, the next appliance
    in the same test process), and a range kept from the old one silenced that log's live events (CI: an alarm
    never reached the alarms page, feed items went missing, after a bulk import in an earlier test)."""

    def __init__(self, keep: int = 256) -> None:
        self._lock = threading.Lock()
        self._ranges: deque[tuple[str, int, int]] = deque(maxlen=keep)
        # in a child process that writes to the appliance's log (core.offload): tells the appliance's
        # process of each change, and waits for it, before the transaction commits
        self.relay: Callable[[tuple[str, list[tuple[str, int, int]]]], Any] | None = None

    def add(self, seqs: Iterable[int]) -> list[tuple[str, int, int]]:
        log_file = str(database.database)
        ranges: list[tuple[str, int, int]] = []
        for q in seqs:
            if ranges and q == ranges[-1][2] + 1:
                ranges[-1] = (log_file, ranges[-1][1], q)
            else:
                ranges.append((log_file, q, q))
        self.take(ranges)
        return ranges

    def take(self, ranges: list[tuple[str, int, int]]) -> None:
        """Ranges found by `add` here or in a child process writing to the same log."""
        if ranges:
            if self.relay is not None:
                self.relay(("quiet", ranges))
            with self._lock:
                self._ranges.extend(ranges)

    def discard(self, ranges: list[tuple[str, int, int]]) -> None:
        if ranges and self.relay is not None:
            self.relay(("unquiet", ranges))
        if ranges:
            with self._lock:
                for r in ranges:
                    if r in self._ranges:
                        self._ranges.remove(r)

    def clear(self) -> None:
        with self._lock:
            self._ranges.clear()

    def mark(self, batch: list[Committed]) -> list[Committed]:
        """The batch with its bulk items marked not live."""
        log_file = str(database.database)
        with self._lock:
            ranges = [(a, b) for f, a, b in self._ranges if f == log_file]
        if not ranges or not batch:
            return batch
        lo, hi = batch[0].seq, batch[-1].seq
        ranges = [r for r in ranges if r[1] >= lo and r[0] <= hi]
        if not ranges:
            return batch
        return [dataclasses.replace(e, live=False) if any(a <= e.seq <= b for a, b in ranges) else e for e in batch]


QUIET = _QuietRanges()


def record(type: str, *, actor: str, entity: tuple[str, Any] | None = None, payload: dict | None = None,
           occurred_at: int | None = None, change: Callable[[], Any] | None = None) -> Committed:
    """Write one event (and the record change `change()` makes, if given) in one transaction."""
    with recording(actor) as rec:
        if change is not None:
            change()
        return rec.emit(type, entity=entity, payload=payload, occurred_at=occurred_at)


def head_seq() -> int:
    """The newest event's seq (0 for an empty log). Plain SQL: peewee builds a query's SQL anew at each call,
    ~200 µs against ~10 µs for the query itself, and pages and cached answers ask for the head several times
    each (py-spy under bench/load.py's 50 clients: 7 % of the busy samples, issue 14)."""
    row = database.execute_sql("SELECT max(seq) FROM events").fetchone()
    return row[0] or 0


_SCOPED: dict[tuple[str, str], tuple[int, int]] = {}   # (log file, prefix) -> (head looked at, newest seq of prefix)
_SCOPED_LOCK = threading.Lock()


def head_seq_of(prefix: str) -> int:
    """The seq of the newest event whose type begins with `prefix` ("risk."), 0 if none. Remembered per log
    with the head it was worked out at, so a later call looks only at the events recorded since (by seq, the
    primary key): asking the events_type index for the whole scope cost 10-15 ms per request where a plant's
    log holds 100,000 hazard events (bench/load.py, issue 14)."""
    end = prefix[:-1] + chr(ord(prefix[-1]) + 1)
    head = head_seq()
    key = (str(database.database), prefix)
    with _SCOPED_LOCK:
        known = _SCOPED.get(key)
    if known is not None and known[0] == head:
        return known[1]
    if known is None or known[0] > head:   # first look, or another log under the same name (a restore)
        row = database.execute_sql("SELECT max(seq) FROM events WHERE type >= ? AND type < ? AND seq <= ?",
                                   (prefix, end, head)).fetchone()
        newest = row[0] or 0
    else:   # only what was recorded since; "+type": walk those rows by seq, not the whole scope by type
        row = database.execute_sql("SELECT max(seq) FROM events WHERE seq > ? AND seq <= ? AND +type >= ? "
                                   "AND +type < ?", (known[0], head, prefix, end)).fetchone()
        newest = row[0] or known[1]
    with _SCOPED_LOCK:
        _SCOPED[key] = (head, newest)
        if len(_SCOPED) > 256:   # logs of earlier tests in the same process
            _SCOPED.pop(next(iter(_SCOPED)))
    return newest


def read_after(seq: int, limit: int = 500) -> list[Committed]:
    """Committed events with seq > `seq`, in order."""
    rows = cast(Iterable[dict], Event.select().where(Event.seq > seq).order_by(Event.seq).limit(limit).dicts())
    return [Committed.from_row(r) for r in rows]


def verify_chain(conn, batch: int = 5000, start: tuple[int, str] | None = None) -> int:
    """Walk the log on a sqlite3 connection; return the last verified seq or raise ChainBroken at the first
    bad seq (a changed row, a missing row, a broken link). With `start` = (seq, hash) of an earlier verified
    checkpoint, the walk begins after it — once that row is found still holding that hash."""
    prev_hash, expected_seq, last = GENESIS_HASH, 1, 0
    if start is not None and start[0] > 0:
        seq, h = start
        row = conn.execute("SELECT hash FROM events WHERE seq = ?", (seq,)).fetchone()
        if row is None or row[0] != h:
            raise ChainBroken(seq, "检查点处的事件已改变（历史被改写）", "the event at the checkpoint changed (history rewritten)")
        prev_hash, expected_seq, last = h, seq + 1, seq
    cols = ", ".join(HASHED_FIELDS) + ", prev_hash, hash"
    while True:
        rows = conn.execute(f"SELECT {cols} FROM events WHERE seq > ? ORDER BY seq LIMIT ?", (last, batch)).fetchall()
        if not rows:
            return expected_seq - 1
        for row in rows:
            fields = dict(zip(HASHED_FIELDS + ("prev_hash", "hash"), row, strict=False))
            seq = fields["seq"]
            if seq != expected_seq:
                raise ChainBroken(expected_seq, f"缺少事件（下一条是 {seq}）", f"event missing (next present is {seq})")
            if fields["prev_hash"] != prev_hash:
                raise ChainBroken(seq, "与前一事件的链接不符", "link to the previous event does not match")
            if event_hash(prev_hash, fields) != fields["hash"]:
                raise ChainBroken(seq, "内容与哈希不符（记录被改动）", "content does not match its hash (row was altered)")
            prev_hash, expected_seq, last = fields["hash"], seq + 1, seq


@dataclass(frozen=True)
class Frame:
    """A frame's current version: `text` is JSON, sent as an SSE `event: <name>`; readers need `permission`."""

    name: str
    version: int
    text: str
    permission: str


_NO_PAYLOAD: dict = {}
READ_BATCH = 500   # events the bus reads from the log at a time (each with its payload while in flight)


def _slim(e: Committed) -> Committed:
    """What the recent-events memory keeps of a bulk write's item: its place in the log and that it is not live
    (live streams skip it; the subscribers have the whole event). A register import's 5,000 items with their
    payloads took ~6.5 MB of the 4,096 kept (bench/load.py's maintenance phase: memory <= 150 MB, issue 14)."""
    return Committed(e.seq, "", e.type, e.occurred_at, e.recorded_at, e.actor, e.entity_type, e.entity_id,
                     _NO_PAYLOAD, "", live=False)


class Bus:
    """In-process publisher of committed events, in seq order, whichever process committed them.

    One thread reads new rows after each `poke()` (and every `poll_s` for writers in other processes,
    such as CLI commands), keeps the most recent ones in memory for SSE clients, and hands them to the
    subscribers, which another thread calls in order.
    """

    def __init__(self, capacity: int = 4096, poll_s: float = 0.5):
        self._cond = threading.Condition()
        self._wake = threading.Event()
        self._recent: deque[Committed] = deque(maxlen=capacity)
        # each with the type prefixes it is for (None: every event)
        self._subscribers: list[tuple[Callable[[Committed], None], tuple[str, ...] | None]] = []
        self._wakers: list[Callable[[], None]] = []   # called once per batch of new events (on_new)
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        # Subscribers run on a thread of their own, in order: they write (an incident on a level-2 alarm, a
        # permit suspended), and a write waiting for the lock held the bus thread, so no event reached the
        # live streams meanwhile (py-spy under bench/load.py's register imports: alarm p99 7.7 s, issue 14).
        self._backlog: queue.SimpleQueue[list[Committed] | None] = queue.SimpleQueue()
        self._sub_thread: threading.Thread | None = None
        self.poll_s = poll_s
        self.head = 0
        self.error: str | None = None
        # Frames: the latest state of something screens show (the board's points and standing alarms), sent
        # on the live streams that ask for it, never stored. One JSON text per version is shared by every
        # stream, so 50 wall boards cost one serialisation instead of 50 polls (issue 14).
        self._frames: dict[str, Frame] = {}

    def start(self) -> None:
        QUIET.clear()  # ranges of a log this process had open before are not this one's
        self.head = head_seq()
        self._stop.clear()
        self._thread = threading.Thread(target=self._run, name="event-bus", daemon=True)
        self._thread.start()
        self._sub_thread = threading.Thread(target=self._run_subscribers, name="event-subscribers", daemon=True)
        self._sub_thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._wake.set()
        if self._thread:
            self._thread.join(5)
        self._backlog.put(None)
        if self._sub_thread:
            self._sub_thread.join(5)
        with self._cond:
            self._cond.notify_all()

    @property
    def running(self) -> bool:
        return bool(self._thread and self._thread.is_alive())

    def poke(self) -> None:
        self._wake.set()

    def subscribe(self, fn: Callable[[Committed], None], types: tuple[str, ...] | None = None) -> None:
        """Call `fn(event)` on the subscribers' thread for every committed event from now on whose type begins
        with one of `types` (every event without). The bus hands its subscribers' thread only the events some
        subscriber is for: a register import's thousands of items do not queue there (payloads and all) while
        that thread waits its turn for the interpreter (issue 14)."""
        self._subscribers.append((fn, types))

    def on_new(self, fn: Callable[[], None]) -> None:
        """Call `fn()` on the bus's own thread once after each batch of new events: a wake-up for a worker that
        reads the log itself (the uplink sync). It must not block (set an Event). Subscribed to every event
        instead, such a worker had a register import's thousands of items queued for it, payloads and all, to
        be told thousands of times what once says (issue 14)."""
        self._wakers.append(fn)

    def _wanted(self, ev: Committed) -> bool:
        return any(types is None or ev.type.startswith(types) for _, types in self._subscribers)

    def _run(self) -> None:
        while not self._stop.is_set():
            self._wake.wait(self.poll_s)
            self._wake.clear()
            try:
                self._drain()
                self.error = None
            except peewee.PeeweeException as exc:  # a locked or vanished database is a state, not a crash
                if self.error != str(exc):
                    log.error("event bus cannot read the log", extra={"error": str(exc)})
                self.error = str(exc)
                time.sleep(self.poll_s)
        database.close()

    def _drain(self) -> None:
        while True:
            batch = QUIET.mark(read_after(self.head, READ_BATCH))
            if not batch:
                return
            with self._cond:
                self._recent.extend(e if e.live else _slim(e) for e in batch)
                self.head = batch[-1].seq
                self._cond.notify_all()
            wanted = [e for e in batch if self._wanted(e)] if self._subscribers else []
            if wanted:
                self._backlog.put(wanted)
            for wake in self._wakers:
                try:
                    wake()
                except Exception:  # a bad waker must not stop the bus
                    log.exception("event bus wake-up failed")

    def _run_subscribers(self) -> None:
        while True:
            batch = self._backlog.get()
            if batch is None:
                break
            for ev in batch:
                for fn, types in list(self._subscribers):
                    if types is not None and not ev.type.startswith(types):
                        continue
                    try:
                        fn(ev)
                    except Exception:  # one bad subscriber must not starve the others
                        log.exception("event subscriber failed", extra={"seq": ev.seq})
        database.close()

    def wait_after(self, cursor: int, timeout: float) -> list[Committed] | None:
        """Events with seq > cursor, waiting up to `timeout` for one. Returns None when the cursor is
        older than what memory holds (the caller then reads the database)."""
        with self._cond:
            if self.head <= cursor and not self._stop.is_set():
                self._cond.wait(timeout)
            if self.head <= cursor:
                return []
            if not self._recent or self._recent[0].seq > cursor + 1:
                return None
            # seqs in memory are contiguous, so the position of cursor + 1 is known
            return list(itertools.islice(self._recent, cursor + 1 - self._recent[0].seq, None))

    def set_frame(self, name: str, text: str, permission: str) -> None:
        """Publish a frame's new text (JSON) and wake the streams; the same text again is no new version."""
        with self._cond:
            old = self._frames.get(name)
            if old is not None and old.text == text:
                return
            self._frames[name] = Frame(name, (old.version + 1) if old else 1, text, permission)
            self._cond.notify_all()

    def frame(self, name: str) -> Frame | None:
        with self._cond:
            return self._frames.get(name)

    @property
    def stopping(self) -> bool:
        return self._stop.is_set()


# The process's bus; the service creates and starts it. None in CLI commands that only write.
BUS: Bus | None = None
