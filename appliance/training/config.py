"""[training]: the plant's training settings — when certificates are warned before they lapse, whether a
warning due on a weekend comes the Friday before, the industry class of the training-hours minimums, and the
grace the server gives an exam submitted just after its time limit (the network of a busy LAN).
"""
from __future__ import annotations

from pydantic import Field, field_validator

from appliance.core.config import Section
from appliance.training import rules as R


class TrainingConfig(Section):
    """[training]: certificate warning days, weekend forwarding, industry, exam submission grace."""

    # days before a certificate's last valid day (GUIDE §3, issue #20: 60/30/7/0)
    warn_days: list[int] = Field(default_factory=lambda: list(R.DEFAULT_WARN_DAYS), min_length=1, max_length=8)
    weekend_forward: bool = True
    # 3号令 Art. 9/13: hazchem (危化/非煤矿山/烟花爆竹/金属冶炼) or other
    industry: str = R.HAZCHEM
    exam_grace_seconds: int = Field(30, ge=0, le=600)

    @field_validator("warn_days")
    @classmethod
    def _days(cls, v: list[int]) -> list[int]:
        if any(not 0 <= d <= 365 for d in v):
            raise ValueError("each day must be within 0..365")
        if len(set(v)) != len(v):
            raise ValueError("a day is listed twice")
        return sorted(v, reverse=True)

    @field_validator("industry")
    @classmethod
    def _industry(cls, v: str) -> str:
        if v not in (R.HAZCHEM, R.OTHER):
            raise ValueError(f"must be {R.HAZCHEM!r} or {R.OTHER!r}")
        return v
