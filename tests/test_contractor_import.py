"""The contractor roster import (承包商花名册) and firm corrections, through the API on a real database:
a dry run reports exactly what the import would do and writes nothing; bad rows are each named (row,
column) and the import then writes nothing at all; the same file twice changes nothing the second time;
the certificates land in training's records, where the gate and the permits check them."""
from __future__ import annotations

import io
from datetime import date, timedelta

import openpyxl
import pytest

from appliance.core import events

TODAY = date.today()
FIVE_DAYS_AGO = (TODAY - timedelta(days=5)).isoformat()
HEADER = ["单位名称", "统一社会信用代码", "联系人", "联系电话", "工号", "姓名", "工种", "身份证号", "工卡号",
          "入厂教育日期", "证书类别", "证书编号", "发证机关", "发证日期", "有效期至"]


@pytest.fixture
def c(app, users, as_role):
    return {role: as_role(role) for role in ("admin", "safety_officer", "supervisor", "worker")}


def xlsx(rows, title_rows=()) -> bytes:
    wb = openpyxl.Workbook()
    ws = wb.active
    for r in title_rows:
        ws.append(r)
    ws.append(HEADER)
    for r in rows:
        ws.append(r)
    out = io.BytesIO()
    wb.save(out)
    return out.getvalue()


def row(firm="江东建设工程有限公司", no="C3001", name="赵强", job="焊工", uid="04A1B2C3D4E5F6",
        trained=FIVE_DAYS_AGO, kind="熔化焊接与热切割作业", number="T3205001",
        issued="2024-03-01", expires="", contact="项目经理", phone="0512-0000000"):
    return [firm, "", contact, phone, no, name, job, "", uid, trained, kind, number, "苏州市应急管理局", issued, expires]


GOOD = [row(),
        row(kind="登高架设作业", number="T3205002"),                       # the same person, a second certificate
        row(no="C3002", name="钱亮", job="电工", uid="", kind="低压电工作业", number="T3205003"),
        row(firm="临江安装工程有限公司", no="", name="", job="", uid="", trained="", kind="", number="", issued="")]


def post(client, data: bytes, dry: bool, name="roster.xlsx"):
    return client.post(f"/api/v1/contractors/import{'?dry_run=1' if dry else ''}",
                       data={"file": (io.BytesIO(data), name)}, content_type="multipart/form-data")


def head() -> int:
    return events.head_seq()


def test_dry_run_reports_the_changes_and_writes_nothing(c):
    before = head()
    r = post(c["admin"], xlsx(GOOD, title_rows=[["2026 年承包商花名册"]]), dry=True)
    assert r.status_code == 200, r.get_data(as_text=True)
    rep = r.get_json()
    assert rep["ok"] and rep["rows"] == 4 and rep["header_row"] == 2
    assert rep["summary"]["firms"] == {"created": 2, "updated": 0, "unchanged": 2}
    assert rep["summary"]["workers"] == {"created": 2, "unchanged": 1}
    assert rep["summary"]["certificates"] == {"created": 3, "unchanged": 0}
    assert rep["summary"]["trainings"] == {"recorded": 2}
    assert head() == before
    assert c["admin"].get("/api/v1/contractors").get_json()["contractors"] == []


def test_import_writes_firms_people_badges_training_and_certificates(c):
    r = post(c["admin"], xlsx(GOOD), dry=False)
    assert r.status_code == 201, r.get_data(as_text=True)
    firms = {f["name"]: f for f in c["admin"].get("/api/v1/contractors").get_json()["contractors"]}
    assert set(firms) == {"江东建设工程有限公司", "临江安装工程有限公司"}
    assert firms["江东建设工程有限公司"]["workers"] == 2 and firms["临江安装工程有限公司"]["workers"] == 0
    detail = c["admin"].get(f"/api/v1/contractors/{firms['江东建设工程有限公司']['id']}").get_json()
    staff = {w["employee_no"]: w for w in detail["staff"]}
    assert staff["C3001"]["name"] == "赵强" and staff["C3001"]["badges"] == ["E5F6"]
    assert staff["C3001"]["trained_on"] == (TODAY - timedelta(days=5)).isoformat()
    certs = c["admin"].get(f"/api/v1/certificates?person_id={staff['C3001']['person_id']}").get_json()["certificates"]
    assert sorted(x["number"] for x in certs) == ["T3205001", "T3205002"]
    # 30号令: an operation certificate without an expiry date is valid six years from issue
    assert {x["expires_on"] for x in certs} == {"2030-02-28"}
    types = [e["type"] for e in c["admin"].get("/api/v1/events?limit=200").get_json()["events"]]
    assert "contractor.roster_imported" in types
    # the same file again changes nothing
    before = head()
    rep = post(c["admin"], xlsx(GOOD), dry=False).get_json()
    assert rep["summary"]["firms"]["created"] == 0 and rep["summary"]["workers"]["created"] == 0
    assert rep["summary"]["certificates"] == {"created": 0, "unchanged": 3}
    assert head() == before + 1     # only the import's own record


