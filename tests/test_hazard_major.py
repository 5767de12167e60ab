"""重大事故隐患 through the API (SAWS order 16 Art. 14, 15, 18; 121号 checklist; Art. 14 statistics) and the
[hazards] deadline settings; the general loop's own tests are in test_hazards.py."""
from __future__ import annotations

import pytest

from appliance.core import events
from conftest import write_config

PLAN = {f: "见治理方案 ZL-01" for f in ("target", "methods", "funding", "organisation", "schedule", "safety_measures")}
ART14 = {"status_cause": "液氯充装使用金属软管，未设万向管道", "harm_analysis": "泄漏可致中毒；需停车改造，整改难度中等"}
EVAL = {"assessor_kind": "agency", "assessor": "江东安全评价有限公司", "result": "pass", "document": "江东评〔2025〕17号"}


@pytest.fixture
def principal_app(tmp_path):
    """The app with [hazards] settings: u_admin is the principal (主要负责人); shorter deadlines."""
    from appliance.config import load_config
    from appliance.core import db
    from appliance.domains import create_app

    cfg = load_config(write_config(tmp_path / "data", extra='\n[hazards]\ngeneral_deadline_days = 3\n'
                                   'major_deadline_days = 45\nremind_before_hours = 12\nprincipal_logins = ["u_admin"]\n'))
    application = create_app(cfg)
    application.config["TESTING"] = True
    yield application
    db.database.close()
    from appliance.hazards import service as H
    from appliance.hazards.config import HazardsConfig

    H.configure(HazardsConfig())   # the next app starts from the defaults again


@pytest.fixture
def plant(principal_app):
    from appliance.core import auth
    from conftest import As

    users = {}
    for role in ("admin", "safety_officer", "supervisor", "worker"):
        auth.create_user(auth.UserIn(login=f"u_{role}", password="correct-horse-9", role=role), actor="system:test")
        users[role] = f"u_{role}"
    c = {role: As(principal_app, role, users) for role in users}
    area = c["admin"].post("/api/v1/areas", json={"code": "DOCK", "name": "装卸站台"}).get_json()["id"]
    return c, area


def report(c, area, **kw):
    r = c.post("/api/v1/hazards", json={"area_id": area, "category": "工艺", "description": "液氯充装未用万向管道", **kw})
    assert r.status_code == 201, r.get_data(as_text=True)
    return r.get_json()


def to_pending_acceptance(c, area, **kw):
    h = report(c["worker"], area, grade="major", **ART14, **kw)
    r = c["safety_officer"].post(f"/api/v1/hazards/{h['id']}/dispatch", json={"assignee": "u_worker", "plan": PLAN})
    assert r.status_code == 200, r.get_data(as_text=True)
    r = c["worker"].post(f"/api/v1/hazards/{h['id']}/rectify", json={"note": "已加装万向管道充装系统", "cost": 86000})
    assert r.get_json()["state"] == "pending_acceptance" and r.get_json()["cost"] == 86000
    return h["id"]


