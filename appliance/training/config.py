"""[training]: the plant's training settings — when certificates are warned before they lapse, whether a
warning due on a weekend or a listed public holiday comes the working day before, the industry class of the
training-hours minimums, the grace the server gives an exam submitted just after its time limit (the network
of a busy LAN), the course files' size limits and the share of a video that counts as watched, and an
optional webhook each certificate warning is POSTed to (sent by sync/webhook.py: only sync makes uplink HTTP
calls, docs/ARCHITECTURE.md).
"""
from __future__ import annotations

from datetime import date
from urllib.parse import urlsplit

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
    # public holidays (YYYY-MM-DD) a warning due on is brought forward from, like a weekend: the State
    # Council publishes each year's 放假安排, so the plant keeps the list
    holidays: list[str] = Field(default_factory=list, max_length=400)
    # course files: a unit's video or PDF may be at most this large (an SD card holds the lot)
    video_max_mb: int = Field(300, ge=1, le=4096)
    document_max_mb: int = Field(30, ge=1, le=1024)
    video_done_share: float = Field(R.VIDEO_DONE_SHARE, ge=0.5, le=1.0)
    # each certificate.warned event POSTed as JSON to this URL by a background sender (sync/webhook.py), tried
    # up to webhook_attempts times with back-off, each delivery recorded as a webhook.* event; none when unset
    webhook_url: str | None = Field(None, max_length=2000)
    webhook_attempts: int = Field(5, ge=1, le=20)
    webhook_timeout_s: float = Field(10, gt=0, le=120)

    @field_validator("webhook_url")
    @classmethod
    def _webhook_url(cls, v: str | None) -> str | None:
        if v is None:
            return v
        u = urlsplit(v)
        if u.scheme not in ("http", "https") or not u.hostname or any(ch.isspace() for ch in v):
            raise ValueError("must be an http:// or https:// URL with a host and no spaces")
        try:
            u.port  # noqa: B018  (the property raises on a port out of range or not a number)
        except ValueError:
            raise ValueError("has a port that is not a number in 1..65535") from None
        return v

    @field_validator("holidays")
    @classmethod
    def _holidays(cls, v: list[str]) -> list[str]:
        for i, d in enumerate(v):
            try:
                date.fromisoformat(d)
            except ValueError:
                raise ValueError(f"item {i} ({d!r}) must be a date YYYY-MM-DD") from None
        return v

    @property
    def holiday_dates(self) -> frozenset[date]:
        return frozenset(date.fromisoformat(d) for d in self.holidays)

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
