"""The event log: one transaction for record + event, the hash chain, `audit verify`, the bus."""
from __future__ import annotations

import hashlib
import json
import sqlite3
import threading
import time

import pytest

from appliance.core import db, events
from appliance.core import people as P
from appliance.core.errors import ChainBroken, Conflict
from conftest import run_cli


def _person(no: str, name: str = "测试"):
    return P.create_person(P.PersonIn(employee_no=no, name=name), actor="user:test")


def test_event_fields_and_hash(app):
    p = _person("E1", "王五")
    (ev,) = events.read_after(0)
    assert (ev.seq, ev.type, ev.actor, ev.entity_type, ev.entity_id) == (1, "person.created", "user:test", "person", str(p.id))
    assert ev.payload["name"] == "王五" and len(ev.id) == 36
    assert ev.occurred_at == ev.recorded_at and ev.recorded_at > 1_700_000_000_000  # UTC milliseconds
    row = events.Event.get_by_id(1)
    assert row.prev_hash == events.GENESIS_HASH
    body = events.canonical_json({k: getattr(row, k) for k in events.HASHED_FIELDS})
    assert row.hash == hashlib.sha256(row.prev_hash.encode() + body.encode()).hexdigest()
    assert json.loads(row.payload)["name"] == "王五"  # stored as readable UTF-8 JSON
    _person("E2")
    assert events.Event.get_by_id(2).prev_hash == row.hash


def test_record_and_event_commit_together_or_not_at_all(app):
    _person("E1")
    head = events.head_seq()
    with pytest.raises(RuntimeError):
        with events.recording("user:test") as rec:
            p = P.Person.create(employee_no="E2", name="x", kind="employee", department="", job="", company="",
                                active=True, created_at=1, updated_at=1)
            rec.emit("person.created", entity=("person", p.id), payload={})
            raise RuntimeError("power cut")
    assert events.head_seq() == head and P.Person.get_or_none(P.Person.employee_no == "E2") is None
    with pytest.raises(Conflict):
        _person("E1")  # a refused change writes no event either
    assert events.head_seq() == head


def test_events_are_append_only(app):
    _person("E1")
    with pytest.raises(Exception, match="append-only"):
        db.database.execute_sql("UPDATE events SET actor='x' WHERE seq=1")
    with pytest.raises(Exception, match="append-only"):
        db.database.execute_sql("DELETE FROM events WHERE seq=1")


