"""The load bench's clients (bench/load.py): the screens that walk the request mix, the live streams that count
events, the leak that times a gas alarm, and the processes of their own they run in.

A generator's thread that waits for its own interpreter counts that wait as the appliance's latency: the
clients and streams run in a load process (`LoadProcess`), the leak cycles in another (`LeakProcess`), apart
from the bench's own threads (its RSS sampler, the maintenance runs). Each child is this file run with its
spec (`--load-child` / `--leak-child`), answering one JSON line per order on stdin.
"""
from __future__ import annotations

import json
import random
import subprocess
import sys
import threading
import time

import alarm_latency as AL
import requests
from _common import read_sse

MIX = (  # (kind, path, weight): what 50 wall boards and tablets ask for
    ("board page", "/kiosk", 5),
    ("live points", "/api/v1/points", 25),
    ("alarms", "/api/v1/alarms", 20),
    ("hazard board", "/api/v1/hazards?state=rectifying", 15),
    ("risk map", "/api/v1/risk/map", 10),
    ("event feed", "/api/v1/events?limit=50", 10),
    ("tablet page", "/tablet/hazards", 5),
    ("me", "/api/v1/me", 10),
)


class _Child:
    """A child process running this file with a spec; one JSON line per answer on its stdout."""

    def __init__(self, flag: str, spec: dict):
        self.p = subprocess.Popen([sys.executable, __file__, flag, json.dumps(spec)],
                                  stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)

    def _answer(self):
        assert self.p.stdout is not None
        line = self.p.stdout.readline()
        if not line:
            raise RuntimeError(f"bench child ended (exit {self.p.wait(5)})")
        return json.loads(line)

    def _tell(self, order: dict) -> None:
        assert self.p.stdin is not None
        self.p.stdin.write(json.dumps(order) + "\n")
        self.p.stdin.flush()

    def close(self) -> None:
        if self.p.stdin is not None and not self.p.stdin.closed:
            self.p.stdin.close()
        try:
            self.p.wait(15)
        except subprocess.TimeoutExpired:
            self.p.kill()


class Client(threading.Thread):
    """One screen: walks the mix with a think time; records (kind, seconds, ok) per request."""

    def __init__(self, base: str, token: str, cookies, rnd: random.Random, stop_at: float, think: float, out: list):
        super().__init__(daemon=True)
        self.base, self.token, self.rnd, self.stop_at, self.think, self.out = base, token, rnd, stop_at, think, out
        self.s = requests.Session()
        self.s.headers["Authorization"] = f"Bearer {token}"
        self.cookies = cookies
        self.first: float | None = None
        self.started = time.monotonic()

    def run(self) -> None:
        kinds = [m for m in MIX for _ in range(m[2])]
        time.sleep(self.rnd.uniform(0, self.think))      # screens do not all start in the same millisecond
        while time.monotonic() < self.stop_at:
            kind, path, _ = self.rnd.choice(kinds)
            url = self.base + path
            if path == "/kiosk":
                url += f"?token={self.token}"
            t0 = time.perf_counter()
            try:
                if path.startswith("/tablet"):
                    r = requests.get(url, cookies=self.cookies, timeout=30)
                else:
                    r = self.s.get(url, timeout=30)
                ok = r.status_code == 200
            except requests.RequestException:
                ok = False
            dt = time.perf_counter() - t0
            self.out.append((kind, dt, ok, time.monotonic()))
            if self.first is None and ok:
                self.first = time.monotonic() - self.started
            if self.think:
                time.sleep(self.rnd.uniform(0.5 * self.think, 1.5 * self.think))


class Counter(threading.Thread):
    """One live stream (a wall board): counts the events it receives."""

    def __init__(self, port: int, token: str):
        super().__init__(daemon=True)
        self.port, self.token = port, token
        self.ready, self.stop = threading.Event(), threading.Event()
        self.n, self.error = 0, None

    def run(self) -> None:
        try:
            read_sse(self.port, self.token, self.stop, self.ready.set, self._on, parse=False)
        except Exception as exc:
            self.error = repr(exc)
            self.ready.set()

    def _on(self, t: float, ev: dict) -> None:
        self.n += 1


class LoadProcess(_Child):
    """A share of the load (clients and streams) run by a process of its own (`load_child`), apart from the
    process that samples memory, runs the maintenance and reads the results, whose threads no longer take
    the generator's interpreter from it (or it from them) while a request is timed."""

    def __init__(self, spec: dict):
        super().__init__("--load-child", spec)

    def ready(self) -> None:
        if self._answer() != "ready":
            raise RuntimeError("load process did not open its streams")

    def go(self, stop_at: float) -> None:
        self._tell({"stop_at": stop_at})

    def collect(self) -> dict:
        """After its clients' stop time: (kind, seconds, ok, monotonic end) per request, first answers, events
        per stream."""
        return self._answer()


