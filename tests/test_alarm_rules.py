"""Gas set-points (GB/T 50493-2019) and the alarm state machine, as tables."""
from __future__ import annotations

import pytest

from appliance.gas import rules as A
from appliance.gas.gases import GASES, default_thresholds

CH4 = A.AlarmConfig(default_thresholds("CH4"), deadband=2.0, range_low=0, range_high=100)
O2 = A.AlarmConfig(default_thresholds("O2"), deadband=0.3, range_low=0, range_high=30)


@pytest.mark.parametrize("gas, unit, expected", [
    ("CH4", None, [(1, "high", 25.0), (2, "high", 50.0)]),
    ("H2", "%LEL", [(1, "high", 25.0), (2, "high", 50.0)]),
    ("H2S", "%OEL", [(1, "high", 100.0), (2, "high", 200.0)]),
    ("H2S", "ppm", [(1, "high", 7.05), (2, "high", 14.1)]),       # MAC 10 mg/m³
    ("CO", "ppm", [(1, "high", 25.75), (2, "high", 51.5)]),       # PC-STEL 30 mg/m³
    ("Cl2", "mg/m3", [(1, "high", 1), (2, "high", 2)]),
    ("O2", "%VOL", [(1, "low", 19.5), (1, "high", 23.5)]),
])
def test_default_setpoints(gas, unit, expected):
    assert [(t.level, t.direction, t.value) for t in default_thresholds(gas, unit)] == expected


@pytest.mark.parametrize("gas, unit", [("CH4", "ppm"), ("TEMP", "°C"), ("XYZ", None), ("O2", "ppm")])
def test_no_silent_default(gas, unit):
    with pytest.raises(ValueError):
        default_thresholds(gas, unit)


def test_every_gas_has_both_names():
    assert all(g.name and g.name_en for g in GASES.values())


@pytest.mark.parametrize("value, current, cfg, level", [
    (0.0, 0, CH4, 0), (24.9, 0, CH4, 0), (25.0, 0, CH4, 1), (49.9, 0, CH4, 1), (50.0, 0, CH4, 2), (80, 0, CH4, 2),
    (23.5, 1, CH4, 1),   # inside the deadband of level 1: stays
    (23.0, 1, CH4, 0),   # past it: leaves
    (48.5, 2, CH4, 2), (47.9, 2, CH4, 1),
    (20.9, 0, O2, 0), (19.5, 0, O2, 1), (19.7, 1, O2, 1), (19.9, 1, O2, 0), (23.5, 0, O2, 1), (22.0, 1, O2, 0),
])
def test_level_with_deadband(value, current, cfg, level):
    assert A.level_of(value, cfg, current) == level


def run(cfg, steps, s=None):
    """Feed (t_ms, action, arg) steps; return [(display, acked, [transition kinds])] after each."""
    s = s or A.PointState()
    out = []
    for t, action, arg in steps:
        if action == "v":
            s, tr = A.on_reading(s, cfg, arg, t)
        elif action == "bad":
            s, tr = A.on_reading(s, cfg, None, t, bad_reason=arg)
        elif action == "ack":
            s, tr = A.acknowledge(s, t)
        elif action == "shelve":
            s, tr = A.shelve(s, arg, "user:wangfang", "sensor calibration")
        elif action == "tick":
            s, tr = A.tick(s, cfg, t)
        out.append((A.display(s), s.acked, [(x.kind, x.level) for x in tr]))
    return out, s


def test_rise_latch_ack_clear():
    out, _ = run(CH4, [(0, "v", 10), (1000, "v", 30), (2000, "v", 60), (3000, "v", 10), (4000, "ack", None),
                       (5000, "v", 30), (6000, "ack", None), (7000, "v", 5)])
    assert out == [
        ("normal", True, []),
        ("alarm1", False, [("alarm", 1)]),
        ("alarm2", False, [("alarm", 2)]),
        ("alarm2", False, [("cleared", 0)]),   # gas gone, alarm latched until acknowledged
        ("normal", True, [("acked", 0)]),
        ("alarm1", False, [("alarm", 1)]),
        ("alarm1", True, [("acked", 1)]),      # acked while still in alarm: stays shown
        ("normal", True, [("cleared", 0)]),
    ]


def test_delay_on_filters_a_spike():
    cfg = A.AlarmConfig(default_thresholds("CH4"), delay_on_s=3)
    out, _ = run(cfg, [(0, "v", 30), (1000, "v", 10), (2000, "v", 30), (4000, "v", 31), (5000, "v", 32)])
    assert [o[0] for o in out] == ["normal", "normal", "normal", "normal", "alarm1"]
    assert out[-1][2] == [("alarm", 1)]


def test_faults_keep_the_latch_and_recover():
    out, s = run(CH4, [(0, "v", 60), (1000, "bad", "comm: no response"), (2000, "bad", "comm: no response"),
                       (3000, "v", 10), (4000, "v", 150)])
    assert out[1] == ("fault", False, [("fault", 2)])
    assert out[2] == ("fault", False, [])                       # same fault: recorded once
    assert out[3] == ("alarm2", False, [("recovered", 2), ("cleared", 0)])
    assert out[4][0] == "fault" and s.fault.startswith("out_of_range")


def test_stale_and_shelving_expire_by_tick():
    cfg = A.AlarmConfig(default_thresholds("CH4"), stale_after_s=10)
    out, s = run(cfg, [(0, "v", 30), (1000, "shelve", 60_000), (2000, "v", 60), (5000, "tick", None),
                       (20_000, "tick", None), (61_000, "tick", None)])
    assert out[1][2] == [("shelved", 1)]
    assert out[2][2] == [("alarm", 2)]                       # still recorded while shelved
    assert out[3][2] == []
    assert out[4][0] == "fault" and out[4][2] == [("fault", 2)]
    assert out[5][2] == [("unshelved", 2)] and s.shelved_until is None


def test_transitions_know_they_happened_while_shelved():
    s, _ = A.shelve(A.PointState(), 10_000, "user:x", "why")
    s, tr = A.on_reading(s, CH4, 30, 5000)
    assert tr[0].shelved is True
    s, tr = A.on_reading(s, CH4, 60, 20_000)
    assert tr[0].shelved is False
