"""The contractor firm a hazard names (issue 19: a firm's evaluation counts the hazards it caused). The firms
are the contractors domain's archive; that domain comes after this one (docs/ARCHITECTURE.md: a domain imports
only those before it), so it registers its archive here at load (`SOURCES`), as permits does for the
contractors' evaluation. Without it (the domain not enabled) there are no firms to name."""
from __future__ import annotations

from collections.abc import Callable, Iterable

from pydantic import Field

from appliance.core.errors import ValidationFailed
from appliance.core.people import Input

# name → the firms (id → (name, blacklisted)) with the ids given, or every firm for None
SOURCES: dict[str, Callable[[Iterable[int] | None], dict[int, tuple[str, bool]]]] = {}


class FirmIn(Input):
    firm_id: int | None = Field(None, gt=0, le=2**31)   # None: no contractor firm (the plant's own)


def _firms(ids: Iterable[int] | None) -> dict[int, tuple[str, bool]]:
    out: dict[int, tuple[str, bool]] = {}
    wanted = None if ids is None else list(ids)
    for source in SOURCES.values():
        out.update(source(wanted))
    return out


def check(firm_id: int | None) -> None:
    """Refuse, naming the field, a firm id that is not in the contractors' archive."""
    if firm_id is not None and firm_id not in _firms([firm_id]):
        raise ValidationFailed(f"firm_id：承包商单位 {firm_id} 不存在", f"firm_id: contractor firm {firm_id} does not exist",
                               details=[{"key": "firm_id"}])


def choices() -> list[dict]:
    """The firms for the report form's picker, by name: {"id", "name", "blacklisted"}."""
    return sorted(({"id": i, "name": n, "blacklisted": b} for i, (n, b) in _firms(None).items()),
                  key=lambda f: f["name"])


def names(ids: Iterable[int | None]) -> dict[int, str]:
    """Firm id → name for the ids given (one query)."""
    wanted = {i for i in ids if i is not None}
    return {i: n for i, (n, _) in _firms(wanted).items()} if wanted else {}


def annotate(hazards: list[dict]) -> list[dict]:
    """Add each hazard's firm name ("firm", None without one) to its API dict."""
    by_id = names(h.get("firm_id") for h in hazards)
    for h in hazards:
        firm_id = h.get("firm_id")
        h["firm"] = by_id.get(firm_id) if firm_id is not None else None
    return hazards

