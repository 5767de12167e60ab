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


@api_bp.get("/people/search")
@require("people.read")
def search_people():
    """The pickers' search: ?q= part of a name, an employee number or the name's pinyin initials (up to 40
    characters; empty: the first by name), ?limit= 1..50 (20), ?kind= employee|contractor; active people only,
    best matches first (`people_search`). {"people": [...], "total": matched, "more": total > limit}."""
    from appliance.core import people_search as S
    from appliance.core.api import int_arg
    from appliance.core.errors import ValidationFailed

    q = request.args.get("q", "")
    if len(q) > S.MAX_QUERY:
        raise ValidationFailed(f"参数 q 最多 {S.MAX_QUERY} 个字符", f"parameter q may have at most {S.MAX_QUERY} characters",
                               details=[{"key": "q"}])
    limit = int_arg("limit", S.DEFAULT_LIMIT, 1, S.MAX_LIMIT)
    kind = request.args.get("kind")
    if kind and kind not in ("employee", "contractor"):
        raise ValidationFailed("参数 kind 应为 employee 或 contractor", "parameter kind must be employee or contractor",
                               details=[{"key": "kind"}])
    rows = [r for r in S.active_people() if not kind or r[1]["kind"] == kind]
    info = {c.id: d for c, d in rows}
    found, total = S.search(q, (c for c, _ in rows), limit)
    return jsonify({"people": [info[c.id] for c in found],
                    "total": total, "more": total > len(found)})


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
