"""Training and certificates over HTTP: certificates with their warnings (the safety office keeps them, the
shift reads them), the question bank's import/export, exams and attempts (anyone with a login takes their
own), mastery, training records and hours."""
from __future__ import annotations

from flask import Blueprint, Response, jsonify, request
from pydantic import Field

from appliance.core import auth, events, spreadsheet
from appliance.core.access import principal, require
from appliance.core.api import body, int_arg
from appliance.core.errors import Forbidden, NotFound, ValidationFailed
from appliance.training import bank, exams, media, records, settings
from appliance.training import certificates as C
from appliance.training import courses as K
from appliance.training import rules as R

api_bp = Blueprint("training_api", __name__, url_prefix="/api/v1")


def my_person_id() -> int:
    """The person behind the signed-in user (exams are taken by people, logins are linked to them)."""
    p = principal()
    u = auth.User.get_or_none(auth.User.id == p.id) if p.kind == "user" else None
    if u is None or u.person_id is None:
        raise ValidationFailed("此登录未关联人员，请管理员在用户设置中关联", "this login is not linked to a person; ask the admin to link it",
                               details=[{"key": "person_id"}])
    return u.person_id


# ---------------------------------------------------------------- certificates

@api_bp.get("/certificates")
@require("training.read")
def list_certificates():
    """Every certificate with its state and the warnings sent (?expiring_within_days=N, ?person_id=)."""
    within = int_arg("expiring_within_days", -1, 0, 3650) if "expiring_within_days" in request.args else None
    person = int_arg("person_id", 0, 1, 2**31) if "person_id" in request.args else None
    return jsonify({"certificates": C.listing(within, person)})


@api_bp.post("/certificates")
@require("training.write")
def add_certificate():
    c = C.add(body(C.CertificateIn), actor=principal().actor)
    return jsonify(C.certificate_dict(c)), 201


@api_bp.get("/certificates/kinds")
@require("board.read")
def certificate_kinds():
    """The certificate kinds (特种作业目录 and others) with their validity, and the GB 30871 work types'
    usual categories."""
    return jsonify({"kinds": [{"code": k.code, "category": k.category, "group": k.group, "zh": k.zh, "en": k.en,
                               "valid_years": k.valid_years, "review_years": k.review_years} for k in R.CERT_KINDS],
                    "work_types": R.WORK_TYPE_CERTS})


@api_bp.get("/certificates/check")
@require("training.read")
def check_certificates():
    """?person_id=&types=WELD,ELEC-LV&start=ms&end=ms: what stops that person doing a job needing those
    certificates over that window ([] = nothing); the same as certificates.missing_for."""
    person = int_arg("person_id", 0, 1, 2**31)
    start = int_arg("start", events.now_ms(), 0, 2**53)
    end = int_arg("end", start, 0, 2**53)
    types = [t for t in request.args.get("types", "").split(",") if t]
    unknown = [t for t in types if not R.known_requirement(t)]
    if not types or unknown:
        raise ValidationFailed(f"参数 types 无效：{','.join(unknown) or '空'}", f"parameter types is not valid: {','.join(unknown) or 'empty'}",
                               details=[{"key": "types"}])
    if end < start:
        raise ValidationFailed("参数 end 早于 start", "parameter end is before start", details=[{"key": "end"}])
    return jsonify({"problems": C.missing_for(person, types, start, end)})


@api_bp.get("/certificates/warnings")
@require("training.read")
def certificate_warnings():
    """The warning inbox (unacknowledged, newest first) and the warning coverage (预警率)."""
    return jsonify({"warnings": C.inbox(), "coverage": C.coverage()})


@api_bp.get("/certificates/counts")
@require("board.read")
def certificate_counts():
    """For the wall board: lapsed, in their warning window, unacknowledged warnings."""
    return jsonify(C.counts())


@api_bp.post("/certificates/warnings/<int:warning_id>/ack")
@require("training.ack")
def acknowledge_warning(warning_id: int):
    w = C.acknowledge(warning_id, actor=principal().actor)
    return jsonify({"id": w.id, "certificate_id": w.certificate_id})


@api_bp.get("/certificates/<int:cert_id>")
@require("training.read")
def get_certificate(cert_id: int):
    return jsonify(C.certificate_dict(C.get(cert_id)))


@api_bp.patch("/certificates/<int:cert_id>")
@require("training.write")
def update_certificate(cert_id: int):
    """Renew or review (new dates start a new warning schedule), correct the number, issuer, photo."""
    return jsonify(C.certificate_dict(C.update(cert_id, body(C.CertificateUpdate), actor=principal().actor)))


