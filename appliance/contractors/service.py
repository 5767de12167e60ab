"""Contractor records: firms and their documents (with review), workers and their entry training, jobs
with their workers, safety briefings (交底) and evaluations. Every change is a record plus a
`contractor.*` event in one transaction (`events.recording`); the rules are `rules.py`'s."""
from __future__ import annotations

import json
from datetime import date, datetime
from typing import Literal
from zoneinfo import ZoneInfo

from peewee import fn
from pydantic import Field, field_validator, model_validator

from appliance.contractors import config as C
from appliance.contractors import rules as R
from appliance.contractors.models import Attendee, Briefing, Document, Evaluation, Firm, Job, JobWorker, Worker
from appliance.core import events
from appliance.core import people as P
from appliance.core.errors import Conflict, Forbidden, NotFound, ValidationFailed

# ---------------------------------------------------------------- texts shown to people

REASONS: dict[str, tuple[str, str]] = {
    "ok": ("准许进入", "Entry allowed"),
    "employee": ("本厂员工，准许进入", "Plant employee: entry allowed"),
    "unknown_badge": ("未登记或已停用的卡", "Unknown or deactivated card"),
    "no_firm": ("未登记所属承包商单位", "Not registered with a contractor firm"),
    "blacklisted": ("承包商单位已列入黑名单", "The contractor firm is blacklisted"),
    "firm_unqualified": ("承包商单位资质过期或缺失", "The firm's qualification has expired or is missing"),
    "no_training": ("未完成入厂安全教育", "No plant entry safety training"),
    "training_expired": ("入厂安全教育已过期", "Plant entry safety training has expired"),
    "no_active_job": ("无已批准的当日作业", "Not on an approved job today"),
    "certificate": ("作业所需特种作业操作证缺失或过期", "A certificate the job needs is missing or expired"),
    "exit": ("已离场", "Left the site"),
    # a contractor's worker on a special-work permit (gate.permit_refusals)
    "briefing_missing": ("未确认承包商作业安全交底", "has not confirmed the contractor job's safety briefing"),
    # the optional face check (face.py): the badge alone would let them in; a guard looks at the person
    "face_mismatch": ("人脸与登记不符，请保安核实", "Face does not match the enrolled worker: a guard must check"),
    "face_unseen": ("未看清人脸，请保安核实", "No face seen by the gate camera: a guard must check"),
}
START_REFUSALS = {
    "not_approved": ("作业未批准或已开始，不能开始", "the job is not approved (or already started); it cannot start"),
    "no_workers": ("作业没有作业人员", "the job has no workers"),
    "briefing_missing": ("尚有作业人员未确认安全交底（GB 30871 作业前安全交底）",
                         "some workers have not confirmed the safety briefing (GB 30871: briefing before work)"),
}


def reason_text(code: str) -> tuple[str, str]:
    return REASONS.get(code, (code, code))


def today(at_ms: int | None = None) -> date:
    """The plant's calendar date at `at_ms` (now by default): expiry dates are the plant's dates."""
    t = events.now_ms() if at_ms is None else at_ms
    return datetime.fromtimestamp(t / 1000, ZoneInfo(P.site_timezone())).date()


def _d(s: str | None) -> date | None:
    return date.fromisoformat(s) if s else None


# ---------------------------------------------------------------- input shapes

class FirmIn(P.Input):
    name: str = Field(min_length=2, max_length=100)
    credit_code: str = Field("", pattern=r"^([0-9A-HJ-NPQRTUWXY]{18})?$")   # GB 32100 统一社会信用代码
    contact: str = Field("", max_length=60)
    phone: str = Field("", max_length=30)


class DocumentIn(P.Input):
    kind: Literal[tuple(R.DOC_KINDS)]  # type: ignore[valid-type]
    number: str = Field("", max_length=60)
    expires_on: date | None = None
    photo: str | None = Field(None, pattern=r"^[0-9a-f]{64}$")


class ReviewIn(P.Input):
    decision: Literal["approve", "reject"]
    reason: str = Field("", max_length=500)


