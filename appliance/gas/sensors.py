"""Gas and environment points at run time: live values in memory, the alarm state machine per point,
alarm occurrences and shelving in the database, telemetry stored sparingly.

Drivers call `ingest(readings)` from their own threads. Each batch goes through `alarm_rules` under one
lock; the resulting transitions are written as events (and alarm rows) in one transaction together with
the readings worth keeping: a value that moved beyond the point's record deadband, a state change, or a
15-minute heartbeat. Per-minute min/avg/max are kept in memory and written when the minute is over.
"""
from __future__ import annotations

import json
import logging
import threading
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING

import peewee

from appliance.core import events, storage
from appliance.gas import rules as AR
from appliance.gas.board import BoardFrame
from appliance.gas.config import PointConfig

if TYPE_CHECKING:
    from appliance.config import Config
from appliance.core.db import BaseModel, database, write_gate
from appliance.core.errors import Conflict, Forbidden, NotFound, ValidationFailed
from appliance.gas.gases import GASES

log = logging.getLogger(__name__)

HEARTBEAT_MS = 15 * 60 * 1000
MINUTE_MS = 60_000


class Alarm(BaseModel):
    point = peewee.TextField()
    kind = peewee.TextField()
    level = peewee.IntegerField()
    reason = peewee.TextField(null=True)
    value = peewee.FloatField(null=True)
    raised_at = peewee.IntegerField()
    cleared_at = peewee.IntegerField(null=True)
    acked_at = peewee.IntegerField(null=True)
    acked_by = peewee.TextField(null=True)
    ack_note = peewee.TextField(null=True)
    escalated_at = peewee.IntegerField(null=True)
    direction = peewee.TextField(null=True)      # high / low (O₂: 富氧 / 缺氧)
    over_range = peewee.BooleanField(default=False)  # a reading beyond the detector's full scale

    class Meta:
        table_name = "alarms"

    @classmethod
    def open_for(cls, point: str, kind: str):
        return (cls.select().where((cls.point == point) & (cls.kind == kind)
                                   & (cls.cleared_at.is_null() | cls.acked_at.is_null()))
                .order_by(cls.id.desc()).first())


class Shelf(BaseModel):
    point = peewee.TextField(primary_key=True)
    until = peewee.IntegerField()
    shelved_by = peewee.TextField()
    reason = peewee.TextField()
    shelved_at = peewee.IntegerField()
    level = peewee.IntegerField(default=0)  # the level when shelved: a higher one breaks through

    class Meta:
        table_name = "shelves"


def alarm_dict(a: Alarm) -> dict:
    return {"id": a.id, "point": a.point, "kind": a.kind, "level": a.level, "reason": a.reason, "value": a.value,
            "raised_at": a.raised_at, "cleared_at": a.cleared_at, "acked_at": a.acked_at, "acked_by": a.acked_by,
            "ack_note": a.ack_note, "escalated_at": a.escalated_at, "direction": a.direction,
            "over_range": bool(a.over_range), "active": a.cleared_at is None or a.acked_at is None}


def standing_alarms() -> list[dict]:
    """The alarms /api/v1/alarms?active=1 lists: not yet cleared or not yet acknowledged, newest first."""
    q = Alarm.select().where(Alarm.cleared_at.is_null() | Alarm.acked_at.is_null()).order_by(Alarm.id.desc())
    return [alarm_dict(a) for a in q]


def alarm_config(p: PointConfig) -> AR.AlarmConfig:
    return AR.AlarmConfig(p.setpoints(), deadband=p.deadband_or_default, delay_on_s=p.delay_on_s,
                          range_low=p.range_low, range_high=p.span_high, stale_after_s=p.stale_after_s)


@dataclass
class _Minute:
    minute: int
    lo: float
    hi: float
    total: float
    n: int


def _locked(exc: BaseException) -> bool:
    """SQLite's SQLITE_BUSY: another connection held the write lock past busy_timeout."""
    text = str(exc).lower()
    return "locked" in text or "busy" in text


