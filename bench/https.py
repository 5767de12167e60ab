"""What HTTPS through the appliance's TLS terminator costs (issue 16), against plain HTTP on the same server.

One appliance in this process with `[web] tls = true` (its own CA, made in a temporary data directory). N
client threads each make M keep-alive `GET /api/v1/health` requests over HTTPS (the CA verified by `ssl`) and
the same over plain HTTP (loopback stays plain: `plain_loopback`); plus the cost of a new TLS connection
(handshake + one request) against a new plain connection. Prints p50/p99 and requests/s, and `RESULT {json}`.

    .venv/bin/python bench/https.py [--clients 20] [--requests 100]
"""
from __future__ import annotations

import argparse
import http.client
import json
import ssl
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from _common import describe, stats  # noqa: E402


def ms_stats(values_s: list[float]) -> dict:
    """In ms: p50, p99 (from >= 200 requests, else the max of N: _common.stats), max."""
    return stats([v * 1000 for v in values_s], digits=2)


def keepalive(make, clients: int, n: int) -> dict:
    lat: list[float] = []
    lock = threading.Lock()

    def work():
        conn = make()
        mine = []
        for _ in range(n):
            t = time.perf_counter()
            conn.request("GET", "/api/v1/health")
            r = conn.getresponse()
            r.read()
            assert r.status == 200, r.status
            mine.append(time.perf_counter() - t)
        conn.close()
        with lock:
            lat.extend(mine)

    t0 = time.perf_counter()
    threads = [threading.Thread(target=work) for _ in range(clients)]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    wall = time.perf_counter() - t0
    return {**ms_stats(lat), "per_s": round(len(lat) / wall)}


def fresh(make, n: int) -> dict:
    lat = []
    for _ in range(n):
        t = time.perf_counter()
        conn = make()
        conn.request("GET", "/api/v1/health")
        conn.getresponse().read()
        conn.close()
        lat.append(time.perf_counter() - t)
    return {**ms_stats(lat), "mean_ms": round(statistics.mean(lat) * 1000, 2)}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--clients", type=int, default=20)
    ap.add_argument("--requests", type=int, default=100)
    ap.add_argument("--fresh", type=int, default=200, help="new connections measured one after another (>= 200 for a p99)")
    args = ap.parse_args()

    import logging

    logging.disable(logging.WARNING)
    from appliance.config import load_config
    from appliance.core import tls
    from appliance.service import Appliance

    data = Path(tempfile.mkdtemp(prefix="bench-https-"))
    cfg_path = data / "appliance.toml"
    cfg_path.write_text(f'[storage]\ndata_dir = "{data}"\n[web]\nhost = "127.0.0.1"\nport = 0\ntls = true\n'
                        'tls_port = 0\nthreads = 64\n[discovery]\nenabled = false\n[logging]\nformat = "text"\n'
                        'level = "WARNING"\n', encoding="utf-8")
    t0 = time.perf_counter()
    a = Appliance(load_config(cfg_path)).start()
    start_s = round(time.perf_counter() - t0, 3)
    try:
        assert a.front is not None
        ctx = ssl.create_default_context(cafile=str(tls.paths_for(a.config).ca_cert))
        https = lambda: http.client.HTTPSConnection("127.0.0.1", a.front.port, context=ctx, timeout=30)  # noqa: E731
        plain = lambda: http.client.HTTPConnection("127.0.0.1", a.port, timeout=30)  # noqa: E731
        keepalive(https, 2, 10)   # warm-up
        result = {"bench": "https", "clients": args.clients, "requests": args.requests, "start_s": start_s,
                  "plain": keepalive(plain, args.clients, args.requests),
                  "https": keepalive(https, args.clients, args.requests),
                  "plain_new_conn": fresh(plain, args.fresh), "https_new_conn": fresh(https, args.fresh)}
    finally:
        a.stop()
    p, h = result["plain"], result["https"]
    result["ratio_p99"] = round(h["tail"] / p["tail"], 2)
    result["ratio_per_s"] = round(h["per_s"] / p["per_s"], 2)
    print(f"start (CA and certificate made): {start_s} s")
    print(f"{args.clients} clients x {args.requests} keep-alive GET /api/v1/health:")
    print(f"  plain  {describe(p)}  {p['per_s']} req/s")
    print(f"  https  {describe(h)}  {h['per_s']} req/s  "
          f"({h['tail_label']} x{result['ratio_p99']}, throughput x{result['ratio_per_s']})")
    pn, hn = result["plain_new_conn"], result["https_new_conn"]
    print(f"new connection + request: plain {describe(pn)}; https {describe(hn)}")
    print("RESULT " + json.dumps(result))


if __name__ == "__main__":
    main()
