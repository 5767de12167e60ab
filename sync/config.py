"""The `[sync]` config section: endpoints chosen by `type`, each with its own typed model.

Secrets come from the config file (`secret = "…"`) or, better, from the environment (`secret_env =
"NAME"`); they are held as pydantic SecretStr so that no repr, log line or error message shows them.
`appliance.config` embeds `SyncConfig`; `warn_world_readable` is called when the file is loaded.
"""
from __future__ import annotations

import logging
import os
import re
import stat
from pathlib import Path
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator, model_validator

log = logging.getLogger(__name__)

Lane = Literal["safety", "records", "aggregates", "photos"]
LANES: tuple[Lane, ...] = ("safety", "records", "aggregates", "photos")


def _all_lanes() -> list[Lane]:
    return list(LANES)


def _safety_and_records() -> list[Lane]:
    return ["safety", "records"]
NAME_RE = r"^[a-z0-9][a-z0-9_-]{0,39}$"


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


def _profile_exists(name: str) -> str:
    from importlib import resources

    if not resources.files("sync.profiles").joinpath(f"wwyt_{name}.json").is_file():
        raise ValueError(f"no field mapping sync/profiles/wwyt_{name}.json")
    return name


def _secret_from(value: SecretStr | None, env: str | None, what: str) -> SecretStr | None:
    if value is not None and env is not None:
        raise ValueError(f"give {what} or {what}_env, not both")
    if env is not None:
        if env not in os.environ:
            raise ValueError(f"environment variable {env} (for {what}) is not set")
        return SecretStr(os.environ[env])
    return value


class EndpointBase(_Section):
    name: str = Field(pattern=NAME_RE)
    url: str = Field(pattern=r"^https?://[^\s]+$")
    enabled: bool = True
    lanes: list[Literal["safety", "records", "aggregates", "photos"]] = Field(default_factory=_all_lanes)
    batch_max_events: int = Field(500, ge=1, le=10000)
    batch_max_bytes: int = Field(1_000_000, ge=1000, le=64_000_000)
    timeout_s: float = Field(15, gt=0, le=300)
    # back-off after a failure: full jitter over min(cap, base · 2^attempt)
    backoff_base_s: float = Field(1.0, gt=0, le=600)
    backoff_cap_s: float = Field(300.0, gt=0, le=86400)
    # while unreachable, probe this often (and sync at once when a probe answers)
    probe_interval_s: float = Field(30.0, gt=0, le=86400)
    # the least time between two requests (a regulator's rate limit)
    min_interval_s: float = Field(0.0, ge=0, le=86400)

    @property
    def secret_values(self) -> list[str]:
        """Every secret of this endpoint in clear, so that log filters can blank them."""
        return [v.get_secret_value() for v in self.__dict__.values() if isinstance(v, SecretStr)]


class HttpJsonEndpoint(EndpointBase):
    """The generic cloud endpoint (and the reference receiver): signed, gzipped event batches."""

    type: Literal["http-json"]
    secret: SecretStr | None = None
    secret_env: str | None = None

    @model_validator(mode="after")
    def _secret(self):
        s = _secret_from(self.secret, self.secret_env, "secret")
        if s is None or len(s.get_secret_value()) < 16:
            raise ValueError("a signing secret of at least 16 characters is needed (secret or secret_env)")
        object.__setattr__(self, "secret", s)
        return self


class WwytEndpoint(EndpointBase):
    """Jiangsu 五位一体 pattern: Basic auth, a table per record kind, {"datas": Base64(AES-CBC(JSON))}."""

    type: Literal["wwyt"]
    profile: str = Field("jiangsu", pattern=r"^[a-z0-9_]{1,40}$")  # sync/profiles/wwyt_<profile>.json

    @field_validator("profile")
    @classmethod
    def _profile(cls, v: str) -> str:
        return _profile_exists(v)
    username: str = Field(min_length=1, max_length=100)
    password: SecretStr | None = None
    password_env: str | None = None
    aes_key: SecretStr | None = None       # 16, 24 or 32 bytes, given as text or as hex
    aes_key_env: str | None = None
    aes_iv: SecretStr | None = None        # 16 bytes, text or hex
    aes_iv_env: str | None = None
    credit_code: str = Field(pattern=r"^[0-9A-Z]{18}$")   # 统一社会信用代码 (TYSHXYDM)
    company_code: str = Field(pattern=r"^[0-9A-Za-z]{9}$")  # 企业编码 (COMPANY_CODE)
    lanes: list[Literal["safety", "records", "aggregates", "photos"]] = Field(default_factory=_safety_and_records)
    batch_max_events: int = Field(200, ge=1, le=10000)
    min_interval_s: float = Field(180.0, ge=0, le=86400)  # the platform allows one request per 3 min

    @model_validator(mode="after")
    def _secrets(self):
        for what in ("password", "aes_key", "aes_iv"):
            s = _secret_from(getattr(self, what), getattr(self, f"{what}_env"), what)
            if s is None:
                raise ValueError(f"{what} is needed ({what} or {what}_env)")
            object.__setattr__(self, what, s)
        from sync.crypto import key_bytes

        key_bytes(self.aes_key.get_secret_value(), (16, 24, 32), "aes_key")
        key_bytes(self.aes_iv.get_secret_value(), (16,), "aes_iv")
        return self


class Sha1SignEndpoint(EndpointBase):
    """Municipal reporting pattern: headers appKey, timestamp, signature = sha1(appKey + appSecret + timestamp)."""

    type: Literal["sha1-sign"]
    profile: str = Field("jiangsu", pattern=r"^[a-z0-9_]{1,40}$")  # field mapping, as for wwyt

    @field_validator("profile")
    @classmethod
    def _profile(cls, v: str) -> str:
        return _profile_exists(v)
    credit_code: str = Field(pattern=r"^[0-9A-Z]{18}$")
    company_code: str = Field(pattern=r"^[0-9A-Za-z]{9}$")
    app_key: str = Field(min_length=1, max_length=100)
    app_secret: SecretStr | None = None
    app_secret_env: str | None = None
    lanes: list[Literal["safety", "records", "aggregates", "photos"]] = Field(default_factory=_safety_and_records)

    @model_validator(mode="after")
    def _secret(self):
        s = _secret_from(self.app_secret, self.app_secret_env, "app_secret")
        if s is None:
            raise ValueError("app_secret is needed (app_secret or app_secret_env)")
        object.__setattr__(self, "app_secret", s)
        return self


Endpoint = Annotated[HttpJsonEndpoint | WwytEndpoint | Sha1SignEndpoint, Field(discriminator="type")]


class SyncConfig(_Section):
    enabled: bool = True
    endpoints: list[Endpoint] = Field(default_factory=list)  # type: ignore[valid-type]

    @field_validator("endpoints")
    @classmethod
    def _unique(cls, v):
        names = [e.name for e in v]
        dup = sorted({n for n in names if names.count(n) > 1})
        if dup:
            raise ValueError(f"endpoint name used twice: {', '.join(dup)}")
        return v


_INLINE_SECRET = re.compile(r"^\s*(secret|password|aes_key|aes_iv|app_secret)\s*=", re.M)


def warn_world_readable(path: Path, text: str) -> bool:
    """Warn (once, without the secret) when a config file holding secrets can be read by anyone."""
    try:
        mode = path.stat().st_mode
    except OSError:
        return False
    if mode & stat.S_IROTH and _INLINE_SECRET.search(text):
        log.warning("config file holds sync secrets and is world-readable; chmod 600 it or use *_env keys",
                    extra={"config": str(path), "mode": oct(mode & 0o777)})
        return True
    return False
