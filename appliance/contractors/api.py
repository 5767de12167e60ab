"""Contractors and the gate over JSON: firms with their status, documents and their review, the blacklist,
workers and entry training, jobs with briefings and evaluations, and the gate's decisions."""
from __future__ import annotations

from flask import Blueprint, Response, jsonify, request

from appliance.contractors import gate as G
from appliance.contractors import importer as CI
from appliance.contractors import service as S
from appliance.contractors.models import Briefing, Document, Evaluation, Firm, Job, Worker
from appliance.core.access import lang, principal, require
from appliance.core.api import body, int_arg
from appliance.core.errors import ValidationFailed
from appliance.core.spreadsheet import BadSpreadsheet

api_bp = Blueprint("contractors_api", __name__, url_prefix="/api/v1")


@api_bp.get("/contractors")
@require("contractors.read")
def list_firms():
    """Firms with `status` ok | expiring | expired | blacklisted (and the problems behind it)."""
    on = S.today()
    return jsonify({"contractors": S.firm_dicts(list(Firm.select().order_by(Firm.name)), on)})


@api_bp.post("/contractors")
@require("contractors.write")
def create_firm():
    return jsonify(S.firm_dict(S.create_firm(body(S.FirmIn), actor=principal().actor))), 201


@api_bp.post("/contractors/import")
@require("contractors.write")
def import_roster():
    """Multipart field `file`: the roster (承包商花名册) as XLSX or CSV, one row per person and certificate.
    `?dry_run=1` reports every bad row and what would change; without it the whole file, or nothing."""
    f = request.files.get("file")
    if f is None:
        raise BadSpreadsheet("file：缺少文件（multipart 字段 file）", "file: no file (multipart field file)",
                             details=[{"key": "file"}])
    dry = request.args.get("dry_run", "0") in ("1", "true", "yes")
    report = CI.import_roster(f.read(), actor=principal().actor, dry_run=dry, filename=f.filename or "")
    return jsonify(report), 200 if dry else 201


@api_bp.get("/contractors/import/template")
@require("contractors.write")
def import_template():
    """The roster template: `?format=xlsx` (default) or `csv`; headers in the page's language."""
    fmt = request.args.get("format", "xlsx")
    if fmt not in ("xlsx", "csv"):
        raise ValidationFailed("format 应为 xlsx 或 csv", "format must be xlsx or csv", details=[{"key": "format"}])
    mime = "text/csv; charset=utf-8" if fmt == "csv" else \
        "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    return Response(CI.template(fmt, lang()), mimetype=mime,
                    headers={"Content-Disposition": f'attachment; filename="contractor-roster-template.{fmt}"'})


@api_bp.get("/contractors/<int:firm_id>")
@require("contractors.read")
def get_firm(firm_id: int):
    f = S.get(Firm, firm_id, "承包商单位", "firm")
    on = S.today()
    return jsonify({**S.firm_dict(f, on),
                    "documents": [S.document_dict(d, on) for d in S._docs_of(f.id)],
                    "staff": [S.worker_dict(w, on) for w in Worker.select().where(Worker.firm_id == f.id)],
                    "jobs": [S.job_dict(j) for j in Job.select().where(Job.firm_id == f.id).order_by(Job.id.desc())],
                    "evaluations": [S.evaluation_dict(e) for e in Evaluation.select().where(Evaluation.firm_id == f.id)
                                    .order_by(Evaluation.evaluated_at.desc())]})


@api_bp.patch("/contractors/<int:firm_id>")
@require("contractors.write")
def update_firm(firm_id: int):
    """Correct the firm's name, credit code, contact or phone (fields not given stay)."""
    return jsonify(S.firm_dict(S.update_firm(firm_id, body(S.FirmUpdate), actor=principal().actor)))


@api_bp.post("/contractors/<int:firm_id>/documents")
@require("contractors.write")
def add_document(firm_id: int):
    return jsonify(S.document_dict(S.add_document(firm_id, body(S.DocumentIn), actor=principal().actor))), 201


@api_bp.post("/contractors/documents/<int:doc_id>/review")
@require("contractors.review")
def review_document(doc_id: int):
    """Approve or reject (with a reason); nobody reviews what they submitted."""
    return jsonify(S.document_dict(S.review_document(doc_id, body(S.ReviewIn), actor=principal().actor)))


@api_bp.post("/contractors/<int:firm_id>/blacklist")
@require("contractors.review")
def blacklist(firm_id: int):
    return jsonify(S.firm_dict(S.set_blacklist(firm_id, body(S.BlacklistIn), actor=principal().actor)))


@api_bp.post("/contractors/<int:firm_id>/workers")
@require("contractors.write")
def add_worker(firm_id: int):
    return jsonify(S.worker_dict(S.add_worker(firm_id, body(S.WorkerIn), actor=principal().actor))), 201


@api_bp.post("/contractors/workers/<int:person_id>/training")
@require("contractors.write")
def record_training(person_id: int):
    return jsonify(S.worker_dict(S.record_training(person_id, body(S.TrainingIn), actor=principal().actor)))


