"""Special work permits stored: apply, confirm measures, approve, verify people on site (badge taps), gas
analyses (by hand or from the live fixed detectors), start behind the gas gate, suspend (by hand or by the
live interlock), resume after a new analysis, close. The rules are `rules` (pure); every change here is a
record row plus a `permit.*` event in one transaction."""
from __future__ import annotations

import json
import logging
from collections.abc import Iterable, Mapping

import peewee

from appliance.core import events
from appliance.core.db import BaseModel as Model
from appliance.core.errors import Conflict, NotFound, ValidationFailed
from appliance.core.people import Area, Person, person_for_badge
from appliance.permits import approval_view, crew, near
from appliance.permits import chain as C
from appliance.permits import rules as R
from appliance.permits.checks import check_blinding as _check_blinding
from appliance.permits.checks import check_jsa as _check_jsa
from appliance.permits.inputs import AnalysisIn, ApplyIn, MeasureIn, MeasuresIn, NoteIn, SampleIn, SuspendIn, TapIn  # noqa: F401  (the API's shapes, named here as before)

log = logging.getLogger(__name__)


class Permit(Model):
    no = peewee.TextField(unique=True)
    type = peewee.TextField()
    grade = peewee.TextField()
    area_id = peewee.IntegerField()
    location = peewee.TextField()
    content = peewee.TextField()
    medium = peewee.TextField(null=True)
    medium_lel = peewee.FloatField(null=True)
    medium_temp_c = peewee.FloatField(null=True)         # 盲板抽堵: the line's temperature, °C
    medium_pressure_mpa = peewee.FloatField(null=True)   # and pressure, MPa gauge
    state = peewee.TextField()
    valid_from = peewee.IntegerField()
    valid_to = peewee.IntegerField()
    applicant = peewee.TextField()
    workers = peewee.TextField()
    guardian_id = peewee.IntegerField()
    issuer_id = peewee.IntegerField()
    reader = peewee.TextField(null=True)
    measures = peewee.TextField()
    jsa = peewee.TextField()
    jsa_rows = peewee.TextField(default="[]")            # JSON [{step, hazards, measures, responsible}]
    approval_chain = peewee.TextField(null=True)         # JSON levels in order (None: [approval_level])
    rejected_reason = peewee.TextField(null=True)
    approval_level = peewee.TextField()
    simops = peewee.TextField(null=True)
    approved_by = peewee.TextField(null=True)
    approved_at = peewee.IntegerField(null=True)
    briefed_at = peewee.IntegerField(null=True)
    started_at = peewee.IntegerField(null=True)
    suspended_at = peewee.IntegerField(null=True)
    suspended_reason = peewee.TextField(null=True)
    last_pass_at = peewee.IntegerField(null=True)
    closed_at = peewee.IntegerField(null=True)
    closed_by = peewee.TextField(null=True)
    close_note = peewee.TextField(null=True)
    cameras = peewee.TextField(default="[]")
    created_at = peewee.IntegerField()
    updated_at = peewee.IntegerField()

    class Meta:
        table_name = "permits"


class Analysis(Model):
    permit_id = peewee.IntegerField()
    at = peewee.IntegerField()
    source = peewee.TextField()
    analyst = peewee.TextField()
    instrument = peewee.TextField()
    samples = peewee.TextField()
    passed = peewee.BooleanField()
    reasons = peewee.TextField()
    recorded_at = peewee.IntegerField()

    class Meta:
        table_name = "permit_analyses"


class PermitViolation(Model):
    """A PPE violation (vision) seen on the permit's job while it was on site (watch.on_violation)."""
    permit_id = peewee.IntegerField()
    violation_id = peewee.IntegerField()
    camera = peewee.TextField()
    zone = peewee.TextField()
    area = peewee.TextField(null=True)
    snapshot = peewee.TextField(null=True)
    occurred_at = peewee.IntegerField()
    recorded_at = peewee.IntegerField()

    class Meta:
        table_name = "permit_violations"


class Presence(Model):
    permit_id = peewee.IntegerField()
    person_id = peewee.IntegerField()
    source = peewee.TextField()
    reader = peewee.TextField(null=True)
    at = peewee.IntegerField()

    class Meta:
        table_name = "permit_presence"


