"""Badge taps at checkpoints and the checklist answered after one.

A tap is resolved like this:
- the UID is a checkpoint's tag → the reader is carried: the inspector is whoever last tapped their badge
  on that reader (within `CARRIED_LOGIN_MS`);
- else it is a badge: unknown or deactivated → refused, shown on the checkpoint screen;
- a badge at a reader fixed at a checkpoint is a visit; at any other reader it logs the holder in to
  that (carried) reader;
- a visit counts for the earliest open round of a plan that allows the person and whose route has the
  checkpoint and still lacks it; with no such round it is recorded as outside any round.
"""
from __future__ import annotations

import json
import logging
from typing import Literal

import peewee
from pydantic import Field

from appliance.core import events, storage
from appliance.core.errors import Conflict, Forbidden, ValidationFailed
from appliance.core.people import Area, Badge, Input, Person, normalize_uid
from appliance.patrol import rules as PR
from appliance.patrol.models import Checkpoint, CheckRecord, LastSeen, PatrolTap, Plan, Round, Route, RouteStop
from appliance.patrol.plans import get_record
from appliance.patrol.review import person_of
from appliance.patrol.rounds import judge, tap_dict, verdict_of

log = logging.getLogger(__name__)


CARRIED_LOGIN_MS = 15 * PR.MINUTE_MS   # a badge on a carried reader logs its holder in for this long


REPEAT_MS = 5 * PR.MINUTE_MS           # the same person at the same checkpoint again this soon: one visit


ANSWER_WINDOW_MS = 30 * PR.MINUTE_MS   # the checklist must be answered this soon after the tap


class ItemDraft(Input):
    """The hazard draft of one 异常 item, as edited at the checkpoint (issue 15 item 4)."""
    description: str = Field("", max_length=2000)
    photo: str | None = Field(None, pattern=r"^[0-9a-f]{64}$")   # from POST /patrol/taps/<id>/photos


class AnswerIn(Input):
    answers: dict[str, Literal["normal", "abnormal"]]
    note: str = Field("", max_length=1000)
    drafts: dict[str, ItemDraft] = Field(default_factory=dict)


def hazard_text(checkpoint: str, item: str, draft: str = "", note: str = "") -> str:
    """The hazard an 异常 answer files: it names the check that failed, so an item worded as the normal
    state ("液位计读数正常、无报警") never reads as if the finding were normal (issue 15 item 4); what the
    inspector wrote follows (their draft, else the round's note)."""
    text = f"巡检异常：{checkpoint} · 检查项「{item}」不符合"
    said = draft.strip()
    if said and said != item.strip():
        text += f"：{said}"
    elif note.strip():
        text += f"（{note.strip()}）"
    return text[:2000]


OUTCOME_STATUS = {"ok": "ok", "reader_login": "ok", "repeat": "ok", "outside_round": "warn", "unknown_badge": "refused",
                  "inactive_badge": "refused", "bad_uid": "refused", "no_inspector": "refused",
                  "foreign_reader": "refused", "stale_tap": "refused"}


MESSAGES = {
    "ok": ("{person} 已签到：{checkpoint}", "{person} checked in: {checkpoint}"),
    "reader_login": ("{person} 已登录巡检仪，请读取点位标签", "{person} logged in to this reader; now read the checkpoint tag"),
    "outside_round": ("{person} 已记录（{checkpoint}），但不在任何巡检计划时段内",
                      "{person} recorded at {checkpoint}, but outside any patrol round"),
    "unknown_badge": ("未登记的卡，拒绝", "Unknown card: refused"),
    "inactive_badge": ("此卡已停用，拒绝", "This card is deactivated: refused"),
    "bad_uid": ("读卡数据无效，请重刷", "Unreadable card data: tap again"),
    "no_inspector": ("请先刷工卡登录巡检仪", "Tap your badge on this reader first"),
    "repeat": ("{person} 已在此签到过（重复刷卡）", "{person} already checked in here (repeated tap)"),
    "foreign_reader": ("读卡站无权上报此读卡器的刷卡", "The station may not post taps for this reader"),
    "stale_tap": ("刷卡时间无效（读卡站时钟错误？）", "The tap's time is not plausible (station clock wrong?)"),
}


