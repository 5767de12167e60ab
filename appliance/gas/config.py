"""The gas points' config: [[points]] with their set-points (defaults per GB/T 50493-2019, `gases`) and
[alarms]."""
from __future__ import annotations

from typing import Literal

from pydantic import Field, field_validator, model_validator

from appliance.core.config import Section
from appliance.gas.gases import GASES, default_thresholds


class AlarmsConfig(Section):
    # an alarm nobody acknowledges for this long is escalated to the safety officer (an event)
    escalate_after_min: float = Field(10, gt=0, le=24 * 60)


class ThresholdConfig(Section):
    level: Literal[1, 2]
    direction: Literal["high", "low"] = "high"
    value: float


class PointConfig(Section):
    """One measured quantity at one place (a gas detector channel, a temperature)."""

    id: str = Field(pattern=r"^[A-Za-z0-9_.-]{1,40}$")
    name: str = Field(min_length=1, max_length=60)
    name_en: str = Field("", max_length=60)
    gas: str
    unit: str | None = None                     # default: the gas's usual unit
    area: str | None = None                     # area code on the floor plan
    x: float | None = Field(None, ge=0, le=10000)  # position on the floor plan
    y: float | None = Field(None, ge=0, le=10000)
    range_low: float = 0.0                      # detector range
    range_high: float | None = None             # default: 100 for %LEL/%OEL, 25 for %VOL
    thresholds: list[ThresholdConfig] | None = None  # default: GB/T 50493-2019 for the gas
    deadband: float | None = Field(None, ge=0)  # default: 1 % of the range
    delay_on_s: float = Field(0.0, ge=0, le=600)
    stale_after_s: float = Field(30.0, gt=0, le=86400)
    record_deadband: float | None = Field(None, ge=0)  # store a reading when it moves this far (default 1 % of range)

    @field_validator("gas")
    @classmethod
    def _known_gas(cls, v: str) -> str:

        if v not in GASES:
            raise ValueError(f"unknown gas {v!r}; known: {', '.join(sorted(GASES))}")
        return v

    @property
    def unit_or_default(self) -> str:

        return self.unit or GASES[self.gas].unit

    @property
    def span_high(self) -> float | None:
        if self.range_high is not None:
            return self.range_high
        return {"%LEL": 100.0, "%OEL": 300.0, "%VOL": 25.0 if self.gas == "O2" else 100.0}.get(self.unit_or_default)

    @model_validator(mode="after")
    def _has_setpoints(self):

        if self.thresholds is None and self.gas not in ("TEMP", "RH"):
            default_thresholds(self.gas, self.unit_or_default)  # raises naming the gas and unit
        if self.span_high is not None and self.span_high <= self.range_low:
            raise ValueError("range_high must be above range_low")
        return self
