"""Which closed rounds go on the shift's review list (issue 15 item 7, `patrol.rules.review_flags`): signs
that nobody was really there or really looking (GB/T 33000-2016 §5.6.3: the check done in person), never
an optional checklist left empty (that is a 未排查 record, RULES.md §B.5, not a suspicion)."""
from __future__ import annotations

import pytest

from appliance.patrol.rules import Answered, Stop, instant, review_flags, skipped

ROUTE = [Stop(1), Stop(2, 120), Stop(3, 60), Stop(4, 60)]


@pytest.mark.parametrize("visited,expected", [
    ((1, 2, 3, 4), ()),
    ((1, 2), ()),              # not finished (yet): 进行中 / 未完成, not a skip
    ((1, 3), (2,)),            # B passed over, C tapped
    ((1, 4), (2, 3)),
    ((2, 3, 4), (1,)),         # the first checkpoint passed over
    ((), ()),
    ((4, 1), (2, 3)),          # out of order too: the ones never tapped before the last position
], ids=["all", "unfinished", "skip-B", "skip-BC", "skip-first", "none", "backwards"])
def test_skipped_checkpoints(visited, expected):
    assert skipped(ROUTE, visited) == expected


@pytest.mark.parametrize("a,expected", [
    (Answered(5, True, 7.4), True),      # 5 items all 正常 in 7.4 s < 5 × 1.5 s: not read
    (Answered(5, True, 7.5), False),     # the edge: 1.5 s an item is possible
    (Answered(5, False, 2.0), False),    # one 异常 among them: someone looked
    (Answered(2, True, 0.5), False),     # two items may be answered at a glance
    (Answered(3, True, 4.4), True),      # the smallest checklist that counts
], ids=["5-in-7.4s", "5-in-7.5s", "mixed", "2-items", "3-in-4.4s"])
def test_instant_answers(a, expected):
    assert instant(a) == expected


@pytest.mark.parametrize("kwargs,expected", [
    ({"walk_flags": ["unanswered"]}, []),                                  # the flood of issue 15: gone
    ({"walk_flags": []}, []),
    ({"walk_flags": ["too_fast", "unanswered"]}, ["too_fast"]),
    ({"walk_flags": ["skipped", "out_of_order"]}, ["out_of_order", "skipped"]),
    ({"walk_flags": [], "plan_people": ["E001"], "tapped_by": ["E002"]}, ["not_in_plan"]),
    ({"walk_flags": [], "plan_people": ["E001"], "tapped_by": ["E001"]}, []),
    ({"walk_flags": [], "plan_people": [], "tapped_by": ["E009"]}, []),    # a plan for anyone
    ({"walk_flags": [], "answered": [Answered(4, True, 3.0)]}, ["instant_answers"]),
    ({"walk_flags": [], "answered": [Answered(4, True, 30.0)]}, []),
    ({"walk_flags": [], "streak": True}, ["all_normal_streak"]),
], ids=["unanswered-only", "clean", "too-fast", "order", "badge-not-in-plan", "badge-in-plan", "open-plan",
        "instant", "read", "streak"])
def test_review_flags(kwargs, expected):
    walk = kwargs.pop("walk_flags")
    assert review_flags(walk, **kwargs) == expected
