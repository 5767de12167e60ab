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

Formats (`[training] webhook_format`):

- `json` (ours): the body {"hook", "type", "id", "seq", "occurred_at", "recorded_at", "appliance_id",
  "entity", "payload"}, UTF-8; the event id is also the Idempotency-Key header, so a receiver can drop a
  repeat (a delivery whose answer was lost is sent again). With `webhook_secret` set each request is signed:
  `X-Timestamp` = UTC milliseconds when it was sent, `X-Signature` = lower-case hex HMAC-SHA256 keyed with
  the secret over the ASCII timestamp, a ".", and the body's bytes exactly as received (the scheme of our
  sync endpoints, `sync/crypto.sign`). A receiver verifies: recompute it over the raw body before parsing,
  compare in constant time (hmac.compare_digest), refuse a timestamp more than a few minutes from its clock
  (a replay), and drop a repeated Idempotency-Key. `sync/receiver_hooks.py` is such a receiver.
- `wecom`: a 企业微信 group robot (URL …/cgi-bin/webhook/send?key=…; the key is its only credential). Body
  {"msgtype": "markdown", "markdown": {"content"}} or {"msgtype": "text", "text": {"content"}}, content UTF-8,
  at most 4096 / 2048 bytes (cut with "…" beyond); 20 messages a minute per robot. Source: WeCom's 群机器人配置
  说明 (developer.work.weixin.qq.com, document 91770, "消息类型及数据格式": text and markdown; the robot answers
  {"errcode", "errmsg"}).
- `dingtalk`: a 钉钉 custom robot (URL …/robot/send?access_token=…). Body {"msgtype": "markdown", "markdown":
  {"title", "text"}} or {"msgtype": "text", "text": {"content"}}; with its 加签 secret (SEC…) the URL also gets
  `timestamp` (UTC ms, within an hour of DingTalk's clock) and `sign` = URL-encoded Base64 of HMAC-SHA256
  keyed with the secret over timestamp + "\n" + secret; 20 messages a minute per robot. Source: DingTalk's
  自定义机器人接入 (open.dingtalk.com/document/group/custom-robot-access, "加签") and 自定义机器人发送消息的消息
  类型 (open.dingtalk.com/document/development/robot-message-type).

The robots answer HTTP 200 whatever happened: errcode 0 is a delivery, a rate limit (WeCom 45009, DingTalk
130101) or a busy system (-1) is tried again like a 429, any other errcode (a wrong key, 310000 a wrong
signature, a malformed message) is a refusal, recorded with its errcode and errmsg. The robot message's
words come from the hook's `message` (the training domain's `rules.warning_message`), zh-CN then en.

The URL's query (the robots' key or token) is sent, but never recorded or logged (`shown_url`), nor is the
secret (held as a pydantic SecretStr in the config; `Hook.secret` is left out of its repr).

"""
from __future__ import annotations

import json
import logging
import random
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import cast
from urllib.parse import quote, urlsplit

import peewee

from appliance.core import events
from appliance.core.db import database
from appliance.core.events import Committed, Event
from sync import backoff, crypto
from sync.engine import shown_url
from sync.http import Http, Unreachable

log = logging.getLogger(__name__)

OUTCOMES = ("webhook.delivered", "webhook.failed")
RETRY_STATUSES = frozenset({408, 429})
FORMATS = ("json", "wecom", "dingtalk")
# the robots' errcodes another try may cure: busy (-1), WeCom's and DingTalk's rate limits
RETRY_ERRCODES = frozenset({-1, 45009, 130101})
WECOM_MAX_BYTES = {"markdown": 4096, "text": 2048}
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
    format: str = "json"         # json | wecom | dingtalk
    msgtype: str = "markdown"    # the robots' message type: markdown | text
    secret: str | None = field(default=None, repr=False)
    # an event → (title, lines) for the robot formats
    message: Callable[[Committed], tuple[str, list[str]]] | None = field(default=None, repr=False, compare=False)


def training_hook(config) -> Hook | None:
    """The certificate-warning webhook of the [training] section, or None when no URL is set."""
    t = getattr(config, "training", None)
    url = getattr(t, "webhook_url", None)
    if t is None or not url:
        return None
    from appliance.core import messages  # the training domain says how a warning reads (core.messages)

    def read(ev: Committed) -> tuple[str, list[str]]:
        return messages.message(ev.type, ev.payload) or (ev.type, [json.dumps(ev.payload, ensure_ascii=False)])

    return Hook("training", url, ("certificate.warned",), attempts=t.webhook_attempts, timeout_s=t.webhook_timeout_s,
                format=t.webhook_format, msgtype=t.webhook_msgtype, secret=t.webhook_secret_value, message=read)


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


def _cut(text: str, max_bytes: int) -> str:
    """`text` in at most `max_bytes` of UTF-8, cut at a character with "…" when it is longer."""
    data = text.encode("utf-8")
    if len(data) <= max_bytes:
        return text
    return data[:max_bytes - 3].decode("utf-8", "ignore") + "…"


def robot_body(fmt: str, msgtype: str, title: str, lines: list[str]) -> dict:
    """The WeCom or DingTalk message (see the module docstring for the shapes and their sources)."""
    markdown = f"### {title}\n\n" + "\n\n".join(lines)
    text = title + "\n" + "\n".join(lines)
    if fmt == "wecom":
        content = _cut(markdown if msgtype == "markdown" else text, WECOM_MAX_BYTES[msgtype])
        return {"msgtype": msgtype, msgtype: {"content": content}}
    if msgtype == "markdown":
        return {"msgtype": "markdown", "markdown": {"title": title, "text": markdown}}
    return {"msgtype": "text", "text": {"content": text}}


def dingtalk_sign(secret: str, timestamp: str) -> str:
    """DingTalk's 加签: Base64(HMAC-SHA256(secret, timestamp + "\n" + secret)), URL-encoded."""
    return quote(crypto.dingtalk_signature(secret, timestamp), safe="")


