"""The government adapters against the receiver's government modes: the 五位一体 mapping (field names, enum
codes, yyyyMMddHHmmss times, stable ids), AES-CBC + Base64 and Basic auth, upsert by id, per-record
refusals as dead letters, the dry run, the rate limit; and the sha1-signature pattern."""
from __future__ import annotations

import base64
import json

import pytest
import requests

from conftest import run_cli, stop_peer, write_config
from sync import mapping
from sync_helpers import start_receiver

AES_KEY, AES_IV, PASSWORD = "0123456789abcdef", "fedcba9876543210", "gov-password-1"
CREDIT, COMPANY = "91320000MA1TEST00X", "320000001"


# ---- the mapping, as tables ------------------------------------------------------------------------------
SPEC = mapping.KindSpec.model_validate({"table": "t_x", "source": "SELECT 1", "fields": {
    "id": {"uuid": "hazard", "from": "id"}, "TYSHXYDM": {"config": "credit_code"},
    "DANGER_LEVEL": {"from": "grade", "required": True, "map": {"general": 0, "major": 1}},
    "REGIST_TIME": {"from": "reported_at", "time": "datetime"}, "DAY": {"from": "reported_at", "time": "date"},
    "DESC": {"from": "description", "required": True, "max_len": 5}, "BY": {"event": "actor"},
    "N": {"from": "n", "str": True}, "MARK": {"const": 0}}})


@pytest.mark.parametrize("src, expect, problems", [
    ({"id": 7, "grade": "major", "reported_at": 1795910400000, "description": "漏", "n": 3},
     {"DANGER_LEVEL": 1, "REGIST_TIME": "20261129080000", "DAY": "20261129", "DESC": "漏", "N": "3", "MARK": 0,
      "BY": "user:zhang", "TYSHXYDM": CREDIT}, []),
    ({"id": 7, "grade": "general", "reported_at": 1795881599000, "description": "x"},  # 23:59:59 Shanghai
     {"DANGER_LEVEL": 0, "REGIST_TIME": "20261128235959"}, []),
    ({"id": 7, "grade": "minor", "reported_at": 1, "description": "x"}, {}, ["DANGER_LEVEL: value 'minor' has no code"]),
    ({"id": 7, "grade": "major", "description": ""}, {}, ["DESC: required, but empty"]),
    ({"id": 7, "grade": "major", "description": "too long"}, {}, ["DESC: longer than 5"]),
    ({"id": 7, "grade": "major", "description": "x", "reported_at": "soon"}, {}, ["REGIST_TIME: 'soon' is not a time", "DAY: 'soon' is not a time"]),
])
def test_map_record_table(src, expect, problems):
    rec, got = mapping.map_record(SPEC, src, {"actor": "user:zhang"}, {"credit_code": CREDIT}, "plant-1", "Asia/Shanghai")
    assert len(got) == len(problems) and all(g.startswith(p) for g, p in zip(got, problems, strict=False)), got
    for k, v in expect.items():
        assert rec[k] == v, k
    if not problems:
        assert rec["id"] == mapping.record_id("plant-1", "hazard", 7) and len(rec["id"]) == 36
        assert rec["id"] != mapping.record_id("plant-2", "hazard", 7)  # another appliance, another id


def test_profile_is_validated():
    p = mapping.load_profile("wwyt", "jiangsu")
    assert {k.table for k in p.kinds.values()} == {"t_aqfxfxdy", "t_aqfxsj", "t_aqfxgkcs", "t_yhzlxx"}
    with pytest.raises(ValueError):
        mapping.FieldSpec.model_validate({"from": "a", "const": 1})
    with pytest.raises(ValueError):
        mapping.KindSpec.model_validate({"table": "t", "source": "DELETE FROM x", "fields": {"id": {"const": 1}}})


# ---- against the receiver in wwyt mode -----------------------------------------------------------------------
def _wwyt_toml(port: int, password: str = PASSWORD, **kw) -> str:
    extra = "".join(f"{k} = {v!r}\n" for k, v in kw.items())
    return (f'[[sync.endpoints]]\nname = "jiangsu"\ntype = "wwyt"\nurl = "http://127.0.0.1:{port}/api/wwyt"\n'
            f'username = "ent-1"\npassword = "{password}"\naes_key = "{AES_KEY}"\naes_iv = "{AES_IV}"\n'
            f'credit_code = "{CREDIT}"\ncompany_code = "{COMPANY}"\nbackoff_base_s = 0.05\nbackoff_cap_s = 0.5\n'
            f'probe_interval_s = 0.5\n{extra}')