def test_major_hazard_closes_only_after_evaluation_and_the_principals_sign_off(plant):
    c, area = plant
    hid = to_pending_acceptance(c, area)
    h = c["worker"].get(f"/api/v1/hazards/{hid}").get_json()
    assert h["stage"] == "awaiting_evaluation" and h["deadline"] - h["reported_at"] == 45 * 86_400_000  # setting
    # Art. 18: no plain acceptance, no sign-off before the evaluation
    r = c["safety_officer"].post(f"/api/v1/hazards/{hid}/accept", json={})
    assert r.status_code == 409 and "Art. 18" in r.get_json()["error"]["messages"]["en"]
    r = c["admin"].post(f"/api/v1/hazards/{hid}/sign-off", json={})
    assert r.status_code == 409 and "evaluation" in r.get_json()["error"]["messages"]["en"]
    # the evaluation needs its report: a reference or a photo of it
    r = c["safety_officer"].post(f"/api/v1/hazards/{hid}/evaluate", json={**EVAL, "document": ""})
    assert r.status_code == 422 and r.get_json()["error"]["details"] == [{"key": "document"}]
    assert c["supervisor"].post(f"/api/v1/hazards/{hid}/evaluate", json=EVAL).status_code == 403  # not the safety office
    r = c["safety_officer"].post(f"/api/v1/hazards/{hid}/evaluate", json=EVAL)
    assert r.status_code == 200
    h = r.get_json()
    assert h["state"] == "pending_acceptance" and h["stage"] == "awaiting_sign_off"
    assert h["evaluation"]["assessor"] == "江东安全评价有限公司" and h["evaluated_by"] == "user:u_safety_officer"
    # only the principal signs off, whatever their role's permissions
    r = c["safety_officer"].post(f"/api/v1/hazards/{hid}/sign-off", json={})
    assert r.status_code == 403 and "principal" in r.get_json()["error"]["messages"]["en"]
    r = c["admin"].post(f"/api/v1/hazards/{hid}/sign-off", json={"note": "同意销号，恢复充装作业"})
    h = r.get_json()
    assert r.status_code == 200 and h["state"] == "closed" and h["accepted_by"] == "user:u_admin"
    types = [e.type for e in events.read_after(0, 500) if e.entity_type == "hazard"]
    assert types == ["hazard.reported", "hazard.major_reported", "hazard.dispatched", "hazard.rectified",
                     "hazard.evaluated", "hazard.signed_off"]


def test_a_failed_evaluation_sends_it_back(plant):
    c, area = plant
    hid = to_pending_acceptance(c, area)
    r = c["safety_officer"].post(f"/api/v1/hazards/{hid}/evaluate", json={**EVAL, "result": "fail", "note": "联锁未投用"})
    h = r.get_json()
    assert h["state"] == "rectifying" and h["rejections"] == 1 and h["rectifier"] is None
    (ev,) = [e for e in events.read_after(0, 500) if e.type == "hazard.evaluated"]
    assert ev.payload["evaluation"]["result"] == "fail" and ev.payload["state"] == "rectifying"


def test_dispatch_needs_the_art14_report(plant):
    c, area = plant
    h = report(c["worker"], area, grade="major")
    r = c["safety_officer"].post(f"/api/v1/hazards/{h['id']}/dispatch", json={"assignee": "u_worker", "plan": PLAN})
    assert r.status_code == 422
    assert [d["key"] for d in r.get_json()["error"]["details"]] == ["status_cause", "harm_analysis"]
    assert c["worker"].get(f"/api/v1/hazards/{h['id']}").get_json()["state"] == "reported"   # nothing changed
    r = c["safety_officer"].post(f"/api/v1/hazards/{h['id']}/dispatch",
                                 json={"assignee": "u_worker", "plan": PLAN, **ART14})
    assert r.get_json()["state"] == "rectifying" and r.get_json()["report_missing"] == []


def test_checklist_forces_major_and_only_the_safety_office_lowers_it(plant):
    c, area = plant
    items = c["worker"].get("/api/v1/hazards/checklist").get_json()["items"]
    assert len(items) == 20 and items[6]["code"] == "121-07"
    h = report(c["worker"], area, grade="general", checklist=["121-07"])
    assert h["grade"] == "major" and h["proposed_grade"] == "general" and h["checklist"] == ["121-07"]
    (ev,) = [e for e in events.read_after(0, 500) if e.type == "hazard.reported"]
    assert ev.payload["grade_forced"] is True
    r = c["worker"].post("/api/v1/hazards", json={"area_id": area, "category": "工艺", "description": "xx",
                                                 "checklist": ["121-99"]})
    assert r.status_code == 422 and "checklist" in r.get_json()["error"]["messages"]["en"]
    hid = h["id"]
    # the reporter (or the shift) cannot downgrade; the safety office can, with a reason
    assert c["worker"].post(f"/api/v1/hazards/{hid}/grade", json={"grade": "general", "reason": "不重要"}).status_code == 403
    assert c["supervisor"].post(f"/api/v1/hazards/{hid}/grade", json={"grade": "general", "reason": "不重要"}).status_code == 403
    r = c["safety_officer"].post(f"/api/v1/hazards/{hid}/grade", json={"grade": "general"})
    assert r.status_code == 422 and "reason" in r.get_json()["error"]["messages"]["en"]
    r = c["safety_officer"].post(f"/api/v1/hazards/{hid}/grade", json={"grade": "general", "reason": "现场已有万向管道，误勾选"})
    assert r.status_code == 200 and r.get_json()["grade"] == "general" and r.get_json()["grade_reason"]
    (ev,) = [e for e in events.read_after(0, 500) if e.type == "hazard.regraded"]
    assert ev.payload["from"] == "major" and ev.payload["to"] == "general" and ev.payload["checklist_overridden"] is True
    assert ev.actor == "user:u_safety_officer"
    # the general loop from here; its deadline is the configured 3 days
    d = c["safety_officer"].post(f"/api/v1/hazards/{hid}/dispatch", json={"assignee": "u_worker"}).get_json()
    assert d["deadline"] - d["reported_at"] == 3 * 86_400_000