def prepare(hook: Hook, ev: Committed, appliance_id: str, now_ms: int) -> tuple[str, bytes, dict]:
    """One request of `ev` for `hook`, signed at `now_ms`: (the path and query after the URL's path, the body,
    the headers)."""
    query = urlsplit(hook.url).query
    headers = {"Content-Type": "application/json; charset=utf-8", "Idempotency-Key": ev.id,
               "X-Appliance-Id": appliance_id, "X-Event-Type": ev.type, "User-Agent": "safety-appliance"}
    ts = str(now_ms)
    if hook.format == "json":
        data = body(hook, ev, appliance_id)
        if hook.secret:
            headers |= {"X-Timestamp": ts, "X-Signature": crypto.sign(hook.secret, ts, data)}
    else:
        title, lines = hook.message(ev) if hook.message else (ev.type, [json.dumps(ev.payload, ensure_ascii=False)])
        data = json.dumps(robot_body(hook.format, hook.msgtype, title, lines), ensure_ascii=False).encode("utf-8")
        if hook.format == "dingtalk" and hook.secret:
            query = "&".join(q for q in (query, f"timestamp={ts}&sign={dingtalk_sign(hook.secret, ts)}") if q)
    return ("?" + query if query else ""), data, headers


def robot_refusal(hook: Hook, resp) -> tuple[str, bool] | None:
    """For a robot's 2xx answer: None when delivered, else (the error, whether to try again)."""
    if hook.format == "json":
        return None
    j = resp.json()
    code = j.get("errcode") if isinstance(j, dict) else None
    if code == 0:
        return None
    if not isinstance(code, int):
        return "robot answer without errcode", False
    return f"errcode {code}: {str(j.get('errmsg', ''))[:200]}", code in RETRY_ERRCODES


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
        self.status: dict = {"url": shown_url(hook.url), "format": hook.format, "signed": bool(hook.secret),
                             "delivered": 0, "failed": 0, "retrying": None, "last_error": None}

    def start(self, bus=None) -> Webhook:
        if bus is not None:
            types = self.hook.types
            # only this hook's types reach its subscriber (the bus filters by prefix; the exact type is checked here)
            bus.subscribe(lambda ev: self.wake.set() if ev.type in types else None, tuple(types))
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
        """POST one event, retrying (signed anew each time); the outcome, or None when asked to stop meanwhile."""
        status: int | None = None
        error: str | None = None
        for attempt in range(1, self.hook.attempts + 1):
            retry_after = None
            path, data, headers = prepare(self.hook, ev, self.appliance_id, events.now_ms())
            try:
                r = self.http.request("POST", path, data, headers)
                status = r.status
                if 200 <= r.status < 300:
                    refused = robot_refusal(self.hook, r)
                    if refused is None:
                        self.status["retrying"] = None
                        return {"ok": True, "attempts": attempt, "status": status, "error": None}
                    error, again = refused
                    if not again:
                        break
                    if attempt == self.hook.attempts:
                        break
                    self.status.update(retrying=ev.id, last_error=error)
                    if self.stop_event.wait(backoff.delay(attempt - 1, self.hook.backoff_base_s, self.hook.backoff_cap_s,
                                                          self.rand(), None)):
                        return None
                    continue
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
