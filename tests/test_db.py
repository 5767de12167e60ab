"""The SQLite file: pragmas, migrations on an old database (after a backup), online backup, export."""
from __future__ import annotations

import io
import itertools
import json
import sqlite3
import threading

import pytest

from appliance.core import db, events
from appliance.core import people as P
from appliance.core.errors import DatabaseError


def test_pragmas_on_the_live_connection(app):
    def q(s):
        return db.database.execute_sql(s).fetchone()[0]
    assert q("PRAGMA journal_mode") == "wal"
    assert q("PRAGMA synchronous") == 2  # FULL
    assert q("PRAGMA foreign_keys") == 1
    assert q("PRAGMA busy_timeout") == 5000


def test_migrations_are_numbered_without_gaps():
    nums = [n for n, _, _ in db.migrations()]
    assert nums == list(range(1, len(nums) + 1)) and len(nums) >= 2


def test_migrating_an_old_database_keeps_its_data_and_backs_it_up(tmp_path):
    path, backups = tmp_path / "old.db", tmp_path / "backups"
    assert db.migrate(path, backups, target=1) == ["0001_core"]
    assert not backups.exists()  # a new database has nothing to back up
    old = sqlite3.connect(path)
    old.execute("INSERT INTO people (employee_no, name, kind, created_at, updated_at) VALUES ('E1', '老王', 'employee', 1, 1)")
    old.execute("INSERT INTO users (login, password_hash, role, created_at, updated_at) VALUES ('a', 'h', 'admin', 1, 1)")
    old.commit()
    old.close()

    applied = db.migrate(path, backups)
    assert applied[0] == "0002_device_tokens" and len(applied) == len(db.migrations()) - 1
    assert db.schema_version(path) == len(db.migrations())
    conn = sqlite3.connect(path)
    assert conn.execute("SELECT name FROM people").fetchall() == [("老王",)]
    assert conn.execute("SELECT last_login_at FROM users").fetchall() == [(None,)]  # new column
    conn.execute("SELECT * FROM device_tokens").fetchall()
    conn.close()
    (copy,) = backups.glob("pre-migration-v1-*.db")
    bk = sqlite3.connect(copy)
    assert bk.execute("PRAGMA user_version").fetchone()[0] == 1
    assert bk.execute("SELECT name FROM people").fetchall() == [("老王",)]
    bk.close()
    assert db.migrate(path, backups) == []  # idempotent


def test_a_failing_migration_leaves_the_previous_version(tmp_path, monkeypatch):
    path = tmp_path / "x.db"
    db.migrate(path, target=1)
    real = db.migrations()
    broken = real[:1] + [(2, "broken", "CREATE TABLE ok_part (x);\nCREATE TABLE people (dup);\n")]
    monkeypatch.setattr(db, "migrations", lambda: broken)
    with pytest.raises(DatabaseError, match="0002_broken"):
        db.migrate(path)
    assert db.schema_version(path) == 1
    conn = sqlite3.connect(path)
    assert conn.execute("SELECT count(*) FROM sqlite_master WHERE name='ok_part'").fetchone()[0] == 0
    conn.close()


def test_a_newer_database_is_refused(tmp_path):
    path = tmp_path / "new.db"
    db.migrate(path)
    conn = sqlite3.connect(path)
    conn.execute("PRAGMA user_version=99")
    conn.close()
    with pytest.raises(DatabaseError, match="newer"):
        db.migrate(path)


def test_backup_is_consistent_while_writing(app, config, tmp_path):
    stop = threading.Event()

    def writer():
        i = 0
        while not stop.is_set():
            P.create_person(P.PersonIn(employee_no=f"W{i}", name=f"写入{i}"), actor="test")
            i += 1
        db.database.close()

    th = threading.Thread(target=writer)
    th.start()
    try:
        copies = [db.backup(config.storage.db_path, tmp_path / f"b{n}.db") for n in range(3)]
    finally:
        stop.set()
        th.join()
    for c in copies:
        conn = sqlite3.connect(c)
        assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "delete"
        people = conn.execute("SELECT count(*) FROM people").fetchone()[0]
        evs = conn.execute("SELECT count(*) FROM events WHERE type='person.created'").fetchone()[0]
        assert people == evs  # record and event always together, even mid-write
        assert events.verify_chain(conn) >= evs
        conn.close()


