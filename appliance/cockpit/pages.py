"""The cockpit page (/cockpit): the KPIs with their definitions, trends and drill-down, next week's hazard
forecast beside its backtest, and the dual-prevention report download. One page for the tablet and the
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
    return render_template("cockpit/cockpit.html", data=S.cockpit(days), forecast=S.forecast(), days=days,
                           windows=WINDOWS, wall=wall, can_report=auth.allowed(me.role, "cockpit.reports"))
