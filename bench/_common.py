"""Small helpers shared by the benchmark scripts; importing it registers the appliance's domains."""
from __future__ import annotations

import json
import math
import os
import re
import socket
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
# `python bench/x.py` puts bench/ first on the path, where bench/sync.py would shadow the `sync` package:
# the repository root goes in front of it (an editable install has it on the path, but behind bench/)
if str(ROOT) in sys.path:
    sys.path.remove(str(ROOT))
sys.path.insert(0, str(ROOT))



def _load_domains() -> None:
    """Register the enabled domains: their tables come from their own migrations, so a bench that makes a
    database with `db.migrate` in its own process needs them registered first (as the service does)."""
    from appliance import domains

    domains.load()


_load_domains()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


# A percentile above the median is only told from this many samples (issue 14: "percentiles from ≥ 200 samples
# or say 'max of N'"): with fewer, a nearest-rank p99 is the largest or second-largest value — the max under
# another name. Below it the benches print the max of N, which is at least as high as the samples' p99, so a
# target met by the max is met by the p99.
MIN_TAIL_SAMPLES = 200


def percentile(values: list[float], p: float) -> float:
    """Nearest-rank percentile (p in 0..100); NaN for an empty list. A tail percentile (p > 50) from fewer
    than MIN_TAIL_SAMPLES values raises ValueError: use `stats`, which says "max of N" instead."""
    if not values:
        return float("nan")
    if p > 50 and len(values) < MIN_TAIL_SAMPLES:
        raise ValueError(f"p{p:g} from {len(values)} samples (fewer than {MIN_TAIL_SAMPLES}): use stats()")
    s = sorted(values)
    k = max(0, min(len(s) - 1, math.ceil(p / 100 * len(s)) - 1))
    return s[k]


def stats(values: list[float], tails: tuple[float, ...] = (99,), digits: int = 1) -> dict:
    """n, p50, max and the tail percentiles `tails` (p99 by default) where there are enough samples for them.

    `tail` is the figure to hold against a target: the highest of `tails` from ≥ MIN_TAIL_SAMPLES samples,
    else the max; `tail_label` says which ("p99" or "max of 40"). With too few samples the tail percentiles
    are absent, so no bench can print one."""
    n = len(values)
    out: dict = {"n": n, "p50": round(percentile(values, 50), digits),
                 "max": round(max(values, default=float("nan")), digits)}
    enough = n >= MIN_TAIL_SAMPLES
    if enough:
        for p in tails:
            out[f"p{p:g}"] = round(percentile(values, p), digits)
    top = max(tails)
    out["tail"] = out[f"p{top:g}"] if enough else out["max"]
    out["tail_label"] = f"p{top:g}" if enough else f"max of {n}"
    return out


def describe(s: dict, unit: str = "ms") -> str:
    """One line for a `stats` dict: "p50 3.1 ms  p99 9.8 ms  max 12.0 ms (n 250)", or with too few samples for a
    tail percentile "p50 3.1 ms  max of 40 12.0 ms (too few for a p99)"."""
    tails = [k for k in s if re.fullmatch(r"p[0-9.]+", k) and k != "p50"]
    if s["tail_label"].startswith("max of"):
        return (f"p50 {s['p50']:7.1f} {unit}  {s['tail_label']} {s['max']:7.1f} {unit} "
                f"(too few for a p99: {MIN_TAIL_SAMPLES} needed)")
    body = "  ".join(f"{k} {s[k]:7.1f} {unit}" for k in ["p50", *tails])
    return f"{body}  max {s['max']:7.1f} {unit} (n {s['n']})"


def ratio(a: float, b: float) -> float | None:
    return round(a / b, 3) if b else None


def rss_kb(pid: int, field: str = "VmRSS", children: bool = True) -> int:
    """`field` (VmRSS or VmHWM) of `pid` (plus all its descendants unless `children` is False), in kB
    (0 for a vanished process)."""
    total = 0
    for p in [pid, *(descendants(pid) if children else [])]:
        try:
            for line in Path(f"/proc/{p}/status").read_text().splitlines():
                if line.startswith(field + ":"):
                    total += int(line.split()[1])
        except (FileNotFoundError, ProcessLookupError):
            pass
    return total


def descendants(pid: int) -> list[int]:
    children: dict[int, list[int]] = {}
    for d in os.listdir("/proc"):
        if d.isdigit():
            try:
                stat = Path(f"/proc/{d}/stat").read_text()
            except OSError:
                continue
            ppid = int(stat.rsplit(")", 1)[1].split()[1])
            children.setdefault(ppid, []).append(int(d))
    out, todo = [], [pid]
    while todo:
        for c in children.get(todo.pop(), []):
            out.append(c)
            todo.append(c)
    return out