@dataclass
class Point:
    cfg: PointConfig
    alarm: AR.AlarmConfig
    state: AR.PointState = field(default_factory=AR.PointState)
    stored_value: float | None = None
    stored_state: str | None = None
    stored_at: int = 0
    minute: _Minute | None = None
    controller: int | None = None  # the controller's own alarm level, where the bus maps it
    peak: float | None = None  # the worst value since the point's alarm was raised (None when in no alarm)

    @property
    def record_deadband(self) -> float:
        if self.cfg.record_deadband is not None:
            return self.cfg.record_deadband
        span = (self.alarm.range_high or 0) - (self.alarm.range_low or 0)
        return 0.01 * span if span > 0 else 0.0

    def view(self) -> dict:
        c, s = self.cfg, self.state
        found = c.check()
        return {"id": c.id, "name": c.name, "name_en": c.name_en or c.name, "gas": c.gas,
                "gas_name": GASES[c.gas].name, "unit": c.unit_or_default, "area": c.area, "x": c.x, "y": c.y,
                "value": s.value, "state": AR.display(s) if s.at is not None else "fault",
                "level": s.shown, "direction": s.shown_side, "condition": s.condition, "acked": s.acked,
                "over_range": s.over_range, "waiting": AR.waiting_for(s, self.alarm),
                "controller": self.controller,
                "fault": s.fault if s.at is not None else "no reading yet",
                "shelved_until": s.shelved_until, "shelved_level": s.shelved_level if s.shelved_until else None,
                "updated_at": s.at, "range_low": self.alarm.range_low, "range_high": self.alarm.range_high,
                "delay_on_s": self.alarm.delay_on_s,
                "deviations": [{"key": k, "zh": zh, "en": en} for k, zh, en in found.deviations],
                "deviation_reason": c.deviation_reason,
                "thresholds": [{"level": t.level, "direction": t.direction, "value": t.value}
                               for t in self.alarm.thresholds]}


