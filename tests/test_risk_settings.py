"""The plant's risk settings ([risk], appliance/risk/config.py): LEC / LS cut-offs (RULES.md §B.4: "boundary
inclusivity differs between sources and some enterprises use other cut-offs → configurable"), the LEC
稍有危险，可以接受 band (D < 20), and the shift change that 8 h / 12 h control tasks follow."""
from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

import pytest

from appliance.config import parse_config
from appliance.core.errors import ConfigError
from appliance.risk import rules as RR
from conftest import As, write_config


def test_defaults_are_todays_values():
    cfg = parse_config("").risk
    assert (cfg.lec.red_above, cfg.lec.orange_from, cfg.lec.yellow_from, cfg.lec.acceptable_below) == (320, 160, 70, 20)
    assert {k: (v.major_from, v.significant_from, v.general_from) for k, v in cfg.ls_profiles.items()} == \
        {k: (v.major_from, v.significant_from, v.general_from) for k, v in RR.LS_PROFILES.items()}
    assert cfg.shift_start == "08:00"


@pytest.mark.parametrize("text, key, en", [
    ("[risk.lec]\norange_from = 320\n", "risk.lec", "decrease strictly"),              # equal: not strictly
    ("[risk.lec]\nyellow_from = 200\n", "risk.lec", "decrease strictly"),              # above orange
    ("[risk.lec]\nacceptable_below = 70\n", "risk.lec", "decrease strictly"),
    ("[risk.lec]\nacceptable_below = 0\n", "risk.lec.acceptable_below", "too small"),  # positive
    ("[risk.lec]\nred_above = -1\n", "risk.lec.red_above", "too small"),
    ("[risk.lec]\nred_abov = 300\n", "risk.lec.red_abov", "unknown key"),
    ("[risk.ls.A]\nmajor_from = 9\nsignificant_from = 9\ngeneral_from = 4\n", "risk.ls.A", "decrease strictly"),
    ("[risk.ls.C]\nmajor_from = 26\nsignificant_from = 9\ngeneral_from = 4\n", "risk.ls.C.major_from", "too large"),
    ("[risk.ls.C]\nmajor_from = 20\nsignificant_from = 9\n", "risk.ls.C.general_from", "missing"),
    ("[risk]\nshift_start = '8:00'\n", "risk.shift_start", "HH:MM"),
    ("[risk]\nshift_start = '24:00'\n", "risk.shift_start", "HH:MM"),
])
def test_bad_settings_name_the_key(text, key, en):
    with pytest.raises(ConfigError) as exc:
        parse_config(text)
    assert any(d["key"] == key and en in d["en"] for d in exc.value.details), exc.value.details


def test_a_plant_profile_adds_to_the_shipped_ones():
    cfg = parse_config("[risk.ls.SD]\nmajor_from = 15\nsignificant_from = 10\ngeneral_from = 5\n").risk
    assert set(cfg.ls_profiles) == {"A", "B", "SD"}


@pytest.mark.parametrize("l, e, c, band, acceptable", [
    (3, 6, 1, 5, True),       # D = 18 < 20: 稍有危险，可以接受
    (1, 2, 7, 5, True),       # D = 14
    (0.1, 0.5, 1, 5, True),   # the smallest D there is
    (10, 2, 1, 4, False),     # D = 20 exactly: 一般危险 (20–70), not acceptable
    (0.5, 6, 7, 4, False),    # D = 21
    (1, 10, 7, 3, False),     # D = 70: 显著危险
    (10, 10, 100, 1, False),
])
def test_lec_bands_and_the_acceptable_marker(l, e, c, band, acceptable):
    d, level = RR.lec(l, e, c)
    assert RR.lec_band(d) == band
    assert RR.lec_acceptable("LEC", d, level) is acceptable
    assert RR.LEC_BANDS[band][0]


def test_the_marker_never_contradicts_a_stored_level():
    assert RR.lec_acceptable("LEC", 18, 3) is False       # graded 一般 under older, stricter cut-offs
    assert RR.lec_acceptable("LS", 2, 4) is False         # LS has no such band
    assert RR.lec_acceptable("LEC", None, None) is False  # no residual assessment
    assert RR.lec_acceptable("LEC", 18, 4, "gone") is False


PLANT = """
[risk]
shift_start = "07:30"
[risk.lec]
red_above = 260
orange_from = 120
yellow_from = 62
acceptable_below = 20
"""


