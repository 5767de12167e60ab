"""Hazards (隐患) through their closed loop, every step an event. The rules are `rules` (the loop),
`major` (重大事故隐患, SAWS order 16 Art. 14/15/18), `checklist` (121号) and `stats` (Art. 14 statistics).

The plant's settings ([hazards] in the config file: deadlines by grade, the reminder lead time, the
principals) reach this module through `configure`, called when the web app is built."""
from __future__ import annotations

import json
import re
from types import SimpleNamespace
from typing import Literal

import peewee
from pydantic import Field

from appliance.core import events
from appliance.core.db import BaseModel as Model
from appliance.core.errors import Conflict, Forbidden, NotFound, ValidationFailed
from appliance.core.people import Area, Input
from appliance.hazards import checklist as CL
from appliance.hazards import firms as FM
from appliance.hazards import major as MJ
from appliance.hazards import rules as HR
from appliance.hazards import stats as ST
from appliance.hazards.config import HazardsConfig

EVENT_TYPES = {"dispatch": "hazard.dispatched", "rectify": "hazard.rectified", "accept": "hazard.accepted",
               "reject": "hazard.rejected", "evaluate": "hazard.evaluated", "evaluate_fail": "hazard.evaluated",
               "sign_off": "hazard.signed_off"}
CATEGORIES = ("安全", "工艺", "电气", "仪表", "消防", "总图", "设备", "其他")  # HAZARD_DANGER_TYPE 1–8

_settings = HazardsConfig()


def configure(settings: HazardsConfig) -> None:
    """Use the plant's [hazards] settings from now on (the web app's init and the scheduler call this)."""
    global _settings
    _settings = settings


def settings() -> HazardsConfig:
    return _settings


def deadline_days() -> dict[str, int]:
    return {"general": _settings.general_deadline_days, "major": _settings.major_deadline_days}


class Hazard(Model):
    area_id = peewee.IntegerField()
    category = peewee.TextField()
    description = peewee.TextField()
    grade = peewee.TextField()
    state = peewee.TextField()
    reporter = peewee.TextField()
    reported_at = peewee.IntegerField()
    assignee = peewee.TextField(null=True)
    deadline = peewee.IntegerField(null=True)
    plan = peewee.TextField(null=True)
    rectifier = peewee.TextField(null=True)
    rectified_at = peewee.IntegerField(null=True)
    rectify_note = peewee.TextField(null=True)
    accepted_by = peewee.TextField(null=True)
    accepted_at = peewee.IntegerField(null=True)
    accept_note = peewee.TextField(null=True)
    rejections = peewee.IntegerField()
    recurrence_of = peewee.IntegerField(null=True)
    updated_at = peewee.IntegerField()
    photo = peewee.TextField(null=True)
    after_photo = peewee.TextField(null=True)
    reminded_at = peewee.IntegerField(null=True)
    escalated_at = peewee.IntegerField(null=True)
    proposed_grade = peewee.TextField(null=True)
    checklist = peewee.TextField(null=True)
    status_cause = peewee.TextField(null=True)
    harm_analysis = peewee.TextField(null=True)
    graded_by = peewee.TextField(null=True)
    grade_reason = peewee.TextField(null=True)
    evaluation = peewee.TextField(null=True)
    evaluated_by = peewee.TextField(null=True)
    evaluated_at = peewee.IntegerField(null=True)
    cost = peewee.FloatField(null=True)
    idempotency_key = peewee.TextField(null=True)
    duplicate_of = peewee.IntegerField(null=True)    # closed as a duplicate of this hazard (migration 0030)
    duplicate_note = peewee.TextField(null=True)
    duplicate_by = peewee.TextField(null=True)
    duplicate_at = peewee.IntegerField(null=True)
    firm_id = peewee.IntegerField(null=True)         # the contractor firm involved (migration 0036)

    class Meta:
        table_name = "hazards"


def counted():
    """The hazards that count in figures (rates, cockpit, reports, statistics): all but duplicate reports,
    which are the same hazard reported again and were never dispatched, rectified or accepted."""
    return Hazard.duplicate_of.is_null()


