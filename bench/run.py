"""Run every benchmark in sequence and print a summary table.

Each script runs in its own interpreter (this one), prints its figures, and ends with one
`RESULT {json}` line that is collected here. Nothing is asserted about timing: the exit status is 0
unless a benchmark crashed. Pass benchmark names to run only those:

    python bench/run.py [event_log] [sse_fanout] [footprint] [polling] [alarm_latency] [incident_draft] [ingest] [hazard_board] [taps]
                        [patrol] [sync] [register_import] [vision] [vision_pipeline] [reports] [https] [gate]
"""
from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
BENCHES = ("event_log", "sse_fanout", "footprint", "polling", "alarm_latency", "incident_draft", "ingest", "hazard_board",
           "taps", "patrol", "sync", "register_import", "vision", "vision_pipeline", "storage", "reports",
           "load", "https", "gate")


def run(name: str) -> tuple[dict | None, float]:
    print(f"\n=== {name} ===", flush=True)
    t0 = time.monotonic()
    proc = subprocess.Popen([sys.executable, str(HERE / f"{name}.py")], stdout=subprocess.PIPE, text=True,
                            cwd=HERE.parent)
    found = None
    for line in proc.stdout:
        print(line, end="", flush=True)
        if line.startswith("RESULT "):
            found = json.loads(line[len("RESULT "):])
    proc.wait()
    if proc.returncode != 0:
        print(f"!!! {name} failed with exit status {proc.returncode}", flush=True)
        found = None
    return found, time.monotonic() - t0


