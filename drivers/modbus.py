"""Modbus TCP and RTU (RS-485) buses: the only module that imports pymodbus.

One `ModbusBus` owns one bus (a TCP connection or a serial line) and serialises every request on it from
its own thread: pymodbus's synchronous clients keep RTU's inter-frame silence (t3.5) between frames.
Devices on the bus are addressed by unit id; each device's register map is planned into as few reads as
Modbus allows (`drivers.registers.plan`) and decoded in software. A device that stops answering is in
fault with the reason and is retried with exponential back-off, while the other devices keep polling;
it recovers by itself. pymodbus's API renames between minor versions, hence the `~=` pin.
"""
from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from typing import Literal, cast

from pydantic import BaseModel, ConfigDict, Field, model_validator
from pymodbus.client import ModbusSerialClient, ModbusTcpClient
from pymodbus.exceptions import ModbusException

from drivers.base import DeviceState, Driver, DriverConfig, Reading, now_ms, register
from drivers.registers import (
    BIT_FUNCTIONS,
    Block,
    DecodeError,
    Function,
    Order,
    Register,
    Role,
    ValueType,
    combine,
    decode_block,
    decode_plain,
    plan,
    reason_for,
)

log = logging.getLogger(__name__)
_tuple_new = tuple.__new__

# pymodbus logs every failed read at ERROR; the bus reports faults itself, once per change.
logging.getLogger("pymodbus").setLevel(logging.CRITICAL)

EXCEPTION_CODES: dict[int | None, str] = {1: "illegal function", 2: "illegal data address", 3: "illegal data value",
                   4: "device failure", 6: "device busy", 10: "gateway path unavailable",
                   11: "gateway target failed to respond"}


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class RegisterConfig(_Strict):
    point: str = Field(pattern=r"^[A-Za-z0-9_.-]{1,40}$")
    function: Function = "holding"
    address: int = Field(ge=0, le=65535)
    type: ValueType = "uint16"
    word_order: Order = "big"
    byte_order: Order = "big"
    scale: float = 1.0
    offset: float = 0.0
    # "value": the point's measurement; "alarm1" / "alarm2" / "fault": a status bit of the controller's
    # own for the point (its level-1 alarm, level-2 alarm, sensor fault)
    role: Role = "value"
    bit: int | None = Field(None, ge=0, le=15)  # this bit of a one-register (16-bit) value
    fault_codes: tuple[int, ...] = Field((), max_length=16)  # raw contents meaning "sensor fault", e.g. [0xFFFF]
    negative_is_fault: bool = False  # a negative raw value (signed types) means "sensor fault"

    @property
    def registers_wide(self) -> int:
        """Registers the value spans (1 for bits)."""
        return Register(self.point, self.function, self.address, self.type).width

    @model_validator(mode="after")
    def _coherent(self) -> RegisterConfig:
        p, is_bit = self.point, self.function in BIT_FUNCTIONS
        if self.bit is not None:
            if is_bit:
                raise ValueError(f"bit: point {p}: a {self.function} is a single bit already; leave bit out")
            if self.registers_wide != 1:
                raise ValueError(f"bit: point {p}: a bit lies in one 16-bit register, but a {self.type} spans "
                                 f"{self.registers_wide}; use type = \"uint16\"")
        if self.role != "value":
            if not is_bit and self.bit is None and self.type != "bool":
                raise ValueError(f"bit: point {p}: its {self.role} status in a {self.function} register needs the "
                                 f"bit (0-15) that carries it (or type = \"bool\" for the whole register)")
            for key, default in (("fault_codes", ()), ("negative_is_fault", False), ("scale", 1.0), ("offset", 0.0)):
                if getattr(self, key) != default:
                    raise ValueError(f"{key}: point {p}: a {self.role} status bit has no {key}")
        sentinels = self.fault_codes or self.negative_is_fault
        if sentinels and (is_bit or self.bit is not None or self.type == "bool"):
            key = "fault_codes" if self.fault_codes else "negative_is_fault"
            raise ValueError(f"{key}: point {p}: a bit has no fault codes")
        if self.negative_is_fault and self.type in ("uint16", "uint32"):
            raise ValueError(f"negative_is_fault: point {p}: a {self.type} is never negative")
        bits = 16 * self.registers_wide
        low = -(1 << (bits - 1)) if self.type in ("int16", "int32") else 0
        for code in self.fault_codes:
            if not low <= code < 1 << bits:
                raise ValueError(f"fault_codes: point {p}: {code} does not fit a {self.type} "
                                 f"({low}..{(1 << bits) - 1})")
        return self

    def register(self) -> Register:
        """The pure register model (negative fault codes of signed types as the unsigned contents they are)."""
        mask = (1 << 16 * self.registers_wide) - 1
        return Register(self.point, self.function, self.address, self.type, self.word_order, self.byte_order,
                        self.scale, self.offset, self.role, self.bit,
                        tuple(sorted({c & mask for c in self.fault_codes})), self.negative_is_fault)