class ReportIn(Input):
    area_id: int = Field(gt=0, le=2**31)
    category: Literal[CATEGORIES]  # type: ignore[valid-type]
    description: str = Field(min_length=2, max_length=2000)
    grade: Literal["general", "major"] = "general"
    anonymous: bool = False
    photo: str | None = Field(None, pattern=r"^[0-9a-f]{64}$")  # SHA-256 from POST /api/v1/photos
    checklist: list[str] = Field(default_factory=list, max_length=len(CL.CODES))  # ticked 121号 items
    status_cause: str | None = Field(None, max_length=2000)   # Art. 14 (一), may follow later
    harm_analysis: str | None = Field(None, max_length=2000)  # Art. 14 (二), may follow later
    firm_id: int | None = Field(None, gt=0, le=2**31)         # the contractor firm involved, if any


class DispatchIn(Input):
    assignee: str = Field(pattern=r"^[A-Za-z0-9_.@-]{2,40}$")
    deadline: int | None = Field(None, gt=0)  # default by grade
    plan: dict[str, str] | None = None        # required for a major hazard (SAWS order 16 Art. 15)
    status_cause: str | None = Field(None, max_length=2000)   # Art. 14 (一), if the report lacks it
    harm_analysis: str | None = Field(None, max_length=2000)  # Art. 14 (二)


class NoteIn(Input):
    note: str = Field("", max_length=2000)
    photo: str | None = Field(None, pattern=r"^[0-9a-f]{64}$")  # the after-photo of a rectification


class RectifyIn(NoteIn):
    cost: float | None = Field(None, ge=0, le=1e10)  # 整改资金 (元), for the statistics


class GradeIn(Input):
    grade: Literal["general", "major"]
    reason: str = Field(min_length=2, max_length=1000)


class MajorReportIn(Input):
    """SAWS order 16 Art. 14: the major hazard's report, written or completed by the safety office."""
    status_cause: str = Field(min_length=2, max_length=2000)
    harm_analysis: str = Field(min_length=2, max_length=2000)
    plan: dict[str, str] | None = None


class EvaluationIn(Input):
    """SAWS order 16 Art. 18: the evaluation of a major hazard's treatment."""
    assessor_kind: Literal[MJ.ASSESSOR_KINDS]  # type: ignore[valid-type]
    assessor: str = Field(min_length=2, max_length=200)      # the experts' names or the agency
    result: Literal[MJ.EVAL_RESULTS]  # type: ignore[valid-type]
    document: str = Field("", max_length=500)                # report number / reference
    photo: str | None = Field(None, pattern=r"^[0-9a-f]{64}$")  # a photo or scan of the signed report
    note: str = Field("", max_length=2000)


def _json(text: str | None):
    return json.loads(text) if text else None


def hazard_dict(h: Hazard | SimpleNamespace) -> dict:
    """A hazard as the API gives it, from its model or from its row as a namespace (lists)."""
    plan = _json(h.plan)
    evaluation = _json(h.evaluation)
    major = {}
    if h.grade == "major":
        major = {"stage": MJ.stage(h.grade, h.state, evaluation),
                 "report_missing": MJ.missing_report(h.status_cause, h.harm_analysis, plan)}
    return {**major, "proposed_grade": h.proposed_grade or h.grade, "checklist": _json(h.checklist) or [],
            "status_cause": h.status_cause, "harm_analysis": h.harm_analysis, "graded_by": h.graded_by,
            "grade_reason": h.grade_reason, "evaluation": evaluation, "evaluated_by": h.evaluated_by,
            "evaluated_at": h.evaluated_at, "cost": h.cost,
            "id": h.id, "area_id": h.area_id, "category": h.category, "description": h.description,
            "grade": h.grade, "state": h.state, "reporter": h.reporter,
            # a duplicate closed without acceptance: to the regulator it stays 待确认 and is deleted
            # (sync profile: delete_mark), never 9 已验收
            "danger_state": HR.STATE_CODE["reported"] if h.duplicate_of is not None else HR.STATE_CODE[h.state],
            "duplicate_of": h.duplicate_of, "duplicate_note": h.duplicate_note, "duplicate_by": h.duplicate_by,
            "duplicate_at": h.duplicate_at, "firm_id": h.firm_id,
            "reported_at": h.reported_at, "assignee": h.assignee, "deadline": h.deadline,
            "overdue": bool(h.deadline and h.state != "closed" and events.now_ms() > h.deadline),
            "plan": json.loads(h.plan) if h.plan else None, "rectifier": h.rectifier, "rectified_at": h.rectified_at,
            "rectify_note": h.rectify_note, "accepted_by": h.accepted_by, "accepted_at": h.accepted_at,
            "accept_note": h.accept_note, "rejections": h.rejections, "recurrence_of": h.recurrence_of,
            "photo": h.photo, "after_photo": h.after_photo}