class BlacklistIn(P.Input):
    blacklisted: bool
    reason: str = Field(min_length=2, max_length=500)


class WorkerIn(P.Input):
    """A new person (employee_no, name, job) or an existing one (person_id), and their badge."""

    person_id: int | None = Field(None, gt=0, le=2**31)
    employee_no: str | None = Field(None, pattern=r"^[A-Za-z0-9_-]{1,32}$")
    name: str | None = Field(None, min_length=1, max_length=60)
    job: str = Field("", max_length=60)
    id_number: str = Field("", max_length=18)
    badge_uid: str | None = None

    @field_validator("id_number")
    @classmethod
    def _id(cls, v: str) -> str:
        v = v.upper()
        if v and (problem := R.id_number_problem(v)):
            raise ValueError(f"not a valid 18-character ID number ({problem}, GB 11643-1999)")
        return v

    @model_validator(mode="after")
    def _who(self):
        if self.person_id is None and not (self.employee_no and self.name):
            raise ValueError("give person_id, or employee_no and name for a new person")
        return self


class TrainingIn(P.Input):
    trained_on: date


class JobIn(P.Input):
    title: str = Field(min_length=2, max_length=100)
    area_id: int | None = Field(None, gt=0, le=2**31)
    starts_on: date
    ends_on: date
    workers: list[int] = Field(default_factory=list, max_length=200)
    required_certs: list[Literal[tuple(R.CERT_TYPES)]] = Field(default_factory=list)  # type: ignore[valid-type]

    @model_validator(mode="after")
    def _dates(self):
        if self.ends_on < self.starts_on:
            raise ValueError("ends_on is before starts_on")
        if (self.ends_on - self.starts_on).days > 366:
            raise ValueError("a job may last at most a year; split it")
        return self


class BriefingIn(P.Input):
    content: str = Field(min_length=10, max_length=5000)


class ConfirmIn(P.Input):
    uid: str = Field(min_length=1, max_length=40)


class EvaluationIn(P.Input):
    """The supervisor's counts override the records' (evaluation.findings); one left out is the records'."""

    ppe_violations: int | None = Field(None, ge=0, le=1000)
    hazards_caused: int | None = Field(None, ge=0, le=1000)
    permit_breaches: int | None = Field(None, ge=0, le=1000)
    rating: int = Field(ge=1, le=5)
    note: str = Field("", max_length=1000)


# ---------------------------------------------------------------- views

def _docs_of(firm_id: int) -> list[Document]:
    return list(Document.select().where(Document.firm_id == firm_id).order_by(Document.id))


def firm_state(f: Firm, on: date | None = None) -> R.FirmState:
    cfg = C.current()
    docs = [R.Doc(d.kind, d.status, _d(d.expires_on)) for d in _docs_of(f.id)]
    return R.firm_status(docs, bool(f.blacklisted), on or today(), cfg.required_documents, cfg.expiring_days)


def firm_dict(f: Firm, on: date | None = None) -> dict:
    return firm_dicts([f], on)[0]


