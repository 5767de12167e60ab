"""The gas alarms page on the tablet (/tablet/alarms): active and unacknowledged alarms to acknowledge or
shelve, the alarms acknowledged this shift (the handover list), and the alarm load of the last day. The
page keeps itself current from the live event stream: it fetches its cards again (/tablet/alarms/cards)
on every alarm or point event."""
from __future__ import annotations

import zoneinfo
from datetime import UTC, datetime, timedelta

from flask import current_app, render_template

from appliance.core import auth, events
from appliance.core.access import current, require
from appliance.core.pages import PageBlueprint

bp = PageBlueprint("gas_pages", __name__, template_folder="templates", static_folder="static",
                   static_url_path="/static/gas")


def shift_bounds(now_ms: int | None = None) -> tuple[int, int]:
    """This shift in UTC ms: the plant's shift change ([risk] shift_start) if configured, else 08:00, with
    two 12-hour shifts a day (`rules.shift_window`), in the plant's time zone."""
    from appliance.gas.rules import DEFAULT_SHIFT_START, shift_window

    cfg = current_app.config["APPLIANCE"]
    tz = zoneinfo.ZoneInfo(cfg.site.timezone)
    start_hhmm = getattr(getattr(cfg, "risk", None), "shift_start", None)
    start = tuple(int(x) for x in start_hhmm.split(":")) if start_hhmm else DEFAULT_SHIFT_START
    now = datetime.fromtimestamp((now_ms or events.now_ms()) / 1000, UTC).astimezone(tz)
    midnight = now.replace(hour=0, minute=0, second=0, microsecond=0)
    lo, hi = shift_window(now.hour * 60 + now.minute, (start[0], start[1]))
    # offsets from local midnight, through wall time (a zone without DST, like the plant's, is exact)
    return (int((midnight + timedelta(minutes=lo)).timestamp() * 1000),
            int((midnight + timedelta(minutes=hi)).timestamp() * 1000))


def _context() -> dict:
    from appliance.gas import SAFETY_OFFICERS
    from appliance.gas.rules import MAX_SHELVE_MIN, SHELVE_CHOICES_MIN
    from appliance.gas.sensors import Alarm, alarm_dict

    active = [alarm_dict(a) for a in Alarm.select().where(Alarm.cleared_at.is_null() | Alarm.acked_at.is_null())
              .order_by(Alarm.acked_at.is_null().desc(), Alarm.level.desc(), Alarm.raised_at.desc())]
    lo, hi = shift_bounds()
    history = [alarm_dict(a) for a in Alarm.select().where(Alarm.acked_at.is_null(False) & (Alarm.acked_at >= lo))
               .order_by(Alarm.acked_at.desc()).limit(200)]
    sensors = current_app.extensions["appliance"].sensors
    pts = {p["id"]: p for p in (sensors.view() if sensors is not None else [])}
    peaks = sensors.peaks(active + history) if sensors is not None else {}
    for a in active + history:
        a["peak"] = peaks.get(a["id"], a["value"])
    role = current().role  # type: ignore[union-attr]  # @require: someone is logged in
    return {"alarms": active, "history": history, "shift": (lo, hi), "points": pts,
            "load": sensors.load() if sensors is not None else None,
            "can_ack": auth.allowed(role, "alarms.ack"),
            "can_shelve": auth.allowed(role, "alarms.shelve"),
            "can_shelve_level2": role in SAFETY_OFFICERS, "max_shelve_min": MAX_SHELVE_MIN,
            "shelve_choices": SHELVE_CHOICES_MIN, "head": events.head_seq(),
            "live": auth.allowed(role, "events.read")}


@bp.get("/tablet/alarms")
@require("tablet.use")
def tablet():
    return render_template("gas/alarms.html", **_context())


@bp.get("/tablet/alarms/cards")
@require("tablet.use")
def cards():
    """The page's changing part alone, for its script to merge in after an alarm or point event."""
    return render_template("gas/_alarm_cards.html", **_context())