class DispatchRule(Model):
    area_id = peewee.IntegerField(null=True)
    category = peewee.TextField(null=True)
    assignee = peewee.TextField()
    created_at = peewee.IntegerField()

    class Meta:
        table_name = "hazard_dispatch_rules"


class RuleIn(Input):
    area_id: int | None = Field(None, gt=0, le=2**31)
    category: Literal[CATEGORIES] | None = None  # type: ignore[valid-type]
    assignee: str = Field(pattern=r"^[A-Za-z0-9_.@-]{2,40}$")


def add_rule(data: RuleIn, *, actor: str) -> DispatchRule:
    from appliance.core.auth import User

    if data.area_id is None and data.category is None:
        raise ValidationFailed("area_id/category：至少指定区域或类别之一", "area_id/category: give an area, a category or both",
                               details=[{"key": "area_id"}])
    if User.get_or_none((User.login == data.assignee) & User.active) is None:
        raise ValidationFailed(f"assignee：用户 {data.assignee} 不存在", f"assignee: user {data.assignee} does not exist",
                               details=[{"key": "assignee"}])
    with events.recording(actor) as rec:
        if data.area_id is not None and Area.get_or_none(Area.id == data.area_id) is None:
            raise ValidationFailed(f"area_id：区域 {data.area_id} 不存在", f"area_id: area {data.area_id} does not exist",
                                   details=[{"key": "area_id"}])
        same_area = DispatchRule.area_id.is_null() if data.area_id is None else DispatchRule.area_id == data.area_id
        same_cat = DispatchRule.category.is_null() if data.category is None else DispatchRule.category == data.category
        DispatchRule.delete().where(same_area & same_cat).execute()  # one rule per key: the new one replaces
        r = DispatchRule.create(**data.model_dump(), created_at=events.now_ms())
        rec.emit("hazard.rule_set", entity=("hazard_rule", r.id), payload=data.model_dump())
    return r


def remove_rule(rule_id: int, *, actor: str) -> None:
    """Delete a dispatch rule; hazards already dispatched by it keep their assignee."""
    with events.recording(actor) as rec:
        r = DispatchRule.get_or_none(DispatchRule.id == rule_id)
        if r is None:
            raise NotFound(f"派发规则 {rule_id} 不存在", f"dispatch rule {rule_id} does not exist")
        r.delete_instance()
        rec.emit("hazard.rule_removed", entity=("hazard_rule", rule_id),
                 payload={"area_id": r.area_id, "category": r.category, "assignee": r.assignee})


def _get(hazard_id: int) -> Hazard:
    h = Hazard.get_or_none(Hazard.id == hazard_id)
    if h is None:
        raise NotFound(f"隐患 {hazard_id} 不存在", f"hazard {hazard_id} does not exist")
    return h


def _photo_exists(digest: str | None, photo_root, key: str) -> None:
    from appliance.core.photos import path_of

    if digest is not None and (photo_root is None or path_of(photo_root, digest) is None):
        raise ValidationFailed(f"{key}：照片未上传", f"{key}: no such uploaded photo", details=[{"key": key}])


IDEMPOTENCY_KEY = re.compile(r"^[A-Za-z0-9_.:-]{8,80}$")


def check_idempotency_key(key: str | None) -> str | None:
    """The client's idempotency key (header Idempotency-Key), or None; a malformed one is refused."""
    if key is None or key == "":
        return None
    if not IDEMPOTENCY_KEY.match(key):
        raise ValidationFailed("Idempotency-Key：须为 8–80 个字母、数字或 _.:-",
                               "Idempotency-Key: must be 8-80 letters, digits or _.:-",
                               details=[{"key": "Idempotency-Key"}])
    return key


def report(data: ReportIn, *, actor: str, photo_root=None, key: str | None = None) -> Hazard:
    """A new hazard (`report_once` without telling whether it was new)."""
    return report_once(data, actor=actor, photo_root=photo_root, key=key)[0]


