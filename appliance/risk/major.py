"""Major hazard installations (重大危险源) on record: each production or storage unit with its dangerous
chemicals, identified and graded by `major_rules` (GB 18218-2018) every time it is read, so a changed
quantity or head count is graded at once. Every change is a record plus an event; retiring one keeps it.
"""
from __future__ import annotations

from collections.abc import Iterable
from typing import Any, Literal, cast

import peewee
from pydantic import Field, field_validator, model_validator

from appliance.core import events
from appliance.core.db import BaseModel as Model
from appliance.core.errors import Conflict, NotFound, ValidationFailed
from appliance.core.people import Area, Input
from appliance.risk import major_rules as MR

MAX_SUBSTANCES = 50


class Installation(Model):
    code = peewee.TextField(unique=True)
    name = peewee.TextField()
    kind = peewee.TextField()
    area_id = peewee.IntegerField(null=True)
    people_500m = peewee.IntegerField()
    note = peewee.TextField()
    active = peewee.BooleanField()
    created_at = peewee.IntegerField()
    updated_at = peewee.IntegerField()

    class Meta:
        table_name = "mh_installations"


class SubstanceRow(Model):
    installation_id = peewee.IntegerField()
    position = peewee.IntegerField()
    name = peewee.TextField()
    cas = peewee.TextField()
    category = peewee.TextField()
    q_t = peewee.FloatField()
    critical_t = peewee.FloatField()

    class Meta:
        table_name = "mh_substances"


class SubstanceIn(Input):
    name: str = Field(min_length=1, max_length=100)
    cas: str = Field("", pattern=r"^$|^\d{2,7}-\d{2}-\d$")          # CAS RN: 2–7 digits, 2 digits, check digit
    category: str = "other"
    q_t: float = Field(ge=0, le=1e7, allow_inf_nan=False)           # actual maximum quantity, t
    critical_t: float = Field(gt=0, le=1e7, allow_inf_nan=False)    # critical quantity Q, t (GB 18218-2018 §4.1)

    @field_validator("category")
    @classmethod
    def _category(cls, v: str) -> str:
        if v not in MR.BETA_CATEGORIES:
            raise ValueError(f"category must be one of {', '.join(MR.BETA_CATEGORIES)} (GB 18218-2018 表4)")
        return v


class InstallationIn(Input):
    code: str = Field(pattern=r"^[A-Za-z0-9_-]{1,40}$")
    name: str = Field(min_length=1, max_length=100)
    kind: Literal["tank_farm", "warehouse", "production"]
    area_id: int | None = Field(None, gt=0, le=2**31)
    people_500m: int = Field(ge=0, le=10_000_000)
    note: str = Field("", max_length=500)
    substances: list[SubstanceIn] = Field(default_factory=list, max_length=MAX_SUBSTANCES)

    @model_validator(mode="after")
    def _distinct(self):
        names = [s.name for s in self.substances]
        dup = sorted({n for n in names if names.count(n) > 1})
        if dup:
            raise ValueError(f"substances: {', '.join(dup)} listed twice (add the quantities up)")
        return self


def _grade(people: int, subs: list[dict]) -> MR.Grade:
    return MR.assess([MR.Substance(s["name"], s["q_t"], s["critical_t"], s["category"], s["cas"]) for s in subs], people)


def _as_dict(i: dict, subs: list[dict]) -> dict:
    g = _grade(i["people_500m"], subs)
    for s, b in zip(subs, g.betas, strict=True):
        s["beta"] = b
        s["ratio"] = round(s["q_t"] / s["critical_t"], 4)
    return {"id": i["id"], "code": i["code"], "name": i["name"], "kind": i["kind"],
            "kind_name": MR.KINDS[i["kind"]][0], "area_id": i["area_id"], "people_500m": i["people_500m"],
            "note": i["note"], "active": bool(i["active"]), "substances": subs,
            "ratio_sum": round(g.ratio_sum, 4), "is_major": g.is_major, "alpha": g.alpha,
            "r": round(g.r, 2) if g.r is not None else None, "level": g.level,
            "level_name": MR.LEVEL_NAMES[g.level][0] if g.level else None}


def _subs(installation_ids: Iterable[int] | None = None) -> dict[int, list[dict]]:
    q = SubstanceRow.select().order_by(SubstanceRow.installation_id, SubstanceRow.position)
    if installation_ids is not None:
        q = q.where(SubstanceRow.installation_id.in_(list(installation_ids)))
    out: dict[int, list[dict]] = {}
    for s in cast(Iterable[dict[str, Any]], q.dicts()):
        out.setdefault(s["installation_id"], []).append(
            {"name": s["name"], "cas": s["cas"], "category": s["category"], "q_t": s["q_t"], "critical_t": s["critical_t"]})
    return out