def firm_dicts(firms: list[Firm], on: date | None = None) -> list[dict]:
    """firm_dict of each, with three queries for them all (the archive lists every firm: one query per firm
    and table took 170 ms for 300 firms, bench/gate.py's tablets)."""
    cfg = C.current()
    on = on or today()
    ids = [f.id for f in firms]
    docs: dict[int, list[R.Doc]] = {i: [] for i in ids}
    scores: dict[int, list[int]] = {i: [] for i in ids}
    counts: dict[int, int] = {}
    for part in (ids[k:k + 500] for k in range(0, len(ids), 500)):
        for d in Document.select().where(Document.firm_id.in_(part)).order_by(Document.id):
            docs[d.firm_id].append(R.Doc(d.kind, d.status, _d(d.expires_on)))
        for e in Evaluation.select(Evaluation.firm_id, Evaluation.score).where(Evaluation.firm_id.in_(part)) \
                .order_by(Evaluation.evaluated_at.desc()):
            scores[e.firm_id].append(e.score)
        for w in Worker.select(Worker.firm_id, fn.COUNT(Worker.person_id).alias("n")) \
                .where(Worker.firm_id.in_(part)).group_by(Worker.firm_id):
            counts[w.firm_id] = w.n  # type: ignore[attr-defined]  # the COUNT alias
    out = []
    for f in firms:
        st = R.firm_status(docs[f.id], bool(f.blacklisted), on, cfg.required_documents, cfg.expiring_days)
        out.append({"id": f.id, "name": f.name, "credit_code": f.credit_code, "contact": f.contact, "phone": f.phone,
                    "status": st.status, "problems": list(st.problems), "blacklisted": bool(f.blacklisted),
                    "blacklist_reason": f.blacklist_reason, "blacklisted_by": f.blacklisted_by,
                    "blacklisted_at": f.blacklisted_at, "review_flag": R.review_flag(scores[f.id]),
                    "workers": counts.get(f.id, 0), "updated_at": f.updated_at})
    return out


def document_dict(d: Document, on: date | None = None) -> dict:
    return {"id": d.id, "firm_id": d.firm_id, "kind": d.kind, "number": d.number, "expires_on": d.expires_on,
            "state": R.document_state(_d(d.expires_on), on or today(), C.current().expiring_days),
            "photo": d.photo, "status": d.status, "submitted_by": d.submitted_by, "reviewed_by": d.reviewed_by,
            "review_reason": d.review_reason, "reviewed_at": d.reviewed_at}


def worker_dict(w: Worker, on: date | None = None) -> dict:
    p = P.Person.get_by_id(w.person_id)
    badges = [b.uid for b in P.Badge.select().where((P.Badge.person == p.id) & P.Badge.active)]
    return {"person_id": p.id, "employee_no": p.employee_no, "name": p.name, "job": p.job, "firm_id": w.firm_id,
            "active": bool(p.active), "id_number": R.mask_id_number(w.id_number) if w.id_number else "",
            "trained_on": w.trained_on,
            "training": R.training_state(_d(w.trained_on), on or today(), C.current().entry_training_days),
            "badges": [b[-4:] for b in badges]}


def job_dict(j: Job) -> dict:
    workers = [r.person_id for r in JobWorker.select().where(JobWorker.job_id == j.id)]
    confirmed = _confirmed(j.id)
    ev = Evaluation.get_or_none(Evaluation.job_id == j.id)
    return {"id": j.id, "firm_id": j.firm_id, "title": j.title, "area_id": j.area_id, "starts_on": j.starts_on,
            "ends_on": j.ends_on, "required_certs": json.loads(j.required_certs), "status": j.status,
            "created_by": j.created_by, "approved_by": j.approved_by, "started_at": j.started_at,
            "finished_at": j.finished_at, "workers": workers, "briefed": sorted(set(workers) & confirmed),
            "evaluation": evaluation_dict(ev) if ev else None}


def evaluation_dict(e: Evaluation) -> dict:
    return {"id": e.id, "job_id": e.job_id, "firm_id": e.firm_id, "ppe_violations": e.ppe_violations,
            "hazards_caused": e.hazards_caused, "permit_breaches": e.permit_breaches, "rating": e.rating,
            "score": e.score, "grade": e.grade, "note": e.note, "evaluated_by": e.evaluated_by,
            "evaluated_at": e.evaluated_at}


def _confirmed(job_id: int) -> set[int]:
    return {a.person_id for a in Attendee.select(Attendee.person_id)
            .join(Briefing, on=(Briefing.id == Attendee.briefing_id)).where(Briefing.job_id == job_id)}


def get(model, id_: int, zh: str, en: str):
    obj = model.get_or_none(model.id == id_)
    if obj is None:
        raise NotFound(f"{zh} {id_} 不存在", f"{en} {id_} does not exist")
    return obj


# ---------------------------------------------------------------- firms and documents

