"""Courses in short units (a video played from the box, or a PDF document), assigned by login role,
department, work type, contractor firm or person; progress per person; "learn now" offers.

Who an assignment reaches is read from the core's records only: the login's role (`auth.User.role`), the
person's department, job (工种 — the work type) and company. A contractor's firm is the person's `company`
as the contractors domain writes it when it registers a worker (that domain comes after training, so it is
never imported here). Exams can be assigned the same way (they stay open to everyone with a login).

A unit is done when its video was played to [training] video_done_share (90 %) of the length the server
read from the file — measured over the played ranges the page reports, merged on the server, and never more
than the wall time since the unit was opened allows (`rules.plausible_watch`) — or when its document was
opened (its file fetched by that person) and then confirmed as read.

"Learn now": `on_event` (a bus subscriber) offers the related units (`rules.learn_now_topics`,
`rules.related_units`) to the person an event names: a hazard dispatched to someone (its category from the
hazard's report), or a confirmed PPE violation or a hazard whose payload names a `person_id`. Each offer is a
`course.learn_offered` event and sits in the person's training inbox until the unit is done.
"""
from __future__ import annotations

import json
import logging
from datetime import date
from pathlib import Path
from typing import IO, Any, Literal

import peewee
from pydantic import Field, field_validator

from appliance.core import auth, events
from appliance.core.db import BaseModel as Model
from appliance.core.errors import Conflict, NotFound, ValidationFailed
from appliance.core.people import Input, Person
from appliance.training import media, settings
from appliance.training import rules as R

log = logging.getLogger(__name__)


class Course(Model):
    title = peewee.TextField()
    description = peewee.TextField()
    active = peewee.BooleanField()
    created_at = peewee.IntegerField()
    updated_at = peewee.IntegerField()

    class Meta:
        table_name = "courses"


class Unit(Model):
    course_id = peewee.IntegerField()
    position = peewee.IntegerField()
    title = peewee.TextField()
    kind = peewee.TextField()
    file = peewee.TextField()
    mime = peewee.TextField()
    size = peewee.IntegerField()
    topic = peewee.TextField()
    work_type = peewee.TextField()
    duration_s = peewee.FloatField(null=True)
    media_state = peewee.TextField()
    media_error = peewee.TextField(null=True)
    created_at = peewee.IntegerField()

    class Meta:
        table_name = "course_units"


class Assignment(Model):
    item_kind = peewee.TextField()
    item_id = peewee.IntegerField()
    target_kind = peewee.TextField()
    target = peewee.TextField()
    due_on = peewee.TextField(null=True)
    active = peewee.BooleanField()
    created_by = peewee.TextField()
    created_at = peewee.IntegerField()

    class Meta:
        table_name = "training_assignments"


class Progress(Model):
    person_id = peewee.IntegerField()
    unit_id = peewee.IntegerField()
    opened_at = peewee.IntegerField()
    last_at = peewee.IntegerField()
    watched = peewee.TextField()
    watched_s = peewee.FloatField()
    completed_at = peewee.IntegerField(null=True)

    class Meta:
        table_name = "unit_progress"
        primary_key = peewee.CompositeKey("person_id", "unit_id")


class Offer(Model):
    person_id = peewee.IntegerField()
    unit_id = peewee.IntegerField()
    source_type = peewee.TextField()
    source_id = peewee.TextField()
    reason = peewee.TextField()
    offered_at = peewee.IntegerField()
    done_at = peewee.IntegerField(null=True)

    class Meta:
        table_name = "learn_offers"


# ---------------------------------------------------------------- inputs

class CourseIn(Input):
    title: str = Field(min_length=2, max_length=100)
    description: str = Field("", max_length=2000)


class UnitIn(Input):
    """The form fields beside the uploaded file."""

    title: str = Field(min_length=2, max_length=100)
    topic: str = Field("", max_length=40)
    work_type: str = Field("", max_length=40)


