"""The small interface every driver stands behind, the values drivers hand over, and the registry.

A driver is one module with one class: a `type_key` (the `type` in the config), its own typed config
model, `start()` / `stop()` and `health()`. It hands `Reading`s (or, for badge readers, `Tap`s) to a sink
callable and never raises out of its loop: a device failure is a state (`fault` with a reason), logged once
when it starts and once when it clears. A driver whose optional library is missing reports why from
`available()` and is left out with one clear log line; start-up goes on.
"""
from __future__ import annotations

import logging
import re
import threading
import time
from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, ClassVar, Literal, NamedTuple, TypeVar

from pydantic import BaseModel, ConfigDict

log = logging.getLogger(__name__)

Quality = Literal["good", "bad"]


def now_ms() -> int:
    return time.time_ns() // 1_000_000


class Reading(NamedTuple):
    """One value of one point at one time. `quality` "bad" carries a `reason` and no trustworthy value.
    `controller` is the field controller's own alarm level for the point (0 none, 1, 2) where the register
    map reads its status bits, else None; it is the controller's opinion, not ours, and comes even with a bad
    value. (A NamedTuple: made for every point on every poll, it costs a quarter of a frozen dataclass.)"""

    point: str
    value: float | None
    at_ms: int
    quality: Quality = "good"
    reason: str | None = None
    controller: int | None = None


# A badge UID, wherever it comes from (a reader's bytes, a station's post, a form, a spreadsheet), is kept
# as upper-case hex without separators, 4 to 10 bytes (ISO 14443 single/double/triple-size UIDs, FeliCa IDm).
UID_BYTES = (4, 10)
_UID_SEPARATORS = re.compile(r"[\s:.-]")


def normalize_uid(raw: str) -> str:
    """Card UID text as stored ("04:a1:b2:c3" → "04A1B2C3"); ValueError unless it is 4 to 10 bytes of hex."""
    uid = _UID_SEPARATORS.sub("", raw).upper()
    if not re.fullmatch(rf"(?:[0-9A-F]{{2}}){{{UID_BYTES[0]},{UID_BYTES[1]}}}", uid):
        raise ValueError(f"a card UID is {UID_BYTES[0]} to {UID_BYTES[1]} bytes of hex")
    return uid


@dataclass(frozen=True)
class Tap:
    """A badge read at a reader."""

    reader: str
    uid: str
    at_ms: int


class DriverConfig(BaseModel):
    """Base of each driver's config model: unknown keys are errors, `type` selects the driver."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    type: str
    name: str


class DeviceState:
    """ok / fault with a reason, logging each change once (first failure loudly, recovery once)."""

    def __init__(self, label: str):
        self.label = label
        self.status = "starting"
        self.reason: str | None = None
        self.since_ms = now_ms()
        self.failures = 0
        self._lock = threading.Lock()

    def ok(self) -> None:
        with self._lock:
            if self.status != "ok":
                if self.status == "fault":
                    log.warning("device recovered", extra={"device": self.label, "after": self.reason})
                self.status, self.reason, self.since_ms = "ok", None, now_ms()
            self.failures = 0

    def fault(self, reason: str) -> None:
        with self._lock:
            self.failures += 1
            if self.status != "fault" or self.reason != reason:
                if self.status != "fault":
                    log.error("device fault", extra={"device": self.label, "reason": reason})
                self.status, self.reason, self.since_ms = "fault", reason, now_ms()

    def as_dict(self) -> dict:
        out = {"status": self.status, "since": self.since_ms}
        if self.reason:
            out["reason"] = self.reason
        return out


class Driver(ABC):
    """Base of every driver. Subclasses set `type_key` and `Config` and are added with `@register`."""

    type_key: ClassVar[str]
    Config: ClassVar[type[DriverConfig]]
    # what the driver is in the config file: "bus" ([[buses]]), "reader" ([[readers]]), "camera" ([[cameras]])
    kind: ClassVar[str]

    # what the sink takes depends on the kind: buses hand `list[Reading]`, readers a `Tap`, cameras a `Frame`
    # (or no sink); subclasses narrow this with a class-level annotation
    def __init__(self, config: DriverConfig, sink: Callable[[Any], None] | None):
        self.config = config
        self.sink = sink

    @classmethod
    def available(cls) -> str | None:
        """None when the driver can run here, else why not (a missing optional library)."""
        return None

    @abstractmethod
    def start(self) -> None:
        """Begin polling or listening on a thread of the driver's own; returns at once."""

    @abstractmethod
    def stop(self) -> None:
        """Stop and release the hardware; safe to call twice."""

    @abstractmethod
    def health(self) -> dict:
        """{"status": ok | degraded | fault | starting, "reason"?, ...} for /api/v1/health."""


REGISTRY: dict[str, type[Driver]] = {}

D = TypeVar("D", bound=type[Driver])


def register(cls: D) -> D:
    """Add a driver class under its `type_key` (a class decorator; each driver module registers itself)."""
    if cls.type_key in REGISTRY:
        raise ValueError(f"driver type {cls.type_key!r} registered twice")
    REGISTRY[cls.type_key] = cls
    return cls