def create_firm(data: FirmIn, *, actor: str) -> Firm:
    with events.recording(actor) as rec:
        if Firm.get_or_none(Firm.name == data.name):
            raise Conflict(f"name：承包商单位已存在：{data.name}", f"name: the firm already exists: {data.name}")
        t = events.now_ms()
        f = Firm.create(**data.model_dump(), blacklisted=False, created_at=t, updated_at=t)
        rec.emit("contractor.firm_created", entity=("contractor_firm", f.id),
                 payload={"id": f.id, "name": f.name, "credit_code": f.credit_code})
    return f


class FirmUpdate(P.Input):
    """What a firm's record may be corrected to (the status comes from its reviewed documents, never from here)."""

    name: str | None = Field(None, min_length=2, max_length=100)
    credit_code: str | None = Field(None, pattern=r"^([0-9A-HJ-NPQRTUWXY]{18})?$")   # GB 32100
    contact: str | None = Field(None, max_length=60)
    phone: str | None = Field(None, max_length=30)


def update_firm(firm_id: int, data: FirmUpdate, *, actor: str) -> Firm:
    """Correct a firm's name, credit code or contact; the event carries what changed, from and to."""
    with events.recording(actor) as rec:
        f = get(Firm, firm_id, "承包商单位", "firm")
        new = data.model_dump(exclude_none=True)
        if "name" in new and new["name"] != f.name and Firm.get_or_none(Firm.name == new["name"]):
            raise Conflict(f"name：承包商单位已存在：{new['name']}", f"name: the firm already exists: {new['name']}")
        changes = {k: [getattr(f, k), v] for k, v in new.items() if getattr(f, k) != v}
        if not changes:
            return f
        Firm.update(**{k: v for k, (_, v) in changes.items()}, updated_at=events.now_ms()).where(Firm.id == f.id).execute()
        if "name" in changes:   # the core's person records carry the firm's name as their company
            P.Person.update(company=new["name"][:100]).where(
                P.Person.id.in_(Worker.select(Worker.person_id).where(Worker.firm_id == f.id))).execute()
        f = Firm.get_by_id(f.id)
        rec.emit("contractor.firm_updated", entity=("contractor_firm", f.id),
                 payload={"id": f.id, "name": f.name, "changes": changes})
    return f


def add_document(firm_id: int, data: DocumentIn, *, actor: str) -> Document:
    """A scan or photo of a licence, awaiting review (it counts only once approved)."""
    with events.recording(actor) as rec:
        f = get(Firm, firm_id, "承包商单位", "firm")
        d = Document.create(firm_id=f.id, kind=data.kind, number=data.number,
                            expires_on=data.expires_on.isoformat() if data.expires_on else None, photo=data.photo,
                            status="pending", submitted_by=actor, created_at=events.now_ms())
        rec.emit("contractor.document_added", entity=("contractor_document", d.id),
                 payload={"id": d.id, "firm_id": f.id, "firm": f.name, "kind": d.kind, "kind_name": R.DOC_KINDS[d.kind][0], "kind_en": R.DOC_KINDS[d.kind][1],
                          "number": d.number, "expires_on": d.expires_on, "photo": d.photo})
    return d


def review_document(doc_id: int, data: ReviewIn, *, actor: str) -> Document:
    with events.recording(actor) as rec:
        d = get(Document, doc_id, "证照", "document")
        if d.status != "pending":
            raise Conflict("此证照已审核", "this document was already reviewed")
        refusal = R.review_refusal(d.submitted_by, actor, data.decision, data.reason)
        if refusal == "self_review":
            raise Forbidden("不能审核自己提交的证照", "you may not review a document you submitted")
        if refusal == "reason_required":
            raise ValidationFailed("reason：驳回须说明理由", "reason: a rejection needs a reason", details=[{"key": "reason"}])
        status = "approved" if data.decision == "approve" else "rejected"
        Document.update(status=status, reviewed_by=actor, review_reason=data.reason, reviewed_at=events.now_ms()) \
            .where(Document.id == d.id).execute()
        f = Firm.get_by_id(d.firm_id)
        rec.emit("contractor.document_reviewed", entity=("contractor_document", d.id),
                 payload={"id": d.id, "firm_id": f.id, "firm": f.name, "kind": d.kind, "kind_name": R.DOC_KINDS[d.kind][0], "kind_en": R.DOC_KINDS[d.kind][1],
                          "status": status, "reason": data.reason, "firm_status": firm_state(f).status})
    return Document.get_by_id(doc_id)


