"""The cockpit's reads: the facts of a window from the other domains' records (bounded by the window's
times, never all history), the KPIs with their trend (`rules`), and the hazard forecast (`forecast`)."""
from __future__ import annotations

import datetime as dt

from appliance.cockpit import forecast as FC
from appliance.cockpit import records as REC
from appliance.cockpit import rules as R
from appliance.cockpit.records import rows
from appliance.core import events
from appliance.core.people import Area, site_timezone

OPERATORS = 1  # one control-room console (EEMUA 191 counts alarms per operator)


def hours_worked(since: int, until: int, employees: int) -> dict:
    """`rules.window_hours` over the months' recorded hours (`hours.by_month`)."""
    from appliance.cockpit import hours as HW

    tz = site_timezone()
    recorded = HW.by_month([m for m, _, _ in R.months(since, until, tz)])
    return R.window_hours(since, until, {m: h for m, (h, _) in recorded.items()}, employees, tz)


def facts(since: int, until: int, *, current: bool) -> R.Facts:
    """What [since, until) holds (`records`: the same lists the drill-down shows). `current`: the window
    ends now, so the figures of now (standing alarms, certificates expiring) are read too."""
    from appliance.core.people import Person

    employees = Person.select().where(Person.active & (Person.kind == "employee")).count()
    worked = hours_worked(since, until, employees)
    hz = REC.hazards(since, until)
    rounds = REC.rounds(since, until)
    f = R.Facts(
        since=since, until=until,
        hazards=[(h["state"], h["deadline"], h["accepted_at"], h["recurrence_of"]) for h in hz],
        major_found=sum(1 for h in hz if h["grade"] == "major"),
        tasks=[t["status"] for t in REC.tasks(since, until)],
        rounds=[(r["status"], len(r["missed"])) for r in rounds],
        alarms=[(a["point"], a["at"]) for a in REC.alarms(since, until)],
        operators=OPERATORS,
        violations=len(REC.violations(since, until)),
        employees=employees, hours=worked["hours"], hours_basis=worked["basis"],
        suspensions=[s["interlock"] for s in REC.suspensions(since, until)],
        accidents=[(a["deaths"], a["serious"], a["minor"]) for a in REC.accidents(since, until)],
        gate=[g["decision"] for g in REC.gate(since, until)])
    if current:
        f.standing = len(REC.standing())
        f.certs_expiring = len(REC.certificates_expiring(R.CERT_HORIZON_DAYS))
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
                "alarm_target", "injured", "person_hours", "hours_basis")},
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