class AssignIn(Input):
    item_kind: Literal["course", "exam"] = "course"
    item_id: int = Field(gt=0, le=2**31)
    target_kind: Literal[R.TARGET_KINDS]  # type: ignore[valid-type]
    target: str = Field(min_length=1, max_length=100)
    due_on: str | None = None

    @field_validator("due_on")
    @classmethod
    def _day(cls, v: str | None) -> str | None:
        if v is None:
            return v
        try:
            return date.fromisoformat(v).isoformat()
        except ValueError:
            raise ValueError("must be a date YYYY-MM-DD") from None


class PlayedIn(Input):
    """The ranges the page's video element has played (its `played` TimeRanges), in seconds."""

    played: list[list[float]] = Field(max_length=500)

    @field_validator("played")
    @classmethod
    def _ranges(cls, v: list[list[float]]) -> list[list[float]]:
        for i, r in enumerate(v):
            if len(r) != 2 or not 0 <= r[0] <= r[1] <= 86_400:
                raise ValueError(f"range {i} must be [start, end] seconds with 0 <= start <= end")
        return v


# ---------------------------------------------------------------- courses and units

def root(data_dir: Path) -> Path:
    """Where course files live: the data directory's training/ folder."""
    return Path(data_dir) / "training"


def create_course(data: CourseIn, *, actor: str) -> Course:
    with events.recording(actor) as rec:
        t = events.now_ms()
        c = Course.create(title=data.title, description=data.description, active=True, created_at=t, updated_at=t)
        rec.emit("course.created", entity=("course", c.id), payload=data.model_dump())
    return c


def get_course(course_id: int) -> Course:
    c = Course.get_or_none(Course.id == course_id)
    if c is None:
        raise NotFound(f"课程 {course_id} 不存在", f"course {course_id} does not exist")
    return c


def get_unit(unit_id: int) -> Unit:
    u = Unit.get_or_none(Unit.id == unit_id)
    if u is None:
        raise NotFound(f"课程单元 {unit_id} 不存在", f"course unit {unit_id} does not exist")
    return u


def add_unit(course_id: int, data: UnitIn, stream: IO[bytes], data_dir: Path, *, actor: str,
             probe_now: bool = False) -> Unit:
    """Store the file (size-limited by its kind) and add it as the course's next unit; a video is probed on
    the worker thread (or here, when `probe_now`, for the demo seed)."""
    cfg = settings.current()
    get_course(course_id)
    folder = root(data_dir)
    digest, mime, size = media.store(stream, folder, {"video": cfg.video_max_mb, "document": cfg.document_max_mb})
    kind = media.KIND_OF[mime]
    with events.recording(actor) as rec:
        last = Unit.select(peewee.fn.MAX(Unit.position)).where(Unit.course_id == course_id).scalar() or 0
        u = Unit.create(course_id=course_id, position=last + 1, title=data.title, kind=kind, file=digest, mime=mime,
                        size=size, topic=data.topic, work_type=data.work_type, duration_s=None,
                        media_state="pending" if kind == "video" else "ready", media_error=None,
                        created_at=events.now_ms())
        rec.emit("course.unit_added", entity=("course_unit", u.id),
                 payload={"course_id": course_id, "position": u.position, "title": u.title, "kind": kind, "file": digest,
                          "mime": mime, "size": size, "topic": u.topic, "work_type": u.work_type})
    if kind == "video":
        path = folder / f"{digest}.{media.EXT[mime]}"
        thumb = media.thumb_of(folder, digest)
        if probe_now:
            _probed(u.id, media.probe(path, thumb))
        else:
            media.submit(path, thumb, lambda result: _probed(u.id, result))
    return get_unit(u.id)


def _probed(unit_id: int, result: dict) -> None:
    """The worker's answer: the unit is ready with its length, or failed with the reason."""
    with events.recording("system:training") as rec:
        u = get_unit(unit_id)
        if "duration" in result:
            u.duration_s, u.media_state, u.media_error = float(result["duration"]), "ready", None
        else:
            u.media_state, u.media_error = "failed", str(result.get("error", "unknown"))[:300]
        u.save()
        rec.emit("course.unit_media", entity=("course_unit", u.id),
                 payload={"state": u.media_state, "duration_s": u.duration_s, "error": u.media_error})


