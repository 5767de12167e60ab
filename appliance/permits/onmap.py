"""Special work on the four-colour risk map (kiosk/_plan.html, on the wall board and the tablets): the permits
on site per area and the SIMOPS clashes between them, each pair with the rule's verdict (`clashes`, pure, on
`rules.simops`: the rule is stated once, in rules.CONFLICTS), as GET /api/v1/permits/map serves it."""
from __future__ import annotations

from collections.abc import Mapping, Sequence

from appliance.permits import rules as R

# (permit id, work type, area code)
OnSite = tuple[int, str, str]


def on_site():
    """The permits on site, as the wall board shows them: briefed, active, suspended, and an expired job that
    had started (it stays until its 完工验收: the site is still to be checked)."""
    from appliance.permits import service as S

    return S.Permit.select().where(S.Permit.state.in_(("briefed", *R.LIVE))
                                   | ((S.Permit.state == "expired") & S.Permit.started_at.is_null(False)))


def clashes(live: Sequence[OnSite], relation: Mapping[str, set[str]]) -> list[dict]:
    """Every two permits on site that clash (GB 30871-2022 §4 交叉作业; RULES.md §C.9), with the verdict
    `rules.simops` gives the pair: in one area that of rules.CONFLICTS ("refuse" or "escalate"), in
    neighbouring areas (`relation`: area → its neighbours) "escalate". Pairs in order of the input."""
    out = []
    for i, (a, type_a, area_a) in enumerate(live):
        for b, type_b, area_b in live[i + 1:]:
            if area_a and area_a == area_b:
                where, verdict = "same", R.simops(type_a, [type_b])
            elif area_a and area_b in relation.get(area_a, ()):
                where, verdict = "near", R.simops(type_a, [], [type_b])
            else:
                continue
            if verdict:
                out.append({"permits": [a, b], "types": [type_a, type_b], "areas": [area_a, area_b],
                            "where": where, "verdict": verdict})
    return out


def area_verdicts(pairs: Sequence[dict]) -> dict[str, str]:
    """Each area in a clash → the strongest verdict among its clashes (what `rules.area_conflict` gives it)."""
    out: dict[str, str] = {}
    for c in pairs:
        for area in c["areas"]:
            if out.get(area) != "refuse":
                out[area] = c["verdict"]
    return out


def map_view() -> dict:
    """{"areas": {code: {"permits": [{id, no, type, state, suspended_reason}], "simops": verdict | None,
    "clashes": [index into "clashes"]}}, "clashes": [...]}: only areas with a permit on site."""
    from appliance.core.people import Area
    from appliance.permits import near

    codes = {a.id: a.code for a in Area.select(Area.id, Area.code)}
    from appliance.permits import service as S

    live = list(on_site().order_by(S.Permit.id))
    pairs = clashes([(p.id, p.type, codes.get(p.area_id, "")) for p in live], near.relation())
    verdicts = area_verdicts(pairs)
    areas: dict[str, dict] = {}
    for p in live:
        code = codes.get(p.area_id, "")
        a = areas.setdefault(code, {"permits": [], "simops": verdicts.get(code), "clashes": []})
        a["permits"].append({"id": p.id, "no": p.no, "type": p.type, "state": p.state,
                             "suspended_reason": p.suspended_reason if p.state == "suspended" else None})
    for i, c in enumerate(pairs):
        for code in dict.fromkeys(c["areas"]):
            areas[code]["clashes"].append(i)
    return {"areas": areas, "clashes": pairs}

