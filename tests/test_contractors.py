"""Contractors through the API (records, events, errors) and the gate deciding real patrol taps."""
from __future__ import annotations

import json
from datetime import date, timedelta

import pytest

from appliance.core import events

TODAY = date.today()   # the plant's date is the site zone's; the tests keep clear of midnight by using ±days
DAY = timedelta(days=1)
WELDER_UID, FITTER_UID, STRANGER_UID = "04C0FFEE0000A1", "04C0FFEE0000A2", "04BADBADBAD0FF"


@pytest.fixture
def config(tmp_path):
    from appliance.config import load_config
    from conftest import write_config

    return load_config(write_config(tmp_path / "data", extra='\n[contractors]\nentry_readers = ["GATE"]\n'
                                                                'exit_readers = ["GATE-OUT"]\n'))


@pytest.fixture
def c(app, users, as_role):
    return {role: as_role(role) for role in ("admin", "safety_officer", "supervisor", "worker", "kiosk")}


def ok(r, status=200):
    assert r.status_code == status, r.get_data(as_text=True)
    return r.get_json()


GOOD_DOCS = [("business_licence", None), ("safety_licence", (TODAY + 900 * DAY).isoformat()),
             ("qualification", (TODAY + 400 * DAY).isoformat()), ("insurance", (TODAY + 200 * DAY).isoformat())]


def qualified_firm(c, name="江东建设工程有限公司", docs=GOOD_DOCS):
    f = ok(c["admin"].post("/api/v1/contractors", json={"name": name, "contact": "钱工"}), 201)
    for kind, exp in docs:
        d = ok(c["admin"].post(f"/api/v1/contractors/{f['id']}/documents",
                               json={"kind": kind, "number": "N-1", **({"expires_on": exp} if exp else {})}), 201)
        ok(c["safety_officer"].post(f"/api/v1/contractors/documents/{d['id']}/review", json={"decision": "approve"}))
    return f


def worker(c, firm, no, name, uid, trained=True):
    w = ok(c["admin"].post(f"/api/v1/contractors/{firm['id']}/workers",
                           json={"employee_no": no, "name": name, "job": "焊工", "id_number": "11010519491231002X",
                                 "badge_uid": uid}), 201)
    if trained:
        w = ok(c["admin"].post(f"/api/v1/contractors/workers/{w['person_id']}/training",
                           json={"trained_on": (TODAY - 10 * DAY).isoformat()}))
    return w


def job(c, firm, workers, **kw):
    body = {"title": "储罐区管线动火", "starts_on": (TODAY - DAY).isoformat(), "ends_on": (TODAY + DAY).isoformat(),
            "workers": [w["person_id"] for w in workers], **kw}
    j = ok(c["admin"].post(f"/api/v1/contractors/{firm['id']}/jobs", json=body), 201)
    ok(c["safety_officer"].post(f"/api/v1/contractors/jobs/{j['id']}/approve", json={}))
    return j


def test_firm_status_follows_its_reviewed_documents(c):
    f = ok(c["admin"].post("/api/v1/contractors", json={"name": "临江安装公司"}), 201)
    assert f["status"] == "expired" and "missing:safety_licence" in f["problems"]   # Art. 49: nothing proven yet
    d = ok(c["admin"].post(f"/api/v1/contractors/{f['id']}/documents",
                           json={"kind": "safety_licence", "expires_on": (TODAY - DAY).isoformat()}), 201)
    assert d["status"] == "pending" and d["state"] == "expired"
    # no self-approval, and a rejection needs its reason
    r = c["admin"].post(f"/api/v1/contractors/documents/{d['id']}/review", json={"decision": "approve"})
    assert r.status_code == 403 and "submitted" in r.get_json()["error"]["messages"]["en"]
    r = c["safety_officer"].post(f"/api/v1/contractors/documents/{d['id']}/review", json={"decision": "reject"})
    assert r.status_code == 422 and r.get_json()["error"]["details"][0]["key"] == "reason"
    ok(c["safety_officer"].post(f"/api/v1/contractors/documents/{d['id']}/review",
                                json={"decision": "reject", "reason": "许可证已过期"}))
    assert c["safety_officer"].post(f"/api/v1/contractors/documents/{d['id']}/review",
                                    json={"decision": "approve"}).status_code == 409   # reviewed once
    good = qualified_firm(c)
    firms = {x["name"]: x for x in ok(c["kiosk"].get("/api/v1/contractors"))["contractors"]}
    assert firms["临江安装公司"]["status"] == "expired" and firms[good["name"]]["status"] == "ok"
    types = [e.type for e in events.read_after(0, 500) if e.type.startswith("contractor.")]
    assert types[:3] == ["contractor.firm_created", "contractor.document_added", "contractor.document_reviewed"]


