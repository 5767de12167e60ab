"""Patrol rules as tables (appliance/patrol_rules.py): round verdicts, suspicion, schedules, station posts."""
from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

import pytest

from appliance.patrol.rules import Schedule, Stop, Visit, evaluate, normal_streak, streak_suspicious, windows
from satellite.protocol import check_station_post, station_signature

S = 1000
MIN = 60 * S
# route A(1) → B(2) needs 120 s → C(3) needs 60 s; window 0 … 30 min, grace 10 min
ROUTE = [Stop(1, 0), Stop(2, 120), Stop(3, 60)]
END, GRACE = 30 * MIN, 10 * MIN


def v(*pairs):
    return [Visit(cp, at) for cp, at in pairs]


@pytest.mark.parametrize("visits, now, status, missed, flags", [
    ([], -1 * MIN, "scheduled", (1, 2, 3), ()),
    ([], 5 * MIN, "open", (1, 2, 3), ()),
    ([], END + GRACE + 1, "missed", (1, 2, 3), ()),
    ([], END + GRACE, "open", (1, 2, 3), ()),                       # grace edge: still open
    (v((1, 1 * MIN)), 2 * MIN, "in_progress", (2, 3), ()),
    (v((1, 1 * MIN), (2, 4 * MIN), (3, 6 * MIN)), 7 * MIN, "completed", (), ()),
    (v((1, 1 * MIN), (2, 4 * MIN), (3, END)), END, "completed", (), ()),            # finished on the edge
    (v((1, 1 * MIN), (2, 4 * MIN), (3, END + 1)), END + 1, "late", (), ()),
    (v((1, 1 * MIN), (2, 4 * MIN)), END + GRACE + 1, "incomplete", (3,), ()),
    # 119 s between A and B where 120 s are needed: too fast (edge)
    (v((1, 0), (2, 119 * S), (3, 300 * S)), 6 * MIN, "completed", (), ("too_fast",)),
    (v((1, 0), (2, 120 * S), (3, 180 * S)), 6 * MIN, "completed", (), ()),          # exactly enough
    # A then C directly: needs B's 120 + C's 60 = 180 s
    # … and B passed over is a skip (issue 15 item 7: a real anomaly)
    (v((1, 0), (3, 170 * S)), 5 * MIN, "in_progress", (2,), ("too_fast", "skipped")),
    (v((1, 0), (3, 180 * S)), 5 * MIN, "in_progress", (2,), ("skipped",)),
    (v((2, 0), (1, 5 * MIN), (3, 10 * MIN)), 11 * MIN, "completed", (), ("out_of_order",)),
    # repeated taps count once; a checkpoint off the route is ignored
    (v((1, 0), (1, 10 * S), (9, 20 * S), (2, 3 * MIN), (3, 5 * MIN)), 6 * MIN, "completed", (), ()),
])
def test_round_verdicts(visits, now, status, missed, flags):
    verdict = evaluate(ROUTE, visits, 0, END, now, GRACE)
    assert verdict.status == status
    assert verdict.missed == missed
    assert verdict.flags == flags
    assert verdict.suspicious == bool(flags)


def test_verdict_details():
    verdict = evaluate(ROUTE, v((1, 0), (2, 60 * S), (3, 90 * S)), 0, END, 2 * MIN, GRACE)
    assert verdict.visited == (1, 2, 3) and verdict.started_at == 0 and verdict.finished_at == 90 * S
    assert [(t.from_checkpoint, t.to_checkpoint, t.seconds, t.min_seconds) for t in verdict.too_fast] == [
        (1, 2, 60.0, 120), (2, 3, 30.0, 60)]
    assert verdict.as_dict()["too_fast"][0] == {"from_checkpoint": 1, "to_checkpoint": 2, "seconds": 60.0,
                                                "min_seconds": 120}


@pytest.mark.parametrize("history, streak, suspicious", [
    ([], 0, False),
    ([True] * 9, 9, False),
    ([True] * 10, 10, True),
    ([True] * 12 + [False], 0, False),
    ([False] + [True] * 10, 10, True),
])
def test_all_normal_streaks(history, streak, suspicious):
    assert normal_streak(history) == streak
    assert streak_suspicious(history) == suspicious
    assert not streak_suspicious(history, threshold=0)


TZ = "Asia/Shanghai"


def ms(y, mo, d, h, mi, tz=TZ):
    return int(datetime(y, mo, d, h, mi, tzinfo=ZoneInfo(tz)).timestamp() * 1000)


