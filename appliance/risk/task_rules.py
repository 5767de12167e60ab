"""Control tasks (隐患排查任务) as pure rules: the check period a control measure's cycle makes, and when a
task is due soon. Persistence is `control_tasks`.

Under the dual prevention mechanism (双重预防机制; RULES.md §B.5: CHECK_CYCLE + CHECK_CYCLE_UNIT on each
管控措施) every control measure is checked once per cycle. Periods are aligned to the plant's calendar in its
time zone: an "every 8 hours" measure has the periods 00:00–08:00, 08:00–16:00, 16:00–24:00; "every 2 days"
counts days from 1970-01-01; months from January; years from year 0. A task not checked by the end of its
period is 未排查 (CHECK_STATUS 2).
"""
from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

UNITS = ("hour", "day", "month", "year")
MAX_CYCLE = {"hour": 24 * 366, "day": 3660, "month": 1200, "year": 100}   # beyond: not a check cycle
REMIND_AT = 0.8          # remind the assignee once 80 % of the period has gone by


def _ms(dt: datetime) -> int:
    return int(dt.astimezone(UTC).timestamp() * 1000)


def period(cycle: int, unit: str | None, at_ms: int, tz: str) -> tuple[int, int]:
    """The [start, end) period, in UTC ms, of a measure checked every `cycle` `unit`s that holds `at_ms`."""
    if unit not in UNITS or not 1 <= cycle <= MAX_CYCLE[unit]:
        raise ValueError(f"bad check cycle {cycle} {unit}")
    zone = ZoneInfo(tz)
    local = datetime.fromtimestamp(at_ms / 1000, zone)
    d = local.date()
    if unit == "hour":
        slot = local.hour // cycle * cycle if cycle < 24 else 0
        if cycle >= 24:      # a multiple of days, in hours
            return period(max(1, cycle // 24), "day", at_ms, tz)
        start = datetime.combine(d, time(slot), zone)
        end_hour = slot + cycle
        end = datetime.combine(d, time(0), zone) + timedelta(hours=min(end_hour, 24))
        if end_hour > 24:
            end = datetime.combine(d + timedelta(days=1), time(0), zone)
        return _ms(start), _ms(end)
    if unit == "day":
        n = d.toordinal() - date(1970, 1, 1).toordinal()
        first = date(1970, 1, 1) + timedelta(days=n // cycle * cycle)
        return _ms(datetime.combine(first, time(0), zone)), _ms(datetime.combine(first + timedelta(days=cycle), time(0), zone))
    if unit == "month":
        m = (d.year * 12 + d.month - 1) // cycle * cycle
        m2 = m + cycle
        start = datetime(m // 12, m % 12 + 1, 1, tzinfo=zone)
        end = datetime(m2 // 12, m2 % 12 + 1, 1, tzinfo=zone)
        return _ms(start), _ms(end)
    y = d.year // cycle * cycle
    return _ms(datetime(max(y, 1), 1, 1, tzinfo=zone)), _ms(datetime(y + cycle, 1, 1, tzinfo=zone))


def due_soon(start: int, end: int, now: int) -> bool:
    """True once `REMIND_AT` of the period has gone by (and it is not over)."""
    return start + (end - start) * REMIND_AT <= now < end