def test_bad_input_names_the_field_and_changes_nothing(c):
    before = events.head_seq()
    r = c["admin"].post("/api/v1/contractors", json={"name": "某公司", "credit_code": "123"})
    assert r.status_code == 422 and r.get_json()["error"]["details"][0]["key"] == "credit_code"
    f = qualified_firm(c)
    mark = events.head_seq()
    r = c["admin"].post(f"/api/v1/contractors/{f['id']}/workers",
                        json={"employee_no": "C9", "name": "甲", "id_number": "110105194912310021"})
    assert r.status_code == 422 and r.get_json()["error"]["details"][0]["key"] == "id_number"
    r = c["admin"].post(f"/api/v1/contractors/{f['id']}/jobs",
                        json={"title": "x作业", "starts_on": "2025-06-02", "ends_on": "2025-06-01"})
    assert r.status_code == 422
    r = c["admin"].post(f"/api/v1/contractors/{f['id']}/documents", json={"kind": "passport"})
    assert r.status_code == 422 and r.get_json()["error"]["details"][0]["key"] == "kind"
    assert events.head_seq() == mark and mark > before
    assert c["worker"].get("/api/v1/contractors").status_code == 403
    assert c["supervisor"].post("/api/v1/contractors", json={"name": "某某公司"}).status_code == 403


def test_id_number_is_masked_and_training_recorded(c):
    f = qualified_firm(c)
    w = worker(c, f, "C3001", "吴刚", WELDER_UID)
    assert w["id_number"] == "1101**********002X" and w["training"] == "valid" and w["badges"] == ["00A1"]
    detail = ok(c["supervisor"].get(f"/api/v1/contractors/{f['id']}"))
    assert detail["staff"][0]["id_number"] == "1101**********002X"
    assert "11010519491231002X" not in str(detail)
    r = c["admin"].post(f"/api/v1/contractors/workers/{w['person_id']}/training",
                        json={"trained_on": (TODAY + 2 * DAY).isoformat()})
    assert r.status_code == 422 and r.get_json()["error"]["details"][0]["key"] == "trained_on"


def test_a_job_starts_only_after_every_worker_confirmed_the_briefing(c):
    f = qualified_firm(c)
    a, b = worker(c, f, "C3001", "吴刚", WELDER_UID), worker(c, f, "C3002", "孙丽", FITTER_UID)
    j = ok(c["admin"].post(f"/api/v1/contractors/{f['id']}/jobs",
                           json={"title": "储罐区管线动火", "starts_on": TODAY.isoformat(), "ends_on": TODAY.isoformat(),
                                 "workers": [a["person_id"], b["person_id"]]}), 201)
    assert c["admin"].post(f"/api/v1/contractors/jobs/{j['id']}/approve", json={}).status_code == 403  # own job
    ok(c["safety_officer"].post(f"/api/v1/contractors/jobs/{j['id']}/approve", json={}))
    r = c["supervisor"].post(f"/api/v1/contractors/jobs/{j['id']}/start", json={})
    assert r.status_code == 409 and "briefing" in r.get_json()["error"]["messages"]["en"]
    br = ok(c["supervisor"].post(f"/api/v1/contractors/jobs/{j['id']}/briefings",
                                 json={"content": "动火点周围 15 m 清除可燃物；监护人全程在场；气体分析合格后方可动火。"}), 201)
    ok(c["supervisor"].post(f"/api/v1/contractors/briefings/{br['id']}/confirm", json={"uid": WELDER_UID}), 201)
    assert c["supervisor"].post(f"/api/v1/contractors/briefings/{br['id']}/confirm",
                                json={"uid": WELDER_UID}).status_code == 409           # once
    assert c["supervisor"].post(f"/api/v1/contractors/briefings/{br['id']}/confirm",
                                json={"uid": STRANGER_UID}).status_code == 422         # nobody's card
    assert c["supervisor"].post(f"/api/v1/contractors/jobs/{j['id']}/start", json={}).status_code == 409
    ok(c["supervisor"].post(f"/api/v1/contractors/briefings/{br['id']}/confirm", json={"uid": FITTER_UID}), 201)
    assert ok(c["supervisor"].post(f"/api/v1/contractors/jobs/{j['id']}/start", json={}))["status"] == "started"
    # evaluation after the job: a low score flags the firm for review
    assert c["supervisor"].post(f"/api/v1/contractors/jobs/{j['id']}/evaluation",
                                json={"ppe_violations": 0, "hazards_caused": 0, "permit_breaches": 0,
                                      "rating": 5}).status_code == 409                 # not finished yet
    ok(c["supervisor"].post(f"/api/v1/contractors/jobs/{j['id']}/finish", json={}))
    e = ok(c["supervisor"].post(f"/api/v1/contractors/jobs/{j['id']}/evaluation",
                                json={"ppe_violations": 4, "hazards_caused": 2, "permit_breaches": 1, "rating": 2}), 201)
    assert (e["score"], e["grade"]) == (36, "fail")
    assert ok(c["admin"].get("/api/v1/contractors"))["contractors"][0]["review_flag"] == "review"
    assert "contractor.review_flagged" in [x.type for x in events.read_after(0, 500)]


