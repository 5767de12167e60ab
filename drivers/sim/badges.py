"""Emulated badges tapping at emulated readers: the simulator the demo and the tests drive.

One `Badges` owns the emulator processes (one per kind, however many readers: each is ~20 MB) and pairs
each emulated reader with the reader config that reads it. Two kinds:

- `add_nfc(name)` — nfcpy's UDP frontend: `drivers/sim/nfc_tag.py` binds a free UDP port, read by
  an `nfc` reader with `path = "udp:127.0.0.1:PORT"`. Needs only the nfcpy package (no root, no daemon):
  this is what `make demo` uses. Badge UIDs of 4, 7 or 10 bytes (ISO 14443-A) or 8 bytes (FeliCa).
- `add_pcsc(name, vpcd_port)` — PC/SC: `drivers/sim/vpcd_card.py` inserts cards into
  pcscd's vpcd reader on `vpcd_port` (35963 is "Virtual PCD 00 00", 35964 "… 00 01"), read by a `pcsc`
  reader. Needs pcscd running (root) with Debian's vsmartcard-vpcd; tests start it.

    from drivers.sim.badges import Badges
    sim = Badges()
    cfg = sim.add_nfc("CP-TANK")          # the [[readers]] entry (a dict) to put in the appliance config
    ...start the appliance / the driver with cfg...
    sim.present("CP-TANK", "04A1B2C3D4E5F6")            # tap: on the reader 0.3 s, returns when it left
    sim.present("CP-TANK", "04A1B2C3D4E5F6", hold_s=5)  # held: still one tap
    sim.present("CP-TANK", "04A1B2C3D4E5F6", wait=False)  # queue it and return at once
    sim.close()

`present()` calls on one reader run one after another (a reader holds one card at a time); different
readers run in parallel. `toml()` renders the `[[readers]]` entries for a config file.
"""
from __future__ import annotations

import json
import socket
import subprocess
import sys
import threading
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def free_udp_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class SimulatorError(RuntimeError):
    """An emulator process did not start, died, or refused a command."""


class _Host:
    """One emulator process (`python -m drivers.sim.nfc_tag` or `…vpcd_card`) serving many slots; commands
    carry an id and are answered `OK ID` / `ERROR ID why` when they finish (see drivers/sim/slots.py)."""

    def __init__(self, module: str, ready_timeout: float = 15):
        self.module = module
        self.proc = subprocess.Popen([sys.executable, "-m", module], cwd=ROOT, stdin=subprocess.PIPE,
                                     stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, bufsize=1)
        self._lock = threading.Lock()
        self._next = 0
        self._done: dict[int, threading.Event] = {}
        self._errors: dict[int, str] = {}
        self._ok: set[int] = set()
        self._ended = False
        self.output: list[str] = []
        self._ready = threading.Event()
        self._reader = threading.Thread(target=self._read, daemon=True, name=f"sim-{module}")
        self._reader.start()
        if not self._ready.wait(ready_timeout):
            self.close()
            raise SimulatorError(f"{module} did not start: {''.join(self.output)[-500:]}")

    def _read(self) -> None:
        assert self.proc.stdout is not None  # started with stdout=PIPE
        for line in self.proc.stdout:
            words = line.split(maxsplit=2)
            if words == ["READY"]:
                self._ready.set()
            elif len(words) >= 2 and words[0] in ("OK", "ERROR") and words[1].isdigit():
                cid = int(words[1])
                with self._lock:
                    if words[0] == "ERROR":
                        self._errors[cid] = words[2].strip() if len(words) > 2 else "error"
                    else:
                        self._ok.add(cid)
                    ev = self._done.get(cid)
                if ev:
                    ev.set()
            else:
                self.output.append(line)
                del self.output[:-50]
        with self._lock:  # the process ended: nobody will answer the rest
            self._ended = True
            events = list(self._done.values())
        for ev in events:
            ev.set()

    def command(self, line: str, wait: bool = True, timeout: float = 60) -> int:
        """Send one command; with `wait`, block until it is answered (raising on ERROR). Returns its id."""
        with self._lock:
            if self._ended or self.proc.poll() is not None:
                raise SimulatorError(f"{self.module} has exited ({self.proc.poll()})")
            self._next += 1
            cid = self._next
            ev = self._done[cid] = threading.Event()
            assert self.proc.stdin is not None  # started with stdin=PIPE
            self.proc.stdin.write(f"{cid} {line}\n")
            self.proc.stdin.flush()
        if not wait:
            return cid
        if not ev.wait(timeout):
            raise SimulatorError(f"{line!r}: no answer within {timeout} s")
        with self._lock:
            self._done.pop(cid, None)
            err = self._errors.pop(cid, None)
            ok = cid in self._ok
            self._ok.discard(cid)
        if not ok:
            raise SimulatorError(f"{line!r}: {err or self.module + ' has exited'}")
        return cid

    def drain(self, ids: set[int] | None = None, timeout: float = 60) -> None:
        """Wait until every command sent so far (or those in `ids`) has been answered."""
        with self._lock:
            events = [(cid, ev) for cid, ev in self._done.items() if ids is None or cid in ids]
        for cid, ev in events:
            ev.wait(timeout)
            with self._lock:
                self._done.pop(cid, None)
                self._ok.discard(cid)
                self._errors.pop(cid, None)

    def close(self) -> None:
        if self.proc.poll() is None:
            try:
                assert self.proc.stdin is not None  # started with stdin=PIPE
                self.proc.stdin.write("quit\n")
                self.proc.stdin.flush()
                self.proc.wait(10)
            except (OSError, subprocess.TimeoutExpired):
                self.proc.terminate()
                try:
                    self.proc.wait(5)
                except subprocess.TimeoutExpired:
                    self.proc.kill()
                    self.proc.wait()
        # the process is gone: its output ends, the reader thread with it; then close our pipe ends
        self._reader.join(5)
        for pipe in (self.proc.stdin, self.proc.stdout):
            if pipe is not None and not pipe.closed:
                try:
                    pipe.close()
                except OSError:
                    pass


