"""Event-log write rate through `appliance.events` versus raw sqlite3 inserts of the same rows.

Both sides write to a fresh SQLite file created by the appliance's migrations (same events table, indexes
and append-only triggers) with the same pragmas (WAL, synchronous=FULL, foreign_keys, busy_timeout):

  single   one event per transaction: `events.record(...)` vs BEGIN IMMEDIATE; INSERT; COMMIT
  batched  --batch events per transaction: `rec.emit` in one `events.recording()` vs executemany

The raw rows (uuid, canonical JSON, hash chain) are computed before the clock starts, so the ratio is the
price of the appliance's path: head read, hashing, peewee. Rounds alternate app and raw so that a change
in disk speed during the run hits both. Target (GUIDE §5, storage): ≥ 0.5× raw.

    python bench/event_log.py [--n 3000] [--batched-n 20000] [--batch 100] [--rounds 10] [--dir DIR]
"""
from __future__ import annotations

import argparse
import random
import tempfile
import time
import uuid
from pathlib import Path

from _common import ratio, result

from appliance.core import db, events

ACTOR = "device:modbus-1"
COLS = ("seq", "id", "type", "occurred_at", "recorded_at", "actor", "entity_type", "entity_id", "payload",
        "prev_hash", "hash")
INSERT = f"INSERT INTO events ({', '.join(COLS)}) VALUES ({', '.join('?' * len(COLS))})"


def sample(i: int) -> tuple[str, tuple[str, str], dict]:
    """(type, entity, payload) of a small realistic event: a gas point changing state."""
    point = f"GT-{101 + i % 24}"
    state = ("normal", "alarm_1", "alarm_2", "fault")[i % 4]
    return ("reading.state_changed", ("point", point),
            {"point": point, "area": "TANK", "value": round(random.uniform(0, 60), 2), "unit": "%LEL",
             "state": state, "quality": "good", "device": "modbus-1"})


def raw_rows(n: int) -> list[tuple]:
    """n chained event rows exactly as the appliance would write them, computed up front."""
    rows, prev, t = [], events.GENESIS_HASH, events.now_ms()
    for i in range(n):
        typ, entity, payload = sample(i)
        fields = {"seq": i + 1, "id": str(uuid.uuid4()), "type": typ, "occurred_at": t + i, "recorded_at": t + i,
                  "actor": ACTOR, "entity_type": entity[0], "entity_id": entity[1],
                  "payload": events.canonical_json(payload)}
        h = events.event_hash(prev, fields)
        rows.append(tuple({**fields, "prev_hash": prev, "hash": h}[c] for c in COLS))
        prev = h
    return rows


def fresh(dir: Path, name: str) -> Path:
    path = dir / f"{name}.db"
    db.migrate(path)
    return path


def bench(n: int, batch: int, rounds: int, dir: Path) -> tuple[float, float]:
    """(app events/s, raw events/s) for n events written `batch` per transaction."""
    app_path, raw_path = fresh(dir, f"app-{batch}"), fresh(dir, f"raw-{batch}")
    db.open_database(app_path)
    raw = db.connect_raw(raw_path)
    rows = raw_rows(n)
    samples = [sample(i) for i in range(n)]  # the app side gets its inputs ready-made too
    per_round = n // rounds // batch * batch
    app_s = raw_s = 0.0
    done = 0
    for _ in range(rounds):
        t0 = time.perf_counter()
        for start in range(done, done + per_round, batch):
            if batch == 1:
                typ, entity, payload = samples[start]
                events.record(typ, actor=ACTOR, entity=entity, payload=payload)
            else:
                with events.recording(ACTOR) as rec:
                    for typ, entity, payload in samples[start:start + batch]:
                        rec.emit(typ, entity=entity, payload=payload)
        app_s += time.perf_counter() - t0

        t0 = time.perf_counter()
        for start in range(done, done + per_round, batch):
            raw.execute("BEGIN IMMEDIATE")
            if batch == 1:
                raw.execute(INSERT, rows[start])
            else:
                raw.executemany(INSERT, rows[start:start + batch])
            raw.execute("COMMIT")
        raw_s += time.perf_counter() - t0
        done += per_round

    # sanity: both logs hold the same number of events and the appliance's chain verifies
    check = db.connect_raw(app_path)
    assert events.verify_chain(check) == done, "appliance chain does not verify"
    assert raw.execute("SELECT count(*) FROM events").fetchone()[0] == done
    check.close()
    raw.close()
    db.database.close()
    return done / app_s, done / raw_s


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=3000, help="events for the one-per-transaction test")
    ap.add_argument("--batched-n", type=int, default=20000, help="events for the batched test")
    ap.add_argument("--batch", type=int, default=100, help="events per transaction in the batched test")
    ap.add_argument("--rounds", type=int, default=10, help="alternating app/raw rounds")
    ap.add_argument("--dir", help="where to put the databases (default: a temporary directory)")
    args = ap.parse_args()

    with tempfile.TemporaryDirectory(prefix="bench-events-", dir=args.dir) as tmp:
        print(f"event log writes, fresh SQLite files in {tmp} (WAL, synchronous=FULL)")
        out = {}
        for label, n, batch in (("single", args.n, 1), ("batched", args.batched_n, args.batch)):
            app, raw = bench(n, batch, args.rounds, Path(tmp))
            r = ratio(app, raw)
            out[label] = {"events": n, "per_txn": batch, "app_per_s": round(app), "raw_per_s": round(raw),
                          "ratio": r}
            print(f"  {label:<8} {batch:>4}/txn  appliance {app:>9,.0f} ev/s   raw sqlite3 {raw:>9,.0f} ev/s"
                  f"   ratio {r:.2f}x (target >= 0.5x)")
    result("event_log", **out, target_ratio=0.5)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
