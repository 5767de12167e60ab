"""#18: approval by several levels (chain.py: GB 30871-2022 附录 A's 动火 form — workshop, safety department,
the grade's approver), the structured JSA (作业危害分析) and a blinding permit's line conditions stored on
the permit (migration 0033, backfilled from the permit.applied event) — rules as tables, then the service."""
from __future__ import annotations

import json
import sqlite3

import pytest

from appliance.core import events
from appliance.permits import chain as C
from appliance.permits import rules as R
from test_permits import JSA, apply, body, site, to_briefed  # noqa: F401  (site is a fixture)

# ---------------------------------------------------------------- the chain, as a table


@pytest.mark.parametrize("wt, grade, required, chain", [
    ("hot_work", "special", "principal", ("workshop", "safety", "principal")),   # 特级: 主要负责人 after 安全部门
    ("hot_work", "1", "safety", ("workshop", "safety")),
    ("hot_work", "2", "workshop", ("workshop",)),
    ("hot_work", "2", "safety", ("workshop", "safety")),                         # SIMOPS escalation adds a level
    ("confined_space", "-", "workshop", ("workshop",)),
    ("lifting", "1", "safety", ("safety",)),
    ("lifting", "3", "safety", ("workshop", "safety")),
    ("blinding", "1", "safety", ("safety",)),
    ("height", "IV", None, ("safety",)),
])
def test_the_chain_per_type_and_grade(wt, grade, required, chain):
    assert C.chain_for(wt, grade, required) == chain


S3 = ("workshop", "safety", "principal")
A = C.Step("workshop", "user:li", 11, "approved")
B = C.Step("safety", "user:zhang", 12, "approved")


@pytest.mark.parametrize("steps, actor, role, person, why", [
    ((), "user:li", "supervisor", 11, None),                  # the workshop signs first
    ((), "user:zhang", "safety_officer", 12, None),           # a safety officer may sign the workshop level too
    ((), "user:app", "supervisor", 99, "self"),               # the applicant
    ((), "user:x", "supervisor", 3, "self"),                  # one on the job (the guardian)
    ((A,), "user:li2", "supervisor", 13, "role"),             # the safety level is not the shift's
    ((A,), "user:li", "admin", 11, "again"),                  # the workshop's signer again, now as admin
    ((A,), "user:other", "admin", 11, "again"),               # the same person under another login
    ((A,), "user:zhang", "safety_officer", 12, None),
    ((A, B), "user:zhang", "admin", 12, "again"),
    ((A, B), "user:boss", "safety_officer", 20, "role"),      # 特级: only the main person in charge
    ((A, B), "user:boss", "admin", 20, None),
    ((A, B, C.Step("principal", "user:boss", 20, "approved")), "user:y", "admin", 21, "done"),
    ((C.Step("workshop", "user:li", 11, "rejected"),), "user:zhang", "safety_officer", 12, "done"),
])
def test_who_may_sign_the_next_level(steps, actor, role, person, why):
    assert C.may_decide(S3, steps, actor=actor, role=role, person_id=person, applicant="user:app",
                        people_on_job=[1, 2, 3]) == why


def test_the_pending_level():
    assert C.pending_level(S3, ()) == "workshop"
    assert C.pending_level(S3, (A,)) == "safety"
    assert C.pending_level(S3, (A, B)) == "principal"
    assert C.pending_level(S3, (A, C.Step("safety", "user:z", 2, "rejected"))) is None


# ---------------------------------------------------------------- JSA and the blinding conditions, as tables

ROW = {"step": "拆法兰", "hazards": "残液喷溅", "measures": "泄压排空，戴面屏", "responsible": "王芳"}


@pytest.mark.parametrize("wt, grade, rows, problems", [
    ("hot_work", "special", [], [("jsa_rows", "required")]),
    ("hot_work", "1", [], [("jsa_rows", "required")]),
    ("hot_work", "2", [], []),                                     # optional for 二级
    ("confined_space", "-", [], [("jsa_rows", "required")]),
    ("height", "III", [], [("jsa_rows", "required")]),
    ("height", "II", [], []),
    ("lifting", "1", [], [("jsa_rows", "required")]),
    ("blinding", "1", [ROW], []),
    ("hot_work", "2", [{**ROW, "hazards": " "}], [("jsa_rows.0.hazards", "empty")]),
    ("hot_work", "2", [ROW, {**ROW, "responsible": ""}], [("jsa_rows.1.responsible", "empty"),
                                                          ("jsa_rows.1.step", "repeated")]),
])
def test_jsa_problems(wt, grade, rows, problems):
    assert C.jsa_problems(wt, grade, rows) == problems