def _bad(key: str, zh: str, en: str) -> ValidationFailed:
    return ValidationFailed(f"{key}：{zh}", f"{key}: {en}", details=[{"key": key}])


# ---------------------------------------------------------------- views

def _workers(p: Permit) -> list[int]:
    return list(json.loads(p.workers))


def people_on_job(p: Permit) -> dict[str, list[int]]:
    return {"worker": _workers(p), "guardian": [p.guardian_id], "issuer": [p.issuer_id]}


def _names(ids: Iterable[int]) -> dict[int, str]:
    ids = list(ids)
    return {x.id: x.name for x in Person.select().where(Person.id.in_(ids))} if ids else {}


def summary(p: Permit, areas: Mapping[int, Area] | None = None) -> dict:
    """The contract's list entry (GET /api/v1/permits)."""
    area = (areas or {}).get(p.area_id) or Area.get_or_none(Area.id == p.area_id)
    return {"id": p.id, "no": p.no, "type": p.type, "grade": p.grade, "area": area.code if area else None,
            "state": p.state, "valid_from": p.valid_from, "valid_to": p.valid_to,
            "suspended_reason": p.suspended_reason, "location": p.location}


def analysis_dict(a: Analysis) -> dict:
    return {"id": a.id, "at": a.at, "source": a.source, "analyst": a.analyst, "instrument": a.instrument,
            "samples": json.loads(a.samples), "passed": bool(a.passed), "reasons": json.loads(a.reasons)}


def permit_dict(p: Permit) -> dict:
    people = people_on_job(p)
    names = _names({i for ids in people.values() for i in ids})
    tapped = {x.person_id: x.at for x in Presence.select().where(Presence.permit_id == p.id)}
    g = R.grade_of(p.type, p.grade)
    return {**summary(p), "content": p.content, "medium": p.medium, "medium_lel": p.medium_lel,
            "medium_temp_c": p.medium_temp_c, "medium_pressure_mpa": p.medium_pressure_mpa,
            "jsa_rows": json.loads(p.jsa_rows or "[]"), "jsa_required": C.jsa_required(p.type, p.grade),
            "approvals": approval_view.view(p), "rejected_reason": p.rejected_reason,
            "applicant": p.applicant, "type_name": R.TYPES[p.type][0], "type_name_en": R.TYPES[p.type][1],
            "grade_name": g.zh, "grade_name_en": g.en, "approval_level": p.approval_level,
            "workers": [{"id": i, "name": names.get(i), "tapped_at": tapped.get(i)} for i in people["worker"]],
            "guardian": {"id": p.guardian_id, "name": names.get(p.guardian_id), "tapped_at": tapped.get(p.guardian_id)},
            "issuer": {"id": p.issuer_id, "name": names.get(p.issuer_id), "tapped_at": tapped.get(p.issuer_id)},
            "presence_missing": R.presence_missing(people, tapped), "reader": p.reader,
            "measures": [{"code": c, "zh": zh, "en": en, **json.loads(p.measures).get(c, {})}
                         for c, zh, en in R.MEASURES[p.type]],
            "cameras": json.loads(p.cameras or "[]"),
            "violations": [{"id": v.violation_id, "camera": v.camera, "zone": v.zone, "at": v.occurred_at,
                            "snapshot": v.snapshot}
                           for v in PermitViolation.select().where(PermitViolation.permit_id == p.id)
                           .order_by(PermitViolation.occurred_at.desc()).limit(20)],
            "jsa": p.jsa, "simops": json.loads(p.simops) if p.simops else None,
            "approved_by": p.approved_by, "approved_at": p.approved_at, "briefed_at": p.briefed_at,
            "started_at": p.started_at, "suspended_at": p.suspended_at, "last_pass_at": p.last_pass_at,
            "reanalysis_due": R.reanalysis_due(p.type, p.last_pass_at) if p.state == "active" else None,
            "needs_analysis": p.type in R.NEEDS_ANALYSIS,
            "closed_at": p.closed_at, "closed_by": p.closed_by, "close_note": p.close_note,
            "analyses": [analysis_dict(a) for a in Analysis.select().where(Analysis.permit_id == p.id)
                         .order_by(Analysis.at.desc()).limit(20)]}


