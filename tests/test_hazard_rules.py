"""The hazard closed loop's rules as tables (appliance/hazard_rules.py)."""
from __future__ import annotations

import pytest

from appliance.hazards.rules import (
    TransitionRefused,
    check_actor,
    deadline,
    due_actions,
    is_recurrence,
    missing_plan_fields,
    next_state,
    pick_assignee,
)


@pytest.mark.parametrize("state, action, expected", [
    ("reported", "dispatch", "rectifying"),
    ("rectifying", "rectify", "pending_acceptance"),
    ("pending_acceptance", "accept", "closed"),
    ("pending_acceptance", "reject", "rectifying"),
    ("reported", "accept", None),          # accept an unrectified hazard
    ("rectifying", "accept", None),
    ("closed", "reject", None),
    ("closed", "dispatch", None),
    ("pending_acceptance", "rectify", None),
])
def test_transitions(state, action, expected):
    if expected is None:
        with pytest.raises(TransitionRefused):
            next_state(state, action)
    else:
        assert next_state(state, action) == expected


@pytest.mark.parametrize("action, role, login, assignee, rectifier, ok", [
    ("dispatch", "safety_officer", "zw", None, None, True),
    ("dispatch", "worker", "ly", None, None, False),
    ("rectify", "worker", "ly", "ly", None, True),           # the assignee rectifies whatever their role
    ("rectify", "worker", "other", "ly", None, False),
    ("accept", "supervisor", "wf", "ly", "ly", True),
    ("accept", "supervisor", "wf", "wf", "wf", False),       # no self-acceptance
    ("reject", "safety_officer", "zw", "zw", "zw", False),
    ("accept", "worker", "x", "ly", "ly", False),
    ("accept", "kiosk", "wall", "ly", "ly", False),
])
def test_who_may(action, role, login, assignee, rectifier, ok):
    if ok:
        check_actor(action, role, login, assignee=assignee, rectifier=rectifier)
    else:
        with pytest.raises(TransitionRefused):
            check_actor(action, role, login, assignee=assignee, rectifier=rectifier)


def test_deadline_and_plan():
    assert deadline("general", 0) == 7 * 86_400_000 and deadline("major", 0) == 30 * 86_400_000
    assert missing_plan_fields(None) == ["target", "methods", "funding", "organisation", "schedule", "safety_measures"]
    full = {f: "x" for f in ("target", "methods", "funding", "organisation", "schedule", "safety_measures")}
    assert missing_plan_fields(full) == [] and missing_plan_fields({**full, "funding": " "}) == ["funding"]


DAY = 86_400_000


@pytest.mark.parametrize("earlier, expected", [
    ([], None),
    ([(1, 5, "电气", 100 * DAY - 3 * DAY)], 1),
    ([(1, 5, "电气", 100 * DAY - 31 * DAY)], None),      # too long ago
    ([(1, 6, "电气", 100 * DAY - DAY)], None),            # other area
    ([(1, 5, "消防", 100 * DAY - DAY)], None),            # other category
    ([(1, 5, "电气", 100 * DAY - 9 * DAY), (2, 5, "电气", 100 * DAY - 2 * DAY)], 2),  # the latest
])
def test_recurrence(earlier, expected):
    assert is_recurrence(5, "电气", 100 * DAY, earlier) == expected


@pytest.mark.parametrize("state, deadline_ms, reminded, escalated, now, expected", [
    ("rectifying", 10 * DAY, None, None, 5 * DAY, []),
    ("rectifying", 10 * DAY, None, None, 9 * DAY, ["remind"]),
    ("rectifying", 10 * DAY, 9 * DAY, None, 9 * DAY + 5, []),            # reminded once
    ("rectifying", 10 * DAY, None, None, 10 * DAY + 1, ["remind", "escalate"]),
    ("rectifying", 10 * DAY, 9 * DAY, 10 * DAY + 1, 12 * DAY, []),
    ("pending_acceptance", 10 * DAY, None, None, 12 * DAY, []),          # the rectifier is done: no chasing
    ("closed", 10 * DAY, None, None, 12 * DAY, []),
    ("rectifying", None, None, None, 12 * DAY, []),
])
def test_due_actions(state, deadline_ms, reminded, escalated, now, expected):
    assert due_actions(state, deadline_ms, reminded, escalated, now) == expected


RULES = [(None, "电气", "dian"), (5, None, "area5"), (5, "消防", "xiao5"), (6, "电气", "dian6")]


@pytest.mark.parametrize("area, cat, expected", [
    (5, "消防", "xiao5"),   # area and category
    (5, "电气", "area5"),   # the area's responsible person before the category specialist
    (7, "电气", "dian"),    # the specialist where the area has no one
    (6, "电气", "dian6"),
    (7, "工艺", None),      # nobody: it waits for a person to dispatch it
])
def test_pick_assignee(area, cat, expected):
    assert pick_assignee(area, cat, RULES) == expected


NOW = 1000 * DAY


@pytest.mark.parametrize("hazards, expected", [
    ([], {"reported": 0, "closed": 0, "rectification_rate": None, "on_time_rate": None, "overdue": 0, "recurrences": 0}),
    ([("closed", 10, 9, None), ("closed", 10, 11, None), ("rectifying", NOW - 1, None, 1), ("reported", None, None, None)],
     {"reported": 4, "closed": 2, "rectification_rate": 0.5, "on_time_rate": 0.5, "overdue": 1, "recurrences": 1}),
    ([("closed", 10, 10, None)],                       # accepted on the deadline is on time
     {"reported": 1, "closed": 1, "rectification_rate": 1.0, "on_time_rate": 1.0, "overdue": 0, "recurrences": 0}),
    ([("rectifying", NOW, None, None), ("closed", None, 5, None)],   # due right now is not overdue yet; no deadline is on time
     {"reported": 2, "closed": 1, "rectification_rate": 0.5, "on_time_rate": 1.0, "overdue": 0, "recurrences": 0}),
])
def test_rates(hazards, expected):
    from appliance.hazards.rules import rates

    assert rates(hazards, NOW) == expected