def test_concurrent_writers_keep_one_gap_free_chain(app, config):
    def write(k):
        for i in range(15):
            _person(f"T{k}-{i}")
        db.database.close()

    threads = [threading.Thread(target=write, args=(k,)) for k in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    conn = db.connect_raw(config.storage.db_path)
    assert events.verify_chain(conn) == 60
    assert [r[0] for r in conn.execute("SELECT seq FROM events ORDER BY seq")] == list(range(1, 61))
    conn.close()


def _tamper(path, sql):
    conn = sqlite3.connect(path)
    conn.execute("DROP TRIGGER IF EXISTS events_no_update")  # an attacker with the file can drop the guard ...
    conn.execute("DROP TRIGGER IF EXISTS events_no_delete")
    conn.execute(sql)
    conn.commit()
    conn.close()


@pytest.mark.parametrize("sql, bad_seq, reason", [
    ("UPDATE events SET payload = replace(payload, '人员3', '人员X') WHERE seq = 3", 3, "altered"),
    ("UPDATE events SET actor = 'user:someone-else' WHERE seq = 4", 4, "altered"),
    ("DELETE FROM events WHERE seq = 2", 2, "missing"),
    ("UPDATE events SET prev_hash = hash WHERE seq = 5", 5, "link"),
])
def test_audit_verify_names_the_first_tampered_seq(app, config, sql, bad_seq, reason):
    for i in range(1, 7):
        _person(f"E{i}", f"人员{i}")
    cfg_file = str(config.storage.data_dir / "appliance.toml")
    ok = run_cli("audit", "verify", "--config", cfg_file)
    assert ok.returncode == 0 and "6 events" in ok.stdout
    db.database.close()
    _tamper(config.storage.db_path, sql)  # ... but not recompute the chain without it showing
    conn = db.connect_raw(config.storage.db_path)
    with pytest.raises(ChainBroken) as e:
        events.verify_chain(conn)
    conn.close()
    assert e.value.seq == bad_seq and reason in e.value.en
    r = run_cli("audit", "verify", "--full", "--config", cfg_file)
    assert r.returncode == 1
    assert f"first_bad_seq={bad_seq}" in r.stdout and f"seq {bad_seq}" in r.stderr and f"序号 {bad_seq}" in r.stderr


def test_incremental_audit_verify_walks_from_its_checkpoint(app, config):
    """The second `audit verify` walks only what came after the last verified event; it still finds a row
    altered after the checkpoint and a history rewritten up to it (--full also finds an in-place edit before)."""
    for i in range(1, 5):
        _person(f"E{i}", f"人员{i}")
    cfg_file = str(config.storage.data_dir / "appliance.toml")
    assert "4 events" in run_cli("audit", "verify", "--config", cfg_file).stdout
    for i in range(5, 8):
        _person(f"E{i}", f"人员{i}")
    r = run_cli("audit", "verify", "--config", cfg_file)
    assert r.returncode == 0 and "7 events (from checkpoint 4)" in r.stdout
    for i in range(8, 10):
        _person(f"E{i}", f"人员{i}")
    db.database.close()
    _tamper(config.storage.db_path, "UPDATE events SET actor = 'user:x' WHERE seq = 8")  # after the checkpoint
    r = run_cli("audit", "verify", "--config", cfg_file)
    assert r.returncode == 1 and "first_bad_seq=8" in r.stdout
    _tamper(config.storage.db_path, "UPDATE events SET hash = (CASE WHEN substr(hash, 1, 1) = 'f' THEN '0' ELSE 'f' END)"
                              " || substr(hash, 2) WHERE seq = 7")  # the checkpoint (a hash starting with f: 1 in 16)
    r = run_cli("audit", "verify", "--config", cfg_file)
    assert r.returncode == 1 and "first_bad_seq=7" in r.stdout and "checkpoint" in r.stderr


def test_bus_publishes_in_order_including_other_writers(app, config):
    bus = events.Bus(capacity=8, poll_s=0.05)
    seen = []
    bus.subscribe(lambda e: seen.append(e.seq))
    events.BUS = bus
    bus.start()
    try:
        for i in range(5):
            _person(f"E{i}")
        # another process (a CLI command) writing to the same file is picked up by polling
        r = run_cli("create-token", "--config", str(config.storage.data_dir / "appliance.toml"), "--name", "wall")
        assert r.returncode == 0, r.stderr
        got = []
        cursor = 0
        while len(got) < 6:
            batch = bus.wait_after(cursor, 5)
            assert batch, "bus delivered nothing within 5 s"
            got += batch
            cursor = got[-1].seq
        assert [e.seq for e in got] == [1, 2, 3, 4, 5, 6] and got[-1].type == "device_token.created"
        assert seen == [1, 2, 3, 4, 5, 6]
        for i in range(10):  # push the first events out of memory (capacity 8)
            _person(f"F{i}")
        deadline = 100
        while bus.head < 16 and deadline:
            bus.wait_after(bus.head, 0.1)
            deadline -= 1
        assert bus.wait_after(0, 0.1) is None  # too old for memory: the caller reads the log
        assert [e.seq for e in bus.wait_after(10, 0.1)] == list(range(11, 17))
    finally:
        bus.stop()
        events.BUS = None


def test_nested_recordings_share_one_chain_and_roll_back_alone(app, config):
    with events.recording("user:outer") as rec:
        _person("N1")  # a domain function opening its own recording inside ours
        rec.emit("note.added", payload={"n": 1})
        with pytest.raises(Conflict):
            _person("N1")  # the inner failure is undone, the outer carries on
        _person("N2")
    got = events.read_after(0)
    assert [(e.type, e.actor) for e in got] == [("person.created", "user:test"), ("note.added", "user:outer"),
                                                 ("person.created", "user:test")]
    assert P.Person.select().count() == 2
    conn = db.connect_raw(config.storage.db_path)
    assert events.verify_chain(conn) == 3
    conn.close()


@pytest.mark.parametrize("fields", [
    {"seq": 1, "id": "u", "type": "a.b", "occurred_at": 1, "recorded_at": 2, "actor": "user:张三",
     "entity_type": None, "entity_id": None, "payload": "{}"},
    {"seq": 99, "id": "x", "type": "t", "occurred_at": 1795903500621, "recorded_at": 1795903500621,
     "actor": 'quote"back\\\\slash\\n\\ttab\\u0001', "entity_type": "person", "entity_id": "12",
     "payload": '{"name":"王五","note":"line\\nbreak"}'},
])
def test_fast_hash_is_the_hash_of_canonical_json(fields):
    body = events.canonical_json({k: fields[k] for k in events.HASHED_FIELDS})
    assert events.event_hash("0" * 64, fields) == hashlib.sha256(("0" * 64 + body).encode()).hexdigest()


def test_bulk_items_are_marked_not_live_and_a_rolled_back_bulk_marks_nothing(app):
    """The bus reads events back from the log; the items of a bulk write reach it marked not live (live
    streams skip them). A rolled-back bulk write's seqs are used again by the next events, which stay live."""
    head = events.head_seq()
    with pytest.raises(RuntimeError):
        with events.recording("user:test", live=False) as rec:
            rec.emit("risk.measure_added", payload={"n": 0})
            raise RuntimeError("cut")
    events.record("person.note", actor="user:test")
    with events.recording("user:test", live=False) as rec:
        rec.emit("risk.measure_added", payload={"n": 1})
        rec.emit("risk.measure_added", payload={"n": 2})
    events.record("risk.register_imported", actor="user:test")
    marked = events.QUIET.mark(events.read_after(head, 10))
    assert [(e.type, e.live) for e in marked] == [("person.note", True), ("risk.measure_added", False),
                                                  ("risk.measure_added", False), ("risk.register_imported", True)]
    assert all(e.live for e in events.read_after(head, 10))   # the log itself knows nothing of it


def test_the_bus_keeps_bulk_items_slim_and_hands_subscribers_the_whole_event(app):
    """The bus's memory of recent events (what live streams read) keeps a bulk item's place in the log and
    nothing else: its payload is the subscribers' (a register import's 5,000 items were ~6.5 MB of it)."""
    head = events.head_seq()
    bus = events.Bus(capacity=100, poll_s=0.05)
    got: list = []
    summaries: list = []
    bus.subscribe(got.append)
    bus.subscribe(summaries.append, ("risk.register_", "alarm."))   # only the events of these types
    bus.start()
    try:
        with events.recording("user:test", live=False) as rec:
            for n in range(3):
                rec.emit("risk.measure_added", entity=("risk_measure", n), payload={"description": f"措施{n}"})
        events.record("risk.register_imported", actor="user:test", payload={"rows": 3})
        bus.poke()
        kept = bus.wait_after(head, 5)
        deadline = time.monotonic() + 5
        while (kept is None or len(kept) < 4) and time.monotonic() < deadline:
            kept = bus.wait_after(head, 0.2)
        assert kept is not None and [e.seq for e in kept] == list(range(head + 1, head + 5))   # no gap
        assert [(e.type, e.live, e.payload) for e in kept] == [
            ("risk.measure_added", False, {}), ("risk.measure_added", False, {}), ("risk.measure_added", False, {}),
            ("risk.register_imported", True, {"rows": 3})]
        assert [e.entity_id for e in kept[:3]] == ["0", "1", "2"]
        while len(got) < 4 and time.monotonic() < deadline:
            time.sleep(0.02)
        assert [e.payload for e in got] == [{"description": "措施0"}, {"description": "措施1"},
                                            {"description": "措施2"}, {"rows": 3}]
        assert [e.live for e in got] == [False, False, False, True]
        assert [e.type for e in summaries] == ["risk.register_imported"]
    finally:
        bus.stop()


def test_a_worker_that_reads_the_log_itself_is_woken_once_per_batch_not_once_per_event(app):
    """Bus.on_new (the uplink sync's wake-up): a register import's 600 items wake it a few times, and nothing
    of them queues for the subscribers' thread when no subscriber is for their type."""
    bus = events.Bus(capacity=100, poll_s=60)   # read only when poked: one drain for the whole import
    woken: list[float] = []
    alarms: list = []
    bus.on_new(lambda: woken.append(time.monotonic()))
    bus.subscribe(alarms.append, ("alarm.",))
    bus.start()
    try:
        head = events.head_seq()
        with events.recording("user:test", live=False) as rec:
            for n in range(600):
                rec.emit("risk.measure_added", entity=("risk_measure", n), payload={"description": f"措施{n}"})
        events.record("risk.register_imported", actor="user:test", payload={"rows": 600})
        bus.poke()
        deadline = time.monotonic() + 5
        while bus.head < head + 601 and time.monotonic() < deadline:
            time.sleep(0.02)
        assert bus.head == head + 601
        batches = -(-601 // events.READ_BATCH)
        assert 1 <= len(woken) <= batches, (len(woken), batches)
        assert bus._backlog.qsize() == 0 and alarms == []
        events.record("alarm.raised", actor="system", payload={"point": "GT-1"})
        bus.poke()
        while not alarms and time.monotonic() < deadline:
            time.sleep(0.02)
        assert [e.type for e in alarms] == ["alarm.raised"]
        assert len(woken) <= batches + 1
    finally:
        bus.stop()


def test_a_waker_that_fails_does_not_stop_the_bus(app):
    bus = events.Bus(capacity=100, poll_s=0.05)
    calls: list[int] = []

    def bad() -> None:
        calls.append(1)
        raise RuntimeError("boom")

    bus.on_new(bad)
    bus.start()
    try:
        head = events.head_seq()
        events.record("person.note", actor="user:test", payload={})
        bus.poke()
        assert bus.wait_after(head, 5)
        events.record("person.note", actor="user:test", payload={})
        bus.poke()
        deadline = time.monotonic() + 5
        while bus.head < head + 2 and time.monotonic() < deadline:
            time.sleep(0.02)
        assert bus.head == head + 2 and bus.running and len(calls) >= 2
    finally:
        bus.stop()


def test_bulk_ranges_of_one_log_do_not_silence_another(app, tmp_path):
    """Seqs start again at 1 in another database (a restore; the next appliance in this process): a bulk
    range kept from the old log must not mark the new log's events not live. CI lost an alarm card and
    live-feed items this way after an earlier test's register import."""
    from appliance.core import db

    old = db.database.database
    head = events.head_seq()
    with events.recording("user:test", live=False) as rec:
        for i in range(20):
            rec.emit("risk.measure_added", payload={"n": i})
    assert not any(e.live for e in events.QUIET.mark(events.read_after(head, 50)))
    db.database.close()
    db.migrate(tmp_path / "other.db", tmp_path / "backups")
    db.open_database(tmp_path / "other.db")
    try:
        events.record("gas.alarm_raised", actor="device:gas:CH4-1")
        fresh = events.QUIET.mark(events.read_after(0, 50))
        assert fresh and fresh[0].seq <= head + 20 and all(e.live for e in fresh)
    finally:
        db.database.close()
        db.open_database(old)


def test_head_seq_is_the_newest_seq_and_zero_for_an_empty_log(app):
    """head_seq runs plain SQL (issue 14): 0 before the first event, then the newest event's seq."""
    db.database.execute_sql("DELETE FROM events")
    assert events.head_seq() == 0
    _person("H1")
    _person("H2")
    newest = events.Event.select().order_by(events.Event.seq.desc()).first()
    assert newest is not None and events.head_seq() == newest.seq > 0
