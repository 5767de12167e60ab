"""Exams generated from rules (topic × difficulty × count, random per person, pass mark, time limit), taken on
a phone or tablet, scored on the server; retakes up to the exam's limit; mastery per person, department and
topic.

Anti-cheating basics: one open attempt per person and exam (starting again resumes it; a unique index
guards the race), the paper sent without answers, the time limit kept by the server's clock (a submission
later than the deadline plus [training] exam_grace_seconds is refused and the attempt closed as timed out,
its answers kept), and a second submission refused (409) rather than scored twice.
"""
from __future__ import annotations

import json
from typing import Any

import peewee
from pydantic import Field, field_validator

from appliance.core import events
from appliance.core.db import BaseModel as Model
from appliance.core.errors import Conflict, NotFound, ValidationFailed
from appliance.core.people import Input, Person
from appliance.training import rules as R
from appliance.training import settings
from appliance.training.bank import Question, pool, question_dict


class Exam(Model):
    title = peewee.TextField()
    picks = peewee.TextField()
    pass_mark = peewee.FloatField()
    time_limit_s = peewee.IntegerField()
    max_attempts = peewee.IntegerField()
    active = peewee.BooleanField()
    created_at = peewee.IntegerField()
    updated_at = peewee.IntegerField()

    class Meta:
        table_name = "exams"


class Attempt(Model):
    exam_id = peewee.IntegerField()
    person_id = peewee.IntegerField()
    number = peewee.IntegerField()
    questions = peewee.TextField()
    started_at = peewee.IntegerField()
    deadline_at = peewee.IntegerField()
    state = peewee.TextField()
    answers = peewee.TextField(null=True)
    results = peewee.TextField(null=True)
    submitted_at = peewee.IntegerField(null=True)
    correct = peewee.IntegerField(null=True)
    score = peewee.FloatField(null=True)
    passed = peewee.BooleanField(null=True)

    class Meta:
        table_name = "exam_attempts"


class PickIn(Input):
    topic: str | None = Field(None, max_length=40)
    difficulty: int | None = Field(None, ge=1, le=3)
    count: int = Field(ge=1, le=200)


class ExamIn(Input):
    title: str = Field(min_length=2, max_length=100)
    picks: list[PickIn] = Field(min_length=1, max_length=20)
    pass_mark: float = Field(80, ge=1, le=100)        # percent; 安全生产考试 commonly 80 分及格
    time_limit_min: int = Field(30, ge=1, le=240)
    max_attempts: int = Field(3, ge=1, le=20)

    @field_validator("picks")
    @classmethod
    def _total(cls, v: list[PickIn]) -> list[PickIn]:
        if sum(p.count for p in v) > 200:
            raise ValueError("at most 200 questions a paper")
        return v


class SubmitIn(Input):
    answers: dict[str, list[int]] = Field(max_length=200)   # question id → chosen option indexes


def exam_dict(e: Exam) -> dict:
    picks = json.loads(e.picks)
    return {"id": e.id, "title": e.title, "picks": picks, "questions": sum(p["count"] for p in picks),
            "pass_mark": e.pass_mark, "time_limit_min": e.time_limit_s // 60, "max_attempts": e.max_attempts,
            "active": bool(e.active)}


def _picks(e: Exam) -> list[R.Pick]:
    return [R.Pick(p.get("topic"), p.get("difficulty"), p["count"]) for p in json.loads(e.picks)]


def create_exam(data: ExamIn, *, actor: str) -> Exam:
    """An exam whose rules the bank can satisfy now (each pick checked by drawing a paper)."""
    picks = [R.Pick(p.topic, p.difficulty, p.count) for p in data.picks]
    try:
        R.draw(pool(), picks, "check")
    except R.NotEnoughQuestions as short:
        raise ValidationFailed(f"picks.{short.index}：题库只有 {short.available} 道符合条件的题，需要 {short.wanted} 道",
                               f"picks.{short.index}: the bank has {short.available} matching questions, {short.wanted} wanted",
                               details=[{"key": f"picks.{short.index}"}]) from None
    with events.recording(actor) as rec:
        t = events.now_ms()
        e = Exam.create(title=data.title, picks=json.dumps([p.model_dump() for p in data.picks], ensure_ascii=False),
                        pass_mark=data.pass_mark, time_limit_s=data.time_limit_min * 60, max_attempts=data.max_attempts,
                        active=True, created_at=t, updated_at=t)
        rec.emit("training.exam_created", entity=("exam", e.id), payload=exam_dict(e))
    return e