def set_blacklist(firm_id: int, data: BlacklistIn, *, actor: str) -> Firm:
    """On or off the blacklist, with the reason and who decided (the gate refuses the firm's people)."""
    with events.recording(actor) as rec:
        f = get(Firm, firm_id, "承包商单位", "firm")
        if bool(f.blacklisted) == data.blacklisted:
            raise Conflict("黑名单状态未改变", "the firm is already in that state")
        t = events.now_ms()
        Firm.update(blacklisted=data.blacklisted, blacklist_reason=data.reason, blacklisted_by=actor,
                    blacklisted_at=t, updated_at=t).where(Firm.id == f.id).execute()
        rec.emit("contractor.blacklisted" if data.blacklisted else "contractor.unblacklisted",
                 entity=("contractor_firm", f.id), payload={"id": f.id, "firm": f.name, "reason": data.reason})
    return Firm.get_by_id(firm_id)


# ---------------------------------------------------------------- workers

def add_worker(firm_id: int, data: WorkerIn, *, actor: str) -> Worker:
    """A contractor's worker: a person of the core (made here when new, kind "contractor", company = the
    firm), linked to the firm, with their badge when given (the core's events record both)."""
    with events.recording(actor) as rec:
        f = get(Firm, firm_id, "承包商单位", "firm")
        if data.person_id is not None:
            person = P.Person.get_or_none(P.Person.id == data.person_id)
            if person is None:
                raise ValidationFailed(f"person_id：人员 {data.person_id} 不存在",
                                       f"person_id: person {data.person_id} does not exist", details=[{"key": "person_id"}])
        else:
            assert data.employee_no and data.name   # WorkerIn._who
            person = P.create_person(P.PersonIn(employee_no=data.employee_no, name=data.name, kind="contractor",
                                                job=data.job, company=f.name[:100]), actor=actor)
        if Worker.get_or_none(Worker.person_id == person.id):
            raise Conflict(f"{person.name} 已是承包商人员", f"{person.name} is already a contractor's worker")
        if data.badge_uid:
            P.issue_badge(P.BadgeIn(uid=data.badge_uid, person_id=person.id), actor=actor)
        t = events.now_ms()
        w = Worker.create(person_id=person.id, firm_id=f.id, id_number=data.id_number, created_at=t, updated_at=t)
        rec.emit("contractor.worker_added", entity=("contractor_worker", person.id),
                 payload={"person_id": person.id, "person": person.name, "firm_id": f.id, "firm": f.name,
                          "id_number": R.mask_id_number(data.id_number) if data.id_number else ""})
    return w


def record_training(person_id: int, data: TrainingIn, *, actor: str) -> Worker:
    """入厂安全教育 given on `trained_on` (not in the future)."""
    with events.recording(actor) as rec:
        w = Worker.get_or_none(Worker.person_id == person_id)
        if w is None:
            raise NotFound(f"承包商人员 {person_id} 不存在", f"contractor worker {person_id} does not exist")
        if data.trained_on > today():
            raise ValidationFailed("trained_on：培训日期不能晚于今天", "trained_on: the date may not be in the future",
                                   details=[{"key": "trained_on"}])
        Worker.update(trained_on=data.trained_on.isoformat(), trained_by=actor, updated_at=events.now_ms()) \
            .where(Worker.person_id == person_id).execute()
        p = P.Person.get_by_id(person_id)
        rec.emit("contractor.trained", entity=("contractor_worker", person_id),
                 payload={"person_id": person_id, "person": p.name, "trained_on": data.trained_on.isoformat()})
    return Worker.get_by_id(person_id)


