"""The contractor firm a hazard names (issue 19: a firm's evaluation counts the hazards it caused). The firms
are the contractors domain's archive (its table contractor_firms, which this domain only reads, by id); that
domain is loaded after this one, so its model is imported where it is used, not at load."""
from __future__ import annotations

from pydantic import Field

from appliance.core import events
from appliance.core.errors import ValidationFailed
from appliance.core.people import Input


class FirmIn(Input):
    firm_id: int | None = Field(None, gt=0, le=2**31)   # None: no contractor firm (the plant's own)


def _firm_model():
    from appliance.contractors.models import Firm

    return Firm


def check(firm_id: int | None) -> None:
    """Refuse, naming the field, a firm id that is not in the contractors' archive."""
    if firm_id is None:
        return
    Firm = _firm_model()
    if Firm.get_or_none(Firm.id == firm_id) is None:
        raise ValidationFailed(f"firm_id：承包商单位 {firm_id} 不存在", f"firm_id: contractor firm {firm_id} does not exist",
                               details=[{"key": "firm_id"}])


def choices() -> list[dict]:
    """The firms for the report form's picker, by name: {"id", "name", "blacklisted"}."""
    Firm = _firm_model()
    return [{"id": f.id, "name": f.name, "blacklisted": bool(f.blacklisted)}
            for f in Firm.select(Firm.id, Firm.name, Firm.blacklisted).order_by(Firm.name)]


def names(ids) -> dict[int, str]:
    """Firm id → name for the ids given (one query)."""
    wanted = {i for i in ids if i is not None}
    if not wanted:
        return {}
    Firm = _firm_model()
    return {f.id: f.name for f in Firm.select(Firm.id, Firm.name).where(Firm.id.in_(wanted))}


def annotate(hazards: list[dict]) -> list[dict]:
    """Add each hazard's firm name ("firm", None without one) to its API dict."""
    by_id = names(h.get("firm_id") for h in hazards)
    for h in hazards:
        firm_id = h.get("firm_id")
        h["firm"] = by_id.get(firm_id) if firm_id is not None else None
    return hazards


def set_firm(hazard_id: int, data: FirmIn, principal):
    """Name (or clear) the contractor firm of a hazard, in any state: who was involved is often known only
    after the report (the shift finds out, the accident report names them)."""
    from appliance.hazards.service import Hazard, _get

    with events.recording(principal.actor) as rec:
        h = _get(hazard_id)
        check(data.firm_id)
        Hazard.update(firm_id=data.firm_id, updated_at=events.now_ms()).where(Hazard.id == h.id).execute()
        rec.emit("hazard.firm_set", entity=("hazard", h.id),
                 payload={"id": h.id, "firm_id": data.firm_id, "was": h.firm_id,
                          "firm": names([data.firm_id]).get(data.firm_id) if data.firm_id else None,
                          "description": h.description[:80]})
    return Hazard.get_by_id(hazard_id)
