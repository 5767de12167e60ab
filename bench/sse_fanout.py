"""SSE fan-out: commit→receipt latency of events at 50 concurrent `/api/v1/stream` clients versus 1.

Starts a real appliance (`python -m appliance run`) on a fresh data directory, opens N kiosk SSE clients
(device token, raw sockets, one thread each), then writes events through the HTTP API as an admin
(POST /api/v1/people, session login + CSRF), so each commit pokes the bus in the server process (push,
not the 0.5 s poll for other-process writers). Latency per client per event:

  commit→receipt  client's time.time() when the bytes arrive − the event's `recorded_at` (set just before
                  commit; same machine clock)
  send→receipt    the same receipt time − time.time() just before the POST was sent

The baseline is the same measurement with 1 client, in the same run on the same server.
Target (GUIDE §5, web): 50 concurrent clients, SSE fan-out to all; p99 ≤ 200 ms for pages and API.

    python bench/sse_fanout.py [--clients 50] [--events 200] [--gap-ms 20]
"""
from __future__ import annotations

import argparse
import re
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import requests
from _common import ROOT, cli, describe, free_port, ratio, read_sse, result, stats, stop, wait_healthy

PASSWORD = "bench-password-1"


class Client(threading.Thread):
    """One SSE client on a raw socket (HTTP/1.0, so the stream is not chunked); records each
    person.created event's recorded_at and the local receipt time."""

    def __init__(self, port: int, token: str):
        super().__init__(daemon=True)
        self.port, self.token = port, token
        self.ready = threading.Event()  # the server sent the `retry:` line: the cursor is fixed
        self.stop = threading.Event()
        self.got: dict[str, tuple[int, float]] = {}  # employee_no -> (recorded_at ms, receipt s)
        self.error: str | None = None

    def run(self) -> None:
        try:
            self._read()
        except Exception as exc:  # reported as missing events, and printed
            self.error = repr(exc)
            self.ready.set()

    def _read(self) -> None:
        read_sse(self.port, self.token, self.stop, self.ready.set, self._on_event)

    def _on_event(self, t: float, ev: dict) -> None:
        if ev["type"] == "person.created":
            self.got[ev["payload"]["employee_no"]] = (ev["recorded_at"], t)


def write_config(data_dir: Path, port: int) -> Path:
    """Like tests/conftest.py's write_config: discovery off, a fixed port, 128 web threads."""
    data_dir.mkdir(parents=True, exist_ok=True)
    path = data_dir / "appliance.toml"
    path.write_text(
        f'[site]\nname = "基准工厂"\nname_en = "Bench plant"\nappliance_id = "bench-1"\n\n'
        f'[storage]\ndata_dir = "{data_dir}"\n\n'
        f'[web]\nhost = "127.0.0.1"\nport = {port}\ntls = false\nthreads = 128\nstreams_per_client = 64\n\n'
        f'[discovery]\nenabled = false\ninterfaces = ["127.0.0.1"]\n\n'
        f'[logging]\nformat = "text"\n', encoding="utf-8")
    return path


def admin_session(base: str) -> tuple[requests.Session, str]:
    s = requests.Session()
    csrf = re.search(r'name="csrf-token" content="([^"]+)"', s.get(f"{base}/login").text).group(1)
    r = s.post(f"{base}/login", data={"login": "bench", "password": PASSWORD, "csrf_token": csrf})
    m = re.search(r'name="csrf-token" content="([^"]+)"', r.text)
    if r.status_code != 200 or m is None:
        raise RuntimeError(f"admin login failed: {r.status_code}")
    return s, m.group(1)


