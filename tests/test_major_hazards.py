"""Major hazard installations (重大危险源, GB 18218-2018) through the API, on the risk map and the plan, and in the
register export; the rules themselves are tabled in test_major_rules.py."""
from __future__ import annotations

import io

import pytest

from appliance.core import events
from conftest import As

CHLORINE = {"name": "氯", "cas": "7782-50-5", "category": "other", "q_t": 50, "critical_t": 5}   # β 4, q/Q 10


@pytest.fixture
def officer(app, users):
    c = As(app, "safety_officer", users)
    r = c.post("/api/v1/areas", json={"code": "TANK", "name": "储罐区", "polygon": [[0, 0], [600, 0], [600, 400], [0, 400]]})
    c.area_id = r.get_json()["id"]
    return c


def body(**kw):
    return {"code": "MH-1", "name": "液氯储罐区", "kind": "tank_farm", "people_500m": 120, "substances": [CHLORINE], **kw}


def test_register_grade_edit_and_retire_with_events(officer, as_role):
    r = officer.post("/api/v1/risk/major-hazards", json=body(area_id=officer.area_id))
    assert r.status_code == 201, r.get_json()
    d = r.get_json()
    assert (d["is_major"], d["alpha"], d["r"], d["level"], d["level_name"]) == (True, 2.0, 80, 2, "二级")
    assert d["substances"][0]["beta"] == 4
    # fewer people nearby, more chlorine: 1.5 × 4 × 20 = 120 → 一级
    r = officer.open("PUT", f"/api/v1/risk/major-hazards/{d['id']}",
                     json=body(area_id=officer.area_id, people_500m=60, substances=[{**CHLORINE, "q_t": 100}]))
    assert r.status_code == 200 and (r.get_json()["r"], r.get_json()["level"]) == (120, 1)
    worker = as_role("worker")
    (listed,) = worker.get("/api/v1/risk/major-hazards").get_json()["installations"]
    assert listed["level"] == 1
    (area,) = worker.get("/api/v1/risk/map").get_json()["areas"]
    assert area["major_hazard_level"] == 1 and area["major_hazards"] == ["液氯储罐区"]
    kiosk = as_role("kiosk").get("/kiosk").get_data(as_text=True)
    tank = kiosk[kiosk.index('id="area-TANK"'):kiosk.index("</svg>")]
    assert 'data-mh-level="1"' in tank and "一级重大危险源" in tank
    assert worker.delete(f"/api/v1/risk/major-hazards/{d['id']}").status_code == 403   # risks.write only
    assert officer.delete(f"/api/v1/risk/major-hazards/{d['id']}").status_code == 200
    assert worker.get("/api/v1/risk/major-hazards").get_json()["installations"] == []
    assert worker.get("/api/v1/risk/map").get_json()["areas"][0]["major_hazard_level"] is None
    assert len(worker.get("/api/v1/risk/major-hazards?retired=1").get_json()["installations"]) == 1
    evs = [e for e in events.read_after(0, 500) if e.type.startswith("risk.major_hazard")]
    assert [e.type for e in evs] == ["risk.major_hazard_registered", "risk.major_hazard_updated",
                                     "risk.major_hazard_retired"]
    assert evs[1].payload["level_before"] == 2 and evs[1].payload["level"] == 1


def test_below_the_critical_quantity_is_no_major_hazard(officer):
    r = officer.post("/api/v1/risk/major-hazards", json=body(substances=[{**CHLORINE, "q_t": 4.99}]))
    d = r.get_json()
    assert r.status_code == 201 and (d["is_major"], d["r"], d["level"]) == (False, None, None)
    r = officer.post("/api/v1/risk/major-hazards", json=body(code="MH-2", substances=[]))
    assert r.status_code == 201 and r.get_json()["ratio_sum"] == 0


@pytest.mark.parametrize("change, key", [
    ({"substances": [{**CHLORINE, "critical_t": 0}]}, "substances.0.critical_t"),     # Q ≤ 0 refused
    ({"substances": [{**CHLORINE, "critical_t": -5}]}, "substances.0.critical_t"),
    ({"substances": [{**CHLORINE, "q_t": -1}]}, "substances.0.q_t"),
    ({"substances": [{**CHLORINE, "category": "W99"}]}, "substances.0.category"),
    ({"substances": [{**CHLORINE, "cas": "chlorine"}]}, "substances.0.cas"),
    ({"substances": [CHLORINE, CHLORINE]}, "listed twice"),
    ({"people_500m": -1}, "people_500m"),
    ({"people_500m": 2.5}, "people_500m"),
    ({"kind": "pipeline"}, "kind"),
    ({"code": "MH 1"}, "code"),
    ({"area_id": 999}, "area_id"),
])
def test_bad_input_is_refused_naming_the_field_and_writes_nothing(officer, change, key):
    head = events.head_seq()
    r = officer.post("/api/v1/risk/major-hazards", json=body(**change))
    assert r.status_code == 422, r.get_json()
    assert key in r.get_json()["error"]["messages"]["en"] and r.get_json()["error"]["messages"]["zh-CN"]
    assert events.head_seq() == head


