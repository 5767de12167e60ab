"""Register decoding and block planning: tables of raw words → values (drivers/registers.py)."""
from __future__ import annotations

import math
import struct

import pytest

from drivers.registers import (
    Block,
    DecodeError,
    PointValue,
    Register,
    SensorFault,
    combine,
    decode,
    decode_block,
    decode_plain,
    decode_register,
    plan,
)


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
    out = {r.key: v for r, v in decode_block(block, [0x0000, 0x4148, 123, 0x7FC0, 0x0000])}
    assert out["ch4"] == 12.5 and math.isclose(out["h2s"], 11.3)
    assert isinstance(out["dead"], DecodeError)  # NaN from the device: that point only
    short = decode_block(block, [0, 0])
    assert all(isinstance(v, DecodeError) and "short" in str(v) for _, v in short)
    bits = decode_block(Block("discrete", 0, 2, (R("door", 1, "bool", function="discrete"),)), [False, True])
    assert [(r.key, v) for r, v in bits] == [("door", 1.0)]


# --- controller truth: vendor sentinel codes (raw words → value or fault) --------------------------------
# Gas controllers write a code instead of a measurement when a sensor is faulted (open sensor, over-temperature,
# calibration due): commonly 0xFFFF, 0x8000, or any negative number. A register lists the codes its vendor
# uses; a code is a sensor fault (bad reading naming the code), never a value. Nothing is a code by default.
FFFF, F8000 = (0xFFFF,), (0x8000,)


@pytest.mark.parametrize("raw, type, kw, expected", [
    # not configured: every raw value is a value (backwards compatible)
    ([0xFFFF], "uint16", {}, 65535.0),
    ([0xFFFF], "int16", {}, -1.0),
    ([0x8000], "int16", {}, -32768.0),
    # 0xFFFF configured
    ([0xFFFF], "uint16", {"fault_codes": FFFF}, "sensor fault code 0xFFFF"),
    ([0xFFFE], "uint16", {"fault_codes": FFFF}, 65534.0),                       # uint16 65534 is valid
    ([0xFFFF], "int16", {"fault_codes": FFFF}, "sensor fault code 0xFFFF"),     # int16 -1 given as its contents
    ([0xFFFF], "uint16", {"fault_codes": FFFF, "scale": 0.1}, "sensor fault code 0xFFFF"),  # before scaling
    # 0x8000 configured: its neighbour 0x7FFF (the int16 maximum) is a value
    ([0x8000], "int16", {"fault_codes": F8000}, "sensor fault code 0x8000"),
    ([0x7FFF], "int16", {"fault_codes": F8000}, 32767.0),
    ([0x7FFF], "uint16", {"fault_codes": (0xFFFF, 0x8000)}, 32767.0),
    ([0x8000], "uint16", {"fault_codes": (0xFFFF, 0x8000)}, "sensor fault code 0x8000"),
    ([0x8001], "uint16", {"fault_codes": (0xFFFF, 0x8000)}, 32769.0),
    # byte order applies: the code is the number the register means, not its bytes on the wire
    ([0x0080], "uint16", {"fault_codes": F8000, "byte_order": "little"}, "sensor fault code 0x8000"),
    # negative raw value of a signed type
    ([0xFFFF], "int16", {"negative_is_fault": True}, "sensor fault code 0xFFFF (negative: -1)"),
    ([0x8000], "int16", {"negative_is_fault": True}, "sensor fault code 0x8000 (negative: -32768)"),
    ([0x0000], "int16", {"negative_is_fault": True}, 0.0),
    ([0x7FFF], "int16", {"negative_is_fault": True}, 32767.0),
    ([0x0000, 0xFFFF], "int32", {"negative_is_fault": True, "word_order": "little"},
     "sensor fault code 0xFFFF0000 (negative: -65536)"),
    ([0xC1C8, 0x0000], "float32", {"negative_is_fault": True}, "sensor fault code -25.0 (negative)"),
    ([0x4148, 0x0000], "float32", {"negative_is_fault": True}, 12.5),
    # 32-bit codes in the configured word order
    ([0xFFFF, 0xFFFF], "uint32", {"fault_codes": (0xFFFFFFFF,)}, "sensor fault code 0xFFFFFFFF"),
    ([0x8000, 0x0000], "int32", {"fault_codes": (0x80000000,), "word_order": "little"}, 32768.0),
    ([0x0000, 0x8000], "int32", {"fault_codes": (0x80000000,), "word_order": "little"},
     "sensor fault code 0x80000000"),
    # a float's all-ones is NaN: an error already; listed as a code it names the code instead
    ([0xFFFF, 0xFFFF], "float32", {}, DecodeError),
    ([0xFFFF, 0xFFFF], "float32", {"fault_codes": (0xFFFFFFFF,)}, "sensor fault code 0xFFFFFFFF"),
    ([0x7FC0, 0x0000], "float32", {"fault_codes": (0xFFFFFFFF,)}, DecodeError),     # other NaNs still errors
])
def test_sentinel_codes_table(raw, type, kw, expected):
    reg = R("p", 0, type, **kw)
    if expected is DecodeError:
        with pytest.raises(DecodeError) as e:
            decode_register(reg, raw)
        assert not isinstance(e.value, SensorFault)
    elif isinstance(expected, str):
        with pytest.raises(SensorFault) as e:
            decode_register(reg, raw)
        assert str(e.value) == expected
    else:
        assert decode_register(reg, raw) == expected


