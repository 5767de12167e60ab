"""[training]: the plant's training settings — when certificates are warned before they lapse, whether a
warning due on a weekend or a listed public holiday comes the working day before, the industry class of the
training-hours minimums, the grace the server gives an exam submitted just after its time limit (the network
of a busy LAN), the course files' size limits and the share of a video that counts as watched, and an
optional webhook each certificate warning is POSTed to (sent by sync/webhook.py: only sync makes uplink HTTP
calls, docs/ARCHITECTURE.md).
"""
from __future__ import annotations

import os
from datetime import date
from typing import Literal
from urllib.parse import parse_qs, urlsplit

from pydantic import Field, SecretStr, ValidationInfo, field_validator

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
    # each certificate.warned event POSTed to this URL by a background sender (sync/webhook.py), tried up to
    # webhook_attempts times with back-off, each delivery recorded as a webhook.* event; none when unset.
    # webhook_format: json (ours: the event, signed with webhook_secret when one is set: X-Timestamp and
    # X-Signature headers), wecom (a 企业微信 group robot's URL …/cgi-bin/webhook/send?key=…: the key in the URL
    # is its only credential, no secret) or dingtalk (a 钉钉 custom robot's URL …/robot/send?access_token=…;
    # webhook_secret is its 加签 secret, SEC…); webhook_msgtype: the robots' message type, markdown or text.
    # The secret may come from the environment instead (webhook_secret_env = "NAME"); it is never logged and
    # is shown masked (••••last four).
    webhook_format: Literal["json", "wecom", "dingtalk"] = "json"
    webhook_msgtype: Literal["markdown", "text"] = "markdown"
    webhook_url: str | None = Field(None, max_length=2000)
    webhook_secret: SecretStr | None = Field(None, max_length=200)
    webhook_secret_env: str | None = Field(None, pattern=r"^[A-Za-z_][A-Za-z0-9_]{0,99}$")
    webhook_attempts: int = Field(5, ge=1, le=20)
    webhook_timeout_s: float = Field(10, gt=0, le=120)

    @field_validator("webhook_url")
    @classmethod
    def _webhook_url(cls, v: str | None, info: ValidationInfo) -> str | None:
        if v is None:
            return v
        u = urlsplit(v)
        if u.scheme not in ("http", "https") or not u.hostname or any(ch.isspace() for ch in v):
            raise ValueError("must be an http:// or https:// URL with a host and no spaces")
        try:
            u.port  # noqa: B018  (the property raises on a port out of range or not a number)
        except ValueError:
            raise ValueError("has a port that is not a number in 1..65535") from None
        need = {"wecom": "key", "dingtalk": "access_token"}.get(info.data.get("webhook_format", "json"))
        if need and not parse_qs(u.query).get(need):
            raise ValueError(f"a {info.data['webhook_format']} robot's URL carries its {need}=… (copy the whole "
                             "webhook address from the robot's settings)")
        return v

    @field_validator("webhook_secret")
    @classmethod
    def _webhook_secret(cls, v: SecretStr | None, info: ValidationInfo) -> SecretStr | None:
        if v is not None:
            _check_secret(v.get_secret_value(), info.data.get("webhook_format", "json"))
        return v

    @field_validator("webhook_secret_env")
    @classmethod
    def _webhook_secret_env(cls, v: str | None, info: ValidationInfo) -> str | None:
        if v is None:
            return v
        if info.data.get("webhook_secret") is not None:
            raise ValueError("give webhook_secret or webhook_secret_env, not both")
        if v not in os.environ:
            raise ValueError(f"environment variable {v} is not set")
        _check_secret(os.environ[v], info.data.get("webhook_format", "json"))
        return v

    @property
    def webhook_secret_value(self) -> str | None:
        """The signing secret in clear (for the sender only: never log it)."""
        if self.webhook_secret_env:
            return os.environ.get(self.webhook_secret_env)
        return self.webhook_secret.get_secret_value() if self.webhook_secret else None

    @property
    def webhook_url_shown(self) -> str | None:
        """The URL without its credentials or query (a robot's key or token is in the query)."""
        if not self.webhook_url:
            return None
        u = urlsplit(self.webhook_url)
        return f"{u.scheme}://{u.hostname}{':' + str(u.port) if u.port else ''}{u.path}"

    @property
    def webhook_secret_shown(self) -> str | None:
        """The secret as it may be shown: masked, its last four characters only."""
        s = self.webhook_secret_value
        return None if not s else "••••" + (s[-4:] if len(s) >= 16 else "")

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


def _check_secret(s: str, fmt: str) -> None:
    """What a webhook secret must be for the format (raises ValueError; the message never quotes it)."""
    if fmt == "wecom":
        raise ValueError("a WeCom group robot takes no secret (the key in webhook_url is its credential); remove it")
    if any(ch.isspace() for ch in s):
        raise ValueError("must not contain spaces")
    if fmt == "dingtalk" and not (s.startswith("SEC") and len(s) >= 20):
        raise ValueError("must be the robot's 加签 secret as DingTalk shows it (SEC followed by the key)")
    if fmt == "json" and len(s) < 16:
        raise ValueError("must be at least 16 characters (a random string shared with the receiver)")