class DeviceConfig(_Strict):
    name: str = Field(min_length=1, max_length=40)
    unit: int = Field(ge=0, le=255)
    max_gap: int = Field(0, ge=0, le=20)  # read across this many unused registers (if the device allows)
    registers: list[RegisterConfig] = Field(min_length=1)

    def register_map(self) -> list[Register]:
        return [r.register() for r in self.registers]

    @property
    def points(self) -> list[str]:
        """The points this device measures (its value entries), in map order."""
        return [r.point for r in self.registers if r.role == "value"]

    @model_validator(mode="after")
    def _fits(self) -> DeviceConfig:
        for r in self.register_map():
            if r.address + r.width > 65536:
                raise ValueError(f"point {r.key}: {r.type} at {r.address} runs past register 65535")
        measured = set(self.points)
        seen: set[tuple[str, str]] = set()
        for e in self.registers:
            if e.role == "value":
                continue
            if e.point not in measured:
                raise ValueError(f"point: {e.point}: its {e.role} status entry names a point with no value "
                                 f"register on device {self.name}")
            if (e.point, e.role) in seen:
                raise ValueError(f"role: point {e.point} has two {e.role} entries on device {self.name}")
            seen.add((e.point, e.role))
        plan(self.register_map(), self.max_gap)
        return self


class ModbusConfig(DriverConfig):
    type: Literal["modbus_tcp", "modbus_rtu"]
    host: str | None = None
    port: int = Field(502, ge=1, le=65535)
    serial_port: str | None = None
    baudrate: int = Field(9600, ge=1200, le=921600)
    parity: Literal["N", "E", "O"] = "N"
    stopbits: Literal[1, 2] = 1
    bytesize: Literal[7, 8] = 8
    timeout_s: float = Field(1.0, gt=0, le=30)
    retries: int = Field(1, ge=0, le=5)
    poll_interval_s: float = Field(1.0, ge=0.1, le=3600)
    backoff_max_s: float = Field(30.0, ge=0.1, le=3600)
    devices: list[DeviceConfig] = Field(min_length=1)

    @property
    def points(self) -> list[str]:
        """The points this bus measures (status entries name points already here)."""
        return [p for d in self.devices for p in d.points]

    @model_validator(mode="after")
    def _complete(self) -> ModbusConfig:
        if self.type == "modbus_tcp" and not self.host:
            raise ValueError("host: a modbus_tcp bus needs a host")
        if self.type == "modbus_rtu" and not self.serial_port:
            raise ValueError("serial_port: a modbus_rtu bus needs a serial_port")
        seen: set[str] = set()
        for point in self.points:
            if point in seen:
                raise ValueError(f"point {point} is mapped twice on bus {self.name}")
            seen.add(point)
        return self


class _Device:
    def __init__(self, bus_name: str, cfg: DeviceConfig):
        self.cfg = cfg
        self.blocks = plan(cfg.register_map(), cfg.max_gap)
        self.points = cfg.points
        self.has_status = any(r.role != "value" for r in cfg.registers)
        self.state = DeviceState(f"{bus_name}/{cfg.name}")
        self.next_try = 0.0


