"""Gas point config against GB/T 50493-2019: what is refused, what needs a deviation_reason, as tables; and
check-config / the audit log with a real config file and database."""
from __future__ import annotations

import json

import pytest

from appliance.config import parse_config
from appliance.core.errors import ConfigError
from appliance.gas import standard
from appliance.gas.gases import Threshold
from conftest import run_cli


def T(*spec):
    return tuple(Threshold(lv, d, v) for lv, d, v in spec)


def check(gas, unit, th, deadband=0.0, range_low=0.0, range_high=None, delay=0.0, stale=30.0):
    rh = range_high if range_high is not None else standard.default_range_high(gas, unit)
    c = standard.check(gas, unit, th, deadband=deadband, range_low=range_low, range_high=rh, delay_on_s=delay,
                       stale_after_s=stale)
    return sorted({k for k, _, _ in c.errors}), sorted({k for k, _, _ in c.deviations})


@pytest.mark.parametrize("gas, unit, th, kw, errors, deviations", [
    # §5.5.2 combustible: L1 ≤ 25 %LEL, L2 ≤ 50 %LEL (at the limit is within the standard)
    ("CH4", "%LEL", T((1, "high", 25), (2, "high", 50)), {}, [], []),
    ("CH4", "%LEL", T((1, "high", 20), (2, "high", 40)), {}, [], []),
    ("CH4", "%LEL", T((1, "high", 25.1), (2, "high", 50)), {}, [], ["thresholds"]),
    ("CH4", "%LEL", T((1, "high", 25), (2, "high", 50.5)), {}, [], ["thresholds"]),
    # §5.5.2 toxic: L1 ≤ 100 %OEL, L2 ≤ 200 %OEL, in %OEL and converted to ppm / mg/m³
    ("H2S", "%OEL", T((1, "high", 100), (2, "high", 200)), {}, [], []),
    ("H2S", "%OEL", T((1, "high", 150), (2, "high", 200)), {}, [], ["thresholds"]),
    ("H2S", "ppm", T((1, "high", 7.05), (2, "high", 14.1)), {}, [], []),
    ("H2S", "ppm", T((1, "high", 10), (2, "high", 14.1)), {}, [], ["thresholds"]),   # 10 ppm > MAC 7.05 ppm
    ("Cl2", "mg/m3", T((1, "high", 1), (2, "high", 2.5)), {}, [], ["thresholds"]),
    # §5.5.2 O₂: under-oxygen 19.5, over-oxygen 23.5 %VOL
    ("O2", "%VOL", T((1, "low", 19.5), (1, "high", 23.5)), {}, [], []),
    ("O2", "%VOL", T((1, "low", 18), (1, "high", 23.5)), {}, [], ["thresholds"]),
    ("O2", "%VOL", T((1, "low", 19.5), (1, "high", 24)), {}, [], ["thresholds"]),
    ("O2", "%VOL", T((1, "high", 23.5),), {}, [], ["thresholds"]),                      # no 缺氧 alarm
    # never acceptable: no set-points, wrong order, wrong direction, a deadband the alarm cannot clear
    ("CH4", "%LEL", (), {}, ["thresholds"], []),
    ("CH4", "%LEL", T((1, "high", 20), (2, "high", 15)), {}, ["thresholds"], []),
    ("CH4", "%LEL", T((1, "low", 10),), {}, ["thresholds"], []),
    ("CH4", "%LEL", T((1, "high", 20), (1, "high", 22)), {}, ["thresholds"], []),
    ("CH4", "%LEL", T((1, "high", 25), (2, "high", 50)), {"deadband": 25}, ["deadband"], []),
    ("CH4", "%LEL", T((1, "high", 25), (2, "high", 50)), {"deadband": 24.9}, [], []),
    ("O2", "%VOL", T((1, "low", 24), (1, "high", 23.5)), {}, ["thresholds"], []),
    # range: the detector must reach the highest set-point
    ("CH4", "%LEL", T((1, "high", 25), (2, "high", 50)), {"range_high": 40}, ["range_high"], []),
    ("CH4", "%LEL", T((1, "high", 25), (2, "high", 50)), {"range_high": 50}, [], []),
    ("O2", "%VOL", T((1, "low", 19.5), (1, "high", 23.5)), {"range_low": 19.5}, ["range_low"], []),
    # §5.1 response time: delay-on beyond 30 s (combustible, O₂) / 60 s (toxic); a silent point > 60 s
    ("CH4", "%LEL", T((1, "high", 25), (2, "high", 50)), {"delay": 30}, [], []),
    ("CH4", "%LEL", T((1, "high", 25), (2, "high", 50)), {"delay": 31}, [], ["delay_on_s"]),
    ("H2S", "%OEL", T((1, "high", 100), (2, "high", 200)), {"delay": 60}, [], []),
    ("H2S", "%OEL", T((1, "high", 100), (2, "high", 200)), {"delay": 61}, [], ["delay_on_s"]),
    ("CH4", "%LEL", T((1, "high", 25), (2, "high", 50)), {"stale": 61}, [], ["stale_after_s"]),
    # temperature and humidity carry no standard set-points
    ("TEMP", "°C", (), {}, [], []),
])
def test_setpoints_against_gb_t_50493(gas, unit, th, kw, errors, deviations):
    assert check(gas, unit, th, **kw) == (errors, deviations)