def unit_dict(u: Unit, progress: Progress | None = None) -> dict:
    d: dict[str, Any] = {"id": u.id, "course_id": u.course_id, "position": u.position, "title": u.title, "kind": u.kind,
                         "mime": u.mime, "size": u.size, "topic": u.topic, "work_type": u.work_type,
                         "duration_s": u.duration_s, "media_state": u.media_state, "media_error": u.media_error,
                         "file_url": f"/api/v1/training/units/{u.id}/file",
                         "thumb_url": f"/api/v1/training/units/{u.id}/thumb" if u.kind == "video" and u.media_state == "ready" else None}
    if progress is not None or u.kind:
        d["progress"] = progress_dict(progress) if progress is not None else None
    return d


def progress_dict(p: Progress) -> dict:
    return {"opened_at": p.opened_at, "last_at": p.last_at, "watched_s": p.watched_s,
            "completed_at": p.completed_at, "done": p.completed_at is not None}


def units_of(course_id: int) -> list[Unit]:
    return list(Unit.select().where(Unit.course_id == course_id).order_by(Unit.position))


def course_dict(c: Course, person_id: int | None = None) -> dict:
    units = units_of(c.id)
    prog = _progress(person_id, [u.id for u in units]) if person_id else {}
    done = sum(1 for u in units if prog.get(u.id) and prog[u.id].completed_at)
    last = max((p.last_at for p in prog.values()), default=None)
    return {"id": c.id, "title": c.title, "description": c.description, "active": bool(c.active),
            "units": [unit_dict(u, prog.get(u.id)) for u in units], "done": done, "total": len(units), "last_at": last}


def _progress(person_id: int | None, unit_ids: list[int]) -> dict[int, Progress]:
    if not person_id or not unit_ids:
        return {}
    return {p.unit_id: p for p in Progress.select().where((Progress.person_id == person_id)
                                                          & Progress.unit_id.in_(unit_ids))}


# ---------------------------------------------------------------- assignment

def facts(person_ids: list[int] | None = None) -> dict[int, dict]:
    """What an assignment is matched against, per active person: id, their login's role, department, job
    (work type), company (contractor firm)."""
    q = Person.select().where(Person.active)
    if person_ids is not None:
        q = q.where(Person.id.in_(person_ids))
    out = {p.id: {"id": p.id, "name": p.name, "employee_no": p.employee_no, "role": None, "department": p.department,
                  "job": p.job, "company": p.company} for p in q}
    for u in auth.User.select().where(auth.User.active):
        if u.person_id is not None and u.person_id in out:
            out[u.person_id]["role"] = u.role
    return out


def assign(data: AssignIn, *, actor: str) -> Assignment:
    with events.recording(actor) as rec:
        if data.item_kind == "course":
            get_course(data.item_id)
        else:
            from appliance.training.exams import get_exam

            get_exam(data.item_id)
        if data.target_kind == "person" and (not data.target.isdigit() or Person.get_or_none(Person.id == int(data.target)) is None):
            raise ValidationFailed(f"target：人员 {data.target} 不存在", f"target: person {data.target} does not exist",
                                   details=[{"key": "target"}])
        key = ((Assignment.item_kind == data.item_kind) & (Assignment.item_id == data.item_id)
               & (Assignment.target_kind == data.target_kind) & (Assignment.target == data.target))
        a = Assignment.get_or_none(key)
        if a is not None and a.active:
            raise Conflict("已分配给该对象", "already assigned to that target", details=[{"key": "target"}])
        if a is None:
            a = Assignment.create(**data.model_dump(), active=True, created_by=actor, created_at=events.now_ms())
        else:
            a.active, a.due_on = True, data.due_on
            a.save()
        reached = sorted(assignees(a))
        rec.emit("course.assigned", entity=("training_assignment", a.id), payload={**data.model_dump(), "people": reached})
    return a