@pytest.mark.parametrize("bad,column,words", [
    (row(no="", number="T9", uid=""), "工号", "工号"),                              # a person without an employee number
    (row(no="C3009", kind="潜水作业", number="T9", uid=""), "证书类别", "潜水作业"),   # not a 30号令 category we know
    (row(no="C3009", issued="2024/13/01", number="T9", uid=""), "发证日期", "YYYY-MM-DD"),   # no 13th month
    (row(no="C3009", trained=(TODAY + timedelta(days=3)).isoformat(), number="T9", uid=""), "入厂教育日期", "晚于今天"),
    (row(no="C3009", uid="XYZ", number="T9"), "工卡号", ""),                 # not a badge UID
    (row(no="C3009", uid="04A1B2C3D4E5F6", number="T9"), "工卡号", ""),      # a badge already someone else's
    (row(firm="", no="C3009", number="T9", uid=""), "单位名称", "单位名称"),
], ids=["no-employee-no", "unknown-kind", "bad-date", "future-training", "bad-uid", "badge-taken", "no-firm"])
def test_bad_rows_are_named_and_nothing_is_written(c, bad, column, words):
    data = xlsx([GOOD[0], bad, GOOD[2]])
    before = head()
    rep = post(c["admin"], data, dry=True).get_json()
    assert rep["ok"] is False and [e["row"] for e in rep["errors"]] == [3], rep["errors"]
    assert rep["errors"][0]["column"] == column and words in rep["errors"][0]["zh"], rep["errors"]
    r = post(c["admin"], data, dry=False)
    assert r.status_code == 422, r.get_data(as_text=True)
    assert "第 3 行" in r.get_json()["error"]["message"] or "row 3" in r.get_data(as_text=True)
    assert head() == before
    assert c["admin"].get("/api/v1/contractors").get_json()["contractors"] == []


def test_a_person_of_another_firm_is_refused(c):
    assert post(c["admin"], xlsx([GOOD[0]]), dry=False).status_code == 201
    rep = post(c["admin"], xlsx([row(firm="临江安装工程有限公司", number="T9")]), dry=True).get_json()
    assert rep["errors"][0]["column"] == "工号" and "江东建设工程有限公司" in rep["errors"][0]["zh"]


def test_csv_template_round_trips_and_the_import_needs_the_office(c):
    t = c["admin"].get("/api/v1/contractors/import/template?format=csv")
    assert t.status_code == 200 and t.data.startswith(b"\xef\xbb\xbf")
    rep = post(c["admin"], t.data, dry=True, name="t.csv").get_json()
    assert rep["ok"], rep["errors"]
    assert rep["summary"]["workers"]["created"] == 2 and rep["summary"]["certificates"]["created"] == 1
    assert c["admin"].get("/api/v1/contractors/import/template?format=xlsx").data[:2] == b"PK"
    assert post(c["worker"], t.data, dry=True, name="t.csv").status_code == 403
    r = c["admin"].post("/api/v1/contractors/import", data={}, content_type="multipart/form-data")
    assert r.status_code in (400, 422) and "file" in r.get_data(as_text=True)
    r = post(c["admin"], b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\0" * 100, dry=True, name="old.xls")
    assert r.status_code == 415 and ".xlsx" in r.get_data(as_text=True)


def test_a_firm_is_corrected_and_its_people_follow(c):
    assert post(c["admin"], xlsx([GOOD[0]]), dry=False).status_code == 201
    f = c["admin"].get("/api/v1/contractors").get_json()["contractors"][0]
    r = c["admin"].patch(f"/api/v1/contractors/{f['id']}", json={"name": "江东建设集团有限公司", "phone": "0512-1111111"})
    assert r.status_code == 200, r.get_data(as_text=True)
    assert r.get_json()["name"] == "江东建设集团有限公司" and r.get_json()["phone"] == "0512-1111111"
    ev = [e for e in c["admin"].get("/api/v1/events?limit=50").get_json()["events"] if e["type"] == "contractor.firm_updated"]
    assert ev and ev[0]["payload"]["changes"]["name"] == ["江东建设工程有限公司", "江东建设集团有限公司"]
    people = c["admin"].get("/api/v1/people").get_json()["people"]
    assert [p["company"] for p in people if p["employee_no"] == "C3001"] == ["江东建设集团有限公司"]
    assert c["admin"].patch(f"/api/v1/contractors/{f['id']}", json={"credit_code": "123"}).status_code == 422
    assert c["worker"].patch(f"/api/v1/contractors/{f['id']}", json={"phone": "1"}).status_code == 403
    c["admin"].post("/api/v1/contractors", json={"name": "临江安装工程有限公司"})
    assert c["admin"].patch(f"/api/v1/contractors/{f['id']}", json={"name": "临江安装工程有限公司"}).status_code == 409
