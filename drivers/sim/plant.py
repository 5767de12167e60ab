"""The demo plant's gas controller: a real Modbus TCP server (modbus_server.py) in a child process, and a
thread that plays the plant by writing detector values into it with ordinary Modbus writes.

Channels (holding registers 0..7, uint16, value × 10): the demo config maps each to a point. Without a
scenario the plant idles with a little noise; `gas-leak` loops a methane leak at the tank farm that rises
through the first level (25 %LEL) to the second (50 %LEL), stops, and clears, every 90 s.
"""
from __future__ import annotations

import logging
import math
import random
import subprocess
import sys
import threading
import time

log = logging.getLogger(__name__)

# (point id, name, name_en, gas, unit, area, x, y, idle value)
CHANNELS = [
    ("GT-101", "储罐区甲烷", "Tank farm CH4", "CH4", "%LEL", "TANK", 520, 230, 1.0),
    ("GT-102", "储罐区硫化氢", "Tank farm H2S", "H2S", "ppm", "TANK", 760, 320, 0.5),
    ("GT-201", "反应釜可燃气", "Reactor EX", "EX", "%LEL", "REACT", 1110, 200, 0.8),
    ("GT-202", "反应车间一氧化碳", "Reactor CO", "CO", "ppm", "REACT", 1420, 320, 3.0),
    ("GT-203", "反应车间氨", "Reactor NH3", "NH3", "ppm", "REACT", 1250, 330, 2.0),
    ("GT-301", "仓库氧含量", "Warehouse O2", "O2", "%VOL", "WH", 590, 720, 20.9),
    ("GT-401", "装卸站台可燃气", "Loading dock EX", "EX", "%LEL", "DOCK", 1220, 700, 0.5),
    ("TT-501", "中控室温度", "Control room temp.", "TEMP", "°C", "CTRL", 170, 300, 23.5),
]
LEAK_POINT = 0  # GT-101
PERIOD_S = 90


def leak_value(t: float) -> float | None:
    """%LEL of the leaking detector `t` seconds into the scenario's cycle, or None when it is idle."""
    t = t % PERIOD_S
    if t < 20:
        return None
    if t < 35:   # leak starts: through 25 %LEL (first level)
        return 2 + (t - 20) / 15 * 33
    if t < 50:   # worsens: through 50 %LEL (second level)
        return 35 + (t - 35) / 15 * 27
    if t < 65:   # isolated: falls back
        return 62 - (t - 50) / 15 * 60
    return None


def points_toml(port: int, poll_s: float = 1.0) -> str:
    """The [[points]] and [[buses]] sections that read this controller."""
    out = []
    for pid, name, name_en, gas, unit, area, x, y, _ in CHANNELS:
        extra = {"O2": "range_high = 25\n", "TEMP": 'range_low = -20\nrange_high = 60\nthresholds = [{ level = 1, value = 35 }, { level = 2, value = 45 }]\n',
                 "H2S": "range_high = 50\n", "CO": "range_high = 500\n", "NH3": "range_high = 200\n"}.get(gas, "")
        out.append(f'[[points]]\nid = "{pid}"\nname = "{name}"\nname_en = "{name_en}"\ngas = "{gas}"\n'
                   f'unit = "{unit}"\narea = "{area}"\nx = {x}\ny = {y}\n{extra}')
    regs = ",\n".join(f'  {{ point = "{c[0]}", address = {i}, type = "uint16", scale = 0.1 }}'
                      for i, c in enumerate(CHANNELS))
    out.append(f'[[buses]]\ntype = "modbus_tcp"\nname = "gas-controller"\nhost = "127.0.0.1"\nport = {port}\n'
               f'timeout_s = 0.5\nretries = 1\npoll_interval_s = {poll_s}\n\n'
               f'[[buses.devices]]\nname = "8ch-controller"\nunit = 1\nregisters = [\n{regs},\n]\n')
    return "\n".join(out)


class Plant:
    """The simulated controller process and the thread that writes its values."""

    def __init__(self, port: int, scenario: str | None = None, step_s: float = 1.0, speed: float = 1.0):
        self.port, self.scenario, self.step_s, self.speed = port, scenario, step_s, speed
        self.proc: subprocess.Popen | None = None
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.started = time.monotonic()

    def start(self) -> "Plant":
        self.proc = subprocess.Popen([sys.executable, "-m", "drivers.sim.modbus_server", "tcp", "127.0.0.1",
                                      str(self.port), "--ids", "1", "--registers", "16"],
                                     stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        line = self.proc.stdout.readline()
        if line.strip() != "READY":
            raise RuntimeError(f"simulated gas controller did not start: {line!r}")
        threading.Thread(target=lambda: [None for _ in self.proc.stdout], daemon=True).start()
        self._write_once()  # idle values are in place before anyone polls (0 %VOL O2 would alarm)
        self._thread = threading.Thread(target=self._run, name="sim-plant", daemon=True)
        self._thread.start()
        return self

    def values(self, t: float) -> list[float]:
        vals = []
        for i, c in enumerate(CHANNELS):
            idle = c[8]
            v = idle + min(0.1 * idle + 0.05, 0.2) * math.sin(t / 7 + i) + random.uniform(-0.05, 0.05)
            if self.scenario == "gas-leak" and i == LEAK_POINT and leak_value(t) is not None:
                v = leak_value(t)
            vals.append(max(0.0, v))
        return vals

    def _write_once(self) -> None:
        from pymodbus.client import ModbusTcpClient

        if getattr(self, "_client", None) is None:
            self._client = ModbusTcpClient("127.0.0.1", port=self.port, timeout=1, retries=0)
        c = self._client
        for _ in range(20):  # the server binds just after printing READY
            if c.connected or c.connect():
                t = (time.monotonic() - self.started) * self.speed
                c.write_registers(0, [int(round(v * 10)) for v in self.values(t)], device_id=1)
                return
            time.sleep(0.1)
        raise RuntimeError("cannot reach the simulated gas controller")

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                self._write_once()
            except Exception as exc:  # the simulator must not die with a hiccup of its own server
                log.warning("simulated plant write failed", extra={"error": str(exc)})
            self._stop.wait(self.step_s / max(1.0, self.speed))
        self._client.close()

    def stop(self) -> None:
        self._stop.set()
        if self._thread:
            self._thread.join(3)
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
