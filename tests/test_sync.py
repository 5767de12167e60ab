"""Store-and-forward sync against the reference receiver in a subprocess: normal flow, lanes, wrong secret,
429 with Retry-After, a tampered event, dead letters and their replay; back-off and signatures as tables."""
from __future__ import annotations

import gzip
import json
import sqlite3
import time

import pytest
import requests

from conftest import PASSWORD, As, stop_peer, write_config
from sync import backoff, crypto
from sync_helpers import SECRET, endpoint_toml, receiver_count, receiver_status, start_receiver, verify, wait_for


# ---- pure functions, as tables -------------------------------------------------------------------------
@pytest.mark.parametrize("attempt, base, cap, rand, retry_after, expected", [
    (0, 1, 300, 0.0, None, 0.0),        # full jitter reaches down to zero
    (0, 1, 300, 0.5, None, 0.5),        # first retry: under 1 s
    (1, 1, 300, 0.5, None, 1.0),        # ceiling doubles: 2 s
    (3, 1, 300, 0.999, None, 7.992),    # 8 s ceiling
    (10, 1, 300, 0.5, None, 150.0),     # 1024 s capped at 300
    (100, 1, 300, 0.5, None, 150.0),    # no overflow for a long outage
    (2, 0.5, 60, 0.25, None, 0.5),      # base 0.5: ceiling 2 s
    (0, 1, 300, 0.1, 30, 30.0),         # Retry-After is a floor
    (5, 1, 300, 0.9, 3, 28.8),          # a jittered wait past Retry-After stays
    (0, 1, 300, 0.0, 0, 0.0),
])
def test_backoff_delay_table(attempt, base, cap, rand, retry_after, expected):
    assert backoff.delay(attempt, base, cap, rand, retry_after) == pytest.approx(expected)


@pytest.mark.parametrize("attempt, ceiling", [(0, 1), (1, 2), (2, 4), (5, 32), (8, 256), (9, 300), (60, 300)])
def test_backoff_ceiling_table(attempt, ceiling):
    assert backoff.ceiling(attempt, 1, 300) == ceiling


@pytest.mark.parametrize("value, expected", [
    ("120", 120.0), (" 5 ", 5.0), (None, None), ("soon", None), ("-3", None),
    ("Sun, 29 Nov 2026 00:01:00 GMT", 60.0),   # an HTTP date, 60 s after "now" below
    ("Sun, 29 Nov 2026 00:00:00 GMT", 0.0),
])
def test_retry_after_parsing(value, expected):
    now = 1795910400.0  # 2026-11-29T00:00:00Z
    assert backoff.parse_retry_after(value, now=now) == expected


def test_backoff_rejects_bad_arguments():
    with pytest.raises(ValueError):
        backoff.delay(0, 1, 10, 1.0)
    with pytest.raises(ValueError):
        backoff.ceiling(-1, 1, 10)


def test_signature_and_aes_round_trip():
    sig = crypto.sign("k" * 16, "1700000000000", b"body")
    assert crypto.verify("k" * 16, "1700000000000", b"body", sig)
    assert not crypto.verify("k" * 16, "1700000000001", b"body", sig)     # timestamp is signed
    assert not crypto.verify("x" * 16, "1700000000000", b"body", sig)     # so is the secret
    assert not crypto.verify("k" * 16, "1700000000000", b"bodY", sig)     # and the body
    key, iv = crypto.key_bytes("0123456789abcdef", (16,), "k"), crypto.key_bytes("00" * 16, (16,), "iv")
    text = crypto.aes_cbc_encrypt(key, iv, "[{\"id\": \"甲\"}]".encode())
    assert crypto.aes_cbc_decrypt(key, iv, text).decode() == "[{\"id\": \"甲\"}]"
    with pytest.raises(ValueError):
        crypto.aes_cbc_decrypt(b"fedcba9876543210", iv, text)
    # the municipal pattern's signature: sha1(appKey + appSecret + timestamp), hex
    assert crypto.sha1_signature("a", "b", "1") == "e175ea4ce0a553260a14bc5e922a935b40425c1e"  # sha1("ab1")


