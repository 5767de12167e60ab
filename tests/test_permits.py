"""Special work permits through the API (GB 30871-2022): apply → measures → approve → people verified by
badge → 交底 → gas analysis → start → interlock suspension → resume after a new analysis → close; the
contract of GET /api/v1/permits; SIMOPS, guardian, approval level and self-approval refusals."""
from __future__ import annotations

from datetime import timedelta

import pytest

from appliance.core import events
from appliance.core import people as P
from appliance.core.events import Committed

UIDS = {"welder": "04C0FFEE000001", "helper": "04C0FFEE000002", "guardian": "04A1B2C3D4E5F8",
        "issuer": "04A1B2C3D4E5F7", "guardian2": "04A1B2C3D4E5FA"}


@pytest.fixture
def site(app, users, as_role):
    areas = {}
    for code in ("TANK", "REACT"):
        areas[code] = P.create_area(P.AreaIn(code=code, name={"TANK": "储罐区", "REACT": "反应车间"}[code], kind="process",
                                             polygon={"TANK": [[0, 0], [9, 0], [9, 9]], "REACT": [[20, 0], [29, 0], [29, 9]]}[code]),
                                      actor="system:test").id
    people = {}
    for i, (key, uid) in enumerate(UIDS.items()):
        p = P.create_person(P.PersonIn(employee_no=f"E{i}", name=f"人员{key}", kind="employee"), actor="system:test")
        P.issue_badge(P.BadgeIn(uid=uid, person_id=p.id), actor="system:test")
        people[key] = p.id
    # the welder is certified for what the tests' permits need (training records, 30号令); the helper is not
    from appliance.training import certificates as TC

    issued = (TC.day_of(events.now_ms()) - timedelta(days=100)).isoformat()
    for n, kind in enumerate(("WELD-FUSION", "HEIGHT-MAINT", "SE-Q2", "ELEC-LV")):
        TC.add(TC.CertificateIn(person_id=people["welder"], kind=kind, number=f"T-{n}", issued_on=issued),
               actor="system:test")
    c = {r: as_role(r) for r in ("admin", "safety_officer", "supervisor", "worker", "kiosk")}
    return c, areas, people


JSA = [{"step": "动火前准备", "hazards": "罐顶残留可燃气体遇火花燃爆", "measures": "氮气置换，动火前 30 min 内分析合格",
         "responsible": "王芳"}]
LEVEL_ROLES = {"workshop": ("supervisor", "safety_officer", "admin"), "safety": ("safety_officer", "admin"),
               "principal": ("admin",)}


def body(areas, people, **kw):
    now = events.now_ms()
    return {"type": "hot_work", "grade": "2", "area_id": areas["TANK"], "location": "T-101 罐顶",
            "content": "更换呼吸阀法兰，焊接", "medium": "CH4", "valid_from": now - 60_000, "valid_to": now + 8 * 3_600_000,
            "workers": [people["welder"], people["helper"]], "guardian_id": people["guardian"],
            "issuer_id": people["issuer"], "jsa_rows": JSA, **kw}


def apply(c, areas, people, who="worker", **kw):
    r = c[who].post("/api/v1/permits", json=body(areas, people, **kw))
    assert r.status_code == 201, r.get_data(as_text=True)
    return r.get_json()


def to_briefed(c, pid, approver="supervisor"):
    """Measures confirmed, then every level of the approval chain (chain.py) signed, each by another role
    (`approver` signs the first level); returns the approved permit."""
    from appliance.permits.rules import MEASURES

    ptype = c["admin"].get(f"/api/v1/permits/{pid}").get_json()["type"]
    r = c["supervisor"].post(f"/api/v1/permits/{pid}/measures",
                             json={"measures": {m: {"applies": True, "by": "王芳"} for m, *_ in MEASURES[ptype]}})
    assert r.get_json()["state"] == "measures_confirmed", r.get_data(as_text=True)
    used: set[str] = set()
    got = r.get_json()
    while got["state"] == "measures_confirmed":
        (level,) = [a["level"] for a in got["approvals"] if a["state"] == "pending"]
        who = approver if not used else next(x for x in LEVEL_ROLES[level] if x not in used)
        used.add(who)
        r = c[who].post(f"/api/v1/permits/{pid}/approve", json={"note": "同意"})
        assert r.status_code == 200, r.get_data(as_text=True)
        got = r.get_json()
    return got


