"""Configuration basics: one TOML file, parsed with tomllib and validated once at start into typed models.

`Section` is the base of every section (unknown keys are errors, values immutable); the core's own
sections are here (site, storage, web, auth, discovery, logging). Domains define theirs in their own
`config.py`; `appliance/config.py` assembles the whole file's model. A validation error names the key
(dotted path) and says what is wrong in zh-CN and en.
"""
from __future__ import annotations

import ipaddress
import tomllib
import zoneinfo
from pathlib import Path
from typing import Literal, TypeVar

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from appliance.core.errors import ConfigError

M = TypeVar("M", bound=BaseModel)


class Section(BaseModel):
    """Base of every config section: unknown keys are errors, values are immutable after start."""

    model_config = ConfigDict(extra="forbid", frozen=True)


class SiteConfig(Section):
    name: str = Field("未命名工厂", min_length=1, max_length=100)
    name_en: str = Field("Unnamed plant", min_length=1, max_length=100)
    appliance_id: str = Field("appliance-1", pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,62}$")
    timezone: str = "Asia/Shanghai"
    default_language: Literal["zh-CN", "en"] = "zh-CN"

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, v: str) -> str:
        try:
            zoneinfo.ZoneInfo(v)
        except (zoneinfo.ZoneInfoNotFoundError, ValueError) as exc:
            raise ValueError(f"unknown time zone {v!r}") from exc
        return v


class StorageConfig(Section):
    data_dir: Path = Path("/var/lib/safety-appliance")
    busy_timeout_ms: int = Field(5000, ge=100, le=60000)
    backup_keep: int = Field(14, ge=1, le=365)
    backup_hour: int = Field(3, ge=0, le=23)
    # Below this much free space the disk component turns to fault and the kiosk shows a disk alarm.
    disk_min_free_mb: int = Field(200, ge=1)
    # Space held back for safety records (gas alarms, acknowledgements, taps) when the disk fills up
    # (appliance/core/storage.py); 0 turns the reserve off.
    reserve_mb: int = Field(32, ge=0, le=1024)
    # Telemetry retention by age; alarms and the event log (safety records) are never pruned.
    readings_keep_days: int = Field(90, ge=1, le=3650)
    minutes_keep_days: int = Field(400, ge=1, le=3650)

    @property
    def db_path(self) -> Path:
        return self.data_dir / "appliance.db"

    @property
    def backup_dir(self) -> Path:
        return self.data_dir / "backups"


class WebConfig(Section):
    host: str = "0.0.0.0"
    port: int = Field(8080, ge=0, le=65535)  # 0: any free port (tests)
    # Each SSE client holds a waitress thread: size for kiosks + tablets + headroom.
    threads: int = Field(96, ge=4, le=512)
    # open connections waitress accepts before new ones wait (its default, 100, is full with 50 screens each
    # holding a live stream and a keep-alive connection: bench/load.py found tablet pages waiting 15-26 s)
    connection_limit: int = Field(512, ge=16, le=4096)
    max_body_mb: float = Field(16, gt=0, le=256)
    session_hours: int = Field(12, ge=1, le=24 * 30)
    # live streams one kiosk token or user may hold at once (one token per screen is the norm)
    streams_per_client: int = Field(16, ge=1, le=512)
    # HTTPS on tls_port with the appliance's own CA (appliance/core/https.py, tls.py); `port` then redirects
    # to it, except /ca.crt, the health probe and the satellite stations' signed posts
    tls: bool = True
    tls_port: int = Field(8443, ge=0, le=65535)  # 0: any free port (tests)
    # the plant's own certificate and key instead of the appliance's CA (both or neither); tls_ca is the CA
    # offered at /ca.crt (default: tls_cert)
    tls_cert: Path | None = None
    tls_key: Path | None = None
    tls_ca: Path | None = None
    # requests from this box itself (its own kiosk screen on 127.0.0.1) stay on plain HTTP: loopback never
    # crosses the LAN, and the local browser need not trust the CA
    plain_loopback: bool = True

    @field_validator("host")
    @classmethod
    def _ip(cls, v: str) -> str:
        ipaddress.ip_address(v)
        return v

    @model_validator(mode="after")
    def _tls_files(self):
        findings = []
        if (self.tls_cert is None) != (self.tls_key is None):
            missing = "tls_key" if self.tls_key is None else "tls_cert"
            findings.append((missing, "tls_cert 与 tls_key 须同时给出", "tls_cert and tls_key go together: give both or neither"))
        if self.tls_ca is not None and self.tls_cert is None:
            findings.append(("tls_ca", "只有给出 tls_cert 时才用 tls_ca", "tls_ca is used only with tls_cert"))
        if self.tls and self.tls_port and self.tls_port == self.port:
            findings.append(("tls_port", "不能与 port 相同", "must differ from port"))
        if self.tls:
            for key in ("tls_cert", "tls_key", "tls_ca"):
                path = getattr(self, key)
                if path is not None and not path.is_file():
                    findings.append((key, f"找不到文件 {path}", f"file not found: {path}"))
        if findings:
            raise KeyedErrors(findings)
        return self