def test_upgraded_while_rectifying_needs_its_report_before_evaluation(plant):
    c, area = plant
    hid = report(c["worker"], area)["id"]
    c["supervisor"].post(f"/api/v1/hazards/{hid}/dispatch", json={"assignee": "u_worker"})
    r = c["safety_officer"].post(f"/api/v1/hazards/{hid}/grade", json={"grade": "major", "reason": "涉及剧毒气体管道"})
    assert r.get_json()["grade"] == "major" and r.get_json()["state"] == "rectifying"
    c["worker"].post(f"/api/v1/hazards/{hid}/rectify", json={"note": "done"})
    r = c["safety_officer"].post(f"/api/v1/hazards/{hid}/evaluate", json=EVAL)
    assert r.status_code == 409 and "Art. 14" in r.get_json()["error"]["messages"]["en"]
    r = c["safety_officer"].post(f"/api/v1/hazards/{hid}/major-report", json={**ART14, "plan": {**PLAN, "funding": ""}})
    assert r.status_code == 422 and {"key": "plan.funding"} in r.get_json()["error"]["details"]
    assert c["supervisor"].post(f"/api/v1/hazards/{hid}/major-report", json={**ART14, "plan": PLAN}).status_code == 403
    assert c["safety_officer"].post(f"/api/v1/hazards/{hid}/major-report", json={**ART14, "plan": PLAN}).status_code == 200
    assert c["safety_officer"].post(f"/api/v1/hazards/{hid}/evaluate", json=EVAL).get_json()["stage"] == "awaiting_sign_off"


def test_statistics_api_and_export(plant):
    from appliance.hazards.stats import period_of

    c, area = plant
    hid = to_pending_acceptance(c, area)
    c["safety_officer"].post(f"/api/v1/hazards/{hid}/evaluate", json=EVAL)
    c["admin"].post(f"/api/v1/hazards/{hid}/sign-off", json={})
    report(c["worker"], area)   # a general one, open
    year, quarter = period_of(events.now_ms(), "Asia/Shanghai")
    s = c["worker"].get(f"/api/v1/hazards/statistics?year={year}&quarter={quarter}").get_json()
    assert s["by_grade"]["major"] == {"found": 1, "rectified": 1, "found_rectified": 1, "open": 0, "overdue": 0,
                                      "rectification_rate": 1.0, "cost": 86000}
    assert s["by_grade"]["general"]["open"] == 1 and s["total"]["found"] == 2 and s["total"]["rectification_rate"] == 0.5
    assert [m["id"] for m in s["majors"]] == [hid] and s["majors"][0]["state"] == "closed"
    assert s["timezone"] == "Asia/Shanghai" and s["due"]
    assert c["worker"].get("/api/v1/hazards/statistics").get_json()["quarter"] == quarter     # default: this quarter
    annual = c["worker"].get(f"/api/v1/hazards/statistics?year={year}").get_json()
    assert annual["quarter"] is None and annual["due"] == f"{year + 1}-01-31"
    assert c["worker"].get(f"/api/v1/hazards/statistics?year={year - 1}").get_json()["total"]["found"] == 0
    r = c["worker"].get(f"/api/v1/hazards/statistics?year={year}&quarter={quarter}&format=csv")
    text = r.get_data().decode("utf-8-sig")
    assert r.status_code == 200 and "attachment" in r.headers["Content-Disposition"]
    assert "重大隐患 major,1,1,1,0,0,100.0%,86000" in text and "主要负责人签字" in text
    r = c["worker"].get(f"/api/v1/hazards/statistics?year={year}&format=xlsx")
    assert r.status_code == 200 and r.data[:2] == b"PK"
    for q, key in (("quarter=5", "quarter"), ("year=1999", "year"), ("format=pdf", "format")):
        r = c["worker"].get(f"/api/v1/hazards/statistics?{q}")
        assert r.status_code == 422 and key in r.get_json()["error"]["messages"]["en"]


