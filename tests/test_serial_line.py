"""Serial-line gas detectors: the line parser as a table, and the driver over a real pty pair."""
from __future__ import annotations

import subprocess
import time

import pytest
from pydantic import ValidationError

from conftest import stop_peer
from drivers.serial_line import LineError, ParserConfig, SerialLine, SerialLineConfig, parse_line

CSV = ParserConfig(channels={"CH4": "GT-601", "H2S": "GT-602"})
RX = ParserConfig(kind="regex", pattern=r"#(?P<channel>\d+)\s+(?P<value>-?[\d.]+)\s*(?P<unit>\S+)",
                  channels={"1": "GT-601"})
XOR = ParserConfig(checksum="xor", channels={"CH4": "GT-601"})


def xor(s: str) -> str:
    c = 0
    for b in s.encode():
        c ^= b
    return f"{c:02X}"


@pytest.mark.parametrize("raw, parser, expected", [
    (b"CH4,12.5,%LEL\r\n", CSV, ("GT-601", 12.5)),
    (b"H2S, 3 ,ppm\n", CSV, ("GT-602", 3.0)),
    (b"CH4,-0.2,%LEL", CSV, ("GT-601", -0.2)),
    (b"#1  7.25 %LEL\r\n", RX, ("GT-601", 7.25)),
    (f"$CH4,12.5,%LEL*{xor('CH4,12.5,%LEL')}\r\n".encode(), XOR, ("GT-601", 12.5)),
])
def test_good_lines(raw, parser, expected):
    assert parse_line(raw, parser) == expected


@pytest.mark.parametrize("raw, parser, why", [
    (b"", CSV, "empty"),
    (b"\xff\xfe\x00garbage\n", CSV, "not ASCII"),
    (b"CH4,12.5\n", CSV, "2 fields"),
    (b"CO,12.5,ppm\n", CSV, "unknown channel"),
    (b"CH4,abc,%LEL\n", CSV, "not a number"),
    (b"CH4,nan,%LEL\n", CSV, "not finite"),
    (b"#x 1 %LEL\n", RX, "pattern"),
    (b"$CH4,12.5,%LEL*00\r\n", XOR, "checksum mismatch"),
    (b"$CH4,12.5,%LEL\r\n", XOR, "checksum missing"),
])
def test_bad_lines(raw, parser, why):
    with pytest.raises(LineError, match=why):
        parse_line(raw, parser)


@pytest.mark.parametrize("kw, key", [
    ({"fields": ["gas", "value"]}, "channel"),
    ({"kind": "regex"}, "pattern"),
    ({"kind": "regex", "pattern": "(?P<value>x"}, "pattern"),
    ({"kind": "regex", "pattern": "(?P<value>.*)"}, "named groups"),
    ({"channels": {}}, "channels"),
])
def test_parser_config_errors(kw, key):
    with pytest.raises(ValidationError) as e:
        ParserConfig.model_validate({"channels": {"CH4": "GT-601"}, **kw})
    assert key in str(e.value)


def test_driver_over_a_pty_counts_garbage_and_survives_an_unplug(pty_pair):
    import serial

    a, b = pty_pair
    got = []
    cfg = SerialLineConfig(type="serial_line", name="det-1", port=b, timeout_s=0.2, backoff_max_s=0.5,
                           parser=CSV)
    drv = SerialLine(cfg, got.extend)
    drv.start()
    with serial.Serial(a, 9600, timeout=1) as tx:
        time.sleep(0.3)  # the driver has opened its side
        tx.write(b"CH4,12.5,%LEL\r\n")
        tx.write(b"\x00\xffnoise\r\nCO,1,ppm\r\n")
        tx.write(b"H2S,4.")           # a partial line ...
        tx.flush()
        time.sleep(0.3)
        tx.write(b"5,ppm\r\n")         # ... completed later
        deadline = time.monotonic() + 5
        while len([r for r in got if r.quality == "good"]) < 2 and time.monotonic() < deadline:
            time.sleep(0.05)
    good = [(r.point, r.value) for r in got if r.quality == "good"]
    assert good == [("GT-601", 12.5), ("GT-602", 4.5)]
    assert drv.garbage == 2 and drv.health()["status"] == "ok"
    # unplug: the pty pair disappears
    for pid in subprocess.run(["pgrep", "-f", f"link={a}"], capture_output=True, text=True).stdout.split():
        subprocess.run(["kill", pid])
    deadline = time.monotonic() + 5
    while drv.health()["status"] != "fault" and time.monotonic() < deadline:
        time.sleep(0.05)
    h = drv.health()
    assert h["status"] == "fault" and h["reason"].startswith("port:")
    assert any(r.quality == "bad" and r.point == "GT-601" for r in got)
    # plugged back in: reopened by itself
    p = subprocess.Popen(["socat", f"pty,raw,echo=0,link={a}", f"pty,raw,echo=0,link={b}"], stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and drv.health()["status"] != "ok":
            try:
                with serial.Serial(a, 9600, timeout=1) as tx:
                    tx.write(b"CH4,20.0,%LEL\r\n")
            except serial.SerialException:
                pass
            time.sleep(0.3)
        assert drv.health()["status"] == "ok"
        assert got[-1].point == "GT-601" and got[-1].value == 20.0
    finally:
        drv.stop()
        stop_peer(p)
