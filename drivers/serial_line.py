"""Detectors that print ASCII lines on a serial port (e.g. `CH4,12.5,%LEL`): the only module that opens
serial ports for line protocols (pyserial).

The parser is configured per port: delimited fields or a regular expression with named groups, and an
optional checksum. Parsing is a pure function (`parse_line`), tested with tables. Garbage and partial lines
are counted and skipped; an unplugged port is a fault with the reason and is reopened with back-off.
"""
from __future__ import annotations

import logging
import re
import threading
from collections.abc import Callable
from typing import TYPE_CHECKING, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from drivers.base import DeviceState, Driver, DriverConfig, Reading, now_ms, register

if TYPE_CHECKING:
    import serial

log = logging.getLogger(__name__)


class LineError(ValueError):
    """A line that is not a reading (garbage, a bad checksum, an unknown channel)."""


class ParserConfig(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    kind: Literal["delimited", "regex"] = "delimited"
    delimiter: str = Field(",", min_length=1, max_length=3)
    # delimited: the meaning of each field by position; "channel" and "value" are required, others ignored
    fields: list[str] = Field(default_factory=lambda: ["channel", "value", "unit"])
    # regex: named groups (?P<channel>…) and (?P<value>…)
    pattern: str | None = None
    # "xor": NMEA style, `…*HH` with HH the XOR of every byte before `*`; "sum8": `…*HH`, the sum mod 256
    checksum: Literal["none", "xor", "sum8"] = "none"
    # channel text in the line → point id
    channels: dict[str, str] = Field(min_length=1)

    @model_validator(mode="after")
    def _complete(self):
        if self.kind == "delimited" and not {"channel", "value"} <= set(self.fields):
            raise ValueError("fields: a delimited parser needs a 'channel' and a 'value' field")
        if self.kind == "regex":
            if not self.pattern:
                raise ValueError("pattern: a regex parser needs a pattern")
            try:
                groups = re.compile(self.pattern).groupindex
            except re.error as exc:
                raise ValueError(f"pattern: {exc}") from None
            if not {"channel", "value"} <= set(groups):
                raise ValueError("pattern: needs named groups (?P<channel>…) and (?P<value>…)")
        return self


def _check(text: str, kind: str) -> str:
    if kind == "none":
        return text
    body, star, given = text.rpartition("*")
    if not star or len(given) != 2:
        raise LineError("checksum missing")
    data = body.lstrip("$").encode("ascii")
    if kind == "xor":
        calc = 0
        for b in data:
            calc ^= b
    else:
        calc = sum(data) % 256
    try:
        ok = int(given, 16) == calc
    except ValueError:
        ok = False
    if not ok:
        raise LineError(f"checksum mismatch (line says {given}, computed {calc:02X})")
    return body.lstrip("$")


def parse_line(raw: bytes, p: ParserConfig) -> tuple[str, float]:
    """One line as received (with or without CR/LF) → (point id, value); LineError when it is not one."""
    try:
        text = raw.decode("ascii").strip()
    except UnicodeDecodeError:
        raise LineError("not ASCII") from None
    if not text:
        raise LineError("empty line")
    text = _check(text, p.checksum)
    if p.kind == "delimited":
        parts = [f.strip() for f in text.split(p.delimiter)]
        if len(parts) != len(p.fields):
            raise LineError(f"{len(parts)} fields, expected {len(p.fields)}")
        got = dict(zip(p.fields, parts, strict=False))
    else:
        assert p.pattern is not None  # the config's validator requires a pattern for a regex parser
        m = re.fullmatch(p.pattern, text)
        if not m:
            raise LineError("does not match the pattern")
        got = m.groupdict()
    channel = got["channel"]
    if channel not in p.channels:
        raise LineError(f"unknown channel {channel!r}")
    try:
        value = float(got["value"])
    except ValueError:
        raise LineError(f"value {got['value']!r} is not a number") from None
    if value != value or value in (float("inf"), float("-inf")):
        raise LineError("value is not finite")
    return p.channels[channel], value


class SerialLineConfig(DriverConfig):
    type: Literal["serial_line"]
    port: str
    baudrate: int = Field(9600, ge=300, le=921600)
    parity: Literal["N", "E", "O"] = "N"
    stopbits: Literal[1, 2] = 1
    bytesize: Literal[7, 8] = 8
    timeout_s: float = Field(1.0, gt=0, le=30)
    backoff_max_s: float = Field(30.0, ge=0.1, le=3600)
    max_line: int = Field(256, ge=16, le=4096)  # longer is garbage (a baud-rate mismatch looks like this)
    parser: ParserConfig

    @property
    def points(self) -> list[str]:
        return list(self.parser.channels.values())


@register
class SerialLine(Driver):
    kind = "bus"
    type_key = "serial_line"
    Config = SerialLineConfig
    config: SerialLineConfig
    sink: Callable[[list[Reading]], None]

    def __init__(self, config: SerialLineConfig, sink: Callable[[list[Reading]], None]):
        super().__init__(config, sink)
        self.state = DeviceState(config.name)
        self.lines = 0
        self.garbage = 0
        self.last_garbage: str | None = None
        self._port: serial.Serial | None = None
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        self._stop.clear()
        self._thread = threading.Thread(target=self._run, name=f"serial-{self.config.name}", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread:
            self._thread.join(self.config.timeout_s + 5)
        self._close()

    def _close(self) -> None:
        if self._port is not None:
            try:
                self._port.close()
            except OSError:
                pass
            self._port = None

    def _open(self) -> serial.Serial:
        import serial

        c = self.config
        return serial.Serial(c.port, c.baudrate, bytesize=c.bytesize, parity=c.parity, stopbits=c.stopbits,
                             timeout=c.timeout_s)

    def _run(self) -> None:
        import serial

        buf = b""
        while not self._stop.is_set():
            if self._port is None:
                try:
                    self._port = self._open()
                    self._port.reset_input_buffer()
                    buf = b""
                except (serial.SerialException, OSError) as exc:
                    self._fault(f"port: {exc}")
                    continue
            try:
                chunk = self._port.read_until(b"\n", self.config.max_line - len(buf) + 1)
            except (serial.SerialException, OSError) as exc:
                self._close()
                self._fault(f"port: {exc}")
                continue
            if not chunk:
                continue  # a quiet line is not a fault by itself; the point goes stale if it lasts
            buf += chunk
            if not buf.endswith(b"\n"):
                if len(buf) >= self.config.max_line:
                    self._garbage(f"line longer than {self.config.max_line} bytes", buf)
                    buf = b""
                continue  # a partial line: wait for the rest
            self._line(buf)
            buf = b""

    def _fault(self, reason: str) -> None:
        self.state.fault(reason)
        at = now_ms()
        self.sink([Reading(p, None, at, "bad", reason) for p in self.config.points])
        backoff = min(self.config.backoff_max_s, 0.5 * 2 ** min(self.state.failures - 1, 10))
        self._stop.wait(backoff)

    def _garbage(self, why: str, raw: bytes) -> None:
        self.garbage += 1
        self.last_garbage = f"{why}: {raw[:60]!r}"

    def _line(self, raw: bytes) -> None:
        try:
            point, value = parse_line(raw, self.config.parser)
        except LineError as exc:
            self._garbage(str(exc), raw)
            return
        self.lines += 1
        self.state.ok()
        self.sink([Reading(point, value, now_ms())])

    def health(self) -> dict:
        status = self.state.status
        out = {"status": status, "type": "serial_line", "port": self.config.port, "lines": self.lines,
               "garbage": self.garbage}
        if self.state.reason:
            out["reason"] = self.state.reason
        if self.last_garbage:
            out["last_garbage"] = self.last_garbage
        return out
