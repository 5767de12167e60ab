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


@pytest.mark.parametrize("value, current, side, cfg, level", [
    (0.0, 0, None, CH4, 0), (24.9, 0, None, CH4, 0), (25.0, 0, None, CH4, 1), (49.9, 0, None, CH4, 1),
    (50.0, 0, None, CH4, 2), (80, 0, None, CH4, 2),
    (23.5, 1, "high", CH4, 1),   # inside the deadband of level 1: stays
    (23.0, 1, "high", CH4, 0),   # past it: leaves
    (48.5, 2, "high", CH4, 2), (47.9, 2, "high", CH4, 1),
    (20.9, 0, None, O2, 0), (19.5, 0, None, O2, 1), (19.7, 1, "low", O2, 1), (19.9, 1, "low", O2, 0),
    (23.5, 0, None, O2, 1), (22.0, 1, "high", O2, 0),
    (19.7, 1, "high", O2, 0),    # the deadband belongs to the side the point is on
])
def test_level_with_deadband(value, current, side, cfg, level):
    assert A.level_of(value, cfg, current, side) == level


def run(cfg, steps, s=None, officer=False):
    """Feed (t_ms, action, arg) steps; return [(display, acked, [(kind, level)])] after each."""
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
            s, tr = A.shelve(s, t, arg, "user:wangfang", "sensor calibration", safety_officer=officer)
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


# ---------------------------------------------------------------- delay-on, per level (GB/T 50493-2019 §5.5)

def test_delay_on_filters_a_spike():
    cfg = A.AlarmConfig(default_thresholds("CH4"), delay_on_s=3)
    out, _ = run(cfg, [(0, "v", 30), (1000, "v", 10), (2000, "v", 30), (4000, "v", 31), (5000, "v", 32)])
    assert [o[0] for o in out] == ["normal", "normal", "normal", "normal", "alarm1"]
    assert out[-1][2] == [("alarm", 1)]


def test_each_level_alarms_on_its_own_delay_while_a_higher_one_waits():
    """45/52 %LEL alternating with a 2 s delay: level 1 has held all along and must alarm; level 2 never held."""
    cfg = A.AlarmConfig(default_thresholds("CH4"), delay_on_s=2)
    steps = [(t * 1000, "v", 52 if t % 2 else 45) for t in range(8)]
    out, s = run(cfg, steps)
    assert [o[0] for o in out] == ["normal", "normal", "alarm1", "alarm1", "alarm1", "alarm1", "alarm1", "alarm1"]
    assert s.condition == 1 and A.waiting_for(s, cfg)["level"] == 2  # level 2 is shown as waiting


def test_a_ramp_through_both_levels_is_not_delayed_twice():
    """Level 2's delay starts when the value crosses level 2, not when level 1 alarmed."""
    cfg = A.AlarmConfig(default_thresholds("CH4"), delay_on_s=2)
    out, _ = run(cfg, [(0, "v", 30), (1000, "v", 55), (2000, "v", 58), (3000, "v", 60)])
    assert [o[0] for o in out] == ["normal", "normal", "alarm1", "alarm2"]
    assert out[2][2] == [("alarm", 1)] and out[3][2] == [("alarm", 2)]


def test_waiting_indication_names_the_level_and_end():
    cfg = A.AlarmConfig(default_thresholds("CH4"), delay_on_s=5)
    s, _ = A.on_reading(A.PointState(), cfg, 30, 1000)
    assert A.waiting_for(s, cfg) == {"level": 1, "direction": "high", "since": 1000, "until": 6000}
    s, _ = A.on_reading(s, cfg, 10, 2000)
    assert A.waiting_for(s, cfg) is None  # dropped below: the wait starts again next time


# ---------------------------------------------------------------- range: over-range alarms, the rest is a fault

@pytest.mark.parametrize("value, display, fault, over", [
    (100.0, "normal", None, False),          # full scale is in range: waits out delay-on like any reading
    (101.9, "normal", None, False),          # within the 2 % tolerance: still in range
    (150.0, "alarm2", None, True),           # past full scale: the worst release, level 2 at once
    (1e9, "alarm2", None, True),
    (-1.9, "normal", None, False),           # small negative zero drift is tolerated
    (-5.0, "fault", "under_range", False),   # a broken or drifting sensor
    (float("nan"), "fault", "non_numeric", False),
    (float("inf"), "fault", "non_numeric", False),
])
def test_over_range_is_an_alarm_under_range_a_fault(value, display, fault, over):
    """A catalytic detector driven past full scale by a big release (GB/T 50493-2019 range 0–100 %LEL) must
    raise the highest level, not a fault; only under-range, non-numeric and failed reads are faults."""
    cfg = A.AlarmConfig(default_thresholds("CH4"), delay_on_s=10, range_low=0, range_high=100)
    s, tr = A.on_reading(A.PointState(), cfg, value, 1000)
    assert A.display(s) == display
    assert (s.fault or "").split(":")[0] == (fault or "")
    assert s.over_range is over
    if over:  # no delay-on: full scale is no spike
        assert [(t.kind, t.level, t.over_range, t.side) for t in tr] == [("alarm", 2, True, "high")]


def test_over_range_stays_latched_when_the_sensor_reads_low_again():
    """A catalytic bead past full scale may read low afterwards: the over-range alarm waits for an operator."""
    out, s = run(CH4, [(0, "v", 150), (1000, "v", 3), (2000, "v", 3)])
    assert [o[0] for o in out] == ["alarm2", "alarm2", "alarm2"] and s.over_range
    s, _ = A.acknowledge(s, 3000)
    assert A.display(s) == "normal" and not s.over_range


