"""The emergency pages: the overview (/tablet/emergency: open incidents, a manual call, drills, resources,
teams, plans, accidents), the incident commander's checklist (/tablet/emergency/incidents/<id>), the muster
roll (/tablet/emergency/muster, for a phone at the assembly point), one accident with its countdowns, and the
wall board's incident view (a partial the board includes, refreshed from /kiosk/emergency/incident)."""
from __future__ import annotations

from flask import render_template

from appliance.core import answers, auth
from appliance.core import people as P
from appliance.core.access import current, principal, require
from appliance.core.pages import PageBlueprint

bp = PageBlueprint("emergency_pages", __name__, template_folder="templates", static_folder="static",
                   static_url_path="/static/emergency")


def _can(perm: str) -> bool:
    me = current()
    return me is not None and auth.allowed(me.role, perm)


def area_label(code: str | None) -> str:
    """An area code as the screens name it (zh, or en on an English page), looked up once per request; an
    unknown code is shown as it is, no code as "—"."""
    from flask import g

    from appliance.core.access import lang
    from appliance.emergency import setup as S

    if not code:
        return "—"
    names = g.get("_em_area_names")
    if names is None:
        names = g._em_area_names = S.area_names()
    zh, en = names.get(code, (code, code))
    return en if lang().startswith("en") else zh


def board_incident() -> dict | None:
    """The incident the wall board shows (a real one before a drill), or None; only for who may read it."""
    from appliance.emergency import incidents as I

    if not _can("emergency.read"):
        return None
    found = I.open_incidents()
    return I.incident_dict(found[0]) if found else None


@bp.get("/kiosk/emergency/incident")
@require("emergency.read")
def board_fragment():
    """The board's incident view alone (its script swaps it in when an incident opens or changes)."""
    return render_template("emergency/_incident_board.html", inc=board_incident())


@bp.get("/tablet/emergency")
@require("tablet.use")
def tablet():
    from appliance.emergency import accidents as A
    from appliance.emergency import incidents as I
    from appliance.emergency import rules as R
    from appliance.emergency import setup as S
    from appliance.emergency import upkeep
    from appliance.emergency.models import Accident, Drill

    codes = S.area_codes()
    return render_template(
        "emergency/tablet.html", resource_warnings=upkeep.warning_count(), open=[I.incident_dict(i, False) for i in I.open_incidents()],
        resources=[S.resource_dict(r, codes) for r in S.resources()], teams=[S.team_dict(t, codes) for t in S.teams()],
        plans=[S.plan_dict(p) for p in S.plans()],
        drills=[A.drill_dict(d) for d in Drill.select().order_by(Drill.id.desc()).limit(10)],
        accidents=[A.accident_dict(a) for a in Accident.select().order_by(Accident.id.desc()).limit(20)],
        areas=[P.area_dict(a) for a in P.Area.select().where(P.Area.active).order_by(P.Area.code)],
        kinds=S.KINDS, accident_kinds=A.ACCIDENT_KINDS, resource_kinds=R.RESOURCE_KINDS,
        can=lambda perm: auth.allowed(principal().role, perm))


@bp.get("/tablet/emergency/incidents/<int:incident_id>")
@require("tablet.use")
def incident(incident_id: int):
    from appliance.core import events
    from appliance.emergency import accidents as A
    from appliance.emergency import incidents as I
    from appliance.emergency.models import Drill

    head = events.head_seq()   # the page's stream resumes after it: a wind change while it loads is not missed
    d = Drill.get_or_none(Drill.incident_id == incident_id)
    return render_template("emergency/incident.html", inc=I.incident_dict(I.get(incident_id)),
                           drill=A.drill_dict(d) if d else None, head=head, wind_point=I.wind_point_configured(),
                           can=lambda perm: auth.allowed(principal().role, perm))


@bp.get("/tablet/emergency/muster")
@require("tablet.use")
def muster():
    from appliance.core import events
    from appliance.emergency import incidents as I

    # the head seq first: the page's stream resumes after it, so a tap while the page loads is not missed
    head = events.head_seq()
    return render_template("emergency/muster.html", roll=I.roll(I.current_muster()), head=head,
                           can=lambda perm: auth.allowed(principal().role, perm))


@bp.get("/tablet/emergency/accidents/<int:accident_id>")
@require("tablet.use")
def accident(accident_id: int):
    from appliance.core import events
    from appliance.emergency import accidents as A

    now = events.now_ms()
    return render_template("emergency/accident.html", a=A.accident_dict(A._get(accident_id), now), now_ms=now,
                           fishbone=A.FISHBONE,
                           can=lambda perm: auth.allowed(principal().role, perm))


@bp.get("/tablet/emergency/warnings")
@require("tablet.use")
def warnings():
    """The resource warnings inbox: what is due and when, acknowledge, resolve with the new date."""
    from datetime import timedelta

    from appliance.emergency import upkeep

    w = upkeep.open_warnings()
    from appliance.core import events

    today = upkeep._today(events.now_ms())
    return render_template("emergency/warnings.html", warnings=w, counts=upkeep.counts(w), today=today.isoformat(),
                           next_year=(today + timedelta(days=365)).isoformat(),
                           can=lambda perm: auth.allowed(principal().role, perm))


def board_upkeep() -> dict | None:
    """The wall board's resource-warning counts (None for who may not read them, or nothing open)."""
    from appliance.emergency import upkeep

    if not _can("emergency.read"):
        return None
    c = answers.shared("board:upkeep", lambda: upkeep.counts(upkeep.open_warnings()))  # same for every board
    return c if c["total"] else None


@bp.get("/kiosk/emergency/upkeep")
@require("emergency.read")
def board_upkeep_fragment():
    return render_template("emergency/_upkeep_board.html", up=board_upkeep())


@bp.get("/tablet/emergency/setup")
@require("emergency.write")
def setup():
    """The master data, edited here (the safety office and admins): resources, teams with members and phones,
    plans with steps and roles, assembly points, and the walk graph as an edge list drawn on the plan."""
    import json

    from appliance.emergency import rules as R
    from appliance.emergency import setup as S

    codes = S.area_codes()
    areas = list(P.Area.select().where(P.Area.active).order_by(P.Area.code))
    centres = S.centres()
    graph = S.graph_dict()
    shapes = [{"code": a.code, "name": a.name, "name_en": a.name_en or a.name, "polygon": json.loads(a.polygon),
               "centre": centres.get(a.code)} for a in areas]
    xs = [x for s in shapes for x, _ in s["polygon"]] or [0, 100]
    ys = [y for s in shapes for _, y in s["polygon"]] or [0, 100]
    return render_template(
        "emergency/setup.html", areas=[P.area_dict(a) for a in areas],
        people=[{"id": p.id, "name": p.name, "employee_no": p.employee_no}
                for p in P.Person.select().where(P.Person.active).order_by(P.Person.employee_no)],
        resources=[S.resource_dict(r, codes) for r in S.resources()], teams=[S.team_dict(t, codes) for t in S.teams()],
        plans=[S.plan_dict(p) for p in S.plans()], points=[S.point_dict(p, codes) for p in S.points()],
        graph=graph, shapes=shapes, names=S.area_names(), resource_kinds=R.RESOURCE_KINDS, scenarios=S.SCENARIOS,
        team_kinds=S.TEAM_KINDS,
        view_box=f"{min(xs) - 20} {min(ys) - 20} {max(xs) - min(xs) + 40} {max(ys) - min(ys) + 40}")
