"""The cockpit page (/cockpit): the KPIs with their definitions, trends and drill-down, next week's hazard
forecast beside its backtest, and the compliance reports' downloads (XLSX and PDF). One page for the tablet and the
wall board (a kiosk token opens it as the dark wall layout); it refreshes itself on live events."""
from __future__ import annotations

from flask import render_template, request

from appliance.core import auth
from appliance.core.access import current, require
from appliance.core.pages import PageBlueprint

bp = PageBlueprint("cockpit_pages", __name__, template_folder="templates", static_folder="static",
                   static_url_path="/static/cockpit")

WINDOWS = (7, 30, 90, 365)


@bp.get("/cockpit")
@require("board.read")
def cockpit():
    from appliance.cockpit import rules as R
    from appliance.cockpit import service as S
    from appliance.core.api import int_arg

    days = int_arg("days", R.DEFAULT_DAYS, R.MIN_DAYS, R.MAX_DAYS)
    me = current()
    wall = me.role == "kiosk" or request.args.get("wall") == "1"
    from appliance.cockpit import export as EX
    from appliance.core import events
    from appliance.core.people import site_timezone
    return render_template("cockpit/cockpit.html", data=S.cockpit(days), forecast=S.forecast(), days=days,
                           windows=WINDOWS, wall=wall, can_report=auth.allowed(me.role, "cockpit.reports"),
                           can_hours=auth.allowed(me.role, "cockpit.hours"),
                           reports=list(EX.KINDS), last_month=EX.last_month(events.now_ms(), site_timezone()))


@bp.get("/cockpit/drill/<key>")
@require("board.read")
def drill(key: str):
    """A tile's drill-down: exactly the records the tile counted in [?since, ?until) (ms; default the last
    30 days), newest first, ?page=N of 50; 422 naming the field on a bad window, 404 for an unknown tile."""
    from flask import abort

    from appliance.cockpit import drill as D
    from appliance.cockpit import drillview as V
    from appliance.cockpit import rules as R
    from appliance.cockpit import service as S
    from appliance.core import events
    from appliance.core.access import lang
    from appliance.core.api import int_arg
    from appliance.core.pages import text

    k = R.BY_KEY.get(key)
    if k is None:
        abort(404)
    since, until = D.window_args(request.args, events.now_ms())
    records = D.select(key, since, until)
    pages = max(1, -(-len(records) // D.PAGE))
    page = int_arg("page", 1, 1, pages)
    shown = V.present(D.SELECT[key][0], records[(page - 1) * D.PAGE:page * D.PAGE], lang(), text)
    tile = R.compute(S.facts(since, until, current=k.point_in_time))
    me = current()
    return render_template("cockpit/drill.html", k=k, since=since, until=until, rows=shown, page=page, pages=pages,
                           summary=D.summary(key, records), value=tile.get(key), counts=tile,
                           domain_page=R.page(k, since, until), wall=(me is not None and me.role == "kiosk") or request.args.get("wall") == "1",
                           days=max(1, round((until - since) / R.DAY_MS)))


@bp.get("/cockpit/hours")
@require("cockpit.hours")
def hours():
    """The hours worked form (a safety officer's): a month's hours for the plant, a department or a
    contractor firm, and what has been recorded."""
    from appliance.cockpit import export as EX
    from appliance.cockpit import hours as HW
    from appliance.core import events
    from appliance.core.people import site_timezone

    return render_template("cockpit/hours.html", records=HW.listing(), kinds=HW.UNIT_KINDS,
                           last_month=EX.last_month(events.now_ms(), site_timezone()))


@bp.get("/cockpit/report")
@require("cockpit.reports")
def report():
    """The report form's target: the file of ?kind= for ?period= in ?format= (the API's address, so a
    download is one bookmarkable URL); a bad field is the API's 422 naming it."""
    from urllib.parse import urlencode

    from flask import redirect

    from appliance.cockpit import export as EX

    EX.kind_of(request.args.get("kind", ""))
    query = urlencode({"period": request.args.get("period", ""), "format": request.args.get("format", "xlsx")})
    return redirect(f"/api/v1/reports/{request.args.get('kind')}?{query}", code=303)
