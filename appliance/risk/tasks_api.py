"""Control tasks (隐患排查任务): the open, done and missed checks of control measures, and the check itself."""
from __future__ import annotations

from flask import Blueprint, jsonify, request

from appliance.core.access import current, require
from appliance.core.api import body, int_arg
from appliance.core.errors import ValidationFailed
from appliance.risk import tasks as CT

api_bp = Blueprint("tasks_api", __name__, url_prefix="/api/v1")


@api_bp.get("/control-tasks")
@require("board.read")
def list_control_tasks():
    """?status=open|done|missed (default open), ?assignee=NAME."""
    status = request.args.get("status", "open")
    if status not in ("open", "done", "missed"):
        raise ValidationFailed("参数 status 应为 open、done 或 missed", "parameter status must be open, done or missed",
                               details=[{"key": "status"}])
    q = CT.ControlTask.select().where(CT.ControlTask.status == status)
    if request.args.get("assignee"):
        q = q.where(CT.ControlTask.assignee == request.args["assignee"])
    q = q.order_by(CT.ControlTask.period_end.desc() if status != "open" else CT.ControlTask.period_end)
    return jsonify({"tasks": CT.task_dicts(q.limit(int_arg("limit", 200, 1, 1000)))})


@api_bp.post("/control-tasks/<int:task_id>/check")
@require("hazards.report")
def check_control_task(task_id: int):
    """The check record of a control task: result 0 正常 / 1 存在隐患 (opens a hazard) / 3 其他, with a note."""
    return jsonify(CT.task_dict(CT.check(task_id, body(CT.CheckIn), current())))


@api_bp.get("/control-tasks/rates")
@require("board.read")
def control_task_rates():
    """Tasks due over the last ?days=N (default 30) and the share checked (排查率)."""
    from appliance.core import events

    now = events.now_ms()
    days = int_arg("days", 30, 1, 3660)
    return jsonify({"days": days, **CT.rates(now - days * 86_400_000, now)})
