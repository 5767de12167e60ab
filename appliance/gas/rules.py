"""The gas-point alarm state machine as pure functions (no I/O, no clock: `now` is passed in, in UTC ms).

What it encodes, and where each rule comes from:

- Two alarm levels per GB/T 50493-2019 §5.5 (set-points in `gases`), each with its OWN delay-on: a level
  alarms once its own condition has held for the delay, even while a higher level is still waiting (a
  reading alternating 45/52 %LEL still raises level 1; a ramp through both levels is not delayed twice).
- A deadband: a level is left only once the value is back past its threshold by the deadband.
- Latching (GB 16808-2008 §4.3 / ISA-18.2 "return to normal, unacknowledged"): the board shows the highest
  level reached until an operator acknowledges, even when the gas clears or the detector is lost afterwards.
- Over-range is an alarm, not a fault: a big release drives a catalytic sensor past full scale (and such a
  sensor may then read falsely low), so a reading above the detector's range high on a point with a `high`
  threshold raises the highest high level at once (no delay), latched and marked over-range. Only an
  under-range value, a non-numeric value or a failed read is a fault (the detector says nothing trustworthy).
- O₂ has two sides (缺氧 low, 富氧 high, GB/T 50493-2019 §5.5.2): the side is part of the state and of every
  transition; a swing from one side to the other is a new alarm.
- Shelving (IEC 62682 §11 / EEMUA 191: shelved alarms are time-limited and recorded) never hides a worse
  state: a level above the one shelved, a new over-range or a fault breaks through the shelf. A shelf lasts
  at most `MAX_SHELVE_MIN`; shelving a point in level 2 needs the safety officer and a reason.

Each function returns the new state and the transitions it caused; the caller writes each transition as an
event in the log.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, replace
from typing import TypedDict

from appliance.gas.gases import Direction, Threshold

NORMAL, ALARM1, ALARM2 = 0, 1, 2

# IEC 62682:2014 §11.7 (shelving is time-limited): at most one shift (8 h), so a shelf never outlives the
# shift that set it.
MAX_SHELVE_MIN = 8 * 60
# A value this far outside the detector's range (2 % of span) is beyond what it can measure.
RANGE_TOLERANCE = 0.02


@dataclass(frozen=True)
class AlarmConfig:
    thresholds: tuple[Threshold, ...]
    deadband: float = 0.0        # in the point's unit; a level is left only this far back past its threshold
    delay_on_s: float = 0.0      # each level must hold this long before it alarms (filters spikes)
    range_low: float | None = None   # detector range
    range_high: float | None = None
    stale_after_s: float = 30.0  # no reading for this long is a fault


@dataclass(frozen=True)
class PointState:
    condition: int = NORMAL      # the level the process is in now (after delay-on and deadband)
    side: Direction | None = None  # which side that condition is on (O₂: low 缺氧 / high 富氧)
    shown: int = NORMAL          # the level on the board: the condition, or a higher one latched until acked
    shown_side: Direction | None = None
    acked: bool = True
    over_range: bool = False     # the shown alarm includes a reading beyond full scale (latched with it)
    # thresholds (by index) beyond their set-point and waiting out delay-on: (index, since ms)
    waiting: tuple[tuple[int, int], ...] = ()
    fault: str | None = None
    shelved_until: int | None = None
    shelved_by: str | None = None
    shelved_level: int = NORMAL  # the level the point was in when shelved: a higher one breaks through
    value: float | None = None
    at: int | None = None


@dataclass(frozen=True)
class Transition:
    """Something the log must record: kind ∈ alarm, cleared, acked, fault, recovered, shelved, unshelved."""

    kind: str
    level: int = NORMAL
    reason: str | None = None
    shelved: bool = False
    side: Direction | None = None
    over_range: bool = False


class ShelveRefused(ValueError):
    """A shelve request the rules refuse; `key` names the field, `zh`/`en` say why."""

    def __init__(self, key: str, zh: str, en: str, needs_role: bool = False):
        super().__init__(en)
        self.key, self.zh, self.en, self.needs_role = key, zh, en, needs_role


def display(s: PointState) -> str:
    """normal | alarm1 | alarm2 | fault, as the board and the API show a point. A latched or standing alarm
    outranks a fault: a level-2 alarm stays on the board when the detector is lost afterwards (the fault is
    shown beside it)."""
    if s.shown:
        return ("normal", "alarm1", "alarm2")[s.shown]
    return "fault" if s.fault else "normal"


def _beyond(value: float, t: Threshold) -> bool:
    return value >= t.value if t.direction == "high" else value <= t.value


def _held(value: float, t: Threshold, deadband: float) -> bool:
    """Still inside a level already entered: back past the threshold by less than the deadband."""
    return value > t.value - deadband if t.direction == "high" else value < t.value + deadband


def _inside(s: PointState, t: Threshold) -> bool:
    """The point's present condition includes threshold `t` (same side, at or above its level)."""
    return s.condition >= t.level and s.side == t.direction


