"""The gas-point alarm state machine as pure functions (no I/O, no clock: `now` is passed in, in UTC ms).

Two alarm levels with delay-on and deadband (GB/T 50493-2019 set-points, `appliance.gas`); an alarm stays
latched until acknowledged even when the gas clears (ISA-18.2 "return to normal, unacknowledged"); a
supervisor may shelve a point for a while (the board stops sounding it; transitions are still recorded);
comm loss, a value outside the detector's range and a stale value are fault states, shown as such.

Each function returns the new state and the transitions it caused; the caller writes each transition as
an event in the log.
"""
from __future__ import annotations

from dataclasses import dataclass, replace
from typing import TypedDict

from appliance.gas.gases import Threshold

NORMAL, ALARM1, ALARM2 = 0, 1, 2


@dataclass(frozen=True)
class AlarmConfig:
    thresholds: tuple[Threshold, ...]
    deadband: float = 0.0        # in the point's unit; a level is left only this far back past its threshold
    delay_on_s: float = 0.0      # a level must hold this long before it alarms (filters spikes)
    range_low: float | None = None   # detector range; outside it (plus 2 % of span) the value is not trusted
    range_high: float | None = None
    stale_after_s: float = 30.0  # no reading for this long is a fault


@dataclass(frozen=True)
class PointState:
    condition: int = NORMAL      # the level the process is in now (after delay-on and deadband)
    shown: int = NORMAL          # the level on the board: the condition, or a higher one latched until acked
    acked: bool = True
    pending: int = NORMAL        # a higher level waiting out delay-on
    pending_since: int | None = None
    fault: str | None = None
    shelved_until: int | None = None
    shelved_by: str | None = None
    value: float | None = None
    at: int | None = None


@dataclass(frozen=True)
class Transition:
    """Something the log must record: kind ∈ alarm, cleared, acked, fault, recovered, shelved, unshelved."""

    kind: str
    level: int = NORMAL
    reason: str | None = None
    shelved: bool = False


def display(s: PointState) -> str:
    """normal | alarm1 | alarm2 | fault, as the board and the API show a point."""
    if s.fault:
        return "fault"
    return ("normal", "alarm1", "alarm2")[s.shown]


def _beyond(value: float, t: Threshold) -> bool:
    return value >= t.value if t.direction == "high" else value <= t.value


def _held(value: float, t: Threshold, deadband: float) -> bool:
    """Still inside a level already entered: back past the threshold by less than the deadband."""
    return value > t.value - deadband if t.direction == "high" else value < t.value + deadband


def level_of(value: float, cfg: AlarmConfig, current: int = NORMAL) -> int:
    """The alarm level `value` is in, given the level the point is in now (for the deadband)."""
    level = NORMAL
    for t in cfg.thresholds:
        if _beyond(value, t) or (current >= t.level and _held(value, t, cfg.deadband)):
            level = max(level, t.level)
    return level


def out_of_range(value: float, cfg: AlarmConfig) -> bool:
    if cfg.range_low is None or cfg.range_high is None:
        return False
    tol = 0.02 * (cfg.range_high - cfg.range_low)
    return not (cfg.range_low - tol <= value <= cfg.range_high + tol)


def _shelved(s: PointState, now: int) -> bool:
    return s.shelved_until is not None and now < s.shelved_until


class _Fresh(TypedDict):
    """The PointState fields every accepted reading sets."""

    fault: None
    value: float
    at: int


def on_reading(s: PointState, cfg: AlarmConfig, value: float | None, now: int,
               bad_reason: str | None = None) -> tuple[PointState, list[Transition]]:
    """A new reading (or a failed read, with `bad_reason`) for the point."""
    out: list[Transition] = []
    shelved = _shelved(s, now)
    if bad_reason is None and value is not None and out_of_range(value, cfg):
        bad_reason = f"out_of_range: {value:g} outside {cfg.range_low:g}..{cfg.range_high:g}"
    if bad_reason is not None or value is None:
        reason = bad_reason or "no value"
        if s.fault != reason:
            out.append(Transition("fault", s.shown, reason, shelved))
        # A fault says nothing about the gas: the alarm condition and latch stay as they were.
        return replace(s, fault=reason, at=now, pending=NORMAL, pending_since=None), out
    if s.fault:
        out.append(Transition("recovered", s.shown, s.fault, shelved))
    # one replace per reading (this runs for every point on every poll): fault cleared, value and time
    # set, and whatever the level change needs
    fresh: _Fresh = {"fault": None, "value": value, "at": now}
    raw = level_of(value, cfg, s.condition)
    if raw > s.condition:
        if cfg.delay_on_s > 0:
            if s.pending != raw or s.pending_since is None:
                return replace(s, **fresh, pending=raw, pending_since=now), out
            if now - s.pending_since < cfg.delay_on_s * 1000:
                return replace(s, **fresh), out
        s = replace(s, **fresh, condition=raw, shown=max(s.shown, raw) if not s.acked else raw, acked=False,
                    pending=NORMAL, pending_since=None)
        out.append(Transition("alarm", raw, None, shelved))
    elif raw < s.condition:
        s = replace(s, **fresh, condition=raw, shown=raw if s.acked else s.shown, pending=NORMAL,
                    pending_since=None)
        out.append(Transition("cleared", raw, None, shelved))
    else:
        s = replace(s, **fresh, pending=NORMAL, pending_since=None)
    return s, out


def acknowledge(s: PointState, now: int) -> tuple[PointState, list[Transition]]:
    """An operator acknowledged the point: the latch drops to what the gas is now."""
    if s.acked:
        return s, []
    return replace(s, acked=True, shown=s.condition), [Transition("acked", s.condition, None, _shelved(s, now))]


def shelve(s: PointState, until: int, by: str, reason: str) -> tuple[PointState, list[Transition]]:
    """A supervisor shelves the point until `until` (UTC ms), with a reason; it still records everything."""
    return replace(s, shelved_until=until, shelved_by=by), [Transition("shelved", s.shown, reason, True)]


def tick(s: PointState, cfg: AlarmConfig, now: int) -> tuple[PointState, list[Transition]]:
    """Time passing without a reading: shelving expires, and a silent point becomes a stale fault."""
    out: list[Transition] = []
    if s.shelved_until is not None and now >= s.shelved_until:
        s = replace(s, shelved_until=None, shelved_by=None)
        out.append(Transition("unshelved", s.shown))
    if s.at is not None and s.fault is None and now - s.at > cfg.stale_after_s * 1000:
        reason = f"stale: no reading for {cfg.stale_after_s:g} s"
        s = replace(s, fault=reason)
        out.append(Transition("fault", s.shown, reason, _shelved(s, now)))
    return s, out