def report_once(data: ReportIn, *, actor: str, photo_root=None, key: str | None = None) -> tuple[Hazard, bool]:
    """A new hazard, and True; or the hazard an earlier report with the same idempotency key filed, and
    False. The reporter's grade is a proposal; a ticked 121号 item makes it major whatever they
    proposed (the safety office alone may lower it, with a reason: `regrade`).

    `key` is the client's idempotency key: a report whose key was already used files nothing, so a double
    tap or a resend after a lost answer is one hazard (issue 15)."""
    if key is not None:
        done = Hazard.get_or_none(Hazard.idempotency_key == key)
        if done is not None:
            return done, False
    _photo_exists(data.photo, photo_root, "photo")
    bad = CL.unknown(data.checklist)
    if bad:
        raise ValidationFailed(f"checklist：未知的判定标准条目 {', '.join(bad)}",
                               f"checklist: unknown 121 checklist items {', '.join(bad)}", details=[{"key": "checklist"}])
    ticked = [c for c in CL.CODES if c in data.checklist]   # in the standard's order, once each
    grade = "major" if CL.forces_major(ticked) else data.grade
    with events.recording(actor) as rec:
        if key is not None:  # again inside the write lock (BEGIN IMMEDIATE): two taps that raced
            done = Hazard.get_or_none(Hazard.idempotency_key == key)
            if done is not None:
                return done, False
        area = Area.get_or_none((Area.id == data.area_id) & Area.active)
        if area is None:
            raise ValidationFailed(f"area_id：区域 {data.area_id} 不存在", f"area_id: area {data.area_id} does not exist",
                                   details=[{"key": "area_id"}])
        FM.check(data.firm_id)
        t = events.now_ms()
        earlier = [(h.id, h.area_id, h.category, h.reported_at) for h in Hazard.select().where(
            (Hazard.area_id == data.area_id) & (Hazard.category == data.category)
            & (Hazard.reported_at >= t - HR.RECURRENCE_DAYS * 86_400_000))]
        h = Hazard.create(area_id=data.area_id, category=data.category, description=data.description,
                          grade=grade, proposed_grade=data.grade, state="reported",
                          reporter="anonymous" if data.anonymous else actor,
                          reported_at=t, rejections=0, updated_at=t, photo=data.photo,
                          checklist=json.dumps(ticked) if ticked else None,
                          status_cause=data.status_cause or None, harm_analysis=data.harm_analysis or None,
                          recurrence_of=HR.is_recurrence(data.area_id, data.category, t, earlier),
                          idempotency_key=key, firm_id=data.firm_id)
        rec.emit("hazard.reported", entity=("hazard", h.id),
                 payload={**hazard_dict(h), "area": area.name, "area_en": area.name_en,
                          "grade_forced": grade != data.grade})
        rules = [(r.area_id, r.category, r.assignee) for r in DispatchRule.select()]
        who = HR.pick_assignee(data.area_id, data.category, rules)
        if who is not None and grade == "general":
            # automatic dispatch by rule; a major hazard waits for the safety office, who must write its
            # treatment plan (SAWS order 16 Art. 15)
            dl = HR.deadline("general", t, deadline_days())
            Hazard.update(state="rectifying", assignee=who, deadline=dl, updated_at=t).where(Hazard.id == h.id).execute()
            rec.emit("hazard.dispatched", entity=("hazard", h.id),
                     payload={"id": h.id, "state": "rectifying", "description": h.description[:80], "assignee": who,
                              "deadline": dl, "by_rule": True})
        if grade == "major":
            rec.emit("hazard.major_reported", entity=("hazard", h.id),
                     payload={"id": h.id, "description": h.description[:80], "area": area.name,
                              "to": ["safety_officer", "plant_manager"]})
    return Hazard.get_by_id(h.id), True


def _refused(exc: HR.TransitionRefused):
    return (Forbidden if exc.who else Conflict)(exc.zh, exc.en)


def _act(hazard_id: int, action: str, principal, change, check=None) -> Hazard:
    """Move a hazard on by `action`: the state machine for its grade, who may (`check`, by default
    `rules.check_actor`), then `change(h)` → the columns to set; all in one transaction with its event."""
    with events.recording(principal.actor) as rec:
        h = _get(hazard_id)
        try:
            new = HR.next_state(h.state, action, h.grade)
            if check is None:
                HR.check_actor(action, principal.role, principal.actor,
                               assignee=h.assignee and f"user:{h.assignee}", rectifier=h.rectifier)
            else:
                check(h)
        except HR.TransitionRefused as exc:
            raise _refused(exc) from None
        values = change(h)
        Hazard.update(state=new, updated_at=events.now_ms(), **values).where(Hazard.id == h.id).execute()
        h = Hazard.get_by_id(h.id)
        rec.emit(EVENT_TYPES[action], entity=("hazard", h.id),
                 payload={"id": h.id, "state": new, "grade": h.grade, "description": h.description[:80],
                          **{k: _json(v) if k == "evaluation" else v for k, v in values.items() if k != "plan"}})
    return h


