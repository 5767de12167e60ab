"""A real Modbus server standing for a plant gas controller (pymodbus), for the demo and the tests.

    python -m drivers.sim.modbus_server tcp 127.0.0.1 15020 [--ids 1,2] [--registers 40]
    python -m drivers.sim.modbus_server rtu /dev/pts/5 9600

Each device id has `--registers` holding and input registers (initially 0) and 16 coils and discrete
inputs; anything outside them answers with an exception (illegal data address), as real controllers do.
Clients change values with ordinary Modbus writes. Prints READY once it is about to serve.
"""
from __future__ import annotations

import argparse
import asyncio

from pymodbus.server import ModbusSerialServer, ModbusTcpServer
from pymodbus.simulator import DataType, SimData, SimDevice


def device(dev_id: int, registers: int, values: list[int] | None = None) -> SimDevice:
    holding = (values or []) + [0] * (registers - len(values or []))
    return SimDevice(id=dev_id, simdata=(
        [SimData(0, count=16, values=False, datatype=DataType.BITS)],
        [SimData(0, count=16, values=False, datatype=DataType.BITS)],
        [SimData(0, values=holding, datatype=DataType.REGISTERS)],
        [SimData(0, count=registers, values=0, datatype=DataType.REGISTERS)],
    ))


async def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("mode", choices=["tcp", "rtu"])
    ap.add_argument("where", help="host (tcp) or serial port (rtu)")
    ap.add_argument("port_or_baud", type=int, help="TCP port (tcp) or baud rate (rtu)")
    ap.add_argument("--ids", default="1", help="comma-separated device ids")
    ap.add_argument("--registers", type=int, default=40)
    ap.add_argument("--values", default="", help="initial holding registers from 0, comma-separated")
    a = ap.parse_args()
    values = [int(v) for v in a.values.split(",") if v]
    devices = [device(int(i), a.registers, values) for i in a.ids.split(",")]
    server: ModbusTcpServer | ModbusSerialServer
    if a.mode == "tcp":
        server = ModbusTcpServer(devices, address=(a.where, a.port_or_baud))
    else:
        server = ModbusSerialServer(devices, port=a.where, baudrate=a.port_or_baud, timeout=1)
    print("READY", flush=True)
    await server.serve_forever()


if __name__ == "__main__":
    asyncio.run(main())
