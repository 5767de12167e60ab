"""The appliance's whole config file: the core's sections, each domain's, the drivers' (buses, readers,
cameras, chosen by `type` among the registered drivers) and the sync endpoints, checked together once at
start. `safety-appliance check-config FILE` runs the same validation offline.

Hardware and integration settings live here; master data (people, badges, areas) lives in the database.
"""
from __future__ import annotations

from pathlib import Path

from pydantic import Field, model_validator

import drivers
from appliance.contractors.config import ContractorsConfig
from appliance.core.config import (
    AuthConfig,
    BackupConfig,
    DiscoveryConfig,
    KeyedErrors,
    LoggingConfig,
    Section,
    SiteConfig,
    StorageConfig,
    WebConfig,
    describe_validation_error,
    parse_toml,
    read_text,
)
from appliance.emergency.config import WIND_GAS, EmergencyConfig
from appliance.gas.config import AlarmsConfig, PointConfig
from appliance.hazards.config import HazardsConfig
from appliance.risk.config import RiskConfig
from appliance.training.config import TrainingConfig
from appliance.vision.config import VisionConfig
from sync.config import SyncConfig, warn_world_readable

__all__ = ["Config", "describe_validation_error", "load_config", "parse_config"]


class Config(Section):
    site: SiteConfig = SiteConfig()
    storage: StorageConfig = StorageConfig()
    web: WebConfig = WebConfig()
    auth: AuthConfig = AuthConfig()
    backup: BackupConfig = BackupConfig()  # [backup]: to a second device with the photos (appliance/core/backup.py)
    discovery: DiscoveryConfig = DiscoveryConfig()
    logging: LoggingConfig = LoggingConfig()
    alarms: AlarmsConfig = AlarmsConfig()
    hazards: HazardsConfig = HazardsConfig()  # deadlines by grade, principals (appliance/hazards/config.py)
    points: list[PointConfig] = Field(default_factory=list)
    buses: list[drivers.config_union("bus")] = Field(default_factory=list)  # type: ignore[valid-type]
    cameras: list[drivers.config_union("camera")] = Field(default_factory=list)  # type: ignore[valid-type]
    vision: VisionConfig = VisionConfig()
    readers: list[drivers.config_union("reader")] = Field(default_factory=list)  # type: ignore[valid-type]
    risk: RiskConfig = RiskConfig()  # [risk]: shift change, LEC / LS cut-offs (appliance/risk/config.py)
    contractors: ContractorsConfig = ContractorsConfig()  # [contractors]: gate readers (appliance/contractors/config.py)
    training: TrainingConfig = TrainingConfig()  # [training]: certificate warnings (appliance/training/config.py)
    emergency: EmergencyConfig = EmergencyConfig()  # [emergency]: the wind point (appliance/emergency/config.py)
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
        wind = self.emergency.wind_point
        if wind is not None:
            gas = next((p.gas for p in self.points if p.id == wind), None)
            if gas is None:
                raise KeyedErrors([("emergency.wind_point", f"测点 {wind} 不在 [[points]] 中",
                                    f"point {wind} is not in [[points]]")])
            if gas != WIND_GAS:
                raise KeyedErrors([("emergency.wind_point", f"测点 {wind} 不是风向测点（gas = \"{WIND_GAS}\"，单位 °）",
                                    f"point {wind} is not a wind-direction point (gas = \"{WIND_GAS}\", degrees)")])
        return self


def parse_config(text: str, source: str = "<string>") -> Config:
    """Parse and validate the appliance's config from TOML text; raises ConfigError naming the bad key."""
    return parse_toml(text, Config, source)


def load_config(path: str | Path) -> Config:
    """Read and validate the appliance's config file at `path`."""
    text = read_text(path)
    config = parse_toml(text, Config, str(path))
    if config.sync.endpoints:
        warn_world_readable(Path(path), text)
    return config
