"""A virtual contactless card for the PC/SC stack: pcscd + vsmartcard-vpcd + this, no hardware.

Debian's `vsmartcard-vpcd` gives pcscd a reader ("Virtual PCD 00 00", "… 00 01") that listens on TCP
(35963, 35964 with its default /etc/reader.conf.d/vpcd); a card is "inserted" by connecting to that port
and "removed" by closing the connection. The vpcd wire format is a 2-byte big-endian length and a payload:
a 1-byte payload is a control (0 power off, 1 power on, 2 reset, 4 send the ATR); anything longer is an
APDU, answered with response data + SW1 SW2. Written from the protocol description in TESTING.md §4a
(Debian's own `vicc` crashes on `FF CA`). `TCP_QUICKACK` after every receive: vpcd writes the length and
the payload in two sends, and Nagle meets delayed ACK for ~40 ms per APDU otherwise.

The card answers the PC/SC GET DATA pseudo-APDU `FF CA 00 00 00` with its UID, or — to exercise a
reader's error handling — with a short UID (`mode="short"`), an error status word (`mode="error"`,
6A 81) or one byte of garbage (`mode="garbage"`).

One process serves the cards of any number of vpcd readers (what tests and the demo use, through
`drivers.sim.badges`; commands in `drivers/sim/slots.py`):

    python -m drivers.sim.vpcd_card
    READY
    1 add 35963
    2 present 35963 04A1B2C3D4E5F6 0.3    # insert, hold 0.3 s, remove; "OK 2" when done
    3 insert 35963 04A1B2C3D4E5F6 [mode]  # insert and leave it there; "OK 3" once vpcd has the card
    4 remove 35963
"""
from __future__ import annotations

import argparse
import socket
import struct
import threading
import time

from drivers.sim.slots import serve

# PC/SC part 3 ATR of a contactless storage card (MIFARE Classic 1K), as a reader builds it
ATR = bytes.fromhex("3B8F8001804F0CA000000306030001000000006A")
MODES = ("ok", "short", "error", "garbage")
DEFAULT_PORT = 35963


def answer(apdu: bytes, uid: bytes, mode: str = "ok") -> bytes:
    """The card's response (data + SW) to one APDU. Pure."""
    if apdu[:3] == b"\xFF\xCA\x00":                  # GET DATA: UID
        if mode == "error":
            return b"\x6A\x81"
        if mode == "garbage":
            return b"\x42"
        data = uid[:2] if mode == "short" else uid
        le = apdu[4] if len(apdu) > 4 else 0
        if le not in (0, len(data)):
            return b"\x6C" + bytes([len(data)])       # wrong Le: here is the right one
        return data + b"\x90\x00"
    if apdu[:2] == b"\xFF\xCA":                      # GET DATA for something else (ATS, …)
        return b"\x6A\x81"
    return b"\x6D\x00"                               # instruction not supported


class VpcdCard:
    """One virtual card slot: `insert()` connects to vpcd, `remove()` disconnects."""

    def __init__(self, port: int = DEFAULT_PORT, host: str = "127.0.0.1"):
        self.host, self.port = host, port
        self.apdus = 0
        self._sock: socket.socket | None = None
        self._thread: threading.Thread | None = None
        self._powered = threading.Event()

    @property
    def inserted(self) -> bool:
        return self._sock is not None

    def insert(self, uid_hex: str, mode: str = "ok", timeout: float = 5.0) -> None:
        """Put a card with `uid_hex` on the reader; returns once vpcd has asked it for its ATR."""
        if mode not in MODES:
            raise ValueError(f"mode must be one of {', '.join(MODES)}")
        self.remove()
        uid = bytes.fromhex(uid_hex)
        sock = socket.create_connection((self.host, self.port), timeout)
        sock.settimeout(None)
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self._sock = sock
        self._powered.clear()
        self._thread = threading.Thread(target=self._serve, args=(sock, uid, mode), daemon=True,
                                        name=f"vpcd-card-{self.port}")
        self._thread.start()
        self._powered.wait(timeout)

    def remove(self) -> None:
        sock, self._sock = self._sock, None
        if sock is not None:
            try:
                sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            sock.close()
        if self._thread is not None:
            self._thread.join(5)
            self._thread = None

    def present(self, uid_hex: str, hold_s: float = 0.3, mode: str = "ok") -> None:
        """Insert, hold `hold_s` seconds, remove."""
        self.insert(uid_hex, mode)
        time.sleep(hold_s)
        self.remove()

    close = remove

    def _serve(self, sock: socket.socket, uid: bytes, mode: str) -> None:
        def recv_exact(n: int) -> bytes:
            buf = b""
            while len(buf) < n:
                chunk = sock.recv(n - len(buf))
                if not chunk:
                    raise ConnectionError("vpcd closed the connection")
                sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_QUICKACK, 1)
                buf += chunk
            return buf

        def send(payload: bytes) -> None:
            sock.sendall(struct.pack("!H", len(payload)) + payload)

        try:
            while True:
                (size,) = struct.unpack("!H", recv_exact(2))
                msg = recv_exact(size)
                if size == 1:
                    if msg[0] == 4:
                        send(ATR)
                        self._powered.set()
                    continue
                self.apdus += 1
                send(answer(msg, uid, mode))
        except (ConnectionError, OSError):
            pass
        finally:
            self._powered.set()


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description="Virtual cards for pcscd's vpcd readers, driven on stdin "
                                             "(see drivers/sim/slots.py for the commands).")
    ap.add_argument("--host", default="127.0.0.1")
    a = ap.parse_args(argv)
    serve(lambda port: VpcdCard(port, a.host))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
