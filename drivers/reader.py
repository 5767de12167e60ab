"""What every badge reader driver shares: the UID rule, debounce, and the read loop with reconnect.

A reader driver (`drivers/pcsc.py`, `drivers/nfc.py`) subclasses `BadgeReader` and supplies three
steps: `_open()` (find and open the reader; raise `ReaderFault` when it cannot), `_watch()` (block a
short while and return the set of card UIDs on the reader now, or None when nothing changed; raise
`ReaderFault` when the reader or its service went away, `MalformedRead` for a bad answer from a card)
and `_close()`. The loop here turns those into `Tap`s through `Debounce`, keeps the `DeviceState`, and
reopens a vanished reader with exponential back-off. Nothing here imports a reader library.
"""
from __future__ import annotations

import logging
import threading
import time
from abc import abstractmethod
from collections.abc import Callable, Iterable

from pydantic import Field

from drivers.base import UID_BYTES, DeviceState, Driver, DriverConfig, Tap, normalize_uid, now_ms

log = logging.getLogger(__name__)

NAME_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,39}$"


class ReaderFault(Exception):
    """The reader (or the service behind it) cannot be used now: unplugged, not found, daemon down."""


class MalformedRead(Exception):
    """A card answered, but not with a usable UID (short, too long, an error status word, garbage)."""


def uid_hex(raw: bytes | bytearray | list[int]) -> str:
    """Card UID bytes → the stored form (`base.normalize_uid`); `MalformedRead` when it is not 4 to 10 bytes."""
    data = bytes(raw)
    if not UID_BYTES[0] <= len(data) <= UID_BYTES[1]:
        raise MalformedRead(f"UID of {len(data)} bytes ({data.hex().upper() or 'empty'}); "
                            f"expected {UID_BYTES[0]} to {UID_BYTES[1]}")
    return normalize_uid(data.hex())


class Debounce:
    """Which reads are taps. A card counts when it arrives on the reader; while it stays it does not count
    again; after it leaves it counts again only once it has been away at least `gap_s` (a card at the edge
    of the field drops out and back in; a worker who lifts the badge and taps again within the gap means
    one tap). Pure: the caller passes the clock (seconds, monotonic)."""

    def __init__(self, gap_s: float):
        self.gap_s = gap_s
        self._on: set[str] = set()          # cards on the reader now
        self._left: dict[str, float] = {}   # card → when it was first seen gone

    def present(self, uids: Iterable[str], now: float) -> list[str]:
        """The full set of cards on the reader at `now` → the UIDs that count as taps, in the given order."""
        seen = list(dict.fromkeys(uids))
        taps = []
        for uid in seen:
            if uid in self._on:
                continue
            left = self._left.pop(uid, None)
            if left is None or now - left >= self.gap_s:
                taps.append(uid)
            self._on.add(uid)
        for uid in self._on - set(seen):
            self._on.discard(uid)
            self._left[uid] = now
        for uid, left in list(self._left.items()):
            if now - left >= self.gap_s:
                del self._left[uid]
        return taps

    @property
    def on_reader(self) -> set[str]:
        return set(self._on)


class ReaderConfig(DriverConfig):
    """Keys every badge reader has (the driver's own model adds where the reader is)."""

    name: str = Field(pattern=NAME_PATTERN)
    # a card that left counts again only after it has been away this long (seconds)
    rearm_after_s: float = Field(1.0, ge=0, le=3600)
    # reopening a vanished reader waits 0.5 s, 1 s, 2 s … up to this
    backoff_max_s: float = Field(10.0, ge=0.1, le=3600)


