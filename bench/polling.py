"""CPU time per Modbus poll cycle through the appliance's bus driver versus a bare pymodbus client loop.

One real pymodbus TCP server process (`python -m drivers.sim.modbus_server`, ids 1..10) stands for the
plant's gas controllers. Each device holds --uint16 uint16 points (scale 0.1) followed by --float32 float32
points, contiguous, so the driver plans one read per device (10 × 20 registers by default: 150 points).
The registers hold small non-zero values (5.x %LEL) so decoding works on real numbers and no point alarms.

  driver   `ModbusTcp(config, sink).poll_once()` with a no-op sink: plan, read, decode, Reading objects
  sensors  the same with `appliance.gas.sensors.Sensors(config).ingest` as the sink, on a fresh database
           (migrations, WAL, synchronous=FULL), config of --points CH4 %LEL points: alarm evaluation per
           point every cycle; the values do not move, so storage is the first cycle's rows and the per-minute
           aggregates when a minute ends (steady state; see bench/ingest.py for the storage rate)
  raw      a bare `ModbusTcpClient` reading the same blocks (same number of read_holding_registers calls,
           same unit ids, decoding nothing): the baseline

The figure is this process's CPU time (time.process_time: the server is another process) per cycle, and
wall time per cycle; cycles run back to back, in alternating rounds so that load changes hit every side.
Target (GUIDE §5, polling): driver CPU per cycle ≤ 1.5× the bare client loop.

    python bench/polling.py [--devices 10] [--uint16 10] [--float32 5] [--cycles 1000] [--rounds 10]
"""
from __future__ import annotations

import argparse
import struct
import tempfile
import time
from pathlib import Path

from _common import free_port, ratio, result, spawn_ready, terminate, wait_port

from appliance.config import parse_config
from appliance.core import db


def config_toml(port: int, devices: int, n16: int, n32: int, n_points: int, data_dir: Path) -> str:
    """A whole appliance config: [[points]] (CH4, %LEL) and one modbus_tcp bus mapping the polled ones."""
    polled = [[f"GT-{d:02d}-{i:02d}" for i in range(n16 + n32)] for d in range(1, devices + 1)]
    ids = [p for dev in polled for p in dev]
    ids += [f"GX-{i:03d}" for i in range(max(0, n_points - len(ids)))]  # points on other buses
    out = [f'[storage]\ndata_dir = "{data_dir}"\n\n[discovery]\nenabled = false\n']
    for pid in ids:
        out.append(f'[[points]]\nid = "{pid}"\nname = "{pid}"\ngas = "CH4"\nunit = "%LEL"\narea = "BENCH"\n')
    out.append(f'[[buses]]\ntype = "modbus_tcp"\nname = "bench"\nhost = "127.0.0.1"\nport = {port}\n'
               f'timeout_s = 1.0\nretries = 1\npoll_interval_s = 1.0\n')
    for d, points in enumerate(polled, start=1):
        regs = [f'  {{ point = "{p}", address = {i}, type = "uint16", scale = 0.1 }},' for i, p in
                enumerate(points[:n16])]
        regs += [f'  {{ point = "{p}", address = {n16 + 2 * i}, type = "float32" }},' for i, p in
                 enumerate(points[n16:])]
        out.append(f'[[buses.devices]]\nname = "ctrl-{d}"\nunit = {d}\nregisters = [\n' + "\n".join(regs) + "\n]\n")
    return "\n".join(out)


def fill(client, devices: int, n16: int, n32: int) -> None:
    """Values around 5 %LEL in every point (uint16 ×0.1, float32 big-endian words)."""
    for d in range(1, devices + 1):
        words = [50 + (d + i) % 7 for i in range(n16)]
        for i in range(n32):
            hi, lo = struct.unpack(">HH", struct.pack(">f", 4.5 + 0.25 * ((d + i) % 5)))
            words += [hi, lo]
        rr = client.write_registers(0, words, device_id=d)
        if rr.isError():
            raise RuntimeError(f"could not fill device {d}: {rr}")


