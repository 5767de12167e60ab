"""The cockpit's reads: the facts of a window from the other domains' records (bounded by the window's
times, never all history), the KPIs with their trend (`rules`), and the hazard forecast (`forecast`)."""
from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterable
from typing import Any, cast

from appliance.cockpit import forecast as FC
from appliance.cockpit import rules as R
from appliance.core import events
from appliance.core.people import Area, Person, site_timezone

OPERATORS = 1  # one control-room console (EEMUA 191 counts alarms per operator)


def rows(query) -> list[tuple[Any, ...]]:
    """A peewee select's rows as plain tuples (typed for the checker, which sees model instances)."""
    return list(cast(Iterable[tuple[Any, ...]], query.tuples()))


def facts(since: int, until: int, *, current: bool) -> R.Facts:
    """What [since, until) holds. `current`: the window ends now, so the figures of now (standing alarms,
    certificates expiring) are read too."""
    from appliance.contractors.models import GateEntry
    from appliance.emergency.models import Accident
    from appliance.gas.sensors import Alarm
    from appliance.hazards.service import Hazard, counted
    from appliance.patrol.models import Round
    from appliance.risk.tasks import ControlTask
    from appliance.vision.violations import Violation

    hz = rows(Hazard.select(Hazard.state, Hazard.deadline, Hazard.accepted_at, Hazard.recurrence_of, Hazard.grade)
              .where((Hazard.reported_at >= since) & (Hazard.reported_at < until) & counted()))
    # (a duplicate report is the same hazard again: not found twice, and never rectified)
    # the same window rule as risk.tasks.rates: tasks whose period ended in (since, until]
    tasks = [s for (s,) in rows(ControlTask.select(ControlTask.status)
             .where((ControlTask.period_end > since) & (ControlTask.period_end <= until)))]
    rounds = [(status, len(json.loads(verdict or "{}").get("missed", [])))
              for status, verdict in rows(Round.select(Round.status, Round.verdict)
              .where(Round.closed & (Round.due_end >= since) & (Round.due_end < until)))]
    alarms = [(p, t) for p, t in rows(Alarm.select(Alarm.point, Alarm.raised_at)
              .where((Alarm.kind == "gas") & (Alarm.raised_at >= since) & (Alarm.raised_at < until)))]
    suspensions = [bool(json.loads(p).get("interlock")) for (p,) in rows(events.Event.select(events.Event.payload)
                   .where((events.Event.type == "permit.suspended") & (events.Event.occurred_at >= since)
                          & (events.Event.occurred_at < until)))]
    f = R.Facts(
        since=since, until=until, hazards=[(s, d, a, r) for s, d, a, r, _ in hz],
        major_found=sum(1 for *_, g in hz if g == "major"), tasks=tasks, rounds=rounds, alarms=alarms,
        operators=OPERATORS,
        violations=Violation.select().where((Violation.state == "confirmed") & (Violation.occurred_at >= since)
                                            & (Violation.occurred_at < until)).count(),
        employees=Person.select().where(Person.active & (Person.kind == "employee")).count(),
        suspensions=suspensions,
        accidents=rows(Accident.select(Accident.deaths, Accident.serious_injuries, Accident.minor_injuries)
                       .where((Accident.occurred_at >= since) & (Accident.occurred_at < until))),
        gate=[d for (d,) in rows(GateEntry.select(GateEntry.decision).where((GateEntry.at >= since) & (GateEntry.at < until)))])
    if current:
        from appliance.training.certificates import listing

        f.standing = Alarm.select().where(Alarm.cleared_at.is_null() & (Alarm.kind == "gas")).count()
        f.certs_expiring = len(listing(expiring_within_days=R.CERT_HORIZON_DAYS))
    return f


def cockpit(days: int = R.DEFAULT_DAYS, now: int | None = None) -> dict:
    """GET /api/v1/cockpit: every KPI of the last `days` days with its definition and its trend against the
    `days` before them."""
    now = events.now_ms() if now is None else now
    since, until = R.window(now, days)
    p_since, p_until = R.previous(since, until)
    cur = R.compute(facts(since, until, current=True))
    prev = R.compute(facts(p_since, p_until, current=False))
    return {"days": days, "since": since, "until": until, "previous": {"since": p_since, "until": p_until},
            "kpis": R.cockpit(cur, prev, since=since, until=until), "counts": {k: cur[k] for k in (
                "hazards_reported", "hazards_closed", "tasks_due", "rounds", "alarms", "violations", "gate_entries",
                "alarm_target", "injured", "person_hours")},
            "missing": list(R.MISSING), "head_seq": events.head_seq()}


# ------------------------------------------------------------------ forecast

def history(weeks: int, now: int, tz: str) -> tuple[list[str], dt.date, list[list[int]], list[tuple[str, str]]]:
    """The hazards of the `weeks` full weeks before the current one as a weeks × cells matrix (areas by
    code), and (area, category) of each, for the category shares."""
    from appliance.hazards.service import Hazard, counted

    this_monday = FC.monday_of(now, tz)
    first = this_monday - dt.timedelta(weeks=weeks)
    since, until = FC.week_start_ms(first, tz), FC.week_start_ms(this_monday, tz)
    codes = {a.id: a.code for a in Area.select().order_by(Area.id)}
    found = [(codes.get(a), t, c) for a, t, c in rows(Hazard.select(Hazard.area_id, Hazard.reported_at, Hazard.category)
             .where((Hazard.reported_at >= since) & (Hazard.reported_at < until) & counted()))]
    areas = list(codes.values())
    matrix = FC.weekly_counts(((a, t) for a, t, _ in found if a), areas, first, weeks, tz)
    return areas, first, matrix, [(a, c) for a, _, c in found if a]


def forecast(weeks: int = 26, test_weeks: int = 12, now: int | None = None) -> dict:
    """Next week's ranked hot spots and periods from the last `weeks` weeks, the category shares per area
    over them, and the backtest of the model against the naive baselines over the last `test_weeks`."""
    now = events.now_ms() if now is None else now
    tz = site_timezone()
    areas, first, matrix, cats = history(weeks, now, tz)
    next_monday = first + dt.timedelta(weeks=weeks)
    names = {a.code: {"zh-CN": a.name, "en": a.name_en or a.name} for a in Area.select()}
    bt = FC.backtest(matrix, min(test_weeks, max(weeks - 1, 1)))
    # next week's rates with the settings the backtest tuned on its earlier folds (so the scores shown are
    # those of the model shown)
    return {"weeks": weeks, "timezone": tz, "week_of": next_monday.isoformat(), "area_names": names,
            "bands": [list(b) for b in FC.BANDS], "model": bt["params"],
            "hazards": sum(map(sum, matrix)), **FC.ranked(FC.fit(matrix, FC.params_from(bt["params"])), areas),
            "categories": FC.category_shares(cats, areas), "backtest": bt}
