"""Training through the API and the certificate interface: certificates and their warnings (100 % coverage,
late not skipped), missing_for over a job window, the question-bank import, exams (one attempt at a time,
no double submit, the server's time limit, retakes), mastery, hours."""
from __future__ import annotations

import io
from datetime import date, timedelta

import pytest

from appliance.core import auth, events
from appliance.core import people as P
from appliance.core.errors import Conflict
from appliance.training import certificates as C
from appliance.training import exams
from conftest import PASSWORD, As

DAY = 86_400_000


@pytest.fixture
def plant(app, users):
    """Two people (a welder and an electrician), a worker login linked to the welder."""
    welder = P.create_person(P.PersonIn(employee_no="C2001", name="吴刚", kind="contractor", company="江东建设"), actor="t")
    elec = P.create_person(P.PersonIn(employee_no="E1008", name="黄勇", kind="employee", department="设备部"), actor="t")
    auth.create_user(auth.UserIn(login="wugang", password=PASSWORD, role="worker", person_id=welder.id), actor="t")
    auth.create_user(auth.UserIn(login="sup", password=PASSWORD, role="supervisor", person_id=elec.id), actor="t")
    users = {**users, "wugang": "wugang", "sup": "sup"}
    return {"welder": welder.id, "elec": elec.id, "as": lambda who: As(app, who, users)}


def today() -> date:
    return C.day_of(events.now_ms())


def add(c, person, kind="WELD-FUSION", number="T1", issued=None, expires=None, **kw):
    body = {"person_id": person, "kind": kind, "number": number, "issued_on": (issued or today() - timedelta(days=400)).isoformat(), **kw}
    if expires is not None:
        body["expires_on"] = expires.isoformat()
    r = c.post("/api/v1/certificates", json=body)
    assert r.status_code == 201, r.get_data(as_text=True)
    return r.get_json()


def test_certificate_defaults_from_the_kind_and_clear_errors(plant):
    office = plant["as"]("safety_officer")
    d = add(office, plant["welder"], issued=date(2024, 3, 1))
    # 30号令: 6 years, reviewed every 3 — the review day is the last valid day until it is recorded
    assert (d["expires_on"], d["review_due_on"], d["last_valid_on"], d["reason"]) == \
        ("2030-02-28", "2027-02-28", "2027-02-28", "review")
    r = office.post("/api/v1/certificates", json={"person_id": plant["welder"], "kind": "NOPE", "number": "x", "issued_on": "2024-01-01"})
    assert r.status_code == 422 and r.get_json()["error"]["details"][0]["key"] == "kind"
    r = office.post("/api/v1/certificates", json={"person_id": plant["welder"], "kind": "ELEC-LV", "number": "x", "issued_on": "2024-13-01"})
    assert r.status_code == 422 and r.get_json()["error"]["details"][0]["key"] == "issued_on"
    r = office.post("/api/v1/certificates", json={"person_id": plant["welder"], "kind": "WELD-FUSION", "number": "T1", "issued_on": "2024-01-01"})
    assert r.status_code == 409 and "T1" in r.get_json()["error"]["messages"]["en"]
    assert plant["as"]("worker").post("/api/v1/certificates", json={}).status_code == 403
    assert C.Certificate.select().count() == 1
    r = office.patch(f"/api/v1/certificates/{d['id']}", json={"review_due_on": "2030-02-28"})   # reviewed
    assert r.get_json()["last_valid_on"] == "2030-02-28"
    types = [e.type for e in events.read_after(0, 500) if e.entity_type == "certificate"]
    assert types == ["certificate.added", "certificate.updated"]


