"""The hazard pages on the tablet: the closed loop (/tablet/hazards: report, dispatch, rectify, accept; with
?since=&until=[&overdue=1] the hazards of one window, the cockpit's drill-down) and the automatic dispatch rules
(/tablet/hazards/rules)."""
from __future__ import annotations

from flask import render_template, request

from appliance.core import auth
from appliance.core import people as P
from appliance.core.access import current, require
from appliance.core.pages import PageBlueprint

bp = PageBlueprint("hazards_pages", __name__, template_folder="templates", static_folder="static",
                   static_url_path="/static/hazards")
PAGE = 100   # hazards on the tablet's loop page


def _bound(name: str, tz: str, end: bool) -> int | None:
    """?since= / ?until= as UTC ms: milliseconds as they are, or a plant-local date YYYY-MM-DD (since: its
    midnight; until: the midnight after it, so the day is included); None when absent; 422 naming it else."""
    import datetime as dt
    from zoneinfo import ZoneInfo

    from appliance.core.errors import ValidationFailed

    raw = (request.args.get(name) or "").strip()
    if not raw:
        return None
    try:
        if raw.isdigit():
            return int(raw)
        day = dt.date.fromisoformat(raw) + dt.timedelta(days=1 if end else 0)
        return int(dt.datetime(day.year, day.month, day.day, tzinfo=ZoneInfo(tz)).timestamp() * 1000)
    except (ValueError, OverflowError):
        raise ValidationFailed(f"参数 {name} 应为毫秒时间戳或日期 YYYY-MM-DD", f"parameter {name} must be milliseconds or a date YYYY-MM-DD",
                               details=[{"key": name}]) from None


def window_filter(tz: str) -> dict | None:
    """The list's filter from the query (the cockpit's drill-down): hazards reported in [?since, ?until),
    and with ?overdue=1 only those not closed and past their deadline at `until` (the cockpit's rule);
    None without a filter."""
    from appliance.core import events

    since, until = _bound("since", tz, False), _bound("until", tz, True)
    overdue = request.args.get("overdue") in ("1", "true")
    if since is None and until is None and not overdue:
        return None
    return {"since": since or 0, "until": until or events.now_ms(), "overdue": overdue}


@bp.get("/tablet/hazards")
@require("tablet.use")
def tablet():
    from appliance.core.people import site_timezone
    from appliance.hazards import duplicates as D
    from appliance.hazards import service as H

    me = current()
    role = me.role
    window = window_filter(site_timezone())
    if window is not None:
        # the cockpit's drill-down: the window's hazards, newest first (the reported_at index)
        q = H.Hazard.select().where((H.Hazard.reported_at >= window["since"]) & (H.Hazard.reported_at < window["until"]))
        if window["overdue"]:
            q = q.where((H.Hazard.state != "closed") & (H.Hazard.deadline < window["until"]))
        window["count"] = q.count()
        shown = list(q.order_by(H.Hazard.reported_at.desc(), H.Hazard.id.desc()).limit(PAGE))
    else:
        # open ones first, newest first, then the latest closed to fill the page: two indexed queries (one
        # ORDER BY over the state expression sorted every hazard ever reported: 124 ms at 100 k, issue 14)
        shown = list(H.Hazard.select().where(H.Hazard.state != "closed").order_by(H.Hazard.id.desc()).limit(PAGE))
        if len(shown) < PAGE:
            shown.extend(H.Hazard.select().where(H.Hazard.state == "closed").order_by(H.Hazard.id.desc())
                         .limit(PAGE - len(shown)))
    from appliance.hazards import firms as FM

    hazards = FM.annotate([H.hazard_dict(h) for h in shown])
    # the reports closed as duplicates of a shown hazard: their photos and notes are shown on it
    duplicates = {k: [H.hazard_dict(d) for d in v] for k, v in D.duplicates_of([h.id for h in shown]).items()}
    areas = {a.id: a for a in P.Area.select()}
    active = list(auth.User.select().where(auth.User.active & (auth.User.role != "kiosk")).order_by(auth.User.login))
    # the assignee is chosen by name, never preselected (issue 15: it used to default to "admin")
    users = [(u.login, u.display_name or u.login) for u in active if u.role != "admin"]
    # an actor ("user:wangfang") or a login shown as the person's name
    names = {k: u.display_name or u.login for u in auth.User.select() for k in (u.login, f"user:{u.login}")}
    from appliance.hazards.checklist import BY_CODE, CHECKLIST_121
    from appliance.hazards.major import SAFETY_OFFICE

    return render_template("hazards/hazards.html", hazards=hazards, duplicates=duplicates, window=window, page_size=PAGE, areas=areas,
                           users=users, names=names, me=me.actor, firms=FM.choices(),
                           categories=H.CATEGORIES, can_handle=auth.allowed(role, "hazards.handle"),
                           can_report=auth.allowed(role, "hazards.report"), checklist=CHECKLIST_121,
                           checklist_by_code=BY_CODE, safety_office=role in SAFETY_OFFICE,
                           is_principal=me.actor.removeprefix("user:") in H.settings().principal_logins)


@bp.get("/tablet/hazards/statistics")
@require("tablet.use")
def statistics():
    """SAWS order 16 Art. 14: the quarterly or annual statistics table, printable (with the principal's
    signature line) and exportable."""
    from flask import request

    from appliance.core import events
    from appliance.core.errors import ValidationFailed
    from appliance.core.people import site_timezone
    from appliance.hazards import service as H
    from appliance.hazards.stats import period_from_args

    tz = site_timezone()
    try:
        year, quarter = period_from_args(request.args, events.now_ms(), tz)
    except ValueError as exc:
        raise ValidationFailed(f"参数 {exc} 无效", f"parameter {exc} is not valid", details=[{"key": str(exc)}]) from None
    stats = H.statistics(year, quarter, tz)
    from appliance.core.pages import site_view

    return render_template("hazards/statistics.html", stats=stats, year=year, quarter=quarter, site=site_view(),
                           years=list(range(year + 1, year - 6, -1)))


@bp.get("/tablet/hazards/rules")
@require("tablet.use")
def rules():
    """Automatic dispatch rules: area → responsible person, category → specialist (a new rule for the same
    key replaces the old one)."""
    from appliance.hazards import service as H

    rules = list(H.DispatchRule.select().order_by(H.DispatchRule.area_id.is_null(), H.DispatchRule.area_id,
                                                  H.DispatchRule.category))
    areas = {a.id: P.area_dict(a) for a in P.Area.select()}
    # the assignee by name (issue 15 item 9), never preselected
    users = [(u.login, u.display_name or u.login) for u in auth.User.select()
             .where(auth.User.active & (auth.User.role != "kiosk")).order_by(auth.User.login)]
    names = {u.login: u.display_name or u.login for u in auth.User.select()}
    return render_template("hazards/rules.html", rules=rules, areas=areas, users=users, names=names, categories=H.CATEGORIES,
                           can_edit=auth.allowed(current().role, "risks.write"))