def close_exam(exam_id: int, *, actor: str) -> Exam:
    """Close an exam: no one starts it any more (its attempts stay, scored as they were)."""
    with events.recording(actor) as rec:
        e = get_exam(exam_id)
        if e.active:
            e.active, e.updated_at = False, events.now_ms()
            e.save()
            rec.emit("training.exam_closed", entity=("exam", e.id), payload={"title": e.title})
    return e


def get_exam(exam_id: int) -> Exam:
    e = Exam.get_or_none(Exam.id == exam_id)
    if e is None:
        raise NotFound(f"考试 {exam_id} 不存在", f"exam {exam_id} does not exist")
    return e


def get_attempt(attempt_id: int, person_id: int | None = None) -> Attempt:
    """An attempt (only the person's own when person_id is given: another's is 'not found')."""
    a = Attempt.get_or_none(Attempt.id == attempt_id)
    if a is None or (person_id is not None and a.person_id != person_id):
        raise NotFound(f"答卷 {attempt_id} 不存在", f"attempt {attempt_id} does not exist")
    return a


def attempt_dict(a: Attempt, with_paper: bool = False, reveal: bool = False) -> dict:
    e = Exam.get_by_id(a.exam_id)
    d: dict[str, Any] = {"id": a.id, "exam_id": a.exam_id, "exam": e.title, "person_id": a.person_id, "number": a.number,
                         "state": a.state, "started_at": a.started_at, "deadline_at": a.deadline_at,
                         "submitted_at": a.submitted_at, "correct": a.correct, "score": a.score, "passed": a.passed,
                         "pass_mark": e.pass_mark, "total": len(json.loads(a.questions))}
    if with_paper:
        ids = json.loads(a.questions)
        qs = {q.id: q for q in Question.select().where(Question.id.in_(ids))}
        results = json.loads(a.results) if a.results else None
        answers = json.loads(a.answers) if a.answers else None
        d["paper"] = []
        for i, qid in enumerate(ids):
            item = question_dict(qs[qid], with_answer=reveal and a.state != "open")
            if results is not None:
                item["correct"] = results[i]
                item["given"] = answers[i] if answers else None
            d["paper"].append(item)
    return d


def start(exam_id: int, person_id: int, *, actor: str, now_ms: int | None = None) -> tuple[Attempt, bool]:
    """(attempt, created): the person's open attempt if there is one (one at a time), else a new paper drawn
    for them; refused when the exam is closed, they passed already, or they used every attempt."""
    now_ms = events.now_ms() if now_ms is None else now_ms
    close_timed_out(now_ms)
    with events.recording(actor) as rec:
        e = get_exam(exam_id)
        if not e.active:
            raise Conflict("考试已关闭", "the exam is closed")
        if Person.get_or_none(Person.id == person_id) is None:
            raise ValidationFailed(f"person_id：人员 {person_id} 不存在", f"person_id: person {person_id} does not exist",
                                   details=[{"key": "person_id"}])
        mine = list(Attempt.select().where((Attempt.exam_id == exam_id) & (Attempt.person_id == person_id))
                    .order_by(Attempt.number))
        open_ = [a for a in mine if a.state == "open"]
        if open_:
            return open_[0], False
        if any(a.passed for a in mine):
            raise Conflict("已通过该考试", "you have passed this exam already")
        if len(mine) >= e.max_attempts:
            raise Conflict(f"已用完 {e.max_attempts} 次考试机会", f"all {e.max_attempts} attempts are used")
        number = len(mine) + 1
        try:
            ids = R.draw(pool(), _picks(e), f"{e.id}:{person_id}:{number}")
        except R.NotEnoughQuestions as x:
            raise Conflict(f"题库题目不足（规则 {x.index + 1}：需 {x.wanted}，有 {x.available}）",
                           f"the bank lacks questions (rule {x.index + 1}: {x.wanted} wanted, {x.available} available)") from None
        try:
            a = Attempt.create(exam_id=e.id, person_id=person_id, number=number, questions=json.dumps(ids),
                               started_at=now_ms, deadline_at=now_ms + e.time_limit_s * 1000, state="open")
        except peewee.IntegrityError:   # a second tap raced this one: theirs is the attempt
            raise Conflict("已有进行中的考试", "an attempt is already open") from None
        rec.emit("training.exam_started", entity=("exam_attempt", a.id),
                 payload={"exam_id": e.id, "person_id": person_id, "number": number, "questions": ids,
                          "deadline_at": a.deadline_at})
    return a, True