def test_missing_for_covers_the_whole_job_window(plant):
    office = plant["as"]("safety_officer")
    add(office, plant["welder"], expires=today() + timedelta(days=3))
    now = events.now_ms()
    assert C.missing_for(plant["welder"], ["WELD"], now, now + 2 * DAY) == []
    probs = C.missing_for(plant["welder"], ["WELD", "HEIGHT"], now, now + 5 * DAY)
    assert [(p["required"], p["code"]) for p in probs] == [("WELD", "expires_during"), ("HEIGHT", "missing")]
    assert [c["number"] for c in C.valid_certificates(plant["welder"], now)] == ["T1"]
    assert C.valid_certificates(plant["welder"], now + 10 * DAY) == []
    with pytest.raises(ValueError):
        C.missing_for(plant["welder"], ["WELDING"], now, now)
    r = office.get(f"/api/v1/certificates/check?person_id={plant['welder']}&types=WELD&start={now}&end={now + 5 * DAY}")
    assert r.get_json()["problems"][0]["code"] == "expires_during"
    assert office.get(f"/api/v1/certificates/check?person_id={plant['welder']}&types=X").status_code == 422


def test_every_certificate_is_warned_before_it_lapses_never_silent(plant):
    office = plant["as"]("safety_officer")
    t = today()
    due = {n: add(office, plant["elec"], kind="ELEC-LV", number=f"D{n}", expires=t + timedelta(days=n))["id"]
           for n in (5, 25, 55, 200)}
    lapsed = add(office, plant["welder"], number="OLD", issued=t - timedelta(days=900), expires=t - timedelta(days=3))["id"]
    before = {d["id"]: d["state"] for d in C.listing()}
    assert before[due[5]] == "silent" and before[due[200]] == "valid"
    assert C.scan() == 4                                  # 5, 25, 55 and the lapsed one (late)
    assert C.scan() == 0                                  # once per threshold
    listed = {d["id"]: d for d in C.listing()}
    assert not C.coverage()["silent"]
    assert {listed[i]["state"] for i in (due[5], due[25], due[55])} == {"warned"}
    assert listed[due[200]]["state"] == "valid" and listed[lapsed]["state"] == "expired"
    assert listed[due[55]]["warned"] == [60]
    assert listed[due[25]]["warned"] == [60, 30]
    assert 7 in listed[due[5]]["warned"]
    # the lapsed one was entered after it lapsed: warned late, counted apart from the rate
    cov = C.coverage()
    assert (cov["lapsed"], cov["entered_lapsed"], cov["rate"]) == (0, 1, 100.0)
    ev = [e for e in events.read_after(0, 500) if e.type == "certificate.warned"]
    late = next(e for e in ev if e.entity_id == str(lapsed))
    assert late.payload["late"] is True and late.payload["before_expiry"] is False
    near = next(e for e in ev if e.entity_id == str(due[5]))
    assert near.payload["to"] == ["safety_office", "user:sup"]   # the office and the holder's department supervisor
    # the API contract of issue #20
    r = office.get("/api/v1/certificates?expiring_within_days=30").get_json()["certificates"]
    assert [c["number"] for c in r] == ["OLD", "D5", "D25"]
    assert {"person", "kind", "number", "expires_on", "warned"} <= set(r[0])
    # a renewal starts a new schedule; the old warnings stay on record
    office.patch(f"/api/v1/certificates/{due[5]}", json={"expires_on": (t + timedelta(days=2000)).isoformat()})
    assert C.certificate_dict(C.get(due[5]))["state"] == "valid"