def installations(include_retired: bool = False) -> list[dict]:
    """Every installation on record with its substances and its computed identification and level."""
    q = Installation.select().order_by(Installation.code)
    if not include_retired:
        q = q.where(Installation.active)
    rows = list(cast(Iterable[dict[str, Any]], q.dicts()))
    subs = _subs()
    return [_as_dict(i, subs.get(i["id"], [])) for i in rows]


def get(installation_id: int) -> dict:
    i = Installation.get_or_none(Installation.id == installation_id)
    if i is None:
        raise NotFound(f"重大危险源 {installation_id} 不存在", f"major hazard installation {installation_id} does not exist")
    return _as_dict(cast(dict, Installation.select().where(Installation.id == installation_id).dicts().get()),
                    _subs([installation_id]).get(installation_id, []))


def _check_area(area_id: int | None) -> None:
    if area_id is not None and Area.get_or_none(Area.id == area_id) is None:
        raise ValidationFailed(f"area_id：区域 {area_id} 不存在", f"area_id: area {area_id} does not exist",
                               details=[{"key": "area_id"}])


def _write_substances(installation_id: int, subs: list[SubstanceIn]) -> None:
    SubstanceRow.delete().where(SubstanceRow.installation_id == installation_id).execute()
    for n, s in enumerate(subs):
        SubstanceRow.create(installation_id=installation_id, position=n, **s.model_dump())


def _payload(d: dict) -> dict:
    """What the event carries: the record as entered and its grade (for the audit log and the uplink:
    the regulators' RZ R 值 and ZDWXYJB 级别, RULES.md §B.5)."""
    return {k: d[k] for k in ("id", "code", "name", "kind", "area_id", "people_500m", "substances", "ratio_sum",
                              "is_major", "alpha", "r", "level", "level_name")}


def create(data: InstallationIn, *, actor: str) -> dict:
    with events.recording(actor) as rec:
        _check_area(data.area_id)
        if Installation.get_or_none(Installation.code == data.code):
            raise Conflict(f"重大危险源编码已存在：{data.code}", f"major hazard installation code already exists: {data.code}")
        t = events.now_ms()
        i = Installation.create(**data.model_dump(exclude={"substances"}), active=True, created_at=t, updated_at=t)
        _write_substances(i.id, data.substances)
        d = get(i.id)
        rec.emit("risk.major_hazard_registered", entity=("mh_installation", i.id), payload=_payload(d))
    return d


def update(installation_id: int, data: InstallationIn, *, actor: str) -> dict:
    """Replace the installation's fields and its whole substance list (what the form shows is what is kept)."""
    with events.recording(actor) as rec:
        old = get(installation_id)
        _check_area(data.area_id)
        other = Installation.get_or_none((Installation.code == data.code) & (Installation.id != installation_id))
        if other is not None:
            raise Conflict(f"重大危险源编码已存在：{data.code}", f"major hazard installation code already exists: {data.code}")
        Installation.update(**data.model_dump(exclude={"substances"}), updated_at=events.now_ms()) \
            .where(Installation.id == installation_id).execute()
        _write_substances(installation_id, data.substances)
        d = get(installation_id)
        rec.emit("risk.major_hazard_updated", entity=("mh_installation", installation_id),
                 payload={**_payload(d), "level_before": old["level"], "r_before": old["r"]})
    return d


def retire(installation_id: int, *, actor: str) -> dict:
    """Take an installation off the list (dismantled, emptied for good); its record and history stay."""
    with events.recording(actor) as rec:
        d = get(installation_id)
        if not d["active"]:
            raise Conflict("该重大危险源已注销", "this installation is already retired")
        Installation.update(active=False, updated_at=events.now_ms()).where(Installation.id == installation_id).execute()
        rec.emit("risk.major_hazard_retired", entity=("mh_installation", installation_id),
                 payload={"id": installation_id, "code": d["code"], "name": d["name"]})
        d["active"] = False
    return d


def area_levels() -> dict[int, dict]:
    """Area id → {level, count, names} of the active major hazard installations in it (the most severe level;
    1 一级 is the most severe) for the risk map."""
    out: dict[int, dict] = {}
    for d in installations():
        if d["area_id"] is None or not d["is_major"]:
            continue
        a = out.setdefault(d["area_id"], {"level": d["level"], "count": 0, "names": []})
        a["level"] = min(a["level"], d["level"])
        a["count"] += 1
        a["names"].append(d["name"])
    return out
