"""Risk grading tables: LEC and both LS profiles, edge values (appliance/risk_rules.py)."""
from __future__ import annotations

import pytest

from appliance.risk.rules import highest, lec, ls


@pytest.mark.parametrize("l, e, c, d, level", [
    (10, 10, 100, 10000, 1),
    (3, 6, 40, 720, 1),
    (6, 6, 15, 540, 1),
    (1, 6, 40, 240, 2),
    (0.5, 6, 100, 300, 2),      # float factors
    (3, 3, 40, 360, 1),
    (6, 3, 15, 270, 2),
    (1, 6, 15, 90, 3),
    (3, 6, 3, 54, 4),
    (0.1, 0.5, 1, 0.05, 4),
    (1, 10, 7, 70, 3),          # exactly 70: the yellow band starts here
    (0.5, 10, 7, 35, 4),
])
def test_lec_table(l, e, c, d, level):
    assert lec(l, e, c) == (d, level)


@pytest.mark.parametrize("factors, msg", [((10, 2, 16), "C must be"), ((2, 6, 15), "L must be"),
                                          ((1, 4, 15), "E must be")])
def test_lec_refuses_off_scale(factors, msg):
    with pytest.raises(ValueError, match=msg):
        lec(*factors)


def test_lec_boundaries_with_a_profile_that_lands_on_them(monkeypatch):
    from appliance.risk import rules as R

    monkeypatch.setitem(R.LEC_PROFILES, "edge", R.LecProfile(red_above=360, orange_from=240, yellow_from=90))
    assert lec(3, 3, 40, "edge") == (360, 2)   # not above 360
    assert lec(1, 6, 40, "edge") == (240, 2)   # 240 starts orange
    assert lec(1, 6, 15, "edge") == (90, 3)    # 90 starts yellow
    assert lec(3, 6, 3, "edge") == (54, 4)
    with pytest.raises(ValueError, match="unknown LEC profile"):
        lec(1, 1, 1, "nope")


@pytest.mark.parametrize("l, s, a, b", [
    (5, 5, 1, 1), (4, 5, 1, 1), (4, 4, 2, 2), (3, 5, 2, 2), (2, 5, 2, 2),
    (3, 3, 2, 3),   # R = 9: 较大 in profile A, 一般 in profile B
    (2, 4, 3, 3), (2, 2, 3, 3), (1, 4, 3, 3), (1, 3, 4, 4), (1, 1, 4, 4),
])
def test_ls_profiles(l, s, a, b):
    assert ls(l, s, "A") == (l * s, a)
    assert ls(l, s, "B") == (l * s, b)


@pytest.mark.parametrize("l, s, profile, msg", [(0, 3, "A", "L must"), (3, 6, "A", "S must"), (2.5, 2, "A", "L must"),
                                                (2, 2, "C", "unknown LS profile")])
def test_ls_bad_input(l, s, profile, msg):
    with pytest.raises(ValueError, match=msg):
        ls(l, s, profile)


def test_highest():
    assert highest([3, 1, None, 4]) == 1 and highest([None]) is None and highest([]) is None