# ---------------------------------------------------------------- jobs, briefings, evaluations

def create_job(firm_id: int, data: JobIn, *, actor: str) -> Job:
    with events.recording(actor) as rec:
        f = get(Firm, firm_id, "承包商单位", "firm")
        if data.area_id is not None and P.Area.get_or_none(P.Area.id == data.area_id) is None:
            raise ValidationFailed(f"area_id：区域 {data.area_id} 不存在", f"area_id: area {data.area_id} does not exist",
                                   details=[{"key": "area_id"}])
        mine = {w.person_id for w in Worker.select().where(Worker.firm_id == f.id)}
        strangers = [p for p in data.workers if p not in mine]
        if strangers:
            raise ValidationFailed(f"workers：人员 {strangers} 不是 {f.name} 的人员",
                                   f"workers: people {strangers} are not {f.name}'s workers", details=[{"key": "workers"}])
        t = events.now_ms()
        j = Job.create(firm_id=f.id, title=data.title, area_id=data.area_id, starts_on=data.starts_on.isoformat(),
                       ends_on=data.ends_on.isoformat(), required_certs=json.dumps(list(dict.fromkeys(data.required_certs))),
                       status="planned", created_by=actor, created_at=t, updated_at=t)
        for pid in dict.fromkeys(data.workers):
            JobWorker.create(job_id=j.id, person_id=pid)
        rec.emit("contractor.job_created", entity=("contractor_job", j.id), payload={**job_dict(j), "firm": f.name})
    return j


def approve_job(job_id: int, *, actor: str) -> Job:
    with events.recording(actor) as rec:
        j = get(Job, job_id, "作业", "job")
        if j.status != "planned":
            raise Conflict("只有计划中的作业可以批准", "only a planned job can be approved")
        if j.created_by == actor:
            raise Forbidden("不能批准自己登记的作业", "you may not approve a job you registered")
        f = Firm.get_by_id(j.firm_id)
        st = firm_state(f)
        if st.status in ("expired", "blacklisted"):
            zh, en = reason_text("blacklisted" if st.status == "blacklisted" else "firm_unqualified")
            raise Conflict(f"{zh}，不能批准作业（安全生产法第四十九条）", f"{en}; the job cannot be approved (Work Safety Law Art. 49)")
        Job.update(status="approved", approved_by=actor, updated_at=events.now_ms()).where(Job.id == j.id).execute()
        rec.emit("contractor.job_approved", entity=("contractor_job", j.id),
                 payload={"id": j.id, "title": j.title, "firm": f.name})
    return Job.get_by_id(job_id)


def start_job(job_id: int, *, actor: str) -> Job:
    with events.recording(actor) as rec:
        j = get(Job, job_id, "作业", "job")
        workers = [r.person_id for r in JobWorker.select().where(JobWorker.job_id == j.id)]
        refusal = R.start_refusal(j.status, workers, _confirmed(j.id))
        if refusal:
            zh, en = START_REFUSALS[refusal]
            raise Conflict(zh, en)
        t = events.now_ms()
        Job.update(status="started", started_at=t, updated_at=t).where(Job.id == j.id).execute()
        rec.emit("contractor.job_started", entity=("contractor_job", j.id), payload={"id": j.id, "title": j.title})
    return Job.get_by_id(job_id)


def finish_job(job_id: int, *, actor: str) -> Job:
    with events.recording(actor) as rec:
        j = get(Job, job_id, "作业", "job")
        if j.status != "started":
            raise Conflict("只有进行中的作业可以结束", "only a started job can be finished")
        t = events.now_ms()
        Job.update(status="finished", finished_at=t, updated_at=t).where(Job.id == j.id).execute()
        rec.emit("contractor.job_finished", entity=("contractor_job", j.id), payload={"id": j.id, "title": j.title})
    return Job.get_by_id(job_id)


