"""The alarms page's pure rules (issue 15 item 3): the shift an acknowledged alarm is listed under, the
peak of a standing alarm, and the shelve choices the tablet offers."""
from __future__ import annotations

import pytest

from appliance.gas import rules as AR


@pytest.mark.parametrize("now,start,expected", [
    (8 * 60, (8, 0), (480, 1200)),            # the day shift begins at 08:00 sharp
    (7 * 60 + 59, (8, 0), (-240, 480)),       # 07:59: still the night shift that began at 20:00 yesterday
    (19 * 60 + 59, (8, 0), (480, 1200)),
    (20 * 60, (8, 0), (1200, 1920)),          # the night shift runs past midnight into tomorrow
    (0, (8, 0), (-240, 480)),                 # midnight: the night shift of yesterday evening
    (23 * 60 + 59, (8, 0), (1200, 1920)),
    (6 * 60 + 29, (6, 30), (-330, 390)),      # a plant whose shift change is 06:30 ([risk] shift_start)
    (6 * 60 + 30, (6, 30), (390, 1110)),
], ids=["08:00", "07:59", "19:59", "20:00", "00:00", "23:59", "06:29@06:30", "06:30@06:30"])
def test_shift_window_twelve_hour_shifts(now, start, expected):
    assert AR.shift_window(now, start) == expected


def _s(value, shown=1, side="high", condition=None):
    return AR.PointState(condition=shown if condition is None else condition, side=side, shown=shown,
                         shown_side=side, value=value)


@pytest.mark.parametrize("peak,state,expected", [
    (None, _s(30.0), 30.0),                   # the first reading in alarm is the peak
    (30.0, _s(62.0, 2), 62.0),                # higher is worse on the high side
    (62.0, _s(45.0, 2), None),                # falling back is no new peak
    (18.0, _s(17.0, 1, "low"), 17.0),         # GB/T 50493-2019 §5.5.2: 缺氧, lower is worse
    (17.0, _s(18.5, 1, "low"), None),
    (None, _s(2.0, 0), None),                 # in no alarm there is no peak
    (None, _s(None, 1), None),                # no value (a fault)
    (30.0, _s(31.0, 1, condition=0), 31.0),   # latched, unacknowledged: the alarm still stands
], ids=["first", "higher", "lower", "o2-low-lower", "o2-low-higher", "normal", "no-value", "latched"])
def test_new_peak(peak, state, expected):
    assert AR.new_peak(peak, state) == expected


def test_shelve_choices_never_exceed_one_shift():
    # IEC 62682 §11.7: shelving is time-limited; the tablet offers nothing the rules would refuse
    assert AR.SHELVE_CHOICES_MIN and max(AR.SHELVE_CHOICES_MIN) <= AR.MAX_SHELVE_MIN
    assert list(AR.SHELVE_CHOICES_MIN) == sorted(AR.SHELVE_CHOICES_MIN)
