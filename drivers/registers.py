"""Modbus register maps as pure functions: value decoding and read-block planning.

No I/O and no pymodbus here, so both are tested with tables (raw words → values). The Modbus driver reads
the planned blocks and hands the raw words to `decode_block`.

Word order is the order of 16-bit registers for multi-register types ("big": most significant register
first, the Modbus convention; "little": least significant first, common on gas controllers). Byte order is
the order of the two bytes inside each register ("big" AB, "little" BA).

Gas controllers report more than a value ("controller truth"):
- vendor sentinel codes: a raw register content (e.g. 0xFFFF, 0x8000) or a negative raw value that the
  controller writes instead of a measurement when the sensor is faulted. A register lists its own
  (`fault_codes`, `negative_is_fault`); none by default, so an existing map decodes as before.
- status bits: a register entry with a `role` other than "value" is one bit (`bit` 0..15 of a holding or
  input register, or a coil / discrete input) meaning the controller's own alarm level 1, level 2, or sensor
  fault for a point. Several entries may read one status word, so one word can feed several points.
`combine` folds a point's value and status bits into one `PointValue`.
"""
from __future__ import annotations

import math
import struct
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Literal, NamedTuple

Function = Literal["coil", "discrete", "holding", "input"]
ValueType = Literal["bool", "int16", "uint16", "int32", "uint32", "float32", "float64"]
Order = Literal["big", "little"]
# what a register entry means for its point: the measurement, or one of the controller's status bits
Role = Literal["value", "alarm1", "alarm2", "fault"]
STATUS_ROLES: tuple[Role, ...] = ("alarm1", "alarm2", "fault")

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


class SensorFault(DecodeError):
    """A raw value the controller sends on purpose instead of a measurement: its sensor is faulted."""


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
    role: Role = "value"
    bit: int | None = None  # 0..15: the value is this bit of a one-register type (1.0 set, 0.0 clear)
    # raw register contents meaning "sensor fault", as the unsigned number the registers make (word and byte
    # order applied): 0xFFFF for a uint16/int16, 0xFFFFFFFF for a 32-bit type
    fault_codes: tuple[int, ...] = ()
    negative_is_fault: bool = False  # a negative raw value of a signed type is a sensor fault

    @property
    def width(self) -> int:
        """Registers (or bits) this value occupies."""
        if self.function in BIT_FUNCTIONS or self.type == "bool":
            return 1
        return _FORMATS[self.type][0]

    @property
    def plain(self) -> bool:
        """Decoded by type, scale and offset alone (no bit, no sentinel checks): the fast path."""
        return self.bit is None and not self.fault_codes and not self.negative_is_fault


class PointValue(NamedTuple):
    """A point's outcome from one poll: its value (None when bad), why it is bad (None when good), and the
    controller's own alarm level (0 none, 1, 2; None when the map has no alarm bits for the point)."""

    value: float | None
    reason: str | None
    controller: int | None


@dataclass(frozen=True)
class Block:
    """One read request: `count` registers (or bits) of `function` from `start`, holding `registers`."""

    function: Function
    start: int
    count: int
    registers: tuple[Register, ...]
    # the whole block as one struct format, when every entry allows it (see _layout); worked out once
    layout: tuple[struct.Struct, tuple[tuple[float, float, bool], ...]] | None = field(
        default=None, init=False, compare=False, repr=False)
    keys: tuple[str, ...] = field(default=(), init=False, compare=False, repr=False)  # each entry's point

    def __post_init__(self) -> None:
        object.__setattr__(self, "layout", _layout(self))
        object.__setattr__(self, "keys", tuple(r.key for r in self.registers))