@pytest.fixture
def gov(tmp_path):
    procs = []

    def start(*extra):
        p, port = start_receiver(tmp_path / "gov", "--mode", "wwyt", "--username", "ent-1", "--password", PASSWORD,
                                 "--aes-key", AES_KEY, "--aes-iv", AES_IV, *extra)
        procs.append(p)
        return port

    yield start
    for p in procs:
        stop_peer(p)


def _register(with_bad_unit: bool = False):
    """A small risk register and two hazards, written through the domain modules (events and all)."""
    from appliance.core import people as P
    from appliance.hazards import service as H
    from appliance.risk import register as R

    a = P.create_area(P.AreaIn(code="TANK", name="储罐区"), actor="user:admin")
    o = R.create_object(R.ObjectIn(code="OBJ-1", name="甲醇储罐区", major_hazard=True, area_id=a.id), actor="user:admin")
    u = R.create_unit(R.UnitIn(object_id=o.id, name="甲醇储罐 V-101", department="生产部", liable_person="王芳"),
                      actor="user:admin")
    e = R.create_event(R.EventIn(unit_id=u.id, name="储罐泄漏", method="LEC", inherent={"l": 3, "e": 6, "c": 40}),
                       actor="user:admin")
    R.create_measure(R.MeasureIn(event_id=e.id, description="液位联锁", classify1=1, classify2="1-4"), actor="user:admin")
    H.report(H.ReportIn(area_id=a.id, category="消防", description="消防通道堵塞"), actor="user:zhang")
    H.report(H.ReportIn(area_id=a.id, category="电气", description="配电箱未接地", grade="major"), actor="user:zhang")
    bad = None
    if with_bad_unit:  # no department: HAZARD_DEP is required by the platform
        bad = R.create_unit(R.UnitIn(object_id=o.id, name="无部门单元"), actor="user:admin")
    return u, bad


def _rows(port, table):
    auth = base64.b64encode(f"ent-1:{PASSWORD}".encode()).decode()
    r = requests.get(f"http://127.0.0.1:{port}/api/wwyt/{table}", headers={"Authorization": f"Basic {auth}"}, timeout=5)
    assert r.status_code == 200, r.text
    return r.json()["datas"]


def test_wwyt_mapping_and_encryption_against_its_receiver(tmp_path, gov):
    from appliance.config import load_config
    from appliance.core import db
    from sync import store
    from sync.adapters import Context
    from sync.engine import Worker

    port = gov()
    cfg = load_config(write_config(tmp_path / "live", extra=_wwyt_toml(port, min_interval_s=0.0)))
    db.migrate(cfg.storage.db_path)
    db.open_database(cfg.storage.db_path)
    try:
        unit, bad = _register(with_bad_unit=True)
        w = Worker(cfg.sync.endpoints[0], Context("test-1", timezone="Asia/Shanghai"))
        assert w.run_until_idle(60)
        units = _rows(port, "t_aqfxfxdy")
        assert len(units) == 1
        u = units[0]
        assert u["id"] == mapping.record_id("test-1", "risk_unit", unit.id) and u["TYSHXYDM"] == CREDIT
        assert u["COMPANY_CODE"] == COMPANY and u["RISK_UNIT_NAME"] == "甲醇储罐 V-101" and u["HAZARD_DEP"] == "生产部"
        assert u["RISK_CLASS"] == 1 and u["HAZARD_CODE"] == "OBJ-1" and len(u["create_time"]) == 14  # LEC D=720: 重大
        ev = _rows(port, "t_aqfxsj")[0]
        assert ev["RISK_UNIT_ID"] == u["id"] and ev["RISK_EVENT_NAME"] == "储罐泄漏"
        m = _rows(port, "t_aqfxgkcs")[0]
        assert m["CLASSIFY1"] == "1" and m["CLASSIFY2"] == "1-4" and m["DATA_SRC"] == "2"
        hz = sorted(_rows(port, "t_yhzlxx"), key=lambda r: r["DANGER_DESC"])
        assert [(h["DANGER_DESC"], h["DANGER_LEVEL"], h["HAZARD_DANGER_TYPE"], h["DANGER_STATE"]) for h in hz] == \
            [("消防通道堵塞", 0, 5, -1), ("配电箱未接地", 1, 3, -1)]
        # the unit without a department is refused by the mapping: a visible dead letter, not a silent skip
        dead = store.dead_letters("jiangsu")
        assert len(dead) == 1 and "HAZARD_DEP" in dead[0]["reason"]
        # upsert: the same records again update, never duplicate
        store.rewind("jiangsu", "safety", 0)
        assert w.run_until_idle(60)
        assert len(_rows(port, "t_yhzlxx")) == 2 and len(_rows(port, "t_aqfxfxdy")) == 1
        status = requests.get(f"http://127.0.0.1:{port}/", timeout=5).json()["tables"]
        assert status["t_yhzlxx"]["updates"] >= 2
        w.adapter.close()
    finally:
        db.database.close()