def tap_all(c, pid, keys=("welder", "helper", "guardian", "issuer")):
    for k in keys:
        r = c["worker"].post(f"/api/v1/permits/{pid}/taps", json={"uid": UIDS[k]})
        assert r.status_code == 200, r.get_data(as_text=True)


def manual(c, pid, value, gas="CH4", unit="%LEL", **kw):
    r = c["supervisor"].post(f"/api/v1/permits/{pid}/analyses", json={
        "source": "manual", "analyst": "陈静", "instrument": "PGM-2400",
        "samples": [{"gas": gas, "value": value, "unit": unit}], **kw})
    assert r.status_code == 201, r.get_data(as_text=True)
    return r.get_json()["analysis"]


def gas_event(type_, **payload):
    return Committed(seq=1, id="x", type=type_, occurred_at=events.now_ms(), recorded_at=events.now_ms(),
                     actor="system", entity_type="alarm", entity_id="1", payload=payload, hash="")


def test_hot_work_through_every_step_with_the_interlock(site):
    c, areas, people = site
    p = apply(c, areas, people)
    pid = p["id"]
    assert p["state"] == "applied" and p["approval_level"] == "workshop" and p["applicant"] == "user:u_worker"
    assert c["supervisor"].post(f"/api/v1/permits/{pid}/approve", json={}).status_code == 409  # measures first
    # a measure list half done stays "applied"
    r = c["supervisor"].post(f"/api/v1/permits/{pid}/measures", json={"measures": {"isolate": {"by": "王芳"}}})
    assert r.get_json()["state"] == "applied"
    assert c["worker"].post(f"/api/v1/permits/{pid}/approve", json={}).status_code == 403   # not a worker's to approve
    to_briefed(c, pid)
    assert c["admin"].get(f"/api/v1/permits/{pid}").get_json()["state"] == "approved"
    r = c["supervisor"].post(f"/api/v1/permits/{pid}/brief", json={})
    assert r.status_code == 409 and "作业人" in r.get_json()["error"]["message"]     # nobody tapped yet
    tap_all(c, pid)
    assert c["supervisor"].post(f"/api/v1/permits/{pid}/brief", json={}).get_json()["state"] == "briefed"
    # the gas gate: no analysis, then a failing one (CH4 10 %LEL = 0.5 %V/V, not < 0.5), then a passing one
    assert c["supervisor"].post(f"/api/v1/permits/{pid}/start", json={}).status_code == 409
    assert manual(c, pid, 10.0)["passed"] is False
    assert c["supervisor"].post(f"/api/v1/permits/{pid}/start", json={}).status_code == 409
    old = manual(c, pid, 2.0, at=events.now_ms() - 31 * 60_000)        # passing but older than 30 min
    assert old["passed"] is True
    assert c["supervisor"].post(f"/api/v1/permits/{pid}/start", json={}).status_code == 409
    manual(c, pid, 2.0)
    r = c["supervisor"].post(f"/api/v1/permits/{pid}/start", json={})
    assert r.status_code == 200 and r.get_json()["state"] == "active"
    # the contract
    listed = c["kiosk"].get("/api/v1/permits?state=active").get_json()["permits"]
    (entry,) = [x for x in listed if x["id"] == pid]
    assert {"id", "type", "grade", "area", "state", "valid_from", "valid_to", "suspended_reason"} <= set(entry)
    assert entry["area"] == "TANK" and entry["type"] == "hot_work" and entry["grade"] == "2"
    # a gas alarm in another area leaves it; a level-1 alarm in TANK suspends it
    from appliance.permits import service as S
    assert S.on_gas_event(gas_event("alarm.raised", point="GT-201", area="REACT", level=2)) == 0
    assert S.on_gas_event(gas_event("alarm.cleared", point="GT-101", area="TANK", level=0)) == 0
    assert S.on_gas_event(gas_event("alarm.raised", point="GT-101", area="TANK", level=1)) == 1
    got = c["kiosk"].get("/api/v1/permits?state=suspended").get_json()["permits"]
    (entry,) = [x for x in got if x["id"] == pid]
    assert "GT-101" in entry["suspended_reason"] and "level-1" in entry["suspended_reason"]
    # resuming needs a new analysis, taken after the suspension
    r = c["supervisor"].post(f"/api/v1/permits/{pid}/resume", json={})
    assert r.status_code == 409
    manual(c, pid, 1.0)
    r = c["supervisor"].post(f"/api/v1/permits/{pid}/resume", json={})
    assert r.status_code == 200 and r.get_json()["state"] == "active" and r.get_json()["suspended_reason"] is None
    # a comm fault suspends too
    assert S.on_gas_event(gas_event("point.fault", point="GT-101", area="TANK", reason="comm timeout")) == 1
    r = c["supervisor"].post(f"/api/v1/permits/{pid}/close", json={"note": "现场清理完毕"})
    assert r.get_json()["state"] == "closed"
    assert [x["id"] for x in c["kiosk"].get("/api/v1/permits?state=closed").get_json()["permits"]] == [pid]
    types = [e.type for e in events.Event.select().where(events.Event.entity_type == "permit").order_by(events.Event.seq)]
    assert types[0] == "permit.applied" and types[-1] == "permit.closed"
    for t in ("permit.approved", "permit.person_verified", "permit.briefed", "permit.analysed", "permit.started",
              "permit.suspended", "permit.resumed"):
        assert t in types


