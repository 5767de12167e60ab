"""PC/SC badge readers driven by pcscd (ACR122U, ACR1252U, …): the only module that imports pyscard.

The reader is found by a substring of its PC/SC name (`"ACR122"` matches "ACS ACR122U PICC Interface 00
00"). The driver waits on `SCardGetStatusChange` (no busy polling; pcscd wakes it on a change), and when a
card arrives it connects and sends the PC/SC GET DATA pseudo-APDU `FF CA 00 00 00`, which the reader
answers with the card's UID. pcscd down, or the reader unplugged, is a fault with the reason; the driver
re-establishes its context and finds the reader again with back-off. A card that answers with an error
status word or a UID of the wrong length is logged and counted; it makes no tap.

pyscard is an optional dependency (`pip install safety-appliance[pcsc]`; it builds against Debian's
`libpcsclite-dev` and needs `pcscd` at run time). Without it the driver is left out with one log line.
"""
from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any, Literal

from pydantic import Field

from drivers.base import Tap, register
from drivers.reader import BadgeReader, MalformedRead, ReaderConfig, ReaderFault, uid_hex

log = logging.getLogger(__name__)

scard: Any = None
_MISSING: str | None = None


def _load() -> str | None:
    """Import pyscard (optional: only this module imports it) when a reader first needs it, not when the
    appliance starts (memory <= 150 MB, issue 14). The reason it cannot be had, or None."""
    global scard, _MISSING
    if scard is None and _MISSING is None:
        try:
            from smartcard import scard as pyscard
        except ImportError as exc:  # pragma: no cover - exercised on machines without pyscard
            _MISSING = f"pyscard is not installed ({exc}); pip install 'safety-appliance[pcsc]'"
        else:
            scard = pyscard
    return _MISSING

GET_UID = [0xFF, 0xCA, 0x00, 0x00, 0x00]
# status words a reader gives for GET DATA, to say what went wrong in the log
_SW = {0x6A81: "function not supported", 0x6282: "end of data reached before Le", 0x6700: "wrong length",
       0x6D00: "instruction not supported", 0x6E00: "class not supported", 0x6300: "operation failed"}


class PcscConfig(ReaderConfig):
    type: Literal["pcsc"]
    # a substring of the PC/SC reader name, compared without case; the first match in name order is used
    reader: str = Field(min_length=1, max_length=120)
    # how long one wait on pcscd lasts before the loop looks at stop(); a change wakes it at once
    wait_ms: int = Field(1000, ge=50, le=60000)


def parse_uid_response(resp: list[int] | bytes) -> str:
    """The answer to `FF CA 00 00 00` (data + SW1 SW2) → the UID as upper-case hex; `MalformedRead` for
    an error status word, a missing status word, or a UID that is not 4 to 10 bytes. Pure."""
    data = bytes(resp)
    if len(data) < 2:
        raise MalformedRead(f"answer of {len(data)} byte(s) to GET UID ({data.hex().upper() or 'empty'}); "
                            "no status word")
    sw = data[-2] << 8 | data[-1]
    if sw != 0x9000:
        why = _SW.get(sw, "error")
        raise MalformedRead(f"GET UID answered SW {sw:04X} ({why})")
    return uid_hex(data[:-2])


def pick_reader(names: list[str], wanted: str) -> str | None:
    """The first reader (in name order) whose name contains `wanted`, compared without case. Pure."""
    w = wanted.casefold()
    for name in sorted(names):
        if w in name.casefold():
            return name
    return None


def _err(hr: int) -> str:
    return f"{scard.SCardGetErrorMessage(hr).strip().rstrip('.')} (0x{hr & 0xFFFFFFFF:08X})"


