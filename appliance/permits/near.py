"""Which areas are near each other, for the live interlock and SIMOPS (`rules.neighbour_map`,
`rules.plan_neighbours`): the site's walk graph when it has one (the emergency domain owns it and, coming
after this domain, registers it in `WALK_GRAPH` at load), else the floor plan's touching polygons."""
from __future__ import annotations

import json
from collections.abc import Callable, Iterable

from appliance.core.people import Area
from appliance.permits import rules as R

# name → a function returning the walk graph's edges as (area code, area code, metres)
WALK_GRAPH: dict[str, Callable[[], Iterable[tuple[str, str, float]]]] = {}


def relation() -> dict[str, set[str]]:
    """Area code → the codes of its neighbours, from the walk graph or else the floor plan."""
    pairs = [(a, b) for provider in WALK_GRAPH.values() for a, b, _ in provider()]
    if pairs:
        return R.neighbour_map(pairs)
    polys = {a.code: json.loads(a.polygon or "[]") for a in Area.select(Area.code, Area.polygon).where(Area.active)}
    return R.plan_neighbours(polys)


def neighbours(code: str) -> set[str]:
    return relation().get(code, set())


def neighbour_ids(area_id: int) -> dict[int, str]:
    """The neighbouring areas of one area: id → code."""
    area = Area.get_or_none(Area.id == area_id)
    near = neighbours(area.code) if area else set()
    return {a.id: a.code for a in Area.select(Area.id, Area.code).where(Area.code.in_(list(near)))} if near else {}
