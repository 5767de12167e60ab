"""EEMUA 191 alarm-load figures, as tables."""
from __future__ import annotations

import pytest

from appliance.gas.load import chattering, per_10_min

DAY = 86_400_000
NOW = 10 * DAY


@pytest.mark.parametrize("raised, avg, peak", [
    ([], 0.0, 0),
    ([NOW - 1000] * 144, 1.0, 144),                                  # 144 in a day = 1 per 10 min on average
    ([NOW - i * 600_000 - 1 for i in range(144)], 1.0, 1),           # evenly spread
    ([NOW - DAY - 5, NOW + 5], 0.0, 0),                              # outside the window
])
def test_per_10_min(raised, avg, peak):
    assert per_10_min(raised, NOW) == (avg, peak)


@pytest.mark.parametrize("raises, expected", [
    ([("A", 0), ("A", 20_000), ("A", 59_000)], ["A"]),
    ([("A", 0), ("A", 30_000), ("A", 61_000)], []),
    ([("B", 0), ("A", 1), ("B", 2), ("A", 3), ("B", 4)], ["B"]),
    ([("A", 0), ("A", 100_000), ("A", 110_000), ("A", 120_000)], ["A"]),
])
def test_chattering(raises, expected):
    assert chattering(raises) == expected