def get(permit_id: int) -> Permit:
    p = Permit.get_or_none(Permit.id == permit_id)
    if p is None:
        raise NotFound("作业票不存在", "no such permit")
    return p


def _payload(p: Permit, **extra) -> dict:
    return {**summary(p), **extra}


def _transition(p: Permit, action: str) -> str:
    try:
        return R.next_state(p.state, action)
    except ValueError:
        raise Conflict(f"作业票当前状态（{p.state}）不能执行此操作（{action}）",
                       f"the permit is {p.state}: cannot {action} it") from None


# ---------------------------------------------------------------- the steps

def _default_reader(area_id: int) -> str | None:
    from appliance.patrol.models import Checkpoint

    cp = Checkpoint.get_or_none((Checkpoint.area_id == area_id) & Checkpoint.active & Checkpoint.reader.is_null(False))
    return cp.reader if cp else None


def _certificate_holders(work_type: str, workers: list[int], start: int, end: int) -> dict[str, list[int]]:
    """For each certificate kind the work needs: the workers holding one valid from `start` to `end`, as the
    training domain's records say."""
    from appliance.training import certificates as TC

    return {k: [w for w in workers if not TC.missing_for(w, [R.TRAINING_CATEGORY[k]], start, end)]
            for k in R.CERTIFICATES.get(work_type, ())}


