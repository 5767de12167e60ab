"""Accidents (事故管理) and drill evaluations, stored: the report (who, what, where, injuries, losses) graded
by 国务院令第493号 第三条 with its statutory deadlines, the investigation (5-why and fishbone), corrective
actions and drill findings that become hazards in the hazards domain's closed loop (its service, not a copy),
and recurrence links (earlier accidents of the same kind in the same area, plus any linked by hand)."""
from __future__ import annotations

import json

from pydantic import Field

from appliance.core import events
from appliance.core.errors import Conflict, NotFound
from appliance.core.people import Area
from appliance.emergency import rules as R
from appliance.emergency import setup as S
from appliance.emergency.models import Accident, Drill, Incident, Plan

ACCIDENT_KINDS = ("leak", "fire", "explosion", "poisoning", "asphyxia", "fall", "mechanical", "electric",
                  "burn", "road_traffic", "other")
FISHBONE = ("man", "machine", "material", "method", "environment", "measurement")   # 人 机 料 法 环 测


class AccidentIn(S.In):
    area: str = Field(min_length=1, max_length=32)
    occurred_at: int = Field(gt=0)
    kind: str
    type: str = Field("", max_length=40)          # GB 6441 category, free text until that table is encoded
    title: str = Field(min_length=2, max_length=200)
    description: str = Field(min_length=2, max_length=4000)
    deaths: int = Field(0, ge=0, le=100_000)
    serious_injuries: int = Field(0, ge=0, le=100_000)
    minor_injuries: int = Field(0, ge=0, le=100_000)
    direct_loss_yuan: int = Field(0, ge=0, le=10**13)
    incident_id: int | None = Field(None, gt=0)


class InvestigationIn(S.In):
    why: list[str] = Field(default_factory=list, max_length=5)                  # 5-why, in order
    fishbone: dict[str, str] = Field(default_factory=dict)
    cause: str = Field("", max_length=2000)
    deaths: int | None = Field(None, ge=0, le=100_000)                           # 第十三条 补报
    serious_injuries: int | None = Field(None, ge=0, le=100_000)
    direct_loss_yuan: int | None = Field(None, ge=0, le=10**13)


class CorrectiveIn(S.In):
    text: str = Field(min_length=2, max_length=1000)
    category: str = "安全"
    grade: str = Field("general", pattern="^(general|major)$")


class LinkIn(S.In):
    accident_id: int = Field(gt=0)


class ReportedIn(S.In):
    at: int | None = Field(None, gt=0)


class EvaluationIn(S.In):
    summary: str = Field(min_length=2, max_length=4000)      # 小结
    shortcomings: str = Field("", max_length=4000)           # 不足
    rating: str = Field(pattern="^(good|adequate|poor)$")
    findings: list[CorrectiveIn] = Field(default_factory=list, max_length=20)


def _get(accident_id: int) -> Accident:
    a = Accident.get_or_none(Accident.id == accident_id)
    if a is None:
        raise NotFound("事故不存在", "no such accident")
    return a


def accident_dict(a: Accident, now: int | None = None) -> dict:
    now = now or events.now_ms()
    area = Area.get_or_none(Area.id == a.area_id)
    zh, en = R.GRADE_NAMES[a.grade]
    return {"id": a.id, "incident_id": a.incident_id, "occurred_at": a.occurred_at, "area": area.code if area else None,
            "area_name": area.name if area else None, "kind": a.kind, "type": a.type, "title": a.title,
            "description": a.description, "reporter": a.reporter, "deaths": a.deaths,
            "serious_injuries": a.serious_injuries, "minor_injuries": a.minor_injuries,
            "direct_loss_yuan": a.direct_loss_yuan, "grade": a.grade, "grade_name": zh, "grade_name_en": en,
            "investigated_by": R.INVESTIGATED_BY[a.grade][0], "investigated_by_en": R.INVESTIGATED_BY[a.grade][1],
            "reported_at": a.reported_at,
            "deadlines": [{"code": d.code, "due_at": d.due_at, "zh": d.zh, "en": d.en, "clause": d.clause,
                           "clause_en": R.clause_en(d.clause),
                           "overdue": d.due_at < now and not (d.code == "head_to_authority" and a.reported_at),
                           "met": d.code == "head_to_authority" and a.reported_at is not None
                           and a.reported_at <= d.due_at}
                          for d in R.deadlines(a.grade, a.occurred_at, a.kind)],
            "investigation": json.loads(a.investigation), "corrective": json.loads(a.corrective),
            "related": json.loads(a.related), "state": a.state, "created_at": a.created_at}


