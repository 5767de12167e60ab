"""Special work on the risk map (appliance/permits/onmap.py, GET /api/v1/permits/map): which permits on site
clash, by the permits module's own SIMOPS rule (rules.simops over rules.CONFLICTS, GB 30871-2022 §4 交叉作业),
in one area or next door; what the map is told for two clashing permits, for a suspended one, and after one
of them is closed; and the risk map pages carry the layer."""
from __future__ import annotations

import pytest

import test_permits
from appliance.permits import onmap
from appliance.permits import rules as R
from test_permit_watch import to_active
from test_permits import apply, tap_all, to_briefed

site = test_permits.site   # the fixture: TANK and REACT, five people with badges, a client per role

NEAR = {"A": {"B"}, "B": {"A", "C"}, "C": {"B"}}


@pytest.mark.parametrize("live, expected", [
    # one area: the pair's verdict of rules.CONFLICTS
    ([(1, "hot_work", "A"), (2, "lifting", "A")], [([1, 2], "same", "escalate")]),
    ([(1, "hot_work", "A"), (2, "confined_space", "A")], [([1, 2], "same", "refuse")]),
    ([(1, "blinding", "A"), (2, "hot_work", "A")], [([1, 2], "same", "refuse")]),
    # next door: at most the higher approval (rules.simops), even for a pair refused in one area
    ([(1, "hot_work", "A"), (2, "confined_space", "B")], [([1, 2], "near", "escalate")]),
    # two doors away, or work that does not clash: nothing
    ([(1, "hot_work", "A"), (2, "confined_space", "C")], []),
    ([(1, "hot_work", "A"), (2, "hot_work", "A"), (3, "height", "A")], []),
    ([(1, "temp_power", "A"), (2, "lifting", "A")], []),
    # a permit without an area clashes with nothing
    ([(1, "hot_work", ""), (2, "confined_space", "")], []),
    # every pair is named: lifting over a hot work and a height job, the hot work next to a confined space
    ([(1, "lifting", "A"), (2, "hot_work", "A"), (3, "height", "A"), (4, "confined_space", "B")],
     [([1, 2], "same", "escalate"), ([1, 3], "same", "escalate"), ([1, 4], "near", "escalate"),
      ([2, 4], "near", "escalate")]),
])
def test_which_permits_clash(live, expected):
    got = onmap.clashes(live, NEAR)
    assert [(c["permits"], c["where"], c["verdict"]) for c in got] == expected
    # the area's verdict from its pairs is the one the permits board gives it (rules.area_conflict)
    for area in {x for _, _, x in live if x}:
        here = [t for _, t, x in live if x == area]
        near = [t for _, t, x in live if x in NEAR.get(area, ())]
        assert onmap.area_verdicts(got).get(area) == R.area_conflict(here, near), area