def unassign(assignment_id: int, *, actor: str) -> Assignment:
    with events.recording(actor) as rec:
        a = Assignment.get_or_none(Assignment.id == assignment_id)
        if a is None or not a.active:
            raise NotFound(f"分配 {assignment_id} 不存在", f"assignment {assignment_id} does not exist")
        a.active = False
        a.save()
        rec.emit("course.unassigned", entity=("training_assignment", a.id),
                 payload={"item_kind": a.item_kind, "item_id": a.item_id, "target_kind": a.target_kind, "target": a.target})
    return a


def assignees(a: Assignment, people: dict[int, dict] | None = None) -> set[int]:
    people = facts() if people is None else people
    return {pid for pid, f in people.items() if R.assignment_matches(a.target_kind, a.target, f)}


def assignment_dict(a: Assignment, people: dict[int, dict] | None = None) -> dict:
    return {"id": a.id, "item_kind": a.item_kind, "item_id": a.item_id, "target_kind": a.target_kind,
            "target": a.target, "due_on": a.due_on, "people": len(assignees(a, people))}


def assigned_to(person_id: int, item_kind: str = "course") -> dict[int, str | None]:
    """The items assigned to a person: item id → the earliest due day (None: no due day)."""
    f = facts([person_id]).get(person_id)
    out: dict[int, str | None] = {}
    if f is None:
        return out
    for a in Assignment.select().where(Assignment.active & (Assignment.item_kind == item_kind)):
        if R.assignment_matches(a.target_kind, a.target, f):
            due = out.get(a.item_id)
            out[a.item_id] = min(d for d in (due, a.due_on) if d) if (due or a.due_on) else None
    return out


def progress_report(course_id: int | None = None, department: str | None = None) -> list[dict]:
    """The supervisor's view: for each active assignment's course, each person it reaches — units done of
    the total, last activity, due day; the least advanced first."""
    people = facts()
    courses = {c.id: c for c in Course.select().where(Course.active)}
    reach: dict[tuple[int, int], str | None] = {}
    for a in Assignment.select().where(Assignment.active & (Assignment.item_kind == "course")):
        if a.item_id not in courses or (course_id is not None and a.item_id != course_id):
            continue
        for pid in assignees(a, people):
            if department and people[pid]["department"] != department:
                continue
            reach[(a.item_id, pid)] = a.due_on if reach.get((a.item_id, pid)) is None else reach[(a.item_id, pid)]
    units = {cid: [u.id for u in units_of(cid)] for cid in {c for c, _ in reach}}
    prog: dict[tuple[int, int], Progress] = {}
    all_units = [u for us in units.values() for u in us]
    if all_units:
        for p in Progress.select().where(Progress.unit_id.in_(all_units)):
            prog[(p.person_id, p.unit_id)] = p
    rows = []
    for (cid, pid), due in reach.items():
        mine = [prog[(pid, u)] for u in units[cid] if (pid, u) in prog]
        done = sum(1 for p in mine if p.completed_at)
        f = people[pid]
        rows.append({"course_id": cid, "course": courses[cid].title, "person_id": pid, "person": f["name"],
                     "employee_no": f["employee_no"], "department": f["department"], "company": f["company"],
                     "done": done, "total": len(units[cid]), "last_at": max((p.last_at for p in mine), default=None),
                     "due_on": due, "state": "done" if units[cid] and done == len(units[cid]) else
                     ("started" if mine else "not_started")})
    return sorted(rows, key=lambda r: (r["course_id"], r["done"] / (r["total"] or 1), r["employee_no"]))


# ---------------------------------------------------------------- taking a unit