def dispatch(hazard_id: int, data: DispatchIn, principal) -> Hazard:
    from appliance.core.auth import User

    if User.get_or_none((User.login == data.assignee) & User.active) is None:
        raise ValidationFailed(f"assignee：用户 {data.assignee} 不存在", f"assignee: user {data.assignee} does not exist",
                               details=[{"key": "assignee"}])

    def change(h):
        extra = {}
        if h.grade == "major":
            # SAWS order 16 Art. 14: the report's three parts before it leaves the reported state; what the
            # dispatch brings completes what the report had
            plan = data.plan or _json(h.plan)
            status_cause = data.status_cause or h.status_cause
            harm_analysis = data.harm_analysis or h.harm_analysis
            missing = MJ.missing_report(status_cause, harm_analysis, plan)
            if missing:
                first = "plan" if missing[0].startswith("plan.") else missing[0]
                raise ValidationFailed(f"{first}：重大事故隐患报告须有现状及原因、危害程度和整改难易程度分析、治理方案"
                                       f"（16号令第十四、十五条），缺少 {', '.join(missing)}",
                                       f"{first}: a major hazard needs its report (status and cause, harm and difficulty "
                                       f"analysis) and a treatment plan (SAWS order 16 Art. 14, 15); missing "
                                       f"{', '.join(missing)}", details=[{"key": k} for k in missing])
            extra = {"status_cause": status_cause, "harm_analysis": harm_analysis}
            data.plan = plan
        return {"assignee": data.assignee,
                "deadline": data.deadline or HR.deadline(h.grade, h.reported_at, deadline_days()),
                "plan": json.dumps(data.plan, ensure_ascii=False) if data.plan else None, **extra}

    return _act(hazard_id, "dispatch", principal, change)


def rectify(hazard_id: int, data: RectifyIn, principal, photo_root=None) -> Hazard:
    _photo_exists(data.photo, photo_root, "photo")
    return _act(hazard_id, "rectify", principal,
                lambda h: {"rectifier": principal.actor, "rectified_at": events.now_ms(), "rectify_note": data.note,
                           "after_photo": data.photo, **({"cost": data.cost} if data.cost is not None else {})})


def accept(hazard_id: int, data: NoteIn, principal) -> Hazard:
    return _act(hazard_id, "accept", principal,
                lambda h: {"accepted_by": principal.actor, "accepted_at": events.now_ms(), "accept_note": data.note})


def reject(hazard_id: int, data: NoteIn, principal) -> Hazard:
    if not data.note.strip():
        raise ValidationFailed("note：退回须说明原因", "note: a rejection needs the reason", details=[{"key": "note"}])
    return _act(hazard_id, "reject", principal,
                lambda h: {"rejections": h.rejections + 1, "accept_note": data.note, "rectifier": None,
                           "rectified_at": None})


def set_firm(hazard_id: int, data: FM.FirmIn, principal) -> Hazard:
    """Name (or clear) the contractor firm of a hazard, in any state: who was involved is often known only
    after the report (the shift finds out, the accident report names them)."""
    with events.recording(principal.actor) as rec:
        h = _get(hazard_id)
        FM.check(data.firm_id)
        Hazard.update(firm_id=data.firm_id, updated_at=events.now_ms()).where(Hazard.id == h.id).execute()
        rec.emit("hazard.firm_set", entity=("hazard", h.id),
                 payload={"id": h.id, "firm_id": data.firm_id, "was": h.firm_id,
                          "firm": FM.names([data.firm_id]).get(data.firm_id) if data.firm_id else None,
                          "description": h.description[:80]})
    return Hazard.get_by_id(hazard_id)

