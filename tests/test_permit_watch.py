"""Permits and time, and permits on camera (appliance/permits/watch.py), with the clock passed in: expiry
past the validity (GB 30871-2022 §4), the confined-space periodic re-analysis (§6.4, every 2 h) that suspends
an overdue entry, a failing analysis during the work, resuming after an interruption, and PPE violations
(vision) attached to the permit on site and alerting its guardian."""
from __future__ import annotations

import test_permits
from appliance.core import events
from appliance.core.events import Committed
from appliance.permits import rules as R
from appliance.permits import service as S
from appliance.permits import watch
from test_permits import apply, body, manual, tap_all, to_briefed

H = 3_600_000
site = test_permits.site   # the fixture: two areas, five people with badges, a client per role


def ev(type_, **payload):
    return Committed(seq=1, id="x", type=type_, occurred_at=events.now_ms(), recorded_at=events.now_ms(),
                     actor="system:vision", entity_type="violation", entity_id="1", payload=payload, hash="")


def to_active(c, areas, people, **kw):
    p = apply(c, areas, people, **kw)
    to_briefed(c, p["id"])
    tap_all(c, p["id"])
    assert c["supervisor"].post(f"/api/v1/permits/{p['id']}/brief", json={}).status_code == 200
    if p["type"] == "confined_space":
        r = c["supervisor"].post(f"/api/v1/permits/{p['id']}/analyses", json={
            "source": "manual", "analyst": "陈静", "samples": [
                {"gas": "O2", "value": 20.8, "unit": "%VOL"}, {"gas": "CH4", "value": 1, "unit": "%LEL"}]})
        assert r.get_json()["analysis"]["passed"], r.get_data(as_text=True)
    else:
        manual(c, p["id"], 1.0)
    r = c["supervisor"].post(f"/api/v1/permits/{p['id']}/start", json={})
    assert r.status_code == 200, r.get_data(as_text=True)
    return r.get_json()


def permit_events(pid, type_):
    import json
    from types import SimpleNamespace

    return [SimpleNamespace(actor=e.actor, occurred_at=e.occurred_at, payload=json.loads(e.payload))
            for e in events.Event.select().where((events.Event.entity_type == "permit")
                                                   & (events.Event.entity_id == str(pid)) & (events.Event.type == type_))]


def test_an_active_permit_expires_past_its_validity(site):
    c, areas, people = site
    p = to_active(c, areas, people)
    assert watch.tick(now=p["valid_to"]) == {"expired": [], "suspended": []}        # the last valid instant
    assert watch.tick(now=p["valid_to"] + 1) == {"expired": [p["id"]], "suspended": []}
    assert watch.tick(now=p["valid_to"] + 2)["expired"] == []                        # once
    listed = c["kiosk"].get("/api/v1/permits?state=expired").get_json()["permits"]
    assert [x["id"] for x in listed] == [p["id"]]
    (e,) = permit_events(p["id"], "permit.expired")
    assert e.actor == "system:permits" and e.payload["was"] == "active" and e.payload["guardian_id"] == people["guardian"]
    # the board and the guardian's phone show it; it cannot resume, only be closed after the site check
    board = c["kiosk"].get("/api/v1/permits/board").get_json()["permits"]
    assert [(x["id"], x["state"]) for x in board] == [(p["id"], "expired")]
    assert c["supervisor"].post(f"/api/v1/permits/{p['id']}/resume", json={}).status_code == 409
    assert c["supervisor"].post(f"/api/v1/permits/{p['id']}/close", json={}).get_json()["state"] == "closed"


def test_a_permit_never_started_expires_too(site):
    c, areas, people = site
    p = apply(c, areas, people)
    assert watch.tick(now=p["valid_to"] + 1)["expired"] == [p["id"]]
    assert c["supervisor"].get(f"/api/v1/permits/{p['id']}").get_json()["state"] == "expired"


def test_confined_space_overdue_reanalysis_suspends_and_a_new_one_resumes(site):
    c, areas, people = site
    p = to_active(c, areas, people, type="confined_space", grade="-", area_id=areas["REACT"])
    d = c["supervisor"].get(f"/api/v1/permits/{p['id']}").get_json()
    due = d["reanalysis_due"]
    assert due == d["last_pass_at"] + 2 * H
    assert watch.tick(now=due)["suspended"] == []                           # on time
    assert watch.tick(now=due + 1)["suspended"] == [p["id"]]                # §6.4: overdue
    d = c["supervisor"].get(f"/api/v1/permits/{p['id']}").get_json()
    assert d["state"] == "suspended" and d["suspended_reason"].startswith(watch.REANALYSIS_REASON)
    assert d["reanalysis_due"] is None
    assert watch.tick(now=due + 2)["suspended"] == []                       # once
    (e,) = permit_events(p["id"], "permit.suspended")
    assert e.actor == "system:permits" and e.occurred_at == due + 1
    # resuming needs an analysis taken after the suspension
    assert c["supervisor"].post(f"/api/v1/permits/{p['id']}/resume", json={}).status_code == 409


