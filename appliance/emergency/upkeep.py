"""Upkeep of the emergency resources: a daily scan tells the safety office when a resource's expiry or next
inspection date comes within `rules.RESOURCE_WARN_DAYS` (30/7/0 days), one `emergency.resource_warned` event
per resource, date and threshold. What was warned is read back from the event log itself (no table of its
own): a new date (inspected, replaced) starts its thresholds afresh."""
from __future__ import annotations

import json
from datetime import date, datetime
from zoneinfo import ZoneInfo

from pydantic import Field

from appliance.core import events
from appliance.core.errors import Conflict
from appliance.core.people import site_timezone
from appliance.emergency import rules as R
from appliance.emergency import setup as S

WARNED = "emergency.resource_warned"
WHAT = (("expiry", "expires_on", "有效期", "expiry"), ("inspection", "next_inspection", "检验", "inspection"))


def _warned() -> dict[tuple[int, str, str], set[int]]:
    """(resource id, expiry|inspection, date) → thresholds warned."""
    out: dict[tuple[int, str, str], set[int]] = {}
    q = events.Event.select(events.Event.payload).where(events.Event.type == WARNED)
    for e in q:
        p = json.loads(e.payload)
        out.setdefault((p["id"], p["what"], p["due_on"]), set()).update(p["thresholds"])
    return out


def scan(now_ms: int | None = None, *, actor: str = "system:emergency") -> int:
    """Warn every threshold now due; returns the number of events written. Safe at any rate and at start (a
    box that was off sends the missed ones late)."""
    now_ms = events.now_ms() if now_ms is None else now_ms
    today = datetime.fromtimestamp(now_ms / 1000, ZoneInfo(site_timezone())).date()
    warned = _warned()
    codes = S.area_codes()
    n = 0
    for r in S.resources():
        for what, field, zh, en in WHAT:
            raw = getattr(r, field)
            if not raw:
                continue
            due_on = date.fromisoformat(raw)
            due = R.resource_warnings(due_on, today, warned.get((r.id, what, raw), ()))
            if not due:
                continue
            left = (due_on - today).days
            with events.recording(actor) as rec:
                rec.emit(WARNED, entity=("emergency_resource", r.id), occurred_at=now_ms, payload={
                    "id": r.id, "code": r.code, "name": r.name, "kind": r.kind, "area": codes.get(r.area_id),
                    "what": what, "due_on": raw, "days_left": left, "thresholds": due,
                    "message": f"{r.name}（{r.code}）{zh}" + (f"还有 {left} 天到期" if left > 0 else "已到期"),
                    "message_en": f"{r.name} ({r.code}) {en} " + (f"due in {left} days" if left > 0 else "is due"),
                    "to": ["safety_office"]})
            n += 1
    return n


def warning_count(now_ms: int | None = None) -> int:
    """Active resources whose expiry or inspection is near or past (the tablet's count)."""
    now_ms = events.now_ms() if now_ms is None else now_ms
    codes = S.area_codes()
    return sum(R.resource_state(S.as_rule(r, codes), now_ms) in ("warn", "expired", "overdue") for r in S.resources())


# ---------------------------------------------------------------- the warnings inbox (tablet)

ACKED = "emergency.resource_warning_acked"
UPKEPT = "emergency.resource_upkept"


class AckIn(S.In):
    resource: str = Field(min_length=1, max_length=32)
    what: str = Field(pattern="^(expiry|inspection)$")
    due_on: date


class ResolveIn(S.In):
    """Inspected (what=inspection: done_on, the next inspection) or replaced (what=expiry: the new expiry)."""
    resource: str = Field(min_length=1, max_length=32)
    what: str = Field(pattern="^(expiry|inspection)$")
    done_on: date | None = None
    next_date: date


def _today(now_ms: int) -> date:
    return datetime.fromtimestamp(now_ms / 1000, ZoneInfo(site_timezone())).date()


def _acks() -> dict[tuple[int, str, str], dict]:
    """(resource id, what, date) → who acknowledged it and when (read back from the event log)."""
    out = {}
    for e in events.Event.select(events.Event.payload, events.Event.actor, events.Event.recorded_at) \
            .where(events.Event.type == ACKED):
        p = json.loads(e.payload)
        out[(p["id"], p["what"], p["due_on"])] = {"by": e.actor, "at": e.recorded_at}
    return out


