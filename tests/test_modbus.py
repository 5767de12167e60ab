"""The Modbus driver against a real pymodbus server: TCP, and RTU over a socat pty pair; faults and recovery."""
from __future__ import annotations

import struct
import time

import pytest
from pydantic import ValidationError

from conftest import free_port, spawn_peer, stop_peer
from drivers.base import REGISTRY
from drivers.modbus import ModbusConfig, ModbusTcp

SERVER = ["-m", "drivers.sim.modbus_server"]


def f32_cdab(v: float) -> list[int]:
    hi, lo = struct.unpack(">HH", struct.pack(">f", v))
    return [lo, hi]


def bus_config(**kw) -> ModbusConfig:
    base = {"type": "modbus_tcp", "name": "gas-ctrl", "host": "127.0.0.1", "port": 502, "timeout_s": 0.5,
            "retries": 0, "poll_interval_s": 0.2, "backoff_max_s": 0.4,
            "devices": [
                {"name": "ctrl-1", "unit": 1, "registers": [
                    {"point": "GT-101", "address": 0, "type": "float32", "word_order": "little"},
                    {"point": "GT-102", "address": 2, "type": "uint16", "scale": 0.1},
                    {"point": "GT-103", "address": 3, "type": "int16"},
                    {"point": "DOOR-1", "function": "coil", "address": 4, "type": "bool"},
                ]},
                {"name": "ctrl-2", "unit": 2, "registers": [{"point": "GT-201", "address": 10, "type": "uint16"}]},
            ]}
    base.update(kw)
    return ModbusConfig.model_validate(base)


@pytest.fixture
def tcp_server():
    port = free_port()
    p = spawn_peer([*SERVER, "tcp", "127.0.0.1", str(port), "--ids", "1,2"])
    time.sleep(0.3)  # READY comes just before the socket is bound
    yield port, p
    stop_peer(p)


def writer(port):
    from pymodbus.client import ModbusTcpClient  # the test plays the plant: it writes the detector values

    c = ModbusTcpClient("127.0.0.1", port=port, timeout=1, retries=0)
    assert c.connect()
    return c


def values(readings):
    return {r.point: (r.value if r.quality == "good" else r.reason) for r in readings}


def test_tcp_reads_decode_every_point(tcp_server):
    port, _ = tcp_server
    w = writer(port)
    w.write_registers(0, [*f32_cdab(12.5), 205, 0xFFF6], device_id=1)
    w.write_coil(4, True, device_id=1)
    w.write_register(10, 77, device_id=2)
    got = []
    bus = ModbusTcp(bus_config(port=port), got.extend)
    try:
        readings = bus.poll_once()
    finally:
        bus.stop()
        w.close()
    v = values(readings)
    assert v["GT-101"] == 12.5 and v["GT-102"] == pytest.approx(20.5) and v["GT-103"] == -10.0
    assert v["DOOR-1"] == 1.0 and v["GT-201"] == 77.0
    assert got == readings
    assert bus.health()["status"] == "ok" and bus.health()["devices"]["ctrl-1"]["status"] == "ok"
    assert len(bus.devices[0].blocks) == 2  # registers 0..3 in one read, the coil in another


def test_server_gone_is_a_fault_within_three_polls_and_recovers(tcp_server):
    port, server = tcp_server
    bus = ModbusTcp(bus_config(port=port), lambda rs: None)
    try:
        assert all(r.quality == "good" for r in bus.poll_once())
        stop_peer(server)
        polls = 0
        while bus.health()["status"] != "fault" and polls < 3:
            readings = bus.poll_once()
            polls += 1
        h = bus.health()
        assert h["status"] == "fault" and "comm" in h["reason"]
        assert all(r.quality == "bad" and r.value is None and r.reason.startswith("comm") for r in readings)
        restarted = spawn_peer([*SERVER, "tcp", "127.0.0.1", str(port), "--ids", "1,2"])
        try:
            deadline = time.monotonic() + 10
            while bus.health()["status"] != "ok" and time.monotonic() < deadline:
                readings = bus.poll_once()
                time.sleep(0.1)
            assert bus.health()["status"] == "ok"
            assert all(r.quality == "good" for r in readings)
        finally:
            stop_peer(restarted)
    finally:
        bus.stop()