def tap(reader, uid):
    """A badge read at `reader` as the reader driver hands it over: patrol records the tap (the
    patrol.tap event); the gate decides it as the bus subscriber does."""
    from appliance.contractors import gate
    from appliance.patrol import taps

    mark = events.head_seq()
    taps.record_tap(reader, uid, events.now_ms())
    for ev in events.read_after(mark, 50):
        gate.on_event(ev)
    decided = [e for e in events.read_after(mark, 50) if e.type.startswith("contractor.gate_")]
    assert len(decided) == 1, decided
    return decided[0]


def test_the_gate_decides_each_tap_with_its_reason(c):
    from appliance.contractors.models import Firm

    f = qualified_firm(c)
    welder = worker(c, f, "C3001", "吴刚", WELDER_UID)
    untrained = worker(c, f, "C3002", "孙丽", FITTER_UID, trained=False)
    job(c, f, [welder, untrained])
    ev = tap("GATE", WELDER_UID)
    assert ev.type == "contractor.gate_allowed" and ev.payload["person"] == "吴刚"
    ev = tap("GATE", FITTER_UID)
    assert ev.type == "contractor.gate_refused" and ev.payload["reason"] == "no_training"
    assert ev.payload["reason_zh"] == "未完成入厂安全教育"
    ev = tap("GATE", STRANGER_UID)
    assert ev.type == "contractor.gate_refused" and ev.payload["reason"] == "unknown_badge"
    # blacklisted: everyone of the firm is refused, the reason shown
    ok(c["safety_officer"].post(f"/api/v1/contractors/{f['id']}/blacklist",
                                json={"blacklisted": True, "reason": "动火作业未办票"}))
    assert Firm.get_by_id(f["id"]).blacklisted_by == "user:u_safety_officer"
    ev = tap("GATE", WELDER_UID)
    assert ev.payload["reason"] == "blacklisted" and ev.payload["decision"] == "refused"
    # a reader that is not a gate decides nothing; one tap is decided once
    from appliance.contractors import gate
    from appliance.patrol import taps

    mark = events.head_seq()
    taps.record_tap("CP-TANK", WELDER_UID, events.now_ms())
    for e in events.read_after(mark, 50):
        gate.on_event(e)
        gate.on_event(e)
    assert not [e for e in events.read_after(mark, 50) if e.type.startswith("contractor.")]
    # the API contract
    entries = ok(c["kiosk"].get("/api/v1/gate/entries?since=0"))["entries"]
    assert [e["decision"] for e in entries] == ["refused", "refused", "refused", "allowed"]
    assert set(entries[0]) >= {"at", "person", "firm", "reader", "decision", "reason"}
    assert entries[-1]["person"] == "吴刚" and entries[-1]["firm"] == f["name"] and entries[-1]["reader"] == "GATE"
    assert ok(c["kiosk"].get(f"/api/v1/gate/entries?since={entries[0]['at']}"))["entries"] == []
    assert c["kiosk"].get("/api/v1/gate/entries?since=x").status_code == 422