@api_bp.post("/certificates/<int:cert_id>/revoke")
@require("training.write")
def revoke_certificate(cert_id: int):
    note = str((request.get_json(silent=True) or {}).get("note", ""))[:500]
    return jsonify(C.certificate_dict(C.revoke(cert_id, note, actor=principal().actor)))


# ---------------------------------------------------------------- question bank

@api_bp.get("/training/questions")
@require("training.write")
def list_questions():
    """The bank with answers (the safety office's view); ?topic= to filter."""
    q = bank.Question.select().order_by(bank.Question.topic, bank.Question.id)
    if request.args.get("topic"):
        q = q.where(bank.Question.topic == request.args["topic"])
    return jsonify({"questions": [bank.question_dict(x) for x in q.limit(2000)], "topics": bank.topics()})


@api_bp.get("/training/topics")
@require("training.take")
def list_topics():
    return jsonify({"topics": bank.topics()})


@api_bp.post("/training/questions/import")
@require("training.write")
def import_questions():
    """Multipart `file` (XLSX or CSV in the template's layout); ?dry_run=1 reports without writing."""
    f = request.files.get("file")
    if f is None:
        raise ValidationFailed("file：缺少文件（multipart 字段 file）", "file: no file (multipart field file)",
                               details=[{"key": "file"}])
    dry = request.args.get("dry_run", "0") in ("1", "true")
    return jsonify(bank.import_questions(f.read(), actor=principal().actor, dry_run=dry, filename=f.filename or ""))


@api_bp.get("/training/questions/export")
@require("training.write")
def export_questions():
    """?format=xlsx (default) or csv; the template when the bank is empty; ?lang=en for English headers."""
    fmt = request.args.get("format", "xlsx")
    rows = bank.export_rows(request.args.get("lang", "zh-CN"))
    if fmt == "csv":
        return Response(spreadsheet.write_csv(rows), mimetype="text/csv; charset=utf-8",
                        headers={"Content-Disposition": "attachment; filename=question-bank.csv"})
    if fmt != "xlsx":
        raise ValidationFailed("参数 format 应为 xlsx 或 csv", "parameter format must be xlsx or csv", details=[{"key": "format"}])
    return Response(spreadsheet.write_xlsx([("题库 questions", rows)]),
                    mimetype="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
                    headers={"Content-Disposition": "attachment; filename=question-bank.xlsx"})


# ---------------------------------------------------------------- exams

@api_bp.get("/training/exams")
@require("training.take")
def list_exams():
    return jsonify({"exams": [exams.exam_dict(e) for e in exams.Exam.select().where(exams.Exam.active)
                              .order_by(exams.Exam.id.desc())]})


@api_bp.post("/training/exams")
@require("training.write")
def create_exam():
    return jsonify(exams.exam_dict(exams.create_exam(body(exams.ExamIn), actor=principal().actor))), 201


@api_bp.post("/training/exams/<int:exam_id>/attempts")
@require("training.take")
def start_attempt(exam_id: int):
    """Start (or resume: one at a time) the signed-in person's attempt; the paper comes without answers."""
    exams.get_exam(exam_id)
    a, created = exams.start(exam_id, my_person_id(), actor=principal().actor)
    return jsonify(exams.attempt_dict(a, with_paper=True)), 201 if created else 200


def _attempt_for_me(attempt_id: int) -> exams.Attempt:
    """Anyone reads their own attempts; the shift and the safety office read everyone's."""
    if auth.allowed(principal().role, "training.read"):
        return exams.get_attempt(attempt_id)
    return exams.get_attempt(attempt_id, my_person_id())


@api_bp.get("/training/attempts/<int:attempt_id>")
@require("training.take")
def get_attempt(attempt_id: int):
    """The attempt and its paper; answers and explanations once it is submitted."""
    return jsonify(exams.attempt_dict(_attempt_for_me(attempt_id), with_paper=True, reveal=True))


@api_bp.post("/training/attempts/<int:attempt_id>/submit")
@require("training.take")
def submit_attempt(attempt_id: int):
    """{answers: {question id: [option indexes]}}: scored once, by the server's clock."""
    a = exams.submit(attempt_id, my_person_id(), body(exams.SubmitIn), actor=principal().actor)
    return jsonify(exams.attempt_dict(a, with_paper=True, reveal=True))