@api_bp.post("/contractors/workers/<int:person_id>/face")
@require("contractors.write")
def enroll_face(person_id: int):
    """The optional face check: a consenting worker's template from one photo (multipart `photo`, `consent`
    = true); the photo is not stored."""
    from appliance.contractors import face

    f = request.files.get("photo")
    if f is None:
        raise ValidationFailed("photo：请上传照片", "photo: upload a photo", details=[{"key": "photo"}])
    consent = (request.form.get("consent") or "").lower() in ("true", "1", "yes", "on")
    return jsonify(face.enroll(person_id, f.read(face.MAX_UPLOAD + 1)[:face.MAX_UPLOAD], consent,
                               actor=principal().actor)), 201


@api_bp.delete("/contractors/workers/<int:person_id>/face")
@require("contractors.write")
def withdraw_face(person_id: int):
    """Consent withdrawn: the template is deleted."""
    from appliance.contractors import face

    return jsonify(face.withdraw(person_id, actor=principal().actor))


@api_bp.post("/contractors/<int:firm_id>/jobs")
@require("contractors.write")
def create_job(firm_id: int):
    return jsonify(S.job_dict(S.create_job(firm_id, body(S.JobIn), actor=principal().actor))), 201


@api_bp.get("/contractors/jobs/<int:job_id>")
@require("contractors.read")
def get_job(job_id: int):
    j = S.get(Job, job_id, "作业", "job")
    briefings = [{"id": b.id, "content": b.content, "given_by": b.given_by, "given_at": b.given_at}
                 for b in Briefing.select().where(Briefing.job_id == j.id).order_by(Briefing.id)]
    return jsonify({**S.job_dict(j), "briefings": briefings})


@api_bp.post("/contractors/jobs/<int:job_id>/approve")
@require("contractors.review")
def approve_job(job_id: int):
    return jsonify(S.job_dict(S.approve_job(job_id, actor=principal().actor)))


@api_bp.post("/contractors/jobs/<int:job_id>/start")
@require("contractors.brief")
def start_job(job_id: int):
    """Refused until every worker on the job confirmed a briefing (GB 30871 作业前安全交底)."""
    return jsonify(S.job_dict(S.start_job(job_id, actor=principal().actor)))


@api_bp.post("/contractors/jobs/<int:job_id>/finish")
@require("contractors.brief")
def finish_job(job_id: int):
    return jsonify(S.job_dict(S.finish_job(job_id, actor=principal().actor)))


@api_bp.post("/contractors/jobs/<int:job_id>/briefings")
@require("contractors.brief")
def give_briefing(job_id: int):
    b = S.give_briefing(job_id, body(S.BriefingIn), actor=principal().actor)
    return jsonify({"id": b.id, "job_id": b.job_id, "content": b.content, "given_by": b.given_by}), 201


@api_bp.post("/contractors/briefings/<int:briefing_id>/confirm")
@require("contractors.brief")
def confirm_briefing(briefing_id: int):
    """An attendee's confirming badge (its UID, from a desk reader)."""
    return jsonify(S.confirm_briefing(briefing_id, body(S.ConfirmIn), actor=principal().actor)), 201


@api_bp.get("/contractors/jobs/<int:job_id>/findings")
@require("contractors.read")
def job_findings(job_id: int):
    """What the records say for the job's evaluation (PPE violations, hazards, permit suspensions)."""
    from appliance.contractors.evaluation import findings

    S.get(Job, job_id, "作业", "job")
    return jsonify(findings(job_id))


@api_bp.post("/contractors/jobs/<int:job_id>/evaluation")
@require("contractors.brief")
def evaluate_job(job_id: int):
    return jsonify(S.evaluation_dict(S.evaluate_job(job_id, body(S.EvaluationIn), actor=principal().actor))), 201


@api_bp.get("/contractors/documents/pending")
@require("contractors.read")
def pending_documents():
    on = S.today()
    return jsonify({"documents": [S.document_dict(d, on) for d in
                                  Document.select().where(Document.status == "pending").order_by(Document.id)]})


@api_bp.get("/gate/entries")
@require("contractors.read")
def gate_entries():
    """Gate decisions after ?since=MS (UTC milliseconds), newest first."""
    since = int_arg("since", 0, 0, 2**53)
    limit = int_arg("limit", 500, 1, 2000)
    return jsonify({"entries": G.entries(since, limit)})


@api_bp.get("/gate/on-site")
@require("contractors.read")
def gate_on_site():
    """Today's people on site per firm (allowed in at a gate and not out since)."""
    return jsonify({"firms": G.on_site()})


@api_bp.get("/gate/entries/latest")
@require("contractors.read")
def gate_latest():
    """The last decision at ?reader= (what a gate screen shows when it opens)."""
    from appliance.contractors.models import GateEntry

    reader = request.args.get("reader", "")
    e = GateEntry.select().where(GateEntry.reader == reader).order_by(GateEntry.at.desc(), GateEntry.id.desc()).first()
    return jsonify({"entry": G.entry_dict(e) if e else None})
