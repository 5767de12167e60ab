"""Configuration: one TOML file, parsed with tomllib and validated once at start into typed models.

Hardware and integration settings live here (site, storage, web, discovery, later buses, readers,
cameras, endpoints). Master data (people, badges, areas) lives in the database, not here.
Every model rejects unknown keys; a validation error names the key (dotted path) and says what is wrong
in zh-CN and en.
"""
from __future__ import annotations

import ipaddress
import tomllib
import zoneinfo
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from models.config import VisionModelConfig

from .errors import ConfigError
from sync.config import SyncConfig, warn_world_readable


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
    max_body_mb: float = Field(16, gt=0, le=256)
    session_hours: int = Field(12, ge=1, le=24 * 30)
    # live streams one kiosk token or user may hold at once (one token per screen is the norm)
    streams_per_client: int = Field(16, ge=1, le=512)

    @field_validator("host")
    @classmethod
    def _ip(cls, v: str) -> str:
        ipaddress.ip_address(v)
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


class AlarmsConfig(Section):
    # an alarm nobody acknowledges for this long is escalated to the safety officer (an event; the
    # notification channels come with the emergency module)
    escalate_after_min: float = Field(10, gt=0, le=24 * 60)


class LoggingConfig(Section):
    level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"
    format: Literal["json", "text"] = "json"


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
        from .gas import GASES

        if v not in GASES:
            raise ValueError(f"unknown gas {v!r}; known: {', '.join(sorted(GASES))}")
        return v

    @property
    def unit_or_default(self) -> str:
        from .gas import GASES

        return self.unit or GASES[self.gas].unit

    @property
    def span_high(self) -> float | None:
        if self.range_high is not None:
            return self.range_high
        return {"%LEL": 100.0, "%OEL": 300.0, "%VOL": 25.0 if self.gas == "O2" else 100.0}.get(self.unit_or_default)

    @model_validator(mode="after")
    def _has_setpoints(self):
        from .gas import default_thresholds

        if self.thresholds is None and self.gas not in ("TEMP", "RH"):
            default_thresholds(self.gas, self.unit_or_default)  # raises naming the gas and unit
        if self.span_high is not None and self.span_high <= self.range_low:
            raise ValueError("range_high must be above range_low")
        return self


def _bus_model():
    """Every bus type's config model, chosen by its `type` key."""
    from typing import Annotated, Union

    from drivers.modbus import ModbusConfig
    from drivers.serial_line import SerialLineConfig

    return Annotated[Union[ModbusConfig, SerialLineConfig], Field(discriminator="type")]


# ---- cameras and the vision process (issue 6, pipeline side) ----------------------------------------
class VisionConfig(Section):
    """[vision]: the PPE detector ([vision.model], models/config.py) and the supervised vision process."""

    model: VisionModelConfig = VisionModelConfig()
    stall_s: float = Field(20.0, ge=2, le=600)  # no heartbeat for this long: killed and restarted
    restart_max_s: float = Field(30.0, ge=1, le=3600)  # back-off ceiling between restarts
    niceness: int = Field(10, ge=0, le=19)      # CPU-bound: yields to the web and the pollers
    display_fps: float = Field(3.0, gt=0, le=15)  # annotated frames for the board's camera tiles
    # Evidence retention (appliance/violations.py prune_evidence): raw frames of reviewed violations, and the
    # disk held by rejected ones kept as training examples. Snapshots (hazard photos) are not pruned.
    frames_keep_days: int = Field(7, ge=0, le=3650)
    false_positives_max_mb: int = Field(500, ge=1, le=100_000)


def _camera_model():
    """Every camera type's config model, chosen by its `type` key."""
    from typing import Annotated, Union

    from drivers.camera_file import FileCameraConfig
    from drivers.camera_opencv import OpenCVCameraConfig
    from drivers.camera_picamera2 import PiCameraConfig

    return Annotated[Union[FileCameraConfig, OpenCVCameraConfig, PiCameraConfig], Field(discriminator="type")]