# ---- config ---------------------------------------------------------------------------------------------
def test_endpoint_config_validated_and_secret_never_shown(tmp_path, monkeypatch, caplog):
    from appliance.config import load_config, parse_config
    from appliance.core.errors import ConfigError

    with pytest.raises(ConfigError) as e:
        parse_config('[[sync.endpoints]]\nname = "hq"\ntype = "http-json"\nurl = "http://x/v1"\nsecret = "short"\n')
    assert "sync.endpoints.0" in e.value.en and "16" in e.value.en
    with pytest.raises(ConfigError) as e:
        parse_config('[[sync.endpoints]]\nname = "hq"\ntype = "ftp"\nurl = "http://x/v1"\n')
    assert "sync.endpoints.0" in e.value.en
    with pytest.raises(ConfigError) as e:
        parse_config('[[sync.endpoints]]\nname = "hq"\ntype = "http-json"\nurl = "http://x/v1"\nsecret_env = "NOPE_X"\n')
    assert "NOPE_X" in e.value.en
    monkeypatch.setenv("HQ_SECRET_T", "from-the-environment-123")
    cfg = parse_config('[[sync.endpoints]]\nname = "hq"\ntype = "http-json"\nurl = "http://x/v1"\nsecret_env = "HQ_SECRET_T"\n')
    ep = cfg.sync.endpoints[0]
    assert ep.secret.get_secret_value() == "from-the-environment-123"
    assert "from-the-environment" not in repr(cfg) and "from-the-environment" not in str(ep.model_dump())
    # a world-readable file holding a secret is warned about, without the secret
    path = write_config(tmp_path / "d", extra=endpoint_toml("http://127.0.0.1:9/v1"))
    path.chmod(0o644)
    with caplog.at_level("WARNING"):
        load_config(path)
    assert any("world-readable" in r.getMessage() for r in caplog.records)
    assert SECRET not in caplog.text
    caplog.clear()
    path.chmod(0o600)
    with caplog.at_level("WARNING"):
        load_config(path)
    assert not any("world-readable" in r.getMessage() for r in caplog.records)


# ---- against the real receiver ----------------------------------------------------------------------------
@pytest.fixture
def receiver(tmp_path):
    procs = []

    def start(*extra, port=None):
        p, port = start_receiver(tmp_path / "rx", *extra, port=port)
        procs.append(p)
        return p, port

    yield start
    for p in procs:
        stop_peer(p)


def _appliance(tmp_path, extra: str):
    from appliance.config import load_config
    from appliance.service import Appliance

    cfg = load_config(write_config(tmp_path / "live", extra=extra))
    return Appliance(cfg).start()


def _make_records(n: int, actor: str = "user:test") -> None:
    from appliance.core import people as P

    for i in range(n):
        P.create_person(P.PersonIn(employee_no=f"S{i:04d}", name=f"同步{i}", kind="employee"), actor=actor)


def test_records_arrive_once_in_order_and_status_shows_it(tmp_path, receiver):
    from appliance.core import events

    rx, port = receiver()
    a = _appliance(tmp_path, endpoint_toml(f"http://127.0.0.1:{port}/v1", batch_max_events=7))
    try:
        _make_records(40)
        head = events.head_seq()
        wait_for(lambda: receiver_count(port, "test-1") >= head, what="all events at the receiver")
        v = verify(port, "test-1")
        assert v["ok"] and v["events"] == head, v
        health = requests.get(f"{a.url}/api/v1/health", timeout=5).json()
        s = health["components"]["sync:hq"]
        assert s["status"] == "ok" and s["reachable"] is True
        wait_for(lambda: requests.get(f"{a.url}/api/v1/health", timeout=5).json()["components"]["sync:hq"]
                 ["backlog_total"] == 0, what="backlog 0")
        assert s["last_success_at"] and "secret" not in json.dumps(s)
        # the receiver's own lane heads: person records are the records lane
        lanes = receiver_status(port)["appliances"]["test-1"]["lanes"]
        assert lanes["records"] == head
    finally:
        a.stop()


