"""Register import from real spreadsheet files (XLSX written by openpyxl, CSV in UTF-8/BOM/GB18030) through
the API and the CLI: dry run, all-or-nothing, idempotent re-import, hostile files."""
from __future__ import annotations

import io
import json
import zipfile

import openpyxl
import pytest

from appliance.core import events
from appliance.risk import rows as RW
from appliance.risk.register import RiskEvent, RiskMeasure, RiskObject, RiskUnit
from conftest import As, run_cli, write_config

HEAD = [zh for _, zh, _, _ in RW.COLUMNS]


def row(**kw):
    base = {"object_code": "OBJ-1", "object_name": "甲醇储罐区", "major_hazard": "是", "unit_name": "V-101",
            "department": "储运部", "liable_person": "张三", "area_code": "TANK", "event_name": "泄漏火灾",
            "method": "LEC", "l": 3, "e": 6, "c": 40, "res_l": 1, "res_e": 6, "res_c": 40, "measure": "高液位联锁",
            "classify1": 1, "classify2": "1-4", "check_cycle": 1, "check_cycle_unit": "天"}
    base.update(kw)
    return [base.get(k, None) for k, *_ in RW.COLUMNS]


GOOD_ROWS = [row(), row(measure="可燃气体检测报警仪", classify1=4, classify2="4-1", check_cycle_unit="月"),
             row(unit_name="P-201 泵", event_name="机械伤害", method="LS", l=2, e=None, c=None, s=4, res_l=None,
                 res_e=None, res_c=None, measure="防护罩完好", classify1=3, classify2="3-1", area_code="WH"),
             row(object_code="OBJ-2", object_name="仓库", major_hazard="否", unit_name="货架", area_code="WH",
                 event_name="坍塌", l=1, e=3, c=7, res_l=None, res_e=None, res_c=None, measure="定期检查货架",
                 classify1=2, classify2="2-2", check_cycle=None, check_cycle_unit=None)]


def xlsx(rows, head=HEAD) -> bytes:
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.append(head)
    for r in rows:
        ws.append(r)
    out = io.BytesIO()
    wb.save(out)
    return out.getvalue()


def csv_bytes(rows, encoding="utf-8-sig", head=HEAD) -> bytes:
    import csv

    buf = io.StringIO()
    csv.writer(buf).writerows([head] + [["" if v is None else v for v in r] for r in rows])
    return buf.getvalue().encode(encoding)


@pytest.fixture
def officer(app, users):
    c = As(app, "safety_officer", users)
    for code, name in (("TANK", "储罐区"), ("WH", "仓库")):
        assert c.post("/api/v1/areas", json={"code": code, "name": name, "polygon": [[0, 0], [9, 0], [9, 9]]}).status_code == 201
    return c


def upload(c, data: bytes, dry: bool, name="register.xlsx"):
    return c.post(f"/api/v1/risks/import{'?dry_run=1' if dry else ''}", data={"file": (io.BytesIO(data), name)},
                  content_type="multipart/form-data")


def counts():
    return tuple(m.select().count() for m in (RiskObject, RiskUnit, RiskEvent, RiskMeasure))