def test_a_stepped_backup_is_one_snapshot_and_finishes_while_the_appliance_writes(app, config, tmp_path):
    """The backup goes in small steps with pauses (so its writes never pile up for one long fsync) inside one
    read transaction: the appliance's commits go on between the steps, and the copy neither starts over at
    each of them (it would never end on a busy plant) nor mixes two states of the database."""
    for i in range(600):   # a file of some hundred pages
        P.create_person(P.PersonIn(employee_no=f"S{i}", name=f"初始{i}" * 5), actor="test")
    stop, steps, written_during = threading.Event(), [], []

    def writer():
        i = 0
        while not stop.is_set():
            P.create_person(P.PersonIn(employee_no=f"W{i}", name=f"写入{i}"), actor="test")
            if steps:
                written_during.append(i)
            i += 1
        db.database.close()

    def step(remaining: int, total: int) -> None:
        steps.append((remaining, total))
        if len(steps) > 4 * (total // 8 + 1):   # a copy that starts over at each commit would never end
            raise RuntimeError(f"the backup started over: {steps[-5:]}")

    th = threading.Thread(target=writer)
    th.start()
    try:
        out = db.backup(config.storage.db_path, tmp_path / "stepped.db", step_pages=8, pause_s=0.01,
                        on_step=step)
    finally:
        stop.set()
        th.join()
    total = steps[0][1]
    assert total > 80 and steps[-1][0] == 0, steps[-3:]
    # one pass: every step copied the next pages of the same snapshot; none went back to the start
    assert all(b[0] < a[0] for a, b in itertools.pairwise(steps)), steps
    assert len(steps) <= total // 8 + 1 and {t for _, t in steps} == {total}
    assert len(written_during) > 10   # the appliance kept committing while the copy went on
    conn = sqlite3.connect(out)
    assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "delete"
    people = conn.execute("SELECT count(*) FROM people").fetchone()[0]
    assert people == conn.execute("SELECT count(*) FROM events WHERE type='person.created'").fetchone()[0]
    assert events.verify_chain(conn) >= people
    conn.close()
    live = sqlite3.connect(config.storage.db_path)
    assert live.execute("SELECT count(*) FROM people").fetchone()[0] > people  # what came after is not in it
    live.close()


def test_prune_keeps_the_newest(tmp_path):
    for i in range(5):
        (tmp_path / f"backup-2026010{i}.db").write_bytes(b"x")
    removed = db.prune_backups(tmp_path, 2)
    assert len(removed) == 3
    assert sorted(p.name for p in tmp_path.glob("*.db")) == ["backup-20260103.db", "backup-20260104.db"]


def test_export_csv_and_json_without_secrets(app, config, users):
    P.create_person(P.PersonIn(employee_no="E9", name="陈, 逗号"), actor="test")
    out = io.StringIO()
    n = db.export_table(config.storage.db_path, "people", "csv", out)
    assert n == 1 and "陈, 逗号" in out.getvalue() and out.getvalue().startswith("id,")
    out = io.StringIO()
    db.export_table(config.storage.db_path, "users", "json", out)
    rows = json.loads(out.getvalue())
    assert {r["login"] for r in rows} >= {"u_admin"} and all("password_hash" not in r for r in rows)
    out = io.StringIO()
    db.export_table(config.storage.db_path, "device_tokens", "json", out)
    assert all("token_hash" not in r for r in json.loads(out.getvalue()))
    with pytest.raises(DatabaseError, match="no such table: nope") as e:
        db.export_table(config.storage.db_path, "nope", "csv", io.StringIO())
    assert "people" in e.value.en  # lists what is available


def test_release_connection_closes_only_outside_a_transaction(tmp_path):
    """A web request or a live stream gives its thread's SQLite connection back when done (issue 14: ~100
    waitress threads each held one, with its page and statement caches), but never in a transaction."""
    db.open_database(tmp_path / "r.db")
    db.database.connect(reuse_if_open=True)
    with db.database.atomic():
        db.release_connection()
        assert not db.database.is_closed()             # inside a transaction: kept
    db.release_connection()
    assert db.database.is_closed()
    assert db.database.execute_sql("SELECT 1").fetchone() == (1,)   # the next use reconnects
    db.release_connection()
    db.release_connection()                             # closed already: nothing to do
    assert db.database.is_closed()


def test_a_request_leaves_no_connection_on_its_thread(app, client):
    """Flask's test client runs the request on this thread: afterwards the thread holds no connection."""
    db.database.connect(reuse_if_open=True)
    assert client.get("/api/v1/health").status_code in (200, 503)
    assert db.database.is_closed()


def test_malloc_arenas_are_limited_on_glibc():
    import platform

    from appliance.core import memory
    assert memory.limit_malloc_arenas() is (platform.libc_ver()[0] == "glibc")


def test_freed_heap_pages_go_back_to_the_system():
    """memory.trim (every 30 s, a scheduler job) hands free pages in the middle of the heap back: RSS drops
    after a burst of small objects is freed, where glibc alone keeps them."""
    import platform

    from appliance.core import memory
    if platform.libc_ver()[0] != "glibc":
        assert memory.trim() is False
        return

    def rss_kb() -> int:
        with open("/proc/self/status") as fh:
            return int(fh.read().split("VmRSS:")[1].split()[0])

    # ~80 MB of 2 KB blocks (over pymalloc's 512 bytes: malloc's heap, as response bodies, JSON texts and
    # SQLite's pages are); a few survivors pin the heap's top, so glibc alone gives nothing back
    burst = [bytes(2000) + bytes([i % 256]) for i in range(40_000)]
    keep = burst[::64]
    del burst
    before = rss_kb()
    memory.trim()
    assert rss_kb() < before - 20_000, (before, rss_kb())
    del keep


def test_the_start_s_objects_are_frozen_and_its_garbage_collected_first():
    """memory.freeze_startup: a full collection no longer walks what existed at start (gc.get_objects lists
    the collector's generations, not the frozen ones), the start's cyclic garbage is collected before, not
    frozen for good, and unfreeze hands everything back."""
    import gc
    import weakref

    from appliance.core import memory

    class Node:
        pass

    alive = {"kept": [1, 2, 3]}
    garbage = Node()
    garbage.self = garbage          # a cycle only the collector can free
    gone = weakref.ref(garbage)
    del garbage
    try:
        frozen = memory.freeze_startup()
        assert frozen == gc.get_freeze_count() > 0
        assert gone() is None, "the start's garbage was frozen instead of collected"
        assert not any(o is alive for o in gc.get_objects())
        later = Node()
        assert any(o is later for o in gc.get_objects()), "an object made later is still the collector's"
    finally:
        memory.unfreeze()
    assert gc.get_freeze_count() == 0
    assert any(o is alive for o in gc.get_objects())


def test_a_running_appliance_is_frozen_and_handed_back_when_it_stops(tmp_path):
    import gc

    from appliance.config import load_config
    from appliance.service import Appliance
    from conftest import write_config

    appliance = Appliance(load_config(write_config(tmp_path / "live"))).start()
    try:
        assert gc.get_freeze_count() > 10_000   # modules, the app, its routes and tables
        assert not any(o is appliance.runtime for o in gc.get_objects())
    finally:
        appliance.stop()
    assert gc.get_freeze_count() == 0
    assert any(o is appliance.runtime for o in gc.get_objects())


def test_bulk_writers_wait_while_a_safety_write_is_on():
    """The priority lane: a bulk write (an import, a cleanup chunk) does not start while a safety writer
    (the gas sensors' poll) writes or waits to; it starts as soon as that one is done, and a safety writer
    that never stops delays it only up to its bound."""
    gate = db.WriteGate()
    order: list[str] = []
    inside, done = threading.Event(), threading.Event()

    def safety():
        with gate.safety():
            inside.set()
            done.wait(5)
            order.append("safety")

    t = threading.Thread(target=safety)
    t.start()
    inside.wait(5)
    b = threading.Thread(target=lambda: (gate.bulk().__enter__(), order.append("bulk")))
    b.start()
    b.join(0.3)
    assert order == [] and b.is_alive()                   # held back while the alarm write is on
    done.set()
    t.join(5)
    b.join(5)
    assert order == ["safety", "bulk"] and gate.safety_writers == 0
    with gate.safety():                                   # bounded: maintenance is never starved for ever
        with gate.bulk(max_wait_s=0.05):
            order.append("bulk after its bound")
    assert order[-1] == "bulk after its bound"


def test_given_back_connections_wait_in_a_small_pool_for_the_next_thread(tmp_path):
    """A connection given back is handed to the next thread that connects (no close/open per request);
    at most MAX_IDLE wait; none is ever handed out for another file (a restore, another database)."""
    db.open_database(tmp_path / "p.db")
    pool = db.database
    db.database.execute_sql("CREATE TABLE t (x)")
    first = db.database.connection()
    db.release_connection()
    got = []

    def other_thread():
        got.append(db.database.connection())
        db.database.execute_sql("INSERT INTO t VALUES (1)")
        db.release_connection()

    th = threading.Thread(target=other_thread)
    th.start()
    th.join(5)
    assert got == [first]                                 # the same connection, on another thread
    conns = []
    barrier = threading.Barrier(pool.MAX_IDLE + 3)

    def hold():
        conns.append(db.database.connection())
        barrier.wait(5)                                   # all open at once
        db.release_connection()

    ths = [threading.Thread(target=hold) for _ in range(pool.MAX_IDLE + 3)]
    for t in ths:
        t.start()
    for t in ths:
        t.join(5)
    assert len({id(c) for c in conns}) == pool.MAX_IDLE + 3 and len(pool._idle) == pool.MAX_IDLE
    db.open_database(tmp_path / "q.db")                   # another file: the pool starts empty
    assert pool._idle == []
    assert db.database.execute_sql("SELECT count(*) FROM sqlite_master").fetchone() == (0,)


def test_relaxed_durability_is_for_its_block_and_its_connection_only(tmp_path):
    """The demo seed commits without an fsync each; the connection is FULL again after the block (it may be
    handed to a web thread next), and what the block wrote is in the database file (checkpointed)."""
    db.open_database(tmp_path / "r.db")
    try:
        db.database.execute_sql("CREATE TABLE t (x)")
        assert db.database.execute_sql("PRAGMA synchronous").fetchone()[0] == 2
        with db.relaxed_durability():
            assert db.database.execute_sql("PRAGMA synchronous").fetchone()[0] == 1
            with db.database.atomic():
                db.database.execute_sql("INSERT INTO t VALUES (1)")
        assert db.database.execute_sql("PRAGMA synchronous").fetchone()[0] == 2
        with pytest.raises(RuntimeError):
            with db.relaxed_durability():
                raise RuntimeError("cut")
        assert db.database.execute_sql("PRAGMA synchronous").fetchone()[0] == 2
        import sqlite3

        plain = sqlite3.connect(f"file:{tmp_path / 'r.db'}?mode=ro", uri=True)
        assert plain.execute("SELECT count(*) FROM t").fetchone()[0] == 1
        plain.close()
    finally:
        db.database.close()