def _resolve(reader: str, uid: str, at: int) -> tuple[str, Person | None, Checkpoint | None]:
    try:
        uid = normalize_uid(uid)
    except ValueError:
        return "bad_uid", None, None
    tag_cp = Checkpoint.get_or_none((Checkpoint.tag_uid == uid) & Checkpoint.active)
    if tag_cp is not None:
        login = (PatrolTap.select().where((PatrolTap.reader == reader) & (PatrolTap.outcome == "reader_login")
                                          & (PatrolTap.at >= at - CARRIED_LOGIN_MS) & (PatrolTap.at <= at))
                 .order_by(PatrolTap.at.desc()).first())
        person = Person.get_or_none((Person.id == login.person_id) & Person.active) if login else None
        return ("ok", person, tag_cp) if person else ("no_inspector", None, tag_cp)
    badge = Badge.get_or_none(Badge.uid == uid)
    if badge is None:
        return "unknown_badge", None, None
    person = Person.get_by_id(badge.person_id)
    if not badge.active or not person.active:
        return "inactive_badge", person, None
    fixed = Checkpoint.get_or_none((Checkpoint.reader == reader) & Checkpoint.active)
    return ("ok", person, fixed) if fixed else ("reader_login", person, None)


def _allowed(plan: Plan, person: Person) -> bool:
    people, depts = json.loads(plan.people), json.loads(plan.departments)
    if people and person.employee_no not in people:
        return False
    return not depts or person.department in depts


def _round_for(person: Person, cp: Checkpoint, at: int) -> Round | None:
    # closed rounds too: a tap made in the window but relayed late (a station whose LAN was down) still counts
    candidates = (Round.select(Round).join(RouteStop, on=(RouteStop.route_id == Round.route_id))
                  .where((RouteStop.checkpoint_id == cp.id) & (Round.due_start <= at)
                         & (Round.due_end + Round.grace_ms >= at)
                         & (Round.person_id.is_null() | (Round.person_id == person.id)))
                  .order_by(Round.due_start))
    # a round whose window holds the tap comes before an earlier one that is only in its grace time
    for r in sorted(candidates, key=lambda r: (not r.due_start <= at <= r.due_end, r.due_start)):
        plan = Plan.get_or_none(Plan.id == r.plan_id)
        if plan is None or not _allowed(plan, person):
            continue
        done = PatrolTap.select().where((PatrolTap.round_id == r.id) & (PatrolTap.checkpoint_id == cp.id)
                                        & (PatrolTap.outcome == "ok")).exists()
        if not done:
            return r
    return None


def _repeat_of(person: Person, cp: Checkpoint, at: int) -> PatrolTap | None:
    """The visit this tap repeats: the same person at the same checkpoint within `REPEAT_MS`."""
    return (PatrolTap.select().where((PatrolTap.person_id == person.id) & (PatrolTap.checkpoint_id == cp.id)
                                     & PatrolTap.outcome.in_(("ok", "outside_round"))
                                     & (PatrolTap.at >= at - REPEAT_MS) & (PatrolTap.at <= at + REPEAT_MS))
            .order_by(PatrolTap.at.desc()).first())


def record_tap(reader: str, uid: str, at: int, *, station: str | None = None, station_tap: str | None = None,
               actor: str | None = None, refused: str | None = None) -> dict:
    """Record one badge or tag read; returns what the checkpoint screen shows (also the event payload).
    `refused` records a relayed tap that may not count (a foreign reader, an implausible time). A tap is a
    safety record (who was where, for a muster): on a full disk it is stored in the safety reserve."""
    return storage.safety_write(lambda: _record_tap(reader, uid, at, station=station, station_tap=station_tap,
                                                    actor=actor, refused=refused))