def _payload(a: Accident) -> dict:
    area = Area.get_or_none(Area.id == a.area_id)
    return {"id": a.id, "title": a.title, "area": area.code if area else None, "grade": a.grade,
            "grade_name": R.GRADE_NAMES[a.grade][0], "deaths": a.deaths, "serious_injuries": a.serious_injuries,
            "direct_loss_yuan": a.direct_loss_yuan, "state": a.state}


def report(data: AccidentIn, *, actor: str) -> Accident:
    """事故报告: graded at once (第三条), the clocks of 第九条 onwards start at `occurred_at`; earlier
    accidents of the same kind in the same area are linked as recurrences."""
    if data.kind not in ACCIDENT_KINDS:
        raise S.bad("kind", f"类型应为 {'、'.join(ACCIDENT_KINDS)} 之一", f"kind must be one of {', '.join(ACCIDENT_KINDS)}")
    now = events.now_ms()
    if data.occurred_at > now + 60_000:
        raise S.bad("occurred_at", "发生时间不能在将来", "the time cannot be in the future")
    area = S.area_by_code(data.area)
    if data.incident_id is not None and Incident.get_or_none(Incident.id == data.incident_id) is None:
        raise S.bad("incident_id", "事件不存在", "no such incident")
    g = R.grade(data.deaths, data.serious_injuries, data.direct_loss_yuan)
    with events.recording(actor) as rec:
        earlier = [x.id for x in Accident.select().where((Accident.area_id == area.id) & (Accident.kind == data.kind))]
        a = Accident.create(incident_id=data.incident_id, occurred_at=data.occurred_at, area_id=area.id, kind=data.kind,
                            type=data.type, title=data.title, description=data.description, reporter=actor,
                            deaths=data.deaths, serious_injuries=data.serious_injuries,
                            minor_injuries=data.minor_injuries, direct_loss_yuan=data.direct_loss_yuan, grade=g,
                            investigation="{}", corrective="[]", related=json.dumps(earlier), state="reported",
                            created_at=now, updated_at=now)
        rec.emit("emergency.accident_reported", entity=("emergency_accident", a.id),
                 payload={**_payload(a), "occurred_at": a.occurred_at, "kind": a.kind, "related": earlier})
    return a


def mark_reported(accident_id: int, data: ReportedIn, *, actor: str) -> Accident:
    """The unit head reported it to the authority (第九条: within 1 hour)."""
    with events.recording(actor) as rec:
        a = _get(accident_id)
        at = data.at or events.now_ms()
        Accident.update(reported_at=at, updated_at=events.now_ms()).where(Accident.id == a.id).execute()
        a = _get(accident_id)
        rec.emit("emergency.accident_reported_up", entity=("emergency_accident", a.id),
                 payload={**_payload(a), "reported_at": at, "within_1h": at - a.occurred_at <= R.H})
    return a


def investigate(accident_id: int, data: InvestigationIn, *, actor: str) -> Accident:
    """调查: 5-why and fishbone; changed casualties or loss (第十三条 补报) re-grade the accident."""
    bad = sorted(set(data.fishbone) - set(FISHBONE))
    if bad:
        raise S.bad("fishbone", f"未知分类 {bad}（应为 {', '.join(FISHBONE)}）", f"unknown branches {bad} ({', '.join(FISHBONE)})")
    with events.recording(actor) as rec:
        a = _get(accident_id)
        if a.state == "closed":
            raise Conflict("事故已结案", "the accident is closed")
        deaths = a.deaths if data.deaths is None else data.deaths
        serious = a.serious_injuries if data.serious_injuries is None else data.serious_injuries
        loss = a.direct_loss_yuan if data.direct_loss_yuan is None else data.direct_loss_yuan
        g = R.grade(deaths, serious, loss)
        inv = {"why": data.why, "fishbone": data.fishbone, "cause": data.cause}
        Accident.update(investigation=json.dumps(inv, ensure_ascii=False), deaths=deaths, serious_injuries=serious,
                        direct_loss_yuan=loss, grade=g, state="investigating", updated_at=events.now_ms()) \
            .where(Accident.id == a.id).execute()
        regraded = g != a.grade
        a = _get(accident_id)
        rec.emit("emergency.accident_investigated", entity=("emergency_accident", a.id),
                 payload={**_payload(a), "investigation": inv, "regraded": regraded})
    return a