def test_the_map_names_two_clashing_permits_a_suspended_one_and_forgets_a_closed_one(site):
    c, areas, people = site
    assert c["kiosk"].get("/api/v1/permits/map").get_json() == {"areas": {}, "clashes": []}
    hot = to_active(c, areas, people)
    lift = apply(c, areas, people, type="lifting", grade="3", guardian_id=people["guardian2"])
    # applied, not on site yet: the map shows only the hot work
    j = c["kiosk"].get("/api/v1/permits/map").get_json()
    assert [p["id"] for p in j["areas"]["TANK"]["permits"]] == [hot["id"]] and j["clashes"] == []
    assert j["areas"]["TANK"]["simops"] is None
    to_briefed(c, lift["id"], approver="safety_officer")
    tap_all(c, lift["id"], keys=("welder", "helper", "guardian2", "issuer"))
    assert c["supervisor"].post(f"/api/v1/permits/{lift['id']}/brief", json={}).status_code == 200
    r = c["supervisor"].post(f"/api/v1/permits/{lift['id']}/start", json={})
    assert r.status_code == 200 and r.get_json()["state"] == "active", r.get_data(as_text=True)

    j = c["worker"].get("/api/v1/permits/map").get_json()   # everyone on a tablet sees the map
    tank = j["areas"]["TANK"]
    assert [(p["id"], p["type"], p["state"]) for p in tank["permits"]] == [
        (hot["id"], "hot_work", "active"), (lift["id"], "lifting", "active")]
    assert tank["simops"] == "escalate" and tank["clashes"] == [0]
    assert j["clashes"] == [{"permits": [hot["id"], lift["id"]], "types": ["hot_work", "lifting"],
                             "areas": ["TANK", "TANK"], "where": "same", "verdict": "escalate"}]
    assert "REACT" not in j["areas"]
    # the map and the permits board agree on the area's verdict
    assert c["kiosk"].get("/api/v1/permits/board").get_json()["simops"] == {"TANK": "escalate"}

    # suspended: still on site (the work stopped, the people and the gear are there), marked, with its reason
    r = c["worker"].post(f"/api/v1/permits/{hot['id']}/suspend", json={"reason": "风向突变"})
    assert r.status_code == 200, r.get_data(as_text=True)
    tank = c["kiosk"].get("/api/v1/permits/map").get_json()["areas"]["TANK"]
    assert [(p["state"], p["suspended_reason"]) for p in tank["permits"]] == [("suspended", "风向突变"), ("active", None)]
    assert tank["simops"] == "escalate"

    # the lifting closed: the clash is gone, the suspended hot work stays
    r = c["supervisor"].post(f"/api/v1/permits/{lift['id']}/close", json={"note": "吊装完成"})
    assert r.get_json()["state"] == "closed", r.get_data(as_text=True)
    j = c["kiosk"].get("/api/v1/permits/map").get_json()
    assert [p["id"] for p in j["areas"]["TANK"]["permits"]] == [hot["id"]]
    assert j["areas"]["TANK"]["simops"] is None and j["clashes"] == []
    assert c["kiosk"].get("/api/v1/permits/board").get_json()["simops"] == {}


def test_a_clash_next_door_marks_both_areas(site):
    """On the site's walk graph REACT is one door from TANK: a confined-space entry there beside the hot work
    here marks both areas (escalate), and each names the same pair."""
    from appliance.emergency import setup

    c, areas, people = site
    setup.set_graph(setup.GraphIn(edges=[setup.EdgeIn(a="TANK", b="REACT", metres=40)]), actor="system:test")
    hot = to_active(c, areas, people)
    cse = apply(c, areas, people, type="confined_space", grade="-", area_id=areas["REACT"],
                workers=[people["helper"]], guardian_id=people["guardian2"])
    to_briefed(c, cse["id"], approver="safety_officer")
    tap_all(c, cse["id"], keys=("helper", "guardian2", "issuer"))
    r = c["supervisor"].post(f"/api/v1/permits/{cse['id']}/brief", json={})   # 交底: on site
    assert r.get_json()["state"] == "briefed", r.get_data(as_text=True)
    j = c["kiosk"].get("/api/v1/permits/map").get_json()
    assert j["clashes"] == [{"permits": [hot["id"], cse["id"]], "types": ["hot_work", "confined_space"],
                             "areas": ["TANK", "REACT"], "where": "near", "verdict": "escalate"}]
    assert {a: (v["simops"], v["clashes"]) for a, v in j["areas"].items()} == {
        "TANK": ("escalate", [0]), "REACT": ("escalate", [0])}


def test_the_map_needs_a_login(client):
    assert client.get("/api/v1/permits/map").status_code == 401


@pytest.mark.parametrize("lang, legend", [("zh-CN", "交叉作业"), ("en", "SIMOPS")])
def test_the_risk_map_pages_carry_the_layer_and_its_legend(site, lang, legend):
    c, _, _ = site
    for who, path in (("kiosk", "/kiosk"), ("supervisor", "/tablet")):
        c[who].get(f"/lang/{lang}")
        html = c[who].get(path).get_data(as_text=True)
        assert "permits/js/map.js" in html and 'id="pm-map-detail"' in html, (who, path)
        assert f"</i>{legend}</li>" in html, (who, path)