def test_safety_lane_goes_first(tmp_path, receiver):
    """With a backlog in both lanes, the safety records reach the endpoint before the others."""
    from appliance.config import load_config
    from appliance.core import db, events

    _, port = receiver()
    cfg = load_config(write_config(tmp_path / "live", extra=endpoint_toml(f"http://127.0.0.1:{port}/v1",
                                                                          batch_max_events=5)))
    db.migrate(cfg.storage.db_path)
    db.open_database(cfg.storage.db_path)
    for i in range(20):
        events.record("person.created", actor="system:test", payload={"i": i})
    for i in range(3):
        events.record("alarm.raised", actor="system:test", payload={"point": f"P{i}", "level": 1})
    from sync.adapters import Context
    from sync.engine import Worker

    w = Worker(cfg.sync.endpoints[0], Context("test-1"))
    assert w.step()  # one batch: the safety lane, although its events are the newest
    got = receiver_status(port)["appliances"]["test-1"]
    assert got["events"] == 3 and set(got["lanes"]) == {"safety"}
    assert w.run_until_idle(30)
    assert verify(port, "test-1")["ok"]
    # the photo lane holds nothing: it is known empty up to the head and not scanned from 0 again
    from sync import store

    assert w._known_empty("photos", store.cursor("hq", "photos")) == events.head_seq()
    events.record("person.created", actor="system:test", payload={})
    assert w.run_until_idle(30) and receiver_count(port, "test-1") == events.head_seq()
    w.adapter.close()
    db.database.close()


def test_wrong_secret_is_401_and_shows_in_status(tmp_path, receiver):
    _, port = receiver()
    a = _appliance(tmp_path, endpoint_toml(f"http://127.0.0.1:{port}/v1", secret="not-the-right-secret"))
    try:
        _make_records(2)

        def failing():
            s = requests.get(f"{a.url}/api/v1/health", timeout=5).json()["components"]["sync:hq"]
            return s if s["status"] == "degraded" and "401" in (s.get("last_error") or "") else None

        s = wait_for(failing, what="401 in the sync status")
        assert "signature" in s["last_error"] and s["backlog_total"] > 0
        assert receiver_count(port, "test-1") == 0
        assert receiver_status(port)["stats"]["unauthorised"] >= 1
    finally:
        a.stop()


def test_429_retry_after_is_honoured_and_nothing_lost(tmp_path, receiver):
    from appliance.core import events

    _, port = receiver("--throttle-every", "2", "--retry-after", "1")
    a = _appliance(tmp_path, endpoint_toml(f"http://127.0.0.1:{port}/v1", batch_max_events=10))
    try:
        _make_records(30)
        head = events.head_seq()
        wait_for(lambda: receiver_count(port, "test-1") >= head, timeout=60, what="all events despite 429s")
        st = receiver_status(port)["stats"]
        assert st["throttled"] >= 2 and st["accepted"] == head
        assert verify(port, "test-1")["ok"]
    finally:
        a.stop()


def test_receiver_rejects_bad_signature_and_tampered_event(tmp_path, receiver):
    """Straight at the receiver: unsigned → 401; an event whose content was changed after hashing → refused."""
    from appliance.core.events import GENESIS_HASH, event_hash

    _, port = receiver()
    url = f"http://127.0.0.1:{port}/v1/events"
    ev = {"seq": 1, "id": "e1", "type": "person.created", "occurred_at": 1, "recorded_at": 1, "actor": "system",
          "entity_type": None, "entity_id": None, "payload": '{"a":1}', "prev_hash": GENESIS_HASH}
    ev["hash"] = event_hash(GENESIS_HASH, ev)
    bad = dict(ev, payload='{"a":2}', id="e1")

    def post(events, secret=SECRET, ts=None):
        body = gzip.compress(json.dumps({"appliance_id": "x-1", "lane": "records", "after": 0,
                                         "events": events}).encode())
        ts = ts or str(int(time.time() * 1000))
        return requests.post(url, data=body, timeout=5, headers={
            "Content-Encoding": "gzip", "X-Appliance-Id": "x-1", "X-Timestamp": ts,
            "X-Signature": crypto.sign(secret, ts, body), "X-Seq-Range": "1-1", "X-Chain-Head": events[-1]["hash"]})

    r = post([ev], secret="wrong-secret-wrong-secret")
    assert r.status_code == 401 and r.json()["error"]["code"] == "bad_signature"
    r = post([ev], ts=str(int(time.time() * 1000) - 3_600_000))
    assert r.status_code == 401 and r.json()["error"]["code"] == "clock_skew" and "X-Server-Time" in r.headers
    r = post([bad])
    assert r.status_code == 200 and r.json()["rejected"][0]["reason"].endswith("(altered)")
    r = post([ev])
    assert r.json()["accepted"] == 1
    r = post([ev])
    assert r.json() == {"accepted": 0, "duplicates": 1, "rejected": [], "head": 1}
    # a signed body that would inflate past the limit (a gzip bomb) is refused before it is held
    bomb = gzip.compress(b" " * (65 * 1024 * 1024), 9)
    ts = str(int(time.time() * 1000))
    r = requests.post(url, data=bomb, timeout=30, headers={
        "Content-Encoding": "gzip", "X-Appliance-Id": "x-1", "X-Timestamp": ts, "X-Signature": crypto.sign(SECRET, ts, bomb)})
    assert r.status_code == 400 and "inflates" in r.json()["error"]["message"]
    # a batch that skips what the receiver holds is a chain gap, answered with what it holds
    ev3 = dict(ev, seq=3, id="e3", prev_hash="f" * 64)
    ev3["hash"] = event_hash(ev3["prev_hash"], ev3)
    body = gzip.compress(json.dumps({"appliance_id": "x-1", "lane": "records", "after": 2, "events": [ev3]}).encode())
    ts = str(int(time.time() * 1000))
    r = requests.post(url, data=body, timeout=5, headers={
        "Content-Encoding": "gzip", "X-Appliance-Id": "x-1", "X-Timestamp": ts, "X-Signature": crypto.sign(SECRET, ts, body),
        "X-Seq-Range": "3-3", "X-Chain-Head": ev3["hash"]})
    assert r.status_code == 409 and r.json()["expected_after"] == 1