def timed(fn, cycles: int) -> tuple[float, float]:
    """(CPU s, wall s) for `cycles` calls of fn()."""
    c0, w0 = time.process_time(), time.perf_counter()
    for _ in range(cycles):
        fn()
    return time.process_time() - c0, time.perf_counter() - w0


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--devices", type=int, default=10, help="device ids 1..N on the one server")
    ap.add_argument("--uint16", type=int, default=10, help="uint16 points per device")
    ap.add_argument("--float32", type=int, default=5, help="float32 points per device (2 registers each)")
    ap.add_argument("--points", type=int, default=200, help="points in the Sensors config (at least the polled)")
    ap.add_argument("--cycles", type=int, default=1000, help="poll cycles per side")
    ap.add_argument("--rounds", type=int, default=10, help="alternating rounds")
    ap.add_argument("--dir", help="where to put the database (default: a temporary directory)")
    args = ap.parse_args()
    from pymodbus.client import ModbusTcpClient

    from appliance.gas.sensors import Sensors
    from drivers.modbus import ModbusTcp

    n_regs = args.uint16 + 2 * args.float32
    port = free_port()
    server = spawn_ready(["-m", "drivers.sim.modbus_server", "tcp", "127.0.0.1", str(port),
                          "--ids", ",".join(str(d) for d in range(1, args.devices + 1)),
                          "--registers", str(max(40, n_regs))])
    clients = []
    try:
        wait_port("127.0.0.1", port)
        with tempfile.TemporaryDirectory(prefix="bench-polling-", dir=args.dir) as tmp:
            cfg = parse_config(config_toml(port, args.devices, args.uint16, args.float32, args.points, Path(tmp)))
            bus_cfg = cfg.buses[0]
            db.migrate(cfg.storage.db_path)
            db.open_database(cfg.storage.db_path)
            sensors = Sensors(cfg)

            drv = ModbusTcp(bus_cfg, lambda readings: None)
            drv_s = ModbusTcp(bus_cfg, sensors.ingest)
            raw = ModbusTcpClient("127.0.0.1", port=port, timeout=bus_cfg.timeout_s, retries=bus_cfg.retries)
            clients = [drv, drv_s]
            if not raw.connect():
                raise RuntimeError("bare client cannot connect")
            fill(raw, args.devices, args.uint16, args.float32)
            blocks = [(dev.cfg.unit, b.start, b.count) for dev in drv.devices for b in dev.blocks]
            n_points = sum(len(b.registers) for dev in drv.devices for b in dev.blocks)

            def raw_cycle():
                for unit, start, count in blocks:
                    rr = raw.read_holding_registers(start, count=count, device_id=unit)
                    if rr.isError():
                        raise RuntimeError(f"bare read failed: {rr}")

            def check(readings):
                bad = [r for r in readings if r.quality != "good"]
                if len(readings) != n_points or bad:
                    raise RuntimeError(f"driver read {len(readings)} of {n_points} points, {len(bad)} bad: "
                                       f"{bad[:1]}")

            # warm-up: connect, first Sensors cycle (stores every point once), caches
            for _ in range(5):
                check(drv.poll_once())
                check(drv_s.poll_once())
                raw_cycle()

            print(f"Modbus polling: {args.devices} devices x {n_regs} registers ({args.uint16} uint16 + "
                  f"{args.float32} float32 each, {len(blocks)} reads, {n_points} points) per cycle, one pymodbus "
                  f"TCP server process; {args.cycles} cycles per side in {args.rounds} alternating rounds")
            sides = {"raw": raw_cycle, "driver": drv.poll_once, "sensors": drv_s.poll_once}
            cpu = dict.fromkeys(sides, 0.0)
            wall = dict.fromkeys(sides, 0.0)
            per_round = max(1, args.cycles // args.rounds)
            done = 0
            for _ in range(args.rounds):
                for name, fn in sides.items():
                    c, w = timed(fn, per_round)
                    cpu[name] += c
                    wall[name] += w
                done += per_round
            check(drv.poll_once())
            errors = drv.errors + drv_s.errors
            stored = db.database.execute_sql("SELECT count(*) FROM readings").fetchone()[0]
            raw.close()
            db.database.close()

        out = {"devices": args.devices, "registers_per_device": n_regs, "reads_per_cycle": len(blocks),
               "points": n_points, "sensors_points": len(cfg.points), "cycles": done, "driver_errors": errors,
               "readings_stored": stored}
        for name in sides:
            out[name] = {"cpu_ms": round(cpu[name] / done * 1000, 3), "wall_ms": round(wall[name] / done * 1000, 3)}
        out["ratio_cpu"] = ratio(cpu["driver"], cpu["raw"])
        out["ratio_wall"] = ratio(wall["driver"], wall["raw"])
        out["ratio_cpu_sensors"] = ratio(cpu["sensors"], cpu["raw"])
        out["ratio_wall_sensors"] = ratio(wall["sensors"], wall["raw"])
        label = {"raw": "bare ModbusTcpClient loop", "driver": "ModbusTcp.poll_once, no-op sink",
                 "sensors": f"ModbusTcp.poll_once -> Sensors.ingest ({len(cfg.points)} points)"}
        for name in ("raw", "driver", "sensors"):
            r = out[name]
            tail = "" if name == "raw" else (
                f"   ratio CPU {out['ratio_cpu' if name == 'driver' else 'ratio_cpu_sensors']:.2f}x  wall "
                f"{out['ratio_wall' if name == 'driver' else 'ratio_wall_sensors']:.2f}x")
            print(f"  {label[name]:<52} CPU {r['cpu_ms']:7.3f} ms/cycle  wall {r['wall_ms']:7.3f} ms/cycle{tail}")
        print(f"  target: driver CPU <= 1.5x the bare loop; driver errors {errors}; {stored} "
              f"rows in readings (the first cycle's: the values do not move)")
    finally:
        for c in clients:
            if c.client is not None:
                c.client.close()
        terminate(server)
    result("polling", **out, target_ratio=1.5)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