@pytest.mark.parametrize("word, bit, expected", [
    (0x0000, 0, 0.0), (0x0001, 0, 1.0), (0x0002, 0, 0.0), (0x0002, 1, 1.0), (0x0004, 2, 1.0),
    (0x8000, 15, 1.0), (0x7FFF, 15, 0.0), (0xFFFF, 7, 1.0), (0xFF7F, 7, 0.0),
])
def test_bit_in_register_table(word, bit, expected):
    assert decode_register(R("p", 0, "uint16", bit=bit), [word]) == expected
    assert decode_register(R("p", 0, "int16", bit=bit, role="alarm1"), [word]) == expected


def test_fault_code_in_a_block_isolates_that_point():
    regs = (R("a", 0, fault_codes=FFFF, scale=0.1), R("b", 1, fault_codes=FFFF, scale=0.1), R("c", 2, "int16"))
    out = {r.key: v for r, v in decode_block(Block("holding", 0, 3, regs), [0xFFFF, 123, 0xFFFF])}
    assert isinstance(out["a"], SensorFault) and str(out["a"]) == "sensor fault code 0xFFFF"
    assert math.isclose(out["b"], 12.3) and out["c"] == -1.0  # c lists no codes: -1 is its value


# --- controller truth: status bits folded into a point (combine) ------------------------------------------
def S(key, address, bit, role):
    return Register(key, "holding", address, "uint16", role=role, bit=bit)


CH = [R("GT-1", 0, scale=0.1, fault_codes=FFFF), S("GT-1", 8, 0, "alarm1"), S("GT-1", 8, 1, "alarm2"),
      S("GT-1", 8, 2, "fault")]
BLOCK = Block("holding", 0, 9, tuple(CH))


@pytest.mark.parametrize("value_word, status_word, expected", [
    (123, 0b000, PointValue(12.3, None, 0)),
    (300, 0b001, PointValue(30.0, None, 1)),
    (520, 0b011, PointValue(52.0, None, 2)),                                   # L2 with L1 (the usual)
    (520, 0b010, PointValue(52.0, None, 2)),                                   # L2 alone still 2
    (123, 0b100, PointValue(None, "controller reports sensor fault", 0)),      # fault bit: no value
    (123, 0b110, PointValue(None, "controller reports sensor fault", 2)),      # its level still comes
    (0xFFFF, 0b000, PointValue(None, "sensor fault code 0xFFFF", 0)),
    (0xFFFF, 0b100, PointValue(None, "controller reports sensor fault; sensor fault code 0xFFFF", 0)),
    (123, 0b1111_1111_1111_1000, PointValue(12.3, None, 0)),                   # other bits are not ours
])
def test_combine_value_and_status_table(value_word, status_word, expected):
    assert combine(decode_block(BLOCK, [value_word, 0, 0, 0, 0, 0, 0, 0, status_word])) == {"GT-1": expected}


def test_combine_one_status_word_feeds_several_points_and_unmapped_points_have_no_level():
    regs = (R("A", 0), R("B", 1), R("C", 2), S("A", 3, 0, "alarm1"), S("A", 3, 1, "alarm2"),
            S("B", 3, 2, "alarm1"), S("B", 3, 3, "alarm2"), S("B", 3, 4, "fault"))
    out = combine(decode_block(Block("holding", 0, 4, regs), [1, 2, 3, 0b0_0110]))
    assert out == {"A": PointValue(1.0, None, 2), "B": PointValue(2.0, None, 1), "C": PointValue(3.0, None, None)}
    out = combine(decode_block(Block("holding", 0, 4, regs), [1, 2, 3, 0b1_0000]))
    assert out["A"] == PointValue(1.0, None, 0) and out["B"] == PointValue(None, "controller reports sensor fault", 0)