class Badges:
    """Emulated readers by name, and the emulator processes (one per kind) that present badges to them."""

    MODULES = {"nfc": "drivers.sim.nfc_tag", "pcsc": "drivers.sim.vpcd_card"}

    def __init__(self) -> None:
        self._hosts: dict[str, _Host] = {}
        self._slots: dict[str, tuple[str, int]] = {}   # reader name → (kind, port)
        self._queued: dict[str, set[int]] = {}          # reader name → ids of presents not waited for
        self.readers: dict[str, dict] = {}

    def _host(self, kind: str) -> _Host:
        if kind not in self._hosts:
            self._hosts[kind] = _Host(self.MODULES[kind])
        return self._hosts[kind]

    def _add(self, name: str, kind: str, port: int) -> None:
        if name in self._slots:
            raise ValueError(f"reader {name!r} is already emulated")
        self._host(kind).command(f"add {port}")
        self._slots[name] = (kind, port)

    def add_nfc(self, name: str, port: int | None = None, felica: bool = False, **reader_keys) -> dict:
        """An emulated NFC reader: binds its UDP port in the emulator; returns the reader's config entry.
        `felica=True` also polls 212F (8-byte UIDs), at up to 1 s more per tap over udp."""
        port = port or free_udp_port()
        self._add(name, "nfc", port)
        # over udp nfcpy waits 1 s for each technology nobody answers: poll only what is presented
        self.readers[name] = {"type": "nfc", "name": name, "path": f"udp:127.0.0.1:{port}",
                              "targets": ["106A", "212F"] if felica else ["106A"], **reader_keys}
        return self.readers[name]

    def add_pcsc(self, name: str, vpcd_port: int = 35963, reader: str | None = None, **reader_keys) -> dict:
        """An emulated PC/SC reader (pcscd + vpcd must be running): returns the reader's config entry."""
        self._add(name, "pcsc", vpcd_port)
        slot = vpcd_port - 35963 if 35963 <= vpcd_port <= 35964 else 0
        self.readers[name] = {"type": "pcsc", "name": name, "reader": reader or f"Virtual PCD 00 {slot:02d}",
                              **reader_keys}
        return self.readers[name]

    def _send(self, reader: str, line: str, wait: bool = True, timeout: float = 60) -> None:
        kind, port = self._slots[reader]
        verb, _, rest = line.partition(" ")
        cid = self._hosts[kind].command(f"{verb} {port} {rest}".strip(), wait=wait, timeout=timeout)
        if not wait:
            self._queued.setdefault(reader, set()).add(cid)

    def present(self, reader: str, uid: str, hold_s: float = 0.3, mode: str = "ok", wait: bool = True) -> None:
        """Put badge `uid` (hex) on `reader` for `hold_s` seconds, then take it away. With `wait` (the
        default) returns when the badge has left; otherwise queues it and returns at once. `mode` other
        than "ok" makes a bad card ("short", "garbage"; PC/SC also "error")."""
        self._send(reader, f"present {uid} {hold_s:g} {mode}", wait=wait, timeout=hold_s + 30)

    def insert(self, reader: str, uid: str, mode: str = "ok") -> None:
        """PC/SC only: put a badge on the reader and leave it there until `remove()`."""
        self._send(reader, f"insert {uid} {mode}")

    def remove(self, reader: str) -> None:
        self._send(reader, "remove")

    def drain(self, reader: str | None = None) -> None:
        """Wait until every queued `present(..., wait=False)` (at `reader`, or anywhere) has finished."""
        for name in [reader] if reader is not None else list(self._queued):
            ids = self._queued.pop(name, set())
            if ids and name in self._slots:
                self._hosts[self._slots[name][0]].drain(ids)

    def kill(self, kind: str = "nfc") -> None:
        """End the emulator process of `kind` abruptly (every badge it presents vanishes mid-read); its
        readers are forgotten and can be added again (same port) to a new process."""
        host = self._hosts.pop(kind)
        host.proc.kill()
        host.proc.wait()
        host.close()  # the process is gone: this only closes our pipe ends
        for name, (k, _) in list(self._slots.items()):
            if k == kind:
                del self._slots[name]
                self.readers.pop(name, None)
                self._queued.pop(name, None)

    def toml(self) -> str:
        """The `[[readers]]` entries, for an appliance config file."""
        out = []
        for r in self.readers.values():
            out.append("[[readers]]")
            for k, v in r.items():
                if isinstance(v, bool):
                    out.append(f"{k} = {'true' if v else 'false'}")
                elif isinstance(v, (int, float)):
                    out.append(f"{k} = {v}")
                else:
                    out.append(f"{k} = {json.dumps(v)}")
            out.append("")
        return "\n".join(out)

    def close(self) -> None:
        for host in self._hosts.values():
            host.close()
        self._hosts.clear()
        self._slots.clear()

    def __enter__(self) -> Badges:
        return self

    def __exit__(self, *exc) -> None:
        self.close()
