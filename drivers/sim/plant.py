"""The demo plant's gas controller: a real Modbus TCP server (modbus_server.py) in a child process, and a
thread that plays the plant by writing detector values into it with ordinary Modbus writes.

Channels (holding registers 0..7, uint16, value × 10): the demo config maps each to a point. Like a real
controller it also keeps one status word per channel (holding registers 8..15: bit 0 its own level 1, bit 1
its own level 2, bit 2 sensor fault), set from its own set-points (`CONTROLLER_SETPOINTS`), which are not the
appliance's: during a leak the board shows the controller's level beside the appliance's when they differ.
A channel whose sensor is faulted holds 0xFFFF with the fault bit set, as many controllers do. Without a
scenario the plant idles with a little noise; `gas-leak` loops a methane leak at the tank farm that rises
through the first level (25 %LEL) to the second (50 %LEL) and past the detector's full scale (130 %LEL, an
over-range alarm), stops, and clears, every 90 s.

Where socat is installed, two more field devices come on pseudo-terminal pairs, as they would on RS-485
and RS-232: a 2-channel Modbus RTU detector in the warehouse (O2, CO) and a detector at the loading dock
that prints `CH4,<value>,%LEL` lines.
"""
from __future__ import annotations

import logging
import math
import random
import subprocess
import sys
import threading
import time
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import serial

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
# the RS-485 Modbus RTU detector (static values × 10) and the line-printing detector
RTU_CHANNELS = [("GT-302", "仓库一氧化碳", "Warehouse CO", "CO", "ppm", "WH", 700, 560, 20)]
LINE_CHANNEL = ("GT-402", "装卸站台甲烷（串口）", "Loading dock CH4 (serial)", "CH4", "%LEL", "DOCK", 1420, 600)
PERIOD_S = 90
STATUS_BASE = 8  # the status word of channel i is holding register STATUS_BASE + i
FAULT_CODE = 0xFFFF  # what the controller writes in a channel's value register when its sensor is faulted
# The controller's own set-points per gas (level 1, level 2), as an installer sets them on the controller's
# front panel: tighter than the appliance's GB/T 50493-2019 defaults (25/50 %LEL), as plants often do, so
# the controller is in alarm first and the two opinions differ for a while. O2 alarms low (缺氧) at 19.5 and
# 18.0 %VOL, and at level 1 high (富氧) from 23.5 %VOL.
CONTROLLER_SETPOINTS: dict[str, tuple[float, float]] = {
    "CH4": (20, 40), "EX": (20, 40), "H2S": (10, 20), "CO": (25, 50), "NH3": (25, 50), "TEMP": (35, 45)}
O2_LOW, O2_HIGH = (19.5, 18.0), 23.5


def controller_level(gas: str, value: float) -> int:
    """The simulated controller's own alarm level (0, 1, 2) for a channel of `gas` reading `value`."""
    if gas == "O2":
        return 2 if value <= O2_LOW[1] else 1 if value <= O2_LOW[0] or value >= O2_HIGH else 0
    l1, l2 = CONTROLLER_SETPOINTS.get(gas, (math.inf, math.inf))
    return 2 if value >= l2 else 1 if value >= l1 else 0


def status_word(level: int, fault: bool = False) -> int:
    """A channel's status word: bit 0 level 1 (set at level 2 too, as controllers do), bit 1 level 2, bit 2
    sensor fault."""
    return (1 if level >= 1 else 0) | (2 if level >= 2 else 0) | (4 if fault else 0)


def leak_value(t: float) -> float | None:
    """%LEL of the leaking detector `t` seconds into the scenario's cycle, or None when it is idle."""
    t = t % PERIOD_S
    if t < 20:
        return None
    if t < 35:   # leak starts: through 25 %LEL (first level)
        return 2 + (t - 20) / 15 * 33
    if t < 45:   # worsens: through 50 %LEL (second level)
        return 35 + (t - 35) / 10 * 27
    if t < 52:   # a big release: past the detector's full scale (100 %LEL), an over-range alarm
        return 62 + (t - 45) / 7 * 68
    if t < 60:   # held past full scale
        return 130.0
    if t < 75:   # isolated: falls back
        return 130 - (t - 60) / 15 * 128
    return None


def _point(pid, name, name_en, gas, unit, area, x, y, extra="") -> str:
    return (f'[[points]]\nid = "{pid}"\nname = "{name}"\nname_en = "{name_en}"\ngas = "{gas}"\n'
            f'unit = "{unit}"\narea = "{area}"\nx = {x}\ny = {y}\n{extra}')