def level_of(value: float, cfg: AlarmConfig, current: int = NORMAL, side: Direction | None = None) -> int:
    """The alarm level `value` is in (no delay-on), given the level and side the point is in now."""
    s = PointState(condition=current, side=side or ("high" if current else None))
    level = NORMAL
    for t in cfg.thresholds:
        if _beyond(value, t) or (_inside(s, t) and _held(value, t, cfg.deadband)):
            level = max(level, t.level)
    return level


def _tolerance(cfg: AlarmConfig) -> float:
    assert cfg.range_low is not None and cfg.range_high is not None
    return RANGE_TOLERANCE * (cfg.range_high - cfg.range_low)


def over_range(value: float, cfg: AlarmConfig) -> bool:
    """Above the detector's full scale (plus tolerance)."""
    return cfg.range_high is not None and cfg.range_low is not None and value > cfg.range_high + _tolerance(cfg)


def under_range(value: float, cfg: AlarmConfig) -> bool:
    """Below the detector's range low (minus tolerance): a drifting or broken sensor."""
    return cfg.range_high is not None and cfg.range_low is not None and value < cfg.range_low - _tolerance(cfg)


def _top_high(cfg: AlarmConfig) -> Threshold | None:
    highs = [t for t in cfg.thresholds if t.direction == "high"]
    return max(highs, key=lambda t: t.level) if highs else None


def _shelved(s: PointState, now: int) -> bool:
    return s.shelved_until is not None and now < s.shelved_until


def waiting_for(s: PointState, cfg: AlarmConfig) -> dict | None:
    """The highest level now waiting out its delay-on, for the board's delay indication."""
    best: dict | None = None
    for i, since in s.waiting:
        t = cfg.thresholds[i]
        if best is None or t.level > best["level"]:
            best = {"level": t.level, "direction": t.direction, "since": since,
                    "until": since + int(cfg.delay_on_s * 1000)}
    return best


class _Fresh(TypedDict):
    """The PointState fields every accepted reading sets."""

    fault: None
    value: float
    at: int


def _bad(s: PointState, reason: str, now: int, shelved: bool) -> tuple[PointState, list[Transition]]:
    """A failed or untrustworthy reading: a fault. It says nothing about the gas, so the alarm condition and
    latch stay as they were; a new fault breaks through a shelf."""
    out: list[Transition] = []
    if s.fault != reason:
        if shelved and s.fault is None:
            out.append(Transition("unshelved", s.shown, f"breakthrough: fault: {reason}", False, s.shown_side))
            s = replace(s, shelved_until=None, shelved_by=None, shelved_level=NORMAL)
            shelved = False
        out.append(Transition("fault", s.shown, reason, shelved, s.shown_side))
    return replace(s, fault=reason, at=now, waiting=()), out


