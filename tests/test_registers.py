"""Register decoding and block planning: tables of raw words → values (drivers/registers.py)."""
from __future__ import annotations

import math
import struct

import pytest

from drivers.registers import Block, DecodeError, Register, decode, decode_block, plan


def words(fmt: str, value, word_order="big", byte_order="big") -> list[int]:
    raw = struct.pack(fmt, value)
    ws = [raw[i:i + 2] for i in range(0, len(raw), 2)]
    if word_order == "little":
        ws.reverse()
    return [int.from_bytes(w, "big" if byte_order == "big" else "little") for w in ws]


@pytest.mark.parametrize("raw, type, wo, bo, expected", [
    ([0x0000], "uint16", "big", "big", 0),
    ([0xFFFF], "uint16", "big", "big", 65535),
    ([0xFFFF], "int16", "big", "big", -1),
    ([0x8000], "int16", "big", "big", -32768),
    ([0x3412], "uint16", "big", "little", 0x1234),
    ([0x0001, 0x0000], "uint32", "big", "big", 65536),
    ([0x0000, 0x0001], "uint32", "little", "big", 65536),
    ([0xFFFF, 0xFFFE], "int32", "big", "big", -2),
    ([0xFEFF, 0xFFFF], "int32", "little", "little", -2),
    ([0x4148, 0x0000], "float32", "big", "big", 12.5),         # ABCD
    ([0x0000, 0x4148], "float32", "little", "big", 12.5),      # CDAB (many gas controllers)
    ([0x4841, 0x0000], "float32", "big", "little", 12.5),      # BADC
    ([0x0000, 0x4841], "float32", "little", "little", 12.5),   # DCBA
    ([0xC1C8, 0x0000], "float32", "big", "big", -25.0),
    ([0x4029, 0x0000, 0x0000, 0x0000], "float64", "big", "big", 12.5),
    ([0x0000, 0x0000, 0x0000, 0x4029], "float64", "little", "big", 12.5),
    ([0x0000], "bool", "big", "big", False),
    ([0x0002], "bool", "big", "big", True),
])
def test_decode_table(raw, type, wo, bo, expected):
    assert decode(raw, type, wo, bo) == expected


@pytest.mark.parametrize("fmt, type", [(">h", "int16"), (">H", "uint16"), (">i", "int32"), (">I", "uint32"),
                                       (">f", "float32"), (">d", "float64")])
@pytest.mark.parametrize("wo", ["big", "little"])
@pytest.mark.parametrize("bo", ["big", "little"])
def test_every_type_and_order_round_trips(fmt, type, wo, bo):
    for value in ({"h": -1234, "H": 54321, "i": -123456789, "I": 3_000_000_000}.get(fmt[1], 19.75),):
        assert decode(words(fmt, value, wo, bo), type, wo, bo) == value


@pytest.mark.parametrize("raw, type, why", [
    ([0x7FC0, 0x0000], "float32", "nan"),
    ([0x7F80, 0x0000], "float32", "inf"),
    ([0x4148], "float32", "takes 2"),
    ([0x1, 0x2, 0x3], "float64", "takes 4"),
    ([0x10000], "uint16", "65535"),
])
def test_bad_raw_data(raw, type, why):
    with pytest.raises(DecodeError, match=why):
        decode(raw, type)


def R(key, address, type="uint16", function="holding", **kw):
    return Register(key, function, address, type, **kw)


def spans(blocks):
    return [(b.function, b.start, b.count, [r.key for r in b.registers]) for b in blocks]


@pytest.mark.parametrize("regs, max_gap, expected", [
    ([R("a", 0), R("b", 1), R("c", 2)], 0, [("holding", 0, 3, ["a", "b", "c"])]),
    ([R("a", 0, "float32"), R("b", 2, "float32")], 0, [("holding", 0, 4, ["a", "b"])]),
    ([R("a", 0), R("b", 5)], 0, [("holding", 0, 1, ["a"]), ("holding", 5, 1, ["b"])]),
    ([R("a", 0), R("b", 5)], 4, [("holding", 0, 6, ["a", "b"])]),
    ([R("b", 10), R("a", 0, function="input"), R("c", 11)], 0,
     [("holding", 10, 2, ["b", "c"]), ("input", 0, 1, ["a"])]),
    ([R("lo", 0, "float32"), R("hi", 0, "uint16")], 0, [("holding", 0, 2, ["hi", "lo"])]),  # overlap
    ([R(f"r{i}", i) for i in range(130)], 0,
     [("holding", 0, 125, [f"r{i}" for i in range(125)]), ("holding", 125, 5, [f"r{i}" for i in range(125, 130)])]),
    ([R("f", 123, "float32"), *[R(f"r{i}", i) for i in range(123)]], 0,
     [("holding", 0, 125, [*[f"r{i}" for i in range(123)], "f"])]),
    ([R("f", 124, "float32"), *[R(f"r{i}", i) for i in range(124)]], 0,
     [("holding", 0, 124, [f"r{i}" for i in range(124)]), ("holding", 124, 2, ["f"])]),
    ([R("x", 3, function="coil"), R("y", 4, function="coil")], 0, [("coil", 3, 2, ["x", "y"])]),
])
def test_plan_table(regs, max_gap, expected):
    assert spans(plan(regs, max_gap)) == expected


def test_decode_block_scales_and_isolates_bad_values():
    regs = (R("ch4", 0, "float32", word_order="little", scale=1.0), R("h2s", 2, "uint16", scale=0.1, offset=-1.0),
            R("dead", 3, "float32"))
    block = Block("holding", 0, 5, regs)
    out = decode_block(block, [0x0000, 0x4148, 123, 0x7FC0, 0x0000])
    assert out["ch4"] == 12.5 and math.isclose(out["h2s"], 11.3)
    assert isinstance(out["dead"], DecodeError)  # NaN from the device: that point only
    short = decode_block(block, [0, 0])
    assert all(isinstance(v, DecodeError) and "short" in str(v) for v in short.values())
    bits = decode_block(Block("discrete", 0, 2, (R("door", 1, "bool", function="discrete"),)), [False, True])
    assert bits == {"door": 1.0}