def test_exception_response_faults_that_device_only(tcp_server):
    port, _ = tcp_server
    cfg = bus_config(port=port, devices=[
        {"name": "good", "unit": 1, "registers": [{"point": "A", "address": 0}]},
        {"name": "bad-map", "unit": 2, "registers": [{"point": "B", "address": 100}]},  # beyond its registers
    ])
    bus = ModbusTcp(cfg, lambda rs: None)
    try:
        v = values(bus.poll_once())
    finally:
        bus.stop()
    assert v["A"] == 0.0
    assert "exception 2 (illegal data address)" in v["B"]
    h = bus.health()
    assert h["status"] == "degraded" and h["devices"]["bad-map"]["status"] == "fault"


def test_nan_from_a_detector_is_a_bad_reading(tcp_server):
    port, _ = tcp_server
    w = writer(port)
    w.write_registers(0, [0x0000, 0x7FC0], device_id=1)  # NaN, CDAB
    bus = ModbusTcp(bus_config(port=port), lambda rs: None)
    try:
        v = values(bus.poll_once())
    finally:
        bus.stop()
        w.close()
    assert "decode" in v["GT-101"] and v["GT-103"] == 0.0


def test_polling_thread_runs_and_stops(tcp_server):
    port, _ = tcp_server
    batches = []
    bus = ModbusTcp(bus_config(port=port), batches.append)
    bus.start()
    deadline = time.monotonic() + 5
    while len(batches) < 3 and time.monotonic() < deadline:
        time.sleep(0.05)
    bus.stop()
    n = len(batches)
    assert n >= 3
    time.sleep(0.5)
    assert len(batches) == n  # stopped means stopped


def test_rtu_over_a_pty(pty_pair):
    a, b = pty_pair
    server = spawn_peer([*SERVER, "rtu", a, "9600", "--ids", "1"])
    time.sleep(0.3)
    cfg = ModbusConfig.model_validate({
        "type": "modbus_rtu", "name": "rs485-1", "serial_port": b, "baudrate": 9600, "timeout_s": 0.5, "retries": 0,
        "devices": [{"name": "o2", "unit": 1, "registers": [{"point": "O2-1", "address": 0, "scale": 0.1}]}]})
    bus = REGISTRY["modbus_rtu"](cfg, lambda rs: None)
    try:
        v = values(bus.poll_once())
        assert v["O2-1"] == 0.0 and bus.health()["status"] == "ok"
        stop_peer(server)
        v = values(bus.poll_once())
        assert v["O2-1"].startswith("comm") and bus.health()["status"] == "fault"
    finally:
        bus.stop()
        stop_peer(server)


@pytest.mark.parametrize("change, key", [
    ({"host": None}, "host"),
    ({"type": "modbus_rtu"}, "serial_port"),
    ({"devices": [{"name": "d", "unit": 1, "registers": [{"point": "X", "address": 65535, "type": "float32"}]}]},
     "runs past"),
    ({"devices": [{"name": "d", "unit": 1, "registers": [{"point": "X", "address": 0}, {"point": "X", "address": 1}]}]},
     "mapped twice"),
    ({"devices": [{"name": "d", "unit": 1, "registers": [{"point": "X", "address": 0, "type": "float16"}]}]}, "type"),
    ({"devices": [{"name": "d", "unit": 1, "registers": [{"point": "X", "adress": 0}]}]}, "adress"),
])
def test_register_maps_are_validated_naming_the_problem(change, key):
    with pytest.raises(ValidationError) as e:
        bus_config(**change)
    assert key in str(e.value)


def _status(point: str, address: int, *roles: str) -> list[dict]:
    """One status word of a point: bit 0 its level 1, bit 1 its level 2, bit 2 sensor fault (the usual layout)."""
    bits = {"alarm1": 0, "alarm2": 1, "fault": 2}
    return [{"point": point, "address": address, "bit": bits[r], "role": r} for r in roles or bits]


