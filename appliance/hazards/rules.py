"""The hazard closed loop (隐患排查治理) as data and pure functions: states, who may move a hazard on,
deadlines by grade, recurrence.

States follow the regulators' DANGER_STATE: -1 待确认 (reported), 0 整改中 (rectifying), 1 待验收
(awaiting acceptance), 9 已验收 (closed). Grades per 《安全生产事故隐患排查治理暂行规定》 (SAWS order 16)
Art. 3: 一般事故隐患 (general) and 重大事故隐患 (major); a major hazard needs the treatment plan of Art. 15
before rectification starts. Acceptance by the rectifier is refused: self-acceptance is how records get
faked.
"""
from __future__ import annotations

from typing import Literal

State = Literal["reported", "rectifying", "pending_acceptance", "closed"]
Action = Literal["dispatch", "rectify", "accept", "reject"]
STATE_CODE = {"reported": -1, "rectifying": 0, "pending_acceptance": 1, "closed": 9}

TRANSITIONS: dict[tuple[str, str], str] = {
    ("reported", "dispatch"): "rectifying",
    ("rectifying", "rectify"): "pending_acceptance",
    ("pending_acceptance", "accept"): "closed",
    ("pending_acceptance", "reject"): "rectifying",
}

# roles that may take each action (the assignee may also rectify whatever their role)
ACTION_ROLES = {
    "dispatch": {"admin", "safety_officer", "supervisor"},
    "rectify": {"admin", "safety_officer", "supervisor"},
    "accept": {"admin", "safety_officer", "supervisor"},
    "reject": {"admin", "safety_officer", "supervisor"},
}

# days to rectify by grade; a site may set its own (the order leaves it to the enterprise's plan)
DEADLINE_DAYS = {"general": 7, "major": 30}

# SAWS order 16 Art. 15: what a major hazard's treatment plan must contain
MAJOR_PLAN_FIELDS = ("target", "methods", "funding", "organisation", "schedule", "safety_measures")

RECURRENCE_DAYS = 30


class TransitionRefused(ValueError):
    """The action is not allowed for this hazard, in this state, by this person."""

    def __init__(self, zh: str, en: str, who: bool = False):
        super().__init__(en)
        self.zh, self.en = zh, en
        self.who = who  # True: this person may not; False: not in this state


# A major hazard (SAWS order 16 Art. 18) is not accepted like a general one: once rectified, the safety
# office records the evaluation (评估): a pass keeps it awaiting the principal's sign-off, a fail sends it
# back to rectification; the principal's sign-off (主要负责人签字) closes it.
MAJOR_TRANSITIONS: dict[tuple[str, str], str] = {
    ("reported", "dispatch"): "rectifying",
    ("rectifying", "rectify"): "pending_acceptance",
    ("pending_acceptance", "evaluate"): "pending_acceptance",
    ("pending_acceptance", "evaluate_fail"): "rectifying",
    ("pending_acceptance", "sign_off"): "closed",
    ("pending_acceptance", "reject"): "rectifying",
}


def next_state(state: str, action: str, grade: str = "general") -> str:
    """The state after `action` on a hazard of `grade` in `state`; TransitionRefused if not allowed."""
    table = MAJOR_TRANSITIONS if grade == "major" else TRANSITIONS
    try:
        return table[(state, action)]
    except KeyError:
        if grade == "major" and action == "accept":
            raise TransitionRefused("重大事故隐患须经治理评估并由主要负责人签字验收（16号令第十八条）",
                                    "a major hazard is accepted by the evaluation and the principal's sign-off "
                                    "(SAWS order 16 Art. 18), not by a plain acceptance") from None
        if grade != "major" and action in ("evaluate", "evaluate_fail", "sign_off"):
            raise TransitionRefused("一般隐患无需评估和主要负责人签字，直接验收",
                                    "a general hazard needs no evaluation or sign-off: accept it") from None
        raise TransitionRefused(f"状态为“{state}”的隐患不能执行“{action}”",
                                f"a hazard in state {state!r} cannot be {action}ed") from None


def check_actor(action: str, role: str, login: str, *, assignee: str | None, rectifier: str | None) -> None:
    """Raise TransitionRefused unless `login` with `role` may take `action` on this hazard."""
    if action == "rectify" and login == assignee:
        return
    if role not in ACTION_ROLES[action]:
        raise TransitionRefused(f"角色 {role} 不能执行此操作", f"role {role} may not {action} a hazard", who=True)
    if action in ("accept", "reject") and login == rectifier:
        raise TransitionRefused("整改人不能验收自己的整改（禁止自验收）",
                                "the rectifier may not accept their own rectification", who=True)


def deadline(grade: str, reported_at: int, days: dict[str, int] = DEADLINE_DAYS) -> int:
    return reported_at + days[grade] * 86_400_000


def missing_plan_fields(plan: dict | None) -> list[str]:
    plan = plan or {}
    return [f for f in MAJOR_PLAN_FIELDS if not str(plan.get(f, "")).strip()]


def is_recurrence(area_id: int, category: str, reported_at: int, earlier: list[tuple[int, int, str, int]],
                  days: int = RECURRENCE_DAYS) -> int | None:
    """The id of the latest earlier hazard (id, area_id, category, reported_at) in the same area and
    category within `days` before `reported_at`, else None."""
    since = reported_at - days * 86_400_000
    hits = [(t, hid) for hid, a, c, t in earlier if a == area_id and c == category and since <= t <= reported_at]
    return max(hits)[1] if hits else None