class BackupConfig(Section):
    """[backup]: a daily backup with the photos to a second device (appliance/core/backup.py)."""

    to: Path | None = None            # a mounted USB stick or network share, e.g. /media/safety-backup
    keep: int = Field(7, ge=1, le=365)
    hour: int = Field(2, ge=0, le=23)  # local hour of the daily run
    # the `backup` health component turns degraded when the newest backup on the device is older than this
    max_age_hours: int = Field(48, ge=1, le=24 * 90)
    # refuse a target on the data disk itself: an unplugged stick leaves its empty mount point on the SD card
    require_other_device: bool = True

    @field_validator("to")
    @classmethod
    def _absolute(cls, v: Path | None) -> Path | None:
        if v is not None and not v.is_absolute():
            raise ValueError("must be an absolute path")
        return v


class AuthConfig(Section):
    login_max_failures: int = Field(5, ge=1, le=100)
    login_window_s: int = Field(300, ge=10, le=86400)
    min_password_length: int = Field(8, ge=6, le=128)


class DiscoveryConfig(Section):
    enabled: bool = True
    # Empty means every interface; tests pin it to ["127.0.0.1"].
    interfaces: list[str] = Field(default_factory=list)
    service_name: str | None = None

    @field_validator("interfaces")
    @classmethod
    def _ips(cls, v: list[str]) -> list[str]:
        for ip in v:
            ipaddress.ip_address(ip)
        return v


class LoggingConfig(Section):
    level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"
    format: Literal["json", "text"] = "json"


# pydantic error types → what to tell a plant admin, zh-CN and en.
_MESSAGES: dict[str, tuple[str, str]] = {
    "extra_forbidden": ("未知的配置项（拼写错误？）", "unknown key (a typo?)"),
    "missing": ("缺少必填项", "required key is missing"),
    "int_type": ("应为整数", "must be an integer"),
    "int_parsing": ("应为整数", "must be an integer"),
    "int_from_float": ("应为整数", "must be an integer"),
    "float_type": ("应为数字", "must be a number"),
    "float_parsing": ("应为数字", "must be a number"),
    "bool_type": ("应为 true 或 false", "must be true or false"),
    "bool_parsing": ("应为 true 或 false", "must be true or false"),
    "string_type": ("应为字符串", "must be a string"),
    "list_type": ("应为列表", "must be a list"),
    "model_type": ("应为一个表（[section]）", "must be a table ([section])"),
    "model_attributes_type": ("应为一个表（[section]）", "must be a table ([section])"),
    "dict_type": ("应为一个表", "must be a table"),
    "literal_error": ("取值不在允许范围内", "is not one of the allowed values"),
    "greater_than_equal": ("数值太小", "is too small"),
    "greater_than": ("数值太小", "is too small"),
    "less_than_equal": ("数值太大", "is too large"),
    "less_than": ("数值太大", "is too large"),
    "string_too_short": ("字符串太短", "is too short"),
    "string_too_long": ("字符串太长", "is too long"),
    "string_pattern_mismatch": ("格式不正确", "has the wrong format"),
    "path_type": ("应为路径", "must be a path"),
    "value_error": ("取值无效", "is not valid"),
    "union_tag_invalid": ("未知的类型", "unknown type"),
    "union_tag_not_found": ("缺少必填项", "required key is missing"),
}