def test_a_warning_missed_while_off_is_sent_late_and_counts_before_expiry(plant):
    office = plant["as"]("safety_officer")
    t = today()
    cid = add(office, plant["elec"], kind="ELEC-LV", number="L1", expires=t + timedelta(days=20))["id"]
    # the box was off when the certificate crossed 60 and 30 days: one warning now, both thresholds recorded
    C.scan()
    rows = list(C.Warning.select().where(C.Warning.certificate_id == cid).order_by(C.Warning.days.desc()))
    assert [(w.days, w.late, w.before_expiry) for w in rows] == [(60, True, True), (30, True, True)]
    # days pass, the expiry comes and goes with the box running: the rest on time
    C.scan(events.now_ms() + 30 * DAY)
    assert sorted(w.days for w in C.Warning.select().where(C.Warning.certificate_id == cid)) == [0, 7, 30, 60]
    cov = C.coverage(events.now_ms() + 30 * DAY)
    assert (cov["lapsed"], cov["warned_before_lapse"], cov["rate"]) == (1, 1, 100.0)
    # one recorded while valid, the box off from before its 0-day warning until after it lapsed: warned late,
    # and the rate shows it
    other = add(office, plant["welder"], number="L2", expires=t + timedelta(days=40))["id"]
    C.Warning.insert_many([{"certificate_id": other, "last_valid_on": (t + timedelta(days=40)).isoformat(), "days": d,
                            "due_on": t.isoformat(), "sent_at": events.now_ms(), "late": False, "before_expiry": True}
                           for d in (60, 30, 7)]).execute()
    never = add(office, plant["welder"], kind="HEIGHT-MAINT", number="L3", expires=t + timedelta(days=1))["id"]
    C.scan(events.now_ms() + 45 * DAY)
    w0 = C.Warning.get((C.Warning.certificate_id == other) & (C.Warning.days == 0))
    assert (w0.late, w0.before_expiry) == (True, False)
    cov = C.coverage(events.now_ms() + 45 * DAY)
    assert (cov["lapsed"], cov["warned_before_lapse"], cov["rate"]) == (3, 2, 66.7)
    assert not C.Warning.select().where((C.Warning.certificate_id == never) & C.Warning.before_expiry).exists()


def test_the_inbox_and_acknowledgement(plant):
    office, sup = plant["as"]("safety_officer"), plant["as"]("sup")
    add(office, plant["elec"], kind="ELEC-LV", number="A1", expires=today() + timedelta(days=6))
    C.scan()
    inbox = sup.get("/api/v1/certificates/warnings").get_json()
    assert len(inbox["warnings"]) == 1 and inbox["warnings"][0]["number"] == "A1"
    wid = inbox["warnings"][0]["id"]
    assert plant["as"]("worker").post(f"/api/v1/certificates/warnings/{wid}/ack", json={}).status_code == 403
    assert sup.post(f"/api/v1/certificates/warnings/{wid}/ack", json={}).status_code == 200
    assert sup.get("/api/v1/certificates/warnings").get_json()["warnings"] == []   # its earlier thresholds with it
    assert sup.post(f"/api/v1/certificates/warnings/{wid}/ack", json={}).status_code == 409
    assert plant["as"]("kiosk").get("/api/v1/certificates/counts").get_json()["warned"] == 1


BANK_CSV = """题号,题型,题干,选项A,选项B,选项C,选项D,答案,解析,知识点,工种,难度
F1,单选,动火分析后超过多少分钟未动火应重新分析？,10,30,60,120,B,GB 30871,动火作业,动火,中
F2,多选,动火作业前应采取哪些措施？,清理可燃物,气体分析,配备灭火器材,无需监护,ABC,,动火作业,动火,难
F3,判断,受限空间作业可以不设监护人。,,,,,错误,必须设监护人,受限空间,,易
E1,单选,低压电工作业属于特种作业吗？,是,否,,,A,,用电安全,电工,1
E2,判断,临时用电线路可以随意拖地。,,,,,×,,用电安全,,1
"""


def upload(c, text, dry):
    return c.post(f"/api/v1/training/questions/import?dry_run={int(dry)}",
                  data={"file": (io.BytesIO(text.encode("utf-8")), "bank.csv")}, content_type="multipart/form-data")