def test_bad_input_names_the_field(site):
    c, areas, people = site
    r = c["worker"].post("/api/v1/permits", json=body(areas, people, grade="1", valid_to=events.now_ms() + 9 * 3_600_000))
    assert r.status_code == 422 and r.get_json()["error"]["details"][0]["key"] == "valid_to"   # 一级 ≤ 8 h
    r = c["worker"].post("/api/v1/permits", json=body(areas, people, type="welding"))
    assert r.status_code == 422 and r.get_json()["error"]["details"][0]["key"] == "type"
    r = c["worker"].post("/api/v1/permits", json=body(areas, people, guardian_id=people["welder"]))
    assert r.status_code == 422 and r.get_json()["error"]["details"][0]["key"] == "guardian_id"
    r = c["worker"].post("/api/v1/permits", json=body(areas, people, workers=[]))
    assert r.status_code == 422
    assert c["kiosk"].get("/api/v1/permits?state=bogus").status_code == 422
    assert c["kiosk"].get("/api/v1/permits").get_json()["permits"] == []   # nothing was stored


def test_approval_level_and_no_self_approval(site):
    c, areas, people = site
    p = apply(c, areas, people, who="supervisor", grade="1", valid_to=events.now_ms() + 7 * 3_600_000)
    assert p["approval_level"] == "safety"
    from appliance.permits.rules import MEASURES
    c["supervisor"].post(f"/api/v1/permits/{p['id']}/measures",
                         json={"measures": {m: {"by": "王芳"} for m, *_ in MEASURES["hot_work"]}})
    r = c["supervisor"].post(f"/api/v1/permits/{p['id']}/approve", json={})
    assert r.status_code == 403                                    # 一级动火: the safety manager, not the shift
    q = apply(c, areas, people, who="supervisor", area_id=areas["REACT"], guardian_id=people["guardian2"])
    c["supervisor"].post(f"/api/v1/permits/{q['id']}/measures",
                         json={"measures": {m: {"by": "王芳"} for m, *_ in MEASURES["hot_work"]}})
    r = c["supervisor"].post(f"/api/v1/permits/{q['id']}/approve", json={})
    assert r.status_code == 403 and "本人" in r.get_json()["error"]["message"]   # the applicant approving
    assert c["safety_officer"].post(f"/api/v1/permits/{p['id']}/approve", json={}).status_code == 200


