"""The drill-down's rows as a person reads them: time, what, where and the record's own page where one
exists — looked up for the one page shown (names of areas, routes, checkpoints, measures, firms), so a year's
window costs one page of look-ups."""
from __future__ import annotations

from collections.abc import Callable


def _area_names(lang: str) -> tuple[dict[int, str], dict[str, str]]:
    from appliance.core.people import Area

    by_id, by_code = {}, {}
    for a in Area.select():
        name = (a.name_en or a.name) if lang == "en" else a.name
        by_id[a.id], by_code[a.code] = name, name
    return by_id, by_code


def present(kind: str, rows: list[dict], lang: str, t: Callable[..., str]) -> list[dict]:
    """Each row as {id, at (ms or None), day (a date where the record has no instant), what, where, link,
    counted (rate tiles: in the numerator; else None)}."""
    areas, codes = _area_names(lang)
    out = []
    names: dict = {}
    if kind == "hazard":
        from appliance.hazards.service import Hazard

        names = {h.id: (h.category, h.description) for h in Hazard.select(Hazard.id, Hazard.category, Hazard.description)
                 .where(Hazard.id.in_([r["id"] for r in rows]))}
    elif kind == "task":
        from appliance.risk.register import RiskMeasure

        names = {m.id: m.description for m in RiskMeasure.select(RiskMeasure.id, RiskMeasure.description)
                 .where(RiskMeasure.id.in_([r["measure_id"] for r in rows]))}
    elif kind in ("round", "checkpoint"):
        from appliance.patrol.models import Checkpoint, Route

        en = lang == "en"
        names = {("r", r.id): (r.name_en or r.name) if en else r.name
                 for r in Route.select().where(Route.id.in_([x["route_id"] for x in rows]))}
        names.update({("c", c.id): ((c.name_en or c.name) if en else c.name, areas.get(c.area_id, ""), c.code)
                      for c in Checkpoint.select().where(Checkpoint.id.in_([x.get("checkpoint_id") for x in rows]))})
    elif kind == "gate":
        from appliance.contractors.models import Firm
        from appliance.core.people import Person

        names = {("f", f.id): f.name for f in Firm.select().where(Firm.id.in_([r["firm_id"] for r in rows]))}
        names.update({("p", p.id): p.name for p in Person.select().where(Person.id.in_([r["person_id"] for r in rows]))})
    for r in rows:
        at, day, link = r.get("at"), None, None
        if kind == "hazard":
            category, description = names.get(r["id"], ("", ""))
            what = f"#{r['id']} {category} · {description[:80]} ({t('hz.state.' + r['state'])})"
            where = areas.get(r["area_id"], "")
            link = f"/tablet/hazards?since={r['at']}&until={r['at'] + 1}"
        elif kind == "task":
            what = f"{names.get(r['measure_id'], '#' + str(r['measure_id']))} ({t('cockpit.drill.task.' + r['status'])})"
            where = f"{r['department']} · {r['assignee']}"
        elif kind == "round":
            what = f"{names.get(('r', r['route_id']), '')} ({t('cockpit.drill.round.' + r['status'])})"
            where = t("cockpit.drill.missed_n", n=len(r["missed"])) if r["missed"] else ""
        elif kind == "checkpoint":
            cp = names.get(("c", r["checkpoint_id"]), (f"#{r['checkpoint_id']}", "", ""))
            what = f"{cp[2]} {cp[0]}".strip() + f" · {names.get(('r', r['route_id']), '')}"
            where = cp[1]
        elif kind == "alarm":
            what = t("cockpit.drill.alarm", level=r["level"]) + ("" if r["cleared_at"] else f" ({t('cockpit.drill.active')})")
            where = r["point"]
        elif kind == "point":
            what, where = t("cockpit.drill.raises", n=r["raises"]), r["point"]
        elif kind == "accident":
            injured = r["deaths"] + r["serious"] + r["minor"]
            what = f"{r['title']} · {t('cockpit.drill.injured', n=injured)}"
            where = areas.get(r["area_id"], "")
            link = f"/tablet/emergency/accidents/{r['id']}"
        elif kind == "violation":
            what, where = f"{r['camera']} · {r['zone']}", codes.get(r["area"] or "", r["area"] or "")
        elif kind == "suspension":
            what = f"{r['no'] or ''} {r['type'] or ''} · {r['reason']}".strip() + (
                f" ({t('cockpit.drill.interlock')})" if r["interlock"] else "")
            where = " · ".join(x for x in (codes.get(r["area"] or "", r["area"] or ""), r["location"] or "") if x)
            link = f"/tablet/permits/{r['permit_id']}" if r["permit_id"] else None
        elif kind == "gate":
            who = names.get(("p", r["person_id"]), "") if r["person_id"] else ""
            what = " · ".join(x for x in (who, names.get(("f", r["firm_id"]), ""), r["reason"]) if x)
            where = r["reader"]
            link = f"/tablet/contractors/{r['firm_id']}" if r["firm_id"] else None
        else:  # certificate: lapses on a day, not at an instant
            at, day = None, r["last_valid_on"]
            kind_name = (r.get("kind_name") or {}).get("en" if lang == "en" else "zh-CN", r.get("kind", ""))
            what = f"{r['person'] or ''} · {kind_name} {r['number']}"
            where = t("cockpit.drill.days_left", n=r["days_left"])
            link = "/tablet/training"
        out.append({"id": r["id"], "at": at, "day": day, "what": what, "where": where, "link": link,
                    "counted": r.get("counted")})
    return out