def test_over_range_on_a_point_without_a_high_level_is_a_fault():
    cfg = A.AlarmConfig((A.Threshold(1, "low", 19.5),), range_low=0, range_high=25)
    s, _ = A.on_reading(A.PointState(), cfg, 40, 0)
    assert A.display(s) == "fault" and s.fault.startswith("over_range")


def test_faults_keep_the_latch_and_recover():
    out, s = run(CH4, [(0, "v", 60), (1000, "bad", "comm: no response"), (2000, "bad", "comm: no response"),
                       (3000, "v", 10), (4000, "v", -20)])
    assert out[1] == ("alarm2", False, [("fault", 2)])   # the latched level 2 stays on the board
    assert s.fault and out[2] == ("alarm2", False, [])   # same fault: recorded once
    assert out[3] == ("alarm2", False, [("recovered", 2), ("cleared", 0)])
    assert out[4][0] == "alarm2" and s.fault.startswith("under_range")


def test_a_fault_with_nothing_latched_shows_fault():
    out, s = run(CH4, [(0, "v", 10), (1000, "bad", "comm: timeout")])
    assert out[1] == ("fault", True, [("fault", 0)])


# ---------------------------------------------------------------- O₂ sides (GB/T 50493-2019 §5.5.2)

def test_oxygen_side_is_part_of_the_state_and_a_swing_is_a_new_alarm():
    s, tr = A.on_reading(A.PointState(), O2, 18.0, 0)
    assert (s.condition, s.side, tr[0].side) == (1, "low", "low")          # 缺氧
    s, tr = A.on_reading(s, O2, 24.0, 1000)
    assert [(t.kind, t.level, t.side) for t in tr] == [("alarm", 1, "high")]  # 富氧: a new alarm
    assert (s.shown, s.shown_side, s.acked) == (1, "high", False)
    s, tr = A.on_reading(s, O2, 20.9, 2000)
    assert [(t.kind, t.level) for t in tr] == [("cleared", 0)] and s.shown_side == "high"


# ---------------------------------------------------------------- shelving (IEC 62682 §11.7)

def test_stale_and_shelving_expire_by_tick():
    cfg = A.AlarmConfig(default_thresholds("CH4"), stale_after_s=100)
    out, s = run(cfg, [(0, "v", 30), (1000, "shelve", 1), (2000, "v", 40), (5000, "tick", None),
                       (61_000, "tick", None), (103_000, "tick", None)])
    assert out[1][2] == [("shelved", 1)]
    assert out[2][2] == []
    assert out[3][2] == []
    assert out[4][2] == [("unshelved", 1)] and s.shelved_until is None
    assert out[5][0] == "alarm1" and out[5][2] == [("fault", 1)] and s.at == 2000  # stale since the last reading


def test_a_higher_level_breaks_through_the_shelf():
    s, _ = A.on_reading(A.PointState(), CH4, 30, 0)
    s, _ = A.shelve(s, 1000, 60, "user:x", "chattering near 25 %LEL")
    s, tr = A.on_reading(s, CH4, 10, 2000)
    assert tr[0].shelved is True                          # still recorded, marked shelved
    s, tr = A.on_reading(s, CH4, 30, 3000)
    assert [(t.kind, t.shelved) for t in tr] == [("alarm", True)]  # the shelved level: stays shelved
    s, tr = A.on_reading(s, CH4, 60, 4000)
    assert [(t.kind, t.level, t.shelved) for t in tr] == [("unshelved", 2, False), ("alarm", 2, False)]
    assert s.shelved_until is None


@pytest.mark.parametrize("second, why", [
    (("bad", "comm: no response"), "fault"),
    (("v", 150.0), "over range"),
])
def test_a_fault_or_over_range_breaks_through_the_shelf(second, why):
    s, _ = A.on_reading(A.PointState(), CH4, 60, 0)
    s, _ = A.shelve(s, 1000, 60, "user:officer", "calibration", safety_officer=True)
    action, arg = second
    s, tr = (A.on_reading(s, CH4, None, 2000, bad_reason=arg) if action == "bad"
             else A.on_reading(s, CH4, arg, 2000))
    assert tr[0].kind == "unshelved" and why in tr[0].reason and s.shelved_until is None
    assert tr[1].shelved is False


def test_an_oxygen_swing_breaks_through_the_shelf():
    s, _ = A.on_reading(A.PointState(), O2, 18.0, 0)
    s, _ = A.shelve(s, 1000, 30, "user:x", "purging")
    s, tr = A.on_reading(s, O2, 24.0, 2000)
    assert [t.kind for t in tr] == ["unshelved", "alarm"]


@pytest.mark.parametrize("value, minutes, reason, officer, refused", [
    (30, 60, "calibration", False, None),
    (30, A.MAX_SHELVE_MIN, "calibration", False, None),
    (30, A.MAX_SHELVE_MIN + 1, "calibration", False, "minutes"),   # never beyond one shift
    (30, 0, "calibration", False, "minutes"),
    (30, 60, "  ", False, "reason"),
    (60, 60, "calibration", False, "point"),                        # level 2: the safety officer only
    (60, 60, "calibration", True, None),
])
def test_shelving_rules(value, minutes, reason, officer, refused):
    s, _ = A.on_reading(A.PointState(), CH4, value, 0)
    if refused is None:
        s2, tr = A.shelve(s, 1000, minutes, "user:x", reason, safety_officer=officer)
        assert s2.shelved_until == 1000 + minutes * 60_000 and tr[0].kind == "shelved"
    else:
        with pytest.raises(A.ShelveRefused) as e:
            A.shelve(s, 1000, minutes, "user:x", reason, safety_officer=officer)
        assert e.value.key == refused and e.value.zh and e.value.en