def controller_device(unit: int = 1) -> dict:
    """A 2-channel gas controller: values in 0..1 (× 0.1), one status word per channel right after, in 2..3."""
    return {"name": "ctrl", "unit": unit, "registers": [
        {"point": "GT-A", "address": 0, "scale": 0.1, "fault_codes": [0xFFFF, 0x8000]},
        {"point": "GT-B", "address": 1, "type": "int16", "scale": 0.1, "negative_is_fault": True},
        *_status("GT-A", 2), *_status("GT-B", 3)]}


@pytest.mark.parametrize("words, status, expected", [
    # a sensor fault code in the value register: bad, the code named, never a value; its level still comes
    ([0xFFFF, 123], [0b000, 0b000], {"GT-A": (None, "sensor fault code 0xFFFF", 0), "GT-B": (12.3, None, 0)}),
    ([0x8000, 0xFFF6], [0b000, 0b000], {"GT-A": (None, "sensor fault code 0x8000", 0),
                                        "GT-B": (None, "sensor fault code 0xFFF6 (negative: -10)", 0)}),
    ([0x7FFF, 0x7FFF], [0b000, 0b000], {"GT-A": (3276.7, None, 0), "GT-B": (3276.7, None, 0)}),
    # the controller's own alarm levels
    ([300, 520], [0b001, 0b011], {"GT-A": (30.0, None, 1), "GT-B": (52.0, None, 2)}),
    # its fault bit: bad whatever the value register says
    ([200, 100], [0b100, 0b000], {"GT-A": (None, "controller reports sensor fault", 0), "GT-B": (10.0, None, 0)}),
])
def test_controller_truth_over_tcp(tcp_server, words, status, expected):
    port, _ = tcp_server
    w = writer(port)
    w.write_registers(0, words, device_id=1)
    w.write_registers(2, status, device_id=1)
    bus = ModbusTcp(bus_config(port=port, devices=[controller_device()]), lambda rs: None)
    try:
        readings = bus.poll_once()
    finally:
        bus.stop()
        w.close()
    got = {r.point: (r.value, r.reason, r.controller) for r in readings}
    assert got == expected
    assert all((r.quality == "good") == (r.reason is None) for r in readings)
    assert [(b.start, b.count) for b in bus.devices[0].blocks] == [(0, 4)]  # values and status words: one read
    assert bus.health()["status"] == "ok"  # a sensor fault is the sensor's, not the link's


def test_controller_truth_over_rtu(pty_pair):
    a, b = pty_pair
    values = [0xFFFF, 250, 0b000, 0b011]
    server = spawn_peer([*SERVER, "rtu", a, "9600", "--ids", "3", "--values", ",".join(map(str, values))])
    time.sleep(0.3)
    cfg = ModbusConfig.model_validate({
        "type": "modbus_rtu", "name": "rs485-1", "serial_port": b, "baudrate": 9600, "timeout_s": 0.5, "retries": 0,
        "devices": [controller_device(unit=3)]})
    bus = REGISTRY["modbus_rtu"](cfg, lambda rs: None)
    try:
        got = {r.point: r for r in bus.poll_once()}
    finally:
        bus.stop()
        stop_peer(server)
    assert got["GT-A"].quality == "bad" and got["GT-A"].value is None
    assert got["GT-A"].reason == "sensor fault code 0xFFFF" and got["GT-A"].controller == 0
    assert got["GT-B"].quality == "good" and got["GT-B"].value == 25.0 and got["GT-B"].controller == 2


def test_a_lost_controller_has_no_level():
    """No answer: every point bad with the comm reason, and no opinion of the controller's (None, not 0)."""
    cfg = bus_config(port=free_port(), devices=[controller_device()])
    bus = ModbusTcp(cfg, lambda rs: None)
    try:
        readings = bus.poll_once()
    finally:
        bus.stop()
    assert [(r.point, r.quality, r.controller) for r in readings] == [("GT-A", "bad", None), ("GT-B", "bad", None)]
    assert all(r.reason.startswith("comm") for r in readings)


