"""The hard-hat violations page on the tablet (/tablet/violations)."""
from __future__ import annotations

from flask import render_template

from appliance.core import auth
from appliance.core import people as P
from appliance.core.access import current, require
from appliance.core.pages import PageBlueprint

bp = PageBlueprint("vision_pages", __name__, template_folder="templates")


@bp.get("/tablet/violations")
@require("tablet.use")
def tablet():
    """Hard-hat violations to confirm (→ a hazard with the snapshot) or reject (→ a training example)."""
    from appliance.vision.violations import Violation, violation_dict

    pending = [violation_dict(v) for v in Violation.select().where(Violation.state == "open")
               .order_by(Violation.id.desc()).limit(100)]
    decided = [violation_dict(v) for v in Violation.select().where(Violation.state != "open")
               .order_by(Violation.decided_at.desc()).limit(20)]
    areas = list(P.Area.select().where(P.Area.active).order_by(P.Area.code))
    return render_template("vision/violations.html", pending=pending, decided=decided, areas=areas,
                           can_handle=auth.allowed(current().role, "hazards.handle"))
