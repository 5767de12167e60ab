"""Risk register import of a plant-sized spreadsheet: 5 000 control measures (1 000 events, 500 units,
100 objects over 20 areas) as XLSX and as CSV, through `register_import.import_register` on a fresh
database: read + check (dry run), the import itself (every record and its event in one transaction), and a
re-import of the same file (nothing to write).

Baseline, same run: raw sqlite3 `executemany` of the same objects, units, events and measures (no
events, no checks) into another fresh file with the real migrations and the same pragmas.

    python bench/register_import.py [--measures 5000]
"""
from __future__ import annotations

import argparse
import csv
import io
import json
import tempfile
import time
from pathlib import Path

from _common import ratio, result

from appliance.core import db
from appliance.risk import rows as RW

N_AREAS = 20


def rows_for(n_measures: int) -> list[dict]:
    out = []
    for i in range(n_measures):
        ev, unit, obj = i // 5, i // 10, i // 50
        out.append({"object_code": f"OBJ-{obj:04d}", "object_name": f"风险对象{obj}", "major_hazard": "是" if obj % 7 == 0 else "否",
                    "unit_name": f"单元{unit}", "department": "生产部", "liable_person": "张伟",
                    "area_code": f"A{obj % N_AREAS:02d}", "event_name": f"风险事件{ev}", "method": "LEC",
                    "l": (1, 3, 6)[ev % 3], "e": 6, "c": (7, 15, 40)[ev % 3], "measure": f"管控措施{i}：定期检查与维护",
                    "classify1": 1 + i % 4, "classify2": f"{1 + i % 4}-1", "troubleshoot_content": "检查是否完好",
                    "check_cycle": 1, "check_cycle_unit": "天"})
    return out


def as_xlsx(rows: list[dict]) -> bytes:
    from appliance.core.spreadsheet import write_xlsx  # openpyxl's one owner writes the test file too

    return write_xlsx([("register", [[zh for _, zh, _, _ in RW.COLUMNS]] + [[r.get(k) for k, *_ in RW.COLUMNS] for r in rows])])


def as_csv(rows: list[dict]) -> bytes:
    buf = io.StringIO()
    w = csv.writer(buf)
    w.writerow([zh for _, zh, _, _ in RW.COLUMNS])
    for r in rows:
        w.writerow([r.get(k, "") for k, *_ in RW.COLUMNS])
    return buf.getvalue().encode("gb18030")


def fresh(path: Path) -> None:
    db.migrate(path)
    conn = db.connect_raw(path)
    now = int(time.time() * 1000)
    conn.executemany("INSERT INTO areas (code, name, name_en, kind, polygon, active, created_at, updated_at) "
                     "VALUES (?, ?, ?, 'process', '[[0,0],[9,0],[9,9]]', 1, ?, ?)",
                     [(f"A{i:02d}", f"区域{i}", f"Area {i}", now, now) for i in range(N_AREAS)])
    conn.commit()
    conn.close()


