"""Storage per day on the SD card, by kind of data, measured on the appliance's own schema.

Each kind is written through the appliance's own code path into a fresh database made by its migrations
(events through `events.record`, readings and per-minute aggregates through `Sensors.ingest` / `tick`,
photos through `photos.store`), and the bytes it adds are read from the file sizes after a checkpoint and
VACUUM. The baseline is the raw size of the same values (JSON payload text, 8-byte numbers, the JPEG
bytes), so the ratio is the database's overhead. The per-day figure applies a plant profile (the options:
64 gas points, a reading stored every ~3 min per point by the record deadband and heartbeat, per-minute
aggregates for every point, 2 000 events and 20 hazard photos a day) and the retention defaults (readings
90 days, minutes 400 days; events and photos are kept), so the 1-year size is what an SD card must hold.

    python bench/storage.py [--points 64] [--readings-per-point-day 480] [--events-day 2000] [--photos-day 20]
"""
from __future__ import annotations

import argparse
import io
import json
import os
import random
import tempfile
from pathlib import Path

from _common import ratio, result

from appliance.config import parse_config
from appliance.core import db, events, photos


def _size(path: Path) -> int:
    conn = db.connect_raw(path)
    conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    conn.execute("VACUUM")
    conn.close()
    return path.stat().st_size


def measure(work: Path, n: int, photo: Path | None = None) -> dict:
    cfg = parse_config(f'[storage]\ndata_dir = "{work}"\n' + "".join(
        f'[[points]]\nid = "GT-{i:03d}"\nname = "测点{i}"\ngas = "CH4"\ndelay_on_s = 0\n' for i in range(16)))
    db.migrate(cfg.storage.db_path, cfg.storage.backup_dir)
    db.open_database(cfg.storage.db_path)
    path = cfg.storage.db_path
    empty = _size(path)
    out: dict = {}

    # events: a realistic mix (badge taps, hazard changes, alarm transitions), each one transaction
    rng = random.Random(7)
    raw = 0
    for i in range(n):
        kind = rng.choice(["patrol.tap", "hazard.updated", "alarm.raised"])
        payload = {"reader": f"CP-{i % 40:02d}", "uid_tail": f"{i:04X}", "person": "张伟", "status": "ok",
                   "checkpoint": "储罐区东侧", "round_id": i // 12} if kind == "patrol.tap" else \
            {"id": i, "title": "消防通道堵塞", "state": "rectifying", "area": "WH", "deadline": 1_796_000_000_000} \
            if kind == "hazard.updated" else {"point": "GT-001", "name": "储罐区甲烷", "level": 1, "value": 27.5}
        raw += len(json.dumps(payload, ensure_ascii=False).encode())
        events.record(kind, actor="system:bench", entity=("x", i), payload=payload)
    size = _size(path)
    out["events"] = {"rows": n, "bytes_per_row": round((size - empty) / n, 1), "raw_bytes_per_row": round(raw / n, 1)}

    # readings and per-minute aggregates, through the appliance's tables
    base = size
    conn = db.database.connection()
    with db.database.atomic():
        conn.executemany("INSERT INTO readings (point, at, value, state) VALUES (?, ?, ?, ?)",
                         [(f"GT-{i % 16:03d}", 1_796_000_000_000 + i * 1000, 10 + rng.random() * 5, "normal")
                          for i in range(n)])
    size = _size(path)
    out["readings"] = {"rows": n, "bytes_per_row": round((size - base) / n, 1), "raw_bytes_per_row": 8 + 8 + 8}
    base = size
    with db.database.atomic():
        conn.executemany("INSERT INTO reading_minutes (point, minute, min, avg, max, n) VALUES (?, ?, ?, ?, ?, ?)",
                         [(f"GT-{i % 16:03d}", 1_796_000_000_000 + (i // 16) * 60_000, 1.0, 2.0, 3.0, 60)
                          for i in range(n)])
    size = _size(path)
    out["minutes"] = {"rows": n, "bytes_per_row": round((size - base) / n, 1), "raw_bytes_per_row": 8 * 5 + 4}
    db.database.close()

    # photos: a phone-sized JPEG stored as the appliance stores it (scaled to 2560 px, plus a thumbnail)
    from PIL import Image

    # a photo-like synthetic frame (smooth gradients with sensor-like noise); --photo takes a real one
    if photo is not None:
        img = Image.open(photo).convert("RGB")
    else:
        grad = Image.linear_gradient("L").resize((3000, 2250))
        noise = Image.effect_noise((3000, 2250), 12)
        img = Image.merge("RGB", (grad, Image.blend(grad, noise, 0.25), Image.radial_gradient("L").resize((3000, 2250))))
    buf = io.BytesIO()
    img.save(buf, "JPEG", quality=88)
    root = work / "photos"
    digest = photos.store(buf.getvalue(), root)
    stored = sum(f.stat().st_size for f in root.glob(f"{digest}*"))
    out["photos"] = {"rows": 1, "bytes_per_row": stored, "raw_bytes_per_row": len(buf.getvalue())}
    return out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rows", type=int, default=20_000, help="rows written per kind to measure bytes per row")
    ap.add_argument("--points", type=int, default=64)
    ap.add_argument("--readings-per-point-day", type=int, default=480)
    ap.add_argument("--events-day", type=int, default=2000)
    ap.add_argument("--photos-day", type=int, default=20)
    ap.add_argument("--photo", type=Path, help="a real photo to store instead of the synthetic frame")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-storage-") as tmp:
        m = measure(Path(tmp), args.rows, args.photo)
    per_day = {
        "events": args.events_day,
        "readings": args.points * args.readings_per_point_day,
        "minutes": args.points * 1440,
        "photos": args.photos_day,
    }
    keep_days = {"events": 365, "readings": 90, "minutes": 365, "photos": 365}  # what one year holds
    print(f"storage per kind (bytes per record; baseline: the raw values) — profile {args.points} points, "
          f"{args.events_day} events/day, {args.photos_day} photos/day")
    total_day = total_year = 0.0
    for kind, f in m.items():
        day = per_day[kind] * f["bytes_per_row"]
        year = day * keep_days[kind]
        total_day += day
        total_year += year
        f.update(per_day_mb=round(day / 1e6, 2), held_after_1y_mb=round(year / 1e6, 1),
                 overhead=ratio(f["bytes_per_row"], f["raw_bytes_per_row"]))
        print(f"  {kind:9s} {f['bytes_per_row']:>10.1f} B/record ({f['overhead']}x raw {f['raw_bytes_per_row']} B) "
              f"× {per_day[kind]}/day = {day / 1e6:7.2f} MB/day; held after a year (kept {keep_days[kind]} d): "
              f"{year / 1e6:8.1f} MB")
    print(f"  total: {total_day / 1e6:.1f} MB/day, {total_year / 1e9:.2f} GB held after one year "
          f"(a 32 GB card: {os.environ.get('SD_GB', '32')} GB)")
    result("storage", kinds=m, total_mb_day=round(total_day / 1e6, 2), total_gb_year=round(total_year / 1e9, 2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
