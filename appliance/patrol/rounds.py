"""Rounds: scheduled a day ahead from each plan, judged once when their window and grace are over (the verdict
stored on the round, where every view reads it), and the day's rounds for the board.
"""
from __future__ import annotations

import json
import logging
from datetime import datetime, timedelta
from typing import cast
from zoneinfo import ZoneInfo

import peewee

from appliance.core import events
from appliance.core.db import database
from appliance.core.people import Person, site_timezone
from appliance.patrol import rules as PR
from appliance.patrol.models import Checkpoint, CheckRecord, PatrolTap, Plan, Round, Route, RouteStop, stops_of
from appliance.patrol.plans import ScheduleIn

log = logging.getLogger(__name__)


HORIZON_MS = 24 * 3600 * 1000          # rounds are scheduled this far ahead


BACKFILL_MS = 24 * 3600 * 1000         # rounds missed while the appliance was off are made this far back


def _visits(round_id: int) -> list[PatrolTap]:
    return list(PatrolTap.select().where((PatrolTap.round_id == round_id) & (PatrolTap.outcome == "ok"))
                .order_by(PatrolTap.at))


def verdict_of(r: Round, now: int, stops: list[RouteStop] | None = None) -> PR.Verdict:
    stops = stops_of(r.route_id) if stops is None else stops
    # a round not yet due has no visits (a tap counts only from the window's start): no query for them
    # an "ok" tap always names its checkpoint
    visits = [] if now < r.due_start else [PR.Visit(cast(int, t.checkpoint_id), t.at) for t in _visits(r.id)]
    return PR.evaluate([PR.Stop(s.checkpoint_id, s.min_walk_s) for s in stops], visits, r.due_start, r.due_end,
                       now, r.grace_ms)


class _Lookup:
    """Routes, their stops and people's names, read once for a list of rounds (a day holds up to a
    hundred and more; the board asks on every patrol event)."""

    def __init__(self) -> None:
        self.routes: dict[int, Route | None] = {}
        self.stops: dict[int, list[RouteStop]] = {}
        self.names: dict[int | None, str | None] = {}

    def route(self, rid: int) -> Route | None:
        if rid not in self.routes:
            self.routes[rid] = Route.get_or_none(Route.id == rid)
        return self.routes[rid]

    def stops_of(self, rid: int) -> list[RouteStop]:
        if rid not in self.stops:
            self.stops[rid] = stops_of(rid)
        return self.stops[rid]

    def name(self, pid: int | None) -> str | None:
        if pid not in self.names:
            self.names[pid] = _person_name(pid)
        return self.names[pid]


def stored_verdict(r: Round, now: int, stops: list[RouteStop]) -> dict:
    """The round's verdict as stored at its last change (its close, or the last tap that counted for it),
    brought to `now`: an open round's status moves with time alone (`rules.status_at`). A round nobody has
    tapped for yet has no stored verdict: it has visited nothing and misses every stop."""
    stored = json.loads(r.verdict or "{}")
    if not stored:
        return PR.evaluate([PR.Stop(s.checkpoint_id, s.min_walk_s) for s in stops], [], r.due_start, r.due_end,
                           now, r.grace_ms).as_dict()
    if not r.closed:
        stored["status"] = PR.status_at(stored["status"], r.due_start, r.due_end, now, r.grace_ms)
    return stored


def round_dict(r: Round, now: int | None = None, detail: bool = False, look: _Lookup | None = None) -> dict:
    """A round with its verdict as stored at its last change (`stored_verdict`); nothing is judged here."""
    now = events.now_ms() if now is None else now
    look = look or _Lookup()
    verdict = stored_verdict(r, now, look.stops_of(r.route_id))
    route = look.route(r.route_id)
    total = len(look.stops_of(r.route_id))
    out = {"id": r.id, "plan_id": r.plan_id, "route_id": r.route_id, "route": route.name if route else "",
           "route_en": route.name_en if route else "", "due_start": r.due_start, "due_end": r.due_end,
           "grace_ms": r.grace_ms, "status": verdict["status"], "bucket": PR.BUCKET[verdict["status"]],
           "visited": len(verdict["visited"]), "total": total, "missed": verdict["missed"], "flags": verdict["flags"],
           "suspicious": bool(r.suspicious) or bool(verdict["flags"]), "person_id": r.person_id,
           "person": look.name(r.person_id), "closed": bool(r.closed), "reviewed_by": r.reviewed_by,
           "review_note": r.review_note}
    if detail:
        out["verdict"] = verdict
        cps = {c.id: c for c in Checkpoint.select()}
        out["stops"] = [{"checkpoint_id": s.checkpoint_id, "checkpoint": cps[s.checkpoint_id].name,
                         "checkpoint_en": cps[s.checkpoint_id].name_en, "min_walk_s": s.min_walk_s}
                        for s in stops_of(r.route_id)]
        out["taps"] = [tap_dict(t) for t in PatrolTap.select().where(PatrolTap.round_id == r.id).order_by(PatrolTap.at)]
        out["checks"] = [check_dict(c) for c in CheckRecord.select().where(CheckRecord.round_id == r.id)
                         .order_by(CheckRecord.id)]
    return out


