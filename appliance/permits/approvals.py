"""Approval by several levels, stored (the chain's rules are `chain`): each level's approval or rejection is
a `permit_approvals` row and one event — `permit.level_approved` for a level before the last,
`permit.approved` for the last (the permit is then approved), `permit.rejected` for a rejection at any
level (the permit ends, with the reason)."""
from __future__ import annotations

from appliance.core import events
from appliance.core.errors import Conflict, Forbidden, ValidationFailed
from appliance.permits import approval_view as V
from appliance.permits import chain as C
from appliance.permits import service as S

LEVEL_ZH, Approval, levels, view = V.LEVEL_ZH, V.Approval, V.levels, V.view
_rows, _steps = V._rows, V._steps


def _refuse(why: str, level: str | None) -> Exception:
    if why == "done":
        return Conflict("此作业票没有待审批的级别", "no approval level is pending on this permit")
    if why == "role":
        return Forbidden(f"此级须由{LEVEL_ZH[level or 'workshop']}审批", f"this step needs approval at the {level} level")
    if why == "self":
        return Forbidden("不能审批本人申请或参与的作业票", "you may not approve a permit you applied for or work on")
    return Forbidden("同一人不能审批同一作业票的两个级别（逐级审批须由不同人签字）",
                     "one person may not sign two levels of one permit: each level needs another approver")


def decide(permit_id: int, *, approve: bool, actor: str, role: str, person_id: int | None, note: str = "") -> S.Permit:
    """One level of the chain signs: in order, by a role of that level, by a person who has signed no other
    level of it, never the applicant or one on the job. A rejection needs its reason and ends the permit."""
    now = events.now_ms()
    if not approve and not note.strip():
        raise ValidationFailed("reason：驳回须填写原因", "reason: a rejection needs its reason", details=[{"key": "reason"}])
    with events.recording(actor) as rec:
        p = S.get(permit_id)
        S._transition(p, "approve" if approve else "reject")   # measures confirmed, not yet approved
        chain, rows = levels(p), _rows(p)
        steps = _steps(rows)
        level = C.pending_level(chain, steps)
        on_job = [i for ids in S.people_on_job(p).values() for i in ids]
        why = C.may_decide(chain, steps, actor=actor, role=role, person_id=person_id, applicant=p.applicant,
                           people_on_job=on_job)
        if why:
            raise _refuse(why, level)
        if now > p.valid_to:
            raise Conflict("作业票已过有效期", "the permit has expired")
        assert level is not None
        step = len(rows) + 1
        Approval.create(permit_id=p.id, step=step, level=level, decision="approved" if approve else "rejected",
                        actor=actor, person_id=person_id, note=note, at=now)
        extra = {"level": level, "step": step, "of": len(chain), "note": note}
        if not approve:
            p.state, p.rejected_reason, p.updated_at = S._transition(p, "reject"), note, now
            p.save()
            rec.emit("permit.rejected", entity=("permit", p.id), payload=S._payload(p, **extra))
        elif step < len(chain):
            p.updated_at = now
            p.save()
            rec.emit("permit.level_approved", entity=("permit", p.id),
                     payload=S._payload(p, **extra, next_level=chain[step]))
        else:
            p.state, p.approved_by, p.approved_at, p.updated_at = S._transition(p, "approve"), actor, now, now
            p.save()
            rec.emit("permit.approved", entity=("permit", p.id), payload=S._payload(p, **extra))
    return p


def approve(permit_id: int, *, actor: str, role: str, person_id: int | None, note: str = "") -> S.Permit:
    """审批: the next level of the permit's chain approves (the last one approves the permit)."""
    return decide(permit_id, approve=True, actor=actor, role=role, person_id=person_id, note=note)


def reject(permit_id: int, reason: str, *, actor: str, role: str, person_id: int | None) -> S.Permit:
    """驳回 at the pending level, with the reason: the permit ends (state rejected)."""
    return decide(permit_id, approve=False, actor=actor, role=role, person_id=person_id, note=reason)