def rows(r: dict) -> list[tuple[str, str, str, str, str]]:
    """(benchmark, figure, baseline, ratio, target) lines for one RESULT."""
    name = r["bench"]
    if name == "event_log":
        return [(f"event log, {r[k]['per_txn']}/txn", f"{r[k]['app_per_s']:,} ev/s",
                 f"raw sqlite3 {r[k]['raw_per_s']:,} ev/s", f"{r[k]['ratio']:.2f}x", ">= 0.5x")
                for k in ("single", "batched")]
    if name == "sse_fanout":
        one, many = r["one"], r["many"]
        n = many["clients"]
        return [(f"SSE {n} clients, p50", f"{many['commit_p50_ms']} ms", f"1 client {one['commit_p50_ms']} ms",
                 f"{r['ratio_p50']}x", ""),
                (f"SSE {n} clients, p99", f"{many['commit_p99_ms']} ms", f"1 client {one['commit_p99_ms']} ms",
                 f"{r['ratio_p99']}x", "<= 200 ms"),
                ("SSE missed deliveries", f"{many['missing']} of {many['events'] * n}", "", "", "0")]
    if name == "footprint":
        b = r["baseline"]
        out = []
        for k in ("cold", "warm"):
            v = r[k]
            out.append((f"start to healthy, {k}", f"{v['healthy_s']:.2f} s", f"bare imports {b['ready_s']:.2f} s",
                        f"{v['ratio_start']}x", "<= 5 s"))
            out.append((f"RSS after /kiosk, {k}", f"{v['rss_after_mb']} MB", f"bare imports {b['rss_mb']} MB",
                        f"{v['ratio_rss']}x", "<= 150 MB"))
            out.append((f"peak RSS, {v['logins']} logins, {k}", f"{v['peak_rss_logins_mb']} MB", "", "", "<= 150 MB"))
        return out
    if name == "polling":
        raw = f"bare pymodbus {r['raw']['cpu_ms']} ms CPU"
        shape = f"{r['devices']}x{r['registers_per_device']} regs"
        return [(f"poll cycle CPU, {shape}", f"{r['driver']['cpu_ms']} ms", raw, f"{r['ratio_cpu']:.2f}x", "<= 1.5x"),
                (f"poll cycle CPU + Sensors ({r['sensors_points']} pts)", f"{r['sensors']['cpu_ms']} ms", raw,
                 f"{r['ratio_cpu_sensors']:.2f}x", "")]
    if name == "alarm_latency":
        lat = r["latency_ms"]
        base = f"poll interval {r['interval_ms']:g} ms"
        return [("alarm write->SSE, p50", f"{lat['p50']} ms", base, "", ""),
                ("alarm write->SSE, p99", f"{lat['p99']} ms", f"{base} + 100 ms", f"{r['ratio_p99']:.2f}x",
                 f"<= {r['target_p99_ms']:g} ms (<= 1.0x)")]
    if name == "incident_draft":
        d, a = r["draft_ms"], r["alarm_ms"]
        return [("level-2 alarm -> incident draft, p99", f"{d['p99']} ms", f"alarm p99 {a['p99']} ms",
                 f"{r['ratio_to_alarm_p99']}x", f"<= {r['target_ms']:g} ms ({r['ratio_to_target_p99']}x)")]
    if name == "ingest":
        return [(f"readings stored, {r['per_txn']}/txn", f"{r['app_per_s']:,} rd/s",
                 f"raw sqlite3 {r['raw_per_s']:,} rd/s", f"{r['ratio']:.2f}x", ">= 0.5x")]
    if name == "hazard_board":
        base = f"GET /me p99 {r['baseline_p99_ms']} ms"
        return [(f"{label}, p99", f"{e['p99_ms']} ms", base, f"{e['ratio_p99']}x", "<= 100 ms")
                for label, e in r["endpoints"].items()]
    if name == "register_import":
        n = f"{r['measures']:,} measures"
        return [(f"register import, {fmt}, {n}", f"{r[fmt]['import_ms']} ms (dry run {r[fmt]['dry_run_ms']} ms)",
                 f"raw sqlite3 {r['raw_ms']} ms", f"{r[fmt]['ratio_import']}x", "") for fmt in ("xlsx", "csv")]
    if name == "vision_pipeline":
        lat = r["latency"]
        base = f"inline evidence work {r['baseline_inline_ms']} ms"
        return [("frame->violation on SSE, p50", f"{lat['sse_p50_ms']} ms", base, f"{r['ratio_p50']}x", ""),
                ("frame->violation on SSE, p99", f"{lat['sse_p99_ms']} ms", base, f"{r['ratio_p99']}x", ""),
                ("vision process RSS", f"{r['vision_rss_mb']} MB", f"bare numpy+cv2+Pillow {r['bare_rss_mb']} MB",
                 f"{r['ratio_rss']}x", "")]
    if name == "vision":
        out = [(f"PPE detector {r['input_size']}px, {t} thread{'s' if t == '2' else ''}", f"{v['detector_fps']} frames/s",
                f"bare invoke {v['bare_invoke_fps']}/s", f"{v['ratio']}x", ">= 10 frames/s" if t == "1" else "")
               for t, v in r["threads"].items()]
        q = r.get("no_hardhat")
        if q:
            a = q.get("valid_a")
            out.append((f"no_hardhat P / R, valid_b ({q['images']} images, chose nothing)",
                        f"{q['precision']} / {q['recall']}",
                        f"valid_a (chose the threshold) {a['precision']} / {a['recall']}" if a else f"AP@0.5 {q['ap50']}",
                        "", ">= 0.90 / 0.90"))
        return out
    if name == "taps":
        out = []
        for key, label, base in (("nfc", "nfc udp present->Tap", "bare nfcpy sense"),
                                 ("pcsc", "pcsc vpcd insert->Tap", "bare pyscard")):
            v = r.get(key)
            if not v:
                continue
            if "skipped" in v:
                out.append((label, "skipped", v["skipped"], "", ""))
                continue
            for p in ("p50", "p99"):
                out.append((f"{label}, {p}", f"{v['driver'][p + '_ms']} ms", f"{base} {v['bare'][p + '_ms']} ms",
                            f"{v['ratio_' + p]}x", ""))
        return out
    if name == "gate":
        key, idle, load = r["figure"], r["idle"], r["load"]
        what = "gate screen" if key == "screen" else "gate decision on SSE"
        shape = f"{r['gates']} gates x {r['rate_per_min']:g}/min, {r['tablets']} tablets"
        out = [(f"badge->{what}, {shape}, {p}", f"{load[key][p]} ms", f"idle {idle[key][p]} ms",
                f"{round(load[key][p] / idle[key][p], 2) if idle[key][p] else ''}x", "<= 1000 ms" if p == "p99" else "")
               for p in ("p50", "p95", "p99")]
        out.append(("gate decision's own cost, p99", f"{load['cost']['p99']} ms", f"idle {idle['cost']['p99']} ms",
                    "", ""))
        out.append(("gate taps not shown (reader missed the card)", f"{load['lost']['screen']} of {load['taps']}",
                    f"idle {idle['lost']['screen']} of {idle['taps']}", "", "0"))
        out.append(("contractor tablets (archive, gate log), p99", f"{r['tablet_ms']['p99']} ms", "", "",
                    f"{r['tablet_failed']} failed"))
        return out
    if name == "patrol":
        lat, st = r["latency"], r["station"]
        base = f"bare reader p99 {lat['bare_reader_ms']['p99']} ms"
        return [("tap->SSE, p50", f"{lat['e2e_ms']['p50']} ms", f"bare reader p50 {lat['bare_reader_ms']['p50']} ms", "", ""),
                ("tap->SSE, p99", f"{lat['e2e_ms']['p99']} ms", base, f"{lat['ratio_p99']}x", "<= 250 ms"),
                (f"station backlog {st['backlog']} taps", f"{st['taps_per_s']} taps/s",
                 f"in-process {st['baseline_per_s']} taps/s", f"{st['ratio']}x", f"{st['duplicates']} duplicates")]
    if name == "sync":
        d, f = r["drain"], r["fleet"]
        e = d["engine"]
        return [(f"sync drain, {d['events']:,} backlog", f"{e['events_per_s']:,} ev/s",
                 f"bare posting {d['bare']['events_per_s']:,} ev/s", f"{d['ratio']}x", ">= 2 000 ev/s"),
                ("sync drain RSS, peak vs warm", f"{e['rss_peak_mb']} MB", f"{e['rss_start_mb']} MB after warm-up",
                 f"{e['rss_growth']}x", "flat"),
                (f"sync drain inside the running appliance, {r['inside']['events']:,}",
                 f"{r['inside']['events_per_s']:,} ev/s", f"sync-now {e['events_per_s']:,} ev/s", "", ">= 2 000 ev/s"),
                ("event feed p99 during that drain", f"{r['inside']['page_during_p99_ms']} ms",
                 f"after it {r['inside']['page_after_p99_ms']} ms", f"{r['inside']['page_ratio']}x", "<= 200 ms"),
                (f"receiver, {f['appliances']} appliances at once", f"{f['events_per_s']:,} ev/s",
                 f"1 appliance {f['single_events_per_s']:,} ev/s", f"{f['ratio']}x", "")]
    if name == "reports":
        raw = f"raw quarter read {r['raw_quarter_read_ms']} ms"
        out = [(f"report {k}, quarter, {fmt}", f"{v[f'quarter_{fmt}_s']:.3f} s", raw, "", "< 60 s")
               for k, v in r["timings"].items() for fmt in ("xlsx", "pdf")]
        out.append(("all reports x formats, 12 months", f"{r['year_all_months_s']} s", "", "", ""))
        return out
    if name == "load":
        idle, load, maint = r["idle"], r["load"], r["maint"]
        who = f"{r['clients']} clients + {r['streams']} streams"
        alarm = f"<= {r.get('alarm_target_ms', 1100)} ms"
        out = [(f"load: pages/API p99, {who}", f"{load['p99']} ms", f"1 client {idle['p99']} ms",
                f"{r['p99_vs_target']}x of target", "<= 200 ms"),
               ("load: gas alarm write -> SSE, p99", f"{r['alarm_load_ms']['p99']} ms",
                f"idle {r['alarm_idle_ms']['p99']} ms", f"{r['alarm_vs_target']}x of target", alarm),
               ("load: main process RSS, max", f"{r['rss_load_max_mb']} MB", f"idle {r['rss_idle_mb']} MB",
                f"{r['rss_vs_target']}x of target", "<= 150 MB")]
        if maint["n"]:
            m = r["maintenance"]
            what = f"{m['imports']} imports + {m['backups']} backups"
            out += [(f"load + {what}: pages p99", f"{maint['p99']} ms", f"1 client {idle['p99']} ms",
                     f"{r['maint_p99_vs_target']}x of target", "<= 200 ms"),
                    (f"load + {what}: alarm p99", f"{r['alarm_maint_ms']['p99']} ms",
                     f"idle {r['alarm_idle_ms']['p99']} ms", f"{r['alarm_maint_vs_target']}x of target", alarm),
                    (f"load + {what}: RSS max", f"{r.get('rss_maint_max_mb', 0)} MB", f"idle {r['rss_idle_mb']} MB",
                     "", "<= 150 MB")]
        return out
    if name == "https":
        p, h = r["plain"], r["https"]
        return [(f"HTTPS {r['clients']} clients, p99", f"{h['p99_ms']} ms", f"plain {p['p99_ms']} ms",
                 f"{r['ratio_p99']}x", ""),
                ("HTTPS requests/s", f"{h['per_s']}", f"plain {p['per_s']}", f"{r['ratio_per_s']}x", ""),
                ("HTTPS new connection, p50", f"{r['https_new_conn']['p50_ms']} ms",
                 f"plain {r['plain_new_conn']['p50_ms']} ms", "", "")]
    return [(name, json.dumps(r)[:60], "", "", "")]


def main() -> int:
    names = sys.argv[1:] or list(BENCHES)
    unknown = [n for n in names if n not in BENCHES]
    if unknown:
        print(f"unknown benchmark(s): {', '.join(unknown)}; choose from {', '.join(BENCHES)}", file=sys.stderr)
        return 2
    results, failed = [], []
    for name in names:
        r, secs = run(name)
        print(f"({name}: {secs:.1f} s)")
        (results.append(r) if r else failed.append(name))

    table = [("benchmark", "figure", "baseline (same run)", "ratio", "target")]
    for r in results:
        table += rows(r)
    widths = [max(len(row[i]) for row in table) for i in range(5)]
    print("\n=== summary ===")
    for i, row in enumerate(table):
        print("  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=False)).rstrip())
        if i == 0:
            print("  ".join("-" * w for w in widths))
    if failed:
        print(f"\nFAILED (crashed): {', '.join(failed)}")
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