def test_simops_and_one_guardian_one_job(site):
    c, areas, people = site
    hot = apply(c, areas, people)
    r = c["worker"].post("/api/v1/permits", json=body(areas, people, type="confined_space", grade="-"))
    assert r.status_code == 409 and "交叉作业" in r.get_json()["error"]["message"]
    lift = apply(c, areas, people, type="lifting", grade="3", guardian_id=people["guardian2"])
    assert lift["approval_level"] == "safety" and lift["simops"]["verdict"] == "escalate"
    # the same guardian on two jobs at once: the second 交底 is refused
    other = apply(c, areas, people, type="height", grade="I", area_id=areas["REACT"])
    for pid in (hot["id"], other["id"]):
        to_briefed(c, pid)
        tap_all(c, pid)
    assert c["supervisor"].post(f"/api/v1/permits/{hot['id']}/brief", json={}).status_code == 200
    r = c["supervisor"].post(f"/api/v1/permits/{other['id']}/brief", json={})
    assert r.status_code == 409 and "监护" in r.get_json()["error"]["message"]


def test_badge_tap_at_the_site_reader_and_live_analysis(site):
    c, areas, people = site
    from appliance.permits import service as S

    p = apply(c, areas, people, reader="CP-TANK")
    to_briefed(c, p["id"])
    tap = gas_event("patrol.tap", reader="CP-TANK", person_id=people["welder"], outcome="reader_login")
    S.on_tap(tap)
    S.on_tap(gas_event("patrol.tap", reader="CP-DOCK", person_id=people["helper"], outcome="reader_login"))
    d = c["admin"].get(f"/api/v1/permits/{p['id']}").get_json()
    assert [w["tapped_at"] is not None for w in d["workers"]] == [True, False]
    # a stranger's badge on the tablet is refused, naming the person
    r = c["worker"].post(f"/api/v1/permits/{p['id']}/taps", json={"uid": "04DEADBEEF0000"})
    assert r.status_code == 422
    # live analysis: no sensor loop in this app → a clear refusal; with points, the area's detectors
    r = c["supervisor"].post(f"/api/v1/permits/{p['id']}/analyses", json={"source": "live"})
    assert r.status_code == 409
    now = events.now_ms()
    ok = [{"id": "GT-101", "gas": "CH4", "area": "TANK", "value": 1.0, "unit": "%LEL", "state": "normal", "level": 0,
           "updated_at": now},
          {"id": "GT-102", "gas": "H2S", "area": "TANK", "value": 0.5, "unit": "ppm", "state": "normal", "level": 0,
           "updated_at": now},
          {"id": "GT-201", "gas": "EX", "area": "REACT", "value": 80, "unit": "%LEL", "state": "alarm2", "level": 2,
           "updated_at": now}]
    a = S.analyse(p["id"], S.AnalysisIn(source="live"), actor="user:u_supervisor", points=ok)
    assert a.passed and a.source == "live"
    ok[0] = {**ok[0], "value": 30, "level": 1, "state": "alarm1"}
    with pytest.raises(Exception, match="GT-101"):
        S.analyse(p["id"], S.AnalysisIn(source="live"), actor="user:u_supervisor", points=ok)
    # a detector whose newest reading is over a minute old cannot give an analysis of "now"
    ok[0] = {**ok[0], "value": 1.0, "level": 0, "state": "normal", "updated_at": now - 61_000}
    with pytest.raises(Exception, match="GT-101: no recent reading"):
        S.analyse(p["id"], S.AnalysisIn(source="live"), actor="user:u_supervisor", points=ok)