def on_reading(s: PointState, cfg: AlarmConfig, value: float | None, now: int,
               bad_reason: str | None = None) -> tuple[PointState, list[Transition]]:
    """A new reading (or a failed read, with `bad_reason`) for the point."""
    shelved = _shelved(s, now)
    if bad_reason is not None or value is None:
        return _bad(s, bad_reason or "no value", now, shelved)
    if not math.isfinite(value):
        return _bad(s, f"non_numeric: {value}", now, shelved)
    top = _top_high(cfg)
    is_over = over_range(value, cfg)
    if is_over and top is None:
        return _bad(s, f"over_range: {value:g} above {cfg.range_high:g}", now, shelved)
    if under_range(value, cfg):
        return _bad(s, f"under_range: {value:g} below {cfg.range_low:g}", now, shelved)

    out: list[Transition] = []
    if s.fault:
        out.append(Transition("recovered", s.shown, s.fault, shelved, s.shown_side))
    fresh: _Fresh = {"fault": None, "value": value, "at": now}

    # the condition: each threshold on its own delay-on
    level, side = NORMAL, None
    waiting: list[tuple[int, int]] = []
    if is_over:
        assert top is not None
        level, side = top.level, top.direction
    else:
        since = dict(s.waiting)
        delay_ms = cfg.delay_on_s * 1000
        for i, t in enumerate(cfg.thresholds):
            inside = _inside(s, t)
            if not (_beyond(value, t) or (inside and _held(value, t, cfg.deadband))):
                continue
            started = since.get(i, now)
            if inside or now - started >= delay_ms:
                if t.level > level or (t.level == level and _beyond(value, t)):
                    level, side = t.level, t.direction
            else:
                waiting.append((i, started))
        # a waiting threshold of a level already reached need not wait on
        waiting = [(i, at) for i, at in waiting if cfg.thresholds[i].level > level
                   or cfg.thresholds[i].direction != side]

    rose = level > s.condition or (level and side != s.side) or (is_over and not s.over_range)
    if rose:
        swung = bool(s.shelved_level and side != s.shown_side)  # O₂: the other side is a new alarm
        if shelved and (level > s.shelved_level or (is_over and not s.over_range) or swung):
            out.append(Transition("unshelved", level, "breakthrough: higher level" if not is_over
                                  else "breakthrough: over range", False, side))
            s = replace(s, shelved_until=None, shelved_by=None, shelved_level=NORMAL)
            shelved = False
        swing = bool(s.side and side != s.side)
        shown = level if (s.acked or swing) else max(s.shown, level)
        s = replace(s, **fresh, condition=level, side=side, shown=shown, shown_side=side, acked=False,
                    over_range=is_over or (s.over_range and not s.acked and not swing), waiting=tuple(waiting))
        out.append(Transition("alarm", level, "over_range" if is_over else None, shelved, side, is_over))
    elif level < s.condition:
        shown, shown_side = (level, side) if s.acked else (s.shown, s.shown_side)
        s = replace(s, **fresh, condition=level, side=side if level else None, shown=shown, shown_side=shown_side,
                    over_range=s.over_range and not s.acked, waiting=tuple(waiting))
        out.append(Transition("cleared", level, None, shelved, side if level else None))
    else:
        s = replace(s, **fresh, over_range=is_over or (s.over_range and not s.acked), waiting=tuple(waiting))
    return s, out


def acknowledge(s: PointState, now: int) -> tuple[PointState, list[Transition]]:
    """An operator acknowledged the point: the latch drops to what the gas is now."""
    if s.acked:
        return s, []
    still_over = s.over_range and s.value is not None and s.condition > NORMAL and s.fault is None \
        and s.shown == s.condition
    return (replace(s, acked=True, shown=s.condition, shown_side=s.side, over_range=still_over),
            [Transition("acked", s.condition, None, _shelved(s, now), s.side)])