def test_combine_across_blocks_and_unreadable_status():
    value = decode_block(Block("input", 0, 1, (R("A", 0, function="input"),)), [42])
    coil = Register("A", "coil", 5, "bool", role="alarm2")
    fault = Register("A", "discrete", 9, "bool", role="fault")
    assert combine(value + decode_block(Block("coil", 5, 1, (coil,)), [True])) == {"A": PointValue(42.0, None, 2)}
    assert combine(value + decode_block(Block("discrete", 9, 1, (fault,)), [True]))["A"].reason == \
        "controller reports sensor fault"
    # a status word the device did not send says nothing: no level; an unreadable fault bit: no trust
    short = decode_block(Block("holding", 8, 1, (S("A", 8, 0, "alarm1"), S("A", 8, 2, "fault"))), [])
    got = combine(value + short)["A"]
    assert got.value is None and got.controller is None and got.reason.startswith("decode: status fault bit")
    only_alarm = decode_block(Block("holding", 8, 1, (S("A", 8, 0, "alarm1"),)), [])
    assert combine(value + only_alarm) == {"A": PointValue(42.0, None, None)}


def test_status_words_adjacent_to_values_are_read_in_the_same_block():
    """An 8-channel controller: values in 0..7, one status word per channel in 8..15 → one read."""
    regs = [R(f"GT-{i}", i) for i in range(8)]
    regs += [S(f"GT-{i}", 8 + i, b, role) for i in range(8) for b, role in enumerate(("alarm1", "alarm2", "fault"))]
    blocks = plan(regs)
    assert [(b.function, b.start, b.count, len(b.registers)) for b in blocks] == [("holding", 0, 16, 32)]
    # apart by more than max_gap: two reads
    far = [R("GT-0", 0), S("GT-0", 100, 0, "alarm1")]
    assert [(b.start, b.count) for b in plan(far)] == [(0, 1), (100, 1)]


# --- the one-format fast path (Block.layout) decodes exactly as the register-by-register path ----------------
def _one_by_one(block: Block, data: list[int]) -> list:
    out = []
    for r in block.registers:
        i = r.address - block.start
        try:
            out.append((r.key, decode_register(r, data[i:i + r.width])))
        except DecodeError as exc:
            out.append((r.key, f"{type(exc).__name__}: {exc}"))
    return out


LAID_OUT = [  # (registers, whether the block gets a layout)
    ((R("a", 0), R("b", 1, "int16", scale=0.1), R("c", 2, "float32"), R("d", 4, "uint32", offset=-4.0),
      R("e", 6, "int32", scale=0.01), R("f", 8, "float64")), True),
    ((R("a", 0, scale=0.1), R("b", 5, "float32"), R("c", 9, "int16")), True),           # holes between entries
    ((R("a", 0), R("b", 1, "float32", word_order="little")), False),                     # little-endian words
    ((R("a", 0), R("b", 1, byte_order="little")), False),
    ((R("a", 0, fault_codes=(0xFFFF,)), R("b", 1)), False),                              # a sentinel
    ((R("a", 0), R("b", 1, "int16", negative_is_fault=True)), False),
    ((R("a", 0, role="alarm1", bit=3), R("a2", 1)), False),                               # a status bit
    ((R("a", 0, "bool"), R("b", 1)), False),
    ((R("a", 0, "float32"), R("b", 1)), False),                                          # overlapping entries
    ((R("b", 1), R("a", 0)), False),                                                     # out of address order
]


@pytest.mark.parametrize("regs,laid_out", LAID_OUT)
def test_a_laid_out_block_decodes_like_one_register_at_a_time(regs, laid_out):
    import random
    end = max(r.address + r.width for r in regs)
    block = Block("holding", 0, end, tuple(regs))
    assert (block.layout is not None) is laid_out
    rnd = random.Random(14)
    fast = 0
    specials = [0x7FC0, 0x7F80, 0xFF80, 0xFFFF, 0x8000, 0x0000, 0x7FFF, 0x7FF0]   # NaN/inf halves, sentinels
    for _ in range(300):
        data = [rnd.choice(specials) if rnd.random() < 0.3 else rnd.randrange(0x10000) for _ in range(end)]
        got = [(r.key, f"{type(v).__name__}: {v}" if isinstance(v, DecodeError) else v)
               for r, v in decode_block(block, data)]
        assert got == _one_by_one(block, data)
        plain = decode_plain(block, data)   # the poll's fast path: all good at once, or None and decode_block
        if plain is None:
            assert not laid_out or any(isinstance(v, str) for _, v in got)
        else:
            assert laid_out and plain == [v for _, v in got]
            assert all(type(v) is float for v in plain)
            fast += 1
    assert (fast > 0) is laid_out
    assert decode_plain(block, [0] * (end - 1)) is None                       # short: decode_block says so


def test_a_laid_out_block_with_a_scaled_overflow_is_a_decode_error():
    block = Block("holding", 0, 4, (R("big", 0, "float64", scale=1e300),))
    assert block.layout is not None
    [(_, v)] = decode_block(block, words(">d", 1e300))
    assert isinstance(v, DecodeError) and "scaled value is inf" in str(v)
