"""The cockpit's JSON API: the KPIs of a window (`GET /api/v1/cockpit`), next week's hazard forecast with its
backtest (`GET /api/v1/cockpit/forecast`) and the dual-prevention report as a file
(`GET /api/v1/reports/dual-prevention?period=YYYY-MM|YYYY-Qn&format=xlsx`)."""
from __future__ import annotations

from flask import Blueprint, Response, jsonify, request

from appliance.cockpit import report as RP
from appliance.cockpit import rules as R
from appliance.cockpit import service as S
from appliance.core.access import require
from appliance.core.api import int_arg

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


@api_bp.get("/reports/dual-prevention")
@require("cockpit.reports")
def dual_prevention():
    """The 双重预防机制 report of ?period=YYYY-MM or YYYY-Qn as ?format=xlsx (pdf: 415). The event-log head it
    was made at is in the workbook and in the X-Event-Head-Seq / X-Event-Head-Hash headers."""
    data, f = RP.render(request.args.get("period"), request.args.get("format", "xlsx"))
    return Response(data, mimetype="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
                    headers={"Content-Disposition": f"attachment; filename=dual-prevention-{f['period']}.xlsx",
                             "X-Event-Head-Seq": str(f["head"]["seq"]), "X-Event-Head-Hash": f["head"]["hash"]})