def open_unit(unit_id: int, person_id: int, *, actor: str) -> Progress:
    """The person opened the unit (its page, or its document's file): the clock for plausibility starts."""
    with events.recording(actor) as rec:
        u = get_unit(unit_id)
        p = Progress.get_or_none((Progress.person_id == person_id) & (Progress.unit_id == unit_id))
        if p is not None:
            return p
        t = events.now_ms()
        Progress.insert(person_id=person_id, unit_id=u.id, opened_at=t, last_at=t, watched="[]", watched_s=0,
                        completed_at=None).execute()
        rec.emit("course.unit_opened", entity=("course_unit", u.id), payload={"person_id": person_id, "course_id": u.course_id})
    return Progress.get((Progress.person_id == person_id) & (Progress.unit_id == unit_id))


def _mine(unit_id: int, person_id: int) -> Progress:
    p = Progress.get_or_none((Progress.person_id == person_id) & (Progress.unit_id == unit_id))
    if p is None:
        raise Conflict("请先打开该单元", "open the unit first")
    return p


def report_played(unit_id: int, person_id: int, data: PlayedIn, *, actor: str, now_ms: int | None = None) -> Progress:
    """Merge the ranges played into the person's record; done at video_done_share of the video's length."""
    now_ms = events.now_ms() if now_ms is None else now_ms
    share = settings.current().video_done_share
    with events.recording(actor) as rec:
        u = get_unit(unit_id)
        if u.kind != "video":
            raise ValidationFailed("played：该单元不是视频", "played: the unit is not a video", details=[{"key": "played"}])
        p = _mine(unit_id, person_id)
        merged = R.merge_ranges(json.loads(p.watched) + data.played, u.duration_s)
        seen = R.covered(merged)
        if not R.plausible_watch(0.0, seen, (now_ms - p.opened_at) / 1000):
            raise ValidationFailed("played：报告的观看时长超过打开以来的时间", "played: more was reported played than the time since the unit was opened allows",
                                   details=[{"key": "played"}])
        finished = p.completed_at is None and R.video_done(seen, u.duration_s, share)
        p.watched, p.watched_s, p.last_at = json.dumps(merged), seen, now_ms
        if finished:
            p.completed_at = now_ms
        Progress.update(watched=p.watched, watched_s=seen, last_at=now_ms, completed_at=p.completed_at).where(
            (Progress.person_id == person_id) & (Progress.unit_id == unit_id)).execute()
        rec.emit("course.unit_progress", entity=("course_unit", u.id),
                 payload={"person_id": person_id, "watched_s": seen, "duration_s": u.duration_s, "done": p.completed_at is not None})
        if finished:
            _completed(rec, u, person_id, now_ms)
    return p


def confirm_document(unit_id: int, person_id: int, *, actor: str) -> Progress:
    """A document read: refused unless its file was opened by the person first."""
    with events.recording(actor) as rec:
        u = get_unit(unit_id)
        if u.kind != "document":
            raise ValidationFailed("unit：该单元不是文档", "unit: the unit is not a document", details=[{"key": "unit"}])
        p = _mine(unit_id, person_id)
        if p.completed_at is not None:
            return p
        t = events.now_ms()
        p.completed_at = p.last_at = t
        Progress.update(completed_at=t, last_at=t).where((Progress.person_id == person_id) & (Progress.unit_id == unit_id)).execute()
        _completed(rec, u, person_id, t)
    return p


def _completed(rec, u: Unit, person_id: int, t: int) -> None:
    rec.emit("course.unit_completed", entity=("course_unit", u.id),
             payload={"person_id": person_id, "course_id": u.course_id, "title": u.title})
    Offer.update(done_at=t).where((Offer.person_id == person_id) & (Offer.unit_id == u.id) & Offer.done_at.is_null()).execute()


# ---------------------------------------------------------------- learn now