@pytest.mark.parametrize("sched, frm, to, expected", [
    # fixed times, one day
    (Schedule(window_min=60, times=("14:00", "08:00")), ms(2026, 11, 30, 0, 0), ms(2026, 12, 1, 0, 0),
     [ms(2026, 11, 30, 8, 0), ms(2026, 11, 30, 14, 0)]),
    # the lower bound is inclusive, the upper exclusive
    (Schedule(window_min=60, times=("08:00",)), ms(2026, 11, 30, 8, 0), ms(2026, 12, 1, 8, 0),
     [ms(2026, 11, 30, 8, 0)]),
    # every 20 min from 08:00 to 09:00
    (Schedule(window_min=15, every_min=20, from_time="08:00", to_time="09:00"), ms(2026, 11, 30, 0, 0),
     ms(2026, 11, 30, 12, 0), [ms(2026, 11, 30, 8, 0), ms(2026, 11, 30, 8, 20), ms(2026, 11, 30, 8, 40)]),
    # weekdays only: 2026-11-28 is a Saturday, 11-30 a Monday
    (Schedule(window_min=60, times=("08:00",), weekdays=(1, 2, 3, 4, 5)), ms(2026, 11, 28, 0, 0),
     ms(2026, 12, 1, 0, 0), [ms(2026, 11, 30, 8, 0)]),
    # a window that started before `from` is not repeated
    (Schedule(window_min=60, times=("23:30",)), ms(2026, 11, 30, 23, 45), ms(2026, 12, 1, 1, 0), []),
])
def test_schedule_windows(sched, frm, to, expected):
    got = windows(sched, frm, to, TZ)
    assert [s for s, _ in got] == expected
    assert all(e - s == sched.window_min * MIN for s, e in got)


def test_schedule_in_local_time():
    # 08:00 in Shanghai is 00:00 UTC
    (start, _), = windows(Schedule(window_min=30, times=("08:00",)), ms(2026, 11, 30, 0, 0), ms(2026, 12, 1, 0, 0), TZ)
    assert start == int(datetime(2026, 11, 30, 0, 0, tzinfo=ZoneInfo("UTC")).timestamp() * 1000)


KEY = b"k" * 32
BODY = b'{"taps":[]}'
SIG = station_signature(KEY, "1000", "abcdef123456", BODY)


@pytest.mark.parametrize("key, ts, nonce, body, sig, now, seen, reason", [
    (KEY, "1000", "abcdef123456", BODY, SIG, 1000, False, None),
    (KEY, "1000", "abcdef123456", BODY, SIG, 1300, False, None),              # 300 s skew is the edge
    (KEY, "1000", "abcdef123456", BODY, SIG, 1301, False, "stale"),
    (KEY, "1000", "abcdef123456", BODY, SIG, 699, False, "stale"),            # station clock ahead
    (None, "1000", "abcdef123456", BODY, SIG, 1000, False, "unknown_station"),
    (b"x" * 32, "1000", "abcdef123456", BODY, SIG, 1000, False, "bad_signature"),   # wrong key
    (KEY, "1000", "abcdef123456", b'{"taps":[1]}', SIG, 1000, False, "bad_signature"),  # body changed
    (KEY, "1001", "abcdef123456", BODY, SIG, 1000, False, "bad_signature"),   # timestamp changed
    (KEY, "1000", "abcdef123456", BODY, "", 1000, False, "bad_signature"),
    (KEY, "1000", "abcdef123456", BODY, SIG, 1000, True, "replayed"),
    (KEY, "soon", "abcdef123456", BODY, SIG, 1000, False, "bad_timestamp"),
    (KEY, "1000", "abc", BODY, SIG, 1000, False, "bad_nonce"),
    (KEY, "1000", "abc def 12345", BODY, SIG, 1000, False, "bad_nonce"),
])
def test_station_posts(key, ts, nonce, body, sig, now, seen, reason):
    assert check_station_post(key, ts, nonce, body, sig, now, seen) == reason


# status_at: a verdict stored at a round's last change, brought to a later time, says what evaluate says then
# (same visits): window [1000, 2000], grace 500. Rows: visits, stored at, read at, status read.
STATUS_AT = [
    ([], 0, 500, "scheduled"),
    ([], 0, 1000, "open"),
    ([], 0, 2500, "open"),            # grace still running: a late visit would count
    ([], 0, 2501, "missed"),
    ([(1, 1100)], 1100, 1500, "in_progress"),
    ([(1, 1100)], 1100, 2501, "incomplete"),
    ([(1, 1100), (2, 1200)], 1200, 9999, "completed"),
    ([(1, 1100), (2, 2100)], 2100, 9999, "late"),
]


@pytest.mark.parametrize("visits,stored_at,read_at,want", STATUS_AT)
def test_status_at_agrees_with_evaluate(visits, stored_at, read_at, want):
    from appliance.patrol.rules import status_at

    stops = [Stop(1), Stop(2)]
    vs = [Visit(cp, at) for cp, at in visits]
    stored = evaluate(stops, vs, 1000, 2000, stored_at, 500).status
    assert status_at(stored, 1000, 2000, read_at, 500) == want == evaluate(stops, vs, 1000, 2000, read_at, 500).status
