"""Gas alarm set-points as data, per GB/T 50493-2019 《石油化工可燃气体和有毒气体检测报警设计标准》.

- §5.5.2 combustible gas: 1st-level alarm ≤ 25 %LEL, 2nd-level ≤ 50 %LEL.
- toxic gas: 1st level ≤ 100 %OEL, 2nd level ≤ 200 %OEL (OEL = occupational exposure limit of GBZ 2.1-2019;
  we take the MAC where the gas has one, otherwise the PC-STEL, the limit meant for short exposures, and
  convert mg/m³ to ppm at 20 °C, 101.325 kPa: ppm = mg/m³ × 24.04 / molar mass).
- oxygen: under-oxygen alarm 19.5 %VOL, over-oxygen alarm 23.5 %VOL.
Each point may override any threshold (a site's safety assessment may set lower values); these are the
defaults a new point gets from its gas.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

Kind = Literal["combustible", "toxic", "oxygen", "ambient"]
Direction = Literal["high", "low"]

MOLAR_VOLUME_20C = 24.04  # L/mol at 20 °C, 101.325 kPa


@dataclass(frozen=True)
class Gas:
    code: str
    name: str
    name_en: str
    kind: Kind
    unit: str
    molar_mass: float | None = None
    oel_mg_m3: float | None = None  # GBZ 2.1-2019: MAC, else PC-STEL
    oel_basis: str | None = None

    @property
    def oel_ppm(self) -> float | None:
        if self.oel_mg_m3 is None or self.molar_mass is None:
            return None
        return round(self.oel_mg_m3 * MOLAR_VOLUME_20C / self.molar_mass, 2)


GASES: dict[str, Gas] = {g.code: g for g in [
    Gas("CH4", "甲烷", "methane", "combustible", "%LEL", 16.04),
    Gas("C3H8", "丙烷", "propane", "combustible", "%LEL", 44.10),
    Gas("H2", "氢气", "hydrogen", "combustible", "%LEL", 2.016),
    Gas("C2H4", "乙烯", "ethylene", "combustible", "%LEL", 28.05),
    Gas("EX", "可燃气体", "combustible gas", "combustible", "%LEL"),
    Gas("H2S", "硫化氢", "hydrogen sulfide", "toxic", "ppm", 34.08, 10, "MAC"),
    Gas("CO", "一氧化碳", "carbon monoxide", "toxic", "ppm", 28.01, 30, "PC-STEL"),
    Gas("NH3", "氨", "ammonia", "toxic", "ppm", 17.03, 30, "PC-STEL"),
    Gas("Cl2", "氯气", "chlorine", "toxic", "ppm", 70.90, 1, "MAC"),
    Gas("SO2", "二氧化硫", "sulfur dioxide", "toxic", "ppm", 64.07, 10, "PC-STEL"),
    Gas("NO2", "二氧化氮", "nitrogen dioxide", "toxic", "ppm", 46.01, 10, "PC-STEL"),
    Gas("HCN", "氰化氢", "hydrogen cyanide", "toxic", "ppm", 27.03, 1, "MAC"),
    Gas("C6H6", "苯", "benzene", "toxic", "ppm", 78.11, 10, "PC-STEL"),
    Gas("O2", "氧气", "oxygen", "oxygen", "%VOL", 32.00),
    Gas("TEMP", "温度", "temperature", "ambient", "°C"),
    Gas("RH", "湿度", "relative humidity", "ambient", "%RH"),
    Gas("WD", "风向", "wind direction", "ambient", "°"),   # degrees the wind blows FROM (0 = north); [emergency] wind_point
]}


@dataclass(frozen=True)
class Threshold:
    """Alarm `level` (1 or 2) when the value is at or beyond `value` in `direction`."""

    level: int
    direction: Direction
    value: float


def default_thresholds(gas_code: str, unit: str | None = None) -> tuple[Threshold, ...]:
    """The GB/T 50493-2019 set-points of a gas in the unit its detector reports.

    Raises ValueError when the standard gives no default for that gas and unit (the point must then set
    its thresholds explicitly) — a gas detector without alarms is never created silently.
    """
    gas = GASES.get(gas_code)
    if gas is None:
        raise ValueError(f"unknown gas {gas_code!r}; known: {', '.join(sorted(GASES))}")
    unit = unit or gas.unit
    if gas.kind == "combustible" and unit == "%LEL":
        return (Threshold(1, "high", 25.0), Threshold(2, "high", 50.0))
    if gas.kind == "toxic" and unit == "%OEL":
        return (Threshold(1, "high", 100.0), Threshold(2, "high", 200.0))
    if gas.kind == "toxic" and unit == "ppm" and gas.oel_ppm is not None:
        return (Threshold(1, "high", gas.oel_ppm), Threshold(2, "high", round(2 * gas.oel_ppm, 2)))
    if gas.kind == "toxic" and unit == "mg/m3" and gas.oel_mg_m3 is not None:
        return (Threshold(1, "high", gas.oel_mg_m3), Threshold(2, "high", 2 * gas.oel_mg_m3))
    if gas.kind == "oxygen" and unit == "%VOL":
        return (Threshold(1, "low", 19.5), Threshold(1, "high", 23.5))
    raise ValueError(f"GB/T 50493-2019 gives no default set-points for {gas_code} in {unit}; set thresholds")