def test_codes_are_unique_and_unknown_ids_are_404(officer):
    assert officer.post("/api/v1/risk/major-hazards", json=body()).status_code == 201
    assert officer.post("/api/v1/risk/major-hazards", json=body()).status_code == 409
    assert officer.open("PUT", "/api/v1/risk/major-hazards/99", json=body()).status_code == 404
    assert officer.get("/api/v1/risk/major-hazards/99").status_code == 404


def test_export_has_the_register_with_levels_and_acceptable_marker_and_the_major_hazards(officer, as_role):
    import openpyxl

    o = officer.post("/api/v1/risk/objects", json={"code": "OBJ-1", "name": "=HYPERLINK(\"x\")"}).get_json()
    u = officer.post("/api/v1/risk/units", json={"object_id": o["id"], "name": "V-101", "area_id": officer.area_id}).get_json()
    e = officer.post("/api/v1/risk/events", json={"unit_id": u["id"], "name": "烫伤", "method": "LEC",
                                                  "inherent": {"l": 3, "e": 6, "c": 1}}).get_json()      # D = 18
    officer.post("/api/v1/risk/measures", json={"event_id": e["id"], "description": "保温层巡检", "classify1": 2,
                                                "classify2": "2-2", "check_cycle": 1, "check_cycle_unit": "week"})
    officer.post("/api/v1/risk/major-hazards", json=body(area_id=officer.area_id))
    r = as_role("worker").get("/api/v1/risks/export?format=xlsx")
    assert r.status_code == 200
    wb = openpyxl.load_workbook(io.BytesIO(r.data))
    reg, mh = wb.worksheets
    rows = [[c.value for c in row] for row in reg.iter_rows()]
    head, row = rows[0], rows[1]
    cell = dict(zip(head, row, strict=True))
    assert cell["固有风险等级"] == "低" and cell["固有风险值"] == 18 and cell["固有风险可接受"] == "稍有危险，可以接受"
    assert cell["风险分析对象"].startswith("'=")           # never a live formula
    assert (cell["排查周期"], cell["周期单位"], cell["区域编码"]) == (1, "周", "TANK")
    mrows = [[c.value for c in row] for row in mh.iter_rows()]
    mcell = dict(zip(mrows[0], mrows[1], strict=True))
    assert (mcell["R值"], mcell["级别"], mcell["β"], mcell["构成重大危险源"]) == (80, "二级", 4, "是")
    csv = as_role("worker").get("/api/v1/risks/export?format=csv&lang=en").data.decode("utf-8-sig")
    assert "Inherent acceptable" in csv.splitlines()[0] and "slightly dangerous, acceptable" in csv
    assert as_role("worker").get("/api/v1/risks/export?format=pdf").status_code == 422


def test_the_export_imports_back_unchanged(officer):
    o = officer.post("/api/v1/risk/objects", json={"code": "OBJ-1", "name": "甲醇储罐区"}).get_json()
    u = officer.post("/api/v1/risk/units", json={"object_id": o["id"], "name": "V-101"}).get_json()
    e = officer.post("/api/v1/risk/events", json={"unit_id": u["id"], "name": "泄漏", "method": "LS",
                                                  "inherent": {"l": 3, "s": 4}}).get_json()
    officer.post("/api/v1/risk/measures", json={"event_id": e["id"], "description": "液位联锁", "classify1": 1,
                                                "classify2": "1-4", "check_cycle": 36, "check_cycle_unit": "hour"})
    data = officer.get("/api/v1/risks/export?format=xlsx").data
    r = officer.post("/api/v1/risks/import?dry_run=1", data={"file": (io.BytesIO(data), "export.xlsx")})
    rep = r.get_json()
    assert rep["ok"], rep["errors"]
    assert all(c["created"] == 0 and c["updated"] == 0 for c in rep["summary"].values()), rep["summary"]


def test_the_page_lists_installations_with_their_level(officer, as_role):
    officer.post("/api/v1/risk/major-hazards", json=body())
    page = officer.get("/tablet/risks/major-hazards").get_data(as_text=True)
    assert 'data-code="MH-1"' in page and "二级重大危险源" in page and 'id="mh-form"' in page
    worker_page = as_role("worker").get("/tablet/risks/major-hazards").get_data(as_text=True)
    assert "二级重大危险源" in worker_page and 'id="mh-form"' not in worker_page   # read-only for workers