def test_question_import_reports_row_errors_and_writes_nothing(plant):
    office = plant["as"]("safety_officer")
    bad = BANK_CSV.replace("ABC,,", "ABZ,,").replace("错误,必须", "也许,必须").replace(",中\n", ",超难\n")
    r = upload(office, bad, dry=True).get_json()
    assert r["ok"] is False
    assert [(e["row"], e["column"]) for e in r["errors"]] == [(2, "difficulty"), (3, "answer"), (4, "answer")]
    r = upload(office, bad, dry=False)
    assert r.status_code == 422 and "3" in r.get_json()["error"]["messages"]["zh-CN"]
    assert office.get("/api/v1/training/questions").get_json()["questions"] == []
    r = upload(office, BANK_CSV, dry=True).get_json()
    assert r["ok"] and r["summary"] == {"created": 5, "updated": 0, "unchanged": 0}
    assert office.get("/api/v1/training/questions").get_json()["questions"] == []     # a dry run writes nothing
    assert upload(office, BANK_CSV, dry=False).get_json()["summary"]["created"] == 5
    assert upload(office, BANK_CSV, dry=False).get_json()["summary"] == {"created": 0, "updated": 0, "unchanged": 5}
    qs = {q["code"]: q for q in office.get("/api/v1/training/questions").get_json()["questions"]}
    assert qs["F2"]["answer"] == [0, 1, 2] and qs["F3"]["options"] == ["正确", "错误"] and qs["F3"]["answer"] == [1]
    assert qs["E2"]["answer"] == [1] and qs["E1"]["difficulty"] == 1
    # the export is the import layout: it reads back unchanged
    csv = office.get("/api/v1/training/questions/export?format=csv").get_data()
    assert upload(office, csv.decode("utf-8-sig"), dry=True).get_json()["summary"]["unchanged"] == 5
    xlsx = office.get("/api/v1/training/questions/export?format=xlsx").get_data()
    r = office.post("/api/v1/training/questions/import?dry_run=1", content_type="multipart/form-data",
                    data={"file": (io.BytesIO(xlsx), "bank.xlsx")}).get_json()
    assert r["ok"] and r["summary"]["unchanged"] == 5
    assert plant["as"]("worker").post("/api/v1/training/questions/import", json={}).status_code == 403


def _exam(office, count=4, topic=None, **kw):
    r = office.post("/api/v1/training/exams", json={"title": "动火与用电", "picks": [{"topic": topic, "count": count}],
                                                    "pass_mark": 75, "time_limit_min": 10, **kw})
    return r


def test_exam_one_attempt_at_a_time_scored_once_with_retakes(plant):
    office, worker = plant["as"]("safety_officer"), plant["as"]("wugang")
    upload(office, BANK_CSV, dry=False)
    r = _exam(office, count=9)
    assert r.status_code == 422 and r.get_json()["error"]["details"][0]["key"] == "picks.0"
    exam = _exam(office, count=4, max_attempts=2).get_json()
    r = worker.post(f"/api/v1/training/exams/{exam['id']}/attempts", json={})
    assert r.status_code == 201
    a = r.get_json()
    assert len(a["paper"]) == 4 and all("answer" not in q for q in a["paper"])      # the paper has no answers
    again = worker.post(f"/api/v1/training/exams/{exam['id']}/attempts", json={})
    assert again.status_code == 200 and again.get_json()["id"] == a["id"]             # resumed, not a second
    keys = {q["code"]: q["answer"] for q in office.get("/api/v1/training/questions").get_json()["questions"]}
    ids = {q["id"]: q["code"] for q in office.get("/api/v1/training/questions").get_json()["questions"]}
    answers = {str(q["id"]): keys[ids[q["id"]]] for q in a["paper"]}
    first = next(iter(answers))
    answers[first] = [9 - answers[first][0]]                                         # one wrong: 3/4 = 75
    r = worker.post(f"/api/v1/training/attempts/{a['id']}/submit", json={"answers": answers})
    assert r.status_code == 200
    got = r.get_json()
    assert (got["correct"], got["score"], got["passed"]) == (3, 75.0, True)
    assert all("answer" in q and "correct" in q for q in got["paper"])
    assert worker.post(f"/api/v1/training/attempts/{a['id']}/submit", json={"answers": answers}).status_code == 409
    assert worker.post(f"/api/v1/training/exams/{exam['id']}/attempts", json={}).status_code == 409   # passed already
    # someone else's attempt is not found for a worker
    assert plant["as"]("worker").get(f"/api/v1/training/attempts/{a['id']}").status_code == 422   # no person linked
    m = worker.get("/api/v1/training/mastery").get_json()
    assert m["attempts"] == 1 and sum(v["answered"] for v in m["topics"].values()) == 4
    assert worker.get(f"/api/v1/training/mastery?person_id={plant['elec']}").status_code == 403
    assert office.get(f"/api/v1/training/mastery?person_id={plant['welder']}").get_json()["attempts"] == 1