def regrade(hazard_id: int, data: GradeIn, principal) -> Hazard:
    """The safety office confirms the grade differently from the reporter's proposal (一般 ↔ 重大), with a
    reason; the event records both grades, the reason and whether a ticked 121号 item was overridden."""
    with events.recording(principal.actor) as rec:
        h = _get(hazard_id)
        ticked = _json(h.checklist) or []
        try:
            change = MJ.check_regrade(principal.role, h.state, h.grade, data.grade, data.reason, ticked)
        except HR.TransitionRefused as exc:
            raise _refused(exc) from None
        values: dict = {"grade": data.grade, "graded_by": principal.actor, "grade_reason": change["reason"],
                        "updated_at": events.now_ms()}
        Hazard.update(**values).where(Hazard.id == h.id).execute()
        rec.emit("hazard.regraded", entity=("hazard", h.id),
                 payload={"id": h.id, "state": h.state, "description": h.description[:80], "checklist": ticked,
                          "proposed_grade": h.proposed_grade or h.grade, **change})
        if data.grade == "major":
            rec.emit("hazard.major_reported", entity=("hazard", h.id),
                     payload={"id": h.id, "description": h.description[:80], "to": ["safety_officer", "plant_manager"]})
    return Hazard.get_by_id(hazard_id)


def major_report(hazard_id: int, data: MajorReportIn, principal) -> Hazard:
    """The safety office writes or completes a major hazard's Art. 14 report (and its Art. 15 plan) —
    e.g. after re-grading a hazard already being rectified."""
    with events.recording(principal.actor) as rec:
        h = _get(hazard_id)
        if principal.role not in MJ.SAFETY_OFFICE:
            raise Forbidden("只有安全管理部门可以填写重大事故隐患报告", "only the safety office writes a major hazard's report")
        if h.grade != "major" or h.state == "closed":
            raise Conflict("只有未销号的重大事故隐患才有此报告", "only an open major hazard has this report")
        plan = data.plan or _json(h.plan)
        missing = [k for k in MJ.missing_report(data.status_cause, data.harm_analysis, plan) if k.startswith("plan.")]
        if missing:
            raise ValidationFailed(f"plan：治理方案缺少 {', '.join(missing)}（16号令第十五条）",
                                   f"plan: the treatment plan lacks {', '.join(missing)} (SAWS order 16 Art. 15)",
                                   details=[{"key": k} for k in missing])
        Hazard.update(status_cause=data.status_cause, harm_analysis=data.harm_analysis,
                      plan=json.dumps(plan, ensure_ascii=False), updated_at=events.now_ms()).where(Hazard.id == h.id).execute()
        rec.emit("hazard.major_report", entity=("hazard", h.id),
                 payload={"id": h.id, "description": h.description[:80], "status_cause": data.status_cause,
                          "harm_analysis": data.harm_analysis, "plan": plan})
    return Hazard.get_by_id(hazard_id)


def evaluate(hazard_id: int, data: EvaluationIn, principal, photo_root=None) -> Hazard:
    """SAWS order 16 Art. 18: record the evaluation of a rectified major hazard. A pass leaves it for the
    principal's sign-off; a fail sends it back to rectification (a rejection, counted)."""
    _photo_exists(data.photo, photo_root, "photo")
    missing = MJ.evaluation_problems(data.assessor_kind, data.assessor, data.result, data.document, data.photo)
    if missing:
        raise ValidationFailed(f"{missing[0]}：评估须有评估人或评估机构、结论和评估报告（文号或附件）（16号令第十八条）",
                               f"{missing[0]}: an evaluation needs the assessor, the result and the report (reference or "
                               "attached photo) (SAWS order 16 Art. 18)", details=[{"key": k} for k in missing])
    evaluation = json.dumps(data.model_dump(), ensure_ascii=False)

    def check(h):
        MJ.check_evaluate(principal.role, principal.actor, h.rectifier)
        missing = MJ.missing_report(h.status_cause, h.harm_analysis, _json(h.plan))
        if missing:
            raise HR.TransitionRefused(f"先补全重大事故隐患报告（16号令第十四条）：缺少 {', '.join(missing)}",
                                       f"complete the major hazard's report first (SAWS order 16 Art. 14): missing "
                                       f"{', '.join(missing)}")

    def change(h):
        t = events.now_ms()
        values = {"evaluation": evaluation, "evaluated_by": principal.actor, "evaluated_at": t}
        if data.result == "fail":
            values.update(rejections=h.rejections + 1, rectifier=None, rectified_at=None,
                          accept_note=data.note or "评估不符合安全生产条件")
        return values

    return _act(hazard_id, "evaluate" if data.result == "pass" else "evaluate_fail", principal, change, check)