def give_briefing(job_id: int, data: BriefingIn, *, actor: str) -> Briefing:
    """The briefing's content, stored before the workers confirm it (GB 30871 作业前安全交底)."""
    with events.recording(actor) as rec:
        j = get(Job, job_id, "作业", "job")
        if j.status not in ("planned", "approved", "started"):
            raise Conflict("作业已结束，不能再交底", "the job is over; no briefing can be given")
        b = Briefing.create(job_id=j.id, content=data.content, given_by=actor, given_at=events.now_ms())
        rec.emit("contractor.briefing_given", entity=("contractor_briefing", b.id),
                 payload={"id": b.id, "job_id": j.id, "title": j.title, "content": data.content})
    return b


def confirm_briefing(briefing_id: int, data: ConfirmIn, *, actor: str) -> dict:
    """An attendee confirms with their badge (a desk reader typing the UID, or the UID read at a reader):
    only a worker on the job, once."""
    with events.recording(actor) as rec:
        b = get(Briefing, briefing_id, "安全交底", "briefing")
        person = P.person_for_badge(data.uid)
        if person is None:
            raise ValidationFailed("uid：未登记或已停用的卡", "uid: unknown or deactivated card", details=[{"key": "uid"}])
        if not JobWorker.select().where((JobWorker.job_id == b.job_id) & (JobWorker.person_id == person.id)).exists():
            raise Conflict(f"{person.name} 不是此作业的作业人员", f"{person.name} is not a worker on this job")
        if Attendee.get_or_none((Attendee.briefing_id == b.id) & (Attendee.person_id == person.id)):
            raise Conflict(f"{person.name} 已确认过此次交底", f"{person.name} already confirmed this briefing")
        uid = P.normalize_uid(data.uid)
        Attendee.create(briefing_id=b.id, person_id=person.id, confirmed_at=events.now_ms(), uid_tail=uid[-4:])
        rec.emit("contractor.briefing_confirmed", entity=("contractor_briefing", b.id),
                 payload={"briefing_id": b.id, "job_id": b.job_id, "person_id": person.id, "person": person.name,
                          "uid_tail": uid[-4:]})
    return {"briefing_id": b.id, "person_id": person.id, "person": person.name}


def evaluate_job(job_id: int, data: EvaluationIn, *, actor: str) -> Evaluation:
    """After the job: its score and grade; a low score flags the firm for review (an event the safety
    office sees), and a repeat proposes the blacklist — a person decides that."""
    with events.recording(actor) as rec:
        j = get(Job, job_id, "作业", "job")
        if j.status != "finished":
            raise Conflict("作业结束后才能评价", "a job is evaluated after it is finished")
        if Evaluation.get_or_none(Evaluation.job_id == j.id):
            raise Conflict("此作业已评价", "this job was already evaluated")
        from appliance.contractors.evaluation import findings

        found = findings(j.id)
        counts, overridden = R.prefill(found, data.model_dump(include=set(R.FINDINGS)))
        score, grade = R.evaluation_score(counts["ppe_violations"], counts["hazards_caused"],
                                          counts["permit_breaches"], data.rating)
        e = Evaluation.create(job_id=j.id, firm_id=j.firm_id, score=score, grade=grade, evaluated_by=actor,
                              evaluated_at=events.now_ms(), rating=data.rating, note=data.note, **counts)
        f = Firm.get_by_id(j.firm_id)
        rec.emit("contractor.evaluated", entity=("contractor_job", j.id),
                 payload={**evaluation_dict(e), "firm": f.name, "title": j.title,
                          "found": {k: found[k] for k in R.FINDINGS}, "overridden": list(overridden)})
        scores = [x.score for x in Evaluation.select().where(Evaluation.firm_id == f.id)
                  .order_by(Evaluation.evaluated_at.desc(), Evaluation.id.desc())]
        flag = R.review_flag(scores)
        if flag:
            rec.emit("contractor.review_flagged", entity=("contractor_firm", f.id),
                     payload={"id": f.id, "firm": f.name, "flag": flag, "score": score})
    return e