def test_an_expired_qualification_refuses_and_exit_taps_leave_the_site(c):
    lapsed = [(k, (TODAY - DAY).isoformat() if k == "safety_licence" else e) for k, e in GOOD_DOCS]
    bad = qualified_firm(c, "临江安装公司", lapsed)
    assert bad["status"] == "expired"
    w = worker(c, bad, "C4001", "周平", FITTER_UID)
    # an unqualified firm's job cannot even be approved (安全生产法 Art. 49)
    j = ok(c["admin"].post(f"/api/v1/contractors/{bad['id']}/jobs",
                           json={"title": "仓库货架维修", "starts_on": TODAY.isoformat(), "ends_on": TODAY.isoformat(),
                                 "workers": [w["person_id"]]}), 201)
    r = c["safety_officer"].post(f"/api/v1/contractors/jobs/{j['id']}/approve", json={})
    assert r.status_code == 409 and "Art. 49" in r.get_json()["error"]["messages"]["en"]
    ev = tap("GATE", FITTER_UID)
    assert ev.payload["reason"] == "firm_unqualified" and "no_active_job" in ev.payload["reasons"]
    good = qualified_firm(c)
    welder = worker(c, good, "C3001", "吴刚", WELDER_UID)
    job(c, good, [welder])
    tap("GATE", WELDER_UID)
    site = ok(c["supervisor"].get("/api/v1/gate/on-site"))["firms"]
    assert [(s["firm"], [p["person"] for p in s["people"]]) for s in site] == [(good["name"], ["吴刚"])]
    assert tap("GATE-OUT", WELDER_UID).type == "contractor.gate_exit"
    assert ok(c["supervisor"].get("/api/v1/gate/on-site"))["firms"] == []


def test_gate_checks_the_job_certificates_held_in_training(app):
    """30号令 Art. 21: a contractor's worker on a job that needs a 特种作业操作证 is admitted only with one valid
    today, as the training domain records it; without it the gate refuses naming the certificate."""
    from datetime import date, timedelta

    from appliance.contractors import gate
    from appliance.core import events
    from appliance.core import people as P
    from appliance.training import certificates as TC

    p = P.create_person(P.PersonIn(employee_no="C9001", name="赵焊", kind="contractor"), actor="test")
    assert gate.certificates_of(p.id) == ()
    today = TC.day_of(events.now_ms())
    TC.add(TC.CertificateIn(person_id=p.id, kind="WELD-FUSION", number="T1", issued_on=(today - timedelta(days=400)).isoformat(),
                            expires_on=(today - timedelta(days=1)).isoformat()), actor="test")
    TC.add(TC.CertificateIn(person_id=p.id, kind="ELEC-LV", number="T2", issued_on=(today - timedelta(days=10)).isoformat()),
           actor="test")
    held = {c.type: c for c in gate.certificates_of(p.id)}
    assert set(held) == {"welding", "electrician"}
    assert held["welding"].expires_on == today - timedelta(days=1)
    from appliance.contractors import rules as R
    assert R.certificate_problems(["welding", "electrician"], held.values(), today) == ("expired:welding",)
    assert isinstance(held["electrician"].expires_on, date)


def test_the_demo_has_a_welder_refused_for_his_lapsed_certificate(tmp_path):
    """`make demo` (issue 19): a firm in good standing whose welder's 焊工 特种作业操作证 lapsed: the gate
    refuses him for the certificate (30号令 Art. 21), the fitter of the lapsed firm for its licence, and
    admits 吴刚 — whose hot-work permit needs him admitted and briefed (he is a contractor's worker)."""
    import json
    import subprocess
    import sys

    from conftest import ROOT

    code = ("import sys, json; from appliance import demo; from appliance.contractors import config as C, gate; "
            "from appliance.core import events, people as P; "
            "cfg, _ = demo.prepare(sys.argv[1], 18998, '127.0.0.1'); C.configure(cfg.contractors); "
            "out = {}; "
            "[out.__setitem__(no, gate.decide('GATE', P.Person.get(P.Person.employee_no == no).id, events.now_ms())) "
            " for no in ('C2001', 'C2003', 'C2004')]; "
            "print(json.dumps({k: [v['decision'], v['reason'], v['reasons'], v['firm']] for k, v in out.items()}, "
            "ensure_ascii=False))")
    r = subprocess.run([sys.executable, "-c", code, str(tmp_path / "d")], cwd=ROOT, capture_output=True, text=True,
                       timeout=120)
    assert r.returncode == 0, r.stderr
    got = json.loads(r.stdout.strip().splitlines()[-1])
    assert got["C2001"][:2] == ["allowed", "ok"]
    assert got["C2003"][:2] == ["refused", "firm_unqualified"]
    assert got["C2004"] == ["refused", "certificate", ["certificate", "expired:welding"], "滨海焊接工程有限公司"]