def load_child(spec: dict) -> int:
    """A load process: opens its streams, answers "ready", starts its clients when told the stop time, and
    answers their samples once they are done; its streams stay open until then."""
    counters = [Counter(spec["wport"], spec["token"]) for _ in range(spec["streams"])]
    for k in counters:
        k.start()
    for k in counters:
        k.ready.wait(30)
    print(json.dumps("ready"), flush=True)
    stop_at = json.loads(sys.stdin.readline())["stop_at"]
    out: list = []
    clients = [Client(spec["base"], spec["token"], spec["cookies"], random.Random(seed), stop_at, spec["think"], out)
               for seed in spec["seeds"]]
    for cl in clients:
        cl.start()
    for cl in clients:
        cl.join(stop_at - time.monotonic() + 60)
    print(json.dumps({"samples": out, "firsts": [cl.first for cl in clients],
                      "events": [k.n for k in counters], "stream_errors": sum(1 for k in counters if k.error)}),
          flush=True)
    for k in counters:
        k.stop.set()
    return 0


class Leak:
    """Leak cycles on one point: write 60 %LEL → alarm.raised (timed) → write 0 → alarm.cleared → ack."""

    def __init__(self, writer, stream: AL.Stream, sup: requests.Session, base: str, interval: float, rnd):
        self.writer, self.stream, self.sup, self.base, self.interval, self.rnd = writer, stream, sup, base, interval, rnd

    def cycle(self) -> float:
        time.sleep(self.rnd.uniform(0, self.interval))
        t0 = time.time()
        self.writer.write_register(0, 600, device_id=1)
        t, ev = self.stream.wait_for("alarm.raised", 3 * self.interval + 10)
        self.writer.write_register(0, 0, device_id=1)
        self.stream.wait_for("alarm.cleared", 3 * self.interval + 10)
        self.sup.post(f"{self.base}/api/v1/alarms/{ev['payload']['alarm_id']}/ack", json={"note": "bench"}, timeout=30)
        return (t - t0) * 1000


class LeakProcess(_Child):
    """The leak cycles, timed from a process of their own (`leak_child`). Timed from the bench's, the stream's
    reader and the Modbus write waited their turn for its interpreter behind the load's 100 threads (50
    clients, 50 streams), and that wait counted as the appliance's alarm latency."""

    def __init__(self, base: str, wport: int, mport: int, token: str, sup: requests.Session, interval: float,
                 seed: int):
        super().__init__("--leak-child", {
            "base": base, "wport": wport, "mport": mport, "token": token, "interval": interval, "seed": seed,
            "cookies": requests.utils.dict_from_cookiejar(sup.cookies), "csrf": sup.headers["X-CSRF-Token"]})
        if self._answer() != "ready":
            raise RuntimeError("leak process did not start")

    def cycles(self, n: int | None = None, until: float | None = None) -> list[float]:
        """`n` cycles, or cycles until time.monotonic() (the same clock in every process here) passes `until`."""
        self._tell({"n": n, "until": until})
        answer = self._answer()
        if isinstance(answer, dict):
            raise RuntimeError(f"leak cycle failed: {answer['error']}")
        return answer


def leak_child(spec: dict) -> int:
    """The leak process: its own Modbus writer, SSE stream and supervisor session; runs the cycles it is
    told to (one JSON line each on stdin) and answers their latencies (ms) as one JSON line."""
    from pymodbus.client import ModbusTcpClient

    writer = ModbusTcpClient("127.0.0.1", port=spec["mport"], timeout=1, retries=0)
    if not writer.connect():
        raise RuntimeError("cannot connect to the modbus server")
    AL.POINT = "GT-000"
    stream = AL.Stream(spec["wport"], spec["token"])
    stream.start()
    if not stream.ready.wait(30) or stream.error:
        raise RuntimeError(f"SSE stream did not open: {stream.error}")
    sup = requests.Session()
    sup.cookies.update(spec["cookies"])
    sup.headers["X-CSRF-Token"] = spec["csrf"]
    leak = Leak(writer, stream, sup, spec["base"], spec["interval"], random.Random(spec["seed"]))
    print(json.dumps("ready"), flush=True)
    for line in sys.stdin:
        order = json.loads(line)
        try:
            if order["n"] is not None:
                out = [leak.cycle() for _ in range(order["n"])]
            else:
                out = []
                while time.monotonic() < order["until"]:
                    out.append(leak.cycle())
            print(json.dumps(out), flush=True)
        except Exception as exc:   # the parent reports it and stops the run
            print(json.dumps({"error": repr(exc)}), flush=True)
    stream.stop.set()
    writer.close()
    return 0


if __name__ == "__main__":   # a child: `load_clients.py --load-child SPEC` or `--leak-child SPEC`
    flag, spec = sys.argv[1], json.loads(sys.argv[2])
    raise SystemExit({"--load-child": load_child, "--leak-child": leak_child}[flag](spec))