def _layout(block: Block) -> tuple[struct.Struct, tuple[tuple[float, float, bool], ...]] | None:
    """One struct format that unpacks every entry of a register block at once (pad bytes for the unused
    registers between them), with each entry's scale, offset and whether it is a float: the gas controller's
    usual map (plain big-endian values side by side) is decoded in one C call per read instead of one per
    point (bench/polling.py: the driver's CPU per cycle against a bare pymodbus loop, issue 14). None when an
    entry needs the general path: bits, sentinels, little-endian orders, booleans, overlapping entries,
    entries out of address order."""
    if block.function in BIT_FUNCTIONS:
        return None
    fmt, at, members = [">"], block.start, []
    for r in block.registers:
        if not r.plain or r.type == "bool" or r.word_order != "big" or r.byte_order != "big" or r.address < at:
            return None
        fmt.append("x" * 2 * (r.address - at) + _FORMATS[r.type][1][1])
        at = r.address + r.width
        members.append((r.scale, r.offset, r.type in ("float32", "float64")))
    if at > block.start + block.count:
        return None
    return struct.Struct("".join(fmt)), tuple(members)


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


def raw_code(words: list[int], word_order: Order = "big", byte_order: Order = "big") -> int:
    """The registers as the one unsigned number they make (the form vendor fault codes are given in)."""
    n = 0
    for w in (words if word_order == "big" else reversed(words)):
        if byte_order == "little":
            w = ((w & 0xFF) << 8) | (w >> 8)
        n = (n << 16) | w
    return n


def code_text(code: int, registers: int) -> str:
    """A raw code as the vendor's manual writes it: 0xFFFF, 0x8000, 0xFFFFFFFF."""
    return f"0x{code:0{4 * registers}X}"


def decode_register(reg: Register, words: list[int]) -> float:
    """One register entry's engineering value from its raw words.

    A bit entry (`bit` set) is 1.0 when that bit is set, else 0.0. A raw content listed in `fault_codes`
    raises SensorFault naming the code (checked before decoding, so a float's 0xFFFFFFFF is a fault code,
    not a NaN); so does a negative raw value when `negative_is_fault`. Other bad data raises DecodeError.
    """
    if reg.bit is not None:
        if len(words) != 1 or not 0 <= words[0] <= 0xFFFF:
            raise DecodeError(f"a status bit takes 1 register (0..65535), got {words}")
        return float((words[0] >> reg.bit) & 1)
    if reg.fault_codes and len(words) == reg.width and all(0 <= w <= 0xFFFF for w in words):
        code = raw_code(words, reg.word_order, reg.byte_order)
        if code in reg.fault_codes:
            raise SensorFault(f"sensor fault code {code_text(code, reg.width)}")
    raw = decode(words, reg.type, reg.word_order, reg.byte_order)
    if reg.negative_is_fault and raw < 0:
        if isinstance(raw, int):
            code = raw_code(words, reg.word_order, reg.byte_order)
            raise SensorFault(f"sensor fault code {code_text(code, reg.width)} (negative: {raw})")
        raise SensorFault(f"sensor fault code {raw} (negative)")
    return scaled(reg, raw)


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


def decode_block(block: Block, data: list[int] | list[bool]) -> list[tuple[Register, float | DecodeError]]:
    """Each register entry of a block with its engineering value from the block's raw data (registers or
    bits); a value that does not decode (or is a fault code) comes as its DecodeError, so one bad point does
    not hide the others."""
    if len(data) < block.count:
        err = DecodeError(f"short response: {len(data)} of {block.count}")
        return [(r, err) for r in block.registers]
    packed = None
    if block.function not in BIT_FUNCTIONS:
        try:  # the whole block as big-endian bytes once: the common (big/big) case unpacks in place
            packed = struct.pack(f">{block.count}H", *data[:block.count])
        except struct.error:
            packed = None
    if packed is not None and block.layout is not None:
        return _decode_laid_out(block, block.layout, packed)
    out: list[tuple[Register, float | DecodeError]] = []
    for r in block.registers:
        i = r.address - block.start
        try:
            if block.function in BIT_FUNCTIONS:
                out.append((r, scaled(r, bool(data[i]))))
            elif packed is not None and r.plain and r.type != "bool" and r.word_order == "big" \
                    and r.byte_order == "big":
                raw = struct.unpack_from(_FORMATS[r.type][1], packed, 2 * i)[0]
                if isinstance(raw, float) and not math.isfinite(raw):
                    raise DecodeError(f"{r.type} is {raw} (not a measurement)")
                out.append((r, scaled(r, raw)))
            else:
                out.append((r, decode_register(r, [int(w) for w in data[i:i + r.width]])))
        except DecodeError as exc:
            out.append((r, exc))
    return out