def test_the_time_limit_is_the_servers(plant):
    office, worker = plant["as"]("safety_officer"), plant["as"]("wugang")
    upload(office, BANK_CSV, dry=False)
    exam = _exam(office, count=2, topic="用电安全", max_attempts=3).get_json()
    a = worker.post(f"/api/v1/training/exams/{exam['id']}/attempts", json={}).get_json()
    late = a["deadline_at"] + 31_000                                                  # past the 30 s grace
    ontime = a["deadline_at"] + 29_000                                                # within the grace
    assert exams.submit(a["id"], plant["welder"], exams.SubmitIn(answers={}), actor="t", now_ms=ontime).state == "submitted"
    a = worker.post(f"/api/v1/training/exams/{exam['id']}/attempts", json={}).get_json()   # retake: 0 < pass mark
    late = a["deadline_at"] + 31_000                                                  # past the 30 s grace
    with pytest.raises(Conflict, match="time limit"):
        exams.submit(a["id"], plant["welder"], exams.SubmitIn(answers={}), actor="t", now_ms=late)
    assert exams.get_attempt(a["id"]).state == "timed_out"     # closed, not left open for another try
    # a retake is a new paper; a job closes an abandoned one
    b = worker.post(f"/api/v1/training/exams/{exam['id']}/attempts", json={}).get_json()
    assert b["number"] == 3
    assert exams.close_timed_out(b["deadline_at"] + 60_000) == 1
    r = worker.post(f"/api/v1/training/exams/{exam['id']}/attempts", json={})
    assert r.status_code == 409 and "all 3 attempts" in r.get_json()["error"]["messages"]["en"]


def test_hours_against_the_3号令_minimums(plant):
    office = plant["as"]("safety_officer")
    y = today().year
    assert office.open("PUT", f"/api/v1/training/profiles/{plant['elec']}", json={"category": "worker", "initial_year": y}).status_code == 200
    office.open("PUT", f"/api/v1/training/profiles/{plant['welder']}", json={"category": "safety_manager", "initial_year": y - 2})
    r = office.post("/api/v1/training/records", json={"person_id": plant["elec"], "held_on": f"{y}-01-15", "hours": 8,
                                                      "title": "三级安全教育（厂级）", "kind": "initial"})
    assert r.status_code == 201
    assert office.post("/api/v1/training/records", json={"person_id": plant["elec"], "held_on": "2025-02-30", "hours": 8,
                                                         "title": "x"}).get_json()["error"]["details"][0]["key"] == "held_on"
    assert office.post("/api/v1/training/records", json={"person_id": plant["elec"], "held_on": f"{y}-01-15", "hours": 30,
                                                         "title": "xx"}).status_code == 422
    hours = {h["person_id"]: h for h in office.get(f"/api/v1/training/hours?year={y}").get_json()["people"]}
    assert (hours[plant["elec"]]["required"], hours[plant["elec"]]["short"]) == (72, 64)     # 危化 new worker
    assert (hours[plant["welder"]]["required"], hours[plant["welder"]]["done"]) == (16, 0)   # 危化 manager, yearly