def apply(data: ApplyIn, *, actor: str, now: int | None = None,
          cameras: Mapping[str, set[str]] | None = None) -> Permit:
    """申请: one place, one job; the grade's validity; SIMOPS against the live permits in the area.
    `cameras`: the configured cameras → the area codes each covers (its own and its zones')."""
    now = now or events.now_ms()
    cameras = cameras or {}
    if data.type not in R.TYPES:
        raise _bad("type", f"未知作业类型（{', '.join(R.TYPES)}）", f"unknown work type ({', '.join(R.TYPES)})")
    if data.type == "blinding":   # GB 30871-2022 §7: graded by the medium, its temperature and pressure
        _check_blinding(data.medium_temp_c, data.medium_pressure_mpa)
        derived = R.blinding_grade(data.medium, data.medium_temp_c, data.medium_pressure_mpa)
        if data.grade not in ("-", derived):
            raise _bad("grade", f"此介质、温度、压力的盲板抽堵作业为 {derived} 级", f"blinding on this line is grade {derived}")
        data = data.model_copy(update={"grade": derived})
    try:
        g = R.grade_of(data.type, data.grade)
    except ValueError as exc:
        raise _bad("grade", "该作业类型没有此级别", str(exc)) from None
    why = R.check_validity(data.type, data.grade, data.valid_from, data.valid_to)
    if why:
        raise _bad("valid_to", f"有效期不符合 GB 30871-2022（最长 {g.validity_ms // R.H} 小时）", why)
    _check_jsa(data.type, data.grade, [r.model_dump() for r in data.jsa_rows])
    area = Area.get_or_none((Area.id == data.area_id) & Area.active)
    if area is None:
        raise _bad("area_id", "区域不存在", "no such area")
    ids = {*data.workers, data.guardian_id, data.issuer_id}
    found = {x.id for x in Person.select().where(Person.id.in_(list(ids)) & Person.active)}
    for key, vals in (("workers", data.workers), ("guardian_id", [data.guardian_id]), ("issuer_id", [data.issuer_id])):
        if any(v not in found for v in vals):
            raise _bad(key, "人员不存在或已停用", "no such active person")
    if data.guardian_id in data.workers:
        raise _bad("guardian_id", "监护人不能同时是作业人员", "the guardian cannot be one of the workers")
    gaps = R.crew_gaps(data.type, _certificate_holders(data.type, data.workers, data.valid_from, data.valid_to))
    if gaps:
        zh = "、".join(R.CERTIFICATE_NAMES[k][0] for k in gaps)
        en = ", ".join(R.CERTIFICATE_NAMES[k][1] for k in gaps)
        raise _bad("workers", f"作业人员中无人持有在整个作业期内有效的{zh}（特种作业人员安全技术培训考核管理规定）",
                   f"no worker holds a {en} valid over the whole job window (SAWS order 30)")
    if (data.medium and data.medium not in R.LEL_VV and data.medium_lel is None and data.type in R.NEEDS_ANALYSIS
            and R.blinding_hazard(data.medium) != "other"):   # a medium known not to burn has no LEL
        raise _bad("medium_lel", "介质不在爆炸下限表中，请填写其爆炸下限（% V/V）",
                   "the medium is not in the LEL table: enter its LEL (% V/V)")
    # SIMOPS: the open permits in this area (refuse or escalate) and in the neighbouring ones (escalate)
    near_ids = near.neighbour_ids(area.id)
    others = list(Permit.select().where(Permit.area_id.in_([area.id, *near_ids])
                                        & Permit.state.in_(("applied", "measures_confirmed", "approved", "briefed", *R.LIVE))))
    verdict = R.simops(data.type, [o.type for o in others if o.area_id == area.id],
                       [o.type for o in others if o.area_id != area.id])
    clashing = [o.id for o in others if R.CONFLICTS.get(frozenset({data.type, o.type}))]
    if verdict == "refuse":
        raise Conflict(f"交叉作业冲突：同一区域已有与之冲突的作业票（{clashing}），不能同时作业",
                       f"SIMOPS conflict: permits {clashing} in or near this area cannot run with this work")
    level = R.required_level(g.approver, verdict)
    if data.cameras is not None:
        unknown = sorted(set(data.cameras) - set(cameras))
        if unknown:
            raise _bad("cameras", f"未配置的摄像头 {unknown}", f"cameras not configured: {unknown}")
        linked = list(dict.fromkeys(data.cameras))
    else:
        linked = sorted(name for name, covers in cameras.items() if area.code in covers)
    with events.recording(actor) as rec:
        seq = Permit.select().count() + 1
        p = Permit.create(no=f"{data.type[:2].upper()}-{seq:05d}-{now % 100000:05d}", type=data.type,
                          grade=data.grade, area_id=area.id, location=data.location, content=data.content,
                          medium=data.medium, medium_lel=data.medium_lel, state="applied",
                          medium_temp_c=data.medium_temp_c if data.type == "blinding" else None,
                          medium_pressure_mpa=data.medium_pressure_mpa if data.type == "blinding" else None,
                          jsa_rows=json.dumps([r.model_dump() for r in data.jsa_rows], ensure_ascii=False),
                          approval_chain=json.dumps(C.chain_for(data.type, data.grade, level)),
                          valid_from=data.valid_from, valid_to=data.valid_to, applicant=actor,
                          workers=json.dumps(data.workers), guardian_id=data.guardian_id, issuer_id=data.issuer_id,
                          reader=data.reader or _default_reader(area.id), measures="{}", jsa=data.jsa,
                          approval_level=level,
                          simops=json.dumps({"verdict": verdict, "permits": clashing}) if verdict else None,
                          cameras=json.dumps(linked), created_at=now, updated_at=now)
        rec.emit("permit.applied", entity=("permit", p.id),
                 payload=_payload(p, location=p.location, content=p.content, approval_level=level,
                                  simops=verdict, workers=data.workers, guardian_id=data.guardian_id,
                                  issuer_id=data.issuer_id, cameras=linked, medium_temp_c=data.medium_temp_c,
                                  medium_pressure_mpa=data.medium_pressure_mpa,
                                  approval_chain=list(C.chain_for(data.type, data.grade, level)),
                                  jsa_rows=len(data.jsa_rows)))
    return p


def confirm_measures(permit_id: int, data: MeasuresIn, *, actor: str) -> Permit:
    """措施确认: every measure of the type's list confirmed (涉及 / 不涉及) by a named person."""
    now = events.now_ms()
    with events.recording(actor) as rec:
        p = get(permit_id)
        if p.state != "applied":
            _transition(p, "confirm")
        known = {c for c, *_ in R.MEASURES[p.type]}
        unknown = sorted(set(data.measures) - known)
        if unknown:
            raise _bad("measures", f"未知措施 {unknown}", f"unknown measures {unknown}")
        merged = {**json.loads(p.measures),
                  **{c: {"applies": m.applies, "by": m.by, "at": now} for c, m in data.measures.items()}}
        missing = R.measures_missing(p.type, merged)
        p.measures, p.updated_at = json.dumps(merged, ensure_ascii=False), now
        if not missing:
            p.state = _transition(p, "confirm")
        p.save()
        rec.emit("permit.measures_confirmed" if not missing else "permit.measures_updated", entity=("permit", p.id),
                 payload=_payload(p, measures=merged, missing=missing))
    return p