def check_shelve(s: PointState, now: int, minutes: float, reason: str, safety_officer: bool) -> None:
    """Raise ShelveRefused when the rules do not allow this shelf (IEC 62682 §11.7: time-limited, with a
    reason; shelving a level-2 alarm, the one that calls for action, is the safety officer's decision)."""
    if not reason.strip():
        raise ShelveRefused("reason", "搁置必须填写原因", "shelving needs a reason")
    if not 0 < minutes <= MAX_SHELVE_MIN:
        raise ShelveRefused("minutes", f"搁置时长应为 1–{MAX_SHELVE_MIN} 分钟（不超过一个班次）",
                            f"shelving lasts 1–{MAX_SHELVE_MIN} minutes (at most one shift)")
    if max(s.shown, s.condition) >= ALARM2 and not safety_officer:
        raise ShelveRefused("point", "二级报警中的测点只有安全员可以搁置",
                            "only the safety officer may shelve a point in a level-2 alarm", needs_role=True)


def shelve(s: PointState, now: int, minutes: float, by: str, reason: str,
           safety_officer: bool = False) -> tuple[PointState, list[Transition]]:
    """Shelve the point for `minutes` (the board stops sounding it; everything is still recorded)."""
    check_shelve(s, now, minutes, reason, safety_officer)
    until = now + int(minutes * 60_000)
    return (replace(s, shelved_until=until, shelved_by=by, shelved_level=max(s.shown, s.condition)),
            [Transition("shelved", s.shown, reason, True, s.shown_side)])


def tick(s: PointState, cfg: AlarmConfig, now: int) -> tuple[PointState, list[Transition]]:
    """Time passing without a reading: shelving expires, and a silent point becomes a stale fault (which
    breaks through a shelf like any fault)."""
    out: list[Transition] = []
    if s.shelved_until is not None and now >= s.shelved_until:
        s = replace(s, shelved_until=None, shelved_by=None, shelved_level=NORMAL)
        out.append(Transition("unshelved", s.shown, "expired", False, s.shown_side))
    if s.at is not None and s.fault is None and now - s.at > cfg.stale_after_s * 1000:
        last = s.at  # staleness counts from the last reading, not from now
        s, more = _bad(s, f"stale: no reading for {cfg.stale_after_s:g} s", now, _shelved(s, now))
        s = replace(s, at=last)
        out += more
    return s, out


# The shelve durations a supervisor picks from on the tablet (minutes): a labelled choice instead of a free
# number box, none longer than one shift (IEC 62682 §11.7, `MAX_SHELVE_MIN`).
SHELVE_CHOICES_MIN = tuple(m for m in (15, 30, 60, 120, 240, 480) if m <= MAX_SHELVE_MIN)


def new_peak(peak: float | None, s: PointState) -> float | None:
    """The point's reading when it is the worst since its alarm was raised (the highest for a high-side
    alarm, the lowest for a low-side one: O₂ 缺氧, GB/T 50493-2019 §5.5.2), else None. A point in no alarm
    has no peak."""
    if s.value is None or not (s.shown or s.condition):
        return None
    low = (s.shown_side or s.side) == "low"
    if peak is None or (s.value < peak if low else s.value > peak):
        return s.value
    return None


# Without the plant's own shift change configured, two 12-hour shifts: 08:00–20:00 and 20:00–08:00.
DEFAULT_SHIFT_START = (8, 0)
SHIFT_HOURS = 12


def shift_window(now_local_min: int, shift_start: tuple[int, int] = DEFAULT_SHIFT_START,
                 hours: int = SHIFT_HOURS) -> tuple[int, int]:
    """The shift the local time `now_local_min` (minutes since local midnight) falls in, as (start, end)
    offsets in minutes from that midnight (start may be negative: a night shift that began yesterday)."""
    first = shift_start[0] * 60 + shift_start[1]
    length = hours * 60
    start = first + ((now_local_min - first) // length) * length
    return start, start + length
