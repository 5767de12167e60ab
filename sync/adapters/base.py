"""What an endpoint adapter is: turn a batch of events into requests, and the answers into an `Ack`.

An adapter is small on purpose: `send_events` (one batch of one lane; return what was acknowledged and
which records were refused, or raise `SyncError`), `probe` (is anyone there), and `preview` (the dry run:
what would be sent, and which records would fail). Photos are optional (`send_photo`). The engine owns
cursors, lanes, back-off and the dead-letter list; adapters own only the wire format.
"""
from __future__ import annotations

import json
import time
from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from pathlib import Path

from sync.backoff import parse_retry_after
from sync.http import Http, Response, Unreachable

REGISTRY: dict[str, type[Adapter]] = {}


@dataclass
class Context:
    appliance_id: str
    photo_root: Path | None = None
    timezone: str = "Asia/Shanghai"


@dataclass
class Ack:
    through: int                                  # the lane is acknowledged up to this seq
    rejected: list[tuple[int, str, str]] = field(default_factory=list)  # (seq, event id, reason)
    rewind_to: int | None = None                  # the endpoint holds only up to here: send again from it
    note: str = ""


class SyncError(Exception):
    """The endpoint did not acknowledge; `kind` says why (unreachable, auth, throttled, server, too_large,
    bad_request, clock_skew), `retry_after` is the endpoint's own Retry-After."""

    def __init__(self, kind: str, reason: str, retry_after: float | None = None, status: int | None = None):
        super().__init__(reason)
        self.kind, self.reason, self.retry_after, self.status = kind, reason, retry_after, status


def error_from(resp: Response) -> SyncError:
    """A non-success answer as a SyncError, keeping the endpoint's own words (shortened)."""
    body = resp.json()
    msg = ""
    if isinstance(body, dict):
        err = body.get("error")
        msg = (err.get("message") if isinstance(err, dict) else err) or body.get("msg") or body.get("message") or ""
    msg = str(msg or resp.body[:200].decode("utf-8", "replace")).strip()
    ra = parse_retry_after(resp.headers.get("retry-after"))
    kind = {401: "auth", 403: "auth", 413: "too_large", 429: "throttled"}.get(resp.status)
    if kind is None:
        kind = "server" if resp.status >= 500 or resp.status == 408 else "bad_request"
    return SyncError(kind, f"HTTP {resp.status}" + (f": {msg}" if msg else ""), ra, resp.status)


class Adapter(ABC):
    type_key = ""
    supports_photos = False
    supports_aggregates = False

    def __init__(self, cfg, ctx: Context):
        self.cfg = cfg
        self.ctx = ctx
        self.http = Http(cfg.url, cfg.timeout_s)
        self._last_request: float | None = None  # monotonic time of the last request (for min_interval_s)

    def __init_subclass__(cls, **kw):
        super().__init_subclass__(**kw)
        if cls.type_key:
            REGISTRY[cls.type_key] = cls

    def request(self, method: str, path: str, body: bytes | None = None, headers: dict | None = None,
                paced: bool = True) -> Response:
        gap = self.cfg.min_interval_s if paced else 0
        if gap and self._last_request is not None:
            left = self._last_request + gap - time.monotonic()
            if left > 0:  # the endpoint's rate limit: wait, do not knock (not counted as a failure)
                raise SyncError("paced", f"rate limit: next request in {left:.1f} s", left)
        if paced:
            self._last_request = time.monotonic()
        try:
            return self.http.request(method, path, body, headers)
        except Unreachable as exc:
            raise SyncError("unreachable", str(exc)) from None

    def probe(self) -> None:
        """Raise SyncError("unreachable") when nothing answers; any HTTP answer means reachable."""
        self.request("HEAD", "", paced=False)

    @abstractmethod
    def send_events(self, lane: str, after: int, rows: list, replay: bool = False) -> Ack:
        """Send the events of `lane` after seq `after`; the endpoint's acknowledgement."""

    def send_aggregates(self, after: int, rows: list[dict]) -> Ack:
        """Send finished per-minute aggregates after minute `after`; acknowledge through the last minute.
        Endpoint types without an aggregates lane never get here (the engine sends them none)."""
        raise SyncError("unsupported", f"{type(self).__name__} endpoints take no telemetry aggregates")

    def send_photo(self, digest: str, path: Path) -> bool:
        """Upload one photo unless the endpoint already has it; True when bytes were sent. Endpoint types
        without a photo lane never get here."""
        raise SyncError("unsupported", f"{type(self).__name__} endpoints take no photos")

    def preview(self, rows: list) -> dict:
        """The dry run: {"requests": [...], "failures": [{"seq", "id", "reason"}]} without sending."""
        return {"requests": [{"events": [r.seq for r in rows]}], "failures": []}

    def close(self) -> None:
        self.http.close()


def ms_timestamp() -> str:
    return str(time.time_ns() // 1_000_000)


def dumps(obj) -> bytes:
    return json.dumps(obj, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
