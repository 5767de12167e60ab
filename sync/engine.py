"""The sync engine: one worker thread per endpoint, never in the way of the rest of the appliance.

Each worker repeats: send dead letters an admin asked to replay; else the oldest unsent batch of the
highest-priority lane that has one (safety → records → photos); move that lane's cursor only on the
endpoint's acknowledgement. On failure it waits (full-jitter back-off, Retry-After as a floor) and, while
the endpoint is unreachable, probes it cheaply so that sending resumes as soon as it answers. When caught
up it sleeps until the event bus says something was committed, probing on a schedule meanwhile.
Status (backlog, lag, last success, last error, dead letters) is kept for /api/v1/health and /admin.
"""
from __future__ import annotations

import logging
import random
import threading
import time
from urllib.parse import urlsplit, urlunsplit

from appliance.core.db import database
from appliance.core.events import now_ms
from sync import backoff, store
from sync.adapters import Adapter, Context, SyncError, make

log = logging.getLogger(__name__)

PHOTO_EVENTS_PER_STEP = 1  # one event's photos per step: a new alarm never waits behind a photo queue


def shown_url(url: str) -> str:
    """The URL without any user:password part (status pages and logs never show credentials)."""
    u = urlsplit(url)
    host = u.hostname or ""
    if u.port:
        host += f":{u.port}"
    return urlunsplit((u.scheme, host, u.path, "", ""))


