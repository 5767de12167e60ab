"""The hazard closed loop through the API: report → dispatch → rectify → accept / reject → closed."""
from __future__ import annotations

import pytest

from appliance.core import events

PLAN = {f: "见附件" for f in ("target", "methods", "funding", "organisation", "schedule", "safety_measures")}


@pytest.fixture
def plant(app, users, as_role):
    admin = as_role("admin")
    r = admin.post("/api/v1/areas", json={"code": "TANK", "name": "储罐区", "polygon": [[0, 0], [9, 0], [9, 9]]})
    return {role: as_role(role) for role in ("admin", "safety_officer", "supervisor", "worker", "kiosk")}, \
        r.get_json()["id"]


def report(c, area, **kw):
    r = c.post("/api/v1/hazards", json={"area_id": area, "category": "电气", "description": "配电箱门未关，线缆裸露", **kw})
    assert r.status_code == 201, r.get_data(as_text=True)
    return r.get_json()


def test_whole_loop_with_a_rejection(plant):
    c, area = plant
    h = report(c["worker"], area)
    assert h["state"] == "reported" and h["danger_state"] == -1 and h["reporter"] == "user:u_worker"
    hid = h["id"]
    r = c["supervisor"].post(f"/api/v1/hazards/{hid}/dispatch", json={"assignee": "u_worker"})
    assert r.status_code == 200 and r.get_json()["state"] == "rectifying" and r.get_json()["deadline"]
    assert c["worker"].post(f"/api/v1/hazards/{hid}/accept", json={}).status_code == 403  # not the worker's to accept
    r = c["worker"].post(f"/api/v1/hazards/{hid}/rectify", json={"note": "已关门并包扎线缆"})
    assert r.get_json()["state"] == "pending_acceptance" and r.get_json()["rectifier"] == "user:u_worker"
    r = c["safety_officer"].post(f"/api/v1/hazards/{hid}/reject", json={})
    assert r.status_code == 422  # a rejection needs the reason
    r = c["safety_officer"].post(f"/api/v1/hazards/{hid}/reject", json={"note": "线缆仍裸露"})
    assert r.get_json()["state"] == "rectifying" and r.get_json()["rejections"] == 1
    c["worker"].post(f"/api/v1/hazards/{hid}/rectify", json={"note": "更换线缆"})
    r = c["safety_officer"].post(f"/api/v1/hazards/{hid}/accept", json={"note": "合格"})
    assert r.get_json()["state"] == "closed" and r.get_json()["danger_state"] == 9
    types = [e.type for e in events.read_after(0, 200) if e.entity_type == "hazard"]
    assert types == ["hazard.reported", "hazard.dispatched", "hazard.rectified", "hazard.rejected",
                     "hazard.rectified", "hazard.accepted"]
    assert c["safety_officer"].post(f"/api/v1/hazards/{hid}/reject", json={"note": "x"}).status_code == 409


def test_no_self_acceptance_and_no_skipping(plant):
    c, area = plant
    hid = report(c["supervisor"], area)["id"]
    assert c["supervisor"].post(f"/api/v1/hazards/{hid}/accept", json={}).status_code == 409  # unrectified
    c["supervisor"].post(f"/api/v1/hazards/{hid}/dispatch", json={"assignee": "u_supervisor"})
    c["supervisor"].post(f"/api/v1/hazards/{hid}/rectify", json={"note": "done"})
    r = c["supervisor"].post(f"/api/v1/hazards/{hid}/accept", json={})
    assert r.status_code == 403 and "own rectification" in r.get_json()["error"]["messages"]["en"]
    assert c["admin"].post(f"/api/v1/hazards/{hid}/accept", json={}).get_json()["state"] == "closed"
    assert c["kiosk"].post("/api/v1/hazards", json={}).status_code == 403


def test_major_hazards_need_a_treatment_plan(plant):
    c, area = plant
    hid = report(c["worker"], area, grade="major", anonymous=True)["id"]
    assert c["admin"].get(f"/api/v1/hazards/{hid}").get_json()["reporter"] == "anonymous"
    r = c["safety_officer"].post(f"/api/v1/hazards/{hid}/dispatch", json={"assignee": "u_supervisor"})
    assert r.status_code == 422 and "treatment plan" in r.get_json()["error"]["messages"]["en"]
    r = c["safety_officer"].post(f"/api/v1/hazards/{hid}/dispatch", json={"assignee": "u_supervisor", "plan": PLAN})
    assert r.status_code == 422 and "status_cause" in r.get_json()["error"]["messages"]["en"]  # Art. 14 (一)(二)
    r = c["safety_officer"].post(f"/api/v1/hazards/{hid}/dispatch", json={
        "assignee": "u_supervisor", "plan": PLAN, "status_cause": "接地线锈断，巡检未发现", "harm_analysis": "可致触电；整改易"})
    h = r.get_json()
    assert h["state"] == "rectifying" and h["plan"]["funding"] == "见附件"
    assert h["deadline"] - h["reported_at"] == 30 * 86_400_000