class KeyedErrors(ValueError):
    """Raised by a validator that checks several fields at once: each finding names its own key (relative to
    the model) and says why in both languages, so check-config points at the exact field."""

    def __init__(self, findings: list[tuple[str, str, str]]):
        super().__init__("; ".join(f"{k}: {en}" for k, _, en in findings))
        self.findings = findings


def describe_validation_error(exc: ValidationError, prefix: str = "") -> list[tuple[str, str, str]]:
    """Turn a pydantic ValidationError into (dotted key, zh message, en message) triples."""
    out = []
    for err in exc.errors(include_url=False):
        key = ".".join(str(p) for p in err["loc"]) or "(root)"
        if prefix:
            key = f"{prefix}.{key}"
        keyed = (err.get("ctx") or {}).get("error")
        if isinstance(keyed, KeyedErrors):
            # a whole-file check (no loc) names its keys from the top
            base = ".".join(filter(None, (prefix, ".".join(str(p) for p in err["loc"]))))
            out += [(f"{base}.{k}" if base else k, zh, en) for k, zh, en in keyed.findings]
            continue
        zh, en = _MESSAGES.get(err["type"], ("取值无效", "is not valid"))
        detail = err.get("msg", "").removeprefix("Value error, ")
        ctx = err.get("ctx") or {}
        if err["type"] in ("union_tag_invalid", "union_tag_not_found"):  # the `type` key of a [[buses]]/[[readers]]
            key = f"{key}.{ctx.get('discriminator', 'type').strip(chr(39))}"
            if "expected_tags" in ctx:
                zh, en = f"{zh} {ctx.get('tag')!r}：可选 {ctx['expected_tags']}", f"{en} {ctx.get('tag')!r}: one of {ctx['expected_tags']}"
        elif "expected" in ctx:
            zh, en = f"{zh}：{ctx['expected']}", f"{en}: {ctx['expected']}"
        elif err["type"] in ("value_error",) or (ctx and err["type"] not in ("extra_forbidden", "missing")):
            en = f"{en} ({detail})"
            zh = f"{zh}（{detail}）"
        out.append((key, zh, en))
    return out


def parse_toml(text: str, model: type[M], source: str = "<string>") -> M:
    """Parse and validate TOML text as `model`; raises ConfigError naming the bad key."""
    try:
        raw = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{source}: TOML 语法错误：{exc}", f"{source}: TOML syntax error: {exc}",
                          code="config_syntax") from None
    try:
        return model.model_validate(raw)
    except ValidationError as exc:
        problems = describe_validation_error(exc)
        zh = "；".join(f"{k}：{m}" for k, m, _ in problems)
        en = "; ".join(f"{k}: {m}" for k, _, m in problems)
        raise ConfigError(f"{source}: 配置无效 — {zh}", f"{source}: invalid config — {en}",
                          details=[{"key": k, "zh": z, "en": e} for k, z, e in problems]) from None


def read_text(path: str | Path) -> str:
    """The config file's text; ConfigError when it is missing or unreadable."""
    p = Path(path)
    try:
        return p.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(f"找不到配置文件：{p}", f"config file not found: {p}", code="config_missing") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"无法读取配置文件 {p}：{exc}", f"cannot read config file {p}: {exc}",
                          code="config_unreadable") from None


def load_toml(path: str | Path, model: type[M]) -> M:
    """Read and validate the config file at `path` as `model`."""
    return parse_toml(read_text(path), model, str(path))
