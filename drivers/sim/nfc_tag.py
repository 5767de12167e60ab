"""An emulated NFC badge on nfcpy's UDP frontend: the card side of a `udp:HOST:PORT` reader.

nfcpy's `udp` driver carries NFC frames as datagrams (`"106A 26"`); the card side binds the port and
answers the reader's polls. This emulator presents a badge with a given UID for a given time, using
nfcpy's own listen machinery (`ContactlessFrontend.listen`), then goes quiet (the card has left):

- an 8-byte UID is presented as a FeliCa card (212F; the UID is its IDm),
- a 4-, 7- or 10-byte UID as an ISO 14443-A card (106A; the UID answers anticollision, single, double or
  triple size, as MIFARE Classic / NTAG badges do).

To exercise a reader's error handling: `mode="short"` presents a 106A card whose anticollision gives a
2-byte UID (plus its check byte), `mode="garbage"` answers every poll with a datagram that is not hex.
From TESTING.md §4b (upstream nfcpy `examples/tagtool.py` emulation, here without a tag memory: a badge
reader needs only the UID).

A presentation lasts `hold_s` plus at most 0.5 s (nfcpy's listen waits in steps of at least 0.5 s);
`present()` returns when the card has gone. One process emulates the badges of any number of readers
(what tests and the demo use, through `drivers.sim.badges`; commands in `drivers/sim/slots.py`):

    python -m drivers.sim.nfc_tag
    READY
    1 add 54321
    OK 1
    2 present 54321 04A1B2C3D4E5F6 0.3 [mode]
    OK 2                                  # when the card has left
"""
from __future__ import annotations

import argparse
import logging
import select
import time

import nfc
import nfc.clf

from drivers.sim.slots import serve

MODES = ("ok", "short", "garbage")
PMM = bytes.fromhex("03014B024F4993FF")   # FeliCa Standard (RC-S915) parameters, as in TESTING.md
SYSTEM_CODE = bytes.fromhex("12FC")       # NDEF


def local_target(uid: bytes, mode: str = "ok"):
    """The nfcpy LocalTarget that presents `uid` (see the module docstring for the technology chosen)."""
    if mode == "short":
        uid = uid[:2]
        return nfc.clf.LocalTarget("106A", sens_res=bytearray.fromhex("0400"), sdd_res=bytearray(uid),
                                   sel_res=bytearray.fromhex("00"))
    if len(uid) == 8:
        return nfc.clf.LocalTarget("212F", sensf_res=bytearray(b"\x01" + uid + PMM + SYSTEM_CODE))
    if len(uid) in (4, 7, 10):
        # ATQA: UID size in bits 7-8 of the first byte (single 00, double 01, triple 10)
        atqa = {4: "0400", 7: "4400", 10: "8400"}[len(uid)]
        sak = "08" if len(uid) == 4 else "00"      # MIFARE Classic 1K / NTAG (Type 2)
        return nfc.clf.LocalTarget("106A", sens_res=bytearray.fromhex(atqa), sdd_res=bytearray(uid),
                                   sel_res=bytearray.fromhex(sak))
    raise ValueError(f"a {len(uid)}-byte UID cannot be emulated: use 8 bytes (FeliCa) or 4, 7, 10 (ISO 14443-A)")


class NfcTagEmulator:
    """The card side of one `udp:HOST:PORT` reader.

    The port stays bound for the emulator's life (nfcpy's own `listen()` would rebind it per call, and a
    reader's poll that arrives while nothing is bound is lost: nfcpy's reader then waits its full 1 s
    receive timeout). Polls that arrive while no card is presented wait in the socket; when a card is
    presented, the latest one of its technology is answered at once (the reader may still be waiting on
    it) and nfcpy's UDP device answers the rest of the exchange. This uses the UDP device's
    `_listen_tta`/`_listen_ttf`, which take that first datagram as `init` (nfcpy 1.0.x)."""

    def __init__(self, port: int, host: str = "127.0.0.1"):
        self.host, self.port = host, port
        self.clf = nfc.ContactlessFrontend(f"udp:{host}:{port}")
        self.dev = self.clf.device
        self.dev._create_socket()
        if not self.dev._bind_socket(time.time() + 5):
            self.clf.close()
            raise OSError(f"UDP port {port} is in use")
        self.presented = 0

    def close(self) -> None:
        self.clf.close()

    def _drain(self, brty: str):
        """Read every queued datagram; the last poll for `brty` as (brty, data, addr), or None."""
        last = None
        sock = self.dev.socket
        while select.select([sock], [], [], 0)[0]:
            raw, addr = sock.recvfrom(1024)
            parts = raw.split()
            if len(parts) == 2 and parts[0].decode("latin-1") == brty:
                try:
                    last = (brty, bytearray(bytes.fromhex(parts[1].decode("ascii"))), addr)
                except ValueError:
                    continue
        return last

    def present(self, uid_hex: str, hold_s: float = 0.3, mode: str = "ok") -> None:
        """Answer the reader as a card with `uid_hex` for `hold_s` seconds, then leave."""
        if mode not in MODES:
            raise ValueError(f"mode must be one of {', '.join(MODES)}")
        uid = bytes.fromhex(uid_hex)
        deadline = time.time() + hold_s
        if mode == "garbage":
            self._garbage(deadline)
        else:
            target = local_target(uid, mode)
            listen = self.dev._listen_ttf if target.brty.endswith("F") else self.dev._listen_tta
            init = self._drain(target.brty)
            while time.time() < deadline:
                # returns None at the deadline; earlier only if a reader went on to send a tag command
                # (it activated the tag), after which the card keeps answering polls until the deadline
                try:
                    listen(target, deadline, init=init)
                except nfc.clf.CommunicationError:
                    pass
                init = None
        self.presented += 1

    def _garbage(self, deadline: float) -> None:
        sock = self.dev.socket
        while (left := deadline - time.time()) > 0:
            if not select.select([sock], [], [], left)[0]:
                break
            data, addr = sock.recvfrom(1024)
            if data.split() and not data.startswith(b"RFOFF"):
                sock.sendto(data.split()[0] + b" zz!", addr)  # the right technology, data not hex


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description="Emulated NFC badges on nfcpy's udp frontend, driven on stdin "
                                             "(see drivers/sim/slots.py for the commands).")
    ap.add_argument("--host", default="127.0.0.1")
    a = ap.parse_args(argv)
    logging.basicConfig(level=logging.WARNING)
    serve(lambda port: NfcTagEmulator(port, a.host))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