def _record_tap(reader: str, uid: str, at: int, *, station: str | None, station_tap: str | None,
                actor: str | None, refused: str | None) -> dict:
    actor = actor or (f"device:station:{station}" if station else f"device:reader:{reader}")
    raw_uid = uid.strip()[:40]
    # the write transaction (BEGIN IMMEDIATE) serialises taps: two at once cannot pick the same round stop
    with events.recording(actor) as rec:
        if station and station_tap:
            seen = PatrolTap.get_or_none((PatrolTap.station == station) & (PatrolTap.station_tap == station_tap))
            if seen is not None:  # the station re-sent a tap we already hold (its ack was lost)
                return {**tap_dict(seen), "status": OUTCOME_STATUS[seen.outcome], "duplicate": True}
        if refused:
            outcome, person, cp = refused, None, None
        else:
            outcome, person, cp = _resolve(reader, raw_uid, at)
        rnd = None
        if outcome == "ok" and cp is not None:
            assert person is not None   # _resolve pairs "ok" with a person
            if _repeat_of(person, cp, at) is not None:
                outcome = "repeat"
            else:
                rnd = _round_for(person, cp, at)
                if rnd is None:
                    outcome = "outside_round"
        t = events.now_ms()
        try:
            stored_uid = normalize_uid(raw_uid)
        except ValueError:
            stored_uid = raw_uid
        shown = cp.checklist if cp is not None and outcome in ("ok", "outside_round") else None
        tap = PatrolTap.create(reader=reader, uid=stored_uid, at=at, recorded_at=t, outcome=outcome,
                               person_id=person.id if person else None, checkpoint_id=cp.id if cp else None,
                               round_id=rnd.id if rnd else None, station=station, station_tap=station_tap,
                               answered=False, checklist=shown)
        area = Area.get_or_none(Area.id == cp.area_id) if cp else None
        if outcome in ("ok", "outside_round", "repeat"):
            assert person is not None and cp is not None   # these come only from an "ok" tap (above)
            # where the person was last seen only moves forward in time (a relayed tap may be older)
            LastSeen.insert(person_id=person.id, area_id=area.id if area else None, checkpoint_id=cp.id,
                            reader=reader, at=at).on_conflict(
                conflict_target=[LastSeen.person_id],
                update={LastSeen.area_id: peewee.EXCLUDED.area_id, LastSeen.checkpoint_id: peewee.EXCLUDED.checkpoint_id,
                        LastSeen.reader: peewee.EXCLUDED.reader, LastSeen.at: peewee.EXCLUDED.at},
                where=(peewee.EXCLUDED.at > LastSeen.at)).execute()
        round_status = None
        if rnd is not None:
            if rnd.person_id is None:
                assert person is not None   # a round is found only for an "ok" tap (above)
                Round.update(person_id=person.id).where(Round.id == rnd.id).execute()
            rnd = Round.get_by_id(rnd.id)
            if rnd.closed:   # judged already: judge it again with this visit
                round_status = judge(rnd, t, rec, event="patrol.round_rejudged").status
            else:
                v = verdict_of(rnd, t)
                round_status = v.status
                Round.update(status=v.status, verdict=json.dumps(v.as_dict()), updated_at=t).where(Round.id == rnd.id).execute()
        zh, en = MESSAGES[outcome]
        names = {"checkpoint": cp.name if cp else "", "person": person.name if person else ""}
        names_en = {"checkpoint": (cp.name_en or cp.name) if cp else "", "person": person.name if person else ""}
        route = Route.get_or_none(Route.id == rnd.route_id) if rnd else None
        payload = {"tap_id": tap.id, "reader": reader, "status": OUTCOME_STATUS[outcome], "outcome": outcome,
                   "uid_tail": stored_uid[-4:], "person_id": person.id if person else None,
                   "person": person.name if person else None, "checkpoint_id": cp.id if cp else None,
                   "checkpoint": cp.name if cp else None, "checkpoint_en": cp.name_en if cp else None,
                   "area_id": area.id if area else None, "area": area.name if area else None,
                   "round_id": rnd.id if rnd else None, "route": route.name if route else None,
                   "route_en": route.name_en if route else None, "round_status": round_status,
                   "station": station, "message": zh.format(**names), "message_en": en.format(**names_en)}
        if shown is not None:
            payload["checklist"] = json.loads(shown)
        rec.emit("patrol.tap", entity=("tap", tap.id), payload=payload, occurred_at=at)
    if outcome not in ("ok", "reader_login", "repeat"):
        log.info("tap not counted", extra={"reader": reader, "outcome": outcome, "uid_tail": stored_uid[-4:]})
    return payload


def check_answerer(tap: PatrolTap, principal) -> None:
    """Who may answer a tap's checklist (and add its photos): the checkpoint's own screen (a device token
    named after the tap's reader), the person who tapped, or the shift and safety office (patrol.review)."""
    from appliance.core.auth import allowed

    if principal.kind == "device":
        if principal.name != tap.reader:
            raise Forbidden("只能在刷卡的点位屏上填写（设备令牌须以读卡器命名）",
                            "answer on the screen of the checkpoint where the card was tapped "
                            "(its device token is named after the reader)")
    elif person_of(principal) != tap.person_id and not allowed(principal.role, "patrol.review"):
        raise Forbidden("只能填写本人刷卡的检查表", "you may answer only the checklist of your own tap")


