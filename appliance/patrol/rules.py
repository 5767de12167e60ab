"""Patrol rules as pure functions over plain values: when rounds are due, how a round is judged, which
rounds look faked, and how a satellite station's post is authenticated. Persistence is `patrol`.

A round is judged from its route (ordered checkpoints with the least walking time from the one before)
and the first visit to each checkpoint. The outcomes and flags follow what plants check under the dual
prevention mechanism (双重预防机制, 隐患排查): a check that was not done in its window is 未排查, and an
inspector who "walks" between checkpoints faster than walking allows, or taps them out of order, or
reports everything 正常 round after round, was probably not looking — the round is shown for review.
"""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

MINUTE_MS = 60_000

# Round statuses. Final ones are set when the window (plus grace) is over.
SCHEDULED, OPEN, IN_PROGRESS = "scheduled", "open", "in_progress"
COMPLETED, LATE, INCOMPLETE, MISSED = "completed", "late", "incomplete", "missed"
FINAL = frozenset({COMPLETED, LATE, INCOMPLETE, MISSED})
# The wall board's four buckets (done / in progress / late / missed).
BUCKET = {SCHEDULED: "pending", OPEN: "pending", IN_PROGRESS: "in_progress", COMPLETED: "done",
          LATE: "late", INCOMPLETE: "missed", MISSED: "missed"}

# 排查记录 status codes the regulators use (RULES.md §B.5, CHECK_STATUS): 0 正常 / 1 存在隐患 / 2 未排查 / 3 其他.
CHECK_NORMAL, CHECK_HAZARD, CHECK_NOT_DONE, CHECK_OTHER = 0, 1, 2, 3

# Suspicion thresholds: defaults a safety officer would accept; the plan can override them.
DEFAULT_STREAK = 10          # this many all-正常 rounds in a row on one route is worth a look


@dataclass(frozen=True)
class Stop:
    checkpoint_id: int
    min_walk_s: int = 0      # least walking time from the previous stop of the route


@dataclass(frozen=True)
class Visit:
    checkpoint_id: int
    at_ms: int


@dataclass(frozen=True)
class TooFast:
    from_checkpoint: int
    to_checkpoint: int
    seconds: float
    min_seconds: int


@dataclass(frozen=True)
class Verdict:
    status: str
    visited: tuple[int, ...]            # checkpoints in the order they were first visited
    missed: tuple[int, ...]             # route checkpoints not visited (so far, or finally)
    out_of_order: bool
    too_fast: tuple[TooFast, ...]
    started_at: int | None
    finished_at: int | None
    flags: tuple[str, ...] = field(default=())

    @property
    def suspicious(self) -> bool:
        return bool(self.flags)

    def as_dict(self) -> dict:
        return {"status": self.status, "visited": list(self.visited), "missed": list(self.missed),
                "out_of_order": self.out_of_order,
                "too_fast": [tf.__dict__ for tf in self.too_fast], "started_at": self.started_at,
                "finished_at": self.finished_at, "flags": list(self.flags)}


def evaluate(stops: list[Stop], visits: list[Visit], start_ms: int, end_ms: int, now_ms: int,
             grace_ms: int = 0) -> Verdict:
    """Judge a round at `now_ms`. Only the first visit to each route checkpoint counts; visits to
    checkpoints not on the route are ignored. The window is [start, end]; visits until end + grace are
    still accepted but make the round late."""
    order = {s.checkpoint_id: i for i, s in enumerate(stops)}
    first: dict[int, int] = {}
    for v in sorted(visits, key=lambda v: v.at_ms):
        if v.checkpoint_id in order and v.checkpoint_id not in first:
            first[v.checkpoint_id] = v.at_ms
    seq = sorted(first.items(), key=lambda kv: (kv[1], order[kv[0]]))
    visited = tuple(cp for cp, _ in seq)
    missed = tuple(s.checkpoint_id for s in stops if s.checkpoint_id not in first)
    positions = [order[cp] for cp in visited]
    out_of_order = any(b < a for a, b in zip(positions, positions[1:], strict=False))
    too_fast = []
    for (cp_a, t_a), (cp_b, t_b) in zip(seq, seq[1:], strict=False):
        i, j = order[cp_a], order[cp_b]
        if j <= i:
            continue  # out of order already; the walking time between them is not known
        need = sum(stops[k].min_walk_s for k in range(i + 1, j + 1))
        took = (t_b - t_a) / 1000
        if need and took < need:
            too_fast.append(TooFast(cp_a, cp_b, round(took, 1), need))
    started = seq[0][1] if seq else None
    finished = seq[-1][1] if seq and not missed else None
    closed = now_ms > end_ms + grace_ms
    if not seq:
        status = MISSED if closed else (SCHEDULED if now_ms < start_ms else OPEN)
    elif not missed:
        assert finished is not None   # set whenever seq is non-empty and nothing was missed
        status = COMPLETED if finished <= end_ms else LATE
    else:
        status = INCOMPLETE if closed else IN_PROGRESS
    flags = []
    if too_fast:
        flags.append("too_fast")
    if out_of_order:
        flags.append("out_of_order")
    if skipped(stops, visited):
        flags.append("skipped")
    return Verdict(status, visited, missed, out_of_order, tuple(too_fast), started, finished, tuple(flags))


def skipped(stops: list[Stop], visited: tuple[int, ...]) -> tuple[int, ...]:
    """Route checkpoints passed over: not visited although a later one on the route was (a round simply
    not finished yet, or given up at the end, is 未完成 — its status says so — not a skip)."""
    order = {s.checkpoint_id: i for i, s in enumerate(stops)}
    last = max((order[cp] for cp in visited if cp in order), default=0)
    seen = set(visited)
    return tuple(s.checkpoint_id for s in stops[:last] if s.checkpoint_id not in seen)


