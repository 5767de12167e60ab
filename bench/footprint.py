"""Footprint: seconds from process start to healthy, and resident memory, of `python -m appliance demo`.

Two runs on one data directory: cold (empty directory: migrations and seeding the demo plant) and warm
(a restart on the same data). Each: time from spawning the process to the first 200 from
/api/v1/health (polled every 20 ms); RSS (VmRSS of the process and any children) once healthy and after
50 GETs of the wall board /kiosk (device session from the demo's kiosk token); peak RSS (VmHWM) then, and
again after 8 admin logins at once (each password check is a scrypt hash that needs ~32 MB while it runs).

The baseline, in the same run: a bare interpreter that imports the appliance's main libraries (flask,
waitress, peewee, pydantic, apscheduler, zeroconf) and prints 'ready' — its time to 'ready' and its RSS.
Targets (GUIDE §5, footprint): ≤ 150 MB RSS without vision; healthy ≤ 5 s after start.

The appliance's modules are compiled to bytecode first (`compileall`), as an installed appliance has them (pip
compiles a wheel's modules; a source checkout writes them on its first run): a machine that sets
PYTHONDONTWRITEBYTECODE (this workplace does) would otherwise compile ~300 modules at every start, 0.6-1 s.
Each run prints the components that came ok last, with the second they did.

    python bench/footprint.py [--requests 50] [--logins 8]
"""
from __future__ import annotations

import argparse
import json
import re
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import requests
from _common import ROOT, describe, free_port, ratio, result, rss_kb, stats, stop

BARE = ("import flask, waitress, peewee, pydantic, apscheduler, zeroconf; import time; "
        "print('ready', flush=True); time.sleep(30)")
PACKAGES = ("appliance", "drivers", "models", "kiosk_ui", "sync", "satellite")   # what the appliance runs
CSRF = re.compile(r'name="csrf-token" content="([^"]+)"')


def mb(kb: int) -> float:
    return round(kb / 1024, 1)



def baseline() -> dict:
    t0 = time.monotonic()
    proc = subprocess.Popen([sys.executable, "-c", BARE], stdout=subprocess.PIPE, text=True)
    try:
        line = proc.stdout.readline()
        ready_s = time.monotonic() - t0
        if line.strip() != "ready":
            raise RuntimeError(f"bare import process said {line!r}")
        rss = rss_kb(proc.pid)
    finally:
        proc.kill()
        proc.wait()
    return {"ready_s": round(ready_s, 3), "rss_mb": mb(rss)}


def not_ok(health: dict) -> dict:
    return {k: c.get("reason", c.get("status")) for k, c in health["components"].items() if c.get("status") != "ok"}


def wait_healthy(base: str, proc: subprocess.Popen, t0: float,
                 came_ok: dict | None = None) -> tuple[dict, float, float | None]:
    """(the health body, seconds to the first answer, seconds to `status == "ok"` or None within 60 s).
    Answering is not healthy: a component still starting or at fault keeps the clock running. `came_ok` gets
    each component's seconds to its last change to ok (what kept the clock running, and until when)."""
    last, answered, body = None, None, None
    came_ok = {} if came_ok is None else came_ok
    while time.monotonic() - t0 < 60:
        if proc.poll() is not None:
            raise RuntimeError(f"demo exited with {proc.returncode}; see its log")
        try:
            r = requests.get(f"{base}/api/v1/health", timeout=2)
            if r.status_code == 200:
                now = time.monotonic() - t0
                answered = answered or now
                body = r.json()
                for name, c in body["components"].items():
                    if c.get("status") != "ok":
                        came_ok.pop(name, None)
                    else:
                        came_ok.setdefault(name, now)
                if body["status"] == "ok":
                    return body, answered, now
            last = f"{r.status_code} {r.text[:300]}"
        except requests.RequestException as exc:
            last = type(exc).__name__
        time.sleep(0.02)
    if body is None:
        raise RuntimeError(f"demo not answering after 60 s (last: {last})")
    return body, answered or 60.0, None


def kiosk_pages(base: str, token: str, n: int) -> list[float]:
    """Trade the kiosk token for a session cookie, then GET /kiosk n times; returns the times in ms."""
    s = requests.Session()
    if (code := s.get(f"{base}/kiosk", params={"token": token}, timeout=10).status_code) != 200:
        raise RuntimeError(f"GET /kiosk?token=: {code}")
    out = []
    for _ in range(n):
        t = time.perf_counter()
        if (code := s.get(f"{base}/kiosk", timeout=10).status_code) != 200:
            raise RuntimeError(f"GET /kiosk: {code}")
        out.append((time.perf_counter() - t) * 1000)
    return out


def concurrent_logins(base: str, password: str, n: int) -> float:
    """n admin logins at once; returns the seconds until all are answered."""
    sessions = [requests.Session() for _ in range(n)]
    forms = [{"login": "admin", "password": password, "csrf_token": CSRF.search(s.get(f"{base}/login").text).group(1)}
             for s in sessions]
    codes: list[int] = []
    go = threading.Barrier(n + 1)

    def login(s: requests.Session, form: dict) -> None:
        go.wait()
        codes.append(s.post(f"{base}/login", data=form, allow_redirects=False, timeout=60).status_code)

    threads = [threading.Thread(target=login, args=pair) for pair in zip(sessions, forms, strict=False)]
    for t in threads:
        t.start()
    go.wait()
    t0 = time.monotonic()
    for t in threads:
        t.join()
    if codes.count(302) != n:
        raise RuntimeError(f"concurrent logins answered {codes}")
    return time.monotonic() - t0