def test_without_a_configured_principal_the_refusal_names_the_key(app, users, as_role):
    admin, officer, worker = as_role("admin"), as_role("safety_officer"), as_role("worker")
    area = admin.post("/api/v1/areas", json={"code": "T", "name": "储罐区"}).get_json()["id"]
    h = worker.post("/api/v1/hazards", json={"area_id": area, "category": "工艺", "description": "储罐无紧急切断",
                                             "checklist": ["121-05"], **ART14}).get_json()
    officer.post(f"/api/v1/hazards/{h['id']}/dispatch", json={"assignee": "u_worker", "plan": PLAN})
    worker.post(f"/api/v1/hazards/{h['id']}/rectify", json={})
    officer.post(f"/api/v1/hazards/{h['id']}/evaluate", json=EVAL)
    r = admin.post(f"/api/v1/hazards/{h['id']}/sign-off", json={})
    assert r.status_code == 403 and "hazards.principal_logins" in r.get_json()["error"]["messages"]["en"]
    # the defaults: 30 days for a major hazard, as before the setting existed
    got = worker.get(f"/api/v1/hazards/{h['id']}").get_json()
    assert got["deadline"] - got["reported_at"] == 30 * 86_400_000


def test_reminder_lead_is_the_setting(plant):
    from appliance.hazards import service as H

    c, area = plant
    hid = report(c["worker"], area)["id"]
    h = c["supervisor"].post(f"/api/v1/hazards/{hid}/dispatch", json={"assignee": "u_worker"}).get_json()
    assert H.chase_deadlines(now=h["deadline"] - 13 * 3_600_000) == 0     # 12 h before, not 24
    assert H.chase_deadlines(now=h["deadline"] - 11 * 3_600_000) == 1


def test_pages_render_the_major_steps(plant):
    c, area = plant
    hid = to_pending_acceptance(c, area, checklist=["121-12"])
    page = c["safety_officer"].get("/tablet/hazards").get_data(as_text=True)
    assert 'name="checklist" value="121-20"' in page and 'name="status_cause"' in page   # the report form
    assert f'/api/v1/hazards/{hid}/evaluate' in page and f'/api/v1/hazards/{hid}/accept' not in page
    assert "待治理评估" in page and "121-12" in page
    c["safety_officer"].post(f"/api/v1/hazards/{hid}/evaluate", json=EVAL)
    assert f'/api/v1/hazards/{hid}/sign-off' in c["admin"].get("/tablet/hazards").get_data(as_text=True)   # the principal
    officer_page = c["safety_officer"].get("/tablet/hazards").get_data(as_text=True)
    assert f'/api/v1/hazards/{hid}/sign-off' not in officer_page and "等待主要负责人签字验收" in officer_page
    stats = c["worker"].get("/tablet/hazards/statistics?year=2025&quarter=2")
    assert stats.status_code == 200 and "事故隐患排查治理统计分析表" in stats.get_data(as_text=True)
    assert "2025-07-15" in stats.get_data(as_text=True)          # Art. 14: filed before the 15th of Q3
    assert c["worker"].get("/tablet/hazards/statistics?quarter=9").status_code == 422