def test_wwyt_wrong_password_rate_limit_and_dry_run(tmp_path, gov):
    from appliance.config import load_config
    from appliance.core import db
    from sync.adapters import Context
    from sync.engine import Worker

    port = gov("--min-interval", "1")
    path = write_config(tmp_path / "live", extra=_wwyt_toml(port, min_interval_s=0.0))
    path.chmod(0o600)
    cfg = load_config(path)
    db.migrate(cfg.storage.db_path)
    db.open_database(cfg.storage.db_path)
    try:
        _register(with_bad_unit=True)
        # the dry run shows what would go, decrypted, and which record fails — and sends nothing
        r = run_cli("sync-dry-run", "jiangsu", "--config", str(path))
        assert r.returncode == 1, r.stderr
        shown = [json.loads(block) for block in r.stdout.split("\n}\n") if block.strip() for block in [block + "\n}"]]
        safety = next(b for b in shown if b["lane"] == "safety")
        tables = {req["path"] for req in safety["requests"]}
        assert tables == {"/t_aqfxfxdy", "/t_aqfxsj", "/t_aqfxgkcs", "/t_yhzlxx"}
        assert len(safety["failures"]) == 1 and "HAZARD_DEP" in safety["failures"][0]["reason"]
        assert PASSWORD not in r.stdout + r.stderr and AES_KEY not in r.stdout + r.stderr
        assert _rows(port, "t_yhzlxx") == []
        # a wrong password is 401, shown in the status
        bad = load_config(write_config(tmp_path / "bad", extra=_wwyt_toml(port, password="wrong")))
        wb = Worker(bad.sync.endpoints[0], Context("test-1"))
        assert not wb.run_until_idle(10)
        assert "401" in wb.snapshot()["last_error"]
        wb.adapter.close()
        # the platform's rate limit (429 + Retry-After) is waited out, and everything arrives
        w = Worker(cfg.sync.endpoints[0], Context("test-1"))
        while not w.run_until_idle(60):
            assert "429" in w.snapshot()["last_error"]
            w.stop_event.wait(1.1)
        assert len(_rows(port, "t_yhzlxx")) == 2
        w.adapter.close()
    finally:
        db.database.close()


def test_sha1_signature_pattern_against_its_receiver(tmp_path):
    from appliance.config import load_config
    from appliance.core import db
    from sync.adapters import Context
    from sync.engine import Worker

    rx, port = start_receiver(tmp_path / "gov", "--mode", "sha1-sign", "--app-key", "district-7",
                              "--app-secret", "s3cret-sha1")
    toml = (f'[[sync.endpoints]]\nname = "city"\ntype = "sha1-sign"\nurl = "http://127.0.0.1:{port}/api/report"\n'
            f'app_key = "district-7"\napp_secret = "s3cret-sha1"\ncredit_code = "{CREDIT}"\n'
            f'company_code = "{COMPANY}"\nmin_interval_s = 0.0\n')
    cfg = load_config(write_config(tmp_path / "live", extra=toml))
    wrong = load_config(write_config(tmp_path / "wrong", extra=toml.replace('app_secret = "s3cret-sha1"',
                                                                               'app_secret = "nope"')))
    db.migrate(cfg.storage.db_path)
    db.open_database(cfg.storage.db_path)
    try:
        _register()
        wb = Worker(wrong.sync.endpoints[0], Context("test-1"))
        assert not wb.run_until_idle(10) and "401" in wb.snapshot()["last_error"]
        wb.adapter.close()
        w = Worker(cfg.sync.endpoints[0], Context("test-1"))
        assert w.run_until_idle(30)
        tables = requests.get(f"http://127.0.0.1:{port}/", timeout=5).json()["tables"]
        assert tables["t_yhzlxx"]["records"] == 2 and tables["t_aqfxfxdy"]["records"] == 1
        w.adapter.close()
    finally:
        db.database.close()
        stop_peer(rx)
