"""The contractor pages: the archive (/tablet/contractors: firms, documents to review, today's gate), one
firm (/tablet/contractors/<id>: documents, blacklist, staff, jobs, evaluation history), one job
(/tablet/contractors/jobs/<id>: briefing and confirmations, start, finish, evaluation) and the gate
screen beside a gate reader (/gate/<reader>: the last decision, huge)."""
from __future__ import annotations

import json

from flask import render_template

from appliance.contractors import gate as G
from appliance.contractors import rules as R
from appliance.contractors import service as S
from appliance.contractors.models import Briefing, Document, Evaluation, Firm, Job, JobWorker, Worker
from appliance.core import auth, events
from appliance.core import people as P
from appliance.core.access import lang, principal, require
from appliance.core.pages import PageBlueprint, site_view, text
from appliance.core.web import error_page

bp = PageBlueprint("contractors_pages", __name__, template_folder="templates", static_folder="static",
                   static_url_path="/static/contractors")


def _can(permission: str) -> bool:
    return auth.allowed(principal().role, permission)


@bp.get("/tablet/contractors")
@require("contractors.read")
def tablet():
    on = S.today()
    firms = S.firm_dicts(list(Firm.select().order_by(Firm.name)), on)
    names = {f["id"]: f["name"] for f in firms}
    pending = [S.document_dict(d, on) for d in Document.select().where(Document.status == "pending").order_by(Document.id)]
    return render_template("contractors/archive.html", firms=firms, pending=pending, names=names,
                           entries=G.entries(0, 20), on_site=G.on_site(), doc_kinds=R.DOC_KINDS,
                           can_write=_can("contractors.write"), can_review=_can("contractors.review"),
                           me=principal().actor, site_tz=site_view()["timezone"])


@bp.get("/tablet/contractors/<int:firm_id>")
@require("contractors.read")
def firm(firm_id: int):
    f = Firm.get_or_none(Firm.id == firm_id)
    if f is None:
        return error_page(404, text("error.not_found"))
    on = S.today()
    staff = [S.worker_dict(w, on) for w in Worker.select().where(Worker.firm_id == f.id)]
    from appliance.contractors import face
    from appliance.contractors.config import current as settings
    from appliance.contractors.models import FaceTemplate

    face_on = settings().face_check
    faces = {t.person_id for t in FaceTemplate.select(FaceTemplate.person_id)
             .where(FaceTemplate.person_id.in_([w["person_id"] for w in staff]))} if face_on else set()
    jobs = [S.job_dict(j) for j in Job.select().where(Job.firm_id == f.id).order_by(Job.id.desc())]
    evaluations = [S.evaluation_dict(e) for e in Evaluation.select().where(Evaluation.firm_id == f.id)
                   .order_by(Evaluation.evaluated_at.desc())]
    return render_template("contractors/firm.html", firm=S.firm_dict(f, on),
                           documents=[S.document_dict(d, on) for d in S._docs_of(f.id)], staff=staff, jobs=jobs,
                           evaluations=evaluations, job_titles={j["id"]: j["title"] for j in jobs},
                           areas={a.id: P.area_dict(a) for a in P.Area.select().where(P.Area.active)}, doc_kinds=R.DOC_KINDS,
                           cert_types=R.CERT_TYPES, today=on.isoformat(), me=principal().actor,
                           can_write=_can("contractors.write"), can_review=_can("contractors.review"),
                           can_upload=_can("hazards.report"), face_on=face_on, faces=faces,
                           face_consent=face.CONSENT_TEXT)


@bp.get("/tablet/contractors/jobs/<int:job_id>")
@require("contractors.read")
def job(job_id: int):
    j = Job.get_or_none(Job.id == job_id)
    if j is None:
        return error_page(404, text("error.not_found"))
    d = S.job_dict(j)
    people = {p.id: p for p in P.Person.select().where(
        P.Person.id.in_([r.person_id for r in JobWorker.select().where(JobWorker.job_id == j.id)]))}
    from appliance.contractors.models import Attendee

    briefings = []
    for b in Briefing.select().where(Briefing.job_id == j.id).order_by(Briefing.id):
        att = {a.person_id: a for a in Attendee.select().where(Attendee.briefing_id == b.id)}
        briefings.append({"id": b.id, "content": b.content, "given_by": b.given_by, "given_at": b.given_at,
                          "attendees": att})
    refusal = R.start_refusal(j.status, d["workers"], set(d["briefed"]))
    from appliance.contractors.evaluation import findings

    found = findings(j.id) if j.status == "finished" and not d["evaluation"] else None
    return render_template("contractors/job.html", job=d, firm=Firm.get_by_id(j.firm_id), people=people,
                           briefings=briefings, cert_types=R.CERT_TYPES, start_refusal=refusal,
                           start_refusals=S.START_REFUSALS, me=principal().actor,
                           area=P.area_dict(a) if j.area_id and (a := P.Area.get_or_none(P.Area.id == j.area_id)) else None,
                           can_review=_can("contractors.review"), can_brief=_can("contractors.brief"),
                           grades=dict(R.GRADES), found=found)


@bp.get("/gate/<reader>")
@require("board.read")
def gate_screen(reader: str):
    if len(reader) > 64:
        return error_page(404, text("error.not_found"))
    from appliance.contractors.config import current as settings

    cfg = settings()
    texts = {k: text(k) for k in ("gate.idle", "gate.idle_hint", "gate.allowed", "gate.refused", "gate.exit")}
    texts.update({f"gate.reason.{k}": (v[1] if lang() == "en" else v[0]) for k, v in S.REASONS.items()})
    texts.update({f"gate.cert.{k}": (v[1] if lang() == "en" else v[0]) for k, v in R.CERT_TYPES.items()})
    return render_template("contractors/gate.html", reader=reader, site=site_view(), head=events.head_seq(),
                           is_gate=reader in cfg.entry_readers or reader in cfg.exit_readers,
                           texts=json.dumps(texts, ensure_ascii=False).replace("</", "<\\/"))
