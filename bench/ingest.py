"""Readings stored per second through `Sensors.ingest` versus raw sqlite3 `executemany` of the same rows.

The appliance side is `appliance.gas.sensors.Sensors` on a fresh SQLite file made by the appliance's migrations,
configured (via `parse_config` of a TOML string) with --batch CH4 %LEL points. Each batch holds one reading
per point, and every point's value moves by more than its record deadband (1 % of the 0..100 %LEL range)
from one batch to the next while staying below the 1st alarm level (25 %LEL): every reading is stored, no
alarm transition happens. Timestamps advance by equal steps inside one past minute, so no per-minute aggregate
row is written either. So the appliance's path is: alarm evaluation per reading, the record decision, one
transaction per batch (`events.recording`, BEGIN IMMEDIATE) with one `executemany` into `readings`.

The baseline is raw sqlite3: the same (point, at, value, state) rows, precomputed, `executemany` into an
identical `readings` table (same migrations: same index) in another fresh file opened with
`db.connect_raw` (same pragmas: WAL, synchronous=FULL), BEGIN IMMEDIATE ... COMMIT per batch of the same
size. Rounds alternate app and raw so a change of disk speed hits both. Target (GUIDE §5, storage):
≥ 0.5× raw.

    python bench/ingest.py [--batch 50] [--batches 1000] [--rounds 10] [--dir DIR]
"""
from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

from _common import ratio, result

from appliance.config import parse_config
from appliance.core import db
from drivers.base import Reading

INSERT = "INSERT INTO readings (point, at, value, state) VALUES (?, ?, ?, ?)"


def config_toml(n_points: int, data_dir: Path) -> str:
    out = [f'[storage]\ndata_dir = "{data_dir}"\n\n[discovery]\nenabled = false\n']
    for i in range(n_points):
        out.append(f'[[points]]\nid = "GT-{i:03d}"\nname = "GT-{i:03d}"\ngas = "CH4"\nunit = "%LEL"\n'
                   f'delay_on_s = 0\n')
    return "\n".join(out)


def batches(points: list[str], n: int) -> list[list[Reading]]:
    """n batches of one reading per point; values alternate between ~5 and ~15 %LEL (deadband 1.0)."""
    start = (time.time_ns() // 1_000_000) // 60_000 * 60_000 - 60_000  # the start of the previous minute
    out = []
    for b in range(n):
        at = start + b * (50_000 // max(1, n))  # all inside one minute
        out.append([Reading(p, round((5.0 if b % 2 == 0 else 15.0) + (i % 10) * 0.5, 2), at)
                    for i, p in enumerate(points)])
    return out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--batch", type=int, default=50, help="readings per batch (= points), one transaction each")
    ap.add_argument("--batches", type=int, default=1000, help="batches per side")
    ap.add_argument("--rounds", type=int, default=10, help="alternating app/raw rounds")
    ap.add_argument("--dir", help="where to put the databases (default: a temporary directory)")
    args = ap.parse_args()
    from appliance.gas.sensors import Sensors

    with tempfile.TemporaryDirectory(prefix="bench-ingest-", dir=args.dir) as tmp:
        cfg = parse_config(config_toml(args.batch, Path(tmp)))
        app_path, raw_path = Path(tmp) / "app.db", Path(tmp) / "raw.db"
        db.migrate(app_path)
        db.migrate(raw_path)
        db.open_database(app_path)
        sensors = Sensors(cfg)
        raw = db.connect_raw(raw_path)

        work = batches([p.id for p in cfg.points], args.batches + 1)
        sensors.ingest(work[0])  # first readings: stored (no previous value); not timed
        work = work[1:]
        rows = [[(r.point, r.at_ms, r.value, "normal") for r in b] for b in work]
        per_round = max(1, args.batches // args.rounds)
        app_s = raw_s = 0.0
        done = 0
        print(f"readings through Sensors.ingest, fresh SQLite files in {tmp} (WAL, synchronous=FULL); "
              f"{args.batch} readings per transaction, {per_round * args.rounds} batches per side in "
              f"{args.rounds} alternating rounds")
        for _ in range(args.rounds):
            t0 = time.perf_counter()
            for b in work[done:done + per_round]:
                sensors.ingest(b)
            app_s += time.perf_counter() - t0

            t0 = time.perf_counter()
            for b in rows[done:done + per_round]:
                raw.execute("BEGIN IMMEDIATE")
                raw.executemany(INSERT, b)
                raw.execute("COMMIT")
            raw_s += time.perf_counter() - t0
            done += per_round

        n = done * args.batch
        conn = db.connect_raw(app_path)
        stored = conn.execute("SELECT count(*) FROM readings").fetchone()[0] - args.batch  # less the untimed first
        states = {s for (s,) in conn.execute("SELECT DISTINCT state FROM readings")}
        events_n = conn.execute("SELECT count(*) FROM events").fetchone()[0]
        minutes_n = conn.execute("SELECT count(*) FROM reading_minutes").fetchone()[0]
        conn.close()
        raw_n = raw.execute("SELECT count(*) FROM readings").fetchone()[0]
        raw.close()
        db.database.close()

    app_rate, raw_rate = n / app_s, n / raw_s
    r = ratio(app_rate, raw_rate)
    print(f"  Sensors.ingest   {app_rate:>9,.0f} readings/s  ({app_s / done * 1000:.2f} ms per batch)")
    print(f"  raw executemany  {raw_rate:>9,.0f} readings/s  ({raw_s / done * 1000:.2f} ms per batch)")
    print(f"  ratio {r:.2f}x (target >= 0.5x); stored {stored} of {n} readings (raw {raw_n}), states {sorted(states)}, "
          f"{events_n} events, {minutes_n} minute rows")
    if stored != n or raw_n != n:
        print(f"  !!! not every reading was stored: app {stored}, raw {raw_n}, expected {n}")
    result("ingest", readings=n, per_txn=args.batch, app_per_s=round(app_rate), raw_per_s=round(raw_rate), ratio=r,
           app_ms_per_batch=round(app_s / done * 1000, 3), raw_ms_per_batch=round(raw_s / done * 1000, 3),
           stored=stored, raw_stored=raw_n, events=events_n, target_ratio=0.5)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
