"""The hours actually worked (实际总工时), recorded per month by a safety officer for the whole plant or per
department or contractor firm (migration 0031), and read back for a window by `service.facts`: the
accident rate (GB/T 6441-1986 §6.3) and the violation rate divide by them where recorded
(`rules.window_hours`)."""
from __future__ import annotations

import peewee
from pydantic import Field, field_validator

from appliance.core import events
from appliance.core.db import BaseModel as Model
from appliance.core.people import Input

UNIT_KINDS = ("plant", "department", "firm")


class HoursWorked(Model):
    month = peewee.TextField()
    unit_kind = peewee.TextField()
    unit = peewee.TextField()
    hours = peewee.FloatField()
    note = peewee.TextField()
    recorded_by = peewee.TextField()
    recorded_at = peewee.IntegerField()

    class Meta:
        table_name = "cockpit_hours"


class HoursIn(Input):
    """POST /api/v1/cockpit/hours: a month's hours worked, for the plant (unit_kind "plant", no unit) or one
    department or contractor firm (its name in `unit`)."""

    month: str = Field(pattern=r"^\d{4}-(0[1-9]|1[0-2])$")
    unit_kind: str = Field("plant", pattern=r"^(plant|department|firm)$")
    unit: str = Field("", max_length=100, validate_default=True)
    hours: float = Field(ge=0, le=100_000_000)      # 10⁸ h: some 50,000 people full time for a month
    note: str = Field("", max_length=500)

    @field_validator("unit")
    @classmethod
    def _unit(cls, v: str, info) -> str:
        kind = info.data.get("unit_kind", "plant")
        if kind == "plant" and v:
            raise ValueError("the whole plant has no unit name / 全厂不填单位")
        if kind != "plant" and not v:
            raise ValueError("name the department or firm / 请填写部门或承包商名称")
        return v


def hours_dict(h: HoursWorked) -> dict:
    return {"id": h.id, "month": h.month, "unit_kind": h.unit_kind, "unit": h.unit, "hours": h.hours, "note": h.note,
            "recorded_by": h.recorded_by, "recorded_at": h.recorded_at}


def record(data: HoursIn, *, actor: str) -> tuple[dict, bool]:
    """Record (or replace) the month's hours of the unit; (the record, whether it was new)."""
    with events.recording(actor) as rec:
        now = events.now_ms()
        h = HoursWorked.get_or_none((HoursWorked.month == data.month) & (HoursWorked.unit_kind == data.unit_kind)
                                    & (HoursWorked.unit == data.unit))
        created = h is None
        if h is None:
            h = HoursWorked.create(month=data.month, unit_kind=data.unit_kind, unit=data.unit, hours=data.hours,
                                   note=data.note, recorded_by=actor, recorded_at=now)
        else:
            h.hours, h.note, h.recorded_by, h.recorded_at = data.hours, data.note, actor, now
            h.save()
        rec.emit("cockpit.hours_recorded", entity=("cockpit_hours", h.id), payload=hours_dict(h))
    return hours_dict(h), created


def listing(limit: int = 120) -> list[dict]:
    """The latest months first, the plant before its units."""
    q = (HoursWorked.select().order_by(HoursWorked.month.desc(), HoursWorked.unit_kind.desc(), HoursWorked.unit)
         .limit(limit))
    return [hours_dict(h) for h in q]


def by_month(months: list[str]) -> dict[str, tuple[float, str]]:
    """The plant's hours of each of `months` that has a record: (hours, "plant") from the plant's own
    record, else (the sum of its units' records, "units")."""
    plant: dict[str, float] = {}
    units: dict[str, float] = {}
    from appliance.cockpit.records import rows

    for m, kind, h in rows(HoursWorked.select(HoursWorked.month, HoursWorked.unit_kind, HoursWorked.hours)
                           .where(HoursWorked.month.in_(months))):
        if kind == "plant":
            plant[m] = h
        else:
            units[m] = units.get(m, 0.0) + h
    out = {m: (h, "units") for m, h in units.items()}
    out.update({m: (h, "plant") for m, h in plant.items()})
    return out