def test_tampered_log_row_is_refused_kept_as_dead_letter_and_visible(tmp_path, receiver):
    from appliance.config import load_config
    from appliance.core import db, events
    from sync import store
    from sync.adapters import Context
    from sync.engine import Worker

    _, port = receiver()
    cfg = load_config(write_config(tmp_path / "live", extra=endpoint_toml(f"http://127.0.0.1:{port}/v1")))
    db.migrate(cfg.storage.db_path)
    db.open_database(cfg.storage.db_path)
    for i in range(6):
        events.record("person.created", actor="system:test", payload={"i": i})
    raw = sqlite3.connect(cfg.storage.db_path)  # someone edits the file behind the appliance's back
    raw.executescript("DROP TRIGGER events_no_update; UPDATE events SET payload = '{\"i\":99}' WHERE seq = 4;")
    raw.close()
    w = Worker(cfg.sync.endpoints[0], Context("test-1"))
    assert w.run_until_idle(30)
    dead = store.dead_letters("hq")
    assert [d["seq"] for d in dead] == [4] and "altered" in dead[0]["reason"]
    assert w.health()["status"] == "degraded" and "dead letters" in w.health()["reason"]
    v = verify(port, "test-1")
    assert not v["ok"] and v["first_gap"] == 4 and receiver_count(port, "test-1") == 5
    w.adapter.close()
    db.database.close()


def test_dead_letter_replay_after_the_endpoint_is_fixed(tmp_path, receiver):
    """The endpoint refuses alarm records; they go to the dead-letter list shown on /admin; once the endpoint
    takes them, the admin's replay sends them and the chain at the receiver is whole."""
    from appliance.config import load_config
    from appliance.core import auth, db, events
    from appliance.domains import create_app
    from sync import store
    from sync.adapters import Context
    from sync.engine import Worker

    rx, port = receiver("--reject-type", "alarm.raised")
    cfg = load_config(write_config(tmp_path / "live", extra=endpoint_toml(f"http://127.0.0.1:{port}/v1")))
    app = create_app(cfg)
    auth.create_user(auth.UserIn(login="u_admin", password=PASSWORD, role="admin"), actor="system:test")
    users = {"admin": "u_admin"}
    ep = cfg.sync.endpoints[0]
    events.record("alarm.raised", actor="system:test", payload={"point": "P1", "level": 1})
    events.record("person.created", actor="system:test", payload={})
    w = Worker(ep, Context("test-1"))
    assert w.run_until_idle(30)
    dead = store.dead_letters("hq")
    assert len(dead) == 1 and dead[0]["type"] == "alarm.raised" and "does not accept" in dead[0]["reason"]
    admin = As(app, "admin", users)
    r = admin.get("/api/v1/sync/dead-letters")
    assert r.status_code == 200 and r.get_json()["dead_letters"][0]["seq"] == dead[0]["seq"]
    page = admin.get("/admin").get_data(as_text=True)
    assert f'data-dead-letter="{dead[0]["id"]}"' in page and "does not accept alarm.raised" in page
    stop_peer(rx)
    receiver(port=port)  # the endpoint now takes alarm records
    r = admin.post("/api/v1/sync/endpoints/hq/replay", json={})
    assert r.status_code == 200 and r.get_json()["replaying"] == 1
    assert w.run_until_idle(30)
    assert store.dead_letters("hq") == []
    assert verify(port, "test-1")["ok"]
    page = admin.get("/admin").get_data(as_text=True)
    assert 'data-endpoint="hq"' in page and "/api/v1/sync/endpoints/hq/replay" not in page  # none left to replay
    w.adapter.close()
    db.database.close()


