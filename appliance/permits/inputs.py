"""The shapes of what the permit API takes (validated once, at the edge), for `service`."""
from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field


class _In(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


class JsaRowIn(_In):
    """One step of the job, its hazards, the control measures and who sees to them (作业危害分析)."""
    step: str = Field("", max_length=200)
    hazards: str = Field("", max_length=500)
    measures: str = Field("", max_length=500)
    responsible: str = Field("", max_length=40)


class ApplyIn(_In):
    type: str
    grade: str = "-"
    area_id: int = Field(gt=0)
    location: str = Field(min_length=1, max_length=200)
    content: str = Field(min_length=1, max_length=1000)
    medium: str | None = Field(None, max_length=40)
    medium_lel: float | None = Field(None, gt=0, le=100)
    # 盲板抽堵: the line's 温度 (gdwd, °C) and 压力 (gdyl, MPa gauge); their ranges are rules'
    # (blinding_condition_problems), checked by the service so the message names the unit and range
    medium_temp_c: float | None = Field(None, allow_inf_nan=False)
    medium_pressure_mpa: float | None = Field(None, allow_inf_nan=False)
    valid_from: int = Field(gt=0)
    valid_to: int = Field(gt=0)
    workers: list[int] = Field(min_length=1, max_length=30)
    guardian_id: int = Field(gt=0)
    issuer_id: int = Field(gt=0)
    reader: str | None = Field(None, max_length=40)
    jsa: str = Field("", max_length=4000)
    # the JSA as rows (chain.jsa_problems: required for some types/grades, each field filled)
    jsa_rows: list[JsaRowIn] = Field(default_factory=list, max_length=30)
    # the cameras that watch the job (vision); None: those configured on the permit's area
    cameras: list[str] | None = Field(None, max_length=10)


class MeasureIn(_In):
    applies: bool = True
    by: str = Field(min_length=1, max_length=40)


class MeasuresIn(_In):
    measures: dict[str, MeasureIn]


class NoteIn(_In):
    note: str = Field("", max_length=500)


class SampleIn(_In):
    gas: str = Field(min_length=1, max_length=20)
    value: float
    unit: str = Field(min_length=1, max_length=10)


class AnalysisIn(_In):
    source: str = Field("manual", pattern="^(manual|live)$")
    analyst: str = Field("", max_length=40)
    instrument: str = Field("", max_length=80)
    at: int | None = Field(None, gt=0)
    samples: list[SampleIn] = Field(default_factory=list, max_length=20)
    oxygen_rich: bool = False


class RejectIn(_In):
    reason: str = Field(min_length=1, max_length=500)


class SuspendIn(_In):
    reason: str = Field(min_length=1, max_length=300)


class TapIn(_In):
    uid: str = Field(min_length=4, max_length=40)
