"""Issue 19: a hazard names the contractor firm involved (hazards.firm_id, migration 0036) — picked on the
report form or set later by the shift, shown on the hazard, in the API and the statistics export — and the
firm's evaluation counts the hazards naming it, the text match kept only for hazards without a firm."""
from __future__ import annotations

import csv
import io

import pytest

from appliance.core import events
from test_contractors import job, ok, qualified_firm, worker

WELDER_UID = "04C0FFEE0000B1"


@pytest.fixture
def c(app, users, as_role):
    return {role: as_role(role) for role in ("admin", "safety_officer", "supervisor", "worker", "kiosk")}


@pytest.fixture
def area(c):
    return ok(c["admin"].post("/api/v1/areas", json={"code": "TANK", "name": "储罐区",
                                                     "polygon": [[0, 0], [9, 0], [9, 9]]}), 201)["id"]


def _report(c, area, text, role="worker", **kw):
    return ok(c[role].post("/api/v1/hazards", json={"area_id": area, "category": "安全", "description": text, **kw}), 201)


def test_a_report_names_the_firm_shown_in_the_api_and_the_page(c, area):
    f = ok(c["admin"].post("/api/v1/contractors", json={"name": "江东建设工程有限公司"}), 201)
    h = _report(c, area, "脚手架扣件缺失", firm_id=f["id"])
    assert h["firm_id"] == f["id"] and h["firm"] == "江东建设工程有限公司"
    got = ok(c["kiosk"].get(f"/api/v1/hazards/{h['id']}"))
    assert got["firm_id"] == f["id"] and got["firm"] == "江东建设工程有限公司"
    (listed,) = [x for x in ok(c["kiosk"].get("/api/v1/hazards"))["hazards"] if x["id"] == h["id"]]
    assert listed["firm"] == "江东建设工程有限公司"
    ev = [e for e in events.read_after(0, 500) if e.type == "hazard.reported"][-1]
    assert ev.payload["firm_id"] == f["id"]
    plain = _report(c, area, "消防栓被挡")                      # optional: the plant's own hazards name none
    assert plain["firm_id"] is None and plain["firm"] is None
    page = c["worker"].get("/tablet/hazards").get_data(as_text=True)
    picker = page.split('name="firm_id"', 1)[1].split("</select>", 1)[0]
    assert f'<option value="{f["id"]}">江东建设工程有限公司</option>' in picker and 'value=""' in picker
    card = page.split(f'data-hazard="{h["id"]}"', 1)[1].split("</section>", 1)[0]
    assert "涉及承包商：江东建设工程有限公司" in card
    assert 'class="hz-form inline firm-form"' not in card      # a worker names it on the report, not after


@pytest.mark.parametrize("firm_id,status", [(9999, 422), (0, 422), ("x", 422)])
def test_an_unknown_firm_is_refused_naming_the_field(c, area, firm_id, status):
    r = c["worker"].post("/api/v1/hazards", json={"area_id": area, "category": "安全", "description": "护栏松动",
                                                  "firm_id": firm_id})
    assert r.status_code == status, r.get_data(as_text=True)
    err = r.get_json()["error"]
    assert "firm_id" in err["messages"]["en"] and "firm_id" in err["messages"]["zh-CN"]
    assert ok(c["kiosk"].get("/api/v1/hazards"))["hazards"] == []          # nothing filed


def test_the_shift_names_or_clears_the_firm_later(c, area):
    f = ok(c["admin"].post("/api/v1/contractors", json={"name": "临江安装公司"}), 201)
    h = _report(c, area, "动火点未清理可燃物")
    url = f"/api/v1/hazards/{h['id']}/firm"
    assert c["worker"].post(url, json={"firm_id": f["id"]}).status_code == 403
    r = c["supervisor"].post(url, json={"firm_id": 9999})
    assert r.status_code == 422 and r.get_json()["error"]["details"] == [{"key": "firm_id"}]
    got = ok(c["supervisor"].post(url, json={"firm_id": f["id"]}))
    assert got["firm_id"] == f["id"] and got["firm"] == "临江安装公司"
    ev = [e for e in events.read_after(0, 500) if e.type == "hazard.firm_set"]
    assert len(ev) == 1 and ev[0].payload["firm_id"] == f["id"] and ev[0].payload["was"] is None
    assert ev[0].actor == "user:u_supervisor" and ev[0].entity_id == str(h["id"])
    page = c["supervisor"].get("/tablet/hazards").get_data(as_text=True)
    card = page.split(f'data-hazard="{h["id"]}"', 1)[1].split("</section>", 1)[0]
    assert f'<option value="{f["id"]}" selected>临江安装公司</option>' in card
    assert ok(c["supervisor"].post(url, json={"firm_id": None}))["firm_id"] is None
    assert ok(c["supervisor"].post(url, json={}))["firm"] is None


def test_the_statistics_export_names_the_firm_of_a_major_hazard(c, area):
    f = ok(c["admin"].post("/api/v1/contractors", json={"name": "江东建设工程有限公司"}), 201)
    _report(c, area, "受限空间作业未检测气体", grade="major", firm_id=f["id"])
    r = c["safety_officer"].get("/api/v1/hazards/statistics?format=csv")
    assert r.status_code == 200
    rows = list(csv.reader(io.StringIO(r.data.decode("utf-8-sig"))))
    head = next(x for x in rows if x and x[0] == "编号 id")
    row = next(x for x in rows if x and "受限空间作业未检测气体" in x)
    assert row[head.index("涉及承包商 contractor firm")] == "江东建设工程有限公司"


def test_the_evaluation_counts_hazards_by_their_firm_field_and_text_only_without_one(c, area):
    """A hazard naming the firm counts even if its text does not; one naming another firm never counts, even
    if its text names this one; a hazard without a firm (an old report) falls back to the text match; a
    duplicate report of a counted hazard does not count twice."""
    firm = qualified_firm(c)                                        # 江东建设工程有限公司
    other = ok(c["admin"].post("/api/v1/contractors", json={"name": "临江安装公司"}), 201)
    w = worker(c, firm, "C4001", "吴刚", WELDER_UID)
    j = job(c, firm, [w], area_id=area)
    by_field = _report(c, area, "脚手架扣件缺失", firm_id=firm["id"])
    _report(c, area, "临时用电线缆拖地", firm_id=firm["id"])
    _report(c, area, "江东建设工程的吊车压坏管线（临江分包）", firm_id=other["id"])   # another firm's, by its field
    _report(c, area, "焊工吴刚未系安全带")                                        # no firm: text names the worker
    _report(c, area, "储罐区地面油污")                                            # no firm, no name
    dup = _report(c, area, "脚手架又缺扣件", firm_id=firm["id"])
    ok(c["supervisor"].post(f"/api/v1/hazards/{dup['id']}/duplicate",
                            json={"duplicate_of": by_field["id"], "note": "同一处脚手架"}))
    found = ok(c["kiosk"].get(f"/api/v1/contractors/jobs/{j['id']}/findings"))
    assert found["hazards_caused"] == 3, found                   # the two by field, 吴刚's by text
    # the other firm's job counts its own hazard by the field, although the text names 江东
    j2 = ok(c["admin"].post(f"/api/v1/contractors/{other['id']}/jobs",
                            json={"title": "管廊吊装", "starts_on": j["starts_on"], "ends_on": j["ends_on"],
                                  "workers": []}), 201)
    assert ok(c["kiosk"].get(f"/api/v1/contractors/jobs/{j2['id']}/findings"))["hazards_caused"] == 1