def test_dry_run_then_import_then_reimport_changes_nothing(officer, as_role):
    data = xlsx(GOOD_ROWS)
    head = events.head_seq()
    r = upload(officer, data, dry=True)
    assert r.status_code == 200 and r.get_json()["ok"] and r.get_json()["rows"] == 4, r.get_json()
    assert r.get_json()["summary"]["measures"] == {"created": 4, "updated": 0, "unchanged": 0}
    assert events.head_seq() == head and counts() == (0, 0, 0, 0)   # a dry run writes nothing
    r = upload(officer, data, dry=False)
    assert r.status_code == 201, r.get_json()
    assert r.get_json()["summary"] == {"objects": {"created": 2, "updated": 0, "unchanged": 0},
                                       "units": {"created": 3, "updated": 0, "unchanged": 0},
                                       "events": {"created": 3, "updated": 0, "unchanged": 0},
                                       "measures": {"created": 4, "updated": 0, "unchanged": 0}}
    assert counts() == (2, 3, 3, 4)
    types = [e.type for e in events.read_after(head, 100)]
    assert types.count("risk.measure_added") == 4 and types[-1] == "risk.register_imported"
    # the imported register is the map: the tank farm orange (LEC 720 red, residual 1×6×40 = 240 orange),
    # the warehouse yellow (LS 2×4 = 8 on profile A)
    areas = {a["code"]: a["level"] for a in as_role("worker").get("/api/v1/risk/map").get_json()["areas"]}
    assert areas == {"TANK": 2, "WH": 3}
    tree = officer.get("/api/v1/risk/register").get_json()["objects"]
    ev = tree[0]["units"][0]["events"][0]
    assert (ev["inherent_level"], ev["residual_level"], ev["level"]) == (1, 2, 2)
    head = events.head_seq()
    again = upload(officer, data, dry=False)
    assert again.status_code == 201 and all(c["created"] == c["updated"] == 0 for c in again.get_json()["summary"].values())
    assert events.head_seq() == head and counts() == (2, 3, 3, 4)   # idempotent: no write, no event
    # a corrected file updates in place, never duplicates
    dep = [k for k, *_ in RW.COLUMNS].index("department")
    fixed = [r[:dep] + ["生产部"] + r[dep + 1:] for r in GOOD_ROWS[:2]] + GOOD_ROWS[2:]  # both rows of unit V-101
    s = upload(officer, xlsx(fixed), dry=False).get_json()["summary"]
    assert s["units"] == {"created": 0, "updated": 1, "unchanged": 2} and counts() == (2, 3, 3, 4)
    assert [e.type for e in events.read_after(head, 10)] == ["risk.unit_updated", "risk.register_imported"]


def test_a_spreadsheet_with_errors_reports_every_row_and_imports_nothing(officer):
    bad = GOOD_ROWS + [row(measure="m5", l=4), row(measure="m6", classify2="2-1"), [None] * len(HEAD),
                       row(measure="m8", area_code="NOWHERE"), row(object_name="另一个名字", measure="m9")]
    data = xlsx(bad)
    head = events.head_seq()
    r = upload(officer, data, dry=True)
    rep = r.get_json()
    assert r.status_code == 200 and rep["ok"] is False
    assert [(e["row"], e["column"]) for e in rep["errors"]] == [(6, "l"), (7, "classify2"), (9, "area_code"),
                                                               (10, "object_name")]
    assert all(e["zh"] and e["en"] and e["column_zh"] for e in rep["errors"])
    r = upload(officer, data, dry=False)
    assert r.status_code == 422
    err = r.get_json()["error"]
    assert err["code"] == "register_rows_invalid" and "nothing was imported" in err["messages"]["en"]
    assert "未导入" in err["messages"]["zh-CN"] and len(err["details"]) == 4
    # all or nothing: the four good rows before the bad ones were not written either
    assert counts() == (0, 0, 0, 0) and events.head_seq() == head


def test_header_problems_are_reported_on_row_one(officer):
    rep = upload(officer, xlsx(GOOD_ROWS, head=HEAD[:-8] + ["x"] * 8), dry=True).get_json()
    assert not rep["ok"] and {e["column"] for e in rep["errors"]} == {"measure", "classify2"}
    assert {e["row"] for e in rep["errors"]} == {1}


@pytest.mark.parametrize("encoding", ["utf-8", "utf-8-sig", "gb18030", "gbk"])
def test_csv_in_the_encodings_plants_save(officer, encoding):
    r = upload(officer, csv_bytes(GOOD_ROWS, encoding), dry=False, name="register.csv")
    assert r.status_code == 201, r.get_json()
    assert counts() == (2, 3, 3, 4)
    assert RiskObject.get(RiskObject.code == "OBJ-1").name == "甲醇储罐区"


def test_english_headers_and_semicolons(officer):
    en = [e for _, _, e, _ in RW.COLUMNS]
    data = csv_bytes(GOOD_ROWS, head=en).decode("utf-8-sig").replace(",", ";").encode()
    assert upload(officer, data, dry=False, name="r.csv").status_code == 201 and counts() == (2, 3, 3, 4)


def zip_of(members: dict[str, bytes]) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as z:
        for name, data in members.items():
            z.writestr(name, data)
    return out.getvalue()