def test_demo_seed_makes_two_active_permits_and_the_leak_suspends_the_tank_farm_one(tmp_path):
    """What `make demo` seeds; the gas-leak scenario's first alarm at GT-101 (TANK) suspends the hot work there
    and the confined-space entry next door (REACT)."""
    import subprocess
    import sys

    from conftest import ROOT

    code = ("import sys, json; from appliance import demo; from appliance.permits import service as S; "
            "from appliance.core.events import Committed; "
            "demo.prepare(sys.argv[1], 18999, '127.0.0.1'); "
            "ps = {p.type: p.state for p in S.Permit.select()}; "
            "ev = Committed(1, 'x', 'alarm.raised', 0, 0, 's', 'alarm', '1', {'point': 'GT-101', 'area': 'TANK', 'level': 1}, ''); "
            "n = S.on_gas_event(ev); "
            "after = {p.type: (p.state, p.suspended_reason) for p in S.Permit.select()}; "
            "print(json.dumps([ps, n, after], ensure_ascii=False))")
    r = subprocess.run([sys.executable, "-c", code, str(tmp_path / "d")], cwd=ROOT, capture_output=True, text=True,
                       timeout=120)
    assert r.returncode == 0, r.stderr
    import json
    before, n, after = json.loads(r.stdout.strip().splitlines()[-1])
    assert before == {"hot_work": "active", "confined_space": "active"}
    assert after["hot_work"][0] == "suspended" and "GT-101" in after["hot_work"][1]
    # the reactor hall is one door from the tank farm on the demo's walk graph: its entry stops too
    assert n == 2 and after["confined_space"][0] == "suspended"
    assert after["confined_space"][1] == "interlock: GT-101 level-1 alarm (near: in TANK)"


@pytest.mark.parametrize("lang", ["zh-CN", "en"])
def test_permit_pages_render(site, lang):
    c, areas, people = site
    p = apply(c, areas, people)
    c["supervisor"].c.set_cookie("lang", lang)
    for path in ("/tablet/permits", f"/tablet/permits/{p['id']}", f"/tablet/permits/{p['id']}/print",
                 "/tablet/permits/guard"):
        r = c["supervisor"].get(path)
        assert r.status_code == 200, path
    html = c["supervisor"].get(f"/tablet/permits/{p['id']}/print").get_data(as_text=True)
    assert "动火作业安全作业票" in html and "T-101 罐顶" in html
    # the live record's address is printed beside the QR (the QR itself needs OpenCV)
    assert f"/tablet/permits/{p['id']}</figcaption>" in html


def test_a_special_operation_needs_a_certified_worker(site):
    """30号令: the welding of a hot-work permit is done by someone holding a valid 焊接与热切割作业 certificate
    for the whole job window, as the training records say; without one in the crew the permit is refused
    naming the certificate; a lapsed certificate does not count."""
    from appliance.training import certificates as TC

    c, areas, people = site
    r = c["worker"].post("/api/v1/permits", json=body(areas, people, workers=[people["helper"]]))
    assert r.status_code == 422, r.text
    err = r.get_json()["error"]
    assert err["details"][0]["key"] == "workers" and "焊接与热切割" in err["messages"]["zh-CN"]
    today = TC.day_of(events.now_ms())
    TC.add(TC.CertificateIn(person_id=people["helper"], kind="WELD-BRAZE", number="L-1",
                            issued_on=(today - timedelta(days=400)).isoformat(),
                            expires_on=(today - timedelta(days=1)).isoformat()), actor="system:test")
    assert c["worker"].post("/api/v1/permits", json=body(areas, people, workers=[people["helper"]])).status_code == 422
    assert c["worker"].post("/api/v1/permits", json=body(areas, people)).status_code == 201  # the welder leads


