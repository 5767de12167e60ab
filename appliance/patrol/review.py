"""The review of suspicious rounds by the shift (never by the person who walked the round).
"""
from __future__ import annotations

import logging
from typing import Literal

from pydantic import Field

from appliance.core import events
from appliance.core.errors import Conflict, Forbidden
from appliance.core.people import Input
from appliance.patrol.models import Round
from appliance.patrol.plans import get_record

log = logging.getLogger(__name__)


class ReviewIn(Input):
    verdict: Literal["genuine", "faked"]
    note: str = Field("", max_length=1000)


def review(round_id: int, data: ReviewIn, principal) -> Round:
    with events.recording(principal.actor) as rec:
        r = get_record(Round, round_id, "巡检轮次", "round")
        if not r.closed:
            raise Conflict("巡检尚未结束，结束后再复核", "the round is not over yet; review it once it is closed")
        if not r.suspicious:
            raise Conflict("此轮巡检未被标记为可疑", "this round is not flagged as suspicious")
        if r.reviewed_by:
            raise Conflict(f"此轮巡检已由 {r.reviewed_by} 复核", f"this round was already reviewed by {r.reviewed_by}")
        if r.person_id is not None and person_of(principal) == r.person_id:
            raise Forbidden("不能复核自己的巡检", "you may not review a round you walked yourself")
        t = events.now_ms()
        Round.update(reviewed_by=principal.actor, review_note=f"{data.verdict}: {data.note}".strip(": "),
                     reviewed_at=t, updated_at=t).where(Round.id == r.id).execute()
        rec.emit("patrol.round_reviewed", entity=("round", r.id),
                 payload={"id": r.id, "verdict": data.verdict, "note": data.note})
    return Round.get_by_id(round_id)


def person_of(principal) -> int | None:
    """The person behind a logged-in user (None for device tokens and users without a person)."""
    if principal.kind != "user":
        return None
    from appliance.core.auth import User

    u = User.get_or_none(User.id == principal.id)
    return u.person_id if u else None
