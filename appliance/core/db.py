"""The one SQLite database: connection settings, numbered migrations, online backup and export.

peewee models bind to `database` (initialised by `open_database`). The schema is owned by the numbered SQL
files in `migrations/` (NNNN_name.sql), applied in order at start after an automatic backup copy;
`PRAGMA user_version` holds the number of the last one applied.
"""
from __future__ import annotations

import csv
import json
import logging
import os
import re
import shutil
import sqlite3
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from importlib import resources
from pathlib import Path
from typing import IO

import peewee

from appliance.core.errors import DatabaseError

log = logging.getLogger(__name__)

# WAL survives a power cut with the last committed transaction; FULL syncs the WAL on every commit, which
# is what safety records need. Every write transaction takes the write lock at BEGIN (IMMEDIATE) so the
# event chain head cannot be read by two writers at once.
PRAGMAS = {"journal_mode": "wal", "synchronous": 2, "foreign_keys": 1, "cache_size": -1024}

class _PooledSqliteDatabase(peewee.SqliteDatabase):
    """peewee's SQLite database whose closed connections wait in a small pool for the next thread.

    Web requests and live streams give their connection back when done (`release_connection`): ~100
    waitress threads each holding one (page cache, statement cache, schema) grew the process past 350 MB
    (issue 14). Really closing and opening one per request then cost more than the request under load
    (py-spy: close() held the GIL and peewee's lock). Up to MAX_IDLE connections are kept open instead and
    handed to whichever thread connects next; more than that are closed. A connection is used by one
    thread at a time (SQLite's serialized mode allows the hand-over: check_same_thread off).

    MAX_IDLE is 32: with 8, each swing of the number of requests in flight above 8 (50 wall boards and tablets)
    closed the extra connections and the next swing opened them again, schema read and all (py-spy under
    bench/load.py: connect and close 4.6 % of the busy samples). A/B, two rounds, same box: load p50 9.7 / 9.8 ms
    → 8.0 / 8.3 ms, p99 178 / 184 → 152 / 195 ms, RSS max 140 / 136 → 142 / 137 MB (the open connections
    follow the requests in flight either way; idle ones only wait longer)."""

    MAX_IDLE = 32

    def __init__(self, *args, **kwargs) -> None:
        self._idle: list[sqlite3.Connection] = []   # before peewee's __init__, which calls init()
        self._idle_lock = threading.Lock()
        self._file = 0                     # bumped by init(): which file a connection was opened on
        self._opened_on: dict[int, int] = {}
        super().__init__(*args, **kwargs)

    def init(self, database, **kwargs) -> None:   # type: ignore[override]
        with self._idle_lock:
            self._file += 1
        self.close_idle()   # never hand out a connection to the previous file
        super().init(database, **{**kwargs, "check_same_thread": False})

    def _connect(self):
        with self._idle_lock:
            if self._idle:
                return self._idle.pop()
            file = self._file
        conn = super()._connect()
        with self._idle_lock:
            self._opened_on[id(conn)] = file
        return conn

    def _close(self, conn) -> None:
        with self._idle_lock:
            # kept for the next thread unless it is busy, the pool is full, or it is on a previous file
            if (not conn.in_transaction and len(self._idle) < self.MAX_IDLE
                    and self._opened_on.get(id(conn)) == self._file):
                self._idle.append(conn)
                return
            self._opened_on.pop(id(conn), None)
        conn.close()

    def close_idle(self) -> None:
        """Close the pooled connections (the file is about to be replaced, or the process stops)."""
        with self._idle_lock:
            idle, self._idle = self._idle, []
            for conn in idle:
                self._opened_on.pop(id(conn), None)
        for conn in idle:
            conn.close()


database = _PooledSqliteDatabase(None, lock_type="IMMEDIATE")

# Columns that hold secrets; `export` leaves them out.
SECRET_COLUMNS = {"password_hash", "token_hash"}


class BaseModel(peewee.Model):
    """Base of every peewee model; the schema itself comes from the migrations."""

    id = peewee.AutoField()  # peewee's own default, said here so that type checkers see it

    class Meta:
        database = database
        legacy_table_names = False


def pragmas(busy_timeout_ms: int = 5000) -> dict:
    return {**PRAGMAS, "busy_timeout": busy_timeout_ms}