def test_a_contractors_worker_is_admitted_and_briefed_before_the_permit_goes_on(site):
    """安全生产法 Art. 49 / 3号令 / GB 30871-2022 §4: a worker of a contractor firm on a permit is briefed on it
    and starts only when the gate would admit them (firm, entry training, certificates, an active job) and
    they confirmed the contractor job's safety briefing; the refusal names the person and the reasons."""
    from appliance.contractors import gate
    from appliance.contractors import service as CS
    from appliance.permits import certs

    c, areas, people = site
    pid = apply(c, areas, people)["id"]
    to_briefed(c, pid)
    tap_all(c, pid)
    # the helper works for a qualified firm but has no entry training and no job yet
    f = CS.create_firm(CS.FirmIn(name="江东建设工程有限公司"), actor="user:u_admin")
    today = CS.today()
    for kind in ("business_licence", "safety_licence", "qualification", "insurance"):
        d = CS.add_document(f.id, CS.DocumentIn(kind=kind, expires_on=today + timedelta(days=300)), actor="user:u_admin")
        CS.review_document(d.id, CS.ReviewIn(decision="approve"), actor="user:u_safety_officer")
    CS.add_worker(f.id, CS.WorkerIn(person_id=people["helper"]), actor="user:u_admin")
    r = c["supervisor"].post(f"/api/v1/permits/{pid}/brief", json={})
    msg = r.get_json()["error"]["message"]
    assert r.status_code == 409 and "人员helper" in msg and "未完成入厂安全教育" in msg and "无已批准的当日作业" in msg
    assert "人员welder" not in msg                     # the plant's own welder is not a contractor's worker
    CS.record_training(people["helper"], CS.TrainingIn(trained_on=today - timedelta(days=3)), actor="user:u_admin")
    j = CS.create_job(f.id, CS.JobIn(title="储罐区管线动火", starts_on=today - timedelta(days=1),
                                     ends_on=today + timedelta(days=1), workers=[people["helper"]]), actor="user:u_admin")
    CS.approve_job(j.id, actor="user:u_safety_officer")
    r = c["supervisor"].post(f"/api/v1/permits/{pid}/brief", json={})
    assert r.status_code == 409 and r.get_json()["error"]["message"].count("未确认承包商作业安全交底") == 1
    b = CS.give_briefing(j.id, CS.BriefingIn(content="动火点周围 15 m 内清除可燃物，监护人全程在场。"), actor="user:u_safety_officer")
    CS.confirm_briefing(b.id, CS.ConfirmIn(uid=UIDS["helper"]), actor="user:u_safety_officer")
    # the welder holds the hot-work certificate, so the gate needs none of the helper (30号令 Art. 5) but
    # would need it of the welder
    assert certs.certs_on_permits(people["helper"], today) == []
    assert certs.certs_on_permits(people["welder"], today) == ["WELD"]
    assert gate.permit_refusals(people["helper"], events.now_ms()) == ()
    assert c["supervisor"].post(f"/api/v1/permits/{pid}/brief", json={}).get_json()["state"] == "briefed"
    # blacklisted in between: the start is refused naming the helper
    manual(c, pid, 2.0)
    CS.set_blacklist(f.id, CS.BlacklistIn(blacklisted=True, reason="违章动火"), actor="user:u_safety_officer")
    r = c["supervisor"].post(f"/api/v1/permits/{pid}/start", json={})
    assert r.status_code == 409 and "人员helper（承包商单位已列入黑名单）" in r.get_json()["error"]["message"]
    # off the list again it starts; a suspension meanwhile, blacklisted again: it does not resume
    CS.set_blacklist(f.id, CS.BlacklistIn(blacklisted=False, reason="整改完成"), actor="user:u_safety_officer")
    assert c["supervisor"].post(f"/api/v1/permits/{pid}/start", json={}).get_json()["state"] == "active"
    assert c["supervisor"].post(f"/api/v1/permits/{pid}/suspend", json={"reason": "现场检查"}).status_code == 200
    manual(c, pid, 1.0)
    CS.set_blacklist(f.id, CS.BlacklistIn(blacklisted=True, reason="再次违章"), actor="user:u_safety_officer")
    r = c["supervisor"].post(f"/api/v1/permits/{pid}/resume", json={})
    assert r.status_code == 409 and "人员helper（承包商单位已列入黑名单）" in r.get_json()["error"]["message"]