def submit(attempt_id: int, person_id: int | None, data: SubmitIn, *, actor: str, now_ms: int | None = None) -> Attempt:
    """Score the attempt once. Refused: already submitted (409), after the deadline and grace (409, closed as
    timed out with its answers kept), an answer to a question not on the paper (422)."""
    now_ms = events.now_ms() if now_ms is None else now_ms
    grace = settings.current().exam_grace_seconds * 1000
    timed_out = False
    with events.recording(actor) as rec:
        a = get_attempt(attempt_id, person_id)
        if a.state != "open":
            raise Conflict("答卷已提交，不能重复提交", "the attempt has been submitted already")
        ids = json.loads(a.questions)
        bad = [k for k in data.answers if not k.isdigit() or int(k) not in ids]
        if bad:
            raise ValidationFailed(f"answers：{bad[0]} 不在试卷上", f"answers: {bad[0]} is not on the paper",
                                   details=[{"key": f"answers.{bad[0]}"}])
        given = [data.answers.get(str(q)) for q in ids]
        qs = {q.id: q for q in Question.select().where(Question.id.in_(ids))}
        keys = [json.loads(qs[q].answer) for q in ids]
        results = [R.is_correct(k, g) for k, g in zip(keys, given, strict=True)]
        a.answers, a.results, a.submitted_at = json.dumps(given), json.dumps(results), now_ms
        if now_ms > a.deadline_at + grace:
            a.state, a.correct, a.score, a.passed = "timed_out", 0, 0.0, False
            timed_out = True
        else:
            correct, _, pct = R.score(keys, given)
            exam = Exam.get_by_id(a.exam_id)
            a.state, a.correct, a.score, a.passed = "submitted", correct, pct, R.passed(pct, exam.pass_mark)
        a.save()
        rec.emit("training.exam_timed_out" if timed_out else "training.exam_submitted", entity=("exam_attempt", a.id),
                 payload={"exam_id": a.exam_id, "person_id": a.person_id, "number": a.number, "correct": a.correct,
                          "score": a.score, "passed": a.passed, "results": results})
    if timed_out:
        raise Conflict("已超过考试时限，答卷未计分", "the time limit has passed; the attempt was not scored")
    return a


def close_timed_out(now_ms: int | None = None) -> int:
    """Close open attempts past their deadline and grace (nothing was submitted: no answers, score 0)."""
    now_ms = events.now_ms() if now_ms is None else now_ms
    grace = settings.current().exam_grace_seconds * 1000
    late = list(Attempt.select().where((Attempt.state == "open") & (Attempt.deadline_at + grace < now_ms)))
    for a in late:
        with events.recording("system:training") as rec:
            a.state, a.correct, a.score, a.passed = "timed_out", 0, 0.0, False
            a.save()
            rec.emit("training.exam_timed_out", entity=("exam_attempt", a.id),
                     payload={"exam_id": a.exam_id, "person_id": a.person_id, "number": a.number, "correct": 0,
                              "score": 0.0, "passed": False, "results": None})
    return len(late)


def mastery(person_id: int | None = None, department: str | None = None) -> dict:
    """掌握率 by topic over the scored attempts (of a person, of a department, or of everyone), the weakest
    topics, and the pass rate of attempts by month."""
    q = Attempt.select().where(Attempt.state == "submitted")
    if person_id is not None:
        q = q.where(Attempt.person_id == person_id)
    if department is not None:
        q = q.where(Attempt.person_id.in_(Person.select(Person.id).where(Person.department == department)))
    attempts = list(q)
    topic = {r.id: r.topic for r in Question.select(Question.id, Question.topic)}
    rows = [(topic.get(qid, "?"), ok) for a in attempts
            for qid, ok in zip(json.loads(a.questions), json.loads(a.results or "[]"), strict=False)]
    by_topic = R.mastery(rows)
    from appliance.training.certificates import day_of

    months: dict[str, list[int]] = {}
    for a in attempts:
        m = day_of(a.submitted_at or a.started_at).strftime("%Y-%m")
        months.setdefault(m, [0, 0])
        months[m][0] += 1
        months[m][1] += bool(a.passed)
    return {"topics": by_topic, "weakest": R.weakest(by_topic), "attempts": len(attempts),
            "pass_rate_by_month": [{"month": m, "attempts": n, "passed": p, "rate": round(100.0 * p / n, 1)}
                                   for m, (n, p) in sorted(months.items())]}