def record_presence(permit_id: int, person_id: int, *, source: str, reader: str | None, at: int, actor: str) -> bool:
    """A person on the job verified on site; False when they are not on this permit or were seen already."""
    with events.recording(actor) as rec:
        p = get(permit_id)
        on_job = {i for ids in people_on_job(p).values() for i in ids}
        if person_id not in on_job or p.state in ("closed", "cancelled"):
            return False
        if Presence.get_or_none((Presence.permit_id == p.id) & (Presence.person_id == person_id)):
            return False
        Presence.create(permit_id=p.id, person_id=person_id, source=source, reader=reader, at=at)
        roles = [r for r, ids in people_on_job(p).items() if person_id in ids]
        person = Person.get_by_id(person_id)
        rec.emit("permit.person_verified", entity=("permit", p.id), occurred_at=at,
                 payload=_payload(p, person_id=person_id, person=person.name, roles=roles, source=source, reader=reader))
    return True


def tap_at_device(permit_id: int, uid: str, *, actor: str) -> dict:
    """A badge read by a tablet or phone with NFC at the site (or typed from its label)."""
    person = person_for_badge(uid)
    if person is None:
        raise _bad("uid", "未知或已停用的工卡", "unknown or inactive badge")
    p = get(permit_id)
    if person.id not in {i for ids in people_on_job(p).values() for i in ids}:
        raise Conflict(f"{person.name} 不是此作业票的作业人员、监护人或负责人",
                       f"{person.name} is not a worker, the guardian or the issuer of this permit")
    record_presence(permit_id, person.id, source="tablet", reader=None, at=events.now_ms(), actor=actor)
    return {"person_id": person.id, "person": person.name}


def on_tap(ev) -> None:
    """Bus subscriber: a badge tap (patrol.tap) at a permit's site reader verifies that person on it."""
    if ev.type != "patrol.tap":
        return
    pl = ev.payload
    person, reader = pl.get("person_id"), pl.get("reader")
    if not person or not reader or pl.get("outcome") not in ("ok", "reader_login", "outside_round", "repeat"):
        return
    for p in Permit.select().where((Permit.reader == reader)
                                   & Permit.state.in_(("approved", "briefed", "active", "suspended"))):
        record_presence(p.id, person, source="reader", reader=reader, at=ev.occurred_at, actor=f"device:reader:{reader}")


def brief(permit_id: int, *, actor: str, note: str = "") -> Permit:
    """现场交底: the workers, the guardian and the issuer verified on site; the guardian free of other jobs."""
    now = events.now_ms()
    with events.recording(actor) as rec:
        p = get(permit_id)
        to = _transition(p, "brief")
        tapped = [x.person_id for x in Presence.select().where(Presence.permit_id == p.id)]
        missing = R.presence_missing(people_on_job(p), tapped)
        if missing:
            zh = "、".join({"worker": "作业人", "guardian": "监护人", "issuer": "作业负责人"}[m] for m in missing)
            raise Conflict(f"以下人员尚未在现场刷卡确认：{zh}", f"not yet verified on site by badge: {', '.join(missing)}")
        busy = [o.guardian_id for o in Permit.select().where(Permit.state.in_(("briefed", *R.LIVE)) & (Permit.id != p.id))]
        if R.guardian_busy(p.guardian_id, busy):
            raise Conflict("监护人正在监护另一项作业（一人只能监护一处）", "the guardian is watching another job")
        crew.check_admitted(_workers(p), now)   # contractors' people: admitted and briefed
        p.state, p.briefed_at, p.updated_at = to, now, now
        p.save()
        rec.emit("permit.briefed", entity=("permit", p.id), payload=_payload(p, note=note))
    return p