def test_a_gas_event_next_door_suspends_and_simops_next_door_escalates(site):
    """The issue: a detector "in or near" the permit's area: on the site's walk graph (the emergency domain's
    data) REACT is one door from TANK; a level-1 alarm there suspends the TANK permit naming where it was,
    one further away does not. SIMOPS next door escalates (safety-level approval) instead of refusing."""
    from appliance.core import people as P
    from appliance.emergency import setup
    from appliance.permits import service as S

    c, areas, people = site
    far = P.create_area(P.AreaIn(code="FAR", name="远处", kind="process", polygon=[[90, 90], [99, 90], [99, 99]]),
                        actor="system:test")
    setup.set_graph(setup.GraphIn(edges=[setup.EdgeIn(a="TANK", b="REACT", metres=40),
                                         setup.EdgeIn(a="REACT", b="FAR", metres=300)]), actor="system:test")
    pid = apply(c, areas, people)["id"]
    to_briefed(c, pid)
    tap_all(c, pid)
    c["supervisor"].post(f"/api/v1/permits/{pid}/brief", json={})
    manual(c, pid, 2.0)
    assert c["supervisor"].post(f"/api/v1/permits/{pid}/start", json={}).get_json()["state"] == "active"
    # SIMOPS: a confined-space entry in REACT (next door) needs the safety level, not a refusal; in TANK it is refused
    r = c["worker"].post("/api/v1/permits", json=body(areas, people, type="confined_space", grade="-",
                                                      area_id=areas["REACT"], workers=[people["helper"]],
                                                      guardian_id=people["guardian2"]))
    assert r.status_code == 201 and r.get_json()["approval_level"] == "safety", r.get_data(as_text=True)
    r = c["worker"].post("/api/v1/permits", json=body(areas, people, type="confined_space", grade="-",
                                                      workers=[people["helper"]], guardian_id=people["guardian2"]))
    assert r.status_code == 409
    # the live interlock: two doors away leaves it, next door suspends it (an over-range here)
    assert S.on_gas_event(gas_event("alarm.raised", point="GT-901", area=far.code, level=2)) == 0
    assert S.on_gas_event(gas_event("alarm.raised", point="GT-201", area="REACT", level=2, over_range=True)) == 1
    got = c["admin"].get(f"/api/v1/permits/{pid}").get_json()
    assert got["state"] == "suspended" and got["suspended_reason"] == "interlock: GT-201 over-range (near: in REACT)"


def test_line_blinding_is_graded_by_its_medium(site):
    """GB 30871-2022 §7: the grade of a 盲板抽堵 permit comes from the line's medium, temperature and pressure."""
    c, areas, people = site
    kw = dict(type="blinding", grade="-", workers=[people["helper"]], content="法兰处加装盲板")
    assert apply(c, areas, people, medium="H2S", medium_temp_c=25, medium_pressure_mpa=0.2, **kw)["grade"] == "1"
    p = apply(c, areas, people, medium="N2", medium_temp_c=20, medium_pressure_mpa=0.3, area_id=areas["REACT"], **kw)
    assert p["grade"] == "2" and p["approval_level"] == "workshop"
    r = c["worker"].post("/api/v1/permits", json=body(areas, people, **{**kw, "grade": "2"}, medium="CH4",
                                                      medium_temp_c=25, medium_pressure_mpa=0.2))
    assert r.status_code == 422 and r.get_json()["error"]["details"][0]["key"] == "grade"
    page = c["worker"].get("/tablet/permits").get_data(as_text=True)   # the apply form asks for both
    assert 'name="medium_temp_c"' in page and 'name="medium_pressure_mpa"' in page
