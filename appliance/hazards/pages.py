"""The hazard pages on the tablet: the closed loop (/tablet/hazards: report, dispatch, rectify, accept) and
the automatic dispatch rules (/tablet/hazards/rules)."""
from __future__ import annotations

from flask import render_template

from appliance.core import auth
from appliance.core import people as P
from appliance.core.access import current, require
from appliance.core.pages import PageBlueprint

bp = PageBlueprint("hazards_pages", __name__, template_folder="templates", static_folder="static",
                   static_url_path="/static/hazards")


@bp.get("/tablet/hazards")
@require("tablet.use")
def tablet():
    from appliance.hazards import service as H

    me = current()
    role = me.role
    hazards = [H.hazard_dict(h) for h in H.Hazard.select().order_by(
        (H.Hazard.state == "closed").asc(), H.Hazard.id.desc()).limit(100)]
    areas = {a.id: a for a in P.Area.select()}
    users = [u.login for u in auth.User.select().where(auth.User.active & (auth.User.role != "kiosk"))]
    return render_template("hazards/hazards.html", hazards=hazards, areas=areas, users=users, me=me.actor,
                           categories=H.CATEGORIES, can_handle=auth.allowed(role, "hazards.handle"),
                           can_report=auth.allowed(role, "hazards.report"))


@bp.get("/tablet/hazards/rules")
@require("tablet.use")
def rules():
    """Automatic dispatch rules: area → responsible person, category → specialist (a new rule for the same
    key replaces the old one)."""
    from appliance.hazards import service as H

    rules = list(H.DispatchRule.select().order_by(H.DispatchRule.area_id.is_null(), H.DispatchRule.area_id,
                                                  H.DispatchRule.category))
    areas = {a.id: P.area_dict(a) for a in P.Area.select()}
    users = [u.login for u in auth.User.select().where(auth.User.active & (auth.User.role != "kiosk"))
             .order_by(auth.User.login)]
    return render_template("hazards/rules.html", rules=rules, areas=areas, users=users, categories=H.CATEGORIES,
                           can_edit=auth.allowed(current().role, "risks.write"))
