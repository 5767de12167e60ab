"""Issue 15 item 6: repeated PPE violations of one scene are one card (`vision.rules.group_violations`):
same camera, zone and class, each at most 10 minutes after the last one of its group."""
from __future__ import annotations

import pytest

from appliance.vision.rules import GROUP_WINDOW_MS, Occurrence, group_violations

MIN = 60_000


def occ(i, at_min, camera="cam-dock", zone="dock", label="no_hardhat"):
    return Occurrence(i, camera, zone, int(at_min * MIN), label)


@pytest.mark.parametrize("items,expected", [
    # one a minute for 58 minutes from one scene (the flood of the issue): one group of 58
    ([occ(i, i) for i in range(58)], [list(range(58))]),
    # exactly 10 min apart still joins; 10 min and a millisecond starts a new group
    ([occ(1, 0), occ(2, 10)], [[1, 2]]),
    ([occ(1, 0), Occurrence(2, "cam-dock", "dock", GROUP_WINDOW_MS + 1)], [[2], [1]]),
    # the window runs from the LAST one of the group, not the first (a scene that keeps going)
    ([occ(1, 0), occ(2, 9), occ(3, 18), occ(4, 27)], [[1, 2, 3, 4]]),
    # another camera, another zone or another class is another scene
    ([occ(1, 0), occ(2, 1, camera="cam-gate")], [[2], [1]]),
    ([occ(1, 0), occ(2, 1, zone="ladder")], [[2], [1]]),
    ([occ(1, 0), occ(2, 1, label="no_vest")], [[2], [1]]),
    # interleaved scenes each keep their own group; out-of-order input is sorted by time
    ([occ(4, 3, camera="cam-gate"), occ(1, 0), occ(3, 2), occ(2, 1, camera="cam-gate")], [[2, 4], [1, 3]]),
    ([], []),
], ids=["58-in-an-hour", "10min-edge", "10min+1ms", "rolling", "camera", "zone", "class", "interleaved", "none"])
def test_group_violations(items, expected):
    groups = group_violations(items)
    assert [g.ids for g in groups] == expected      # newest group first, ids oldest first
    for g in groups:
        assert g.count == len(g.ids) and g.latest == g.ids[-1] and g.first_ms <= g.last_ms