@pytest.mark.parametrize("gas, unit, high", [
    ("CH4", "%LEL", 100.0), ("O2", "%VOL", 25.0), ("H2S", "%OEL", 300.0),
    ("H2S", "ppm", 21.15), ("CO", "ppm", 77.25), ("Cl2", "mg/m3", 3.0),   # toxic: 0–300 %OEL in the unit
])
def test_default_ranges(gas, unit, high):
    assert standard.default_range_high(gas, unit) == high


POINT = """
[[points]]
id = "GT-1"
name = "储罐区甲烷"
gas = "CH4"
{extra}
"""


def test_out_of_standard_setpoint_needs_a_deviation_reason():
    with pytest.raises(ConfigError) as e:
        parse_config(POINT.format(extra='thresholds = [{level = 1, value = 30}, {level = 2, value = 50}]'))
    keys = [d["key"] for d in e.value.details]
    assert keys == ["points.0.thresholds"] and "deviation_reason" in e.value.details[0]["en"]
    cfg = parse_config(POINT.format(extra='thresholds = [{level = 1, value = 30}, {level = 2, value = 50}]\n'
                                          'deviation_reason = "2025 安全评估报告第 4.2 节：背景浓度高"'))
    assert [k for k, _, _ in cfg.points[0].check().deviations] == ["thresholds"]


def test_range_below_the_setpoint_is_refused_naming_the_key():
    with pytest.raises(ConfigError) as e:
        parse_config(POINT.format(extra="range_high = 40\ndeviation_reason = 'does not help here'"))
    assert [d["key"] for d in e.value.details] == ["points.0.range_high"]


def test_check_config_refuses_then_accepts(tmp_path):
    cfg = tmp_path / "a.toml"
    cfg.write_text(POINT.format(extra='thresholds = [{level = 1, value = 30}, {level = 2, value = 60}]'),
                   encoding="utf-8")
    r = run_cli("check-config", str(cfg))
    assert r.returncode == 2 and "points.0.thresholds" in r.stderr + r.stdout and "50 %LEL" in r.stderr + r.stdout
    cfg.write_text(POINT.format(extra='thresholds = [{level = 1, value = 30}, {level = 2, value = 60}]\n'
                                      'deviation_reason = "业主安全评估批准"'), encoding="utf-8")
    r = run_cli("check-config", str(cfg))
    assert r.returncode == 0, r.stderr + r.stdout


def test_accepted_deviation_is_audited_once_per_change(app):
    from appliance.core import events
    from appliance.gas.sensors import Sensors

    config = parse_config(POINT.format(extra='thresholds = [{level = 1, value = 30}, {level = 2, value = 50}]\n'
                                             'deviation_reason = "安全评估批准：背景浓度"'))
    assert Sensors(config).record_deviations() == 1
    assert Sensors(config).record_deviations() == 0   # a restart with the same config writes nothing
    ev = [e for e in events.read_after(0, 500) if e.type == "point.config_deviation"]
    assert len(ev) == 1 and ev[0].payload["reason"] == "安全评估批准：背景浓度"
    assert ev[0].payload["deviations"][0]["key"] == "thresholds"
    view = Sensors(config).view()[0]
    assert view["deviation_reason"] and view["deviations"]
    json.dumps(view)