def stop(proc) -> float:
    """SIGTERM a child (kill it after 20 s); returns the seconds it took to go."""
    import signal
    import subprocess
    import time

    t0 = time.monotonic()
    proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(20)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
    return round(time.monotonic() - t0, 2)


def result(name: str, **figures) -> None:
    """The one machine-readable line that bench/run.py collects."""
    print("RESULT " + json.dumps({"bench": name, **figures}, ensure_ascii=False), flush=True)


def spawn_ready(args: list[str], timeout: float = 15):
    """Start `python ARGS` (a peer that prints READY when it is about to serve, e.g. drivers.sim.modbus_server)
    from the repository root; its further output is drained on a thread. Raises if READY does not come."""
    import subprocess
    import threading
    import time

    p = subprocess.Popen([sys.executable, *args], cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                         text=True)
    deadline = time.monotonic() + timeout
    seen = []
    while time.monotonic() < deadline:
        line = p.stdout.readline()
        if line.strip() == "READY":
            threading.Thread(target=lambda: [None for _ in p.stdout], daemon=True).start()
            return p
        if not line and p.poll() is not None:
            break
        seen.append(line)
    p.kill()
    p.wait()
    raise RuntimeError(f"peer {args} did not become ready (exit {p.poll()}): {''.join(seen)[-500:]}")


def wait_port(host: str, port: int, timeout: float = 10) -> None:
    """Wait until something accepts TCP connections on host:port (READY is printed just before binding)."""
    import time

    deadline = time.monotonic() + timeout
    while True:
        try:
            with socket.create_connection((host, port), timeout=0.5):
                return
        except OSError:
            if time.monotonic() > deadline:
                raise RuntimeError(f"nothing listens on {host}:{port} after {timeout:g} s") from None
            time.sleep(0.02)


def terminate(proc, timeout: float = 5) -> None:
    """Stop a peer we started (SIGTERM, then SIGKILL); no-op if it already ended."""
    import subprocess

    if proc is None or proc.poll() is not None:
        return
    proc.terminate()
    try:
        proc.wait(timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


def read_sse(port: int, token: str, stop, on_ready, on_event, parse: bool = True) -> None:
    """Read /api/v1/stream over a raw HTTP/1.0 socket (no chunking, receipt time taken right after recv)
    until `stop` is set: `on_ready()` once the stream is open, `on_event(t_received, event)` per event
    (`event` None with parse=False: a screen stand-in that only counts, so that the bench's own JSON
    parsing of 50 streams does not take the CPU the appliance is being measured on)."""
    import json
    import socket
    import time

    sock = socket.create_connection(("127.0.0.1", port), timeout=0.5)
    sock.sendall(f"GET /api/v1/stream HTTP/1.0\r\nHost: 127.0.0.1\r\nAccept: text/event-stream\r\n"
                 f"Authorization: Bearer {token}\r\n\r\n".encode())
    buf, in_body = b"", False
    try:
        while not stop.is_set():
            try:
                data = sock.recv(65536)
            except TimeoutError:
                continue
            t = time.time()
            if not data:
                raise ConnectionError("server closed the stream")
            buf += data
            if not in_body:
                if b"\r\n\r\n" not in buf:
                    continue
                head, buf = buf.split(b"\r\n\r\n", 1)
                if b" 200 " not in head.split(b"\r\n", 1)[0]:
                    raise ConnectionError(head.split(b"\r\n", 1)[0].decode())
                in_body = True
            *lines, buf = buf.split(b"\n")
            for line in lines:
                if line.startswith(b"retry:"):
                    on_ready()
                elif line.startswith(b"data:"):
                    on_event(t, json.loads(line[5:]) if parse else None)
    finally:
        sock.close()


def cli(*args: str, input: str | None = None) -> str:
    """Run `python -m appliance ARGS` from the repository root; its stdout, or RuntimeError with stderr."""
    import subprocess

    r = subprocess.run([sys.executable, "-m", "appliance", *args], cwd=ROOT, capture_output=True, text=True,
                       input=input, timeout=60)
    if r.returncode != 0:
        raise RuntimeError(f"appliance {args[0]} failed: {r.stderr.strip()}")
    return r.stdout


def wait_healthy(base: str, proc, timeout: float = 30) -> None:
    """Wait for 200 from /api/v1/health of the appliance process `proc` serving at `base`."""
    import time

    import requests

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"appliance exited with {proc.returncode}")
        try:
            if requests.get(f"{base}/api/v1/health", timeout=1).status_code == 200:
                return
        except requests.RequestException:
            pass
        time.sleep(0.05)
    raise RuntimeError("appliance did not become healthy")