@pytest.fixture
def config(tmp_path):
    from appliance.config import load_config

    return load_config(write_config(tmp_path / "data", extra=PLANT))


@pytest.fixture
def unit(app, users):
    c = As(app, "safety_officer", users)
    o = c.post("/api/v1/risk/objects", json={"code": "OBJ-1", "name": "甲醇储罐区"}).get_json()
    u = c.post("/api/v1/risk/units", json={"object_id": o["id"], "name": "V-101"}).get_json()
    c.unit_id = u["id"]
    return c


def test_the_plants_cut_offs_grade_new_events_and_the_marker_is_shown(unit, as_role):
    r = unit.post("/api/v1/risk/events", json={"unit_id": unit.unit_id, "name": "泄漏", "method": "LEC",
                                               "inherent": {"l": 3, "e": 6, "c": 15}})   # D = 270
    assert r.status_code == 201 and r.get_json()["inherent_level"] == 1   # > 260 here; 较大 under the defaults
    r = unit.post("/api/v1/risk/events", json={"unit_id": unit.unit_id, "name": "烫伤", "method": "LEC",
                                               "inherent": {"l": 3, "e": 6, "c": 3},     # D = 54: 低
                                               "residual": {"l": 3, "e": 6, "c": 1}})    # D = 18: acceptable
    body = r.get_json()
    assert (body["inherent_level"], body["acceptable"], body["residual_acceptable"]) == (4, False, True)
    tree = as_role("worker").get("/api/v1/risk/register").get_json()["objects"]
    ev = tree[0]["units"][0]["events"][1]
    assert ev["residual_acceptable"] is True
    page = as_role("worker").get("/tablet/risks").get_data(as_text=True)
    assert page.count("稍有危险，可以接受") == 1


def test_eight_hour_tasks_follow_the_configured_shift_change(unit):
    from appliance.risk import tasks as CT

    e = unit.post("/api/v1/risk/events", json={"unit_id": unit.unit_id, "name": "泄漏", "method": "LS",
                                               "inherent": {"l": 3, "s": 4}}).get_json()
    m = unit.post("/api/v1/risk/measures", json={"event_id": e["id"], "description": "交接班巡检", "classify1": 3,
                                                 "classify2": "3-3", "check_cycle": 8, "check_cycle_unit": "hour"})
    assert m.status_code == 201
    zone = ZoneInfo("Asia/Shanghai")
    now = int(datetime(2026, 12, 1, 0, 15, tzinfo=zone).timestamp() * 1000)   # the night shift, after midnight
    CT.tick(now)
    t = CT.ControlTask.get(CT.ControlTask.measure_id == m.get_json()["id"])
    start, end = (datetime.fromtimestamp(x / 1000, zone) for x in (t.period_start, t.period_end))
    assert (start.day, start.hour, start.minute, end.day, end.hour, end.minute) == (30, 23, 30, 1, 7, 30)


@pytest.mark.parametrize("cycle, unit_, stored", [(1, "week", (7, "day")), (36, "hour", (36, "hour"))])
def test_weekly_and_36_hour_cycles_through_the_api(unit, cycle, unit_, stored):
    from appliance.risk.register import RiskMeasure

    e = unit.post("/api/v1/risk/events", json={"unit_id": unit.unit_id, "name": "x", "method": "LS",
                                               "inherent": {"l": 1, "s": 1}}).get_json()
    r = unit.post("/api/v1/risk/measures", json={"event_id": e["id"], "description": "y", "classify1": 3,
                                                 "classify2": "3-2", "check_cycle": cycle, "check_cycle_unit": unit_})
    assert r.status_code == 201, r.get_json()
    m = RiskMeasure.get_by_id(r.get_json()["id"])
    assert (m.check_cycle, m.check_cycle_unit) == stored


def test_a_cycle_no_task_could_run_is_refused_naming_the_field(unit):
    e = unit.post("/api/v1/risk/events", json={"unit_id": unit.unit_id, "name": "x", "method": "LS",
                                               "inherent": {"l": 1, "s": 1}}).get_json()
    r = unit.post("/api/v1/risk/measures", json={"event_id": e["id"], "description": "y", "classify1": 3,
                                                 "classify2": "3-2", "check_cycle": 9000, "check_cycle_unit": "hour"})
    assert r.status_code == 422 and "check_cycle" in r.get_json()["error"]["messages"]["en"]