class ModbusBus(Driver):
    """One Modbus bus, polled on its own thread."""

    kind = "bus"

    Config = ModbusConfig
    config: ModbusConfig
    sink: Callable[[list[Reading]], None]

    def __init__(self, config: ModbusConfig, sink: Callable[[list[Reading]], None]):
        super().__init__(config, sink)
        self.devices = [_Device(config.name, d) for d in config.devices]
        self.state = DeviceState(config.name)
        self.client: ModbusTcpClient | ModbusSerialClient | None = None
        self.polls = 0
        self.errors = 0
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def _make_client(self) -> ModbusTcpClient | ModbusSerialClient:
        c = self.config
        if c.type == "modbus_tcp":
            assert c.host is not None  # the config's validator requires a host for modbus_tcp
            return ModbusTcpClient(c.host, port=c.port, timeout=c.timeout_s, retries=c.retries)
        assert c.serial_port is not None  # the config's validator requires a serial_port for modbus_rtu
        return ModbusSerialClient(c.serial_port, baudrate=c.baudrate, parity=c.parity, stopbits=c.stopbits,
                                  bytesize=c.bytesize, timeout=c.timeout_s, retries=c.retries)

    def start(self) -> None:
        self._stop.clear()
        self._thread = threading.Thread(target=self._run, name=f"modbus-{self.config.name}", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread:
            self._thread.join(self.config.timeout_s * (self.config.retries + 1) * 4 + 5)
        if self.client is not None:
            self.client.close()
            self.client = None

    def _run(self) -> None:
        interval = self.config.poll_interval_s
        next_at = time.monotonic()
        while not self._stop.is_set():
            try:
                self.poll_once()
            except Exception:  # a bug here must not end polling of the plant's gas detectors
                log.exception("modbus poll failed", extra={"bus": self.config.name})
            next_at += interval
            delay = next_at - time.monotonic()
            if delay < 0:  # overran: skip the missed cycles rather than bursting
                next_at = time.monotonic()
                delay = 0
            self._stop.wait(delay)

    def poll_once(self) -> list[Reading]:
        """Read every device that is due, hand the readings to the sink, and return them."""
        self.polls += 1
        readings: list[Reading] = []
        now = time.monotonic()
        if self.client is None:
            self.client = self._make_client()
        if not self.client.connected and not self.client.connect():
            reason = f"comm: cannot connect to {self._where()}"
            self.state.fault(reason)
            for dev in self.devices:
                dev.state.fault(reason)
                readings += self._bad(dev, reason)
            self.errors += 1
            self.sink(readings)
            return readings
        self.state.ok()
        for dev in self.devices:
            if now < dev.next_try:
                readings += self._bad(dev, dev.state.reason or "comm: backing off")
                continue
            readings += self._poll_device(dev)
        self.sink(readings)
        return readings

    def _poll_device(self, dev: _Device) -> list[Reading]:
        results: list[tuple[Register, float | DecodeError]] = []
        plain: list[tuple[tuple[str, ...], list[float]]] = []   # blocks whose values all came good at once
        for block in dev.blocks:
            try:
                data = self._read(block, dev.cfg.unit)
            except _ReadFailed as exc:
                self.errors += 1
                dev.state.fault(str(exc))
                backoff = min(self.config.backoff_max_s, self.config.poll_interval_s * 2 ** (dev.state.failures - 1))
                dev.next_try = time.monotonic() + backoff
                if exc.connection_lost and self.client is not None:
                    self.client.close()  # reconnect on the next cycle
                return self._bad(dev, str(exc))
            values = None if dev.has_status else decode_plain(block, data)
            if values is None:
                results += decode_block(block, data)
            else:
                plain.append((block.keys, values))
        at = now_ms()
        if dev.has_status:
            out = [Reading(point, v.value, at, "good" if v.reason is None else "bad", v.reason, v.controller)
                   for point, v in combine(results).items()]
        else:  # one entry per point: no folding (the common map, polled every second)
            out = [Reading(r.key, None, at, "bad", reason_for(v)) if isinstance(v, DecodeError)
                   else Reading(r.key, v, at) for r, v in results]
            for keys, vals in plain:   # built as plain tuples: the NamedTuple's own __new__ is a Python call each
                out += [_tuple_new(Reading, (k, v, at, "good", None, None)) for k, v in zip(keys, vals, strict=True)]
        dev.state.ok()
        dev.next_try = 0.0
        return out

    def _read(self, block: Block, unit: int) -> list[int] | list[bool]:
        assert self.client is not None  # poll_once makes the client before any read
        fn = {"holding": self.client.read_holding_registers, "input": self.client.read_input_registers,
              "coil": self.client.read_coils, "discrete": self.client.read_discrete_inputs}[block.function]
        try:
            rr = fn(block.start, count=block.count, device_id=unit)
        except ModbusException as exc:
            raise _ReadFailed(f"comm: {exc}", connection_lost=True) from None
        except OSError as exc:
            raise _ReadFailed(f"comm: {exc}", connection_lost=True) from None
        if rr.isError():
            code = getattr(rr, "exception_code", None)
            raise _ReadFailed(f"exception {code} ({EXCEPTION_CODES.get(code, 'unknown')}) reading "
                              f"{block.function} {block.start}+{block.count}", connection_lost=False)
        # pymodbus declares Sequence; both are lists at run time
        if block.function in ("coil", "discrete"):
            return cast(list[bool], rr.bits[:block.count])
        return cast(list[int], rr.registers)

    def _bad(self, dev: _Device, reason: str) -> list[Reading]:
        at = now_ms()
        return [Reading(p, None, at, "bad", reason) for p in dev.points]

    def _where(self) -> str:
        c = self.config
        return f"{c.host}:{c.port}" if c.type == "modbus_tcp" else f"{c.serial_port}@{c.baudrate}"

    def health(self) -> dict:
        devs = {d.cfg.name: d.state.as_dict() for d in self.devices}
        faults = sum(1 for d in self.devices if d.state.status == "fault")
        status = "ok" if not faults else ("fault" if faults == len(self.devices) else "degraded")
        if self.polls == 0:
            status = "starting"
        out = {"status": status, "type": self.config.type, "where": self._where(), "polls": self.polls,
               "errors": self.errors, "devices": devs}
        if status in ("fault", "degraded"):
            out["reason"] = "; ".join(f"{n}: {d.get('reason')}" for n, d in devs.items() if d["status"] == "fault")
        return out


class _ReadFailed(Exception):
    def __init__(self, msg: str, connection_lost: bool):
        super().__init__(msg)
        self.connection_lost = connection_lost


@register
class ModbusTcp(ModbusBus):
    type_key = "modbus_tcp"


@register
class ModbusRtu(ModbusBus):
    type_key = "modbus_rtu"
