"""The patrol pages: the tablet's patrol page (/tablet/patrol: today's rounds, control tasks, the review of
suspicious rounds, last seen, and checkpoints, routes and plans to edit) and the checkpoint screen beside a
badge reader (/checkpoint/<reader>: the tap and the checklist to answer)."""
from __future__ import annotations

from flask import render_template

from appliance.core import auth, events
from appliance.core import people as P
from appliance.core.access import current, principal, require
from appliance.core.pages import PageBlueprint, site_view, text
from appliance.core.web import error_page

bp = PageBlueprint("patrol_pages", __name__, template_folder="templates", static_folder="static",
                   static_url_path="/static/patrol")


@bp.get("/checkpoint/<reader>")
@require("board.read")
def checkpoint(reader: str):
    if len(reader) > 64:
        return error_page(404, text("error.not_found"))
    return render_template("patrol/checkpoint.html", reader=reader, site=site_view(), head=events.head_seq(),
                           can_answer=auth.allowed(principal().role, "patrol.answer") and (
                               principal().kind != "device" or principal().name == reader))


@bp.get("/tablet/patrol")
@require("tablet.use")
def tablet():
    from appliance.patrol import last_seen, models, plans, rounds
    from appliance.risk import tasks as CT

    role = current().role
    tasks = CT.task_dicts(CT.ControlTask.select().where(CT.ControlTask.status == "open")
                          .order_by(CT.ControlTask.period_end).limit(200))
    suspicious = rounds.to_review(50) if auth.allowed(role, "patrol.read") else []
    checkpoints = [plans.checkpoint_dict(c) for c in models.Checkpoint.select().order_by(models.Checkpoint.code)]
    routes = [plans.route_dict(r) for r in models.Route.select().order_by(models.Route.code)]
    now = events.now_ms()
    can_read = auth.allowed(role, "patrol.read")   # rounds and who walked them: the shift and the office
    today = rounds.rounds_of_day() if can_read else []
    started = [r for r in today if r["due_start"] <= now][::-1]   # newest first; the future ones are counted
    upcoming = [r for r in today if r["due_start"] > now]
    return render_template(
        "patrol/tablet.html", rounds=started[:60], upcoming=len(upcoming),
        next_round=upcoming[0]["due_start"] if upcoming else None, suspicious=suspicious, checkpoints=checkpoints, routes=routes,
        plans=[plans.plan_dict(p) for p in models.Plan.select().order_by(models.Plan.id)],
        areas={a.id: a for a in P.Area.select().where(P.Area.active)},
        cp_codes={c["id"]: c["code"] for c in checkpoints}, cp_codes_rev={c["code"]: c["id"] for c in checkpoints},
        route_names={r["id"]: r["name"] for r in routes}, site_tz=site_view()["timezone"],
        last_seen=last_seen.last_seen() if auth.allowed(role, "people.read") else None,
        can_write=auth.allowed(role, "patrol.write"), can_review=auth.allowed(role, "patrol.review"),
        tasks=tasks, can_check=auth.allowed(role, "hazards.report"), can_read=can_read)