def _reader_model():
    """Every badge reader type's config model, chosen by its `type` key (drivers/nfc.py, drivers/pcsc.py)."""
    from typing import Annotated, Union

    from drivers.nfc import NfcConfig
    from drivers.pcsc import PcscConfig

    return Annotated[Union[NfcConfig, PcscConfig], Field(discriminator="type")]


class Config(Section):
    site: SiteConfig = SiteConfig()
    storage: StorageConfig = StorageConfig()
    web: WebConfig = WebConfig()
    auth: AuthConfig = AuthConfig()
    discovery: DiscoveryConfig = DiscoveryConfig()
    logging: LoggingConfig = LoggingConfig()
    alarms: AlarmsConfig = AlarmsConfig()
    points: list[PointConfig] = Field(default_factory=list)
    buses: list[_bus_model()] = Field(default_factory=list)  # type: ignore[valid-type]
    cameras: list[_camera_model()] = Field(default_factory=list)  # type: ignore[valid-type]
    vision: VisionConfig = VisionConfig()
    readers: list[_reader_model()] = Field(default_factory=list)  # type: ignore[valid-type]
    sync: SyncConfig = SyncConfig()  # [[sync.endpoints]]: cloud and regulator uplinks (sync/config.py)

    @model_validator(mode="after")
    def _points_and_maps_agree(self):
        ids = [p.id for p in self.points]
        dup = {i for i in ids if ids.count(i) > 1}
        if dup:
            raise ValueError(f"points: id defined twice: {', '.join(sorted(dup))}")
        mapped: dict[str, str] = {}
        for bus in self.buses:
            for point in bus.points:
                if point in mapped and mapped[point] != bus.name:
                    raise ValueError(f"buses: point {point} is read by both {mapped[point]} and {bus.name}")
                mapped[point] = bus.name
                if point not in ids:
                    raise ValueError(f"buses: {bus.name} maps point {point}, which is not in [[points]]")
        names = [b.name for b in self.buses]
        if len(set(names)) != len(names):
            raise ValueError("buses: two buses share a name")
        cams = [c.name for c in self.cameras]
        if len(set(cams)) != len(cams):
            raise ValueError("cameras: two cameras share a name")
        readers = [r.name for r in self.readers]
        dup = sorted({n for n in readers if readers.count(n) > 1})
        if dup:
            raise ValueError(f"readers: name used twice: {', '.join(dup)}")
        return self


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


def describe_validation_error(exc: ValidationError, prefix: str = "") -> list[tuple[str, str, str]]:
    """Turn a pydantic ValidationError into (dotted key, zh message, en message) triples."""
    out = []
    for err in exc.errors(include_url=False):
        key = ".".join(str(p) for p in err["loc"]) or "(root)"
        if prefix:
            key = f"{prefix}.{key}"
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


def parse_config(text: str, source: str = "<string>", model: type[BaseModel] | None = None) -> Config:
    """Parse and validate TOML text (as `model`, by default the appliance's `Config`); raises
    ConfigError naming the bad key."""
    try:
        raw = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{source}: TOML 语法错误：{exc}", f"{source}: TOML syntax error: {exc}",
                          code="config_syntax") from None
    try:
        return (model or Config).model_validate(raw)
    except ValidationError as exc:
        problems = describe_validation_error(exc)
        zh = "；".join(f"{k}：{m}" for k, m, _ in problems)
        en = "; ".join(f"{k}: {m}" for k, _, m in problems)
        raise ConfigError(f"{source}: 配置无效 — {zh}", f"{source}: invalid config — {en}",
                          details=[{"key": k, "zh": z, "en": e} for k, z, e in problems]) from None


def load_config(path: str | Path, model: type[BaseModel] | None = None) -> Config:
    """Read and validate the config file at `path` (as `model`; default the appliance's `Config`)."""
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(f"找不到配置文件：{p}", f"config file not found: {p}", code="config_missing") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"无法读取配置文件 {p}：{exc}", f"cannot read config file {p}: {exc}",
                          code="config_unreadable") from None
    config = parse_config(text, str(p), model)
    if getattr(config, "sync", None) is not None and config.sync.endpoints:
        warn_world_readable(p, text)
    return config