@api_bp.get("/training/mastery")
@require("training.take")
def mastery():
    """掌握率 by topic, the weakest topics and pass rates by month: your own; ?person_id= or ?department=
    (or ?all=1) for the shift and the safety office."""
    if any(k in request.args for k in ("person_id", "department", "all")):
        if not auth.allowed(principal().role, "training.read"):
            raise Forbidden("只能查看本人的掌握情况", "you may see only your own mastery")
        person = int_arg("person_id", 0, 1, 2**31) if "person_id" in request.args else None
        return jsonify(exams.mastery(person, request.args.get("department")))
    return jsonify(exams.mastery(my_person_id()))


# ---------------------------------------------------------------- records and hours

@api_bp.get("/training/hours")
@require("training.read")
def training_hours():
    """?year=YYYY (default this year): hours per person against the 3号令 minimum."""
    year = int_arg("year", C.day_of(events.now_ms()).year, 2000, 2100)
    return jsonify({"year": year, "people": records.hours(year)})


@api_bp.post("/training/records")
@require("training.write")
def add_record():
    r = records.add_record(body(records.RecordIn), actor=principal().actor)
    return jsonify({"id": r.id, **records.RecordIn.model_validate(
        {k: getattr(r, k) for k in ("person_id", "held_on", "hours", "title", "kind", "trainer")}).model_dump()}), 201


@api_bp.put("/training/profiles/<int:person_id>")
@require("training.write")
def set_profile(person_id: int):
    """The person's category (principal, safety_manager, worker) and initial-training year."""
    p = records.set_profile(person_id, body(records.ProfileIn), actor=principal().actor)
    return jsonify({"person_id": p.person_id, "category": p.category, "initial_year": p.initial_year})


# ---------------------------------------------------------------- courses, assignment, progress, learn now

def _data_dir():
    from flask import current_app

    return current_app.config["APPLIANCE"].storage.data_dir


def _my_person_or_none() -> int | None:
    p = principal()
    u = auth.User.get_or_none(auth.User.id == p.id) if p.kind == "user" else None
    return u.person_id if u else None


@api_bp.get("/training/courses")
@require("training.take")
def list_courses():
    """The active courses with the signed-in person's progress; `assigned` (with its due day) for theirs."""
    me = _my_person_or_none()
    mine = K.assigned_to(me) if me else {}
    out = []
    for c in K.Course.select().where(K.Course.active).order_by(K.Course.id):
        d = K.course_dict(c, me)
        d["assigned"], d["due_on"] = c.id in mine, mine.get(c.id)
        out.append(d)
    return jsonify({"courses": out})


@api_bp.post("/training/courses")
@require("training.write")
def create_course():
    c = K.create_course(body(K.CourseIn), actor=principal().actor)
    return jsonify(K.course_dict(c)), 201


@api_bp.get("/training/courses/<int:course_id>")
@require("training.take")
def get_course(course_id: int):
    return jsonify(K.course_dict(K.get_course(course_id), _my_person_or_none()))


@api_bp.post("/training/courses/<int:course_id>/units")
@require("training.write")
def add_unit(course_id: int):
    """Multipart: `file` (a WebM/MP4 video or a PDF, up to [training] video_max_mb / document_max_mb) and the
    fields title, topic, work_type. A video's length and thumbnail follow from the media worker."""
    from werkzeug.exceptions import RequestEntityTooLarge

    cfg = settings.current()
    limit_mb = max(cfg.video_max_mb, cfg.document_max_mb)
    if request.content_length is not None and request.content_length > limit_mb * 1024 * 1024 + 64 * 1024:
        raise media.too_large(limit_mb)
    request.max_content_length = limit_mb * 1024 * 1024 + 64 * 1024   # the form's own bytes beside the file
    try:
        f = request.files.get("file")
        fields = {k: request.form[k] for k in ("title", "topic", "work_type") if k in request.form}
    except RequestEntityTooLarge:
        raise media.too_large(limit_mb) from None
    if f is None:
        raise ValidationFailed("file：缺少文件（multipart 字段 file）", "file: no file (multipart field file)",
                               details=[{"key": "file"}])
    data = K.UnitIn.model_validate(fields) if fields.get("title") else K.UnitIn(
        title=(f.filename or "unit").rsplit(".", 1)[0][:100] or "unit", topic=fields.get("topic", ""),
        work_type=fields.get("work_type", ""))
    u = K.add_unit(course_id, data, f.stream, _data_dir(), actor=principal().actor)
    return jsonify(K.unit_dict(u)), 201


