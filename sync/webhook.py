"""Webhooks: each event of some types POSTed as JSON to a URL by a background worker that follows the event
log, with retries and back-off; each delivery recorded as an event.

The job that writes the event never waits for the webhook (a certificate warning is recorded whatever the
network does): the worker wakes on the bus, reads the events of its types after its cursor, and POSTs them
one by one in seq order (`sync/http.py`: only sync makes uplink HTTP calls). An answer 2xx is a delivery; no
answer, 408, 429 (its Retry-After a floor) or 5xx is tried again with full-jitter back-off up to `attempts`
times; any other answer is a refusal that another try would not change. Each outcome is one event,
`webhook.delivered` or `webhook.failed` (entity ("webhook", name); payload: the event's id, seq and type, the
URL without credentials or query, attempts, the last status and error), and that record is the cursor: after
a restart the worker resumes after the last event it recorded an outcome for. With nothing on record (a
webhook just configured) it starts with the events of the last day, not the whole history.

The body: {"hook", "type", "id", "seq", "occurred_at", "recorded_at", "appliance_id", "entity", "payload"};
the event id is also the Idempotency-Key header, so a receiver can drop a repeat (a delivery whose answer
was lost is sent again).

The [training] section's `webhook_url` is the one webhook today: certificate warnings (`training_hook`).
"""
from __future__ import annotations

import json
import logging
import random
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import cast

import peewee

from appliance.core import events
from appliance.core.db import database
from appliance.core.events import Committed, Event
from sync import backoff
from sync.engine import shown_url
from sync.http import Http, Unreachable

log = logging.getLogger(__name__)

OUTCOMES = ("webhook.delivered", "webhook.failed")
RETRY_STATUSES = frozenset({408, 429})
ACTOR = "system:webhook"


@dataclass(frozen=True)
class Hook:
    name: str
    url: str
    types: tuple[str, ...]
    attempts: int = 5
    timeout_s: float = 10
    backoff_base_s: float = 1
    backoff_cap_s: float = 60
    poll_s: float = 30           # a wake-up without the bus (events written by another process)
    since_ms: int = 86_400_000   # nothing on record yet: begin with the events of the last day


def training_hook(config) -> Hook | None:
    """The certificate-warning webhook of the [training] section, or None when no URL is set."""
    t = getattr(config, "training", None)
    url = getattr(t, "webhook_url", None)
    if t is None or not url:
        return None
    return Hook("training", url, ("certificate.warned",), attempts=t.webhook_attempts, timeout_s=t.webhook_timeout_s)


def resume_after(hook: Hook, now: int | None = None) -> int:
    """The seq after which the hook's next event lies (see the module docstring)."""
    last = (Event.select(Event.payload)
            .where(Event.type.in_(OUTCOMES) & (Event.entity_type == "webhook") & (Event.entity_id == hook.name))
            .order_by(Event.seq.desc()).first())
    if last is not None:
        return int(json.loads(last.payload)["event_seq"])
    since = (events.now_ms() if now is None else now) - hook.since_ms
    first = (Event.select(peewee.fn.MIN(Event.seq))
             .where(Event.type.in_(hook.types) & (Event.recorded_at >= since)).scalar())
    return first - 1 if first else events.head_seq()


def pending(hook: Hook, after: int, limit: int = 50) -> list[Committed]:
    rows = (Event.select().where((Event.seq > after) & Event.type.in_(hook.types))
            .order_by(Event.seq).limit(limit).dicts())
    return [Committed.from_row(cast(dict, r)) for r in rows]


def body(hook: Hook, ev: Committed, appliance_id: str) -> bytes:
    return json.dumps({"hook": hook.name, "type": ev.type, "id": ev.id, "seq": ev.seq, "occurred_at": ev.occurred_at,
                       "recorded_at": ev.recorded_at, "appliance_id": appliance_id,
                       "entity": [ev.entity_type, ev.entity_id], "payload": ev.payload},
                      ensure_ascii=False).encode("utf-8")