class Sensors:
    """Every configured point; thread-safe; the one writer of readings, alarm rows and shelves."""

    def __init__(self, config: Config):
        self.points: dict[str, Point] = {p.id: Point(p, alarm_config(p)) for p in config.points}
        self._lock = threading.RLock()
        self._pending_minutes: list[tuple[str, _Minute]] = []  # minutes that ended during ingest
        self._unwritten: tuple[list, list, list] | None = None   # refused by a locked database: written next
        self.board = BoardFrame(self.view, standing_alarms)   # the wall boards' live frame (gas/board.py)
        self._restore()

    def _restore(self) -> None:
        """After a restart: shelves still running and alarms still unacknowledged stay as they were."""
        now = events.now_ms()
        p: Point | None
        for sh in Shelf.select():
            if sh.point in self.points and sh.until > now:
                p = self.points[sh.point]
                p.state = AR.PointState(shelved_until=sh.until, shelved_by=sh.shelved_by, shelved_level=sh.level)
        for a in Alarm.select().where(Alarm.cleared_at.is_null() | Alarm.acked_at.is_null()).order_by(Alarm.id):
            p = self.points.get(a.point)
            if p is not None and a.kind == "gas" and a.acked_at is None:
                p.state = replace(p.state, shown=a.level, shown_side="low" if a.direction == "low" else "high", acked=False,
                                  over_range=bool(a.over_range))

    def record_deviations(self) -> int:
        """Write each point's accepted deviation from GB/T 50493-2019 to the audit log, once per change of
        its set-points or reason (not on every start); returns how many were written."""
        written = 0
        for p in self.points.values():
            found = p.cfg.check().deviations
            if not found:
                continue
            payload = {"point": p.cfg.id, "name": p.cfg.name, "name_en": p.cfg.name_en or p.cfg.name,
                       "reason": p.cfg.deviation_reason,
                       "deviations": [{"key": k, "zh": zh, "en": en} for k, zh, en in found]}
            last = database.execute_sql(
                "SELECT payload FROM events WHERE type = 'point.config_deviation' AND entity_type = 'point' "
                "AND entity_id = ? ORDER BY seq DESC LIMIT 1", (p.cfg.id,)).fetchone()
            if last is None or json.loads(last[0]) != payload:
                events.record("point.config_deviation", actor="system:config", entity=("point", p.cfg.id),
                              payload=payload)
                written += 1
        return written

    # -------------------------------------------------------------- input from drivers

    def ingest(self, readings) -> None:
        """Readings from a driver (any thread): alarm logic, events, storage — one transaction."""
        with self._lock:
            work = []
            for r in readings:
                p = self.points.get(r.point)
                if p is None:
                    continue
                new, tr = AR.on_reading(p.state, p.alarm, r.value, r.at_ms,
                                        None if r.quality == "good" else (r.reason or "bad reading"))
                p.controller = getattr(r, "controller", None)
                work.append((p, p.state, new, tr, r))
                p.state = new
                if AR.new_peak(p.peak, new) is not None:
                    p.peak = new.value
                elif not (new.shown or new.condition):
                    p.peak = None
            rows = self._telemetry(work)
            minutes = self._finished_minutes()
            changed = any(tr for _, _, _, tr, _ in work)
            if changed or rows or minutes or self._unwritten is not None:
                self._write(work, rows, minutes)
        if changed:   # an alarm or a fault came or went: the boards show it now, not at the next tick
            self.board.publish()

    def tick(self, now: int | None = None) -> None:
        """Called every second by the scheduler: stale values, shelving that ran out, finished minutes."""
        now = now or events.now_ms()
        with self._lock:
            work = []
            for p in self.points.values():
                new, tr = AR.tick(p.state, p.alarm, now)
                if tr:
                    work.append((p, p.state, new, tr, None))
                p.state = new
            minutes = self._finished_minutes(now)
            if work or minutes or self._unwritten is not None:   # what a locked database refused, at the latest now
                self._write(work, [], minutes)
        self.board.publish()   # once a second: the values, the delay-on countdowns, shelves that ran out

    def escalate(self, after_min: float, now: int | None = None) -> int:
        """Escalate every alarm unacknowledged for `after_min` minutes (once each); returns how many."""
        now = now or events.now_ms()
        due = list(Alarm.select().where(Alarm.acked_at.is_null() & Alarm.escalated_at.is_null()
                                         & (Alarm.raised_at <= now - int(after_min * 60_000))))
        if not due:
            return 0
        with self._lock, events.recording("system:sensors") as rec:
            for a in due:
                Alarm.update(escalated_at=now).where(Alarm.id == a.id).execute()
                p = self.points.get(a.point)
                rec.emit("alarm.escalated", entity=("alarm", a.id),
                         payload={"point": a.point, "name": p.cfg.name if p else a.point,
                                  "name_en": (p.cfg.name_en or p.cfg.name) if p else a.point, "kind": a.kind,
                                  "level": a.level, "minutes": after_min, "alarm_id": a.id, "to": "safety_officer"})
        self.board.alarms_changed()   # after the commit: a frame built from then on reads the new rows
        return len(due)

    def prune(self, readings_days: int, minutes_days: int, now: int | None = None) -> tuple[int, int]:
        """Drop telemetry older than its retention; alarms and events are safety records and stay."""
        now = now or events.now_ms()
        return (self._prune_chunks("readings", "at", now - readings_days * 86_400_000),
                self._prune_chunks("reading_minutes", "minute", now - minutes_days * 86_400_000))

    PRUNE_CHUNK = 2000

    def _prune_chunks(self, table: str, column: str, before: int) -> int:
        """Delete old telemetry point by point in short transactions of PRUNE_CHUNK rows (through the
        (point, time) index), so an alarm write never waits behind one long cleanup transaction."""
        total = 0
        points = [r[0] for r in database.execute_sql(f"SELECT DISTINCT point FROM {table}").fetchall()]
        for point in points:
            while True:
                with write_gate.bulk(), database.atomic():   # an alarm write waiting goes first
                    # by (point, time), the key both tables are indexed on (reading_minutes has no rowid); rows
                    # sharing a time are all old, so a chunk may delete a few more than PRUNE_CHUNK
                    n = database.execute_sql(
                        f"DELETE FROM {table} WHERE point = ? AND {column} IN (SELECT {column} FROM {table} "
                        f"WHERE point = ? AND {column} < ? ORDER BY {column} LIMIT ?)",
                        (point, point, before, self.PRUNE_CHUNK)).rowcount
                total += n
                if n < self.PRUNE_CHUNK:
                    break
        return total

    def load(self, now: int | None = None) -> dict:
        """EEMUA 191 alarm-load figures over the last 24 h."""
        from appliance.gas.load import TARGET_PER_10_MIN, chattering, per_10_min

        now = now or events.now_ms()
        rows = [(a.point, a.raised_at) for a in Alarm.select(Alarm.point, Alarm.raised_at)
                .where((Alarm.kind == "gas") & (Alarm.raised_at >= now - 86_400_000))]
        # every raise counts for chattering, including re-raises inside one occurrence (alarm.raised events)
        raises = database.execute_sql(
            "SELECT json_extract(payload, '$.point'), occurred_at FROM events "
            "WHERE type = 'alarm.raised' AND recorded_at >= ?", (now - 3_600_000,)).fetchall()
        avg, peak = per_10_min([t for _, t in rows], now)
        standing = Alarm.select().where(Alarm.cleared_at.is_null() & (Alarm.kind == "gas")).count()
        return {"per_10_min_avg_24h": avg, "per_10_min_peak_24h": peak, "target_per_10_min": TARGET_PER_10_MIN,
                "standing": standing, "chattering_1h": chattering(raises)}

    # -------------------------------------------------------------- operator actions

    def acknowledge(self, alarm_id: int, *, by: str, note: str = "") -> Alarm:
        with self._lock:
            a = Alarm.get_or_none(Alarm.id == alarm_id)
            if a is None:
                raise NotFound(f"报警 {alarm_id} 不存在", f"alarm {alarm_id} does not exist")
            if a.acked_at is not None:
                raise Conflict(f"报警 {alarm_id} 已于之前确认", f"alarm {alarm_id} was already acknowledged")
            now = events.now_ms()
            p = self.points.get(a.point)
            def write() -> None:
                with events.recording(by) as rec:
                    Alarm.update(acked_at=now, acked_by=by, ack_note=note).where(Alarm.id == a.id).execute()
                    rec.emit("alarm.acked", entity=("alarm", a.id),
                             payload={"point": a.point, "kind": a.kind, "level": a.level, "note": note,
                                      "name": p.cfg.name if p else a.point})

            storage.safety_write(write)  # an acknowledgement is a safety record: stored even on a full disk
            self.board.alarms_changed()
            if p is not None and a.kind == "gas":
                p.state, _ = AR.acknowledge(p.state, now)
            acked = Alarm.get_by_id(a.id)
        self.board.publish()
        return acked

    def shelve(self, point_id: str, *, by: str, minutes: int, reason: str, safety_officer: bool = False) -> dict:
        """Shelve a point (IEC 62682 §11.7 rules in `alarm_rules.check_shelve`: time-limited, with a reason,
        level 2 only by the safety officer)."""
        with self._lock:
            p = self.points.get(point_id)
            if p is None:
                raise NotFound(f"测点 {point_id} 不存在", f"point {point_id} does not exist")
            now = events.now_ms()
            try:
                state, _ = AR.shelve(p.state, now, minutes, by, reason, safety_officer=safety_officer)
            except AR.ShelveRefused as exc:
                err = Forbidden if exc.needs_role else ValidationFailed
                raise err(f"{exc.key}：{exc.zh}", f"{exc.key}: {exc.en}", details=[{"key": exc.key}]) from None
            assert state.shelved_until is not None
            with events.recording(by) as rec:
                Shelf.insert(point=point_id, until=state.shelved_until, shelved_by=by, reason=reason,
                             shelved_at=now, level=state.shelved_level).on_conflict_replace().execute()
                p.state = state
                rec.emit("alarm.shelved", entity=("point", point_id),
                         payload={"point": point_id, "name": p.cfg.name, "until": state.shelved_until,
                                  "minutes": minutes, "reason": reason, "level": state.shelved_level})
            shelved = p.view()
        self.board.publish()
        return shelved

    # -------------------------------------------------------------- reads

    def peaks(self, alarms: list[dict], now: int | None = None) -> dict[int, float]:
        """The worst value of each gas alarm while it stood (the highest; a low-side alarm: the lowest), by
        alarm id: from the per-minute min/max and the stored readings of its time span (exact for finished
        minutes), the minute in progress and, for the standing alarm of a point, the peak tracked in memory
        since it was raised. Telemetry older than its retention is gone: the value when raised stands in."""
        now = now or events.now_ms()
        out: dict[int, float] = {}
        for a in alarms:
            if a["kind"] != "gas":
                continue
            low = a.get("direction") == "low"
            end = a["cleared_at"] or now
            agg = "min" if low else "max"
            row = database.execute_sql(
                f"SELECT (SELECT {agg}({'min' if low else 'max'}) FROM reading_minutes WHERE point = ? "
                f"AND minute >= ? AND minute <= ?), (SELECT {agg}(value) FROM readings WHERE point = ? "
                f"AND at >= ? AND at <= ?)",
                (a["point"], a["raised_at"] - a["raised_at"] % MINUTE_MS, end, a["point"], a["raised_at"], end)
            ).fetchone()
            found = [v for v in (a["value"], *row) if v is not None]
            with self._lock:
                p = self.points.get(a["point"])
                if p is not None and a["cleared_at"] is None:
                    found += [v for v in (p.peak, p.minute.hi if p.minute and not low else None,
                                          p.minute.lo if p.minute and low else None) if v is not None]
            if found:
                out[a["id"]] = min(found) if low else max(found)
        return out

    def view(self) -> list[dict]:
        with self._lock:
            return [p.view() for p in self.points.values()]

    def point(self, point_id: str) -> Point:
        p = self.points.get(point_id)
        if p is None:
            raise NotFound(f"测点 {point_id} 不存在", f"point {point_id} does not exist")
        return p

    def health(self) -> dict:
        with self._lock:
            faults = [p.cfg.id for p in self.points.values() if p.state.fault or p.state.at is None]
            alarms = [p.cfg.id for p in self.points.values() if p.state.shown]
        status = "ok" if not faults else ("fault" if len(faults) == len(self.points) else "degraded")
        out = {"status": status, "points": len(self.points), "in_alarm": len(alarms), "in_fault": len(faults)}
        if faults:
            out["reason"] = "no good reading from " + ", ".join(faults[:10])
        return out

    # -------------------------------------------------------------- storage

    def _telemetry(self, work) -> list[tuple]:
        rows = []
        for p, _, new, _, r in work:
            state = AR.display(new)
            value = r.value if r.quality == "good" else None
            moved = (value is not None and p.stored_value is not None
                     and abs(value - p.stored_value) > p.record_deadband)
            if (state != p.stored_state or moved or (value is None) != (p.stored_value is None)
                    or r.at_ms - p.stored_at >= HEARTBEAT_MS):
                rows.append((p.cfg.id, r.at_ms, value, state))
                p.stored_value, p.stored_state, p.stored_at = value, state, r.at_ms
            if value is not None:
                self._accumulate(p, r.at_ms, value)
        return rows

    def _accumulate(self, p: Point, at: int, value: float) -> None:
        minute = at - at % MINUTE_MS
        m = p.minute
        if m is None or m.minute != minute:
            if m is not None:
                self._pending_minutes.append((p.cfg.id, m))
            p.minute = _Minute(minute, value, value, value, 1)
        else:
            m.lo, m.hi, m.total, m.n = min(m.lo, value), max(m.hi, value), m.total + value, m.n + 1

    def _finished_minutes(self, now: int | None = None) -> list[tuple[str, _Minute]]:
        """Minutes that ended during ingest, and (given `now`) minutes no reading has closed yet."""
        done, self._pending_minutes = self._pending_minutes, []
        if now is not None:
            for p in self.points.values():
                if p.minute is not None and now - p.minute.minute >= MINUTE_MS:
                    done.append((p.cfg.id, p.minute))
                    p.minute = None
        return done

    UNWRITTEN_ROWS = 20_000   # telemetry rows kept for the next write while the database is locked

    def _write(self, work, rows, minutes) -> None:
        if self._unwritten is not None:   # what the last write could not store goes first, in order
            w0, r0, m0 = self._unwritten
            work, rows, minutes = w0 + work, r0 + rows, m0 + minutes
            self._unwritten = None
        try:
            self._write_once(work, rows, minutes)
        except peewee.OperationalError as exc:
            if not _locked(exc):
                self._write_failed(exc, work)
                return
            # Another writer held the lock past busy_timeout (issue 14: a long import under web load). The
            # alarm states in memory are right and the board shows them; their records and events are
            # kept and written with the next batch, within a second: never dropped.
            self._unwritten = (work, rows[-self.UNWRITTEN_ROWS:], minutes)
            log.warning("database locked: sensor data kept for the next write",
                        extra={"transitions": sum(len(tr) for _, _, _, tr, _ in work), "rows": len(rows)})
        except peewee.PeeweeException as exc:
            self._write_failed(exc, work)
        finally:
            # after the commit (or the failure): a frame built from now on reads the alarm rows again
            if any(tr for _, _, _, tr, _ in work):
                self.board.alarms_changed()

    def _write_failed(self, exc: peewee.PeeweeException, work) -> None:
        if not (storage.is_disk_full(exc) and any(tr for _, _, _, tr, _ in work)):
            # The alarm states in memory are still right and the board shows them; the lost rows are
            # the price of a failing disk, which the disk component reports. Never stop the poll loop.
            log.exception("could not store sensor data")
            return
        # a full disk and alarm transitions to record: they are safety records — release the reserve
        # and store them (without the telemetry, which can wait)
        storage.note_full(exc)
        try:
            storage.safety_write(lambda: self._write_once(work, [], []))
        except peewee.PeeweeException:
            log.exception("could not store alarm transitions even with the reserve released")

    def _write_once(self, work, rows, minutes) -> None:
        """One transaction: the transitions as events and alarm rows, then the telemetry; bulk writers wait
        while it waits for the lock (`db.WriteGate`)."""
        with write_gate.safety(), events.recording("system:sensors") as rec:
            for p, old, new, transitions, r in work:
                for t in transitions:
                    self._apply(rec, p, old, new, t, r.at_ms if r else events.now_ms())
            if rows:
                database.connection().executemany(
                    "INSERT INTO readings (point, at, value, state) VALUES (?, ?, ?, ?)", rows)
            if minutes:
                database.connection().executemany(
                    "INSERT OR REPLACE INTO reading_minutes (point, minute, min, avg, max, n) VALUES (?,?,?,?,?,?)",
                    [(pid, m.minute, m.lo, m.total / m.n, m.hi, m.n) for pid, m in minutes])

    def _apply(self, rec, p: Point, old: AR.PointState, new: AR.PointState, t: AR.Transition, at: int) -> None:
        base = {"point": p.cfg.id, "name": p.cfg.name, "name_en": p.cfg.name_en or p.cfg.name,
                "gas": p.cfg.gas, "unit": p.cfg.unit_or_default, "area": p.cfg.area, "value": new.value,
                "shelved": t.shelved, "direction": t.side}
        if t.kind == "alarm":
            a = Alarm.open_for(p.cfg.id, "gas")
            if a is not None and (a.acked_at is not None or (a.direction or "high") != t.side):
                # A standing, acknowledged alarm got worse, or an O₂ alarm swung to the other side: it needs
                # a new acknowledgement, so it is a new occurrence; the old one ends here (an unacknowledged
                # one stays on the list until someone acknowledges it).
                if a.cleared_at is None:
                    Alarm.update(cleared_at=at).where(Alarm.id == a.id).execute()
                a = None
            if a is None:
                a = Alarm.create(point=p.cfg.id, kind="gas", level=t.level, value=new.value, raised_at=at,
                                 direction=t.side, over_range=t.over_range)
                p.peak = new.value
            else:  # escalated, or back before anyone acknowledged the return to normal
                Alarm.update(level=max(a.level, t.level), cleared_at=None,
                             over_range=bool(a.over_range) or t.over_range).where(Alarm.id == a.id).execute()
            rec.emit("alarm.raised", entity=("alarm", a.id), occurred_at=at,
                     payload={**base, "level": t.level, "alarm_id": a.id, "over_range": t.over_range})
        elif t.kind == "cleared":
            a = Alarm.open_for(p.cfg.id, "gas")
            if a is not None and t.level == AR.NORMAL:
                Alarm.update(cleared_at=at).where(Alarm.id == a.id).execute()
            rec.emit("alarm.cleared" if t.level == AR.NORMAL else "alarm.lowered",
                     entity=("alarm", a.id if a else p.cfg.id), occurred_at=at,
                     payload={**base, "level": t.level, "alarm_id": a.id if a else None})
        elif t.kind == "fault":
            a = Alarm.open_for(p.cfg.id, "fault")
            if a is None:
                a = Alarm.create(point=p.cfg.id, kind="fault", level=0, reason=t.reason, raised_at=at)
            rec.emit("point.fault", entity=("point", p.cfg.id), occurred_at=at,
                     payload={**base, "reason": t.reason, "alarm_id": a.id})
        elif t.kind == "recovered":
            a = Alarm.open_for(p.cfg.id, "fault")
            if a is not None and a.cleared_at is None:
                Alarm.update(cleared_at=at).where(Alarm.id == a.id).execute()
            rec.emit("point.recovered", entity=("point", p.cfg.id), occurred_at=at,
                     payload={**base, "after": t.reason})
        elif t.kind == "unshelved":
            Shelf.delete().where(Shelf.point == p.cfg.id).execute()
            rec.emit("alarm.unshelved", entity=("point", p.cfg.id), occurred_at=at,
                     payload={**base, "reason": t.reason, "breakthrough": (t.reason or "").startswith("breakthrough")})
