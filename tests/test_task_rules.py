"""Control-task periods and reminders as tables (appliance/risk/task_rules.py): shift-anchored hour slots,
rolling periods for hours that do not divide 24, calendar weeks (GB/T 7408 / ISO 8601: Monday 00:00)."""
from __future__ import annotations

from datetime import datetime, time
from zoneinfo import ZoneInfo

import pytest

from appliance.risk.task_rules import check_cycle, due_soon, kind, normalize, period

TZ = "Asia/Shanghai"


def ms(y, mo, d, h=0, mi=0):
    return int(datetime(y, mo, d, h, mi, tzinfo=ZoneInfo(TZ)).timestamp() * 1000)


MIDNIGHT, EIGHT, HALF_SEVEN = time(0), time(8), time(7, 30)
H = 3_600_000


@pytest.mark.parametrize("cycle, unit, shift, at, start, end", [
    (1, "hour", EIGHT, ms(2026, 11, 30, 9, 59), ms(2026, 11, 30, 9), ms(2026, 11, 30, 10)),
    # 8 h shifts from the 08:00 shift change: 08–16, 16–24, 00–08
    (8, "hour", EIGHT, ms(2026, 11, 30, 9, 0), ms(2026, 11, 30, 8), ms(2026, 11, 30, 16)),
    (8, "hour", EIGHT, ms(2026, 11, 30, 7, 59), ms(2026, 11, 30, 0), ms(2026, 11, 30, 8)),
    (8, "hour", EIGHT, ms(2026, 11, 30, 16, 0), ms(2026, 11, 30, 16), ms(2026, 12, 1, 0)),   # start inclusive
    # shifts changing at 07:30: the night shift crosses midnight (23:30–07:30)
    (8, "hour", HALF_SEVEN, ms(2026, 11, 30, 23, 59), ms(2026, 11, 30, 23, 30), ms(2026, 12, 1, 7, 30)),
    (8, "hour", HALF_SEVEN, ms(2026, 12, 1, 0, 10), ms(2026, 11, 30, 23, 30), ms(2026, 12, 1, 7, 30)),
    (8, "hour", HALF_SEVEN, ms(2026, 12, 1, 7, 29), ms(2026, 11, 30, 23, 30), ms(2026, 12, 1, 7, 30)),
    (8, "hour", HALF_SEVEN, ms(2026, 12, 1, 7, 30), ms(2026, 12, 1, 7, 30), ms(2026, 12, 1, 15, 30)),
    # 12 h shifts 08–20 and 20–08 (the night shift crosses midnight), not 00–12 / 12–24
    (12, "hour", EIGHT, ms(2026, 11, 30, 12), ms(2026, 11, 30, 8), ms(2026, 11, 30, 20)),
    (12, "hour", EIGHT, ms(2026, 12, 1, 3), ms(2026, 11, 30, 20), ms(2026, 12, 1, 8)),
    (12, "hour", MIDNIGHT, ms(2026, 12, 1, 3), ms(2026, 12, 1, 0), ms(2026, 12, 1, 12)),   # a plant changing at 00:00
    # hours that do not divide 24: rolling periods of exactly that length from Mon 1970-01-05 at the shift change
    (36, "hour", EIGHT, ms(2026, 11, 30, 9), ms(2026, 11, 29, 20), ms(2026, 12, 1, 8)),
    (30, "hour", EIGHT, ms(2026, 11, 30, 9), ms(2026, 11, 29, 20), ms(2026, 12, 1, 2)),
    (5, "hour", MIDNIGHT, ms(1970, 1, 5, 4, 59), ms(1970, 1, 5), ms(1970, 1, 5, 5)),
    (5, "hour", MIDNIGHT, ms(1970, 1, 5, 23), ms(1970, 1, 5, 20), ms(1970, 1, 6, 1)),      # crosses midnight
    # whole days and weeks in hours
    (48, "hour", EIGHT, ms(2026, 11, 30, 12, 0), ms(2026, 11, 29), ms(2026, 12, 1)),
    (168, "hour", EIGHT, ms(2026, 12, 2, 12), ms(2026, 11, 30), ms(2026, 12, 7)),          # a calendar week
    (1, "day", EIGHT, ms(2026, 11, 30, 23, 59), ms(2026, 11, 30), ms(2026, 12, 1)),
    (1, "day", EIGHT, ms(2026, 12, 1, 0, 0), ms(2026, 12, 1), ms(2026, 12, 2)),           # the end is exclusive
    # weekly: Monday 00:00 local (GB/T 7408 / ISO 8601); 2026-11-30 is a Monday
    (1, "week", EIGHT, ms(2026, 11, 30, 0, 0), ms(2026, 11, 30), ms(2026, 12, 7)),
    (1, "week", EIGHT, ms(2026, 11, 29, 23, 59), ms(2026, 11, 23), ms(2026, 11, 30)),     # Sunday night: last week
    (1, "week", EIGHT, ms(2026, 12, 6, 23, 59), ms(2026, 11, 30), ms(2026, 12, 7)),
    (7, "day", EIGHT, ms(2026, 11, 30, 12), ms(2026, 11, 30), ms(2026, 12, 7)),           # 7 days = that week
    (14, "day", EIGHT, ms(2026, 11, 30, 0), ms(2026, 11, 23), ms(2026, 12, 7)),           # fortnights from 1970-01-05
    (2, "week", EIGHT, ms(2026, 11, 30, 0), ms(2026, 11, 23), ms(2026, 12, 7)),
    (1, "week", EIGHT, ms(2027, 1, 1, 12), ms(2026, 12, 28), ms(2027, 1, 4)),             # ISO week 2026-W53
    (1, "month", EIGHT, ms(2026, 11, 30, 12), ms(2026, 11, 1), ms(2026, 12, 1)),
    (1, "month", EIGHT, ms(2026, 12, 31, 23), ms(2026, 12, 1), ms(2027, 1, 1)),
    (3, "month", EIGHT, ms(2026, 11, 30), ms(2026, 10, 1), ms(2027, 1, 1)),               # quarters
    (6, "month", EIGHT, ms(2026, 3, 1), ms(2026, 1, 1), ms(2026, 7, 1)),
    (1, "year", EIGHT, ms(2026, 11, 30), ms(2026, 1, 1), ms(2027, 1, 1)),
    (2, "year", EIGHT, ms(2027, 6, 1), ms(2026, 1, 1), ms(2028, 1, 1)),
    (100, "year", EIGHT, ms(2027, 6, 1), ms(2000, 1, 1), ms(2100, 1, 1)),
])
def test_periods(cycle, unit, shift, at, start, end):
    assert period(cycle, unit, at, TZ, shift) == (start, end)