class Webhook:
    """One hook's worker thread."""

    def __init__(self, hook: Hook, appliance_id: str, rand: Callable[[], float] = random.random):
        self.hook = hook
        self.appliance_id = appliance_id
        self.rand = rand
        self.http = Http(hook.url, hook.timeout_s)
        self.wake = threading.Event()
        self.stop_event = threading.Event()
        self.thread: threading.Thread | None = None
        self.cursor: int | None = None
        self.status: dict = {"url": shown_url(hook.url), "delivered": 0, "failed": 0, "retrying": None,
                             "last_error": None}

    def start(self, bus=None) -> Webhook:
        if bus is not None:
            types = self.hook.types
            bus.subscribe(lambda ev: self.wake.set() if ev.type in types else None)
        self.thread = threading.Thread(target=self._run, name=f"webhook-{self.hook.name}", daemon=True)
        self.thread.start()
        return self

    def stop(self, timeout: float = 5) -> None:
        self.stop_event.set()
        self.wake.set()
        if self.thread:
            self.thread.join(timeout)

    def health(self) -> dict:
        s = dict(self.status)
        if s["retrying"] or (s["failed"] and s["last_error"]):
            return {"status": "degraded", "reason": s["last_error"], **s}
        return {"status": "ok", **s}

    def _run(self) -> None:
        try:
            while not self.stop_event.is_set():
                try:
                    if not self.step():
                        self.wake.wait(self.hook.poll_s)
                        self.wake.clear()
                except peewee.PeeweeException as exc:   # a locked database: try again, the cursor has not moved
                    log.warning("webhook cannot read or record", extra={"hook": self.hook.name, "error": str(exc)})
                    self.stop_event.wait(1)
        finally:
            self.http.close()
            database.close()

    def step(self) -> bool:
        """Deliver what is pending; False when there was nothing."""
        if self.cursor is None:
            self.cursor = resume_after(self.hook)
        batch = pending(self.hook, self.cursor)
        for ev in batch:
            outcome = self.deliver(ev)
            if outcome is None:      # stopping mid-retry: not recorded, sent again at the next start
                return True
            self.record(ev, outcome)
            self.cursor = ev.seq
        return bool(batch)

    def deliver(self, ev: Committed) -> dict | None:
        """POST one event, retrying; the outcome, or None when asked to stop meanwhile."""
        data = body(self.hook, ev, self.appliance_id)
        headers = {"Content-Type": "application/json; charset=utf-8", "Idempotency-Key": ev.id,
                   "X-Appliance-Id": self.appliance_id, "X-Event-Type": ev.type, "User-Agent": "safety-appliance"}
        status: int | None = None
        error: str | None = None
        for attempt in range(1, self.hook.attempts + 1):
            retry_after = None
            try:
                r = self.http.request("POST", "", data, headers)
                status = r.status
                if 200 <= r.status < 300:
                    self.status["retrying"] = None
                    return {"ok": True, "attempts": attempt, "status": status, "error": None}
                error = f"HTTP {r.status}"
                if r.status not in RETRY_STATUSES and r.status < 500:
                    break                # refused: another try would get the same answer
                retry_after = backoff.parse_retry_after(r.headers.get("retry-after"))
            except Unreachable as exc:
                status, error = None, str(exc)
            if attempt == self.hook.attempts:
                break
            self.status.update(retrying=ev.id, last_error=error)
            wait = backoff.delay(attempt - 1, self.hook.backoff_base_s, self.hook.backoff_cap_s, self.rand(), retry_after)
            if self.stop_event.wait(wait):
                return None
        self.status["retrying"] = None
        return {"ok": False, "attempts": attempt, "status": status, "error": error}

    def record(self, ev: Committed, outcome: dict) -> None:
        ok = outcome["ok"]
        events.record("webhook.delivered" if ok else "webhook.failed", actor=ACTOR, entity=("webhook", self.hook.name),
                      payload={"hook": self.hook.name, "url": shown_url(self.hook.url), "event_id": ev.id,
                               "event_seq": ev.seq, "event_type": ev.type,
                               "entity": [ev.entity_type, ev.entity_id], "attempts": outcome["attempts"],
                               "status": outcome["status"], "error": outcome["error"]})
        self.status["delivered" if ok else "failed"] += 1
        if ok:
            self.status["last_error"] = None
        else:
            self.status["last_error"] = outcome["error"]
            log.warning("webhook delivery failed", extra={"hook": self.hook.name, "event_seq": ev.seq,
                                                          "attempts": outcome["attempts"], "error": outcome["error"]})


def start_all(config, bus) -> Sequence[Webhook]:
    """Every configured webhook, started (the sync domain's start)."""
    hook = training_hook(config)
    return [Webhook(hook, config.site.appliance_id).start(bus)] if hook else []
