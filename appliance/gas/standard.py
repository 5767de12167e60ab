"""A gas point's set-points checked against GB/T 50493-2019, as one pure function.

Two kinds of finding:
- **errors**: a configuration the alarm logic cannot work with (no set-point, levels out of order, a deadband
  that would never let an alarm clear, a set-point the detector cannot measure). Always refused.
- **deviations**: a set-point or timing less protective than the standard. Refused unless the point carries
  an explicit `deviation_reason` (a site's safety assessment may justify one); an accepted deviation is shown
  on the point and written to the audit log.

Each finding is (key, zh, en), the key naming the config field.
"""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from appliance.gas.gases import GASES, Threshold

# GB/T 50493-2019 §5.5.2: combustible gas 1st-level ≤ 25 %LEL, 2nd-level ≤ 50 %LEL; toxic gas 1st-level
# ≤ 100 %OEL, 2nd-level ≤ 200 %OEL; oxygen: under-oxygen 19.5 %VOL, over-oxygen 23.5 %VOL.
COMBUSTIBLE_MAX = {1: 25.0, 2: 50.0}     # %LEL
TOXIC_MAX_OEL = {1: 1.0, 2: 2.0}         # × the occupational exposure limit
O2_LOW_MIN, O2_HIGH_MAX = 19.5, 23.5     # %VOL
# GB/T 50493-2019 §5.1 (detector response, paraphrased): a combustible or O₂ detector answers within 30 s
# and a toxic one within 60 s; a delay-on longer than that postpones the alarm beyond what the standard
# allows the detector itself. A silent point must become a fault within a minute for the same reason.
MAX_DELAY_S = {"combustible": 30.0, "oxygen": 30.0, "toxic": 60.0}
MAX_STALE_S = 60.0

Finding = tuple[str, str, str]


@dataclass(frozen=True)
class Checked:
    errors: list[Finding]
    deviations: list[Finding]


def _oel_in(gas_code: str, unit: str) -> float | None:
    g = GASES[gas_code]
    return {"%OEL": 100.0, "ppm": g.oel_ppm, "mg/m3": g.oel_mg_m3}.get(unit)


def default_range_high(gas_code: str, unit: str) -> float | None:
    """The detector range a point gets when it names none: 0–100 %LEL, 0–25 %VOL O₂, and for toxic gases
    0–300 %OEL (GB/T 50493-2019 measuring range) in whatever unit the detector reports."""
    g = GASES[gas_code]
    if unit == "%LEL":
        return 100.0
    if g.kind == "oxygen" and unit == "%VOL":
        return 25.0
    if g.kind == "toxic":
        oel = _oel_in(gas_code, unit)
        return round(3 * oel, 4) if oel else None
    if unit == "%VOL":
        return 100.0
    return None


