"""The training pages on the phone and tablet: /tablet/training (my courses, my "learn now" inbox, my exams
and certificates; for the shift and the safety office the certificate warnings, all certificates, hours, the
question bank, new exams, courses and their assignment), a course /tablet/training/courses/<id> and its units
/tablet/training/units/<id> (the video played from the box, the PDF), the supervisor's progress view
/tablet/training/progress, the exam paper /tablet/training/attempts/<id>, and the mastery view
/tablet/training/mastery."""
from __future__ import annotations

from flask import render_template, request

from appliance.core import auth, events
from appliance.core.access import principal, require
from appliance.core.errors import Forbidden
from appliance.core.pages import PageBlueprint

bp = PageBlueprint("training_pages", __name__, template_folder="templates", static_folder="static",
                   static_url_path="/static/training")


def _me() -> tuple[str, int | None]:
    p = principal()
    u = auth.User.get_or_none(auth.User.id == p.id) if p.kind == "user" else None
    return p.role, (u.person_id if u else None)


@bp.get("/tablet/training")
@require("training.take")
def tablet():
    from appliance.training import bank, exams, records
    from appliance.training import certificates as C
    from appliance.training import rules as R

    role, person_id = _me()
    can_read, can_write = auth.allowed(role, "training.read"), auth.allowed(role, "training.write")
    today = C.day_of(events.now_ms())
    mine = [exams.attempt_dict(a) for a in exams.Attempt.select().where(exams.Attempt.person_id == person_id)
            .order_by(exams.Attempt.id.desc()).limit(20)] if person_id else []
    ctx = {"exams": [exams.exam_dict(e) for e in exams.Exam.select().where(exams.Exam.active).order_by(exams.Exam.id.desc())],
           "attempts": mine, "person_id": person_id, "can_read": can_read, "can_write": can_write,
           "my_certs": C.listing(person_id=person_id) if person_id else [], "kinds": R.CERT_KINDS,
           "year": today.year, "record_kinds": records.RECORD_KINDS}
    if can_read:
        # the certificate and record forms find their person with the person picker (a server search)
        ctx |= {"certs": C.listing(), "inbox": C.inbox(), "coverage": C.coverage(), "hours": records.hours(today.year)}
    if can_write:
        from appliance.training import settings

        ctx |= {"topics": bank.topics(), "hook": settings.current()}
    ctx |= _course_ctx(person_id, can_write)
    return render_template("training/training.html", **ctx)


def _course_ctx(person_id: int | None, can_write: bool) -> dict:
    from appliance.training import courses as K

    mine = K.assigned_to(person_id) if person_id else {}
    exams_mine = K.assigned_to(person_id, "exam") if person_id else {}
    active = list(K.Course.select().where(K.Course.active).order_by(K.Course.id))
    ctx: dict = {"my_courses": [K.course_dict(c, person_id) | {"due_on": mine[c.id]} for c in active if c.id in mine],
                 "offers": K.offers_for(person_id) if person_id else [], "assigned_exams": exams_mine}
    if can_write:
        people = K.facts()
        named = {str(f["id"]): f"{f['name']} · {f['employee_no']}" for f in people.values()}
        ctx |= {"all_courses": [K.course_dict(c) for c in active],
                # a person target by name (its value is the person's id)
                "assignments": [K.assignment_dict(a, people) | {"target_name": named.get(a.target) if a.target_kind == "person" else None}
                                for a in K.Assignment.select().where(K.Assignment.active)],
                "targets": {"role": sorted({f["role"] for f in people.values() if f["role"]}),
                            "department": sorted({f["department"] for f in people.values() if f["department"]}),
                            "work_type": sorted({f["job"] for f in people.values() if f["job"]}),
                            "company": sorted({f["company"] for f in people.values() if f["company"]}),
                            "person": []}}   # found with the person picker
    return ctx


@bp.get("/tablet/training/courses/<int:course_id>")
@require("training.take")
def course(course_id: int):
    from appliance.training import courses as K

    _, person_id = _me()
    c = K.get_course(course_id)
    return render_template("training/course.html", c=K.course_dict(c, person_id), person_id=person_id)


@bp.get("/tablet/training/units/<int:unit_id>")
@require("training.take")
def unit(unit_id: int):
    from appliance.training import courses as K
    from appliance.training import settings

    _, person_id = _me()
    u = K.get_unit(unit_id)
    p = K.Progress.get_or_none((K.Progress.person_id == person_id) & (K.Progress.unit_id == u.id)) if person_id else None
    units = K.units_of(u.course_id)
    nxt = next((x for x in units if x.position > u.position), None)
    return render_template("training/unit.html", u=K.unit_dict(u, p), c=K.get_course(u.course_id), next_unit=nxt,
                           person_id=person_id, share=settings.current().video_done_share)


@bp.get("/tablet/training/progress")
@require("training.read")
def progress():
    from appliance.training import courses as K

    course_id = request.args.get("course_id", type=int)
    dept = request.args.get("department") or None
    rows = K.progress_report(course_id, dept)
    courses = list(K.Course.select().where(K.Course.active).order_by(K.Course.id))
    depts = sorted({r["department"] for r in K.progress_report() if r["department"]})
    return render_template("training/progress.html", rows=rows, courses=courses, course_id=course_id,
                           departments=depts, department=dept)


@bp.get("/tablet/training/attempts/<int:attempt_id>")
@require("training.take")
def attempt(attempt_id: int):
    from appliance.training import exams

    role, person_id = _me()
    a = exams.get_attempt(attempt_id) if auth.allowed(role, "training.read") else exams.get_attempt(attempt_id, person_id or -1)
    d = exams.attempt_dict(a, with_paper=True, reveal=True)
    return render_template("training/attempt.html", a=d, now=events.now_ms(), mine=a.person_id == person_id)


@bp.get("/tablet/training/mastery")
@require("training.take")
def mastery():
    from appliance.core.people import Person
    from appliance.training import exams

    role, person_id = _me()
    who = request.args.get("person_id", type=int)
    dept = request.args.get("department") or None
    if (who is not None and who != person_id) or dept:
        if not auth.allowed(role, "training.read"):
            raise Forbidden("只能查看本人的掌握情况", "you may see only your own mastery")
    else:
        who = person_id
    person = Person.get_or_none(Person.id == who) if who else None
    m = exams.mastery(who, dept) if (who or dept) else {"topics": {}, "weakest": [], "attempts": 0, "pass_rate_by_month": []}
    depts = sorted({p.department for p in Person.select() if p.department}) if auth.allowed(role, "training.read") else []
    return render_template("training/mastery.html", m=m, person=person, department=dept, departments=depts)