# ---------------------------------------------------------------- which rounds the shift must review
#
# Issue 15 item 7: flagging every round whose checklist was left empty put ≈ 145 rounds a day on the review
# list and buried the real anomalies. A checkpoint visited without its checklist answered still gets its
# 未排查 record (RULES.md §B.5 CHECK_STATUS 2: the regulator sees it), but it is no reason to suspect the
# walk itself. Suspicious are only signs that nobody was really there or really looking (GB/T 33000-2016
# §5.6.3 隐患排查: the check must be done in person, at the place):
REVIEW_FLAGS = ("too_fast",          # from one checkpoint to the next faster than the walk between them
                "out_of_order",      # checkpoints tapped against the route's order
                "skipped",           # a checkpoint passed over while later ones were tapped
                "not_in_plan",       # a tap by a badge of someone the plan does not name
                "instant_answers",   # a checklist answered all alike faster than it can be read
                "all_normal_streak")  # round after round everything 正常 (the plan's streak_limit)
# reading one checklist item and tapping its answer takes at least this long; a checklist of at least
# INSTANT_MIN_ITEMS answered all alike faster than that was not read
MIN_S_PER_ITEM = 1.5
INSTANT_MIN_ITEMS = 3


@dataclass(frozen=True)
class Answered:
    """One checkpoint's answered checklist: how many items, whether every answer was the same, and the
    seconds from the badge tap to the answers being sent."""
    items: int
    identical: bool
    seconds: float


def instant(a: Answered) -> bool:
    return a.items >= INSTANT_MIN_ITEMS and a.identical and a.seconds < a.items * MIN_S_PER_ITEM


def review_flags(walk_flags: Sequence[str], *, answered: Sequence[Answered] = (), plan_people: Sequence[str] = (),
                 tapped_by: Sequence[str] = (), streak: bool = False) -> list[str]:
    """The reasons to put a closed round on the review list, in `REVIEW_FLAGS` order: the walk's own
    (`evaluate`: too fast, out of order, skipped), a badge the plan does not name (`plan_people` empty:
    anyone may walk it), a checklist answered in impossible time, an all-正常 streak. Anything else in
    `walk_flags` (an old round's "unanswered") is dropped."""
    found = set(walk_flags)
    if plan_people and any(p not in plan_people for p in tapped_by):
        found.add("not_in_plan")
    if any(instant(a) for a in answered):
        found.add("instant_answers")
    if streak:
        found.add("all_normal_streak")
    return [f for f in REVIEW_FLAGS if f in found]


def status_at(status: str, start_ms: int, end_ms: int, now_ms: int, grace_ms: int = 0) -> str:
    """The status of an open round whose verdict was `status` at its last change (a tap), at `now_ms`: with
    the same visits, only the passing of time moves it (as `evaluate` would judge it now)."""
    closed = now_ms > end_ms + grace_ms
    if status in (SCHEDULED, OPEN):
        return MISSED if closed else (SCHEDULED if now_ms < start_ms else OPEN)
    if status == IN_PROGRESS and closed:
        return INCOMPLETE
    return status


def normal_streak(history: list[bool]) -> int:
    """Length of the run of all-正常 rounds at the end of `history` (oldest first; True = every answer
    正常)."""
    n = 0
    for all_normal in reversed(history):
        if not all_normal:
            break
        n += 1
    return n


def streak_suspicious(history: list[bool], threshold: int = DEFAULT_STREAK) -> bool:
    return threshold > 0 and normal_streak(history) >= threshold


# ---------------------------------------------------------------- schedule

@dataclass(frozen=True)
class Schedule:
    """When a plan's rounds are due, in the plant's local time.

    Either fixed `times` ("08:00", "14:00") or every `every_min` minutes between `from_time` and
    `to_time`; on `weekdays` (1 = Monday … 7 = Sunday); each round open for `window_min` minutes.
    """
    window_min: int
    times: tuple[str, ...] = ()
    every_min: int | None = None
    from_time: str = "00:00"
    to_time: str = "24:00"
    weekdays: tuple[int, ...] = (1, 2, 3, 4, 5, 6, 7)


def _hm(s: str) -> timedelta:
    h, m = s.split(":")
    return timedelta(hours=int(h), minutes=int(m))


def windows(sched: Schedule, from_ms: int, to_ms: int, tz: str) -> list[tuple[int, int]]:
    """Every (start_ms, end_ms) window of `sched` whose start lies in [from_ms, to_ms)."""
    zone = ZoneInfo(tz)
    out = []
    day = datetime.fromtimestamp(from_ms / 1000, zone).date() - timedelta(days=1)
    last = datetime.fromtimestamp(to_ms / 1000, zone).date()
    while day <= last:
        if day.isoweekday() in sched.weekdays:
            midnight = datetime.combine(day, time(0), zone)
            if sched.every_min:
                offsets = []
                t, stop = _hm(sched.from_time), _hm(sched.to_time)
                while t < stop:
                    offsets.append(t)
                    t += timedelta(minutes=sched.every_min)
            else:
                offsets = sorted(_hm(x) for x in sched.times)
            for off in offsets:
                # wall-clock time on that day; across a DST change zoneinfo picks the first occurrence
                local = (midnight.replace(tzinfo=None) + off).replace(tzinfo=zone)
                start = int(local.astimezone(UTC).timestamp() * 1000)
                if from_ms <= start < to_ms:
                    out.append((start, start + sched.window_min * MINUTE_MS))
        day += timedelta(days=1)
    return out
