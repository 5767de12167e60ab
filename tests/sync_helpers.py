"""Helpers for the sync tests: the reference receiver in a subprocess, endpoint config, and a TCP proxy
that cuts connections at random points (our own, so the cut points are the test's to choose)."""
from __future__ import annotations

import random
import socket
import threading
import time

import requests

from conftest import free_port, spawn_peer

SECRET = "test-secret-0123456789"


def start_receiver(data_dir, *extra: str, port: int | None = None, secret: str = SECRET):
    """`safety-appliance receiver` in a subprocess; returns (process, port)."""
    port = port or free_port()
    p = spawn_peer(["-m", "appliance", "receiver", "--port", str(port), "--data", str(data_dir), *extra]
                   + (["--secret", secret] if secret and "--mode" not in extra else []))
    return p, port


def endpoint_toml(url: str, name: str = "hq", secret: str = SECRET, **kw) -> str:
    opts = {"backoff_base_s": 0.05, "backoff_cap_s": 0.5, "probe_interval_s": 0.5, "timeout_s": 5, **kw}
    lines = [f'[[sync.endpoints]]\nname = "{name}"\ntype = "http-json"\nurl = "{url}"\nsecret = "{secret}"']
    for k, v in opts.items():
        lines.append(f"{k} = {v!r}" if not isinstance(v, list) else f"{k} = {v!r}".replace("'", '"'))
    return "\n".join(lines) + "\n"


def wait_for(fn, timeout: float = 30, what: str = "condition"):
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        last = fn()
        if last:
            return last
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what} (last: {last!r})")


def receiver_status(port: int) -> dict:
    return requests.get(f"http://127.0.0.1:{port}/v1/status", timeout=5).json()


def receiver_count(port: int, appliance: str) -> int:
    try:
        return receiver_status(port)["appliances"].get(appliance, {}).get("events", 0)
    except requests.RequestException:
        return -1


def verify(port: int, appliance: str) -> dict:
    return requests.get(f"http://127.0.0.1:{port}/v1/appliances/{appliance}/verify", timeout=30).json()


class ChaosProxy:
    """Forwards 127.0.0.1:port → upstream; with `cut` > 0, that share of connections is cut (closed with
    a reset) after a random number of bytes in either direction: mid-request or mid-answer."""

    def __init__(self, upstream_port: int, cut: float = 0.5, seed: int = 7, max_bytes: int = 6000):
        self.upstream = upstream_port
        self.cut = cut
        self.rng = random.Random(seed)
        self.max_bytes = max_bytes
        self.sock = socket.socket()
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(64)
        self.port = self.sock.getsockname()[1]
        self.cuts = 0
        self.stopped = False
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self):
        while not self.stopped:
            try:
                client, _ = self.sock.accept()
            except OSError:
                return
            budget = self.rng.randint(0, self.max_bytes) if self.rng.random() < self.cut else None
            threading.Thread(target=self._serve, args=(client, budget), daemon=True).start()

    def _serve(self, client, budget):
        try:
            upstream = socket.create_connection(("127.0.0.1", self.upstream), timeout=5)
        except OSError:
            client.close()
            return
        state = {"left": budget, "dead": False}
        lock = threading.Lock()

        def kill():
            with lock:
                if state["dead"]:
                    return
                state["dead"] = True
            for s in (client, upstream):
                try:
                    s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")
                    s.close()
                except OSError:
                    pass

        def pump(src, dst):
            try:
                while True:
                    data = src.recv(4096)
                    if not data:
                        break
                    with lock:
                        if state["left"] is not None:
                            if len(data) > state["left"]:
                                data = data[:state["left"]]
                                state["left"] = -1
                            else:
                                state["left"] -= len(data)
                    if data:
                        dst.sendall(data)
                    if state["left"] == -1:
                        self.cuts += 1
                        break
            except OSError:
                pass
            kill()

        threading.Thread(target=pump, args=(client, upstream), daemon=True).start()
        pump(upstream, client)

    def close(self):
        self.stopped = True
        self.sock.close()
