"""NFC badge readers through nfcpy (Sony RC-S380, PN533/PN532-based readers, …): the only module that
imports nfc.

`path` is nfcpy's device path: `usb` (the first supported USB reader), `usb:054c:06c3` (vendor:product),
`usb:001:009` (bus:device), `tty:USB0:pn532` (a serial reader), or `udp:HOST:PORT`, nfcpy's software
frontend that tests and the demo use with an emulated tag (`drivers/sim/nfc_tag.py`). nfcpy advises
against the ACR122U; drive that one through PC/SC (`drivers/pcsc.py`).

The driver polls: every `poll_interval_s` it senses for the configured technologies once. The UID is
taken from the sense answer itself — SDD_RES for 106A (ISO 14443-A: MIFARE, NTAG), the IDm in SENSF_RES
for 212F/424F (FeliCa), the PUPI in SENSB_RES for 106B, the RID for a Type 1 tag — which are the same
bytes as nfcpy's `tag.identifier`, without activating the tag: activation probes tag types with extra
commands (an NXP tag gets AUTHENTICATE and GET_VERSION), slower and one more way for a read to fail,
and a badge needs only its UID. A card still there at the next poll is the same card (see `Debounce`).
A USB reader unplugged shows as an I/O error: a fault with the reason, reopened with back-off.

Over `udp:` each sense of a technology with no card answering waits nfcpy's fixed 1 s receive timeout, so
an empty poll takes 1 s per configured technology: list only the ones the emulator presents (106A).
"""
from __future__ import annotations

import logging
import re
import time
from collections.abc import Callable
from typing import Any, Literal

from pydantic import Field, field_validator

from drivers.base import Tap, register
from drivers.reader import BadgeReader, MalformedRead, ReaderConfig, ReaderFault, uid_hex

log = logging.getLogger(__name__)

nfc: Any = None
_MISSING: str | None = None


def _load() -> str | None:
    """Import nfcpy (optional: only this module imports it) when a reader first needs it, not when the appliance
    starts: ~9 MB of an appliance without an NFC reader (memory <= 150 MB, issue 14). The reason it cannot be
    had, or None."""
    global nfc, _MISSING
    if nfc is None and _MISSING is None:
        try:
            import nfc as nfcpy
            import nfc.clf  # noqa: F401  (nfcpy's submodule, reached as nfc.clf)
        except ImportError as exc:  # pragma: no cover - exercised on machines without nfcpy
            _MISSING = f"nfcpy is not installed ({exc}); pip install 'safety-appliance[nfc]'"
        else:
            nfc = nfcpy
    return _MISSING

Technology = Literal["106A", "106B", "212F", "424F"]
_PATH = re.compile(r"^(usb(:[0-9A-Fa-f]{1,4}(:[0-9A-Fa-f]{1,4})?)?|tty:[A-Za-z0-9_]+(:[a-z0-9]+)?|udp(:[A-Za-z0-9_.-]+(:\d{1,5})?)?)$")


def _default_targets() -> list[Technology]:
    return ["106A", "106B", "212F"]


class NfcConfig(ReaderConfig):
    type: Literal["nfc"]
    path: str = "usb"
    targets: list[Technology] = Field(default_factory=_default_targets, min_length=1)
    poll_interval_s: float = Field(0.1, ge=0.02, le=10)

    @field_validator("path")
    @classmethod
    def _nfcpy_path(cls, v: str) -> str:
        if not _PATH.match(v):
            raise ValueError(f"{v!r} is not an nfcpy device path (usb, usb:VID:PID, usb:BUS:DEV, "
                             "tty:PORT:DRIVER, udp:HOST:PORT)")
        return v


def uid_from_target(target) -> str:
    """A sensed target (nfcpy RemoteTarget, or anything with the same attributes) → the card UID as
    upper-case hex, the bytes nfcpy's `tag.identifier` would give; `MalformedRead` if it has none. Pure."""
    rid_res = getattr(target, "rid_res", None)
    sdd_res = getattr(target, "sdd_res", None)
    sensf_res = getattr(target, "sensf_res", None)
    sensb_res = getattr(target, "sensb_res", None)
    if rid_res is not None:                   # Type 1 (Topaz): HR0 HR1 UID0..3
        if len(rid_res) < 6:
            raise MalformedRead(f"RID_RES of {len(rid_res)} bytes")
        return uid_hex(rid_res[2:6])
    if sdd_res is not None:                   # 106A: the UID from anticollision
        return uid_hex(sdd_res)
    if sensf_res is not None:                 # 212F/424F: 01 IDm(8) PMm(8) [SC]
        if len(sensf_res) < 17:
            raise MalformedRead(f"SENSF_RES of {len(sensf_res)} bytes")
        return uid_hex(sensf_res[1:9])
    if sensb_res is not None:                 # 106B: 50 PUPI(4) …
        if len(sensb_res) < 5:
            raise MalformedRead(f"SENSB_RES of {len(sensb_res)} bytes")
        return uid_hex(sensb_res[1:5])
    raise MalformedRead(f"sensed target without a UID: {target}")


@register
class NfcReader(BadgeReader):
    type_key = "nfc"
    Config = NfcConfig
    config: NfcConfig

    def __init__(self, config: NfcConfig, sink: Callable[[Tap], None]):
        super().__init__(config, sink)
        self.clf: Any = None  # an nfc.ContactlessFrontend once open (nfcpy has no type information)
        self.device: str | None = None
        self._targets: list[Any] = []  # nfc.clf.RemoteTarget
        self._next_poll = 0.0

    @classmethod
    def available(cls) -> str | None:
        return _load()

    def where(self) -> str:
        return f"{self.config.path} ({self.device})" if self.device else self.config.path

    def _open(self) -> None:
        if _load() is not None:
            raise ReaderFault(_MISSING)
        clf = nfc.ContactlessFrontend()
        try:
            opened = clf.open(self.config.path)
        except (OSError, ValueError) as exc:
            raise ReaderFault(f"cannot open NFC reader {self.config.path}: {exc}") from None
        if not opened:
            raise ReaderFault(f"no NFC reader at {self.config.path}")
        self.clf = clf
        self.device = str(clf.device)
        self._targets = [nfc.clf.RemoteTarget(t) for t in self.config.targets]
        log.info("nfc reader opened", extra={"reader": self.config.name, "device": self.device})

    def _close(self) -> None:
        clf, self.clf = self.clf, None
        if clf is not None:
            clf.close()

    def _watch(self) -> set[str] | None:
        delay = self._next_poll - time.monotonic()
        if delay > 0 and self._stop.wait(delay):
            return None
        self._next_poll = time.monotonic() + self.config.poll_interval_s
        try:
            target = self.clf.sense(*self._targets, iterations=1)
        except nfc.clf.UnsupportedTargetError as exc:
            raise ReaderFault(f"reader cannot sense {', '.join(self.config.targets)}: {exc}") from None
        except OSError as exc:  # USB unplugged, serial port gone, the device closed
            raise ReaderFault(f"NFC reader {self.config.path}: {exc}") from None
        except (ValueError, TypeError, IndexError, nfc.clf.CommunicationError) as exc:
            # nfcpy parses what the card sent inside sense(); garbage escapes as these
            raise MalformedRead(f"garbled answer from a card: {exc.__class__.__name__}: {exc}") from None
        if target is None:
            return set()
        return {uid_from_target(target)}
