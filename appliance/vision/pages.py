"""The hard-hat violations page on the tablet (/tablet/violations): open violations grouped by scene (one
card for a camera's repeated finding, `rules.group_violations`), decided once per group."""
from __future__ import annotations

from flask import current_app, render_template

from appliance.core import auth
from appliance.core import people as P
from appliance.core.access import current, require
from appliance.core.pages import PageBlueprint

bp = PageBlueprint("vision_pages", __name__, template_folder="templates")


def _camera_names() -> dict[str, str]:
    cams = getattr(current_app.config["APPLIANCE"], "cameras", None) or []
    return {c.name: (getattr(c, "title", None) or c.name) for c in cams}


@bp.get("/tablet/violations")
@require("tablet.use")
def tablet():
    """Hard-hat violations to confirm (→ a hazard with the snapshot) or reject (→ a training example)."""
    from appliance.vision.rules import Occurrence, group_violations
    from appliance.vision.violations import Violation, violation_dict

    pending = {v.id: violation_dict(v) for v in Violation.select().where(Violation.state == "open")
               .order_by(Violation.id.desc()).limit(1000)}
    groups = []
    for g in group_violations(Occurrence(v["id"], v["camera"], v["zone"], v["occurred_at"]) for v in pending.values()):
        latest = pending[g.latest]
        groups.append({**latest, "ids": g.ids, "count": g.count, "first": g.first_ms, "last": g.last_ms,
                       "others": [i for i in g.ids if i != g.latest]})
    from appliance.vision.violations import people_of

    rows = list(Violation.select().where(Violation.state != "open").order_by(Violation.decided_at.desc()).limit(20))
    named = people_of(rows)
    decided = [violation_dict(v, named) for v in rows]
    areas = list(P.Area.select().where(P.Area.active).order_by(P.Area.code))
    # the person pickers (confirm, and naming the person later) search the server: the people are not listed
    return render_template("vision/violations.html", groups=groups, decided=decided, areas=areas,
                           area_by_code={a.code: a for a in areas}, cameras=_camera_names(),
                           can_handle=auth.allowed(current().role, "hazards.handle"))
