"""`safety-appliance demo`: the appliance on the demo plant with simulated devices, and the wall board opened.

Split from cli.py (one module per group of commands, as cli_ops.py and cli_sync.py): the simulators, the sync
receiver and the demo's seed are started here, then the appliance runs as `run` runs it.
"""
from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path


def open_kiosk(url: str) -> None:
    """Open the wall board full-screen where there is a display; otherwise the URL is printed."""
    if not (os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY")):
        return
    browser = shutil.which("chromium") or shutil.which("chromium-browser")
    if browser:
        subprocess.Popen([browser, "--kiosk", "--noerrdialogs", "--autoplay-policy=no-user-gesture-required",
                          "--disable-background-networking", url],
                         stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    else:
        import webbrowser
        webbrowser.open(url)


def cmd_demo(args) -> int:
    import socket
    from concurrent.futures import Future, ThreadPoolExecutor

    from appliance import demo, demo_contractors, demo_emergency
    from drivers.sim.plant import Plant

    plant = badges = None
    sim_port = None
    tappers: list = []   # the walker, the gate's contractors, the evacuation: stopped at the end
    receiver = None if args.no_receiver else demo.DemoReceiver(Path(args.data))

    def start_badges() -> str:
        from appliance.demo_patrol import Walker, readers

        assert badges is not None
        readers(badges)      # emulated NFC readers at the demo's checkpoints, and an inspector who walks
        demo_emergency.readers(badges)                      # + the assembly point's reader (MUSTER-1)
        toml = demo_contractors.readers(badges)             # + the gate's reader (GATE): every reader's TOML
        tappers.append(Walker(badges).start())
        tappers.append(demo_contractors.GateTapper(badges).start())  # one allowed, two refused (licence, 焊工证)
        if args.scenario == "gas-leak":
            tappers.append(demo_emergency.Evacuation(badges).start())
        return toml

    # The simulated devices and the sync receiver are processes of their own that take a while to say they are
    # ready: started side by side while this process imports the appliance, not one after the other (start
    # to healthy, bench/footprint.py, issue 14).
    pool = ThreadPoolExecutor(3, thread_name_prefix="demo-start")
    started: list[Future] = []
    if not args.no_devices:
        from drivers.sim.badges import Badges

        with socket.socket() as s:  # a free port for the simulated gas controller (a real Modbus server)
            s.bind(("127.0.0.1", 0))
            sim_port = s.getsockname()[1]
        pty_dir = Path(args.data).resolve() / "dev"
        pty_dir.mkdir(parents=True, exist_ok=True)
        plant = Plant(sim_port, args.scenario, speed=args.scenario_speed, pty_dir=str(pty_dir))
        badges = Badges()
        started += [pool.submit(plant.start), pool.submit(start_badges)]
    if receiver is not None:
        started.append(pool.submit(receiver.start))
    try:
        import appliance.service  # noqa: F401  the appliance's imports, while the simulators start
        readers_toml = started[1].result() if not args.no_devices else ""
        for f in started:
            f.result()   # a simulator that could not start: its error, here
        pool.shutdown()
        return _demo(args, sim_port, plant.field_ports if plant else None, receiver, readers_toml)
    finally:
        pool.shutdown(wait=True)
        for t in reversed(tappers):
            t.stop()
        if badges is not None:
            badges.close()
        if plant is not None:
            plant.stop()
        if receiver is not None:
            receiver.stop()


def _demo(args, sim_port, field_ports, receiver=None, readers_toml: str = "") -> int:
    from appliance import demo
    from appliance.core import db, memory

    config, creds = demo.prepare(args.data, args.port, args.host, sim_port, field_ports,
                                 receiver.port if receiver else None, readers_toml=readers_toml)
    db.database.close()            # the seeding's connection and its page cache: the appliance opens its own
    memory.give_back_freed()       # and the seeding's heap, which would otherwise stay the process's for good
    shown_host = "127.0.0.1" if args.host in ("0.0.0.0", "::") else args.host
    base = f"http://{shown_host}:{args.port}"
    token = creds.get("kiosk_token")
    kiosk_url = f"{base}/kiosk?token={token}" if token else f"{base}/kiosk"
    print("=" * 72)
    print(f" 大屏 / kiosk wall board:  {kiosk_url}")
    print(f" 平板 / tablet:            {base}/tablet")
    print(f" 管理 / admin:             {base}/admin")
    for login, u in creds.get("users", {}).items():
        print(f"   {u['role']:<15} {login:<10} password: {u['password']}")
    print(f" (credentials kept in {config.storage.data_dir / 'demo-credentials.json'})")
    if sim_port:
        print(f" 模拟气体控制器 / simulated gas controller: Modbus TCP 127.0.0.1:{sim_port}"
              + (f", scenario {args.scenario}" if args.scenario else ""))
    if field_ports:
        print(f" 模拟现场仪表 / simulated field devices: Modbus RTU on {field_ports[0]}, serial line on {field_ports[1]}")
    if readers_toml:
        cp_token = creds.get("checkpoint_tokens", {}).get("CP-TANK")
        suffix = f"?token={cp_token}" if cp_token else ""
        print(f" 巡检点屏 / checkpoint screen:  {base}/checkpoint/CP-TANK{suffix}  (CP-REACT, CP-DOCK, CP-WH alike;"
              " tokens in the credentials file)")
        print(" 模拟巡检 / simulated patrol: emulated badges at CP-TANK, CP-REACT, CP-DOCK, CP-WH (nfcpy udp)")
    if receiver:
        print(f" 同步接收端 / sync receiver: http://127.0.0.1:{receiver.port}/ (pid {receiver.proc.pid}; stop it to "
              f"unplug the uplink, restart it with: {receiver.command})")
    print("=" * 72, flush=True)
    if not args.no_browser:
        open_kiosk(kiosk_url)
    from appliance.service import run

    return run(config)