def _one(**entry) -> dict:
    return {"devices": [{"name": "d", "unit": 1, "registers": [{"point": "X", "address": 0}, entry]}]}


@pytest.mark.parametrize("change, key", [
    (_one(point="X", address=1, bit=16, role="alarm1"), "registers.1.bit"),
    (_one(point="X", address=1, bit=-1, role="alarm1"), "registers.1.bit"),
    (_one(point="X", address=1, type="float32", bit=3, role="alarm2"), "bit: point X: a bit lies in one 16-bit"),
    (_one(point="X", address=1, type="uint32", bit=0, role="fault"), "but a uint32 spans 2"),
    (_one(point="X", function="coil", address=1, bit=0, role="fault"), "bit: point X: a coil is a single bit"),
    (_one(point="X", address=1, role="alarm1"), "bit: point X: its alarm1 status"),
    (_one(point="GT-999", address=1, bit=0, role="alarm1"), "point: GT-999: its alarm1 status entry names a point"),
    (_one(point="X", address=0, bit=0, role="alarm1", scale=0.1), "scale: point X"),
    (_one(point="X", address=1, bit=0, role="fault", fault_codes=[1]), "fault_codes: point X"),
    ({"devices": [{"name": "d", "unit": 1, "registers": [
        {"point": "X", "address": 0}, *_status("X", 1, "alarm2"), {"point": "X", "address": 2, "bit": 5,
                                                                    "role": "alarm2"}]}]},
     "role: point X has two alarm2 entries"),
    ({"devices": [{"name": "d", "unit": 1, "registers": [{"point": "X", "address": 0, "fault_codes": [65536]}]}]},
     "fault_codes: point X: 65536 does not fit a uint16"),
    ({"devices": [{"name": "d", "unit": 1, "registers": [{"point": "X", "address": 0, "type": "int16",
                                                          "fault_codes": [-32769]}]}]}, "fault_codes: point X"),
    ({"devices": [{"name": "d", "unit": 1, "registers": [{"point": "X", "address": 0, "negative_is_fault": True}]}]},
     "negative_is_fault: point X: a uint16 is never negative"),
    ({"devices": [{"name": "d", "unit": 1, "registers": [{"point": "X", "address": 0, "type": "bool",
                                                          "fault_codes": [1]}]}]}, "fault_codes: point X: a bit"),
    ({"devices": [{"name": "d", "unit": 1, "registers": [{"point": "X", "address": 0, "role": "level"}]}]},
     "registers.0.role"),
    # a status in another device of the bus: the status must come from the controller that measures the point
    ({"devices": [{"name": "d1", "unit": 1, "registers": [{"point": "X", "address": 0}]},
                  {"name": "d2", "unit": 2, "registers": [{"point": "Y", "address": 0}, *_status("X", 1)]}]},
     "no value register on device d2"),
])
def test_status_and_fault_code_config_errors_name_the_key(change, key):
    with pytest.raises(ValidationError) as e:
        bus_config(**change)
    assert key in str(e.value)


def test_status_entries_are_not_points_of_their_own():
    cfg = bus_config(devices=[controller_device()])
    assert cfg.points == ["GT-A", "GT-B"]  # what [[points]] must define; the status bits add none
    regs = cfg.devices[0].register_map()
    assert regs[0].fault_codes == (0x8000, 0xFFFF)
    int16 = bus_config(devices=[{"name": "d", "unit": 1, "registers": [
        {"point": "X", "address": 0, "type": "int16", "fault_codes": [-1, -32768]}]}])
    assert int16.devices[0].register_map()[0].fault_codes == (0x8000, 0xFFFF)  # -1 is the contents 0xFFFF


@pytest.mark.parametrize("gas, value, level", [
    ("CH4", 19.9, 0), ("CH4", 20.0, 1), ("CH4", 39.9, 1), ("CH4", 40.0, 2), ("CH4", 150.0, 2),
    ("O2", 20.9, 0), ("O2", 19.5, 1), ("O2", 18.0, 2), ("O2", 23.5, 1), ("TEMP", 23.5, 0), ("RH", 99.0, 0),
])
def test_simulated_controller_levels_from_its_own_setpoints(gas, value, level):
    from drivers.sim.plant import controller_level

    assert controller_level(gas, value) == level