def test_recurrence_and_bad_input(plant):
    c, area = plant
    first = report(c["worker"], area)
    again = report(c["worker"], area)
    assert first["recurrence_of"] is None and again["recurrence_of"] == first["id"]
    head = events.head_seq()
    for body, key in [({"area_id": 999, "category": "电气", "description": "xx"}, "area_id"),
                      ({"area_id": area, "category": "天气", "description": "xx"}, "category"),
                      ({"area_id": area, "category": "电气", "description": ""}, "description")]:
        r = c["worker"].post("/api/v1/hazards", json=body)
        assert r.status_code == 422 and key in r.get_json()["error"]["messages"]["en"]
    r = c["supervisor"].post(f"/api/v1/hazards/{first['id']}/dispatch", json={"assignee": "nobody"})
    assert r.status_code == 422 and "assignee" in r.get_json()["error"]["messages"]["en"]
    assert c["supervisor"].post("/api/v1/hazards/999/dispatch", json={"assignee": "u_worker"}).status_code == 404
    assert events.head_seq() == head


def test_deadlines_are_chased_and_open_hazards_show_on_the_map(plant):
    from appliance.hazards import service as H

    c, area = plant
    hid = report(c["worker"], area)["id"]
    h = c["supervisor"].post(f"/api/v1/hazards/{hid}/dispatch", json={"assignee": "u_worker"}).get_json()
    assert H.chase_deadlines(now=h["deadline"] - 2 * 86_400_000) == 0
    assert H.chase_deadlines(now=h["deadline"] - 3_600_000) == 1          # reminder to the assignee
    assert H.chase_deadlines(now=h["deadline"] + 1) == 1                  # escalation, once
    assert H.chase_deadlines(now=h["deadline"] + 10) == 0
    chased = [(e.type, e.payload["to"]) for e in events.read_after(0, 200) if e.type.startswith("hazard.") and "to" in e.payload]
    assert chased == [("hazard.due_soon", "u_worker"), ("hazard.overdue", "safety_officer")]
    (m,) = c["worker"].get("/api/v1/risk/map").get_json()["areas"]
    assert m["open_hazards"] == 1
    assert "⚠1" in c["worker"].get("/kiosk").get_data(as_text=True)


def test_automatic_dispatch_by_rule(plant):
    c, area = plant
    r = c["safety_officer"].post("/api/v1/hazards/rules", json={"area_id": area, "assignee": "u_supervisor"})
    assert r.status_code == 201
    c["safety_officer"].post("/api/v1/hazards/rules", json={"category": "电气", "assignee": "u_worker"})
    assert c["safety_officer"].post("/api/v1/hazards/rules", json={"assignee": "u_worker"}).status_code == 422
    assert c["safety_officer"].post("/api/v1/hazards/rules", json={"area_id": area, "assignee": "ghost"}).status_code == 422
    assert c["worker"].post("/api/v1/hazards/rules", json={"area_id": area, "assignee": "u_worker"}).status_code == 403
    h = report(c["worker"], area)  # 电气 in this area: the area's responsible person wins
    assert h["state"] == "rectifying" and h["assignee"] == "u_supervisor" and h["deadline"]
    # the same key again replaces the rule
    c["safety_officer"].post("/api/v1/hazards/rules", json={"area_id": area, "assignee": "u_safety_officer"})
    assert report(c["worker"], area)["assignee"] == "u_safety_officer"
    rules = c["worker"].get("/api/v1/hazards/rules").get_json()["rules"]
    assert len(rules) == 2
    major = report(c["worker"], area, grade="major")
    assert major["state"] == "reported"  # a major hazard waits for its treatment plan
    ev = [e for e in events.read_after(0, 500) if e.type == "hazard.major_reported"]
    assert ev and ev[0].payload["to"] == ["safety_officer", "plant_manager"]
    # deleting the area rule: the category rule decides again; the hazards it dispatched keep their assignee
    area_rule = next(r for r in rules if r["area_id"] == area)
    assert c["worker"].delete(f"/api/v1/hazards/rules/{area_rule['id']}").status_code == 403
    assert c["safety_officer"].delete(f"/api/v1/hazards/rules/{area_rule['id']}").status_code == 204
    assert c["safety_officer"].delete(f"/api/v1/hazards/rules/{area_rule['id']}").status_code == 404
    assert report(c["worker"], area)["assignee"] == "u_worker"
    assert [r["category"] for r in c["worker"].get("/api/v1/hazards/rules").get_json()["rules"]] == ["电气"]
    assert any(e.type == "hazard.rule_removed" and e.payload["assignee"] == "u_safety_officer"
               for e in events.read_after(0, 500))