def phase(base: str, port: int, token: str, admin: tuple[requests.Session, str], n_clients: int, n_events: int,
          gap_s: float, tag: str) -> dict:
    clients = [Client(port, token) for _ in range(n_clients)]
    for c in clients:
        c.start()
    for c in clients:
        if not c.ready.wait(30):
            raise RuntimeError("an SSE client did not get its stream within 30 s")
    errors = [c.error for c in clients if c.error]

    session, csrf = admin
    sent, post_ms = {}, []
    for i in range(n_events):
        no = f"{tag}{i:04d}"
        t_send = time.time()
        r = session.post(f"{base}/api/v1/people", json={"employee_no": no, "name": "bench"},
                         headers={"X-CSRF-Token": csrf}, timeout=10)
        post_ms.append((time.time() - t_send) * 1000)
        if r.status_code != 201:
            raise RuntimeError(f"POST /api/v1/people: {r.status_code} {r.text[:200]}")
        sent[no] = t_send
        time.sleep(max(0.0, gap_s - (time.time() - t_send)))

    deadline = time.monotonic() + 5  # stragglers: wait a little for every client to see every event
    while time.monotonic() < deadline and any(len(c.got) < n_events for c in clients if not c.error):
        time.sleep(0.05)
    for c in clients:
        c.stop.set()
    for c in clients:
        c.join(5)
    errors += [c.error for c in clients if c.error and c.error not in errors]

    commit = [(t - rec / 1000) * 1000 for c in clients for rec, t in c.got.values()]
    send = [(t - sent[no]) * 1000 for c in clients for no, (_, t) in c.got.items()]
    missing = sum(n_events - len(c.got) for c in clients)
    return {"clients": n_clients, "events": n_events, "deliveries": len(commit), "missing": missing,
            "commit_ms": stats(commit), "send_ms": stats(send), "post_ms": stats(post_ms),   # p99 from >= 200
            "client_errors": errors[:3]}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--clients", type=int, default=50)
    ap.add_argument("--events", type=int, default=200, help="events per phase")
    ap.add_argument("--gap-ms", type=float, default=20, help="spacing of the POSTs")
    args = ap.parse_args()

    with tempfile.TemporaryDirectory(prefix="bench-sse-") as tmp:
        port = free_port()
        cfg = write_config(Path(tmp) / "data", port)
        token = cli("create-token", "--config", str(cfg), "--name", "bench").splitlines()[0].strip()
        cli("create-user", "--config", str(cfg), "--login", "bench", "--role", "admin", "--password-stdin",
            input=PASSWORD + "\n")
        log = open(Path(tmp) / "appliance.log", "w")
        proc = subprocess.Popen([sys.executable, "-m", "appliance", "run", "--config", str(cfg)], cwd=ROOT,
                                stdout=log, stderr=subprocess.STDOUT)
        base = f"http://127.0.0.1:{port}"
        try:
            wait_healthy(base, proc)
            admin = admin_session(base)
            print(f"SSE fan-out: {args.events} events {args.gap_ms:g} ms apart via POST /api/v1/people")
            out = {}
            for key, n, tag in (("one", 1, "A"), ("many", args.clients, "B")):
                r = out[key] = phase(base, port, token, admin, n, args.events, args.gap_ms / 1000, tag)
                print(f"  {n:>3} client(s): commit->receipt {describe(r['commit_ms'])} | missing {r['missing']}")
                print(f"      send->receipt {describe(r['send_ms'])} | POST {describe(r['post_ms'])}")
                for e in r["client_errors"]:
                    print(f"      client error: {e}")
            one, many = out["one"], out["many"]
            out["ratio_p50"] = ratio(many["commit_ms"]["p50"], one["commit_ms"]["p50"])
            out["ratio_p99"] = ratio(many["commit_ms"]["tail"], one["commit_ms"]["tail"])
            print(f"  ratio {args.clients} vs 1 client: p50 {out['ratio_p50']}x  {many['commit_ms']['tail_label']} "
                  f"{out['ratio_p99']}x   "
                  f"missing deliveries {many['missing']} (should be 0); target p99 <= 200 ms")
        except Exception:
            log.flush()
            print("--- appliance log (tail) ---\n" + Path(log.name).read_text()[-3000:], file=sys.stderr)
            raise
        finally:
            stop_s = stop(proc)
            log.close()
        bad = [ln for ln in Path(log.name).read_text().splitlines() if " ERROR " in ln or "Traceback" in ln]
        print(f"  appliance stopped {stop_s} s after SIGTERM (exit {proc.returncode}); {len(bad)} error lines in its "
              "log")
        for ln in bad[:5]:
            print(f"      {ln[:200]}")
    result("sse_fanout", **out, stop_s=stop_s, exit_code=proc.returncode, log_errors=len(bad), target_p99_ms=200)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
