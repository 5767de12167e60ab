"""The gas points' config: [[points]] with their set-points (defaults per GB/T 50493-2019, `gases`) and
[alarms]."""
from __future__ import annotations

from typing import Literal

from pydantic import Field, field_validator, model_validator

from appliance.core.config import KeyedErrors, Section
from appliance.gas import standard
from appliance.gas.gases import GASES, Threshold, default_thresholds


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
    range_high: float | None = None             # default: 0–100 %LEL, 0–25 %VOL O₂, toxic 0–300 % of the OEL
    thresholds: list[ThresholdConfig] | None = None  # default: GB/T 50493-2019 for the gas
    deadband: float | None = Field(None, ge=0)  # default: 1 % of the range
    delay_on_s: float = Field(0.0, ge=0, le=600)
    stale_after_s: float = Field(30.0, gt=0, le=86400)
    record_deadband: float | None = Field(None, ge=0)  # store a reading when it moves this far (default 1 % of range)
    # why this point may deviate from GB/T 50493-2019 (a set-point or timing less protective than the
    # standard): required for such a point, shown on it and written to the audit log
    deviation_reason: str | None = Field(None, min_length=5, max_length=500)

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
        return standard.default_range_high(self.gas, self.unit_or_default)

    def setpoints(self) -> tuple[Threshold, ...]:
        """The point's thresholds: its own, or the standard's for its gas (none for temperature/humidity)."""
        if self.thresholds is not None:
            return tuple(Threshold(t.level, t.direction, t.value) for t in self.thresholds)
        if GASES[self.gas].kind == "ambient":
            return ()
        return default_thresholds(self.gas, self.unit_or_default)

    @property
    def deadband_or_default(self) -> float:
        if self.deadband is not None:
            return self.deadband
        span = (self.span_high - self.range_low) if self.span_high is not None else None
        return 0.01 * span if span else 0.0

    def check(self) -> standard.Checked:
        """The point against GB/T 50493-2019 (errors, and deviations that need a `deviation_reason`)."""
        return standard.check(self.gas, self.unit_or_default, self.setpoints(), deadband=self.deadband_or_default,
                              range_low=self.range_low, range_high=self.span_high, delay_on_s=self.delay_on_s,
                              stale_after_s=self.stale_after_s)

    @model_validator(mode="after")
    def _has_setpoints(self):
        if self.thresholds is None and GASES[self.gas].kind != "ambient":
            default_thresholds(self.gas, self.unit_or_default)  # raises naming the gas and unit
        if self.span_high is not None and self.span_high <= self.range_low:
            raise ValueError("range_high must be above range_low")
        found = self.check()
        if found.errors:
            raise KeyedErrors(found.errors)
        if found.deviations and not self.deviation_reason:
            raise KeyedErrors([(k, f"{zh}；如经安全评估确需偏离，请填写 deviation_reason",
                                f"{en}; if a safety assessment justifies it, give a deviation_reason")
                               for k, zh, en in found.deviations])
        return self