@register
class PcscReader(BadgeReader):
    type_key = "pcsc"
    Config = PcscConfig
    config: PcscConfig

    def __init__(self, config: PcscConfig, sink: Callable[[Tap], None]):
        super().__init__(config, sink)
        self.ctx = None
        self.reader_name: str | None = None
        self._state = 0       # last dwEventState we know, given back to pcscd to wait for a change
        self._events = None   # pcscd's event counter for the reader (high 16 bits of the state)

    @classmethod
    def available(cls) -> str | None:
        return _load()

    def where(self) -> str:
        return self.reader_name or f"pcsc reader matching {self.config.reader!r}"

    def _open(self) -> None:
        if _load() is not None:
            raise ReaderFault(_MISSING)
        hr, ctx = scard.SCardEstablishContext(scard.SCARD_SCOPE_USER)
        if hr != scard.SCARD_S_SUCCESS:
            raise ReaderFault(f"pcscd: {_err(hr)}")
        self.ctx = ctx
        hr, names = scard.SCardListReaders(ctx, [])
        if hr not in (scard.SCARD_S_SUCCESS, scard.SCARD_E_NO_READERS_AVAILABLE):
            self._release()
            raise ReaderFault(f"pcscd: listing readers: {_err(hr)}")
        name = pick_reader(list(names or []), self.config.reader)
        if name is None:
            self._release()
            found = ", ".join(names or []) or "none"
            raise ReaderFault(f"no PC/SC reader matching {self.config.reader!r} (found: {found})")
        if name != self.reader_name:
            log.info("pcsc reader found", extra={"reader": self.config.name, "pcsc_name": name})
        self.reader_name = name
        self._state, self._events = scard.SCARD_STATE_UNAWARE, None

    def _release(self) -> None:
        ctx, self.ctx = self.ctx, None
        if ctx is not None:
            scard.SCardReleaseContext(ctx)

    def _close(self) -> None:
        self._release()

    def _interrupt(self) -> None:
        ctx = self.ctx
        if ctx is not None and scard is not None:
            scard.SCardCancel(ctx)

    def _watch(self) -> set[str] | None:
        hr, states = scard.SCardGetStatusChange(self.ctx, self.config.wait_ms, [(self.reader_name, self._state)])
        if hr in (scard.SCARD_E_TIMEOUT, scard.SCARD_E_CANCELLED):
            return None
        if hr in (scard.SCARD_E_UNKNOWN_READER, scard.SCARD_E_READER_UNAVAILABLE,
                  scard.SCARD_E_NO_READERS_AVAILABLE):
            raise ReaderFault(f"reader {self.reader_name!r} is gone (unplugged?): {_err(hr)}")
        if hr != scard.SCARD_S_SUCCESS:
            raise ReaderFault(f"pcscd: {_err(hr)}")
        _, state, _atr = states[0]
        if state & (scard.SCARD_STATE_UNKNOWN | scard.SCARD_STATE_UNAVAILABLE | scard.SCARD_STATE_IGNORE):
            raise ReaderFault(f"reader {self.reader_name!r} is gone (unplugged?)")
        events = state >> 16
        replaced = self._events is not None and events - self._events >= 2  # left and came back unseen
        self._events = events
        self._state = state & ~scard.SCARD_STATE_CHANGED
        if not state & scard.SCARD_STATE_PRESENT:
            return set()
        if replaced:
            self.observe(())
        if state & scard.SCARD_STATE_MUTE:
            raise MalformedRead("a card is on the reader but does not answer (mute)")
        uid = self._read_uid()
        return set() if uid is None else {uid}

    def _read_uid(self) -> str | None:
        hr, card, proto = scard.SCardConnect(self.ctx, self.reader_name, scard.SCARD_SHARE_SHARED,
                                             scard.SCARD_PROTOCOL_T0 | scard.SCARD_PROTOCOL_T1)
        if hr != scard.SCARD_S_SUCCESS:
            if hr in (scard.SCARD_W_REMOVED_CARD, scard.SCARD_E_NO_SMARTCARD):
                return None  # it left before we could read it; its next arrival is a tap
            if hr in (scard.SCARD_E_NO_SERVICE, scard.SCARD_E_SERVICE_STOPPED, scard.SCARD_F_COMM_ERROR):
                raise ReaderFault(f"pcscd: {_err(hr)}")
            raise MalformedRead(f"cannot connect to the card: {_err(hr)}")
        try:
            hr, resp = scard.SCardTransmit(card, proto, GET_UID)
            if hr != scard.SCARD_S_SUCCESS:
                raise MalformedRead(f"GET UID failed: {_err(hr)}")
            return parse_uid_response(resp)
        finally:
            scard.SCardDisconnect(card, scard.SCARD_LEAVE_CARD)
