"""Modbus register maps as pure functions: value decoding and read-block planning.

No I/O and no pymodbus here, so both are tested with tables (raw words → values). The Modbus driver reads
the planned blocks and hands the raw words to `decode_block`.

Word order is the order of 16-bit registers for multi-register types ("big": most significant register
first, the Modbus convention; "little": least significant first, common on gas controllers). Byte order is
the order of the two bytes inside each register ("big" AB, "little" BA).
"""
from __future__ import annotations

import math
import struct
from dataclasses import dataclass
from typing import Literal

Function = Literal["coil", "discrete", "holding", "input"]
ValueType = Literal["bool", "int16", "uint16", "int32", "uint32", "float32", "float64"]
Order = Literal["big", "little"]

# registers per value, and the struct code of the big-endian byte string they make
_FORMATS: dict[str, tuple[int, str]] = {
    "int16": (1, ">h"), "uint16": (1, ">H"), "int32": (2, ">i"), "uint32": (2, ">I"),
    "float32": (2, ">f"), "float64": (4, ">d"),
}
BIT_FUNCTIONS = ("coil", "discrete")
MAX_REGISTERS = 125  # Modbus: at most 125 registers per read (FC 3/4)
MAX_BITS = 2000  # and at most 2000 coils / discrete inputs (FC 1/2)


class DecodeError(ValueError):
    """Raw data that cannot be a value of the configured type (wrong length, NaN, infinity)."""


@dataclass(frozen=True)
class Register:
    """Where one point's value lives in a device and how to read it."""

    key: str
    function: Function
    address: int
    type: ValueType = "uint16"
    word_order: Order = "big"
    byte_order: Order = "big"
    scale: float = 1.0
    offset: float = 0.0

    @property
    def width(self) -> int:
        """Registers (or bits) this value occupies."""
        if self.function in BIT_FUNCTIONS or self.type == "bool":
            return 1
        return _FORMATS[self.type][0]


@dataclass(frozen=True)
class Block:
    """One read request: `count` registers (or bits) of `function` from `start`, holding `registers`."""

    function: Function
    start: int
    count: int
    registers: tuple[Register, ...]


def decode(words: list[int], type: ValueType, word_order: Order = "big", byte_order: Order = "big") -> float | int | bool:
    """Raw 16-bit registers → the value they hold."""
    if type == "bool":
        if len(words) != 1:
            raise DecodeError(f"bool takes 1 register, got {len(words)}")
        return words[0] != 0
    n, fmt = _FORMATS[type]
    if len(words) != n:
        raise DecodeError(f"{type} takes {n} registers, got {len(words)}")
    if any(not 0 <= w <= 0xFFFF for w in words):
        raise DecodeError("a register holds 0..65535")
    ordered = words if word_order == "big" else list(reversed(words))
    raw = b"".join(w.to_bytes(2, "big" if byte_order == "big" else "little") for w in ordered)
    value = struct.unpack(fmt, raw)[0]
    if isinstance(value, float) and not math.isfinite(value):
        raise DecodeError(f"{type} is {value} (not a measurement)")
    return value


def scaled(reg: Register, raw: float | int | bool) -> float:
    """The engineering value: raw × scale + offset (booleans are 1.0 / 0.0)."""
    value = float(raw) * reg.scale + reg.offset
    if not math.isfinite(value):
        raise DecodeError(f"scaled value is {value}")
    return round(value, 6)  # 4240 × 0.1 is 424.0, not 424.00000000000006


def plan(registers: list[Register], max_gap: int = 0) -> list[Block]:
    """Group a device's registers into as few reads as Modbus allows.

    Registers of one function whose addresses are contiguous (or at most `max_gap` unused addresses apart,
    for devices that allow reading across holes) share a block of at most 125 registers / 2000 bits.
    Overlapping registers (two points decoding the same words) are allowed.
    """
    blocks: list[Block] = []
    by_function: dict[str, list[Register]] = {}
    for r in registers:
        by_function.setdefault(r.function, []).append(r)
    for function in ("coil", "discrete", "holding", "input"):
        regs = sorted(by_function.get(function, []), key=lambda r: (r.address, r.width))
        limit = MAX_BITS if function in BIT_FUNCTIONS else MAX_REGISTERS
        start: int | None = None
        end = 0
        members: list[Register] = []
        for r in regs:
            r_end = r.address + r.width
            if r.width > limit:
                raise ValueError(f"{r.key}: {r.width} registers exceed one read")
            if start is not None and r.address <= end + max_gap and max(end, r_end) - start <= limit:
                end = max(end, r_end)
                members.append(r)
                continue
            if start is not None:
                blocks.append(Block(function, start, end - start, tuple(members)))
            start, end, members = r.address, r_end, [r]
        if start is not None:
            blocks.append(Block(function, start, end - start, tuple(members)))
    return blocks


def decode_block(block: Block, data: list[int] | list[bool]) -> dict[str, float | DecodeError]:
    """Each register's engineering value from a block's raw data (registers or bits); a value that does
    not decode is returned as its DecodeError so one bad point does not hide the others."""
    if len(data) < block.count:
        err = DecodeError(f"short response: {len(data)} of {block.count}")
        return {r.key: err for r in block.registers}
    packed = None
    if block.function not in BIT_FUNCTIONS:
        try:  # the whole block as big-endian bytes once: the common (big/big) case unpacks in place
            packed = struct.pack(f">{block.count}H", *data[:block.count])
        except struct.error:
            packed = None
    out: dict[str, float | DecodeError] = {}
    for r in block.registers:
        i = r.address - block.start
        try:
            if block.function in BIT_FUNCTIONS:
                raw: float | int | bool = bool(data[i])
            elif packed is not None and r.type != "bool" and r.word_order == "big" and r.byte_order == "big":
                raw = struct.unpack_from(_FORMATS[r.type][1], packed, 2 * i)[0]
                if isinstance(raw, float) and not math.isfinite(raw):
                    raise DecodeError(f"{r.type} is {raw} (not a measurement)")
            else:
                raw = decode(list(data[i:i + r.width]), r.type, r.word_order, r.byte_order)
            out[r.key] = scaled(r, raw)
        except DecodeError as exc:
            out[r.key] = exc
    return out
