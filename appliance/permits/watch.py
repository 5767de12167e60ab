"""What happens to permits with time and on camera, without anyone pressing a button:

- `tick(now)` (the `permits-watch` job, every 15 s): a permit past its validity expires (GB 30871-2022 §4),
  and an active confined-space entry whose periodic analysis is overdue (§6.4: every 2 h) is suspended;
- `on_violation(ev)` (bus subscriber): a PPE violation seen by a permit's camera or in its area while the job
  is on site is attached to the permit and alerts its guardian (`permit.ppe_violation`).

The clock is passed in (`now`), so the tests run the job at any instant without sleeping. The decisions are
`rules` (pure); every change is a record plus a `permit.*` event."""
from __future__ import annotations

import json
import logging

from appliance.core import events
from appliance.core.people import Area, Person
from appliance.permits import rules as R
from appliance.permits import service as S

log = logging.getLogger(__name__)

ACTOR = "system:permits"
REANALYSIS_REASON = "reanalysis overdue"


def expire(permit_id: int, now: int) -> bool:
    """The permit expires (state `expired`, event `permit.expired`) if it is still past its validity."""
    with events.recording(ACTOR) as rec:
        p = S.get(permit_id)
        if not R.expired(p.state, p.valid_to, now):
            return False
        was = p.state
        p.state, p.updated_at = R.next_state(p.state, "expire"), now
        p.save()
        rec.emit("permit.expired", entity=("permit", p.id), occurred_at=now,
                 payload=S._payload(p, was=was, guardian_id=p.guardian_id))
    return True


def tick(now: int | None = None) -> dict[str, list[int]]:
    """One pass of the watch at `now` (ms): which permits expired and which were suspended."""
    now = now if now is not None else events.now_ms()
    out: dict[str, list[int]] = {"expired": [], "suspended": []}
    open_states = tuple(R.TRANSITIONS["expire"])
    for p in S.Permit.select().where(S.Permit.state.in_(open_states) & (S.Permit.valid_to < now)):
        try:
            if expire(p.id, now):
                out["expired"].append(p.id)
        except Exception:   # one bad row must not stop the others; said loudly
            log.exception("permit expiry failed", extra={"permit": p.id})
    for p in S.Permit.select().where((S.Permit.state == "active") & (S.Permit.type == "confined_space")):
        if R.reanalysis_overdue(p.type, p.state, p.last_pass_at, now):
            due = R.reanalysis_due(p.type, p.last_pass_at)
            try:
                S.suspend(p.id, f"{REANALYSIS_REASON} (GB 30871-2022 §6.4, due {due})", actor=ACTOR, at=now)
                out["suspended"].append(p.id)
            except Exception:
                log.exception("permit re-analysis suspension failed", extra={"permit": p.id})
    return out


def on_violation(ev) -> list[int]:
    """Bus subscriber: a `vision.violation` on a live permit's job (its camera or its area) is attached to the
    permit and alerts the guardian. Returns the permits it was attached to."""
    pl = ev.payload
    camera, area, vid = pl.get("camera") or "", pl.get("area") or None, pl.get("id")
    if vid is None:
        return []
    areas = {a.id: a.code for a in Area.select()}
    out = []
    for p in S.Permit.select().where(S.Permit.state.in_(R.VIDEO_STATES)):
        if not R.violation_on_permit(areas.get(p.area_id, ""), json.loads(p.cameras or "[]"), camera, area):
            continue
        with events.recording(ACTOR) as rec:
            if S.PermitViolation.get_or_none((S.PermitViolation.permit_id == p.id)
                                             & (S.PermitViolation.violation_id == int(vid))):
                continue
            S.PermitViolation.create(permit_id=p.id, violation_id=int(vid), camera=camera, zone=pl.get("zone") or "",
                                     area=area, snapshot=pl.get("snapshot"), occurred_at=ev.occurred_at,
                                     recorded_at=events.now_ms())
            guardian = Person.get_or_none(Person.id == p.guardian_id)
            rec.emit("permit.ppe_violation", entity=("permit", p.id), occurred_at=ev.occurred_at,
                     payload=S._payload(p, violation_id=int(vid), camera=camera, zone=pl.get("zone") or "",
                                        snapshot=pl.get("snapshot"), guardian_id=p.guardian_id,
                                        guardian=guardian.name if guardian else None))
        out.append(p.id)
    return out


SUBSCRIBED = ("alarm.", "point.", "patrol.tap", "vision.violation")   # the event types `subscriber` acts on


def subscriber(ev) -> None:
    """The domain's one bus subscriber: gas events (the interlock), badge taps (people on site) and PPE
    violations (the guardian's alert)."""
    if ev.type.startswith(("alarm.", "point.")):
        S.on_gas_event(ev)
    elif ev.type == "patrol.tap":
        S.on_tap(ev)
    elif ev.type == "vision.violation":
        on_violation(ev)