def test_photos_go_last_by_sha256_resume_and_are_skipped_when_there(tmp_path, receiver):
    import hashlib
    import io

    from PIL import Image

    from appliance.config import load_config
    from appliance.core import db, photos
    from appliance.core import people as P
    from appliance.hazards import service as H
    from sync import store
    from sync.adapters import Context
    from sync.engine import Worker

    _, port = receiver()
    cfg = load_config(write_config(tmp_path / "live", extra=endpoint_toml(f"http://127.0.0.1:{port}/v1")))
    db.migrate(cfg.storage.db_path)
    db.open_database(cfg.storage.db_path)
    root = cfg.storage.data_dir / "photos"
    buf = io.BytesIO()
    Image.effect_noise((900, 700), 80).convert("RGB").save(buf, "PNG")  # noise: a JPEG of several pieces
    digest = photos.store(buf.getvalue(), root)
    data = (root / f"{digest}.jpg").read_bytes()
    assert len(data) > 300 * 1024
    # a cut upload left the first 100 000 bytes at the receiver: it resumes from there
    (tmp_path / "rx" / "photos" / f"{digest}.part").write_bytes(data[:100_000])
    a = P.create_area(P.AreaIn(code="A", name="甲"), actor="user:t")
    H.report(H.ReportIn(area_id=a.id, category="消防", description="通道堵塞", photo=digest), actor="user:t",
             photo_root=root)
    w = Worker(cfg.sync.endpoints[0], Context("test-1", root))
    assert w.step()  # first the hazard record (safety lane) ...
    assert receiver_status(port)["photos"] == 0
    assert w.run_until_idle(30)  # ... then the other records, then the photo
    got = tmp_path / "rx" / "photos" / f"{digest}.jpg"
    assert hashlib.sha256(got.read_bytes()).hexdigest() == digest and receiver_status(port)["photos"] == 1
    assert w.snapshot()["sent_photos"] == 1
    # another endpoint name (a second cursor) finds the photo already there and does not upload it again
    ep2 = cfg.sync.endpoints[0].model_copy(update={"name": "hq2"})
    w2 = Worker(ep2, Context("test-1", root))
    assert w2.run_until_idle(30)
    assert store.photo_sent("hq2", digest)
    assert w2.snapshot()["sent_photos"] == 0 and w2.snapshot()["skipped_photos"] == 1
    assert receiver_status(port)["photos"] == 1
    w.adapter.close()
    w2.adapter.close()
    db.database.close()


def test_receiver_disk_full_is_507_visible_and_loses_nothing(tmp_path, receiver):
    from appliance.config import load_config
    from appliance.core import db, events
    from sync.adapters import Context
    from sync.engine import Worker

    rx, port = receiver("--max-db-mb", "0.15")
    cfg = load_config(write_config(tmp_path / "live", extra=endpoint_toml(f"http://127.0.0.1:{port}/v1",
                                                                          batch_max_events=20)))
    db.migrate(cfg.storage.db_path)
    db.open_database(cfg.storage.db_path)
    for i in range(300):
        events.record("person.created", actor="system:test", payload={"i": i, "pad": "y" * 300})
    w = Worker(cfg.sync.endpoints[0], Context("test-1"))
    assert not w.run_until_idle(30)
    s = w.snapshot()
    assert "507" in s["last_error"] and "disk is full" in s["last_error"] and s["backlog_total"] > 0
    held = receiver_count(port, "test-1")
    assert 0 < held < 300
    stop_peer(rx)
    receiver(port=port)  # room again
    assert w.run_until_idle(30)
    v = verify(port, "test-1")
    assert v["ok"] and v["events"] == events.head_seq() == 300
    w.adapter.close()
    db.database.close()


