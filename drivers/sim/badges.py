"""Emulated badges tapping at emulated readers: the simulator the demo and the tests drive.

One `Badges` owns one emulator process per emulated reader and pairs each with the reader config that
reads it. Two kinds:

- `add_nfc(name)` — nfcpy's UDP frontend: a `drivers/sim/nfc_tag.py` process on a free UDP port, read by
  an `nfc` reader with `path = "udp:127.0.0.1:PORT"`. Needs only the nfcpy package (no root, no daemon):
  this is what `make demo` uses. Badge UIDs of 4, 7 or 10 bytes (ISO 14443-A) or 8 bytes (FeliCa).
- `add_pcsc(name, vpcd_port)` — PC/SC: a `drivers/sim/vpcd_card.py` process that inserts cards into
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


class _Emulator:
    """One emulator process driven by lines on its stdin; it answers each with OK or ERROR."""

    def __init__(self, args: list[str], ready_timeout: float = 15):
        self.args = args
        self.proc = subprocess.Popen([sys.executable, "-m", *args], cwd=ROOT, stdin=subprocess.PIPE,
                                     stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, bufsize=1)
        self._cv = threading.Condition()
        self._sent = 0
        self._answered = 0
        self.errors: list[str] = []
        self.output: list[str] = []
        self._ready = threading.Event()
        self._reader = threading.Thread(target=self._read, daemon=True, name=f"sim-{args[0]}")
        self._reader.start()
        if not self._ready.wait(ready_timeout):
            self.close()
            raise SimulatorError(f"{' '.join(args)} did not start: {''.join(self.output)[-500:]}")

    def _read(self) -> None:
        for line in self.proc.stdout:
            word = line.strip()
            if word == "READY":
                self._ready.set()
            elif word == "OK" or word.startswith("ERROR"):
                with self._cv:
                    self._answered += 1
                    if word.startswith("ERROR"):
                        self.errors.append(word)
                    self._cv.notify_all()
            else:
                self.output.append(line)
                del self.output[:-50]
        with self._cv:  # the process ended: nobody will answer the rest
            self._answered = 1 << 62
            self._cv.notify_all()

    def command(self, line: str, wait: bool = True, timeout: float = 60) -> None:
        if self.proc.poll() is not None:
            raise SimulatorError(f"{' '.join(self.args)} has exited ({self.proc.returncode})")
        with self._cv:
            self._sent += 1
            ticket = self._sent
            errors_before = len(self.errors)
            self.proc.stdin.write(line + "\n")
            self.proc.stdin.flush()
            if not wait:
                return
            if not self._cv.wait_for(lambda: self._answered >= ticket, timeout):
                raise SimulatorError(f"{line!r}: no answer within {timeout} s")
            if len(self.errors) > errors_before:
                raise SimulatorError(f"{line!r}: {self.errors[-1]}")

    def drain(self, timeout: float = 60) -> None:
        """Wait until every queued command has been answered."""
        with self._cv:
            self._cv.wait_for(lambda: self._answered >= self._sent, timeout)

    def close(self) -> None:
        if self.proc.poll() is None:
            try:
                self.proc.stdin.write("quit\n")
                self.proc.stdin.flush()
                self.proc.wait(3)
            except (OSError, subprocess.TimeoutExpired):
                self.proc.terminate()
                try:
                    self.proc.wait(5)
                except subprocess.TimeoutExpired:
                    self.proc.kill()
                    self.proc.wait()


class Badges:
    """Emulated readers by name, each with the process that presents badges to it."""

    def __init__(self):
        self._emulators: dict[str, _Emulator] = {}
        self.readers: dict[str, dict] = {}

    def add_nfc(self, name: str, port: int | None = None, **reader_keys) -> dict:
        """An emulated NFC reader: starts the tag emulator; returns the reader's config entry."""
        port = port or free_udp_port()
        self._add(name, ["drivers.sim.nfc_tag", "--port", str(port)])
        # one technology: over udp nfcpy waits 1 s for each technology nobody answers
        self.readers[name] = {"type": "nfc", "name": name, "path": f"udp:127.0.0.1:{port}", "targets": ["106A", "212F"]
                              if reader_keys.pop("felica", False) else ["106A"], **reader_keys}
        return self.readers[name]

    def add_pcsc(self, name: str, vpcd_port: int = 35963, reader: str | None = None, **reader_keys) -> dict:
        """An emulated PC/SC reader (pcscd + vpcd must be running): returns the reader's config entry."""
        self._add(name, ["drivers.sim.vpcd_card", "--port", str(vpcd_port)])
        slot = vpcd_port - 35963 if 35963 <= vpcd_port <= 35964 else 0
        self.readers[name] = {"type": "pcsc", "name": name, "reader": reader or f"Virtual PCD 00 {slot:02d}",
                              **reader_keys}
        return self.readers[name]

    def _add(self, name: str, args: list[str]) -> None:
        if name in self._emulators:
            raise ValueError(f"reader {name!r} is already emulated")
        self._emulators[name] = _Emulator(args)

    def present(self, reader: str, uid: str, hold_s: float = 0.3, mode: str = "ok", wait: bool = True) -> None:
        """Put badge `uid` (hex) on `reader` for `hold_s` seconds, then take it away. With `wait` (the
        default) returns when the badge has left; otherwise queues it and returns at once. `mode` other
        than "ok" makes a bad card ("short", "garbage"; PC/SC also "error")."""
        self._emulators[reader].command(f"present {uid} {hold_s:g} {mode}", wait=wait,
                                        timeout=hold_s + 30)

    def insert(self, reader: str, uid: str, mode: str = "ok") -> None:
        """PC/SC only: put a badge on the reader and leave it there until `remove()`."""
        self._emulators[reader].command(f"insert {uid} {mode}")

    def remove(self, reader: str) -> None:
        self._emulators[reader].command("remove")

    def drain(self, reader: str | None = None) -> None:
        """Wait until every queued `present(..., wait=False)` has finished."""
        for name, em in self._emulators.items():
            if reader in (None, name):
                em.drain()

    def kill(self, reader: str) -> None:
        """End `reader`'s emulator process abruptly (a badge that vanishes mid-read)."""
        em = self._emulators.pop(reader)
        em.proc.kill()
        em.proc.wait()

    def toml(self) -> str:
        """The `[[readers]]` entries, for an appliance config file."""
        out = []
        for r in self.readers.values():
            out.append("[[readers]]")
            for k, v in r.items():
                if isinstance(v, str):
                    out.append(f'{k} = "{v}"')
                elif isinstance(v, bool):
                    out.append(f"{k} = {'true' if v else 'false'}")
                elif isinstance(v, list):
                    out.append(f"{k} = [{', '.join(repr(x) if not isinstance(x, str) else chr(34) + x + chr(34) for x in v)}]")
                else:
                    out.append(f"{k} = {v}")
            out.append("")
        return "\n".join(out)

    def close(self) -> None:
        for em in self._emulators.values():
            em.close()
        self._emulators.clear()

    def __enter__(self) -> "Badges":
        return self

    def __exit__(self, *exc) -> None:
        self.close()
