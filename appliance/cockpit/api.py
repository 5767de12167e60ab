"""The cockpit's JSON API: the KPIs of a window (`GET /api/v1/cockpit`), next week's hazard forecast with its
backtest (`GET /api/v1/cockpit/forecast`) and the compliance reports as files
(`GET /api/v1/reports/<dual-prevention|patrol|alarms|training>?period=YYYY-MM|YYYY-Qn&format=xlsx|pdf`)."""
from __future__ import annotations

from flask import Blueprint, Response, jsonify, request

from appliance.cockpit import export as EX
from appliance.cockpit import rules as R
from appliance.cockpit import service as S
from appliance.core.access import current, require
from appliance.core.api import body, int_arg

api_bp = Blueprint("cockpit_api", __name__, url_prefix="/api/v1")


@api_bp.get("/cockpit")
@require("board.read")
def cockpit():
    """Every KPI over the last ?days=N (1–366, default 30) with its definition and its trend against the N
    days before."""
    return jsonify(S.cockpit(int_arg("days", R.DEFAULT_DAYS, R.MIN_DAYS, R.MAX_DAYS)))


@api_bp.get("/cockpit/forecast")
@require("board.read")
def forecast():
    """Next week's hazard hot spots from the last ?weeks=N (4–104, default 26) weeks, with the backtest over
    the last ?test_weeks=M (1–52, default 12)."""
    return jsonify(S.forecast(int_arg("weeks", 26, 4, 104), int_arg("test_weeks", 12, 1, 52)))


@api_bp.get("/cockpit/hours")
@require("board.read")
def hours_list():
    """The hours worked recorded per month (the latest first)."""
    from appliance.cockpit import hours as HW

    return jsonify({"hours": HW.listing()})


@api_bp.post("/cockpit/hours")
@require("cockpit.hours")
def hours_record():
    """Record a month's hours worked for the plant, a department or a contractor firm (201 new, 200 a
    replacement of the same month and unit); 422 naming the field."""
    from appliance.cockpit import hours as HW

    me = current()
    assert me is not None
    out, created = HW.record(body(HW.HoursIn), actor=me.actor)
    return jsonify(out), 201 if created else 200


@api_bp.get("/reports/<kind>")
@require("cockpit.reports")
def report(kind: str):
    """A compliance report (dual-prevention, patrol, alarms, training) of ?period=YYYY-MM or YYYY-Qn as
    ?format=xlsx (default) or pdf. The event-log head it was made at is in the file and in the
    X-Event-Head-Seq / X-Event-Head-Hash headers."""
    fmt = request.args.get("format", "xlsx")
    data, f = EX.render(kind, request.args.get("period"), fmt)
    return Response(data, mimetype=EX.FORMATS[fmt],
                    headers={"Content-Disposition": f"attachment; filename={EX.filename(kind, f['period'], fmt)}",
                             "X-Event-Head-Seq": str(f["head"]["seq"]), "X-Event-Head-Hash": f["head"]["hash"]})
