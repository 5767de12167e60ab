"""Control-task periods and reminders as tables (appliance/task_rules.py)."""
from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

import pytest

from appliance.risk.task_rules import due_soon, period

TZ = "Asia/Shanghai"


def ms(y, mo, d, h=0, mi=0):
    return int(datetime(y, mo, d, h, mi, tzinfo=ZoneInfo(TZ)).timestamp() * 1000)


@pytest.mark.parametrize("cycle, unit, at, start, end", [
    (1, "hour", ms(2026, 11, 30, 9, 59), ms(2026, 11, 30, 9), ms(2026, 11, 30, 10)),
    (8, "hour", ms(2026, 11, 30, 9, 0), ms(2026, 11, 30, 8), ms(2026, 11, 30, 16)),
    (8, "hour", ms(2026, 11, 30, 7, 59), ms(2026, 11, 30, 0), ms(2026, 11, 30, 8)),
    (5, "hour", ms(2026, 11, 30, 22, 0), ms(2026, 11, 30, 20), ms(2026, 12, 1, 0)),     # the last slot ends at midnight
    (48, "hour", ms(2026, 11, 30, 12, 0), ms(2026, 11, 29), ms(2026, 12, 1)),          # whole days
    (1, "day", ms(2026, 11, 30, 23, 59), ms(2026, 11, 30), ms(2026, 12, 1)),
    (1, "day", ms(2026, 12, 1, 0, 0), ms(2026, 12, 1), ms(2026, 12, 2)),                # the end is exclusive
    (7, "day", ms(2026, 11, 30, 12), ms(2026, 11, 26), ms(2026, 12, 3)),               # 7-day blocks from 1970-01-01
    (1, "month", ms(2026, 11, 30, 12), ms(2026, 11, 1), ms(2026, 12, 1)),
    (1, "month", ms(2026, 12, 31, 23), ms(2026, 12, 1), ms(2027, 1, 1)),
    (3, "month", ms(2026, 11, 30), ms(2026, 10, 1), ms(2027, 1, 1)),                   # quarters
    (6, "month", ms(2026, 3, 1), ms(2026, 1, 1), ms(2026, 7, 1)),
    (1, "year", ms(2026, 11, 30), ms(2026, 1, 1), ms(2027, 1, 1)),
    (2, "year", ms(2027, 6, 1), ms(2026, 1, 1), ms(2028, 1, 1)),
    (100, "year", ms(2027, 6, 1), ms(2000, 1, 1), ms(2100, 1, 1)),
])
def test_periods(cycle, unit, at, start, end):
    assert period(cycle, unit, at, TZ) == (start, end)


@pytest.mark.parametrize("cycle, unit", [(0, "day"), (1, "week"), (-1, "hour"), (3000, "year"), (1201, "month")])
def test_bad_cycles(cycle, unit):
    with pytest.raises(ValueError):
        period(cycle, unit, 0, TZ)


@pytest.mark.parametrize("now, expected", [(0, False), (79, False), (80, True), (99, True), (100, False)])
def test_due_soon(now, expected):
    assert due_soon(0, 100, now) == expected
