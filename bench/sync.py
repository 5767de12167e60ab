"""Sync throughput to the reference receiver on loopback.

  drain   a --events backlog (default 100 000, both lanes) in a fresh appliance database, drained by
          `safety-appliance sync-now` (the engine: read after the cursor, batch, gzip, sign, POST, acknowledge)
          to a receiver in its own process; events/s, and the sync process's RSS sampled every 0.2 s
          during the drain (flat: its peak against its level after the first batches).
          Baseline, same run: a bare client posting the same events in the same batch size, pre-read
          and pre-signed (no database, no cursor), to another fresh receiver → ratio = engine / bare.
  fleet   --appliances (default 100) simulated appliances (threads in 4 processes, each with its own chain
          of --per-appliance events) syncing to one receiver at once: the receiver's events/s.
          Baseline, same run: one simulated appliance alone sending 10 × --per-appliance events.

Target (GUIDE §5): drain ≥ 2 000 events/s with memory flat.

    python bench/sync.py [--events 100000] [--appliances 100] [--per-appliance 500] [--batch 500]
"""
from __future__ import annotations

import argparse
import gzip
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from _common import ROOT, describe, free_port, ratio, result, rss_kb, spawn_ready, terminate

SECRET = "bench-secret-0123456789"


def make_backlog(path: Path, n: int) -> None:
    from appliance.core import db, events

    db.migrate(path)
    db.open_database(path)
    done = 0
    while done < n:
        with events.recording("device:bench") as rec:
            for i in range(done, min(n, done + 2000)):
                kind = "alarm.raised" if i % 5 == 0 else "reading.state_changed"
                rec.emit(kind, entity=("point", f"GT-{101 + i % 24}"),
                         payload={"point": f"GT-{101 + i % 24}", "value": round(i % 600 / 10, 1), "unit": "%LEL",
                                  "state": ("normal", "alarm_1", "alarm_2")[i % 3], "device": "modbus-1"})
        done = min(n, done + 2000)
    db.database.close()


def receiver(data: Path):
    port = free_port()
    p = spawn_ready(["-m", "appliance", "receiver", "--port", str(port), "--data", str(data), "--secret", SECRET,
                     "--threads", "16"])
    from _common import wait_port

    wait_port("127.0.0.1", port)
    return p, port


def count(port: int, appliance: str | None = None) -> int:
    import requests

    apps = requests.get(f"http://127.0.0.1:{port}/v1/status", timeout=30).json()["appliances"]
    return sum(a["events"] for k, a in apps.items() if appliance is None or k == appliance)