def _person_name(person_id: int | None) -> str | None:
    if person_id is None:
        return None
    p = Person.get_or_none(Person.id == person_id)
    return p.name if p else None


def tap_dict(t: PatrolTap) -> dict:
    return {"id": t.id, "reader": t.reader, "uid": t.uid, "at": t.at, "outcome": t.outcome, "person_id": t.person_id,
            "person": _person_name(t.person_id), "checkpoint_id": t.checkpoint_id, "round_id": t.round_id,
            "station": t.station, "answered": bool(t.answered)}


def check_dict(c: CheckRecord) -> dict:
    return {"id": c.id, "tap_id": c.tap_id, "round_id": c.round_id, "checkpoint_id": c.checkpoint_id,
            "person_id": c.person_id, "status": c.status, "answers": json.loads(c.answers), "note": c.note,
            "hazard_ids": json.loads(c.hazard_ids), "checked_at": c.checked_at, "measure_id": c.measure_id}


_site_tz = site_timezone


def schedule_rounds(now: int | None = None, horizon_ms: int = HORIZON_MS) -> int:
    """Create the rounds of every active plan due from now until `horizon_ms` ahead (idempotent)."""
    now = events.now_ms() if now is None else now
    tz = _site_tz()
    made = 0
    with events.recording("system") as rec:
        for p in Plan.select().where(Plan.active):
            sched = ScheduleIn.model_validate(json.loads(p.schedule)).rule()
            latest = Round.select(peewee.fn.MAX(Round.due_start)).where(Round.plan_id == p.id).scalar()
            if latest is None:   # a new plan starts with the round open now
                start_from = now - sched.window_min * PR.MINUTE_MS
            else:
                # after the appliance was off, the rounds it slept through are made too (and judged missed
                # unless a station relays their taps), back to BACKFILL_MS and never before the plan's last change
                start_from = max(latest + 1, now - BACKFILL_MS, p.updated_at)
            wins = PR.windows(sched, start_from, now + horizon_ms, tz)
            if not wins:
                continue
            rows = [{"plan_id": p.id, "route_id": p.route_id, "due_start": s, "due_end": e,
                     "grace_ms": p.grace_min * PR.MINUTE_MS, "status": PR.SCHEDULED, "verdict": "{}",
                     "suspicious": False, "closed": False, "updated_at": now} for s, e in wins]
            Round.insert_many(rows).on_conflict_ignore().execute()
            made += len(rows)
            rec.emit("patrol.rounds_scheduled", entity=("plan", p.id),
                     payload={"plan_id": p.id, "plan": p.name, "count": len(rows), "first": wins[0][0],
                              "last": wins[-1][0]})
    return made


def _all_normal(round_id: int) -> bool:
    statuses = [c.status for c in CheckRecord.select(CheckRecord.status).where(CheckRecord.round_id == round_id)]
    return bool(statuses) and all(s == PR.CHECK_NORMAL for s in statuses)


def _answered(round_id: int) -> list[PR.Answered]:
    """Each answered checklist of the round: items, all alike or not, seconds from the tap to the answers
    (the per-measure records of the same answers aside)."""
    rows = database.execute_sql(
        "SELECT c.answers, c.checked_at - t.at FROM check_records c JOIN patrol_taps t ON t.id = c.tap_id "
        "WHERE c.round_id = ? AND c.measure_id IS NULL", (round_id,)).fetchall()
    out = []
    for answers, ms in rows:
        a = json.loads(answers or "{}")
        if a:
            out.append(PR.Answered(len(a), len(set(a.values())) == 1, (ms or 0) / 1000))
    return out