def open_database(path: str | Path, busy_timeout_ms: int = 5000) -> peewee.SqliteDatabase:
    """Point the peewee `database` at `path` with the appliance's pragmas."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    if not database.is_closed():
        database.close()
    database.init(str(path), pragmas=pragmas(busy_timeout_ms), timeout=busy_timeout_ms / 1000)  # type: ignore[arg-type]  # stubs say int; sqlite3 takes float seconds
    return database


@contextmanager
def relaxed_durability() -> Iterator[None]:
    """For seeding a new database (the demo's first start) only: this thread's connection commits without
    syncing the WAL to disk (synchronous=NORMAL) until the block ends, then FULL again. ~200 commits each
    waited for an fsync: 0.65 s here and seconds on an SD card, of the demo's first start (issue 14). A
    power cut inside the block loses the seed, which the next start makes again; never use it for records.
    At its end a checkpoint puts what it committed on disk."""
    conn = database.connection()
    conn.execute("PRAGMA synchronous=1")
    try:
        yield
    finally:
        conn.execute(f"PRAGMA synchronous={PRAGMAS['synchronous']}")
        # what the block committed is on disk before the caller goes on (a checkpoint syncs the WAL first)
        conn.execute("PRAGMA wal_checkpoint(PASSIVE)")


class WriteGate:
    """Safety writes first (issue 14): SQLite has one writer at a time, so a gas alarm's write queues behind
    whatever transaction holds the lock. Bulk writers (a register import, the telemetry cleanup's chunks)
    enter through `bulk()`, which waits while a safety writer (`safety()`: the sensors' poll) is writing or
    waiting to, so the alarm path waits for at most the one bulk transaction already running."""

    def __init__(self) -> None:
        self._cond = threading.Condition()
        self._safety = 0

    @contextmanager
    def safety(self) -> Iterator[None]:
        with self._cond:
            self._safety += 1
        try:
            yield
        finally:
            with self._cond:
                self._safety -= 1
                self._cond.notify_all()

    @contextmanager
    def bulk(self, max_wait_s: float = 30.0) -> Iterator[None]:
        # bounded: a sensor loop that writes without pause must not starve maintenance for ever
        with self._cond:
            self._cond.wait_for(lambda: self._safety == 0, timeout=max_wait_s)
        yield

    @property
    def safety_writers(self) -> int:
        return self._safety


write_gate = WriteGate()


def release_connection() -> None:
    """Give this thread's connection back (to the pool, `_PooledSqliteDatabase`) unless a transaction is
    open on it. Web requests and live streams call it when they are done: waitress runs ~100 threads and
    each kept its own SQLite connection for the life of the process (365 MB under 30 concurrent clients,
    issue 14)."""
    if database.is_closed() or database.in_transaction():
        return
    try:
        database.close()
    except peewee.OperationalError as exc:   # never fail a response for this: the next use reconnects
        log.warning("database connection not closed", extra={"error": str(exc)})


def connect_raw(path: str | Path, busy_timeout_ms: int = 5000) -> sqlite3.Connection:
    """A plain sqlite3 connection with the same pragmas (migrations, backup, benchmarks)."""
    conn = sqlite3.connect(str(path), timeout=busy_timeout_ms / 1000, isolation_level=None)
    for k, v in pragmas(busy_timeout_ms).items():
        conn.execute(f"PRAGMA {k}={v}")
    return conn


_MIGRATION_RE = re.compile(r"^(\d{4})_([a-z0-9_]+)\.sql$")


def migrations() -> list[tuple[int, str, str]]:
    """(number, name, sql) of every migration shipped with the core and the registered domains, in order.

    The numbers are one sequence across all of them (a domain's first migration takes the next free
    number), so a database's `user_version` says exactly which have run."""
    from appliance.core.domain import registered

    folders = [resources.files("appliance.core.migrations")] + [d.migrations for d in registered() if d.migrations]
    found = []
    for folder in folders:
        for entry in folder.iterdir():
            m = _MIGRATION_RE.match(entry.name)
            if m:
                found.append((int(m.group(1)), m.group(2), entry.read_text(encoding="utf-8")))
    found.sort()
    for i, (num, name, _) in enumerate(found, start=1):
        if num != i:
            raise DatabaseError(f"迁移编号不连续：{num:04d}_{name}", f"migration numbers have a gap at {num:04d}_{name}")
    return found


def schema_version(path: str | Path) -> int:
    if not Path(path).exists():
        return 0
    conn = sqlite3.connect(str(path))
    try:
        return conn.execute("PRAGMA user_version").fetchone()[0]
    finally:
        conn.close()


def migrate(path: str | Path, backup_dir: str | Path | None = None, target: int | None = None,
            busy_timeout_ms: int = 5000) -> list[str]:
    """Apply pending migrations up to `target` (default: all); back the database up first.

    Each migration runs in its own transaction together with its `user_version` bump, so a power cut
    leaves the database at the previous version, never half-migrated. Returns the names applied.
    """
    path = Path(path)
    available = migrations()
    target = len(available) if target is None else target
    current = schema_version(path)
    if current > len(available):
        raise DatabaseError(
            f"数据库版本 {current} 比本程序支持的 {len(available)} 更新，请升级软件",
            f"database schema {current} is newer than this software supports ({len(available)}); upgrade the software")
    pending = [m for m in available if current < m[0] <= target]
    if not pending:
        return []
    if current > 0 and backup_dir is not None:
        dest = Path(backup_dir) / f"pre-migration-v{current}-{time.strftime('%Y%m%dT%H%M%SZ', time.gmtime())}.db"
        backup(path, dest)
        log.info("backed up database before migration", extra={"backup": str(dest)})
    path.parent.mkdir(parents=True, exist_ok=True)
    conn = connect_raw(path, busy_timeout_ms)
    applied = []
    try:
        for num, name, sql in pending:
            try:
                conn.execute("BEGIN IMMEDIATE")
                if conn.execute("PRAGMA user_version").fetchone()[0] >= num:
                    conn.execute("COMMIT")  # another process applied it while we waited for the lock
                    continue
                for statement in _split_sql(sql):
                    conn.execute(statement)
                conn.execute(f"PRAGMA user_version={num}")
                conn.execute("COMMIT")
            except sqlite3.Error as exc:
                if conn.in_transaction:
                    conn.execute("ROLLBACK")
                raise DatabaseError(f"迁移 {num:04d}_{name} 失败：{exc}", f"migration {num:04d}_{name} failed: {exc}") from None
            applied.append(f"{num:04d}_{name}")
            log.info("applied migration", extra={"migration": f"{num:04d}_{name}"})
    finally:
        conn.close()
    return applied


def _split_sql(sql: str) -> list[str]:
    """Split a migration into statements (sqlite3.complete_statement keeps triggers whole)."""
    out, buf = [], ""
    for line in sql.splitlines(keepends=True):
        if not buf and (not line.strip() or line.lstrip().startswith("--")):
            continue
        buf += line
        if sqlite3.complete_statement(buf):
            out.append(buf.strip())
            buf = ""
    if buf.strip():
        raise DatabaseError("迁移脚本末尾有不完整的语句", "migration ends with an incomplete statement")
    return out


def restore(backup_file: str | Path, dest: str | Path, keep_dir: str | Path,
            verify_log: Callable[[sqlite3.Connection], object]) -> Path | None:
    """Put a backup in place of the (stopped) appliance's database: the backup is checked first (SQLite
    integrity and the event log's hash chain), the current database is kept in `keep_dir` (it may hold
    records newer than the backup), then the backup replaces it atomically. Returns the kept copy's path.
    `verify_log` is the event log's chain check (`events.verify_chain`)."""
    backup_file, dest = Path(backup_file), Path(dest)
    if not backup_file.exists():
        raise DatabaseError(f"备份文件不存在：{backup_file}", f"backup file does not exist: {backup_file}")
    try:
        conn = sqlite3.connect(f"file:{backup_file}?mode=ro", uri=True)
        try:
            ok = conn.execute("PRAGMA integrity_check").fetchone()[0]
            if ok != "ok":
                raise DatabaseError(f"备份已损坏：{ok}", f"the backup is damaged: {ok}")
            verify_log(conn)
        finally:
            conn.close()
    except sqlite3.DatabaseError as exc:
        raise DatabaseError(f"不是有效的备份：{exc}", f"not a valid backup: {exc}") from None
    kept = None
    if dest.exists():
        kept = backup(dest, Path(keep_dir) / f"before-restore-{time.strftime('%Y%m%dT%H%M%SZ', time.gmtime())}.db")
    tmp = dest.with_name(dest.name + ".restoring")
    shutil.copyfile(backup_file, tmp)
    with open(tmp, "rb") as fh:
        os.fsync(fh.fileno())
    database.close_idle()   # pooled connections to the old file must not answer for the restored one
    for side in ("-wal", "-shm"):   # the old database's journal must not be replayed onto the backup
        Path(str(dest) + side).unlink(missing_ok=True)
    os.replace(tmp, dest)
    _fsync_dir(dest.parent)
    return kept


# A backup of a live database is copied in steps of STEP_PAGES pages (8 MiB of 4 KiB pages), each step's pages
# flushed to the disk before a pause of STEP_PAUSE_S: one step of the whole file (683 MB after a plant's year)
# left it all dirty for one closing fsync, and every commit of the appliance (synchronous=FULL) waited behind
# it: the alarm path and the pages slowed for as long as the backup ran (bench/load.py --maint backup).
STEP_PAGES = 2048
STEP_PAUSE_S = 0.02


def backup(src: str | Path, dest: str | Path, *, step_pages: int = STEP_PAGES,
           pause_s: float = STEP_PAUSE_S, on_step: Callable[[int, int], None] | None = None) -> Path:
    """Consistent copy of a live database with SQLite's online backup API; atomic at `dest`.

    A database in WAL mode (the appliance's) is copied in steps inside one read transaction: every step
    reads the same snapshot while the appliance goes on writing (without that snapshot, each step would see
    the new writes and the copy would start over, for ever on a busy plant). Any other database is copied in
    one step (its writers wait for the shared lock either way). `on_step(remaining, total)` (pages) after
    each step."""
    src, dest = Path(src), Path(dest)
    if not src.exists():
        raise DatabaseError(f"数据库不存在：{src}", f"database does not exist: {src}", code="database_missing")
    dest.parent.mkdir(parents=True, exist_ok=True)
    tmp = dest.with_name(dest.name + ".partial")
    tmp.unlink(missing_ok=True)
    source = sqlite3.connect(str(src), timeout=30, isolation_level=None)
    target = sqlite3.connect(str(tmp))
    fd = None
    try:
        stepped = source.execute("PRAGMA journal_mode").fetchone()[0] == "wal" and step_pages > 0
        if stepped:
            source.execute("BEGIN")
            source.execute("SELECT count(*) FROM sqlite_master").fetchone()  # the snapshot every step reads
            target.execute("PRAGMA journal_mode=OFF")  # a new file, checked at the end: nothing to roll back
            target.execute("PRAGMA cache_size=-2048")
            fd = os.open(tmp, os.O_RDONLY)

            def paced(_status: int, remaining: int, total: int) -> None:
                os.fdatasync(fd)   # this step's pages on the disk now, not all at the end
                if on_step is not None:
                    on_step(remaining, total)
                time.sleep(pause_s)

            source.backup(target, pages=step_pages, progress=paced)
            source.execute("COMMIT")
        else:
            source.backup(target)
        target.execute("PRAGMA journal_mode=delete")  # a backup is one self-contained file
        ok = target.execute("PRAGMA quick_check").fetchone()[0]
        if ok != "ok":
            raise DatabaseError(f"备份校验失败：{ok}", f"backup check failed: {ok}")
    except sqlite3.Error as exc:
        raise DatabaseError(f"备份失败：{exc}", f"backup failed: {exc}") from None
    finally:
        if fd is not None:
            os.close(fd)
        target.close()
        source.close()
    with open(tmp, "rb") as fh:
        os.fsync(fh.fileno())
    os.replace(tmp, dest)
    _fsync_dir(dest.parent)
    return dest


def prune_backups(backup_dir: str | Path, keep: int, prefix: str = "backup-") -> list[Path]:
    """Remove all but the newest `keep` scheduled backups; returns what was removed."""
    files = sorted(Path(backup_dir).glob(f"{prefix}*.db"))
    doomed = files[:-keep] if keep > 0 else files
    for f in doomed:
        f.unlink(missing_ok=True)
    return doomed


def _fsync_dir(d: Path) -> None:
    fd = os.open(str(d), os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def tables(path: str | Path) -> list[str]:
    import sqlite_utils

    return sorted(sqlite_utils.Database(str(path)).table_names())


def export_table(path: str | Path, table: str, fmt: str, out: IO[str]) -> int:
    """Write every row of `table` as CSV or JSON to `out` (secret columns left out); returns the row count."""
    import sqlite_utils

    if not Path(path).exists():
        raise DatabaseError(f"数据库不存在：{path}", f"database does not exist: {path}", code="database_missing")
    db = sqlite_utils.Database(str(path))
    names = db.table_names()
    if table not in names:
        raise DatabaseError(f"没有这张表：{table}（可用：{', '.join(sorted(names))}）",
                            f"no such table: {table} (available: {', '.join(sorted(names))})", code="no_such_table")
    cols = [c.name for c in db[table].columns if c.name not in SECRET_COLUMNS]
    order = "seq" if "seq" in cols else ("id" if "id" in cols else "rowid")
    rows = db[table].rows_where(select=", ".join(f'"{c}"' for c in cols), order_by=order)
    n = 0
    if fmt == "csv":
        w = csv.writer(out)
        w.writerow(cols)
        for row in rows:
            w.writerow([row[c] for c in cols])
            n += 1
    elif fmt == "json":
        out.write("[")
        for row in rows:
            out.write(("," if n else "") + "\n" + json.dumps(row, ensure_ascii=False))
            n += 1
        out.write("\n]\n")
    else:
        raise DatabaseError(f"不支持的导出格式：{fmt}", f"unsupported export format: {fmt}")
    return n