def test_the_evaluation_is_prefilled_from_the_records_and_the_supervisor_may_override(c):
    """Issue 19 (evaluation from violations, hazards caused, permit breaches and a rating): the job's findings
    come from the PPE violations in its area on its dates, the hazards whose text names the firm or its people,
    and the suspensions of its people's permits (the gas interlock's excepted); the supervisor's counts win."""
    from appliance.core import people as P
    from appliance.hazards import service as H
    from appliance.permits.service import Permit
    from appliance.vision.violations import Violation

    area = P.create_area(P.AreaIn(code="TANK", name="储罐区", kind="process", polygon=[[0, 0], [9, 0], [9, 9]]),
                         actor="system:test")
    other = P.create_area(P.AreaIn(code="WH", name="仓库", kind="process", polygon=[[20, 0], [29, 0], [29, 9]]),
                          actor="system:test")
    f = qualified_firm(c)
    a = worker(c, f, "C3001", "吴刚", WELDER_UID)
    j = job(c, f, [a], area_id=area.id)
    br = ok(c["supervisor"].post(f"/api/v1/contractors/jobs/{j['id']}/briefings",
                                 json={"content": "动火点周围 15 m 清除可燃物；监护人全程在场。"}), 201)
    ok(c["supervisor"].post(f"/api/v1/contractors/briefings/{br['id']}/confirm", json={"uid": WELDER_UID}), 201)
    ok(c["supervisor"].post(f"/api/v1/contractors/jobs/{j['id']}/start", json={}))
    now = events.now_ms()

    def violation(area_code, at, state="open"):
        Violation.create(camera="cam1", zone="z", area=area_code, track=1, occurred_at=at, score=0.9, box="[]",
                         width=1, height=1, snapshot="x", frame="y", state=state)

    violation("TANK", now - 1000)
    violation("TANK", now - 2000, "confirmed")
    violation("TANK", now - 3000, "rejected")              # a person said it was not one
    violation("WH", now - 1000)                            # another area
    violation("TANK", now - 10 * 86_400_000)               # before the job
    for text in ("江东建设工程施工人员动火点未清理可燃物", "焊工吴刚未系安全带", "储罐区地面油污"):
        H.report(H.ReportIn(area_id=other.id, category="安全", description=text), actor="user:u_worker")
    p = Permit.create(no="HW-9", type="hot_work", grade="2", area_id=area.id, location="T-1", content="焊接",
                      state="active", valid_from=now, valid_to=now + 3_600_000, applicant="u",
                      workers=json.dumps([a["person_id"]]), guardian_id=a["person_id"], issuer_id=a["person_id"],
                      measures="{}", jsa="", approval_level="workshop", created_at=now, updated_at=now)
    for actor in ("user:u_supervisor", "system:interlock"):   # a person stopped the work; then the gas did
        with events.recording(actor) as rec:
            rec.emit("permit.suspended", entity=("permit", p.id), payload={"id": p.id})
    ok(c["supervisor"].post(f"/api/v1/contractors/jobs/{j['id']}/finish", json={}))

    found = ok(c["kiosk"].get(f"/api/v1/contractors/jobs/{j['id']}/findings"))
    assert (found["ppe_violations"], found["hazards_caused"], found["permit_breaches"], found["area"]) == (2, 2, 1, "TANK")
    page = c["supervisor"].get(f"/tablet/contractors/jobs/{j['id']}").get_data(as_text=True)
    assert 'name="ppe_violations" type="number" min="0" max="1000" value="2"' in page and "findings-note" in page
    # the records' counts where the supervisor gives none; theirs where they do
    e = ok(c["supervisor"].post(f"/api/v1/contractors/jobs/{j['id']}/evaluation",
                                json={"hazards_caused": 0, "rating": 4}), 201)
    assert (e["ppe_violations"], e["hazards_caused"], e["permit_breaches"]) == (2, 0, 1)
    ev = [x for x in events.read_after(0, 1000) if x.type == "contractor.evaluated"][-1]
    assert ev.payload["found"] == {"ppe_violations": 2, "hazards_caused": 2, "permit_breaches": 1}
    assert ev.payload["overridden"] == ["hazards_caused"]