def judge(r: Round, now: int, rec, *, event: str) -> PR.Verdict:
    """Final verdict of a round over (inside the caller's recording): status, 未排查 records for what was
    not visited and for visited checkpoints whose checklist was never answered, the suspicion flags."""
    v = verdict_of(r, max(now, r.due_end + r.grace_ms + 1))
    flags = list(v.flags)
    CheckRecord.delete().where((CheckRecord.round_id == r.id) & (CheckRecord.status == PR.CHECK_NOT_DONE)
                               & CheckRecord.tap_id.is_null()).execute()   # a re-judged round starts afresh
    for cp in v.missed:
        CheckRecord.create(round_id=r.id, checkpoint_id=cp, person_id=r.person_id, status=PR.CHECK_NOT_DONE,
                           answers="{}", note="", hazard_ids="[]", checked_at=now)
    unanswered = []
    for t in _visits(r.id):
        answered = PatrolTap.select().where((PatrolTap.round_id == r.id) & (PatrolTap.checkpoint_id == t.checkpoint_id)
                                            & PatrolTap.answered).exists()
        if not answered and json.loads(t.checklist or "[]") and t.checkpoint_id not in unanswered:
            unanswered.append(t.checkpoint_id)
            CheckRecord.create(round_id=r.id, checkpoint_id=t.checkpoint_id, person_id=t.person_id,
                               status=PR.CHECK_NOT_DONE, answers="{}", note="visited, checklist not answered",
                               hazard_ids="[]", checked_at=now)
    # a visited checkpoint whose checklist was left empty has its 未排查 record above; it is no reason to
    # review the round (issue 15 item 7: `rules.review_flags`)
    plan = Plan.get_or_none(Plan.id == r.plan_id)
    streak = False
    if v.status in (PR.COMPLETED, PR.LATE) and plan is not None:
        history = [_all_normal(x.id) for x in Round.select(Round.id).where(
            (Round.route_id == r.route_id) & Round.closed & Round.status.in_([PR.COMPLETED, PR.LATE])
            & (Round.id != r.id) & (Round.due_start < r.due_start)).order_by(Round.due_start.desc())
            .limit(max(plan.streak_limit, 1))][::-1]
        history.append(_all_normal(r.id))
        streak = PR.streak_suspicious(history, plan.streak_limit)
    flags = PR.review_flags(flags, answered=_answered(r.id), streak=streak,
                            plan_people=json.loads(plan.people) if plan is not None else [],
                            tapped_by=[p.employee_no for p in Person.select(Person.employee_no).where(
                                Person.id.in_({t.person_id for t in _visits(r.id) if t.person_id is not None}))])
    verdict = {**v.as_dict(), "flags": flags}
    Round.update(status=v.status, verdict=json.dumps(verdict), suspicious=bool(flags), closed=True,
                 updated_at=now).where(Round.id == r.id).execute()
    route = Route.get_or_none(Route.id == r.route_id)
    rec.emit(event, entity=("round", r.id),
             payload={"id": r.id, "route": route.name if route else "", "route_en": route.name_en if route else "",
                      "status": v.status, "bucket": PR.BUCKET[v.status], "missed": list(v.missed),
                      "flags": flags, "suspicious": bool(flags), "due_start": r.due_start})
    return v


def to_review(limit: int = 200) -> list[dict]:
    """Closed rounds not yet reviewed that carry a reason to review them (`rules.REVIEW_FLAGS`): a round
    flagged before issue 15 only for an unanswered checklist is left off the list."""
    q = (Round.select().where(Round.closed & Round.suspicious & Round.reviewed_by.is_null())
         .order_by(Round.due_start.desc()).limit(limit * 4))
    out = [d for d in (round_dict(r) for r in q) if set(d["flags"]) & set(PR.REVIEW_FLAGS)]
    return out[:limit]


def close_rounds(now: int | None = None) -> int:
    """Judge every round whose window and grace are over: final status, 未排查 records for checkpoints
    not visited (or visited without answering), and the suspicion flags (too fast, out of order,
    unanswered, a long all-正常 streak)."""
    now = events.now_ms() if now is None else now
    closed = 0
    due = list(Round.select().where(~Round.closed & (Round.due_end + Round.grace_ms < now)).order_by(Round.due_end))
    for r in due:
        with events.recording("system") as rec:
            r = Round.get_by_id(r.id)
            if r.closed:
                continue
            judge(r, now, rec, event="patrol.round_closed")
            closed += 1
    return closed


def tick(now: int | None = None) -> None:
    """The scheduler's patrol job: schedule ahead, close what is over."""
    schedule_rounds(now)
    close_rounds(now)


def day_bounds(day: str | None, tz: str | None = None) -> tuple[int, int]:
    """[start, end) of a local calendar day (YYYY-MM-DD; today when None) in UTC ms."""
    zone = ZoneInfo(tz or _site_tz())
    d = datetime.strptime(day, "%Y-%m-%d").date() if day else datetime.now(zone).date()
    start = datetime(d.year, d.month, d.day, tzinfo=zone)
    return int(start.timestamp() * 1000), int((start + timedelta(days=1)).timestamp() * 1000)


def rounds_of_day(day: str | None = None) -> list[dict]:
    start, end = day_bounds(day)
    now = events.now_ms()
    look = _Lookup()
    return [round_dict(r, now, look=look) for r in Round.select().where((Round.due_start >= start) & (Round.due_start < end))
            .order_by(Round.due_start, Round.id)]


def summary(day: str | None = None) -> dict:
    """The wall board's patrol panel: today's rounds per route, counted by bucket."""
    rounds = rounds_of_day(day)
    routes: dict[int, dict] = {}
    for r in rounds:
        e = routes.setdefault(r["route_id"], {"route_id": r["route_id"], "route": r["route"], "route_en": r["route_en"],
                                              "pending": 0, "in_progress": 0, "done": 0, "late": 0, "missed": 0,
                                              "suspicious": 0})
        e[r["bucket"]] += 1
        e["suspicious"] += bool(r["suspicious"])
    return {"routes": list(routes.values()), "rounds": rounds}