def test_a_failing_analysis_during_the_work_stops_it(site):
    c, areas, people = site
    p = to_active(c, areas, people, type="confined_space", grade="-", area_id=areas["REACT"])
    r = c["supervisor"].post(f"/api/v1/permits/{p['id']}/analyses", json={
        "source": "manual", "analyst": "陈静", "samples": [{"gas": "O2", "value": 18.9, "unit": "%VOL"},
                                                          {"gas": "CH4", "value": 1, "unit": "%LEL"}]})
    assert r.status_code == 201 and r.get_json()["analysis"]["passed"] is False
    d = r.get_json()["permit"]
    assert d["state"] == "suspended" and "O2" in d["suspended_reason"]


def test_resuming_after_a_long_interruption_names_it(site):
    c, areas, people = site
    p = to_active(c, areas, people)
    now = events.now_ms()
    # work stopped 61 min ago, its last analysis 70 min ago (the rows as they would be by now)
    S.suspend(p["id"], "午休", actor="user:u_supervisor", at=now - 61 * 60_000)
    S.Permit.update(last_pass_at=now - 70 * 60_000).where(S.Permit.id == p["id"]).execute()
    r = c["supervisor"].post(f"/api/v1/permits/{p['id']}/resume", json={})
    assert r.status_code == 409 and "interrupted 61 min" in r.get_json()["error"]["message"] + str(r.get_json())
    manual(c, p["id"], 1.0)
    assert c["supervisor"].post(f"/api/v1/permits/{p['id']}/resume", json={}).get_json()["state"] == "active"


def test_ppe_violations_on_the_job_are_attached_and_alert_the_guardian(site):
    c, areas, people = site
    p = to_active(c, areas, people)
    other = apply(c, areas, people, type="height", grade="I", area_id=areas["REACT"], guardian_id=people["guardian2"])
    assert watch.on_violation(ev("vision.violation", id=7, camera="tank-cam", zone="roof", area="TANK",
                                 snapshot="ab" * 32)) == [p["id"]]
    assert watch.on_violation(ev("vision.violation", id=7, camera="tank-cam", zone="roof", area="TANK")) == []  # once
    assert watch.on_violation(ev("vision.violation", id=8, camera="dock-cam", zone="dock", area="DOCK")) == []
    d = c["supervisor"].get(f"/api/v1/permits/{p['id']}").get_json()
    assert [(v["id"], v["camera"], v["zone"]) for v in d["violations"]] == [(7, "tank-cam", "roof")]
    (e,) = permit_events(p["id"], "permit.ppe_violation")
    assert e.payload["guardian_id"] == people["guardian"] and e.payload["violation_id"] == 7
    assert c["supervisor"].get(f"/api/v1/permits/{other['id']}").get_json()["violations"] == []  # not on site
    board = c["kiosk"].get("/api/v1/permits/board").get_json()["permits"]
    assert [x["violations"] for x in board if x["id"] == p["id"]] == [1]
    # closed: no longer the guardian's
    c["supervisor"].post(f"/api/v1/permits/{p['id']}/close", json={})
    assert watch.on_violation(ev("vision.violation", id=9, camera="tank-cam", zone="roof", area="TANK")) == []


def test_cameras_linked_on_apply_must_be_configured(site):
    c, areas, people = site
    r = c["worker"].post("/api/v1/permits", json={**body(areas, people),
                                                  "cameras": ["no-such-cam"]})
    assert r.status_code == 422 and r.get_json()["error"]["details"][0]["key"] == "cameras"
    p = apply(c, areas, people, area_id=areas["REACT"])
    assert p["cameras"] == []          # no camera configured in this app


def test_board_shows_simops_per_area(site):
    c, areas, people = site
    to_active(c, areas, people)
    lift = apply(c, areas, people, type="lifting", grade="3", guardian_id=people["guardian2"])
    assert lift["simops"]["verdict"] == "escalate"
    to_briefed(c, lift["id"], approver="safety_officer")
    tap_all(c, lift["id"], keys=("welder", "helper", "guardian2", "issuer"))
    assert c["supervisor"].post(f"/api/v1/permits/{lift['id']}/brief", json={}).status_code == 200
    j = c["kiosk"].get("/api/v1/permits/board").get_json()
    assert j["simops"] == {"TANK": "escalate"} and len(j["permits"]) == 2
    assert R.area_conflict(["hot_work", "lifting"]) == "escalate"


def test_the_guardians_phone_shows_the_ppe_alert(site):
    """The guardian's view (a login linked to the guardian's person) lists the violations on their job."""
    from appliance.core import auth

    c, areas, people = site
    p = to_active(c, areas, people)
    auth.User.update(person_id=people["guardian"]).where(auth.User.login == "u_worker").execute()
    html = c["worker"].get("/tablet/permits/guard").get_data(as_text=True)
    assert f'data-permit="{p["id"]}"' in html and "pm-ppe-alert" not in html
    watch.on_violation(ev("vision.violation", id=11, camera="tank-cam", zone="roof", area="TANK"))
    html = c["worker"].get("/tablet/permits/guard").get_data(as_text=True)
    assert "pm-ppe-alert" in html and 'data-violation="11"' in html and "tank-cam / roof" in html
    assert 'data-ppe="1"' in html
    assert "tank-cam" in c["supervisor"].get(f"/tablet/permits/{p['id']}").get_data(as_text=True)