def field_devices_toml(rtu_port: str, line_port: str) -> str:
    """Points and buses for the RTU detector and the line-printing detector on their pty ends."""
    out = [_point(*c[:8], extra="range_high = 500\n") for c in RTU_CHANNELS]
    out.append(_point(*LINE_CHANNEL))
    regs = ", ".join(f'{{ point = "{c[0]}", address = {i}, type = "uint16", scale = 0.1 }}'
                     for i, c in enumerate(RTU_CHANNELS))
    out.append(f'[[buses]]\ntype = "modbus_rtu"\nname = "rs485-warehouse"\nserial_port = "{rtu_port}"\n'
               f'baudrate = 9600\ntimeout_s = 0.5\nretries = 1\npoll_interval_s = 2.0\n\n'
               f'[[buses.devices]]\nname = "wh-detector"\nunit = 1\nregisters = [{regs}]\n')
    out.append(f'[[buses]]\ntype = "serial_line"\nname = "dock-line-detector"\nport = "{line_port}"\n'
               f'baudrate = 9600\n\n[buses.parser]\nkind = "delimited"\nfields = ["channel", "value", "unit"]\n'
               f'channels = {{ CH4 = "{LINE_CHANNEL[0]}" }}\n')
    return "\n".join(out)


def points_toml(port: int, poll_s: float = 1.0) -> str:
    """The [[points]] and [[buses]] sections that read this controller."""
    out = []
    for pid, name, name_en, gas, unit, area, x, y, _ in CHANNELS:
        extra = {"O2": "range_high = 25\n", "TEMP": 'range_low = -20\nrange_high = 60\nthresholds = [{ level = 1, value = 35 }, { level = 2, value = 45 }]\n',
                 "H2S": "range_high = 50\n", "CO": "range_high = 500\n", "NH3": "range_high = 200\n"}.get(gas, "")
        out.append(f'[[points]]\nid = "{pid}"\nname = "{name}"\nname_en = "{name_en}"\ngas = "{gas}"\n'
                   f'unit = "{unit}"\narea = "{area}"\nx = {x}\ny = {y}\n{extra}')
    regs = ",\n".join(f'  {{ point = "{c[0]}", address = {i}, type = "uint16", scale = 0.1, '
                      f'fault_codes = [0x{FAULT_CODE:04X}] }}' for i, c in enumerate(CHANNELS))
    regs += ",\n" + ",\n".join(f'  {{ point = "{c[0]}", address = {STATUS_BASE + i}, bit = {bit}, role = "{role}" }}'
                               for i, c in enumerate(CHANNELS)
                               for bit, role in enumerate(("alarm1", "alarm2", "fault")))
    out.append(f'[[buses]]\ntype = "modbus_tcp"\nname = "gas-controller"\nhost = "127.0.0.1"\nport = {port}\n'
               f'timeout_s = 0.5\nretries = 1\npoll_interval_s = {poll_s}\n\n'
               f'[[buses.devices]]\nname = "8ch-controller"\nunit = 1\nregisters = [\n{regs},\n]\n')
    return "\n".join(out)