@pytest.mark.parametrize("cycle, shift", [(36, EIGHT), (30, EIGHT), (5, MIDNIGHT), (7, HALF_SEVEN), (8, HALF_SEVEN),
                                          (12, EIGHT)])
def test_hour_periods_tile_time_with_their_true_length(cycle, shift):
    """No 36 h or 30 h cycle is ever a 24 h one: over a month, each period is exactly `cycle` hours (Asia/Shanghai
    has no DST) and each starts where the last ended."""
    at = ms(2026, 11, 1)
    start, end = period(cycle, "hour", at, TZ, shift)
    for _ in range(24 * 31 // cycle):
        assert end - start == cycle * H and start <= at < end
        at = end
        nxt = period(cycle, "hour", at, TZ, shift)
        assert nxt[0] == end
        start, end = nxt


def test_shift_slots_follow_the_wall_clock_across_a_dst_change():
    """Where clocks change (not in China), the 8 h shift still changes at 08:00 local: that night's shift is 7 h."""
    zone = "Europe/Berlin"
    at = int(datetime(2026, 3, 29, 3, 30, tzinfo=ZoneInfo(zone)).timestamp() * 1000)
    start, end = period(8, "hour", at, zone, EIGHT)
    assert datetime.fromtimestamp(start / 1000, ZoneInfo(zone)).hour == 0
    assert datetime.fromtimestamp(end / 1000, ZoneInfo(zone)).hour == 8 and end - start == 7 * H


@pytest.mark.parametrize("cycle, unit, expected", [
    (8, "hour", "shift"), (12, "hour", "shift"), (1, "hour", "shift"), (5, "hour", "rolling"), (36, "hour", "rolling"),
    (30, "hour", "rolling"), (24, "hour", "day"), (48, "hour", "day"), (168, "hour", "week"), (7, "day", "week"),
    (21, "day", "week"), (10, "day", "day"), (1, "week", "week"), (1, "month", "month"),
])
def test_kinds(cycle, unit, expected):
    assert kind(cycle, unit) == expected


@pytest.mark.parametrize("cycle, unit, stored", [(1, "week", (7, "day")), (2, "week", (14, "day")),
                                                 (36, "hour", (36, "hour")), (1, "month", (1, "month"))])
def test_weeks_are_stored_in_the_regulators_units(cycle, unit, stored):
    assert normalize(cycle, unit) == stored


@pytest.mark.parametrize("cycle, unit, ok", [(8784, "hour", True), (8785, "hour", False), (522, "week", True),
                                             (523, "week", False), (0, "day", False), (1, "fortnight", False)])
def test_check_cycle_limits(cycle, unit, ok):
    assert (check_cycle(cycle, unit) is None) == ok


@pytest.mark.parametrize("cycle, unit", [(0, "day"), (1, "fortnight"), (-1, "hour"), (3000, "year"), (1201, "month"),
                                         (1, None)])
def test_bad_cycles(cycle, unit):
    with pytest.raises(ValueError):
        period(cycle, unit, 0, TZ)


@pytest.mark.parametrize("now, expected", [(0, False), (79, False), (80, True), (99, True), (100, False)])
def test_due_soon(now, expected):
    assert due_soon(0, 100, now) == expected