def answer(tap_id: int, data: AnswerIn, principal, photo_root=None) -> CheckRecord:
    """The checklist answered at the checkpoint after a tap: the check record (排查记录, status 0 正常 or
    1 存在隐患), and for each 异常 a hazard report with the checkpoint, area and person filled in."""
    from appliance.hazards import service as hazards

    with events.recording(principal.actor) as rec:
        tap = get_record(PatrolTap, tap_id, "刷卡记录", "tap")
        check_answerer(tap, principal)
        if tap.outcome not in ("ok", "outside_round") or tap.checkpoint_id is None:
            raise Conflict("此次刷卡没有可填写的检查表", "this tap has no checklist to answer")
        if tap.answered:
            raise Conflict("此次刷卡的检查表已提交", "the checklist of this tap was already answered")
        if events.now_ms() - tap.recorded_at > ANSWER_WINDOW_MS:
            raise Forbidden("刷卡已超过 30 分钟，请重新刷卡后填写", "the tap is over 30 minutes old; tap again to answer")
        cp = Checkpoint.get_by_id(tap.checkpoint_id)
        items = {i["id"]: i for i in json.loads(tap.checklist or cp.checklist)}   # as shown at the tap
        if set(data.answers) != set(items):
            missing = sorted(set(items) - set(data.answers))
            extra = sorted(set(data.answers) - set(items))
            raise ValidationFailed(f"answers：须逐项填写（缺 {missing}，多 {extra}）",
                                   f"answers: every item must be answered (missing {missing}, unknown {extra})",
                                   details=[{"key": "answers"}])
        person = Person.get_or_none(Person.id == tap.person_id)
        # the checkpoint's screen cannot tell who pressed the buttons: the person who just tapped did
        reporter = (f"person:{person.employee_no}" if person else principal.actor) if principal.kind == "device" \
            else principal.actor
        hazard_ids = []
        for item_id, value in data.answers.items():
            if value == "abnormal":
                item = items[item_id]
                draft = data.drafts.get(item_id) or ItemDraft()
                text = hazard_text(cp.name, item["text"], draft.description, data.note)
                h = hazards.report(hazards.ReportIn(area_id=cp.area_id, category=item.get("category", "安全"),
                                                    description=text, photo=draft.photo),
                                   actor=reporter, photo_root=photo_root)
                hazard_ids.append(h.id)
        status = PR.CHECK_HAZARD if hazard_ids else PR.CHECK_NORMAL
        c = CheckRecord.create(tap_id=tap.id, round_id=tap.round_id, checkpoint_id=cp.id, person_id=tap.person_id,
                               status=status, answers=json.dumps(data.answers), note=data.note,
                               hazard_ids=json.dumps(hazard_ids), checked_at=events.now_ms())
        PatrolTap.update(answered=True).where(PatrolTap.id == tap.id).execute()
        # items that check a control measure: a check record per measure, which is that period's control task
        from appliance.risk.tasks import complete, current_task

        item_hazards = dict(zip([k for k, v in data.answers.items() if v == "abnormal"], hazard_ids, strict=False))
        for item_id, value in data.answers.items():
            mid = items[item_id].get("measure_id")
            if mid is None:
                continue
            result = PR.CHECK_HAZARD if value == "abnormal" else PR.CHECK_NORMAL
            hz = item_hazards.get(item_id)
            mc = CheckRecord.create(tap_id=tap.id, round_id=tap.round_id, checkpoint_id=cp.id, person_id=tap.person_id,
                                    status=result, answers=json.dumps({item_id: value}), note=data.note,
                                    hazard_ids=json.dumps([hz] if hz else []), checked_at=events.now_ms(), measure_id=mid)
            task = current_task(mid, tap.at)
            if task is not None:
                complete(task, result, data.note, actor=reporter, check_record_id=mc.id, hazard_id=hz)
        rec.emit("patrol.checked", entity=("check", c.id),
                 payload={"id": c.id, "tap_id": tap.id, "round_id": tap.round_id, "reader": tap.reader,
                          "checkpoint_id": cp.id, "checkpoint": cp.name, "checkpoint_en": cp.name_en,
                          "person": person.name if person else None, "status": status, "hazard_ids": hazard_ids,
                          "hazards": len(hazard_ids)})
    return c