class Plant:
    """The simulated controller process and the thread that writes its values."""

    def __init__(self, port: int, scenario: str | None = None, step_s: float = 1.0, speed: float = 1.0,
                 pty_dir: str | None = None):
        self.port, self.scenario, self.step_s, self.speed = port, scenario, step_s, speed
        self.pty_dir = pty_dir
        self.field_ports: tuple[str, str] | None = None  # (RTU port, line port) for the appliance to open
        self._children: list[subprocess.Popen] = []
        self._line: serial.Serial | None = None
        self.proc: subprocess.Popen | None = None
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.started = time.monotonic()
        self.faulted: set[int] = set()  # channels whose sensor the controller reports faulted

    def start(self) -> Plant:
        self.proc = subprocess.Popen([sys.executable, "-m", "drivers.sim.modbus_server", "tcp", "127.0.0.1",
                                      str(self.port), "--ids", "1", "--registers", "16"],
                                     stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        stdout = self.proc.stdout
        assert stdout is not None  # started with stdout=PIPE
        line = stdout.readline()
        if line.strip() != "READY":
            raise RuntimeError(f"simulated gas controller did not start: {line!r}")
        threading.Thread(target=lambda: [None for _ in stdout], daemon=True).start()
        self._write_once()  # idle values are in place before anyone polls (0 %VOL O2 would alarm)
        if self.pty_dir:
            self._start_field_devices()
        self._thread = threading.Thread(target=self._run, name="sim-plant", daemon=True)
        self._thread.start()
        return self

    def _pty_pair(self, name: str) -> tuple[str, str]:
        import os
        from pathlib import Path

        assert self.pty_dir is not None  # only called when a pty_dir is set
        a, b = Path(self.pty_dir) / f"{name}-device", Path(self.pty_dir) / f"{name}-appliance"
        for p in (a, b):
            if p.is_symlink() or p.exists():
                p.unlink()
        self._children.append(subprocess.Popen(["socat", f"pty,raw,echo=0,link={a}", f"pty,raw,echo=0,link={b}"],
                                               stderr=subprocess.DEVNULL))
        for _ in range(200):
            if os.path.exists(a) and os.path.exists(b):
                return str(a), str(b)
            time.sleep(0.02)
        raise RuntimeError("socat did not create the pty pair")

    def _start_field_devices(self) -> None:
        import shutil

        if not shutil.which("socat"):
            log.warning("socat not installed: the demo runs without its RS-485 and serial-line detectors")
            return
        rtu_dev, rtu_app = self._pty_pair("rtu")
        values = ",".join(str(c[8]) for c in RTU_CHANNELS)
        rtu = subprocess.Popen([sys.executable, "-m", "drivers.sim.modbus_server", "rtu", rtu_dev, "9600",
                                "--ids", "1", "--registers", "8", "--values", values],
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        rtu_out = rtu.stdout
        assert rtu_out is not None  # started with stdout=PIPE
        if rtu_out.readline().strip() != "READY":
            raise RuntimeError("simulated RTU detector did not start")
        threading.Thread(target=lambda: [None for _ in rtu_out], daemon=True).start()
        self._children.append(rtu)
        line_dev, line_app = self._pty_pair("line")
        import serial

        self._line = serial.Serial(line_dev, 9600, timeout=1)
        self.field_ports = (rtu_app, line_app)

    def _write_line(self, t: float) -> None:
        if self._line is not None:
            v = 0.8 + 0.2 * math.sin(t / 5)
            self._line.write(f"CH4,{v:.1f},%LEL\r\n".encode("ascii"))

    def values(self, t: float) -> list[float]:
        vals = []
        for i, c in enumerate(CHANNELS):
            idle = c[8]
            v = idle + min(0.1 * idle + 0.05, 0.2) * math.sin(t / 7 + i) + random.uniform(-0.05, 0.05)
            if self.scenario == "gas-leak" and i == LEAK_POINT and (leak := leak_value(t)) is not None:
                v = leak
            vals.append(max(0.0, v))
        return vals

    def registers(self, values: list[float]) -> list[int]:
        """Holding registers 0..15 as the controller shows them: values × 10, then one status word each."""
        words = [FAULT_CODE if i in self.faulted else min(int(round(v * 10)), FAULT_CODE - 1)
                 for i, v in enumerate(values)]
        status = [status_word(0 if i in self.faulted else controller_level(CHANNELS[i][3], v), i in self.faulted)
                  for i, v in enumerate(values)]
        return words + status

    def _write_once(self) -> None:
        from pymodbus.client import ModbusTcpClient

        if getattr(self, "_client", None) is None:
            self._client = ModbusTcpClient("127.0.0.1", port=self.port, timeout=1, retries=0)
        c = self._client
        for _ in range(20):  # the server binds just after printing READY
            if c.connected or c.connect():
                t = (time.monotonic() - self.started) * self.speed
                c.write_registers(0, self.registers(self.values(t)), device_id=1)
                return
            time.sleep(0.1)
        raise RuntimeError("cannot reach the simulated gas controller")

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                self._write_once()
                self._write_line((time.monotonic() - self.started) * self.speed)
            except Exception as exc:  # the simulator must not die with a hiccup of its own server
                log.warning("simulated plant write failed", extra={"error": str(exc)})
            self._stop.wait(self.step_s / max(1.0, self.speed))
        self._client.close()

    def stop(self) -> None:
        self._stop.set()
        if self._thread:
            self._thread.join(3)
        if self._line is not None:
            self._line.close()
        for p in [self.proc, *reversed(self._children)]:
            if p and p.poll() is None:
                p.terminate()
                try:
                    p.wait(5)
                except subprocess.TimeoutExpired:
                    p.kill()
