"""The permit pages: the tablet list and apply form (/tablet/permits), one permit with each step
(/tablet/permits/<id>), the guardian's phone view (/tablet/permits/guard) and the printable permit."""
from __future__ import annotations

from flask import render_template

from appliance.core import auth
from appliance.core import people as P
from appliance.core.access import principal, require
from appliance.core.errors import NotFound
from appliance.core.pages import PageBlueprint

bp = PageBlueprint("permits_pages", __name__, template_folder="templates", static_folder="static",
                   static_url_path="/static/permits")


def _me_person() -> int | None:
    me = principal()
    u = auth.User.get_or_none(auth.User.login == me.name) if me.kind == "user" else None
    return u.person_id if u else None


@bp.get("/tablet/permits")
@require("tablet.use")
def tablet():
    from appliance.permits import rules as R
    from appliance.permits import service as S

    permits = list(S.Permit.select().order_by(S.Permit.state.in_(("closed", "cancelled")).asc(), S.Permit.id.desc())
                   .limit(100))
    areas = {a.id: P.area_dict(a) for a in P.Area.select()}
    people = list(P.Person.select().where(P.Person.active).order_by(P.Person.employee_no))
    from flask import current_app

    from appliance.core import events

    role = principal().role
    cameras = [(c.name, c.title or c.name) for c in current_app.config["APPLIANCE"].cameras]
    from appliance.permits import chain as C

    jsa_required = {t: sorted(gs) for t, gs in C.JSA_REQUIRED.items()}
    return render_template("permits/list.html", permits=permits, areas=areas, people=people, types=R.TYPES,
                           jsa_required=jsa_required,
                           grades=R.GRADES, can_apply=auth.allowed(role, "permits.apply"), cameras=cameras,
                           head=events.head_seq(), can_events=auth.allowed(role, "events.read"))


@bp.get("/tablet/permits/guard")
@require("tablet.use")
def guard():
    """The guardian's phone: the jobs this login's person watches, their state and countdowns, a stop button."""
    from appliance.permits import service as S

    me = _me_person()
    q = S.Permit.select().where(S.Permit.state.in_(("approved", "briefed", "active", "suspended"))
                               | ((S.Permit.state == "expired") & S.Permit.started_at.is_null(False)))
    mine = [S.permit_dict(p) for p in q if me is not None and p.guardian_id == me]
    areas = {a.code: P.area_dict(a) for a in P.Area.select()}   # the job's area by name, not its code
    return render_template("permits/guard.html", permits=mine, linked=me is not None, areas=areas)


def _detail(permit_id: int, template: str):
    from appliance.permits import service as S

    p = S.Permit.get_or_none(S.Permit.id == permit_id)
    if p is None:
        raise NotFound("作业票不存在", "no such permit")
    role = principal().role
    area = P.Area.get_by_id(p.area_id)
    return render_template(template, p=S.permit_dict(p), area=P.area_dict(area),
                           can=lambda perm: auth.allowed(role, perm), decide=_why_not_decide(p))


def _why_not_decide(p) -> str | None:
    """Why this user may not sign the permit's pending approval level (chain.may_decide), so the page offers
    the approve/reject forms only to one who may, and tells the others whom the permit waits for."""
    if p.state != "measures_confirmed":
        return "done"
    from appliance.permits import approvals as A
    from appliance.permits import chain as C
    from appliance.permits import service as S

    me = principal()
    steps = [C.Step(r.level, r.actor, r.person_id, r.decision) for r in A._rows(p)]
    on_job = [i for ids in S.people_on_job(p).values() for i in ids]
    return C.may_decide(A.levels(p), steps, actor=me.actor, role=me.role, person_id=_me_person(),
                        applicant=p.applicant, people_on_job=on_job)


@bp.get("/tablet/permits/<int:permit_id>")
@require("tablet.use")
def detail(permit_id: int):
    return _detail(permit_id, "permits/detail.html")


@bp.get("/tablet/permits/<int:permit_id>/print")
@require("tablet.use")
def printable(permit_id: int):
    """The permit as printed (the standard's layout, in Chinese), with a QR code to the live record."""
    return _detail(permit_id, "permits/print.html")


@bp.get("/tablet/permits/<int:permit_id>/qr.png")
@require("tablet.use")
def qr_png(permit_id: int):
    from flask import Response, request

    from appliance.risk import qr

    return Response(qr.label_png(f"{request.host_url.rstrip('/')}/tablet/permits/{permit_id}", module_px=6),
                    mimetype="image/png")


@bp.get("/tablet/permits/<int:permit_id>/pdf")
@require("tablet.use")
def pdf(permit_id: int):
    """The permit as a PDF (appliance.permits.document): the printed form, its QR code and its history."""
    from flask import Response, request

    from appliance.permits import document
    from appliance.risk import qr

    link = f"{request.host_url.rstrip('/')}/tablet/permits/{permit_id}"
    try:
        png: bytes | None = qr.label_png(link, module_px=6)
    except qr.QrUnavailable:   # no OpenCV on this box: the address is printed without the code
        png = None
    data = document.render(permit_id, link, png)
    from appliance.permits import service as S

    return Response(data, mimetype="application/pdf",
                    headers={"Content-Disposition": f"attachment; filename=permit-{S.get(permit_id).no}.pdf"})