def test_demo_controller_reports_its_own_levels_and_a_faulted_sensor():
    """The demo's simulated 8-channel controller read through the demo's own bus config: its own level
    beside each value (20 %LEL is its level 1, 25 the appliance's), and a faulted channel's 0xFFFF + fault bit."""
    import tomllib

    from drivers.sim.plant import CHANNELS, Plant, points_toml

    vals = [float(c[8]) for c in CHANNELS]
    vals[0], vals[2] = 22.0, 45.0  # CH4 past the controller's 20 %LEL; EX past its 40

    class Steady(Plant):
        def values(self, t: float) -> list[float]:
            return vals

    port = free_port()
    plant = Steady(port)
    plant.faulted.add(1)  # the H2S sensor
    plant.start()
    bus = None
    try:
        (bus_cfg,) = tomllib.loads(points_toml(port))["buses"]
        bus = ModbusTcp(ModbusConfig.model_validate(bus_cfg), lambda rs: None)
        got = {r.point: r for r in bus.poll_once()}
        assert [(b.start, b.count) for b in bus.devices[0].blocks] == [(0, 16)]  # values + status: one read
    finally:
        if bus is not None:
            bus.stop()
        plant.stop()
    assert (got["GT-101"].value, got["GT-101"].controller) == (22.0, 1)
    assert (got["GT-201"].value, got["GT-201"].controller) == (45.0, 2)
    assert got["GT-102"].quality == "bad" and got["GT-102"].value is None
    assert got["GT-102"].reason == "controller reports sensor fault; sensor fault code 0xFFFF"
    assert all(got[c[0]].controller == 0 and got[c[0]].quality == "good" for c in CHANNELS[3:])


def _crc16(data: bytes) -> bytes:
    crc = 0xFFFF
    for b in data:
        crc ^= b
        for _ in range(8):
            crc = (crc >> 1) ^ 0xA001 if crc & 1 else crc >> 1
    return crc.to_bytes(2, "little")


@pytest.mark.parametrize("good_crc", [True, False])
def test_rtu_bad_crc_is_a_fault_not_a_value(pty_pair, good_crc):
    """A device answering with a corrupted frame (wrong CRC): the read fails, the point is bad, no value.
    The same hand-made device with a right CRC is read fine (so the failure is the CRC's)."""
    import threading

    import serial

    a, b = pty_pair
    cfg = ModbusConfig.model_validate({
        "type": "modbus_rtu", "name": "rs485-noisy", "serial_port": b, "baudrate": 9600, "timeout_s": 0.5,
        "retries": 0, "devices": [{"name": "d", "unit": 1, "registers": [{"point": "X", "address": 0, "type": "uint16"}]}]})
    stop, opened = threading.Event(), threading.Event()

    def noisy_device():
        with serial.Serial(a, 9600, timeout=0.2) as s:
            opened.set()
            req = b""
            while not stop.is_set():
                req += s.read(8 - len(req))  # 01 03 00 00 00 01 CRC CRC, possibly in pieces
                if len(req) == 8:
                    req = b""
                    body = bytes([1, 3, 2, 0x01, 0x2C])  # 300
                    s.write(body + (_crc16(body) if good_crc else b"\xde\xad"))

    th = threading.Thread(target=noisy_device, daemon=True)
    th.start()
    assert opened.wait(5)
    time.sleep(0.1)
    bus = REGISTRY["modbus_rtu"](cfg, lambda rs: None)
    try:
        (r,) = bus.poll_once()
        if good_crc:
            assert r.quality == "good" and r.value == 300.0
        else:
            assert r.quality == "bad" and r.value is None and r.reason.startswith("comm")
            assert bus.health()["status"] == "fault"
    finally:
        stop.set()
        bus.stop()
        th.join(2)
