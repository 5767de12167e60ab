"""Compliance reports on the demo's synthetic year (issue 22: "generated on demand in < 1 minute for a year
of data"): the seconds each report takes (figures read from the records + the file written) as XLSX and as
PDF, for the last full month and the last full quarter, on a database the demo seeded with a year of
history (`appliance.demo.prepare`: the plant, people, risk register, training, and the synthetic year of
hazards, gas alarms, patrol rounds and trainings); and the year of data: all four reports in both formats
for each of the twelve months back to back, as the monthly job would over a year. Baselines, same run: a
raw sqlite3 read of the quarter's (and, for the year row, the twelve months') hazard, alarm, round and
training rows (what any report must at least read). Targets (issue 22: "generated on demand in < 1 minute
for a year of data"): each report < 60 s, and the whole year's reports < 60 s.

    python bench/reports.py [--rounds 3]
"""
from __future__ import annotations

import argparse
import datetime as dt
import sqlite3
import tempfile
import time
from zoneinfo import ZoneInfo

from _common import free_port, ratio, result

TARGET_S = 60.0


def periods(tz: str) -> tuple[str, str, list[str]]:
    """The last full month, the last full quarter, and the twelve months before this one."""
    today = dt.datetime.now(ZoneInfo(tz)).date()
    first = today.replace(day=1)
    months = []
    d = first
    for _ in range(12):
        d = (d - dt.timedelta(days=1)).replace(day=1)
        months.append(f"{d.year}-{d.month:02d}")
    q = (today.month - 1) // 3          # the current quarter's index 0..3; the last full one is before it
    year, last_q = (today.year, q) if q else (today.year - 1, 4)
    return months[0], f"{year}-Q{last_q}", months[::-1]


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--rounds", type=int, default=3, help="timings per report and format (the best is kept)")
    args = ap.parse_args()
    from appliance import demo
    from appliance.cockpit import export
    from appliance.cockpit.report import parse_period
    from appliance.core.people import site_timezone

    with tempfile.TemporaryDirectory() as tmp:
        t0 = time.perf_counter()
        config, _ = demo.prepare(tmp, free_port(), host="127.0.0.1")
        seed_s = time.perf_counter() - t0
        tz = site_timezone()
        month, quarter, year = periods(tz)
        conn = sqlite3.connect(config.storage.db_path)
        counts = {t: conn.execute(f"SELECT count(*) FROM {t}").fetchone()[0]
                  for t in ("hazards", "alarms", "patrol_rounds", "events")}
        _, since, until = parse_period(quarter, tz)
        t0 = time.perf_counter()
        raw_rows = sum(len(conn.execute(sql, (since, until)).fetchall()) for sql in (
            "SELECT * FROM hazards WHERE reported_at>=? AND reported_at<?",
            "SELECT * FROM alarms WHERE raised_at>=? AND raised_at<?",
            "SELECT * FROM patrol_rounds WHERE due_end>=? AND due_end<?"))
        raw_s = time.perf_counter() - t0
        year_since, year_until = parse_period(year[0], tz)[1], parse_period(year[-1], tz)[2]
        first_day, end_day = (dt.datetime.fromtimestamp(t / 1000, ZoneInfo(tz)).date().isoformat()
                              for t in (year_since, year_until))
        t0 = time.perf_counter()
        raw_year_rows = sum(len(conn.execute(sql, args).fetchall()) for sql, args in (
            ("SELECT * FROM hazards WHERE reported_at>=? AND reported_at<?", (year_since, year_until)),
            ("SELECT * FROM alarms WHERE raised_at>=? AND raised_at<?", (year_since, year_until)),
            ("SELECT * FROM patrol_rounds WHERE due_end>=? AND due_end<?", (year_since, year_until)),
            ("SELECT * FROM training_records WHERE held_on>=? AND held_on<?", (first_day, end_day))))
        raw_year_s = time.perf_counter() - t0
        counts["training_records"] = conn.execute("SELECT count(*) FROM training_records").fetchone()[0]
        conn.close()
        print(f"demo database: {counts} (seeded in {seed_s:.1f} s)")
        print(f"baseline: raw sqlite3 read of {quarter}'s hazards, alarms and rounds: {raw_rows} rows in {raw_s * 1000:.1f} ms")
        timings: dict[str, dict[str, float]] = {}
        size: dict[str, int] = {}
        for key in export.KINDS:
            for period_name, period in (("month", month), ("quarter", quarter)):
                for fmt in export.FORMATS:
                    best = float("inf")
                    for _ in range(args.rounds):
                        t0 = time.perf_counter()
                        data, _f = export.render(key, period, fmt)
                        best = min(best, time.perf_counter() - t0)
                    name = f"{key} {period_name} {fmt}"
                    timings.setdefault(key, {})[f"{period_name}_{fmt}_s"] = round(best, 3)
                    size[name] = len(data)
                    print(f"{name:32s} {period:8s} {best:7.3f} s  {len(data) / 1024:7.1f} KB  "
                          f"{best / TARGET_S:.4f}x of the 60 s target")
        t0 = time.perf_counter()
        for period in year:
            for key in export.KINDS:
                for fmt in export.FORMATS:
                    export.render(key, period, fmt)
        year_s = time.perf_counter() - t0
        renders = 12 * len(export.KINDS) * len(export.FORMATS)
        print(f"a year of data: all {len(export.KINDS)} reports x {len(export.FORMATS)} formats for each of the 12 "
              f"months ({year[0]} .. {year[-1]}), {renders} files: {year_s:.1f} s  {year_s / TARGET_S:.3f}x of the "
              f"60 s target ({'met' if year_s < TARGET_S else 'MISSED'})")
        print(f"  baseline: raw sqlite3 read of the 12 months' hazards, alarms, rounds and training records: "
              f"{raw_year_rows} rows in {raw_year_s * 1000:.1f} ms; the reports take {ratio(year_s, raw_year_s)}x that")
        worst = max(v for d in timings.values() for v in d.values())
        result("reports", rows=counts, seed_s=round(seed_s, 1), month=month, quarter=quarter, timings=timings,
               year_all_months_s=round(year_s, 2), year_renders=renders,
               year_vs_target=ratio(year_s, TARGET_S), year_target_met=year_s < TARGET_S,
               raw_year_rows=raw_year_rows, raw_year_read_ms=round(raw_year_s * 1000, 1),
               ratio_year_to_raw=ratio(year_s, raw_year_s), worst_s=worst, raw_quarter_read_ms=round(raw_s * 1000, 1),
               ratio_worst_to_raw=ratio(worst, raw_s), target_s=TARGET_S, year_target_s=TARGET_S)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
