"""A hazard reported twice (issue 15 item 2): the picker's likely originals, closing a 待确认 report as a
duplicate of another, and undoing that (撤销重复) when it was not the same hazard. The rules are in `rules`
(`duplicate_candidates`, `check_duplicate`, `check_undo_duplicate`); a duplicate leaves the figures through
`service.counted()` and reaches the regulator deleted (sync profile: delete_mark 1), an undone one comes back
as 待确认 and not deleted — the regulator upserts by id, so the same record returns."""
from __future__ import annotations

from pydantic import Field

from appliance.core import events
from appliance.core.errors import ValidationFailed
from appliance.core.people import Input
from appliance.hazards import rules as HR
from appliance.hazards.service import Hazard, _get, _refused


class DuplicateIn(Input):
    duplicate_of: int = Field(gt=0, le=2**31)          # the original, kept
    note: str = Field(min_length=2, max_length=2000)  # why it is the same hazard


class UndoDuplicateIn(Input):
    note: str = Field(min_length=2, max_length=2000)  # why it is not the same hazard after all


def duplicate_candidates(hazard_id: int) -> list[Hazard]:
    """The likely originals of a hazard, for the tablet's picker (`rules.duplicate_candidates`)."""
    h = _get(hazard_id)
    span = HR.DUPLICATE_DAYS * 86_400_000
    others = [(o.id, o.area_id, o.category, o.reported_at, o.duplicate_of) for o in Hazard.select().where(
        (Hazard.area_id == h.area_id) & (Hazard.category == h.category)
        & Hazard.reported_at.between(h.reported_at - span, h.reported_at + span))]
    ids = HR.duplicate_candidates((h.id, h.area_id, h.category, h.reported_at), others)
    found = {o.id: o for o in Hazard.select().where(Hazard.id.in_(ids))} if ids else {}
    return [found[i] for i in ids]


def mark_duplicate(hazard_id: int, data: DuplicateIn, principal) -> Hazard:
    """Close a hazard still 待确认 as a duplicate of another (open or closed), with the reason. It keeps
    its photo, description and reporter (shown on the original); the reporter is not penalised (no
    rejection is counted: reporting what someone else also saw is no fault); it leaves the figures."""
    with events.recording(principal.actor) as rec:
        h = _get(hazard_id)
        original = Hazard.get_or_none(Hazard.id == data.duplicate_of)
        if original is None:
            raise ValidationFailed(f"duplicate_of：隐患 {data.duplicate_of} 不存在",
                                   f"duplicate_of: hazard {data.duplicate_of} does not exist",
                                   details=[{"key": "duplicate_of"}])
        try:
            HR.check_duplicate(principal.role, h.state, h.duplicate_of, h.id, original.id, original.duplicate_of)
        except HR.TransitionRefused as exc:
            raise _refused(exc) from None
        t = events.now_ms()
        Hazard.update(state="closed", duplicate_of=original.id, duplicate_note=data.note, duplicate_by=principal.actor,
                      duplicate_at=t, updated_at=t).where(Hazard.id == h.id).execute()
        rec.emit("hazard.duplicate", entity=("hazard", h.id),
                 payload={"id": h.id, "state": "closed", "duplicate_of": original.id, "note": data.note,
                          "description": h.description[:80], "reporter": h.reporter, "photo": h.photo,
                          "original_state": original.state, "penalised": False})
    return Hazard.get_by_id(hazard_id)


def duplicates_of(ids: list[int]) -> dict[int, list[Hazard]]:
    """Original id → the reports closed as its duplicates, oldest first (shown on the original)."""
    out: dict[int, list[Hazard]] = {}
    if ids:
        for d in Hazard.select().where(Hazard.duplicate_of.in_(ids)).order_by(Hazard.id):
            if d.duplicate_of is not None:
                out.setdefault(d.duplicate_of, []).append(d)
    return out




def undo_duplicate(hazard_id: int, data: UndoDuplicateIn, principal) -> Hazard:
    """Reopen a hazard closed as a duplicate (撤销重复): it returns to the state it was closed from (待确认),
    counts again in every figure, and the event keeps what was undone (the original, the first decision's
    note and who made it) with the reason."""
    with events.recording(principal.actor) as rec:
        h = _get(hazard_id)
        try:
            state = HR.check_undo_duplicate(principal.role, h.duplicate_of)
        except HR.TransitionRefused as exc:
            raise _refused(exc) from None
        t = events.now_ms()
        Hazard.update(state=state, duplicate_of=None, duplicate_note=None, duplicate_by=None, duplicate_at=None,
                      updated_at=t).where(Hazard.id == h.id).execute()
        rec.emit("hazard.duplicate_undone", entity=("hazard", h.id),
                 payload={"id": h.id, "state": state, "was_duplicate_of": h.duplicate_of, "note": data.note,
                          "duplicate_note": h.duplicate_note, "duplicate_by": h.duplicate_by,
                          "description": h.description[:80]})
    return Hazard.get_by_id(hazard_id)