def test_rates_over_the_api(plant):
    c, area = plant
    h = report(c["worker"], area)
    report(c["worker"], area)                                     # the same area and category: a recurrence
    c["supervisor"].post(f"/api/v1/hazards/{h['id']}/dispatch", json={"assignee": "u_worker"})
    c["worker"].post(f"/api/v1/hazards/{h['id']}/rectify", json={"note": "已整改"})
    c["safety_officer"].post(f"/api/v1/hazards/{h['id']}/accept", json={"note": "合格"})
    r = c["kiosk"].get("/api/v1/hazards/rates?days=7").get_json()
    assert r == {"days": 7, "reported": 2, "closed": 1, "rectification_rate": 0.5, "on_time_rate": 1.0,
                 "overdue": 0, "recurrences": 1}
    assert c["kiosk"].get("/api/v1/hazards/rates?days=0").status_code == 422


def test_a_repeated_idempotency_key_files_one_hazard(plant):
    """Issue 15: a double tap or a resend after a lost answer carries the form's idempotency key; the
    second request answers 200 with the first hazard and files nothing (no second hazard.reported event)."""
    c, area = plant
    body = {"area_id": area, "category": "电气", "description": "配电箱门未关，线缆裸露"}
    first = c["worker"].post("/api/v1/hazards", json=body, headers={"Idempotency-Key": "form-1a2b3c4d"})
    assert first.status_code == 201, first.get_data(as_text=True)
    head = events.head_seq()
    again = c["worker"].post("/api/v1/hazards", json=body, headers={"Idempotency-Key": "form-1a2b3c4d"})
    assert again.status_code == 200 and again.get_json()["id"] == first.get_json()["id"]
    assert events.head_seq() == head
    other = c["worker"].post("/api/v1/hazards", json=body, headers={"Idempotency-Key": "form-9z8y7x6w"})
    assert other.status_code == 201 and other.get_json()["id"] != first.get_json()["id"]
    no_key = c["worker"].post("/api/v1/hazards", json=body)
    assert no_key.status_code == 201  # the API without a key still files each report
    for bad in ("short", "空格 不行 key 1234", "x" * 81):
        r = c["worker"].post("/api/v1/hazards", json=body, headers={"Idempotency-Key": bad})
        assert r.status_code == 422 and "Idempotency-Key" in r.get_json()["error"]["messages"]["en"], bad
    listed = c["worker"].get("/api/v1/hazards").get_json()["hazards"]
    assert sum(h["id"] == first.get_json()["id"] for h in listed) == 1


@pytest.mark.parametrize("hazards, now, ttl", [
    ([], 1_000, 30.0),                                                               # nothing to pass: the longest
    ([{"deadline": 6_000, "overdue": False, "state": "rectifying"}], 1_000, 5.001),  # just past the deadline
    ([{"deadline": 6_000, "overdue": False, "state": "rectifying"},
      {"deadline": 3_000, "overdue": False, "state": "reported"}], 1_000, 2.001),    # the first of them
    ([{"deadline": 500, "overdue": True, "state": "rectifying"}], 1_000, 30.0),      # already overdue
    ([{"deadline": 3_000, "overdue": False, "state": "closed"}], 1_000, 30.0),       # closed: never overdue
    ([{"deadline": None, "overdue": False, "state": "reported"}], 1_000, 30.0),      # no deadline yet
    ([{"deadline": 3_600_000, "overdue": False, "state": "rectifying"}], 0, 30.0),   # an hour away: the longest
])
def test_the_shared_list_lives_until_its_next_deadline(hazards, now, ttl):
    from appliance.hazards.api import until_next_deadline

    assert until_next_deadline(hazards, now) == pytest.approx(ttl)


def test_the_boards_list_turns_overdue_when_the_deadline_passes_with_nothing_recorded(plant, monkeypatch):
    """The wall boards' shared hazard list is kept until a hazard changes or its next deadline passes (issue
    14): the deadline passing, with no event at all, shows the hazard overdue on the next ask."""
    import time

    from appliance.core import answers

    c, area = plant
    hid = report(c["worker"], area)["id"]
    h = c["supervisor"].post(f"/api/v1/hazards/{hid}/dispatch", json={"assignee": "u_worker"}).get_json()
    answers.forget()
    clock = {"now": h["deadline"] - 300}
    monkeypatch.setattr(events, "now_ms", lambda: clock["now"])

    def shown():
        (row,) = [x for x in c["kiosk"].get("/api/v1/hazards?state=rectifying").get_json()["hazards"] if x["id"] == hid]
        return row["overdue"]

    assert shown() is False
    clock["now"] = h["deadline"] + 1
    assert shown() is False            # the same shared answer: its 0.3 s are not over
    time.sleep(0.35)
    assert shown() is True             # past the deadline it was kept until: built again, overdue