class Worker:
    def __init__(self, cfg, ctx: Context, rand=random.random):
        self.cfg = cfg
        self.ctx = ctx
        self.adapter: Adapter = make(cfg, ctx)
        self.lanes = [lane for lane in store.LANES_ORDER if lane in cfg.lanes
                      and (lane != "photos" or self.adapter.supports_photos)
                      and (lane != "aggregates" or self.adapter.supports_aggregates)]
        self.rand = rand
        self.wake = threading.Event()
        self.stop_event = threading.Event()
        self.thread: threading.Thread | None = None
        self.attempt = 0
        self._skew_retried = False
        self._scanned: dict[str, tuple[int, int]] = {}  # lane → (cursor, seq): nothing in (cursor, seq]
        self.batch_cap = cfg.batch_max_events
        self._lock = threading.Lock()
        self._backlog_at = 0.0
        self.status: dict = {"name": cfg.name, "type": cfg.type, "url": shown_url(cfg.url), "reachable": None,
                             "last_success_at": None, "last_attempt_at": None, "last_error": None,
                             "last_error_at": None, "failing_since": None, "next_try_at": None,
                             "sent_events": 0, "sent_photos": 0, "skipped_photos": 0, "backlog": {}, "backlog_total": None,
                             "lag_s": None, "dead_letters": 0, "note": ""}

    # ---- thread ----------------------------------------------------------------------------------
    def start(self) -> None:
        self.stop_event.clear()
        self.thread = threading.Thread(target=self._run, name=f"sync-{self.cfg.name}", daemon=True)
        self.thread.start()

    def stop(self, timeout: float = 5) -> None:
        self.stop_event.set()
        self.wake.set()
        if self.thread:
            self.thread.join(timeout)

    def _run(self) -> None:
        try:
            self.refresh_backlog(force=True)
            while not self.stop_event.is_set():
                if not self.step_guarded():
                    self.idle()
        finally:
            self.adapter.close()
            database.close()

    def idle(self) -> None:
        """Caught up: wait for new events; on the probe interval, check the endpoint still answers."""
        self.refresh_backlog(force=True)
        if self.wake.wait(self.cfg.probe_interval_s):
            self.wake.clear()
            return
        if not self.stop_event.is_set():
            self.probe()

    def probe(self) -> bool:
        try:
            self.adapter.probe()
        except SyncError as exc:
            self._set(reachable=False, last_error=f"{exc.kind}: {exc.reason}", last_error_at=now_ms())
            return False
        self._set(reachable=True)
        return True

    # ---- one step --------------------------------------------------------------------------------
    def step_guarded(self) -> bool:
        """One step; a failure waits out its back-off here. Returns True if there may be more to send."""
        try:
            worked = self.step()
        except SyncError as exc:
            self.failed(exc)
            return True
        except Exception as exc:  # a bug must not end the worker: it is shown and retried with back-off
            log.exception("sync step failed", extra={"endpoint": self.cfg.name})
            self.failed(SyncError("internal", f"{type(exc).__name__}: {exc}"))
            return True
        if worked:
            self.succeeded()
        return worked

    def step(self) -> bool:
        name = self.cfg.name
        rows = store.replay_due(name, self.batch_cap)
        if rows:
            self._set(last_attempt_at=now_ms())
            missing = self.send_photos(rows, lane=None) if "photos" in self.lanes else []
            ack = self.adapter.send_events("replay", 0, rows, replay=True)
            rejected = ack.rejected + missing
            bad = {s for s, _, _ in rejected}
            store.replay_done(name, [r.seq for r in rows if r.seq not in bad], rejected)
            return True
        for lane in self.lanes:
            after = store.cursor(name, lane)
            if lane == "photos":
                rows = self._read(lane, after, PHOTO_EVENTS_PER_STEP)
                if rows:
                    self._set(last_attempt_at=now_ms())
                    self.send_photos(rows)
                    return True
                continue
            if lane == "aggregates":
                aggs = store.read_aggregates(after, self.batch_cap * 4)  # rows are small
                if aggs:
                    self._set(last_attempt_at=now_ms())
                    ack = self.adapter.send_aggregates(after, aggs)
                    store.acknowledge(name, lane, ack.through)
                    self._set(note=ack.note)
                    return True
                continue
            rows = self._read(lane, after, self.batch_cap)
            if not rows:
                continue
            self._set(last_attempt_at=now_ms())
            try:
                ack = self.adapter.send_events(lane, after, rows)
            except SyncError as exc:
                if exc.kind in ("bad_request", "too_large"):
                    self.narrow(lane, rows, exc)
                    return True
                raise
            if ack.rewind_to is not None:
                self._scanned.pop(lane, None)
                now = store.rewind(name, lane, ack.rewind_to)
                log.warning("endpoint holds less than acknowledged; resending",
                            extra={"endpoint": name, "lane": lane, "from_seq": now})
                self._set(note=ack.note)
                return True
            store.acknowledge(name, lane, ack.through, ack.rejected)
            if ack.rejected:
                log.warning("endpoint refused records; kept in the dead-letter list",
                            extra={"endpoint": name, "lane": lane, "count": len(ack.rejected)})
            self.batch_cap = min(self.cfg.batch_max_events, self.batch_cap * 2)
            with self._lock:
                self.status["sent_events"] += len(rows)
                self.status["note"] = ack.note
            return True
        return False

    def _read(self, lane: str, after: int, limit: int) -> list:
        """The lane's next batch after the cursor. A lane found empty up to some seq is not scanned again
        below it (seqs only grow): a lane with no events must not cost a scan of the whole log per step."""
        start = max(after, self._known_empty(lane, after))
        head = store.head_seq()
        rows = store.read_batch(lane, start, limit, self.cfg.batch_max_bytes)
        if not rows:
            self._scanned[lane] = (after, head)
        return rows

    def _known_empty(self, lane: str, after: int) -> int:
        """Up to which seq the lane is known to hold nothing after `after` (0: unknown). A cursor moved back
        (a rewind, a resend asked for) makes what was known useless."""
        since, upto = self._scanned.get(lane, (0, 0))
        return upto if after >= since else 0

    def narrow(self, lane: str, rows: list, exc: SyncError) -> None:
        """The endpoint refused the batch as a whole: halve it until the one record it refuses is found;
        that record goes to the dead-letter list and the lane moves on (nothing is dropped silently)."""
        if len(rows) > 1:
            self.batch_cap = max(1, len(rows) // 2)
            self._set(last_error=f"{exc.kind}: {exc.reason}", last_error_at=now_ms(),
                      note=f"batch refused; retrying in batches of {self.batch_cap}")
            return
        r = rows[0]
        store.acknowledge(self.cfg.name, lane, r.seq, [(r.seq, r.id, exc.reason)])
        self.batch_cap = min(self.cfg.batch_max_events, 2)
        self._set(last_error=f"{exc.kind}: {exc.reason}", last_error_at=now_ms())

    def send_photos(self, rows: list, lane: str | None = "photos") -> list[tuple[int, str, str]]:
        """Upload the photos these events name (unless sent before); acknowledge the photo lane through
        them. Returns the events whose photo is not on this appliance (they become dead letters)."""
        from appliance.core.photos import path_of

        name = self.cfg.name
        missing = []
        for r in rows:
            for digest in store.photos_in([r]):
                if store.photo_sent(name, digest):
                    continue
                path = path_of(self.ctx.photo_root, digest) if self.ctx.photo_root else None
                if path is None:
                    missing.append((r.seq, r.id, f"photo {digest} is not on this appliance"))
                    continue
                uploaded = self.adapter.send_photo(digest, path)
                store.mark_photo_sent(name, digest)
                with self._lock:
                    self.status["sent_photos" if uploaded else "skipped_photos"] += 1
        if lane is not None:
            store.acknowledge(name, lane, rows[-1].seq, missing)
        return missing

    # ---- outcome ---------------------------------------------------------------------------------
    def succeeded(self) -> None:
        if self.attempt:
            log.info("sync recovered", extra={"endpoint": self.cfg.name, "after_attempts": self.attempt})
        self.attempt = 0
        self._skew_retried = False
        self._set(reachable=True, last_success_at=now_ms(), failing_since=None, next_try_at=None)
        self.refresh_backlog()

    def failed(self, exc: SyncError) -> None:
        if exc.kind == "paced":  # the endpoint's own rate limit, known in advance: not a failure
            self._set(next_try_at=now_ms() + int((exc.retry_after or 0) * 1000))
            self.stop_event.wait(exc.retry_after or 0)
            return
        if exc.kind == "clock_skew" and not self._skew_retried:  # corrected; try again at once (once)
            self._skew_retried = True
            self._set(last_error=f"{exc.kind}: {exc.reason}", last_error_at=now_ms())
            return
        wait = backoff.delay(self.attempt, self.cfg.backoff_base_s, self.cfg.backoff_cap_s, self.rand(),
                             exc.retry_after)
        if self.attempt == 0:
            log.warning("sync failing", extra={"endpoint": self.cfg.name, "kind": exc.kind, "reason": exc.reason})
        self.attempt += 1
        t = now_ms()
        self._set(reachable=exc.kind != "unreachable", last_error=f"{exc.kind}: {exc.reason}", last_error_at=t,
                  failing_since=self.status["failing_since"] or t, next_try_at=t + int(wait * 1000))
        self.refresh_backlog()
        deadline = time.monotonic() + wait
        while not self.stop_event.is_set():
            left = deadline - time.monotonic()
            if left <= 0:
                return
            if exc.kind != "unreachable" or left <= self.cfg.probe_interval_s:
                self.stop_event.wait(left)
                return
            self.stop_event.wait(self.cfg.probe_interval_s)
            if not self.stop_event.is_set() and self.probe():
                return  # it answers again: retry now rather than at the end of the back-off

    # ---- status ----------------------------------------------------------------------------------
    def _set(self, **kw) -> None:
        with self._lock:
            self.status.update(kw)

    def refresh_backlog(self, force: bool = False) -> None:
        if not force and time.monotonic() - self._backlog_at < 5.0:  # counting is not free on a long backlog
            return
        self._backlog_at = time.monotonic()
        per, oldest = {}, None
        for lane in self.lanes:
            n, o = store.backlog(self.cfg.name, lane, self._known_empty(lane, store.cursor(self.cfg.name, lane)))
            per[lane] = n
            if o is not None and (oldest is None or o < oldest):
                oldest = o
        lag = 0.0 if oldest is None else max(0.0, (now_ms() - oldest) / 1000)
        self._set(backlog=per, backlog_total=sum(per.values()), lag_s=round(lag, 1),
                  dead_letters=store.open_dead_letters(self.cfg.name))

    def snapshot(self) -> dict:
        with self._lock:
            s = dict(self.status)
        s["failing"] = self.attempt > 0
        s["attempt"] = self.attempt
        return s

    def health(self) -> dict:
        s = self.snapshot()
        out = {"status": "ok", **{k: s[k] for k in ("url", "type", "reachable", "backlog", "backlog_total", "lag_s",
                                                     "last_success_at", "last_error", "last_error_at",
                                                     "dead_letters", "next_try_at")}}
        if s["failing"]:
            out["status"] = "degraded"
            out["reason"] = s["last_error"]
        elif s["dead_letters"]:
            out["status"] = "degraded"
            out["reason"] = f"{s['dead_letters']} record(s) refused by the endpoint (dead letters)"
        return out

    def run_until_idle(self, max_seconds: float) -> bool:
        """In the caller's thread (the `sync-now` command): send until caught up, a failure, or the time
        is up. Returns True when caught up."""
        self.refresh_backlog(force=True)
        deadline = time.monotonic() + max_seconds
        while time.monotonic() < deadline:
            try:
                if not self.step():
                    self.succeeded()
                    self.refresh_backlog(force=True)
                    return True
                self.succeeded()
            except SyncError as exc:
                if exc.kind == "paced":
                    time.sleep(min(exc.retry_after or 0, max(0.0, deadline - time.monotonic())))
                    continue
                if exc.kind == "clock_skew" and not self._skew_retried:
                    self._skew_retried = True
                    self._set(last_error=f"{exc.kind}: {exc.reason}", last_error_at=now_ms())
                    continue
                self.attempt += 1
                self._set(last_error=f"{exc.kind}: {exc.reason}", last_error_at=now_ms(),
                          reachable=exc.kind != "unreachable")
                self.refresh_backlog(force=True)
                return False
        self.refresh_backlog(force=True)
        return False


class Syncer:
    """Every configured endpoint's worker; started and stopped by the appliance service."""

    def __init__(self, config):
        self.config = config
        ctx = Context(config.site.appliance_id, config.storage.data_dir / "photos", config.site.timezone)
        self.workers = {e.name: Worker(e, ctx) for e in config.sync.endpoints if e.enabled} \
            if config.sync.enabled else {}

    def start(self, bus=None) -> Syncer:
        for w in self.workers.values():
            w.start()
        if bus is not None and self.workers:
            bus.on_new(self.poke)   # once per batch: the workers read the log themselves
        return self

    def poke(self) -> None:
        for w in self.workers.values():
            w.wake.set()

    def stop(self) -> None:
        for w in self.workers.values():
            w.stop_event.set()
            w.wake.set()
        for w in self.workers.values():
            w.stop()