def check(gas_code: str, unit: str, thresholds: Sequence[Threshold], *, deadband: float, range_low: float,
          range_high: float | None, delay_on_s: float, stale_after_s: float) -> Checked:
    g = GASES[gas_code]
    errors: list[Finding] = []
    dev: list[Finding] = []
    if g.kind == "ambient":
        return Checked(errors, dev)
    if not thresholds:
        errors.append(("thresholds", f"{g.name}测点必须有报警设定值（GB/T 50493-2019 §5.5）",
                       f"a {g.name_en} point needs alarm set-points (GB/T 50493-2019 §5.5)"))
        return Checked(errors, dev)
    seen: set[tuple[int, str]] = set()
    for t in thresholds:
        if (t.level, t.direction) in seen:
            errors.append(("thresholds", f"{t.level}级{t.direction}报警设定了两次",
                           f"level {t.level} {t.direction} is set twice"))
        seen.add((t.level, t.direction))
        if g.kind in ("combustible", "toxic") and t.direction != "high":
            errors.append(("thresholds", f"{g.name}为泄漏检测，报警方向只能为 high（浓度升高）",
                           f"{g.name_en} detects a release: its alarms are 'high' only"))
    for direction in ("high", "low"):
        by_level = {t.level: t.value for t in thresholds if t.direction == direction}
        if 1 in by_level and 2 in by_level:
            l1, l2 = by_level[1], by_level[2]
            ordered = l2 > l1 if direction == "high" else l2 < l1
            if not ordered:
                errors.append(("thresholds", f"二级报警值 {l2:g} 应比一级 {l1:g} 更严重（{direction}）",
                               f"level 2 ({l2:g}) must be beyond level 1 ({l1:g}) in direction {direction}"))
            elif deadband >= abs(l2 - l1):
                errors.append(("deadband", f"回差 {deadband:g} 不小于两级报警之差 {abs(l2 - l1):g}，报警将无法恢复",
                               f"deadband {deadband:g} is not below the gap between the levels "
                               f"({abs(l2 - l1):g}): the alarm could never clear"))
    highs = [t.value for t in thresholds if t.direction == "high"]
    lows = [t.value for t in thresholds if t.direction == "low"]
    if range_high is not None and highs and range_high < max(highs):
        errors.append(("range_high", f"量程上限 {range_high:g} 低于最高报警值 {max(highs):g}，探测器测不到该报警",
                       f"range_high {range_high:g} is below the highest set-point {max(highs):g}: the detector "
                       "cannot measure it"))
    if lows and min(lows) <= range_low:
        errors.append(("range_low", f"量程下限 {range_low:g} 不低于低报警值 {min(lows):g}",
                       f"range_low {range_low:g} is not below the low set-point {min(lows):g}"))
    if highs and lows and max(lows) >= min(highs):
        errors.append(("thresholds", "低报警值应低于高报警值", "low set-points must be below the high ones"))

    # deviations from the standard's limits (GB/T 50493-2019 §5.5.2)
    if g.kind == "combustible" and unit == "%LEL":
        for t in thresholds:
            limit = COMBUSTIBLE_MAX.get(t.level)
            if limit is not None and t.value > limit:
                dev.append(("thresholds", f"{t.level}级报警 {t.value:g} %LEL 高于标准上限 {limit:g} %LEL（GB/T 50493-2019 §5.5.2）",
                            f"level {t.level} at {t.value:g} %LEL is above the standard's {limit:g} %LEL "
                            "(GB/T 50493-2019 §5.5.2)"))
    if g.kind == "toxic":
        oel = _oel_in(gas_code, unit)
        for t in thresholds:
            factor = TOXIC_MAX_OEL.get(t.level)
            if oel and factor and t.value > round(oel * factor, 4) + 1e-9:
                dev.append(("thresholds", f"{t.level}级报警 {t.value:g} {unit} 高于 {factor * 100:g}% 职业接触限值 "
                            f"{oel * factor:g} {unit}（GB/T 50493-2019 §5.5.2）",
                            f"level {t.level} at {t.value:g} {unit} is above {factor * 100:g} % of the exposure limit "
                            f"({oel * factor:g} {unit}, GB/T 50493-2019 §5.5.2)"))
    if g.kind == "oxygen" and unit == "%VOL":
        for t in thresholds:
            if t.direction == "low" and t.value < O2_LOW_MIN:
                dev.append(("thresholds", f"缺氧报警 {t.value:g} %VOL 低于标准 {O2_LOW_MIN:g} %VOL",
                            f"under-oxygen alarm {t.value:g} %VOL is below the standard's {O2_LOW_MIN:g} %VOL"))
            if t.direction == "high" and t.value > O2_HIGH_MAX:
                dev.append(("thresholds", f"富氧报警 {t.value:g} %VOL 高于标准 {O2_HIGH_MAX:g} %VOL",
                            f"over-oxygen alarm {t.value:g} %VOL is above the standard's {O2_HIGH_MAX:g} %VOL"))
        if not lows:
            dev.append(("thresholds", "氧气测点没有缺氧报警", "the oxygen point has no under-oxygen alarm"))
    max_delay = MAX_DELAY_S.get(g.kind)
    if max_delay is not None and delay_on_s > max_delay:
        dev.append(("delay_on_s", f"报警延时 {delay_on_s:g} s 超过 {max_delay:g} s（GB/T 50493-2019 §5.1 响应时间）",
                    f"delay_on_s {delay_on_s:g} s exceeds {max_delay:g} s (GB/T 50493-2019 §5.1 response time)"))
    if stale_after_s > MAX_STALE_S:
        dev.append(("stale_after_s", f"超过 {stale_after_s:g} s 无数据才报故障，长于 {MAX_STALE_S:g} s",
                    f"stale_after_s {stale_after_s:g} s: a silent detector goes unnoticed longer than "
                    f"{MAX_STALE_S:g} s"))
    return Checked(errors, dev)