def _samples_live(p: Permit, points: list[dict]) -> list[dict]:
    from appliance.gas.gases import GASES

    area = Area.get_by_id(p.area_id)
    mine = [v for v in points if v.get("area") == area.code and GASES.get(v.get("gas", ""))
            and GASES[v["gas"]].kind in ("combustible", "toxic", "oxygen")]
    if not mine:
        raise Conflict(f"区域 {area.name} 没有固定式检测器，请手工录入分析",
                       f"no fixed detectors in {area.name_en or area.name}: enter the analysis by hand")
    now = events.now_ms()
    blocked = [why for v in mine if (why := R.point_blocks(v, now))]
    if blocked:
        raise Conflict(f"检测器不可用于分析：{blocked}", f"detectors cannot give an analysis now: {blocked}")
    return [{"gas": v["gas"], "value": v["value"], "unit": v["unit"], "point": v["id"]} for v in mine]


def _sample(s: Mapping) -> R.Sample:
    from appliance.gas.gases import GASES

    g = GASES.get(s["gas"])
    if g is None or g.kind not in ("combustible", "toxic", "oxygen"):
        raise _bad("samples", f"未知气体 {s['gas']}", f"unknown gas {s['gas']}")
    oel = None
    if g.kind == "toxic":
        oel = g.oel_ppm if s["unit"] == "ppm" else g.oel_mg_m3 if s["unit"] in ("mg/m3", "mg/m³") else None
    return R.Sample(s["gas"], g.kind, float(s["value"]), s["unit"], oel)


def analyse(permit_id: int, data: AnalysisIn, *, actor: str, points: list[dict] | None = None) -> Analysis:
    """气体分析: entered by hand (analyst, instrument, time, values) or taken now from the live fixed detectors."""
    now = events.now_ms()
    p = get(permit_id)
    if p.state in ("closed", "cancelled"):
        raise Conflict("作业票已结束", "the permit is finished")
    if data.source == "live":
        if points is None:
            raise Conflict("气体检测未运行，请手工录入分析", "gas monitoring is not running: enter the analysis by hand")
        raw = _samples_live(p, points) + [s.model_dump() for s in data.samples]
        at, analyst, instrument = now, data.analyst or actor, data.instrument or "fixed detectors"
    else:
        if not data.samples:
            raise _bad("samples", "请至少录入一项分析数据", "enter at least one sample")
        if not data.analyst:
            raise _bad("analyst", "请填写分析人", "the analyst is required")
        at = data.at or now
        if at > now + 60_000:
            raise _bad("at", "分析时间不能在将来", "the time cannot be in the future")
        raw, analyst, instrument = [s.model_dump() for s in data.samples], data.analyst, data.instrument
    samples = [_sample(s) for s in raw]
    for s, r in zip(samples, raw, strict=True):
        r.update(kind=s.kind, oel=s.oel)
    passed, reasons = R.judge_analysis(p.type, samples, p.medium_lel or R.LEL_VV.get(p.medium or ""), data.oxygen_rich)
    with events.recording(actor) as rec:
        a = Analysis.create(permit_id=p.id, at=at, source=data.source, analyst=analyst, instrument=instrument,
                            samples=json.dumps(raw, ensure_ascii=False), passed=passed,
                            reasons=json.dumps(reasons, ensure_ascii=False), recorded_at=now)
        if passed and (p.last_pass_at is None or at > p.last_pass_at):
            Permit.update(last_pass_at=at, updated_at=now).where(Permit.id == p.id).execute()
        rec.emit("permit.analysed", entity=("permit", p.id), occurred_at=at,
                 payload=_payload(p, analysis_id=a.id, source=data.source, passed=passed, reasons=reasons,
                                  samples=raw, analyst=analyst))
    # GB 30871-2022 §6.4 / §4: an analysis that fails while the work goes on stops it
    if not passed and p.state == "active":
        suspend(p.id, f"analysis failed: {'; '.join(reasons)}", actor=actor, at=at)
    return a