def raw_baseline(path: Path, rows: list[dict]) -> float:
    """The same register with plain executemany: one transaction, no checks, no events."""
    fresh(path)
    conn = db.connect_raw(path)
    now = int(time.time() * 1000)
    t0 = time.perf_counter()
    conn.execute("BEGIN IMMEDIATE")
    areas = dict(conn.execute("SELECT code, id FROM areas"))
    objs, units, evs = {}, {}, {}
    for r in rows:
        objs.setdefault(r["object_code"], (r["object_code"], r["object_name"], r["major_hazard"] == "是", now, now))
    conn.executemany("INSERT INTO risk_objects (code, name, major_hazard, active, created_at, updated_at) "
                     "VALUES (?, ?, ?, 1, ?, ?)", list(objs.values()))
    oid = dict(conn.execute("SELECT code, id FROM risk_objects"))
    for r in rows:
        units.setdefault(r["unit_name"], (oid[r["object_code"]], r["unit_name"], r["department"], r["liable_person"],
                                          areas[r["area_code"]], now, now))
    conn.executemany("INSERT INTO risk_units (object_id, name, department, liable_person, area_id, created_at, updated_at) "
                     "VALUES (?, ?, ?, ?, ?, ?, ?)", list(units.values()))
    uid = {name: i for i, name in conn.execute("SELECT id, name FROM risk_units")}
    for r in rows:
        d = r["l"] * r["e"] * r["c"]
        evs.setdefault(r["event_name"], (uid[r["unit_name"]], r["event_name"], json.dumps({"l": r["l"], "e": r["e"], "c": r["c"]}),
                                         d, 1 if d > 320 else 2 if d >= 160 else 3 if d >= 70 else 4, now, now))
    conn.executemany("INSERT INTO risk_events (unit_id, name, method, profile, factors, score, inherent_level, created_at, "
                     "updated_at) VALUES (?, ?, 'LEC', 'default', ?, ?, ?, ?, ?)", list(evs.values()))
    eid = {name: i for i, name in conn.execute("SELECT id, name FROM risk_events")}
    conn.executemany("INSERT INTO risk_measures (event_id, description, classify1, classify2, troubleshoot_content, "
                     "check_cycle, check_cycle_unit, created_at, updated_at) VALUES (?, ?, ?, ?, ?, 1, 'day', ?, ?)",
                     [(eid[r["event_name"]], r["measure"], r["classify1"], r["classify2"], r["troubleshoot_content"], now, now)
                      for r in rows])
    conn.execute("COMMIT")
    secs = time.perf_counter() - t0
    conn.close()
    return secs


def timed(fn) -> tuple[float, object]:
    t0 = time.perf_counter()
    out = fn()
    return time.perf_counter() - t0, out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--measures", type=int, default=5000)
    a = ap.parse_args()
    from appliance.core import events, spreadsheet
    from appliance.risk import importer as RI

    rows = rows_for(a.measures)
    xlsx, csvb = as_xlsx(rows), as_csv(rows)
    print(f"register of {a.measures:,} measures: XLSX {len(xlsx) // 1024} KiB, CSV (GB18030) {len(csvb) // 1024} KiB")
    out = {"measures": a.measures}
    with tempfile.TemporaryDirectory(prefix="bench-register-") as tmp:
        tmp = Path(tmp)
        raw = raw_baseline(tmp / "raw.db", rows)
        print(f"  baseline raw sqlite3 executemany (no checks, no events): {raw * 1000:.0f} ms")
        for fmt, data in (("xlsx", xlsx), ("csv", csvb)):
            path = tmp / f"{fmt}.db"
            fresh(path)
            db.open_database(path)
            read_s, _ = timed(lambda: spreadsheet.read_rows(data))
            dry_s, rep = timed(lambda: RI.import_register(data, actor="system:bench", dry_run=True))
            assert rep["ok"] and rep["summary"]["measures"]["created"] == a.measures, rep["errors"][:3]
            head = events.head_seq()
            imp_s, rep = timed(lambda: RI.import_register(data, actor="system:bench", dry_run=False))
            n_events = events.head_seq() - head
            again_s, rep2 = timed(lambda: RI.import_register(data, actor="system:bench", dry_run=False))
            assert rep2["summary"]["measures"]["unchanged"] == a.measures
            db.database.close()
            out[fmt] = {"read_ms": round(read_s * 1000), "dry_run_ms": round(dry_s * 1000), "import_ms": round(imp_s * 1000),
                        "reimport_ms": round(again_s * 1000), "events": n_events,
                        "ratio_import": ratio(imp_s, raw), "measures_per_s": round(a.measures / imp_s)}
            print(f"  {fmt}: read {read_s * 1000:.0f} ms, dry run (read+check+plan) {dry_s * 1000:.0f} ms, "
                  f"import {imp_s * 1000:.0f} ms ({n_events:,} events; {ratio(imp_s, raw)}x raw), "
                  f"re-import (no change) {again_s * 1000:.0f} ms")
    out["raw_ms"] = round(raw * 1000)
    result("register_import", **out)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