def open_warnings(now_ms: int | None = None) -> list[dict]:
    """Every active resource date within the first threshold (30 days) or past: the resource, its place,
    what is due and when, days left, and whether someone acknowledged it; unacknowledged and soonest first.
    A warning leaves the inbox when the resource gets a new date (resolved) or is retired."""
    now_ms = events.now_ms() if now_ms is None else now_ms
    today = _today(now_ms)
    acks = _acks()
    names = S.area_names()
    codes = S.area_codes()
    out = []
    for r in S.resources():
        for what, field, _zh, _en in WHAT:
            raw = getattr(r, field)
            if not raw:
                continue
            left = (date.fromisoformat(raw) - today).days
            if left > R.RESOURCE_WARN_DAYS[0]:
                continue
            area = codes.get(r.area_id)
            zh, en = names.get(area or "", (area, area))
            out.append({"resource": r.code, "resource_id": r.id, "name": r.name, "kind": r.kind, "area": area,
                        "area_name": zh, "area_name_en": en, "location": r.location, "what": what, "due_on": raw,
                        "days_left": left, "state": "overdue" if left < 0 else ("due_today" if left == 0 else "due_soon"),
                        "acked": acks.get((r.id, what, raw))})
    out.sort(key=lambda w: (w["acked"] is not None, w["days_left"], w["resource"], w["what"]))
    return out


def counts(warnings: list[dict]) -> dict:
    return {"open": sum(w["acked"] is None for w in warnings), "acked": sum(w["acked"] is not None for w in warnings),
            "overdue": sum(w["days_left"] <= 0 for w in warnings), "total": len(warnings)}


def _resource(code: str) -> S.Resource:
    r = S.Resource.get_or_none((S.Resource.code == code) & S.Resource.active)
    if r is None:
        raise S.bad("resource", f"物资 {code} 不存在或已停用", f"no active resource {code}")
    return r


def acknowledge(data: AckIn, *, actor: str) -> dict:
    """Seen and in hand (the warning stays in the inbox, marked, until the resource gets its new date)."""
    r = _resource(data.resource)
    field = dict((w, f) for w, f, *_ in WHAT)[data.what]
    if getattr(r, field) != data.due_on.isoformat():
        raise Conflict("该日期已更新，请刷新", "that date has changed meanwhile: reload")
    with events.recording(actor) as rec:
        if (r.id, data.what, data.due_on.isoformat()) in _acks():
            raise Conflict("该预警已确认", "this warning is acknowledged already")
        rec.emit(ACKED, entity=("emergency_resource", r.id),
                 payload={"id": r.id, "code": r.code, "name": r.name, "what": data.what, "due_on": data.due_on.isoformat()})
    return {"warnings": open_warnings()}


def resolve(data: ResolveIn, *, actor: str, now_ms: int | None = None) -> dict:
    """The resource inspected (its inspection date and the next) or replaced (a new expiry date): the new date
    starts its warnings afresh (`scan` keys them by date) and the warning leaves the inbox."""
    today = _today(events.now_ms() if now_ms is None else now_ms)
    r = _resource(data.resource)
    done = data.done_on or today
    if done > today:
        raise S.bad("done_on", "完成日期不能晚于今天", "the date done cannot be in the future")
    if data.next_date <= today:
        raise S.bad("next_date", "新日期应晚于今天", "the new date must be after today")
    values: dict = {"updated_at": events.now_ms()}
    if data.what == "inspection":
        values.update(inspected_on=done.isoformat(), next_inspection=data.next_date.isoformat())
        before = r.next_inspection
    else:
        values.update(expires_on=data.next_date.isoformat())
        before = r.expires_on
    with events.recording(actor) as rec:
        S.Resource.update(**values).where(S.Resource.id == r.id).execute()
        rec.emit(UPKEPT, entity=("emergency_resource", r.id),
                 payload={"id": r.id, "code": r.code, "name": r.name, "what": data.what, "done_on": done.isoformat(),
                          "before": before, "next_date": data.next_date.isoformat()})
    return {"warnings": open_warnings()}