# A hazard reported twice is closed as a duplicate of the other report (issue 15 item 2). Only one still
# 待确认 (nobody has been sent to fix it yet) may be: once dispatched, its rectification is its own record.
DUPLICATE_DAYS = 3       # the picker offers hazards reported within this many days either side
DUPLICATE_CHOICES = 8    # a short list: the tablet shows at most this many
DUPLICATE_ROLES = {"admin", "safety_officer", "supervisor"}


def duplicate_candidates(hazard: tuple[int, int, str, int], others: list[tuple[int, int, str, int, int | None]],
                         days: int = DUPLICATE_DAYS, limit: int = DUPLICATE_CHOICES) -> list[int]:
    """The ids of the likely originals of `hazard` (id, area_id, category, reported_at) among `others`
    (id, area_id, category, reported_at, duplicate_of), open or closed: same area, same category, reported
    within `days` either side, not itself and not itself a duplicate (the original is the one kept);
    nearest in time first, the earlier on a tie, at most `limit`."""
    hid, area, category, t = hazard
    span = days * 86_400_000
    hits = [(abs(ot - t), ot, oid) for oid, oa, oc, ot, dup in others
            if oid != hid and dup is None and oa == area and oc == category and abs(ot - t) <= span]
    return [oid for _, _, oid in sorted(hits)[:limit]]


def check_duplicate(role: str, state: str, duplicate_of: int | None, hazard_id: int, original_id: int,
                    original_duplicate_of: int | None) -> None:
    """Raise TransitionRefused unless a hazard in `state` may be closed by `role` as a duplicate of
    `original_id` (itself not a duplicate, so chains do not form)."""
    if role not in DUPLICATE_ROLES:
        raise TransitionRefused(f"角色 {role} 不能将隐患标记为重复", f"role {role} may not mark a hazard as a duplicate",
                                who=True)
    if duplicate_of is not None:
        raise TransitionRefused(f"此隐患已标记为 #{duplicate_of} 的重复", f"this hazard is already a duplicate of #{duplicate_of}")
    if state != "reported":
        raise TransitionRefused("只有待确认（尚未派发）的隐患可以标记为重复",
                                "only a hazard still reported (not dispatched) can be marked as a duplicate")
    if original_id == hazard_id:
        raise TransitionRefused("隐患不能是自己的重复", "a hazard cannot be a duplicate of itself")
    if original_duplicate_of is not None:
        raise TransitionRefused(f"#{original_id} 本身是 #{original_duplicate_of} 的重复，请选原隐患",
                                f"#{original_id} is itself a duplicate of #{original_duplicate_of}: pick the original")



# A duplicate closed by mistake (two hazards side by side that only looked alike) is reopened: "撤销重复",
# by the same roles, with the reason. Only a 待确认 hazard was ever closed as a duplicate, so it returns to
# 待确认 and is dispatched from there like any other; it counts in the figures again.
UNDONE_DUPLICATE_STATE = "reported"


def check_undo_duplicate(role: str, duplicate_of: int | None) -> str:
    """The state a hazard closed as a duplicate returns to when `role` reopens it; TransitionRefused unless
    it is a duplicate and the role may decide duplicates."""
    if role not in DUPLICATE_ROLES:
        raise TransitionRefused(f"角色 {role} 不能撤销重复", f"role {role} may not undo a duplicate", who=True)
    if duplicate_of is None:
        raise TransitionRefused("此隐患没有标记为重复", "this hazard is not closed as a duplicate")
    return UNDONE_DUPLICATE_STATE

REMIND_BEFORE_MS = 86_400_000  # a day before the deadline


def due_actions(state: str, deadline_ms: int | None, reminded_at: int | None, escalated_at: int | None, now: int,
                remind_before_ms: int = REMIND_BEFORE_MS) -> list[str]:
    """What the deadline calls for now, at most once each: "remind" (the deadline is near) and
    "escalate" (it has passed: to the safety officer)."""
    if state not in ("rectifying",) or deadline_ms is None:
        return []
    out = []
    if reminded_at is None and now >= deadline_ms - remind_before_ms:
        out.append("remind")
    if escalated_at is None and now > deadline_ms:
        out.append("escalate")
    return out


def pick_assignee(area_id: int, category: str, rules: list[tuple[int | None, str | None, str]]) -> str | None:
    """The assignee of the most specific rule (area_id, category, assignee) matching a new hazard: area and
    category, then area alone (the area's responsible person), then category alone (the specialist)."""
    for want_area, want_cat in ((area_id, category), (area_id, None), (None, category)):
        for a, c, who in rules:
            if a == want_area and c == want_cat:
                return who
    return None


def rates(hazards: list[tuple[str, int | None, int | None, int | None]], now: int) -> dict:
    """The hazard figures the cockpit and the compliance reports show, over hazards reported in a period.
    A duplicate report (`duplicate_of`) is not a hazard of its own: the callers leave it out of `hazards`.

    Each hazard is (state, deadline, accepted_at, recurrence_of). 整改率 (rectification rate) = closed /
    reported; 按期整改率 (on-time rate) = closed by their deadline / closed; overdue = not closed and past the
    deadline now; recurrences = hazards linked to an earlier one of the same area and category. A rate with
    nothing to divide is None, not 0 or 100 %."""
    total = len(hazards)
    closed = [h for h in hazards if h[0] == "closed"]
    on_time = [h for h in closed if h[1] is None or (h[2] is not None and h[2] <= h[1])]
    overdue = sum(1 for h in hazards if h[0] != "closed" and h[1] is not None and h[1] < now)
    return {"reported": total, "closed": len(closed),
            "rectification_rate": round(len(closed) / total, 3) if total else None,
            "on_time_rate": round(len(on_time) / len(closed), 3) if closed else None,
            "overdue": overdue, "recurrences": sum(1 for h in hazards if h[3] is not None)}