@pytest.mark.parametrize("temp, pressure, problems", [
    (25, 0.3, []), (-196, -0.1, []), (800, 42, []),
    (None, 0.3, [("medium_temp_c", "missing")]), (25, None, [("medium_pressure_mpa", "missing")]),
    (900, 0.3, [("medium_temp_c", "range")]), (25, 160, [("medium_pressure_mpa", "range")]),   # kPa typed as MPa
])
def test_blinding_conditions(temp, pressure, problems):
    assert R.blinding_condition_problems(temp, pressure) == problems


# ---------------------------------------------------------------- the service


def _confirm(c, pid, ptype="hot_work"):
    r = c["supervisor"].post(f"/api/v1/permits/{pid}/measures",
                             json={"measures": {m: {"by": "王芳"} for m, *_ in R.MEASURES[ptype]}})
    assert r.get_json()["state"] == "measures_confirmed"


def test_special_hot_work_needs_three_levels_in_order_by_three_people(site):  # noqa: F811
    c, areas, people = site
    p = apply(c, areas, people, grade="special", valid_to=events.now_ms() + 7 * 3_600_000)
    pid = p["id"]
    assert [a["level"] for a in p["approvals"]] == ["workshop", "safety", "principal"]
    _confirm(c, pid)
    # the main person in charge cannot skip ahead: admin signs the pending (workshop) level, not the last
    r = c["safety_officer"].post(f"/api/v1/permits/{pid}/approve", json={"note": "车间同意"})
    assert r.status_code == 200 and r.get_json()["state"] == "measures_confirmed"
    chain = r.get_json()["approvals"]
    assert [a["state"] for a in chain] == ["approved", "pending", "waiting"]
    assert chain[0]["by"] == "user:u_safety_officer" and chain[0]["at"]
    # the same person again at the safety level: refused
    r = c["safety_officer"].post(f"/api/v1/permits/{pid}/approve", json={})
    assert r.status_code == 403 and "不同人" in r.get_json()["error"]["message"]
    assert c["supervisor"].post(f"/api/v1/permits/{pid}/approve", json={}).status_code == 403   # not the safety level
    r = c["admin"].post(f"/api/v1/permits/{pid}/approve", json={})
    assert r.status_code == 200 and [a["state"] for a in r.get_json()["approvals"]] == ["approved", "approved", "pending"]
    # the principal level: admin only, and admin signed already — nobody else may: it stays pending
    assert c["admin"].post(f"/api/v1/permits/{pid}/approve", json={}).status_code == 403
    assert c["safety_officer"].post(f"/api/v1/permits/{pid}/approve", json={}).status_code == 403
    got = c["admin"].get(f"/api/v1/permits/{pid}").get_json()
    assert got["state"] == "measures_confirmed" and got["approvals"][2]["state"] == "pending"
    log = [e.type for e in events.Event.select().where((events.Event.entity_type == "permit")
                                                       & (events.Event.entity_id == str(pid)))]
    assert log.count("permit.level_approved") == 2 and "permit.approved" not in log


def test_first_grade_hot_work_workshop_then_safety(site):  # noqa: F811
    c, areas, people = site
    p = apply(c, areas, people, grade="1", valid_to=events.now_ms() + 7 * 3_600_000)
    _confirm(c, p["id"])
    assert c["supervisor"].post(f"/api/v1/permits/{p['id']}/approve", json={}).get_json()["state"] == "measures_confirmed"
    r = c["safety_officer"].post(f"/api/v1/permits/{p['id']}/approve", json={"note": "同意"})
    assert r.status_code == 200 and r.get_json()["state"] == "approved"
    assert r.get_json()["approved_by"] == "user:u_safety_officer"
    ev = [e for e in events.Event.select().where(events.Event.entity_id == str(p["id"]))
          if e.type in ("permit.level_approved", "permit.approved")]
    assert [(e.type, json.loads(e.payload)["level"], json.loads(e.payload)["step"]) for e in ev] == [
        ("permit.level_approved", "workshop", 1), ("permit.approved", "safety", 2)]


def test_no_self_approval_at_any_level(site):  # noqa: F811
    c, areas, people = site
    p = apply(c, areas, people, who="supervisor", grade="1", valid_to=events.now_ms() + 7 * 3_600_000)
    _confirm(c, p["id"])
    r = c["supervisor"].post(f"/api/v1/permits/{p['id']}/approve", json={})
    assert r.status_code == 403 and "本人" in r.get_json()["error"]["message"]
    r = c["supervisor"].post(f"/api/v1/permits/{p['id']}/reject", json={"reason": "x"})
    assert r.status_code == 403                            # nor reject one's own


