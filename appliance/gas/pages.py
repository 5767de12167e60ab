"""The gas alarms page on the tablet (/tablet/alarms): active and unacknowledged alarms to acknowledge or
shelve, and the alarm load of the last day."""
from __future__ import annotations

from flask import current_app, render_template

from appliance.core import auth
from appliance.core.access import current, require
from appliance.core.pages import PageBlueprint

bp = PageBlueprint("gas_pages", __name__, template_folder="templates")


@bp.get("/tablet/alarms")
@require("tablet.use")
def tablet():
    from appliance.gas import SAFETY_OFFICERS
    from appliance.gas.rules import MAX_SHELVE_MIN
    from appliance.gas.sensors import Alarm, alarm_dict

    active = [alarm_dict(a) for a in Alarm.select().where(Alarm.cleared_at.is_null() | Alarm.acked_at.is_null())
              .order_by(Alarm.acked_at.is_null().desc(), Alarm.level.desc(), Alarm.raised_at.desc())]
    sensors = current_app.extensions["appliance"].sensors
    pts = {p["id"]: p for p in (sensors.view() if sensors is not None else [])}
    return render_template("gas/alarms.html", alarms=active, points=pts,
                           load=sensors.load() if sensors is not None else None,
                           can_ack=auth.allowed(current().role, "alarms.ack"),
                           can_shelve=auth.allowed(current().role, "alarms.shelve"),
                           can_shelve_level2=current().role in SAFETY_OFFICERS, max_shelve_min=MAX_SHELVE_MIN)