def offer(person_id: int, topics: tuple[str, ...], source_type: str, source_id: str, reason: str, *,
          actor: str = "system:training") -> list[Offer]:
    """Offer the person the units related to `topics` (not done yet, not already offered for this source)."""
    person = Person.get_or_none(Person.id == person_id)
    if person is None or not topics:
        return []
    active = Course.select(Course.id).where(Course.active)
    units = [(u.id, u.topic, u.work_type) for u in Unit.select().where(Unit.course_id.in_(active))
             .order_by(Unit.course_id, Unit.position)]
    done = {p.unit_id for p in Progress.select().where((Progress.person_id == person_id) & Progress.completed_at.is_null(False))}
    picked = [uid for uid in R.related_units([x for x in units if x[0] not in done], topics, person.job)]
    out = []
    with events.recording(actor) as rec:
        for uid in picked:
            key = ((Offer.person_id == person_id) & (Offer.unit_id == uid) & (Offer.source_type == source_type)
                   & (Offer.source_id == source_id))
            if Offer.get_or_none(key) is not None:
                continue
            o = Offer.create(person_id=person_id, unit_id=uid, source_type=source_type, source_id=source_id,
                             reason=reason[:200], offered_at=events.now_ms(), done_at=None)
            rec.emit("course.learn_offered", entity=("course_unit", uid),
                     payload={"person_id": person_id, "source_type": source_type, "source_id": source_id, "reason": o.reason,
                              "topics": list(topics)})
            out.append(o)
    return out


def offers_for(person_id: int) -> list[dict]:
    rows = list(Offer.select().where((Offer.person_id == person_id) & Offer.done_at.is_null())
                .order_by(Offer.id))
    units = {u.id: u for u in Unit.select().where(Unit.id.in_([o.unit_id for o in rows]))}
    return [{"id": o.id, "unit_id": o.unit_id, "unit": units[o.unit_id].title, "course_id": units[o.unit_id].course_id,
             "source_type": o.source_type, "source_id": o.source_id, "reason": o.reason, "offered_at": o.offered_at}
            for o in rows if o.unit_id in units]


def _person_of_login(login: str | None) -> int | None:
    if not login:
        return None
    u = auth.User.get_or_none(auth.User.login == login.removeprefix("user:"))
    return u.person_id if u else None


def _hazard_category(hazard_id: str) -> str | None:
    """The category a hazard was reported with, from its hazard.reported event (the hazards domain comes
    first in the order, but the log is the contract: no import of it)."""
    ev = (events.Event.select().where((events.Event.type == "hazard.reported") & (events.Event.entity_type == "hazard")
                                      & (events.Event.entity_id == hazard_id)).order_by(events.Event.seq.desc()).first())
    if ev is None:
        return None
    payload = json.loads(ev.payload) if isinstance(ev.payload, str) else ev.payload
    return payload.get("category")


# vision.person_named: the person seen named (or corrected) on a confirmed violation after its review; the
# violation row keeps the person (migration 0035) and the event carries the id, as vision.confirmed does
LEARN_NOW_EVENTS = ("hazard.reported", "hazard.dispatched", "vision.confirmed", "vision.person_named")


def on_event(ev) -> None:
    """The bus subscriber: a hazard dispatched to a person (or naming a `person_id`), or a confirmed PPE
    violation naming the person (`person_id`, or `person_ids`), offers them the related units."""
    if ev.type not in LEARN_NOW_EVENTS:
        return
    payload = ev.payload or {}
    people: list[int] = [int(x) for x in ([payload.get("person_id")] + list(payload.get("person_ids") or []))
                         if isinstance(x, int) or (isinstance(x, str) and x.isdigit())]
    if ev.type == "hazard.dispatched":
        pid = _person_of_login(payload.get("assignee"))
        if pid is not None:
            people.append(pid)
    if not people:
        return
    category = payload.get("category") if ev.type == "hazard.reported" else None
    if ev.type == "hazard.dispatched":
        category = _hazard_category(str(ev.entity_id))
    topics = R.learn_now_topics(ev.type, category)
    what = "视频识别违章" if ev.type.startswith("vision.") else f"隐患（{category or '?'}）"
    # a violation's offers share one source whichever event named the person: naming them again after the
    # confirm offers nothing twice
    source = "vision.confirmed" if ev.type.startswith("vision.") else ev.type
    for pid in dict.fromkeys(people):
        offer(pid, topics, source, str(ev.entity_id), f"{what} #{ev.entity_id}")
