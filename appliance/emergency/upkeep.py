"""Upkeep of the emergency resources: a daily scan tells the safety office when a resource's expiry or next
inspection date comes within `rules.RESOURCE_WARN_DAYS` (30/7/0 days), one `emergency.resource_warned` event
per resource, date and threshold. What was warned is read back from the event log itself (no table of its
own): a new date (inspected, replaced) starts its thresholds afresh."""
from __future__ import annotations

import json
from datetime import date, datetime
from zoneinfo import ZoneInfo

from appliance.core import events
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