def sign_off(hazard_id: int, data: NoteIn, principal) -> Hazard:
    """SAWS order 16 Art. 18: the principal (主要负责人, `hazards.principal_logins`) signs off a major hazard
    whose evaluation passed; it closes (验收销号) with the principal as the acceptor."""
    def check(h):
        MJ.check_sign_off(principal.actor, list(_settings.principal_logins), h.rectifier, _json(h.evaluation))

    return _act(hazard_id, "sign_off", principal,
                lambda h: {"accepted_by": principal.actor, "accepted_at": events.now_ms(), "accept_note": data.note},
                check)


def chase_deadlines(now: int | None = None) -> int:
    """Scheduled: remind the assignee before the deadline and escalate to the safety officer after it,
    once each (as events, which the tablet inbox and the board show). Returns how many."""
    now = now or events.now_ms()
    n = 0
    with events.recording("system:hazards") as rec:
        for h in Hazard.select().where((Hazard.state == "rectifying") & Hazard.deadline.is_null(False)
                                       & (Hazard.reminded_at.is_null() | Hazard.escalated_at.is_null())):
            for action in HR.due_actions(h.state, h.deadline, h.reminded_at, h.escalated_at, now,
                                         _settings.remind_before_hours * 3_600_000):
                field, etype = ("reminded_at", "hazard.due_soon") if action == "remind" else ("escalated_at", "hazard.overdue")
                Hazard.update(**{field: now}).where(Hazard.id == h.id).execute()
                rec.emit(etype, entity=("hazard", h.id),
                         payload={"id": h.id, "assignee": h.assignee, "deadline": h.deadline,
                                  "description": h.description[:80], "grade": h.grade,
                                  "to": h.assignee if action == "remind" else "safety_officer"})
                n += 1
    return n


def open_by_area() -> dict[int, int]:
    """Area id → hazards not yet closed (for the risk map overlay)."""
    from appliance.core.db import database

    # the WHERE matches the partial index hazards_open_area (migration 0009) word for word
    rows = database.execute_sql("SELECT area_id, count(*) FROM hazards WHERE state != 'closed' GROUP BY area_id")
    return dict(rows.fetchall())


def rates(since: int, until: int, now: int | None = None) -> dict:
    """Hazard figures over the hazards reported in [since, until) (`hazard_rules.rates`)."""
    rows = [(h.state, h.deadline, h.accepted_at, h.recurrence_of) for h in
            Hazard.select(Hazard.state, Hazard.deadline, Hazard.accepted_at, Hazard.recurrence_of)
            .where((Hazard.reported_at >= since) & (Hazard.reported_at < until) & counted())]
    return HR.rates(rows, events.now_ms() if now is None else now)


def statistics(year: int, quarter: int | None, tz: str, now: int | None = None) -> dict:
    """SAWS order 16 Art. 14: the statistics table of a calendar quarter (or, quarter None, the year) in
    the plant's time zone `tz` (`stats.statistics`), with its filing deadline."""
    from appliance.core.people import Area

    since, until = ST.period_bounds(year, quarter, tz)
    now = events.now_ms() if now is None else now
    areas = {a.id: (a.name, a.name_en) for a in Area.select()}
    rows = []
    for h in Hazard.select().where((Hazard.reported_at < until) & counted()
                                   & (Hazard.accepted_at.is_null() | (Hazard.accepted_at >= since))):
        evaluation = _json(h.evaluation)
        name, name_en = areas.get(h.area_id, (str(h.area_id), None))
        rows.append({"id": h.id, "grade": h.grade, "state": h.state, "reported_at": h.reported_at,
                     "accepted_at": h.accepted_at if h.state == "closed" else None, "deadline": h.deadline,
                     "cost": h.cost, "description": h.description, "area": name, "area_en": name_en,
                     "category": h.category, "assignee": h.assignee, "stage": MJ.stage(h.grade, h.state, evaluation),
                     "evaluation_result": evaluation and evaluation.get("result"), "accepted_by": h.accepted_by,
                     "checklist": _json(h.checklist) or [], "firm_id": h.firm_id})
    out = ST.statistics(rows, since, until, now)
    return {"year": year, "quarter": quarter, "timezone": tz, "due": ST.report_due(year, quarter).isoformat(), **out}