def test_a_rejection_at_the_second_level_ends_it_with_the_reason(site):  # noqa: F811
    c, areas, people = site
    p = apply(c, areas, people, grade="1", valid_to=events.now_ms() + 7 * 3_600_000)
    pid = p["id"]
    assert c["safety_officer"].post(f"/api/v1/permits/{pid}/reject", json={"reason": "x"}).status_code == 409  # measures first
    _confirm(c, pid)
    c["supervisor"].post(f"/api/v1/permits/{pid}/approve", json={})
    r = c["safety_officer"].post(f"/api/v1/permits/{pid}/reject", json={"reason": ""})
    assert r.status_code == 422 and r.get_json()["error"]["details"][0]["key"] == "reason"
    r = c["safety_officer"].post(f"/api/v1/permits/{pid}/reject", json={"reason": "罐区正在倒罐，改期"})
    assert r.status_code == 200
    got = r.get_json()
    assert got["state"] == "rejected" and got["rejected_reason"] == "罐区正在倒罐，改期"
    assert [a["state"] for a in got["approvals"]] == ["approved", "rejected"]
    assert got["approvals"][1]["note"] == "罐区正在倒罐，改期"
    assert c["admin"].post(f"/api/v1/permits/{pid}/approve", json={}).status_code == 409   # it is over
    (e,) = [e for e in events.Event.select().where(events.Event.entity_id == str(pid)) if e.type == "permit.rejected"]
    assert json.loads(e.payload)["note"] == "罐区正在倒罐，改期" and json.loads(e.payload)["level"] == "safety"
    html = c["supervisor"].get(f"/tablet/permits/{pid}").get_data(as_text=True)
    assert "罐区正在倒罐，改期" in html and "已驳回" in html


def test_the_detail_page_shows_the_chain(site):  # noqa: F811
    c, areas, people = site
    p = apply(c, areas, people, grade="1", valid_to=events.now_ms() + 7 * 3_600_000)
    _confirm(c, p["id"])
    c["supervisor"].post(f"/api/v1/permits/{p['id']}/approve", json={})
    html = c["safety_officer"].get(f"/tablet/permits/{p['id']}").get_data(as_text=True)
    assert 'id="pm-chain"' in html and "u_supervisor" in html and "待审批" in html
    assert "user:u_supervisor" not in html   # the signer by name (or login), never the actor id (issue 15 item 9)
    assert 'id="pm-reject"' in html
    # the workshop's signer, and the applicant, are told whom it waits for instead of being offered the form
    html = c["supervisor"].get(f"/tablet/permits/{p['id']}").get_data(as_text=True)
    assert 'id="pm-approve"' not in html and 'id="pm-waiting"' in html and "安全管理负责人" in html
    html = c["worker"].get(f"/tablet/permits/{p['id']}").get_data(as_text=True)
    assert 'id="pm-approve"' not in html and "pm.chain" not in html


def test_jsa_rows_stored_shown_and_required(site):  # noqa: F811
    c, areas, people = site
    r = c["worker"].post("/api/v1/permits", json=body(areas, people, grade="1", jsa_rows=[],
                                                      valid_to=events.now_ms() + 7 * 3_600_000))
    assert r.status_code == 422 and r.get_json()["error"]["details"][0]["key"] == "jsa_rows"
    r = c["worker"].post("/api/v1/permits", json=body(areas, people, jsa_rows=[{**JSA[0], "measures": ""}]))
    assert r.status_code == 422 and r.get_json()["error"]["details"][0]["key"] == "jsa_rows.0.measures"
    assert "第 1 行的控制措施不能为空" in r.get_json()["error"]["messages"]["zh-CN"]
    rows = [JSA[0], {"step": "焊接", "hazards": "火花飞溅", "measures": "接火盆，监火人", "responsible": "赵敏"}]
    p = apply(c, areas, people, grade="1", jsa_rows=rows, valid_to=events.now_ms() + 7 * 3_600_000)
    assert p["jsa_rows"] == rows and p["jsa_required"] is True
    html = c["worker"].get(f"/tablet/permits/{p['id']}").get_data(as_text=True)
    assert 'id="pm-jsa"' in html and "火花飞溅" in html and "接火盆，监火人" in html