def test_clock_skew_is_corrected_from_the_receiver_and_shown(tmp_path, receiver):
    """A Pi without RTC can be hours off: the receiver says 401 clock_skew with its time, the adapter sends
    with that offset from then on, and the cause stays visible in the status."""
    from appliance.config import load_config
    from appliance.core import db, events
    from sync.adapters import Context
    from sync.engine import Worker

    _, port = receiver("--clock-offset", "7200")
    cfg = load_config(write_config(tmp_path / "live", extra=endpoint_toml(f"http://127.0.0.1:{port}/v1")))
    db.migrate(cfg.storage.db_path)
    db.open_database(cfg.storage.db_path)
    for i in range(3):
        events.record("person.created", actor="system:test", payload={"i": i})
    w = Worker(cfg.sync.endpoints[0], Context("test-1"))
    assert w.run_until_idle(30)
    assert receiver_count(port, "test-1") == 3
    s = w.snapshot()
    assert s["last_error"].startswith("clock_skew") and "+7200 s" in s["last_error"]
    w.adapter.close()
    db.database.close()


def test_minute_aggregates_lane_sends_whole_finished_minutes_once(tmp_path, receiver):
    from appliance.config import load_config
    from appliance.core import db, events
    from sync import store
    from sync.adapters import Context
    from sync.engine import Worker

    _, port = receiver()
    cfg = load_config(write_config(tmp_path / "live", extra=endpoint_toml(f"http://127.0.0.1:{port}/v1",
                                                                          batch_max_events=2)))
    db.migrate(cfg.storage.db_path)
    db.open_database(cfg.storage.db_path)
    now = events.now_ms()
    start = store.finished_before(now) - 10 * 60_000
    rows = [(p, start + m * 60_000, 1.0, 2.0 + m, 3.0, 60) for m in range(12) for p in ("GT-101", "GT-102", "GT-103")]
    db.database.connection().executemany("INSERT INTO reading_minutes VALUES (?, ?, ?, ?, ?, ?)", rows)
    events.record("alarm.raised", actor="system:test", payload={"point": "GT-101", "level": 1})
    w = Worker(cfg.sync.endpoints[0], Context("test-1"))
    assert w.lanes == ["safety", "records", "aggregates", "photos"]
    assert w.step() and receiver_status(port)["appliances"]["test-1"]["events"] == 1  # the alarm first
    assert w.run_until_idle(30)
    # 10 finished minutes of 3 points; the current and the last minute are still being written: not sent
    assert receiver_status(port)["appliances"]["test-1"]["aggregates"] == 30
    assert store.cursor("hq", "aggregates") == start + 9 * 60_000
    assert w.snapshot()["backlog"]["aggregates"] == 0
    store.rewind("hq", "aggregates", 0)  # a resend overwrites, never duplicates
    assert w.run_until_idle(30)
    assert receiver_status(port)["appliances"]["test-1"]["aggregates"] == 30
    w.adapter.close()
    db.database.close()


def test_receiver_keeps_appliances_apart_with_their_own_secrets(tmp_path, receiver):
    """A head office receiver with one secret per appliance: each appliance's chain is verified on its own,
    and one appliance's secret does not sign for another."""
    from appliance.config import load_config
    from appliance.core import db, events
    from sync.adapters import Context
    from sync.engine import Worker

    secrets = tmp_path / "secrets.json"
    secrets.write_text(json.dumps({"plant-a": "secret-of-plant-a-000", "plant-b": "secret-of-plant-b-000"}))
    p, port = start_receiver(tmp_path / "rx2", "--secrets-file", str(secrets), secret="")
    try:
        cfg = load_config(write_config(tmp_path / "live", extra=endpoint_toml(
            f"http://127.0.0.1:{port}/v1", secret="secret-of-plant-a-000")))
        db.migrate(cfg.storage.db_path)
        db.open_database(cfg.storage.db_path)
        for i in range(5):
            events.record("person.created", actor="system:test", payload={"i": i})
        a = Worker(cfg.sync.endpoints[0], Context("plant-a"))
        b = Worker(cfg.sync.endpoints[0].model_copy(update={"name": "as-b"}), Context("plant-b"))
        assert a.run_until_idle(30)
        assert not b.run_until_idle(10) and "401" in b.snapshot()["last_error"]  # plant-a's secret, plant-b's name
        st = receiver_status(port)["appliances"]
        assert set(st) == {"plant-a"} and verify(port, "plant-a")["ok"] and verify(port, "plant-b")["events"] == 0
        a.adapter.close()
        b.adapter.close()
        db.database.close()
    finally:
        stop_peer(p)