def statements(fn):
    """The SQL statements sqlite runs for fn() on this thread's connection (the test client's requests run
    here too)."""
    from appliance.core import db

    seen: list[str] = []
    conn = db.database.connection()
    conn.set_trace_callback(seen.append)
    try:
        fn()
    finally:
        conn.set_trace_callback(None)
    return seen


def test_a_gate_tap_reads_only_the_persons_own_certificates(app):
    """Each tap reads the person's certificates by their own rows: the training domain's listing() built the
    whole list and loaded every person (170 ms a tap with 3,000 people on file, bench/gate.py)."""
    from appliance.contractors import gate
    from appliance.core import people as P
    from appliance.training import certificates as TC

    p = P.create_person(P.PersonIn(employee_no="C9101", name="钱焊", kind="contractor"), actor="test")
    other = P.create_person(P.PersonIn(employee_no="C9102", name="李电", kind="contractor"), actor="test")
    today = TC.day_of(events.now_ms())
    for who, kind, no in ((p, "WELD-FUSION", "W1"), (p, "ELEC-LV", "E1"), (other, "ELEC-HV", "E2")):
        TC.add(TC.CertificateIn(person_id=who.id, kind=kind, number=no, issued_on=(today - 10 * DAY).isoformat()),
               actor="test")
    TC.revoke(TC.Certificate.get(TC.Certificate.number == "E1").id, "吊销", actor="test")
    held: list = []
    sql = statements(lambda: held.extend(gate.certificates_of(p.id)))
    assert [(c.type, c.number) for c in held] == [("welding", "W1")]        # the revoked one left out
    assert not [s for s in sql if '"people"' in s], sql
    assert all("WHERE" in s for s in sql if "SELECT" in s), sql


def test_the_archive_and_the_on_site_list_read_all_firms_and_people_in_a_few_queries(c):
    """The archive lists every firm and who is on site; its queries do not grow with either (300 firms took
    170 ms firm by firm, and on_site three queries a person)."""
    def archive_queries() -> int:
        pages: list = []
        n = len(statements(lambda: pages.append(c["supervisor"].get("/tablet/contractors"))))
        assert pages[0].status_code == 200
        return n

    good = qualified_firm(c)
    w1 = worker(c, good, "C3001", "吴刚", WELDER_UID)
    job(c, good, [w1])
    tap("GATE", WELDER_UID)
    one = archive_queries()
    for i in range(3):
        f = qualified_firm(c, f"扩建施工{i}有限公司")
        w = worker(c, f, f"C50{i}", f"工人{i}", f"04AB00000000{i:02d}")
        job(c, f, [w])
        tap("GATE", f"04AB00000000{i:02d}")
    site = ok(c["supervisor"].get("/api/v1/gate/on-site"))["firms"]
    assert sorted(p["person"] for s in site for p in s["people"]) == ["吴刚", "工人0", "工人1", "工人2"]
    assert archive_queries() == one
    listed = ok(c["supervisor"].get("/api/v1/contractors"))["contractors"]
    assert [(f["name"], f["status"], f["workers"]) for f in listed][:2] == [("扩建施工0有限公司", "ok", 1),
                                                                           ("扩建施工1有限公司", "ok", 1)]
    single = ok(c["supervisor"].get(f"/api/v1/contractors/{good['id']}"))
    assert {k: single[k] for k in ("status", "problems", "workers", "review_flag")} == \
        {k: next(f for f in listed if f["id"] == good["id"])[k] for k in ("status", "problems", "workers", "review_flag")}