class BadgeReader(Driver):
    """One badge reader on a thread of its own, handing one `Tap` per accepted read to the sink."""

    kind = "reader"

    config: ReaderConfig
    sink: Callable[[Tap], None]

    def __init__(self, config: ReaderConfig, sink: Callable[[Tap], None]):
        super().__init__(config, sink)
        self.state = DeviceState(config.name)
        self.debounce = Debounce(config.rearm_after_s)
        self.taps = 0
        self.reads = 0
        self.malformed = 0
        self.last_malformed: str | None = None
        self._malformed_logged = 0.0
        self.last_tap: Tap | None = None
        self._opened = False
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    # -- the three steps a driver supplies ---------------------------------------------------------
    @abstractmethod
    def _open(self) -> None:
        """Find and open the reader; `ReaderFault` when it cannot."""

    @abstractmethod
    def _watch(self) -> set[str] | None:
        """Block a short while; the UIDs on the reader now, or None when nothing changed."""

    @abstractmethod
    def _close(self) -> None:
        """Release the reader; safe when it is already gone."""

    def _interrupt(self) -> None:
        """Wake a `_watch` that is blocked (called from `stop()` on another thread); optional."""

    def where(self) -> str:
        """Where the reader is, for health and logs."""
        return ""

    # -- the loop ------------------------------------------------------------------------------------
    def start(self) -> None:
        self._stop.clear()
        self._thread = threading.Thread(target=self._run, name=f"reader-{self.config.name}", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._interrupt()
        if self._thread:
            self._thread.join(10)
            self._thread = None
        self._safe_close()

    def _safe_close(self) -> None:
        if self._opened:
            self._opened = False
            try:
                self._close()
            except Exception:  # closing a half-dead reader may fail in any way; it is gone either way
                log.debug("closing reader failed", exc_info=True, extra={"reader": self.config.name})

    def _run(self) -> None:
        while not self._stop.is_set():
            if not self._opened:
                try:
                    self._open()
                    self._opened = True
                    self.state.ok()
                except ReaderFault as exc:
                    self._fault(str(exc))
                    continue
                except Exception as exc:  # a library raising something unexpected is still a fault
                    log.exception("opening reader failed", extra={"reader": self.config.name})
                    self._fault(f"open: {exc.__class__.__name__}: {exc}")
                    continue
            try:
                uids = self._watch()
            except ReaderFault as exc:
                self._safe_close()  # the debounce keeps its cards: one still held after recovery is not new
                self._fault(str(exc))
                continue
            except MalformedRead as exc:
                self._malformed(str(exc))
                continue
            except Exception as exc:  # a bug or a library surprise must not end the reader
                log.exception("reader watch failed", extra={"reader": self.config.name})
                self._malformed(f"{exc.__class__.__name__}: {exc}")
                self._stop.wait(0.2)
                continue
            self.state.ok()
            if uids is not None:
                self.observe(uids)

    def observe(self, uids: Iterable[str]) -> list[Tap]:
        """The cards on the reader now → the taps they make (handed to the sink and returned)."""
        uids = list(uids)
        self.reads += len(uids)
        out = []
        for uid in self.debounce.present(uids, time.monotonic()):
            tap = Tap(self.config.name, uid, now_ms())
            self.taps += 1
            self.last_tap = tap
            out.append(tap)
            try:
                self.sink(tap)
            except Exception:  # the domain's bug must not stop the reader; the tap is in the log line
                log.exception("tap sink failed", extra={"reader": tap.reader, "uid": tap.uid})
        return out

    def _fault(self, reason: str) -> None:
        self.state.fault(reason)
        backoff = min(self.config.backoff_max_s, 0.5 * 2 ** min(self.state.failures - 1, 10))
        self._stop.wait(backoff)

    def _malformed(self, why: str) -> None:
        self.malformed += 1
        # a bad card left on a polled reader fails every poll: log a new reason at once, a repeat every 10 s
        now = time.monotonic()
        if why != self.last_malformed or now - self._malformed_logged >= 10:
            self._malformed_logged = now
            log.warning("unusable card read", extra={"reader": self.config.name, "why": why,
                                                     "count": self.malformed})
        self.last_malformed = why

    def health(self) -> dict:
        out = {"status": self.state.status, "type": self.config.type, "where": self.where(), "taps": self.taps,
               "malformed": self.malformed, "since": self.state.since_ms}
        if self.state.reason:
            out["reason"] = self.state.reason
        if self.last_malformed:
            out["last_malformed"] = self.last_malformed
        if self.last_tap:
            out["last_tap_at"] = self.last_tap.at_ms
        return out