def _hazard(area_id: int, text: str, item: CorrectiveIn, actor: str) -> int:
    from appliance.hazards import service as hazards

    if item.category not in hazards.CATEGORIES:
        raise S.bad("category", f"类别应为 {'、'.join(hazards.CATEGORIES)} 之一",
                    f"category must be one of {', '.join(hazards.CATEGORIES)}")
    return hazards.report(hazards.ReportIn(area_id=area_id, category=item.category, description=text[:2000],
                                           grade=item.grade), actor=actor).id


def add_corrective(accident_id: int, data: CorrectiveIn, *, actor: str) -> Accident:
    """A corrective action: a hazard in the closed loop (dispatch → rectify → accept), linked here."""
    with events.recording(actor) as rec:
        a = _get(accident_id)
        if a.state == "closed":
            raise Conflict("事故已结案", "the accident is closed")
        hid = _hazard(a.area_id, f"事故整改（{a.title}）：{data.text}", data, actor)
        items = [*json.loads(a.corrective), {"text": data.text, "hazard_id": hid}]
        Accident.update(corrective=json.dumps(items, ensure_ascii=False), updated_at=events.now_ms()) \
            .where(Accident.id == a.id).execute()
        rec.emit("emergency.corrective_added", entity=("emergency_accident", a.id),
                 payload={**_payload(a), "text": data.text, "hazard_id": hid})
    return _get(accident_id)


def link(accident_id: int, data: LinkIn, *, actor: str) -> Accident:
    with events.recording(actor) as rec:
        a = _get(accident_id)
        other = _get(data.accident_id)
        if other.id == a.id:
            raise S.bad("accident_id", "不能关联自身", "cannot link an accident to itself")
        related = sorted({*json.loads(a.related), other.id})
        Accident.update(related=json.dumps(related), updated_at=events.now_ms()).where(Accident.id == a.id).execute()
        rec.emit("emergency.accident_linked", entity=("emergency_accident", a.id),
                 payload={**_payload(a), "related": related})
    return _get(accident_id)


def close(accident_id: int, *, actor: str) -> Accident:
    with events.recording(actor) as rec:
        a = _get(accident_id)
        inv = json.loads(a.investigation)
        if not inv.get("cause"):
            raise Conflict("须先完成事故调查（原因）才能结案", "record the investigation's cause before closing")
        Accident.update(state="closed", updated_at=events.now_ms()).where(Accident.id == a.id).execute()
        a = _get(accident_id)
        rec.emit("emergency.accident_closed", entity=("emergency_accident", a.id), payload=_payload(a))
    return a


# ---------------------------------------------------------------- drill evaluation

def drill_dict(d: Drill) -> dict:
    plan = Plan.get_or_none(Plan.id == d.plan_id)
    i = Incident.get_or_none(Incident.id == d.incident_id)
    return {"id": d.id, "plan_id": d.plan_id, "plan": plan.name if plan else None, "incident_id": d.incident_id,
            "form": d.form, "started_at": d.started_at, "ended_at": d.ended_at,
            "steps": json.loads(i.steps) if i else {}, "evaluation": json.loads(d.evaluation) if d.evaluation else None,
            "findings": json.loads(d.findings), "drill": True}


def evaluate_drill(drill_id: int, data: EvaluationIn, *, actor: str) -> Drill:
    """演练评估 (regulator fields 小结, 不足, 评价): each finding opens a corrective hazard."""
    with events.recording(actor) as rec:
        d = Drill.get_or_none(Drill.id == drill_id)
        if d is None:
            raise NotFound("演练不存在", "no such drill")
        if d.evaluation:
            raise Conflict("演练已评估", "the drill was evaluated already")
        i = Incident.get_by_id(d.incident_id)
        findings = [{"text": f.text, "hazard_id": _hazard(i.area_id, f"演练发现问题：{f.text}", f, actor)}
                    for f in data.findings]
        now = events.now_ms()
        ev = {"summary": data.summary, "shortcomings": data.shortcomings, "rating": data.rating, "by": actor, "at": now}
        Drill.update(evaluation=json.dumps(ev, ensure_ascii=False), findings=json.dumps(findings, ensure_ascii=False),
                     ended_at=d.ended_at or now).where(Drill.id == d.id).execute()
        rec.emit("emergency.drill_evaluated", entity=("emergency_drill", d.id),
                 payload={"id": d.id, "incident_id": d.incident_id, "rating": data.rating, "findings": findings,
                          "drill": True})
    return Drill.get_by_id(drill_id)
