"""The risk pages on the tablet: the register (/tablet/risks, with its spreadsheet import and export), the
major hazard installations (/tablet/risks/major-hazards) and the QR labels to print (/tablet/risks/labels)."""
from __future__ import annotations

from flask import render_template

from appliance.core import auth
from appliance.core import people as P
from appliance.core.access import current, require
from appliance.core.pages import PageBlueprint

bp = PageBlueprint("risk_pages", __name__, template_folder="templates", static_folder="static",
                   static_url_path="/static/risk")


@bp.get("/tablet/risks")
@require("tablet.use")
def tablet():
    """The risk register as a tree (object → unit → event → measures), levels coloured; the safety office
    imports the plant's spreadsheet here, seeing the dry-run report row by row before confirming."""
    from appliance.risk import register as R

    areas = {a.id: P.area_dict(a) for a in P.Area.select()}
    return render_template("risk/register.html", objects=R.register(), areas=areas, classify1=R.CLASSIFY1,
                           can_import=auth.allowed(current().role, "risks.write"))


@bp.get("/tablet/risks/labels")
@require("tablet.use")
def labels():
    """QR labels to print and stick on equipment and at area entrances: a photo of one in a hazard report
    chooses the area (appliance/risk/qr.py has the format)."""
    from appliance.risk import qr
    from appliance.risk import register as R

    areas = [P.area_dict(a) for a in P.Area.select().where(P.Area.active).order_by(P.Area.code)]
    by_id = {a["id"]: a for a in areas}
    objects = [{"code": o.code, "name": o.name, "area": by_id.get(o.area_id)}
               for o in R.RiskObject.select().where(R.RiskObject.active).order_by(R.RiskObject.code)]
    return render_template("risk/labels.html", areas=areas, objects=objects, label_text=qr.label_text)


@bp.get("/tablet/risks/major-hazards")
@require("tablet.use")
def major_hazards():
    """Major hazard installations (重大危险源) with their substances and GB 18218-2018 level; the safety
    office adds, edits and retires them here."""
    from appliance.risk import major, major_rules

    areas = {a.id: P.area_dict(a) for a in P.Area.select().where(P.Area.active).order_by(P.Area.code)}
    return render_template("risk/major.html", installations=major.installations(), areas=areas,
                           kinds=list(major_rules.KINDS), categories=major_rules.BETA_CATEGORIES,
                           can_write=auth.allowed(current().role, "risks.write"))