def start(permit_id: int, *, actor: str) -> Permit:
    """作业: within the validity, behind the gas gate (a passing analysis ≤ 30 min old)."""
    now = events.now_ms()
    with events.recording(actor) as rec:
        p = get(permit_id)
        to = _transition(p, "start")
        if not p.valid_from - 5 * 60_000 <= now <= p.valid_to:
            raise Conflict("不在作业票有效期内", "outside the permit's validity")
        why = R.analysis_gate(p.type, p.grade, now, p.last_pass_at)
        if why:
            raise Conflict(f"气体分析不合格或已超过 30 分钟，不能开始作业（{why}）", f"gas gate: {why}")
        crew.check_admitted(_workers(p), now)   # contractors' people: admitted and briefed
        p.state, p.started_at, p.updated_at = to, now, now
        p.save()
        rec.emit("permit.started", entity=("permit", p.id), payload=_payload(p))
    return p


def suspend(permit_id: int, reason: str, *, actor: str, at: int | None = None, interlock: bool = False) -> Permit:
    now = at or events.now_ms()
    with events.recording(actor) as rec:
        p = get(permit_id)
        to = _transition(p, "suspend")
        p.state, p.suspended_at, p.suspended_reason, p.updated_at = to, now, reason, events.now_ms()
        p.save()
        rec.emit("permit.suspended", entity=("permit", p.id), occurred_at=now,
                 payload=_payload(p, interlock=interlock, guardian_id=p.guardian_id))
    return p


def resume(permit_id: int, *, actor: str) -> Permit:
    """Resume after a suspension: only with a passing analysis taken after it (and within 30 min)."""
    now = events.now_ms()
    with events.recording(actor) as rec:
        p = get(permit_id)
        to = _transition(p, "resume")
        if now > p.valid_to:
            raise Conflict("作业票已过有效期", "the permit has expired")
        # a suspension by the interlock needs a new analysis even for types without a gas gate
        interlock = bool(p.suspended_reason and p.suspended_reason.startswith("interlock"))
        gate = R.resume_gate(p.type, p.grade, now, p.last_pass_at, p.suspended_at, interlock)
        if gate:
            raise Conflict(f"恢复作业需要暂停后新的合格气体分析（{gate}）", f"resuming needs a new analysis: {gate}")
        crew.check_admitted(_workers(p), now)   # the contractors' people still admitted (a blacklist meanwhile)
        was = p.suspended_reason
        p.state, p.suspended_reason, p.suspended_at, p.updated_at = to, None, None, now
        p.save()
        rec.emit("permit.resumed", entity=("permit", p.id), payload=_payload(p, after=was))
    return p


def close(permit_id: int, *, actor: str, note: str = "") -> Permit:
    """完工验收: the work is done and the site checked."""
    now = events.now_ms()
    with events.recording(actor) as rec:
        p = get(permit_id)
        p.state = _transition(p, "close")
        p.closed_at, p.closed_by, p.close_note, p.updated_at = now, actor, note, now
        p.save()
        rec.emit("permit.closed", entity=("permit", p.id), payload=_payload(p, note=note))
    return p


def cancel(permit_id: int, *, actor: str, note: str = "") -> Permit:
    now = events.now_ms()
    with events.recording(actor) as rec:
        p = get(permit_id)
        p.state, p.updated_at, p.close_note = _transition(p, "cancel"), now, note
        p.save()
        rec.emit("permit.cancelled", entity=("permit", p.id), payload=_payload(p, note=note))
    return p


def on_gas_event(ev) -> int:
    """Bus subscriber, the live interlock: a level-1/2 alarm, an over-range or a fault on a detector in or
    near an active permit's area (`near`) suspends that permit (within the poll that raised it). Returns how many."""
    why = R.interlock_reason(ev.type, ev.payload)
    code = ev.payload.get("area")
    area = Area.get_or_none(Area.code == code) if why and code else None
    if area is None:
        return 0
    n, around = 0, near.neighbour_ids(area.id)
    for p in Permit.select().where(Permit.area_id.in_([area.id, *around]) & (Permit.state == "active")):
        where = "" if R.interlock_scope(p.area_id, area.id, around) == "here" else f" (near: in {code})"
        suspend(p.id, f"interlock: {why}{where}", actor="system:interlock", at=ev.occurred_at, interlock=True)
        n += 1
    return n