@pytest.mark.parametrize("make, status, code", [
    (lambda: b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\0" * 600, 415, "unsupported_file"),      # old .xls
    (lambda: zip_of({"word/document.xml": b"<w/>"}), 415, "unsupported_file"),                 # a .docx
    (lambda: b"PK\x03\x04 damaged", 415, "unsupported_file"),
    (lambda: b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR", 415, "unsupported_file"),                        # an image
    (lambda: zip_of({"xl/workbook.xml": b"<x/>", "xl/worksheets/sheet1.xml": b"\0" * 30_000_000}), 413,
     "file_too_large"),                                                                          # a ZIP bomb
    (lambda: zip_of({"xl/workbook.xml": b"not xml at all"}), 422, "bad_spreadsheet"),          # a broken workbook
    (lambda: b"a" * (10 * 1024 * 1024 + 1), 413, "file_too_large"),
    (lambda: b"  \n ", 422, "bad_spreadsheet"),
    (lambda: csv_bytes([row(measure=f"m{i}") for i in range(20_001)]), 422, "bad_spreadsheet"),  # too many rows
])
def test_hostile_and_wrong_files_get_a_clear_4xx_and_write_nothing(officer, make, status, code):
    head = events.head_seq()
    r = upload(officer, make(), dry=False)
    assert r.status_code == status, r.get_json()
    err = r.get_json()["error"]
    assert err["code"] == code and err["messages"]["zh-CN"] != err["messages"]["en"]
    assert counts() == (0, 0, 0, 0) and events.head_seq() == head


def test_permission_csrf_and_missing_file(officer, as_role, app, users):
    assert upload(as_role("worker"), xlsx(GOOD_ROWS), dry=True).status_code == 403
    assert upload(as_role("kiosk"), xlsx(GOOD_ROWS), dry=True).status_code == 403
    no_csrf = As(app, "safety_officer", users)
    no_csrf.headers.pop("X-CSRF-Token")
    assert upload(no_csrf, xlsx(GOOD_ROWS), dry=True).get_json()["error"]["code"] == "csrf_failed"
    r = officer.post("/api/v1/risks/import", data={}, content_type="multipart/form-data")
    assert r.status_code == 422 and "file" in r.get_json()["error"]["messages"]["en"]


@pytest.mark.parametrize("fmt", ["xlsx", "csv"])
def test_the_generated_template_imports_as_it_is(officer, fmt):
    r = officer.get(f"/api/v1/risks/import/template?format={fmt}")
    assert r.status_code == 200 and f"template.{fmt}" in r.headers["Content-Disposition"]
    rep = upload(officer, r.data, dry=True, name=f"t.{fmt}").get_json()
    assert rep["ok"] and rep["summary"]["measures"]["created"] == 2, rep
    en = officer.get(f"/api/v1/risks/import/template?format={fmt}&lang=en")
    assert upload(officer, en.data, dry=False, name=f"t.{fmt}").status_code == 201 and counts() == (1, 1, 1, 2)
    assert officer.get("/api/v1/risks/import/template?format=ods").status_code == 422


def test_cli_dry_run_and_import(tmp_path):
    from appliance.config import load_config
    from appliance.core import db
    from appliance.domains import create_app

    cfg_path = write_config(tmp_path / "d")
    create_app(load_config(cfg_path))  # migrate; then add the areas the file names
    from appliance.core import people as P
    for code in ("TANK", "WH"):
        P.create_area(P.AreaIn(code=code, name=code, polygon=[[0, 0], [9, 0], [9, 9]]), actor="system:test")
    db.database.close()
    good, bad = tmp_path / "good.xlsx", tmp_path / "bad.csv"
    good.write_bytes(xlsx(GOOD_ROWS))
    bad.write_bytes(csv_bytes(GOOD_ROWS + [row(measure="x", method="HAZOP")], "gb18030"))
    r = run_cli("import-register", "--config", str(cfg_path), str(bad), "--dry-run")
    assert r.returncode == 1 and "row 6" in r.stderr and "第 6 行" in r.stderr and "LEC or LS" in r.stderr, r.stderr
    r = run_cli("import-register", "--config", str(cfg_path), str(good), "--dry-run")
    assert r.returncode == 0 and "would be created 4" in r.stdout, r.stdout + r.stderr
    r = run_cli("import-register", "--config", str(cfg_path), str(good))
    assert r.returncode == 0 and "measures: 已 / were created 4" in r.stdout, r.stdout + r.stderr
    r = run_cli("import-register", "--config", str(cfg_path), str(good))
    assert "created 0, updated 0; unchanged 4" in r.stdout
    r = run_cli("import-register", "--config", str(cfg_path), str(tmp_path / "missing.xlsx"))
    assert r.returncode == 2 and "cannot read" in r.stderr
    big = tmp_path / "big.csv"   # > 64 KB: read in a spawned child of `python -m appliance` (core.offload)
    big.write_bytes(csv_bytes([row(measure=f"措施 {i}") for i in range(1500)] + [row(measure="x", method="HAZOP")]))
    assert big.stat().st_size >= 64 * 1024
    r = run_cli("import-register", "--config", str(cfg_path), str(big), "--dry-run")
    assert r.returncode == 1 and "row 1502" in r.stderr and "第 1502 行" in r.stderr, r.stdout + r.stderr


def test_tablet_register_tree_and_import_form(officer, as_role):
    upload(officer, xlsx(GOOD_ROWS), dry=False)
    html = as_role("worker").get("/tablet/risks").get_data(as_text=True)
    assert 'data-object="OBJ-1"' in html and 'data-object="OBJ-2"' in html and "重大危险源" in html
    assert 'level-chip risk-1' in html and 'risk-event risk-2' in html  # inherent red, residual orange
    assert "1-4 安全仪表" in html and "每 1 天 排查" in html
    assert 'id="import-form"' not in html  # workers read the register (风险告知), the safety office imports
    html = officer.get("/tablet/risks?lang=en").get_data(as_text=True)
    assert 'id="import-form"' in html and "format=xlsx" in html and "Check (dry run)" in html


def test_tablet_dispatch_rules_page(officer, as_role, users):
    html = officer.get("/tablet/hazards/rules").get_data(as_text=True)
    assert 'id="rule-form"' in html and users["supervisor"] in html
    area = officer.get("/api/v1/areas").get_json()["areas"][0]
    assert officer.post("/api/v1/hazards/rules", json={"area_id": area["id"], "assignee": users["supervisor"]}).status_code == 201
    html = as_role("worker").get("/tablet/hazards/rules").get_data(as_text=True)
    assert users["supervisor"] in html and area["name"] in html and 'id="rule-form"' not in html
    assert "/api/v1/hazards/rules/" not in html  # no delete button for a worker
    rule = officer.get("/api/v1/hazards/rules").get_json()["rules"][0]
    assert f'data-api="/api/v1/hazards/rules/{rule["id"]}" data-method="DELETE"' in \
        officer.get("/tablet/hazards/rules").get_data(as_text=True)
    assert 'href="/tablet/hazards/rules"' in as_role("worker").get("/tablet/hazards").get_data(as_text=True)


def test_a_title_row_above_the_headers_is_skipped(officer):
    """Plants put a merged title (XX公司风险分级管控清单) and a note above the headers: rows are still
    numbered as the spreadsheet shows them."""
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.append(["滨江精细化工厂风险分级管控清单"])
    ws.append(["编制：安全环保部", None, "2026 年"])
    ws.append(HEAD)
    for r in GOOD_ROWS + [row(measure="m5", l=4)]:
        ws.append(r)
    ws.merge_cells("A1:H1")
    out = io.BytesIO()
    wb.save(out)
    rep = upload(officer, out.getvalue(), dry=True).get_json()
    assert rep["header_row"] == 3 and [(e["row"], e["column"]) for e in rep["errors"]] == [(8, "l")], rep
    bare = upload(officer, xlsx([]), dry=True).get_json()
    assert bare["header_row"] == 1 and bare["errors"][0]["row"] == 2 and "no data rows" in bare["errors"][0]["en"]


def test_a_dry_run_takes_no_write_lock(officer, config):
    """Issue 14: reading and checking a file happened inside the write transaction (900 ms for 5 000 rows of
    XLSX), and a dry run took the lock too, so a gas alarm's write waited behind it. Now another writer
    holding the lock does not stop a dry run, and a real import waits for it only as long as it holds it."""
    from appliance.core import db

    other = db.connect_raw(config.storage.db_path, busy_timeout_ms=10_000)
    other.execute("BEGIN IMMEDIATE")                      # someone else is writing
    try:
        r = upload(officer, xlsx(GOOD_ROWS), dry=True)
        assert r.status_code == 200 and r.get_json()["summary"]["measures"]["created"] == 4, r.get_json()
    finally:
        other.execute("ROLLBACK")
        other.close()
    assert counts() == (0, 0, 0, 0)
    assert upload(officer, xlsx(GOOD_ROWS), dry=False).status_code == 201 and counts() == (2, 3, 3, 4)


def test_an_area_retired_between_the_check_and_the_write_is_checked_again(officer, monkeypatch):
    """The file is checked against the areas before the write transaction; if they changed by then, the
    file is checked again inside it and refused as a whole when a row's area is gone."""
    from appliance.core.people import Area
    from appliance.risk import importer as RI

    real = RI._active_areas
    calls = []

    def areas_then_warehouse_retired():
        calls.append(1)
        if len(calls) == 2:                              # the check inside the transaction
            Area.update(active=False).where(Area.code == "WH").execute()
        return real()

    monkeypatch.setattr(RI, "_active_areas", areas_then_warehouse_retired)
    r = upload(officer, xlsx(GOOD_ROWS), dry=False)
    assert r.status_code == 422 and "WH" in json.dumps(r.get_json(), ensure_ascii=False), r.get_json()
    assert counts() == (0, 0, 0, 0)


def test_a_good_file_is_written_in_short_transactions_of_whole_objects(officer, monkeypatch):
    """Each chunk is its own transaction (gas alarms' writes go between them); the result is the same as
    one transaction, and importing the file again changes nothing."""
    from appliance.risk import importer as RI

    monkeypatch.setattr(RI, "CHUNK_MEASURES", 1)
    from appliance.risk import settings

    tree = RI.parse_file(xlsx(GOOD_ROWS), {"TANK", "WH"}, settings.lec_profiles(), settings.ls_profiles())[0]
    assert [len(c) for c in RI._chunks(tree, 1)] == [1, 1]
    head = events.head_seq()
    r = upload(officer, xlsx(GOOD_ROWS), dry=False)
    assert r.status_code == 201 and counts() == (2, 3, 3, 4), r.get_json()
    types = [e.type for e in events.read_after(head, 100)]
    assert types.count("risk.measure_added") == 4 and types[-1] == "risk.register_imported"
    head = events.head_seq()
    assert upload(officer, xlsx(GOOD_ROWS), dry=False).status_code == 201
    assert events.head_seq() == head and counts() == (2, 3, 3, 4)


def test_each_chunk_reads_only_the_stored_records_under_its_own_objects(officer, monkeypatch):
    """A chunk compares with the records under the objects it writes, not the whole register: reading all of
    it inside each chunk's write transaction grew with the register and held the gas alarms' writes for
    seconds (bench/load.py, issue 14). The matching still finds what is stored: a re-import changes nothing."""
    from appliance.risk import importer as RI

    assert upload(officer, xlsx(GOOD_ROWS), dry=False).status_code == 201
    other = [row(object_code=f"OBJ-{n}", object_name=f"对象{n}", unit_name=f"U{n}") for n in range(3, 9)]
    assert upload(officer, xlsx(other), dry=False).status_code == 201
    seen: list = []
    real = RI._existing
    monkeypatch.setattr(RI, "_existing", lambda tree: seen.append(real(tree)) or seen[-1])
    monkeypatch.setattr(RI, "CHUNK_MEASURES", 1)
    head = events.head_seq()
    assert upload(officer, xlsx(GOOD_ROWS), dry=False).status_code == 201
    assert events.head_seq() == head           # found as stored: nothing new, nothing changed
    assert [sorted(objs) for objs, *_ in seen] == [["OBJ-1"], ["OBJ-2"]]
    assert [len(measures) for *_, measures in seen] == [3, 1]
    assert all(u["object_id"] in {o["id"] for o in objs.values()} for objs, units, *_ in seen for u in units.values())


def big_register(n: int = 1500) -> bytes:
    return xlsx([row(object_code=f"OBJ-{i // 50}", unit_name=f"U-{i // 10}", event_name=f"E-{i // 5}",
                     measure=f"措施 {i}") for i in range(n)])


def test_a_big_file_is_read_checked_and_written_in_a_child_process(officer, monkeypatch):
    """A register of 1,500 measures (> core.offload's 64 KB) is read, checked and written in a child process
    (issue 14: its Python work on the web's interpreter took the pages' p99 to 3x the target under load, and
    its working set stayed in the appliance). The child asks the appliance for each chunk's turn behind the
    gas alarms' writes and names its events as bulk items before each chunk commits: live streams never get
    them, the import's closing event is live, and the result is what an import in place writes."""
    from appliance.core import offload
    from appliance.risk import importer as RI

    big = big_register()
    assert len(big) >= offload.OFFLOAD_FROM_BYTES
    asked, real = [], RI._serve
    monkeypatch.setattr(RI, "_serve", lambda req: asked.append(req) or real(req))
    head = events.head_seq()
    r = upload(officer, big, dry=True)
    assert r.status_code == 200 and r.get_json()["summary"]["measures"]["created"] == 1500, r.get_json()
    assert counts() == (0, 0, 0, 0) and asked == [] and events.head_seq() == head   # a dry run asks nothing, writes nothing
    r = upload(officer, big, dry=False)
    assert r.status_code == 201, r.get_json()
    assert counts() == (30, 150, 300, 1500)
    written = events.read_after(head, 10_000)
    bulk, last = written[:-1], written[-1]
    assert len(bulk) == 30 + 150 + 300 + 1500 and last.type == "risk.register_imported"
    # every chunk had its turn, and every bulk event was named before its chunk committed (only the child
    # relays its ranges: in place the appliance's own QUIET is told directly)
    chunks = sum(1 for req in asked if req[0] == "gate")
    quiet = [rg for req in asked if req[0] == "quiet" for rg in req[1]]
    assert chunks >= 1500 // RI.CHUNK_MEASURES and len(quiet) >= chunks
    assert sum(b - a + 1 for _, a, b in quiet) == len(bulk)
    assert all(not e.live for e in events.QUIET.mark(bulk)) and events.QUIET.mark([last])[0].live
    assert upload(officer, big, dry=False).status_code == 201   # the same file again: nothing changes
    assert counts() == (30, 150, 300, 1500) and events.head_seq() == last.seq


def test_a_big_file_with_a_bad_row_is_refused_whole_from_its_child(officer):
    """Checked in the child like in place: every bad row listed with its number, nothing written."""
    from appliance.core import offload

    rows = [row(object_code=f"OBJ-{i // 50}", unit_name=f"U-{i // 10}", event_name=f"E-{i // 5}", measure=f"措施 {i}",
                **({"area_code": "NOPE"} if i in (7, 1234) else {})) for i in range(1500)]
    data = xlsx(rows)
    assert len(data) >= offload.OFFLOAD_FROM_BYTES
    head = events.head_seq()
    r = upload(officer, data, dry=False)
    err = r.get_json()["error"]
    assert r.status_code == 422 and err["code"] == "register_rows_invalid", err
    assert sorted(d["row"] for d in err["details"]) == [9, 1236] and counts() == (0, 0, 0, 0)
    assert events.head_seq() == head
    dry = upload(officer, data, dry=True).get_json()
    assert dry["ok"] is False and [e["row"] for e in dry["errors"]] == [9, 1236]


def test_a_child_writer_that_dies_leaves_whole_chunks_and_a_clear_error(officer, monkeypatch):
    """The child is killed after its second chunk (a power cut of the writer): the first two chunks are
    stored whole (each its own transaction), the upload gets a clear 422, and the same file imported again
    completes the register without a duplicate."""
    import os
    import signal

    from appliance.risk import importer as RI

    big = big_register()
    seen, real = [], RI._serve

    def serve(req):
        if req[0] == "gate":
            seen.append(req)
            if len(seen) == 3:    # the third chunk asks for its turn: the writer dies instead
                import multiprocessing

                for child in multiprocessing.active_children():
                    if child.name.startswith("offload-"):
                        os.kill(child.pid, signal.SIGKILL)
                        child.join(10)
        return real(req)

    monkeypatch.setattr(RI, "_serve", serve)
    r = upload(officer, big, dry=False)
    assert r.status_code == 422 and r.get_json()["error"]["code"] == "bad_file", r.get_json()
    stored = counts()
    assert 0 < stored[3] < 1500, stored
    per_object = [RiskMeasure.select().join(RiskEvent, on=(RiskMeasure.event_id == RiskEvent.id))
                  .join(RiskUnit, on=(RiskEvent.unit_id == RiskUnit.id)).where(RiskUnit.object_id == o.id).count()
                  for o in RiskObject.select()]
    assert per_object and set(per_object) == {50}, per_object     # whole objects, never half of one
    monkeypatch.setattr(RI, "_serve", real)
    assert upload(officer, big, dry=False).status_code == 201
    assert counts() == (30, 150, 300, 1500)