def decode_plain(block: Block, data: list[int] | list[bool]) -> list[float] | None:
    """Every entry's engineering value of a block with a layout, in entry order, in one pass; None when the
    block has no layout or any value is not good (short data, a NaN, a word out of range): then `decode_block`
    gives each entry its value or its reason. The values equal `decode_block`'s (scaled, rounded to 6 places).
    The fast path of a plain poll: no per-entry tuple, no per-entry error handling."""
    layout = block.layout
    if layout is None or len(data) < block.count:
        return None
    try:
        packed = struct.pack(f">{block.count}H", *data[:block.count])
    except struct.error:
        return None
    values = [round(raw * scale + offset, 6)
              for raw, (scale, offset, _) in zip(layout[0].unpack_from(packed), layout[1], strict=True)]
    return values if all(map(math.isfinite, values)) else None   # NaN/inf stay NaN/inf through the arithmetic


def _decode_laid_out(block: Block, layout: tuple[struct.Struct, tuple[tuple[float, float, bool], ...]],
                     packed: bytes) -> list[tuple[Register, float | DecodeError]]:
    """`decode_block` for a block with a layout: the same values and errors as the general path (a float
    that is NaN or infinite, a scaled value that is not finite), unpacked at once."""
    out: list[tuple[Register, float | DecodeError]] = []
    isfinite = math.isfinite
    for r, (scale, offset, is_float), raw in zip(block.registers, layout[1], layout[0].unpack_from(packed), strict=True):
        if is_float and not isfinite(raw):
            out.append((r, DecodeError(f"{r.type} is {raw} (not a measurement)")))
            continue
        value = raw * scale + offset
        out.append((r, round(value, 6) if isfinite(value) else DecodeError(f"scaled value is {float(value)}")))
    return out


def reason_for(exc: DecodeError) -> str:
    """The text a bad reading carries for a value that did not decode."""
    return str(exc) if isinstance(exc, SensorFault) else f"decode: {exc}"


def combine(results: Iterable[tuple[Register, float | DecodeError]]) -> dict[str, PointValue]:
    """Each point's outcome from its value entry and its status entries (from all of a device's blocks).

    - the `fault` bit set: bad, "controller reports sensor fault" (even if the value decoded);
    - the value a fault code or undecodable: bad, with that reason;
    - the controller's level: 2 when its `alarm2` bit is set, else 1 when `alarm1` is, else 0; None when the
      point has no alarm bits or one of them did not decode (a status that cannot be read says nothing).
    A fault bit that cannot be read makes the value untrustworthy too. Points with status entries only (the
    config refuses them) are left out.
    """
    values: dict[str, float | DecodeError] = {}
    status: dict[str, dict[str, float | DecodeError]] = {}
    for reg, res in results:
        if reg.role == "value":
            values[reg.key] = res
        else:
            status.setdefault(reg.key, {})[reg.role] = res
    out: dict[str, PointValue] = {}
    for point, v in values.items():
        st = status.get(point)
        if st is None:
            out[point] = PointValue(None, reason_for(v), None) if isinstance(v, DecodeError) else PointValue(v, None, None)
            continue
        reasons: list[str] = []
        fault = st.get("fault")
        if isinstance(fault, DecodeError):
            reasons.append(f"decode: status fault bit: {fault}")
        elif fault:
            reasons.append("controller reports sensor fault")
        if isinstance(v, DecodeError):
            reasons.append(reason_for(v))
        alarms = [st[r] for r in ("alarm1", "alarm2") if r in st]
        controller = None
        if alarms and not any(isinstance(a, DecodeError) for a in alarms):
            controller = 2 if st.get("alarm2") else 1 if st.get("alarm1") else 0
        if reasons:
            out[point] = PointValue(None, "; ".join(reasons), controller)
        else:
            assert not isinstance(v, DecodeError)  # a bad value adds a reason
            out[point] = PointValue(v, None, controller)
    return out
