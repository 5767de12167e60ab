"""The risk register through the API: hierarchy, grading, bad input, the four-colour map."""
from __future__ import annotations

import pytest

from appliance.core import events
from conftest import As


@pytest.fixture
def officer(app, users):
    c = As(app, "safety_officer", users)
    r = c.post("/api/v1/areas", json={"code": "TANK", "name": "储罐区", "polygon": [[0, 0], [100, 0], [100, 100]]})
    assert r.status_code == 201
    c.area_id = r.get_json()["id"]
    return c


def test_register_and_map(officer, as_role):
    o = officer.post("/api/v1/risk/objects", json={"code": "OBJ-1", "name": "甲醇储罐区", "major_hazard": True,
                                                  "area_id": officer.area_id})
    assert o.status_code == 201
    u = officer.post("/api/v1/risk/units", json={"object_id": o.get_json()["id"], "name": "V-101", "department": "生产部"})
    e = officer.post("/api/v1/risk/events", json={"unit_id": u.get_json()["id"], "name": "泄漏火灾", "method": "LEC",
                                                 "inherent": {"l": 3, "e": 6, "c": 40}})
    assert e.status_code == 201 and e.get_json()["inherent_level"] == 1 and e.get_json()["colour"] == "red"
    m = officer.post("/api/v1/risk/measures", json={"event_id": e.get_json()["id"], "description": "高液位联锁",
                                                   "classify1": 1, "classify2": "1-4", "check_cycle": 1,
                                                   "check_cycle_unit": "day"})
    assert m.status_code == 201
    worker = as_role("worker")  # risks are told to everyone (风险告知)
    tree = worker.get("/api/v1/risk/register").get_json()["objects"]
    assert tree[0]["units"][0]["events"][0]["measures"][0]["classify2_name"] == "安全仪表"
    (area,) = worker.get("/api/v1/risk/map").get_json()["areas"]
    assert (area["level"], area["colour"], area["level_name"]) == (1, "red", "重大")
    # a residual assessment after the measures lowers the map colour
    officer.post("/api/v1/risk/events", json={"unit_id": u.get_json()["id"], "name": "静电", "method": "LS",
                                              "profile": "B", "inherent": {"l": 3, "s": 3}})
    assert worker.get("/api/v1/risk/map").get_json()["areas"][0]["level"] == 1  # still the worst one
    assert "risk-1" in worker.get("/kiosk").get_data(as_text=True)
    assert worker.post("/api/v1/risk/objects", json={"code": "X", "name": "x"}).status_code == 403
    types = [ev.type for ev in events.read_after(0, 100)]
    assert {"risk.object_created", "risk.unit_created", "risk.event_assessed", "risk.measure_added"} <= set(types)


@pytest.mark.parametrize("path, body, key", [
    ("/api/v1/risk/events", {"unit_id": 999, "name": "x", "method": "LEC", "inherent": {"l": 3, "e": 6, "c": 40}}, "unit_id"),
    ("/api/v1/risk/events", {"unit_id": 1, "name": "x", "method": "LEC", "inherent": {"l": 4, "e": 6, "c": 40}}, "L must be"),
    ("/api/v1/risk/events", {"unit_id": 1, "name": "x", "method": "LS", "inherent": {"l": 3, "e": 6, "c": 40}}, "LS needs"),
    ("/api/v1/risk/events", {"unit_id": 1, "name": "x", "method": "LS", "profile": "Z", "inherent": {"l": 3, "s": 3}}, "unknown LS profile"),
    ("/api/v1/risk/measures", {"event_id": 1, "description": "x", "classify1": 1, "classify2": "2-1"}, "classify2"),
    ("/api/v1/risk/measures", {"event_id": 1, "description": "x", "classify1": 1, "classify2": "1-1", "check_cycle": 2}, "check_cycle"),
    ("/api/v1/risk/objects", {"code": "A B", "name": "x"}, "code"),
    ("/api/v1/risk/objects", {"code": "AB", "name": "x", "area_id": 999}, "area_id"),
])
def test_bad_register_input_is_named(officer, path, body, key):
    head = events.head_seq()
    r = officer.post(path, json=body)
    assert r.status_code == 422, r.get_data(as_text=True)
    assert key in r.get_json()["error"]["messages"]["en"]
    assert events.head_seq() == head


def test_plan_carries_live_overlay_markers(officer, as_role):
    """Every area on the plan has a (hidden) gas-alarm and PPE marker for static/js/riskmap.js to show."""
    html = as_role("kiosk").get("/kiosk").get_data(as_text=True)
    tank = html[html.index('id="area-TANK"'):html.index("</svg>")]
    assert tank.count('data-overlay="gas"') == 1 and tank.count('data-overlay="ppe"') == 1
    assert 'class="overlay overlay-gas" data-overlay="gas"' in tank and 'display="none"' in tank
    assert "js/riskmap.js" in html and html.index("js/riskmap.js") < html.index("js/points.js")
