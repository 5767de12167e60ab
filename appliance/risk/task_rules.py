"""Control tasks (隐患排查任务) as pure rules: the check period a control measure's cycle makes, and when a
task is due soon. Persistence is `control_tasks`.

Under the dual prevention mechanism (双重预防机制; RULES.md §B.4: CHECK_CYCLE + CHECK_CYCLE_UNIT 小时/天/月/年
on each 管控措施) every control measure is checked once per cycle. Periods are aligned to the plant's
calendar and shifts in its time zone, so everyone reads the same due time off the clock:

- hours that divide 24 (1, 2, 3, 4, 6, 8, 12): slots of the plant's shift day, which starts at its shift
  change (`shift_start`, [risk] shift_start, e.g. 08:00 → 8 h periods 08–16, 16–24, 00–08; 07:30 → 07:30–15:30,
  15:30–23:30, 23:30–07:30, crossing midnight). A check per shift belongs to the shift, not to midnight.
- hours that are whole days (24, 48, …) are those days; whole weeks (168, …) those weeks.
- other hours (5, 30, 36, …): true rolling periods of exactly that many hours, anchored at a fixed epoch
  (ROLLING_EPOCH: Monday 1970-01-05 at the shift change, plant time). Such a cycle is not refused: plants'
  registers (and the regulators' systems they come from) do carry 36 h or 72 h checks, an import is all or
  nothing, and a check every 36 h is checked every 36 h — never silently every 24 h as before. The due time
  moves round the clock, and the task list shows it.
- days: from 1970-01-01, local midnight; days that are whole weeks (7, 14, …) run on calendar weeks.
- weeks: calendar weeks, Monday 00:00 local (GB/T 7408 / ISO 8601 week), n-week blocks counted from the
  Monday 1970-01-05. The regulators' unit list has no week, so a week is stored as 7 days (`normalize`).
- months from January; years from year 0.

A task not checked by the end of its period is 未排查 (CHECK_STATUS 2).
"""
from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

UNITS = ("hour", "day", "week", "month", "year")
STORED_UNITS = ("hour", "day", "month", "year")    # the regulators' CHECK_CYCLE_UNIT (RULES.md §B.4)
MAX_CYCLE = {"hour": 24 * 366, "day": 3660, "week": 522, "month": 1200, "year": 100}   # beyond: not a check cycle
REMIND_AT = 0.8          # remind the assignee once 80 % of the period has gone by
EPOCH_MONDAY = date(1970, 1, 5)    # the first Monday of the Unix epoch: week blocks count from it


def _ms(dt: datetime) -> int:
    return int(dt.astimezone(UTC).timestamp() * 1000)


def _local(d: date, t: time, zone: ZoneInfo) -> datetime:
    return datetime.combine(d, t, zone)


def check_cycle(cycle: int, unit: str | None) -> tuple[str, str] | None:
    """None for a cycle the tasks can run, else (zh, en) saying why not (for the import row or the API)."""
    if unit not in UNITS:
        return (f"周期单位应为 小时/天/周/月/年，而不是“{unit}”", f"the cycle unit must be hour/day/week/month/year, not '{unit}'")
    if not 1 <= cycle <= MAX_CYCLE[unit]:
        zh_unit = {"hour": "小时", "day": "天", "week": "周", "month": "月", "year": "年"}[unit]
        return (f"排查周期应为 1–{MAX_CYCLE[unit]} {zh_unit}，而不是 {cycle}",
                f"the check cycle must be 1–{MAX_CYCLE[unit]} {unit}s, not {cycle}")
    return None


def normalize(cycle: int, unit: str) -> tuple[int, str]:
    """The (cycle, unit) to store: weeks become 7-day multiples (the regulators' units); others unchanged."""
    return (cycle * 7, "day") if unit == "week" else (cycle, unit)


def kind(cycle: int, unit: str) -> str:
    """How a cycle runs: "shift" (hours dividing 24), "rolling" (other hours that are not whole days),
    "week" (weeks, or days/hours that are whole weeks), or the unit itself."""
    if unit == "hour":
        if cycle % 168 == 0:
            return "week"
        if cycle % 24 == 0:
            return "day"
        return "shift" if 24 % cycle == 0 else "rolling"
    if unit == "day" and cycle % 7 == 0:
        return "week"
    return unit


def period(cycle: int, unit: str | None, at_ms: int, tz: str, shift_start: time = time(0)) -> tuple[int, int]:
    """The [start, end) period, in UTC ms, of a measure checked every `cycle` `unit`s that holds `at_ms`;
    `shift_start` is the plant's shift change (hour cycles). ValueError for a cycle `check_cycle` refuses."""
    if unit is None or check_cycle(cycle, unit) is not None:
        raise ValueError(f"bad check cycle {cycle} {unit}")
    zone = ZoneInfo(tz)
    local = datetime.fromtimestamp(at_ms / 1000, zone)
    d = local.date()
    how = kind(cycle, unit)
    if how == "week":
        weeks = cycle // 7 if unit == "day" else cycle // 168 if unit == "hour" else cycle
        n = (d - EPOCH_MONDAY).days // 7 // weeks * weeks
        first = EPOCH_MONDAY + timedelta(weeks=n)
        return _ms(_local(first, time(0), zone)), _ms(_local(first + timedelta(weeks=weeks), time(0), zone))
    if how == "day":
        days = cycle // 24 if unit == "hour" else cycle
        n = (d - date(1970, 1, 1)).days // days * days
        first = date(1970, 1, 1) + timedelta(days=n)
        return _ms(_local(first, time(0), zone)), _ms(_local(first + timedelta(days=days), time(0), zone))
    if how == "shift":
        # the shift day holding `local` starts at the latest shift change at or before it (wall clock)
        base = d if local.time() >= shift_start else d - timedelta(days=1)
        day_start = datetime.combine(base, shift_start)          # naive: wall-clock slots
        k = (local.replace(tzinfo=None) - day_start) // timedelta(hours=cycle)
        start = day_start + timedelta(hours=k * cycle)
        return _ms(start.replace(tzinfo=zone)), _ms((start + timedelta(hours=cycle)).replace(tzinfo=zone))
    if how == "rolling":
        anchor = _ms(_local(EPOCH_MONDAY, shift_start, zone))
        span = cycle * 3_600_000
        start_ms = anchor + (at_ms - anchor) // span * span
        return start_ms, start_ms + span
    if unit == "month":
        m = (d.year * 12 + d.month - 1) // cycle * cycle
        m2 = m + cycle
        start_dt = datetime(m // 12, m % 12 + 1, 1, tzinfo=zone)
        end_dt = datetime(m2 // 12, m2 % 12 + 1, 1, tzinfo=zone)
        return _ms(start_dt), _ms(end_dt)
    y = d.year // cycle * cycle
    return _ms(datetime(max(y, 1), 1, 1, tzinfo=zone)), _ms(datetime(y + cycle, 1, 1, tzinfo=zone))


def due_soon(start: int, end: int, now: int) -> bool:
    """True once `REMIND_AT` of the period has gone by (and it is not over)."""
    return start + (end - start) * REMIND_AT <= now < end