def test_blinding_conditions_stored_validated_and_graded(site):  # noqa: F811
    c, areas, people = site
    kw = dict(type="blinding", grade="-", medium="N2", workers=[people["helper"]], content="法兰处加装盲板")
    r = c["worker"].post("/api/v1/permits", json=body(areas, people, **kw, medium_temp_c=25))
    assert r.status_code == 422 and [d["key"] for d in r.get_json()["error"]["details"]] == ["medium_pressure_mpa"]
    assert "MPa" in r.get_json()["error"]["messages"]["en"]
    r = c["worker"].post("/api/v1/permits", json=body(areas, people, **kw, medium_temp_c=25, medium_pressure_mpa=160))
    assert r.status_code == 422 and r.get_json()["error"]["details"][0]["key"] == "medium_pressure_mpa"
    assert "-0.1 至 42 MPa" in r.get_json()["error"]["messages"]["zh-CN"]
    p = apply(c, areas, people, **kw, medium_temp_c=80, medium_pressure_mpa=0.4)
    assert p["grade"] == "1" and p["medium_temp_c"] == 80 and p["medium_pressure_mpa"] == 0.4   # hot: grade 1
    cool = apply(c, areas, people, **kw, medium_temp_c=20, medium_pressure_mpa=0.4, area_id=areas["REACT"])
    assert cool["grade"] == "2"
    html = c["worker"].get(f"/tablet/permits/{p['id']}").get_data(as_text=True)
    assert "80 °C" in html and "0.4 MPa" in html
    from test_pdf import flat, pdf_text

    pdf = flat("\n".join(pdf_text(c["worker"].get(f"/tablet/permits/{p['id']}/pdf").data)))
    assert "介质温度80°C" in pdf and "介质压力0.4MPa" in pdf


def test_migration_0033_backfills_the_conditions_from_the_applied_event(tmp_path, app):
    from appliance.core import db

    path = tmp_path / "old.db"
    # the version before this one (its number may change when branches merge: found by name)
    first = next(n for n, name, _ in db.migrations() if name == "permit_blind_conditions")
    db.migrate(path, target=first - 1)
    conn = sqlite3.connect(path)
    conn.execute("INSERT INTO permits (id, no, type, grade, area_id, location, content, state, valid_from, valid_to,"
                 " applicant, workers, guardian_id, issuer_id, approval_level, approved_by, approved_at, created_at,"
                 " updated_at) VALUES (7, 'BL-1', 'blinding', '1', 1, 'P-1', 'x', 'approved', 1, 2, 'user:a', '[]',"
                 " 1, 2, 'safety', 'user:z', 5, 1, 1), (8, 'HO-2', 'hot_work', '2', 1, 'P-2', 'y', 'applied', 1, 2,"
                 " 'user:a', '[]', 1, 2, 'workshop', NULL, NULL, 1, 1)")
    conn.execute("INSERT INTO events (seq, id, type, occurred_at, recorded_at, actor, entity_type, entity_id, payload,"
                 " prev_hash, hash) VALUES (1, 'e1', 'permit.applied', 1, 1, 'user:a', 'permit', '7', ?, '', 'h')",
                 (json.dumps({"medium_temp_c": 65.5, "medium_pressure_mpa": 1.2}),))
    conn.commit()
    conn.close()
    applied = db.migrate(path)
    assert applied[:2] == [f"{first:04d}_permit_blind_conditions", f"{first + 1:04d}_permit_jsa_approvals"], applied
    conn = sqlite3.connect(path)
    rows = conn.execute("SELECT id, medium_temp_c, medium_pressure_mpa, jsa_rows FROM permits ORDER BY id").fetchall()
    assert rows == [(7, 65.5, 1.2, "[]"), (8, None, None, "[]")]
    # the one approval of a permit approved before chains becomes its chain's first step
    assert conn.execute("SELECT permit_id, step, level, decision, actor FROM permit_approvals").fetchall() == [
        (7, 1, "safety", "approved", "user:z")]
    conn.close()


@pytest.mark.parametrize("lang, text", [("zh-CN", "还没有作业票。需要动火"), ("en", "No permits yet. For hot work")])
def test_empty_states_say_what_is_missing_and_what_to_do(site, lang, text):  # noqa: F811
    c, areas, people = site
    c["worker"].c.set_cookie("lang", lang)
    html = c["worker"].get("/tablet/permits").get_data(as_text=True)
    assert text in html and "暂无作业票" not in html
    p = apply(c, areas, people, jsa_rows=[])
    html = c["worker"].get(f"/tablet/permits/{p['id']}").get_data(as_text=True)
    assert ("此作业票没有逐步的作业危害分析" if lang == "zh-CN" else "no step-by-step job safety analysis") in html
    assert ("未设置现场读卡器" if lang == "zh-CN" else "No site reader is set") in html
