"""[hazards]: the plant's hazard settings — rectification deadlines by grade, when to remind before them,
and who signs off major hazards as the principal (主要负责人).

The defaults are what the appliance did before these were settings (7 and 30 days, a reminder a day
before). 《安全生产事故隐患排查治理暂行规定》 (SAWS order 16) leaves the deadlines to the enterprise's plan
(Art. 10, 15 (五) 治理的时限和要求); the bounds only catch typing mistakes.
"""
from __future__ import annotations

from pydantic import Field, ValidationInfo, field_validator

from appliance.core.config import Section


class HazardsConfig(Section):
    """[hazards]: deadlines by grade, the reminder lead time and the principals who sign off major hazards."""

    general_deadline_days: int = Field(7, ge=1, le=90)     # 一般事故隐患: rectified at once or within days
    major_deadline_days: int = Field(30, ge=1, le=365)     # 重大事故隐患: the plan's 时限 (Art. 15 (五))
    remind_before_hours: int = Field(24, ge=1, le=24 * 30)
    # logins of the 主要负责人 (and any deputy the plant names): only they sign off a major hazard after its
    # evaluation (Art. 18) and sign the quarterly/annual statistics (Art. 14). Empty: nobody may, and the
    # refusal names this key.
    principal_logins: list[str] = Field(default_factory=list, max_length=10)

    @field_validator("remind_before_hours")
    @classmethod
    def _remind_within_deadline(cls, v: int, info: ValidationInfo) -> int:
        days = info.data.get("general_deadline_days")
        if days is not None and v >= days * 24:
            raise ValueError(f"{v} h is not shorter than general_deadline_days ({days} d): the reminder would come "
                             "before the hazard is even dispatched")
        return v

    @field_validator("principal_logins")
    @classmethod
    def _logins(cls, v: list[str]) -> list[str]:
        import re

        for login in v:
            if not re.fullmatch(r"[A-Za-z0-9_.@-]{2,40}", login):
                raise ValueError(f"{login!r} is not a login")
        if len(set(v)) != len(v):
            raise ValueError("a login is listed twice")
        return v
