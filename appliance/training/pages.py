"""The training pages on the phone and tablet: /tablet/training (my exams and certificates; for the shift and
the safety office the certificate warnings, all certificates, hours, the question bank and new exams), the
exam paper /tablet/training/attempts/<id>, and the mastery view /tablet/training/mastery."""
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
    from appliance.core.people import Person
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
        ctx |= {"certs": C.listing(), "inbox": C.inbox(), "coverage": C.coverage(), "hours": records.hours(today.year),
                "people": list(Person.select().where(Person.active).order_by(Person.employee_no))}
    if can_write:
        ctx |= {"topics": bank.topics()}
    return render_template("training/training.html", **ctx)


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