def drain(tmp: Path, n: int, batch: int) -> dict:
    app_dir = tmp / "app"
    app_dir.mkdir()
    t0 = time.monotonic()
    make_backlog(app_dir / "appliance.db", n)
    print(f"  backlog of {n:,} events written in {time.monotonic() - t0:.1f} s", flush=True)
    rx, port = receiver(tmp / "rx-engine")
    cfg = app_dir / "appliance.toml"
    cfg.write_text(f'[site]\nappliance_id = "bench-1"\n[storage]\ndata_dir = "{app_dir}"\n[logging]\nformat = "text"\n'
                   f'[[sync.endpoints]]\nname = "bench"\ntype = "http-json"\nurl = "http://127.0.0.1:{port}/v1"\n'
                   f'secret_env = "BENCH_SECRET"\nbatch_max_events = {batch}\nbatch_max_bytes = 4000000\n')
    samples: list[int] = []
    t0 = time.monotonic()
    proc = subprocess.Popen([sys.executable, "-m", "appliance", "sync-now", "--config", str(cfg), "--max-seconds", "900"],
                            cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                            env={**os.environ, "BENCH_SECRET": SECRET})
    while proc.poll() is None:
        kb = rss_kb(proc.pid, children=False)
        if kb:
            samples.append(kb)
        time.sleep(0.2)
    secs = time.monotonic() - t0
    out = proc.stdout.read()
    print("  " + out.strip().replace("\n", "\n  "), flush=True)
    got = count(port, "bench-1")
    terminate(rx)
    if proc.returncode != 0 or got != n:
        raise SystemExit(f"drain incomplete: rc={proc.returncode}, receiver holds {got} of {n}")
    steady = samples[len(samples) // 5:] or samples  # after the first fifth: imports and first batches done
    engine = {"events_per_s": round(n / secs), "seconds": round(secs, 2),
              "rss_start_mb": round(steady[0] / 1024, 1), "rss_peak_mb": round(max(steady) / 1024, 1),
              "rss_end_mb": round(steady[-1] / 1024, 1), "rss_samples": len(samples)}
    engine["rss_growth"] = ratio(max(steady), steady[0])
    # the baseline: the same events, pre-read and pre-signed, posted by a bare loop
    from appliance.core import db
    from sync import crypto

    conn = db.connect_raw(app_dir / "appliance.db")
    cols = ("seq", "id", "type", "occurred_at", "recorded_at", "actor", "entity_type", "entity_id", "payload",
            "prev_hash", "hash")
    rows = [dict(zip(cols, r, strict=False)) for r in conn.execute(f"SELECT {', '.join(cols)} FROM events ORDER BY seq")]
    conn.close()
    bodies = []
    for i in range(0, n, batch):
        part = rows[i:i + batch]
        body = gzip.compress(json.dumps({"appliance_id": "bench-1", "lane": "all", "after": i, "events": part},
                                        ensure_ascii=False, separators=(",", ":")).encode(), 5)
        bodies.append((body, f"{part[0]['seq']}-{part[-1]['seq']}", part[-1]["hash"]))
    rx2, port2 = receiver(tmp / "rx-bare")
    import http.client

    c = http.client.HTTPConnection("127.0.0.1", port2, timeout=60)
    t0 = time.monotonic()
    for body, rng, head in bodies:
        ts = str(int(time.time() * 1000))
        c.request("POST", "/v1/events", body, {"Content-Encoding": "gzip", "X-Appliance-Id": "bench-1",
                                               "X-Timestamp": ts, "X-Signature": crypto.sign(SECRET, ts, body),
                                               "X-Seq-Range": rng, "X-Chain-Head": head})
        r = c.getresponse()
        r.read()
        assert r.status == 200, r.status
    bare_s = time.monotonic() - t0
    got2 = count(port2, "bench-1")
    terminate(rx2)
    assert got2 == n, got2
    bare = {"events_per_s": round(n / bare_s), "seconds": round(bare_s, 2)}
    return {"events": n, "batch": batch, "engine": engine, "bare": bare,
            "ratio": ratio(engine["events_per_s"], bare["events_per_s"])}


def inside(tmp: Path, n: int, batch: int) -> dict:
    """The same backlog drained by the running appliance (`safety-appliance run`: the sync thread beside the
    web, the bus and the scheduler), as a plant's box does after its uplink comes back; events/s from the
    start to the receiver holding them all, the process's RSS, and one screen's event feed answer time
    during the drain against the same after it (the baseline)."""
    import requests
    from _common import stats, wait_healthy

    app_dir = tmp / "inside"
    app_dir.mkdir()
    make_backlog(app_dir / "appliance.db", n)
    rx, port = receiver(tmp / "rx-inside")
    wport = free_port()
    cfg = app_dir / "appliance.toml"
    cfg.write_text(f'[site]\nappliance_id = "bench-2"\n[storage]\ndata_dir = "{app_dir}"\n[logging]\nformat = "text"\n'
                   f'[web]\nhost = "127.0.0.1"\nport = {wport}\ntls = false\n[discovery]\nenabled = false\n'
                   f'[[sync.endpoints]]\nname = "bench"\ntype = "http-json"\nurl = "http://127.0.0.1:{port}/v1"\n'
                   f'secret_env = "BENCH_SECRET"\nbatch_max_events = {batch}\nbatch_max_bytes = 4000000\n')
    token = subprocess.run([sys.executable, "-m", "appliance", "create-token", "--config", str(cfg), "--name", "bench"],
                           cwd=ROOT, capture_output=True, text=True, check=True,
                           env={**os.environ, "BENCH_SECRET": SECRET}).stdout.splitlines()[0].strip()
    log = open(app_dir / "appliance.log", "w")
    t0 = time.monotonic()
    proc = subprocess.Popen([sys.executable, "-m", "appliance", "run", "--config", str(cfg)], cwd=ROOT, stdout=log,
                            stderr=subprocess.STDOUT, env={**os.environ, "BENCH_SECRET": SECRET})
    base, auth = f"http://127.0.0.1:{wport}", {"Authorization": f"Bearer {token}"}
    try:
        wait_healthy(base, proc, timeout=120)

        def probe() -> float:
            t = time.perf_counter()
            requests.get(f"{base}/api/v1/events?limit=50", headers=auth, timeout=30).raise_for_status()
            return (time.perf_counter() - t) * 1000

        during, rss, got = [], [], 0
        while got < n:
            if time.monotonic() - t0 > 900 or proc.poll() is not None:
                raise SystemExit(f"drain inside the appliance incomplete: receiver holds {got} of {n}")
            during.append(probe())
            rss.append(rss_kb(proc.pid, children=False))
            time.sleep(0.1)
            got = count(port, "bench-2")
        secs = time.monotonic() - t0
        after = [probe() for _ in range(max(50, len(during)))]
    finally:
        terminate(proc)
        terminate(rx)
        log.close()
    return {"events": n, "seconds": round(secs, 2), "events_per_s": round(n / secs),
            "rss_peak_mb": round(max(rss) / 1024, 1), "rss_end_mb": round(rss[-1] / 1024, 1),
            # the event feed's tail during and after the drain: p99 from >= 200 probes, else the max of N
            "page_during_ms": stats(during), "page_after_ms": stats(after), "page_samples": len(during),
            "page_ratio": ratio(stats(during)["tail"], stats(after)["tail"])}


FLEET_CHILD = r"""
import sys, threading, time, uuid
sys.path.insert(0, sys.argv[1])
from appliance.core import events
from sync.adapters import Context
from sync.adapters.http_json import HttpJson
from sync.config import HttpJsonEndpoint
from sync.store import Row
port, first, count, per, batch = map(int, sys.argv[2:7])
ep = HttpJsonEndpoint(name="fleet", type="http-json", url=f"http://127.0.0.1:{port}/v1", secret=sys.argv[7],
                      timeout_s=120)
def chain(app):
    rows, prev, t = [], events.GENESIS_HASH, events.now_ms()
    for i in range(per):
        f = {"seq": i + 1, "id": str(uuid.uuid4()), "type": "patrol.tap", "occurred_at": t + i, "recorded_at": t + i,
             "actor": "device:reader-1", "entity_type": "checkpoint", "entity_id": f"CP-{i % 40}",
             "payload": events.canonical_json({"checkpoint": f"CP-{i % 40}", "badge": "04A1B2C3D4E5F6", "ok": True})}
        h = events.event_hash(prev, f)
        rows.append(Row(**f, prev_hash=prev, hash=h))
        prev = h
    return rows
chains = {a: chain(a) for a in range(first, first + count)}
go = threading.Event()
def run(a):
    ad = HttpJson(ep, Context(f"sim-{a:03d}"))
    go.wait()
    rows, after = chains[a], 0
    while after < len(rows):
        part = rows[after:after + batch]
        ack = ad.send_events("safety", after, part)
        after = ack.through
threads = [threading.Thread(target=run, args=(a,)) for a in chains]
for t in threads: t.start()
print("READY", flush=True)
sys.stdin.readline()
go.set()
for t in threads: t.join()
print("DONE", flush=True)
"""


def fleet(tmp: Path, appliances: int, per: int, batch: int, procs: int = 4) -> dict:
    def run(n_apps: int, data: Path, per: int) -> float:
        rx, port = receiver(data)
        children = []
        share = [n_apps // procs + (1 if i < n_apps % procs else 0) for i in range(procs)]
        first = 0
        for k in share:
            if not k:
                continue
            p = subprocess.Popen([sys.executable, "-c", FLEET_CHILD, str(ROOT), str(port), str(first), str(k), str(per),
                                  str(batch), SECRET], cwd=ROOT, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
            first += k
            children.append(p)
        for p in children:
            assert p.stdout.readline().strip() == "READY"
        t0 = time.monotonic()
        for p in children:
            p.stdin.write("go\n")
            p.stdin.flush()
        for p in children:
            assert p.stdout.readline().strip() == "DONE"
            p.wait()
        secs = time.monotonic() - t0
        got = count(port)
        terminate(rx)
        assert got == n_apps * per, (got, n_apps * per)
        return secs

    total = appliances * per
    one_n = per * 10  # baseline: one appliance alone, long enough to be a steady rate
    one_rate = one_n / run(1, tmp / "rx-one", one_n)
    many_s = run(appliances, tmp / "rx-fleet", per)
    many_rate = total / many_s
    return {"appliances": appliances, "per_appliance": per, "events": total, "seconds": round(many_s, 2),
            "events_per_s": round(many_rate), "single_events_per_s": round(one_rate),
            "ratio": ratio(many_rate, one_rate)}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--events", type=int, default=100_000)
    ap.add_argument("--appliances", type=int, default=100)
    ap.add_argument("--per-appliance", type=int, default=500)
    ap.add_argument("--batch", type=int, default=500)
    ap.add_argument("--dir", help="work directory (default: a temporary one)")
    a = ap.parse_args()
    with tempfile.TemporaryDirectory(dir=a.dir) as d:
        tmp = Path(d)
        print(f"drain: {a.events:,} events, batches of {a.batch}", flush=True)
        dr = drain(tmp, a.events, a.batch)
        e, b = dr["engine"], dr["bare"]
        print(f"  engine (sync-now): {e['events_per_s']:,} events/s ({e['seconds']} s); bare posting loop: "
              f"{b['events_per_s']:,} events/s → ratio {dr['ratio']}x (target >= 2 000 events/s)", flush=True)
        print(f"  sync process RSS: {e['rss_start_mb']} MB after warm-up, peak {e['rss_peak_mb']} MB, end "
              f"{e['rss_end_mb']} MB (peak/start {e['rss_growth']}x over {e['rss_samples']} samples)", flush=True)
        print(f"inside the running appliance: the same {a.events:,} events", flush=True)
        ins = inside(tmp, a.events, a.batch)
        print(f"  {ins['events_per_s']:,} events/s from start to the last one received ({ins['seconds']} s, the "
              f"appliance's start included); RSS peak {ins['rss_peak_mb']} MB; the event feed "
              f"during the drain {describe(ins['page_during_ms'])} vs after it {describe(ins['page_after_ms'])} "
              f"({ins['page_ratio']}x)", flush=True)
        print(f"fleet: {a.appliances} simulated appliances x {a.per_appliance} events at once", flush=True)
        fl = fleet(tmp, a.appliances, a.per_appliance, a.batch)
        print(f"  receiver: {fl['events_per_s']:,} events/s ({fl['events']:,} in {fl['seconds']} s); one appliance "
              f"alone: {fl['single_events_per_s']:,} events/s → ratio {fl['ratio']}x", flush=True)
    result("sync", drain=dr, inside=ins, fleet=fl)


if __name__ == "__main__":
    main()