@api_bp.get("/training/units/<int:unit_id>/file")
@require("training.take")
def unit_file(unit_id: int):
    """The unit's video or PDF, with range requests (a phone seeks in a video by asking for a byte range);
    a PDF is shown inline. Fetching a document counts as opening it."""
    from flask import send_file

    u = K.get_unit(unit_id)
    path = media.path_of(K.root(_data_dir()), u.file, u.mime)
    if path is None:
        raise NotFound("文件不存在", "the file is missing")
    me = _my_person_or_none()
    if u.kind == "document" and me is not None and not request.headers.get("Range"):
        K.open_unit(u.id, me, actor=principal().actor)
    return send_file(path, mimetype=u.mime, conditional=True, etag=True, max_age=3600,
                     download_name=f"unit-{u.id}.{media.EXT[u.mime]}", as_attachment=False)


@api_bp.get("/training/units/<int:unit_id>/thumb")
@require("training.take")
def unit_thumb(unit_id: int):
    from flask import send_file

    u = K.get_unit(unit_id)
    path = media.thumb_of(K.root(_data_dir()), u.file)
    if u.kind != "video" or not path.exists():
        raise NotFound("缩略图不存在", "no thumbnail (yet)")
    return send_file(path, mimetype="image/jpeg", max_age=86400)


@api_bp.post("/training/units/<int:unit_id>/open")
@require("training.take")
def open_unit(unit_id: int):
    """A video's page opened (the clock the played ranges are checked against starts); a document is opened
    by fetching its file."""
    if K.get_unit(unit_id).kind != "video":
        raise ValidationFailed("unit：文档须通过打开其文件来打开", "unit: a document is opened by opening its file",
                               details=[{"key": "unit"}])
    p = K.open_unit(unit_id, my_person_id(), actor=principal().actor)
    return jsonify(K.progress_dict(p))


@api_bp.post("/training/units/<int:unit_id>/played")
@require("training.take")
def unit_played(unit_id: int):
    """{played: [[start, end] seconds, ...]} (the video element's played ranges): merged on the server; the
    unit is done at [training] video_done_share of the video's length."""
    p = K.report_played(unit_id, my_person_id(), body(K.PlayedIn), actor=principal().actor)
    return jsonify(K.progress_dict(p))


@api_bp.post("/training/units/<int:unit_id>/confirm")
@require("training.take")
def unit_confirm(unit_id: int):
    """A document read (after its file was opened)."""
    p = K.confirm_document(unit_id, my_person_id(), actor=principal().actor)
    return jsonify(K.progress_dict(p))


@api_bp.get("/training/assignments")
@require("training.read")
def list_assignments():
    people = K.facts()
    return jsonify({"assignments": [K.assignment_dict(a, people) for a in
                                    K.Assignment.select().where(K.Assignment.active).order_by(K.Assignment.id)]})


@api_bp.post("/training/assignments")
@require("training.write")
def create_assignment():
    """Assign a course or an exam to a login role, a department, a work type (the person's job), a
    contractor firm (the person's company) or one person (target = their id)."""
    a = K.assign(body(K.AssignIn), actor=principal().actor)
    return jsonify(K.assignment_dict(a)), 201


@api_bp.delete("/training/assignments/<int:assignment_id>")
@require("training.write")
def delete_assignment(assignment_id: int):
    a = K.unassign(assignment_id, actor=principal().actor)
    return jsonify({"id": a.id, "active": False})


@api_bp.get("/training/progress")
@require("training.read")
def course_progress():
    """Per assigned person and course: units done of the total, last activity (?course_id=, ?department=)."""
    course = int_arg("course_id", 0, 1, 2**31) if "course_id" in request.args else None
    return jsonify({"progress": K.progress_report(course, request.args.get("department") or None)})


@api_bp.get("/training/learn-now")
@require("training.take")
def my_offers():
    """The signed-in person's "learn now" inbox."""
    me = _my_person_or_none()
    return jsonify({"offers": K.offers_for(me) if me else []})


class LearnNowIn(K.Input):
    person_id: int = Field(gt=0, le=2**31)
    topic: str = Field(min_length=1, max_length=40)
    source_type: str = Field("manual", pattern=r"^[a-z_.]{2,40}$")
    source_id: str = Field("", max_length=40)
    reason: str = Field("", max_length=200)


@api_bp.post("/training/learn-now")
@require("training.ack")
def offer_learn_now():
    """The shift offers a person the units of a topic (after a violation it saw them commit)."""
    d = body(LearnNowIn)
    if K.Person.get_or_none(K.Person.id == d.person_id) is None:
        raise ValidationFailed(f"person_id：人员 {d.person_id} 不存在", f"person_id: person {d.person_id} does not exist",
                               details=[{"key": "person_id"}])
    made = K.offer(d.person_id, (d.topic,), d.source_type, d.source_id or str(events.now_ms()), d.reason,
                   actor=principal().actor)
    return jsonify({"offered": [o.unit_id for o in made]}), 201