def demo_run(data: Path, log_path: Path, n_requests: int, n_logins: int) -> dict:
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    with open(log_path, "a") as log:
        t0 = time.monotonic()
        proc = subprocess.Popen([sys.executable, "-m", "appliance", "demo", "--port", str(port), "--data", str(data),
                                 "--no-browser"], cwd=ROOT, stdout=log, stderr=subprocess.STDOUT)
        try:
            came_ok: dict[str, float] = {}
            health, answered_s, healthy_s = wait_healthy(base, proc, t0, came_ok)
            # The appliance is the demo process itself; its children are the simulated field devices
            # (Modbus servers, socat), which a plant has as hardware: counted apart.
            rss_healthy = rss_kb(proc.pid, children=False)
            creds = json.loads((data / "demo-credentials.json").read_text(encoding="utf-8"))
            page_ms = kiosk_pages(base, creds["kiosk_token"], n_requests)
            rss_after, hwm = rss_kb(proc.pid, children=False), rss_kb(proc.pid, "VmHWM", children=False)
            rss_devices = rss_kb(proc.pid) - rss_after
            login_s = concurrent_logins(base, creds["users"]["admin"]["password"], n_logins)
            hwm_logins = rss_kb(proc.pid, "VmHWM", children=False)
            later = requests.get(f"{base}/api/v1/health", timeout=2).json()
        finally:
            stop_s = stop(proc)
    return {"answered_s": round(answered_s, 3), "healthy_s": round(healthy_s, 3) if healthy_s is not None else None,
            "rss_healthy_mb": mb(rss_healthy), "rss_after_mb": mb(rss_after),
            "peak_rss_mb": mb(hwm), "sim_devices_rss_mb": mb(rss_devices), "kiosk_ms": stats(page_ms), "logins": n_logins, "logins_s": round(login_s, 2),
            "peak_rss_logins_mb": mb(hwm_logins), "health": health["status"], "not_ok": not_ok(health),
            "health_later": later["status"], "not_ok_later": not_ok(later), "stop_s": stop_s,
            "last_ok": {k: round(v, 2) for k, v in sorted(came_ok.items(), key=lambda kv: -kv[1])[:3]},
            "exit_code": proc.returncode}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--requests", type=int, default=50, help="GET /kiosk requests before the second RSS reading")
    ap.add_argument("--logins", type=int, default=8, help="concurrent admin logins for the last peak-RSS reading")
    args = ap.parse_args()

    subprocess.run([sys.executable, "-m", "compileall", "-q", *PACKAGES], cwd=ROOT, check=True,
                   stdout=subprocess.DEVNULL)
    out = {"baseline": baseline()}
    b = out["baseline"]
    print(f"footprint (baseline: bare imports ready in {b['ready_s']:.2f} s, RSS {b['rss_mb']:.1f} MB)")
    with tempfile.TemporaryDirectory(prefix="bench-footprint-") as tmp:
        data, log_path = Path(tmp) / "data", Path(tmp) / "demo.log"
        try:
            for label in ("cold", "warm"):
                r = out[label] = demo_run(data, log_path, args.requests, args.logins)
                r["ratio_start"] = ratio(r["healthy_s"], b["ready_s"]) if r["healthy_s"] is not None else None
                r["ratio_rss"] = ratio(r["rss_after_mb"], b["rss_mb"])
                healthy = (f"healthy (status ok) in {r['healthy_s']:.2f} s ({r['ratio_start']}x baseline)"
                           if r["healthy_s"] is not None else "NOT healthy within 60 s")
                print(f"  {label}: answering in {r['answered_s']:.2f} s, {healthy} | RSS healthy "
                      f"{r['rss_healthy_mb']} MB, after {args.requests} /kiosk {r['rss_after_mb']} MB "
                      f"({r['ratio_rss']}x baseline), peak {r['peak_rss_mb']} MB | /kiosk {describe(r['kiosk_ms'])} "
                      f"| stop {r['stop_s']} s (exit {r['exit_code']})")
                print(f"        peak RSS after {r['logins']} concurrent logins: {r['peak_rss_logins_mb']} MB "
                      f"(all answered in {r['logins_s']} s); simulated field devices (children, not counted) "
                      f"{r['sim_devices_rss_mb']} MB")
                print(f"        health when ok (or at 60 s): {r['health']} {r['not_ok'] or ''}; at the end: "
                      f"{r['health_later']} {r['not_ok_later'] or ''}; the last to come ok (s): {r['last_ok']}")
        except Exception:
            print("--- demo log (tail) ---\n" + log_path.read_text()[-3000:], file=sys.stderr)
            raise
        bad = [ln for ln in log_path.read_text().splitlines() if " ERROR " in ln or "Traceback" in ln]
    print(f"  targets: RSS <= 150 MB, healthy <= 5 s; {len(bad)} error lines in the demo's log")
    for ln in bad[:5]:
        print(f"      {ln[:200]}")
    result("footprint", **out, log_errors=len(bad), target_rss_mb=150, target_healthy_s=5)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
