"""A permit's approval chain as stored and shown (the `permit_approvals` rows and the view the detail page
and the PDF print); `approvals` signs and rejects. Apart from `approvals` so that `service.permit_dict` can
show the chain without importing the module that imports it."""
from __future__ import annotations

import json
from typing import TYPE_CHECKING

import peewee

from appliance.core.db import BaseModel as Model
from appliance.permits import chain as C

if TYPE_CHECKING:
    from appliance.permits.service import Permit

LEVEL_ZH = {"principal": "主要负责人", "safety": "安全管理负责人", "workshop": "车间负责人"}


class Approval(Model):
    permit_id = peewee.IntegerField()
    step = peewee.IntegerField()
    level = peewee.TextField()
    decision = peewee.TextField()
    actor = peewee.TextField()
    person_id = peewee.IntegerField(null=True)
    note = peewee.TextField()
    at = peewee.IntegerField()

    class Meta:
        table_name = "permit_approvals"


def levels(p: Permit) -> tuple[str, ...]:
    """The permit's chain (a permit applied before chains: its one level)."""
    return tuple(json.loads(p.approval_chain)) if p.approval_chain else (p.approval_level,)


def _rows(p: Permit) -> list[Approval]:
    return list(Approval.select().where(Approval.permit_id == p.id).order_by(Approval.step))


def _steps(rows: list[Approval]) -> list[C.Step]:
    return [C.Step(r.level, r.actor, r.person_id, r.decision) for r in rows]


def view(p: Permit) -> list[dict]:
    """The chain as the detail page and the PDF show it: each level with who and when, or pending (the next
    one to sign), or waiting (after it), or rejected."""
    from appliance.core import auth

    rows = {r.step: r for r in _rows(p)}
    logins = [r.actor.removeprefix("user:") for r in rows.values()]
    names = {u.login: u.display_name for u in auth.User.select().where(auth.User.login.in_(logins))} if logins else {}
    chain = levels(p)
    nxt = C.pending_level(chain, _steps(list(rows.values()))) if p.state == "measures_confirmed" else None
    out, pending_seen = [], False
    for i, level in enumerate(chain, start=1):
        r = rows.get(i)
        if r is not None:
            out.append({"step": i, "level": level, "state": r.decision, "by": r.actor, "at": r.at, "note": r.note,
                        "by_name": names.get(r.actor.removeprefix("user:")) or r.actor})
            continue
        state = "pending" if nxt == level and not pending_seen else "waiting"
        pending_seen = pending_seen or state == "pending"
        out.append({"step": i, "level": level, "state": state, "by": None, "at": None, "note": "", "by_name": None})
    return out
