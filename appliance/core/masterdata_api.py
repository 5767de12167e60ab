"""Site, areas, people and badges. Reads are open to the roles that need them; writes go through
`appliance.people`, hence through the event log."""
from __future__ import annotations

from flask import Blueprint, jsonify, request

from appliance.core import people as P
from appliance.core.access import principal, require
from appliance.core.api import body
from appliance.core.errors import NotFound

api_bp = Blueprint("masterdata_api", __name__, url_prefix="/api/v1")


def _actor() -> str:
    return principal().actor


def _flag(name: str) -> bool:
    return request.args.get(name, "0") in ("1", "true", "yes")


@api_bp.get("/site")
@require("site.read")
def get_site():
    return jsonify(P.site_dict(P.get_site()))


@api_bp.patch("/site")
@require("site.write")
def patch_site():
    return jsonify(P.site_dict(P.update_site(body(P.SiteUpdate), actor=_actor())))


@api_bp.get("/areas")
@require("areas.read")
def list_areas():
    q = P.Area.select().order_by(P.Area.code)
    if not _flag("all"):
        q = q.where(P.Area.active)
    return jsonify({"areas": [P.area_dict(a) for a in q]})


@api_bp.post("/areas")
@require("areas.write")
def create_area():
    return jsonify(P.area_dict(P.create_area(body(P.AreaIn), actor=_actor()))), 201


@api_bp.get("/areas/<int:area_id>")
@require("areas.read")
def get_area(area_id: int):
    a = P.Area.get_or_none(P.Area.id == area_id)
    if a is None:
        raise NotFound(f"区域 {area_id} 不存在", f"area {area_id} does not exist")
    return jsonify(P.area_dict(a))


@api_bp.patch("/areas/<int:area_id>")
@require("areas.write")
def patch_area(area_id: int):
    return jsonify(P.area_dict(P.update_area(area_id, body(P.AreaUpdate), actor=_actor())))


@api_bp.get("/people")
@require("people.read")
def list_people():
    q = P.Person.select().order_by(P.Person.employee_no)
    if not _flag("all"):
        q = q.where(P.Person.active)
    return jsonify({"people": [P.person_dict(p) for p in q]})


@api_bp.post("/people")
@require("people.write")
def create_person():
    return jsonify(P.person_dict(P.create_person(body(P.PersonIn), actor=_actor()))), 201


@api_bp.get("/people/<int:person_id>")
@require("people.read")
def get_person(person_id: int):
    p = P.Person.get_or_none(P.Person.id == person_id)
    if p is None:
        raise NotFound(f"人员 {person_id} 不存在", f"person {person_id} does not exist")
    return jsonify({**P.person_dict(p), "badges": [P.badge_dict(b) for b in p.badges]})


@api_bp.patch("/people/<int:person_id>")
@require("people.write")
def patch_person(person_id: int):
    return jsonify(P.person_dict(P.update_person(person_id, body(P.PersonUpdate), actor=_actor())))


@api_bp.get("/badges")
@require("badges.read")
def list_badges():
    q = P.Badge.select().order_by(P.Badge.id)
    if not _flag("all"):
        q = q.where(P.Badge.active)
    return jsonify({"badges": [P.badge_dict(b) for b in q]})


@api_bp.post("/badges")
@require("badges.write")
def issue_badge():
    return jsonify(P.badge_dict(P.issue_badge(body(P.BadgeIn), actor=_actor()))), 201


@api_bp.patch("/badges/<int:badge_id>")
@require("badges.write")
def patch_badge(badge_id: int):
    return jsonify(P.badge_dict(P.set_badge_active(badge_id, body(P.BadgeUpdate), actor=_actor())))
