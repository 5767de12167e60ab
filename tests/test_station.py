"""A satellite reader station (`safety-appliance reader`) in its own process, reading an emulated badge on
nfcpy's udp frontend, posting signed taps to a real appliance process: every tap arrives exactly once
across an appliance that is killed and restarted, and a station that is killed with taps still queued."""
from __future__ import annotations

import json
import signal
import sqlite3
import time

import pytest

from conftest import close_pipes, free_port, need, run_cli, spawn, stop_peer, wait_healthy, wait_until, write_config

BADGE = "04A1B2C3D4E5F6"
STRANGERS = ["04000000000001", "04000000000002", "04000000000003", "04000000000004"]


@pytest.fixture
def sim():
    try:
        import nfc  # noqa: F401
    except ImportError:
        need(False, "nfcpy (pip install -e .)")
    from drivers.sim.badges import Badges

    s = Badges()
    yield s
    s.close()


def seed(cfg_path) -> None:
    """A person with a badge and a checkpoint at the station's reader (in this process, then closed)."""
    from appliance.config import load_config
    from appliance.core import db, people
    from appliance.domains import create_app
    from appliance.patrol import plans

    create_app(load_config(cfg_path))
    a = people.create_area(people.AreaIn(code="FAR", name="远端泵房", polygon=[[0, 0], [5, 0], [5, 5]]), actor="system:test")
    p = people.create_person(people.PersonIn(employee_no="E100", name="周巡检", kind="employee"), actor="system:test")
    people.issue_badge(people.BadgeIn(uid=BADGE, person_id=p.id), actor="system:test")
    plans.create_checkpoint(plans.CheckpointIn(code="CP-FAR", name="远端泵房", area_id=a.id, reader="CP-FAR"),
                             actor="system:test")
    db.database.close()


def reader_ready(status, since: float = 0) -> bool:
    """The station's status file says its reader is open (written after `since`, a unix time)."""
    try:
        s = json.loads(status.read_text())
    except (OSError, ValueError):
        return False
    return s["at"] >= since * 1000 and s.get("readers", {}).get("CP-FAR") == "ok"


def station_taps(db_path) -> list[tuple]:
    conn = sqlite3.connect(db_path)
    try:
        return conn.execute("SELECT station_tap, uid, outcome FROM patrol_taps WHERE station = 'st-far' ORDER BY id").fetchall()
    finally:
        conn.close()


def test_station_delivers_every_tap_once_across_restarts(tmp_path, sim):
    port = free_port()
    data = tmp_path / "appliance"
    cfg = write_config(data, port=port)
    seed(cfg)
    r = run_cli("create-station", "st-far", "--reader", "CP-FAR", "--config", str(cfg))
    assert r.returncode == 0, r.stderr
    key = r.stdout.strip()
    assert len(key) == 64

    entry = sim.add_nfc("CP-FAR", rearm_after_s=0.2)
    st_dir = tmp_path / "station"
    st_cfg = tmp_path / "station.toml"
    st_cfg.write_text(f'[station]\nname = "st-far"\nkey_env = "SA_STATION_KEY"\nappliance_url = "http://127.0.0.1:{port}"\n'
                      f'data_dir = "{st_dir}"\nretry_max_s = 1\n\n[logging]\nformat = "text"\n\n{sim.toml()}\n',
                      encoding="utf-8")
    assert entry["name"] == "CP-FAR"
    env = {"SA_STATION_KEY": key}
    base = f"http://127.0.0.1:{port}"
    db_path = data / "appliance.db"

    app = spawn(["run", "--config", str(cfg)])
    station = spawn(["reader", "--config", str(st_cfg)], env=env)
    status = st_dir / "status.json"
    try:
        wait_healthy(base)
        assert wait_until(lambda: reader_ready(status), 20)
        sim.present("CP-FAR", BADGE)
        assert wait_until(lambda: len(station_taps(db_path)) == 1, 20), station_taps(db_path)
        assert station_taps(db_path)[0][1:] == (BADGE, "outside_round")

        # the appliance dies: the station keeps accepting taps and holds them
        app.send_signal(signal.SIGKILL)
        app.wait(10)
        close_pipes(app)
        for uid in STRANGERS[:2]:
            sim.present("CP-FAR", uid)
        assert wait_until(lambda: status.exists() and json.loads(status.read_text())["queued"] == 2, 15), \
            status.read_text() if status.exists() else "no status file"
        # ... and the station itself is killed with taps still queued, then comes back
        station.send_signal(signal.SIGKILL)
        station.wait(10)
        close_pipes(station)
        restarted = time.time()
        station = spawn(["reader", "--config", str(st_cfg)], env=env)
        assert wait_until(lambda: reader_ready(status, since=restarted), 20), status.read_text()
        sim.present("CP-FAR", STRANGERS[2])
        assert wait_until(lambda: json.loads(status.read_text())["queued"] == 3, 15), status.read_text()

        app = spawn(["run", "--config", str(cfg)])
        wait_healthy(base)
        assert wait_until(lambda: len(station_taps(db_path)) == 4, 30), station_taps(db_path)
        sim.present("CP-FAR", STRANGERS[3])
        assert wait_until(lambda: len(station_taps(db_path)) == 5, 20), station_taps(db_path)
        time.sleep(1.5)  # nothing more arrives: no duplicate
        rows = station_taps(db_path)
        assert len(rows) == 5 and len({r[0] for r in rows}) == 5
        assert [r[1] for r in rows] == [BADGE, *STRANGERS]
        assert [r[2] for r in rows[1:]] == ["unknown_badge"] * 4
        assert json.loads(status.read_text())["queued"] == 0
        assert run_cli("audit", "verify", "--config", str(cfg)).returncode == 0
    finally:
        stop_peer(station)
        stop_peer(app)


def test_station_with_a_wrong_key_keeps_its_taps(tmp_path, sim):
    port = free_port()
    data = tmp_path / "appliance"
    cfg = write_config(data, port=port)
    seed(cfg)
    assert run_cli("create-station", "st-far", "--reader", "CP-FAR", "--config", str(cfg)).returncode == 0
    sim.add_nfc("CP-FAR", rearm_after_s=0.2)
    st_dir = tmp_path / "station"
    st_cfg = tmp_path / "station.toml"
    st_cfg.write_text(f'[station]\nname = "st-far"\nkey = "{"ab" * 32}"\nappliance_url = "http://127.0.0.1:{port}"\n'
                      f'data_dir = "{st_dir}"\nretry_max_s = 1\n\n{sim.toml()}\n', encoding="utf-8")
    app = spawn(["run", "--config", str(cfg)])
    station = spawn(["reader", "--config", str(st_cfg)])
    try:
        wait_healthy(f"http://127.0.0.1:{port}")
        status = st_dir / "status.json"
        assert wait_until(lambda: reader_ready(status), 20)
        sim.present("CP-FAR", BADGE)
        assert wait_until(lambda: status.exists() and "station_bad_signature" in (json.loads(status.read_text())["error"] or ""), 15)
        assert json.loads(status.read_text())["queued"] == 1
        assert station_taps(data / "appliance.db") == []
        import requests

        h = requests.get(f"http://127.0.0.1:{port}/api/v1/health", timeout=5).json()["components"]["stations"]
        assert h["status"] == "degraded" and h["refused"]["bad_signature"]["station"] == "st-far", h
    finally:
        stop_peer(station)
        stop_peer(app, close=False)
    out = app.stdout.read()
    close_pipes(app)
    assert "station post refused" in out


@pytest.mark.usefixtures("mdns_lock")
def test_station_finds_the_appliance_by_mdns(tmp_path, sim):
    port = free_port()
    data = tmp_path / "appliance"
    cfg = write_config(data, port=port, discovery=True)     # advertised on 127.0.0.1 only
    seed(cfg)
    key = run_cli("create-station", "st-far", "--reader", "CP-FAR", "--config", str(cfg)).stdout.strip()
    sim.add_nfc("CP-FAR", rearm_after_s=0.2)
    st_dir = tmp_path / "station"
    st_cfg = tmp_path / "station.toml"
    st_cfg.write_text(f'[station]\nname = "st-far"\nkey = "{key}"\nappliance_id = "test-1"\n'
                      f'discovery_interfaces = ["127.0.0.1"]\ndata_dir = "{st_dir}"\nretry_max_s = 1\n\n{sim.toml()}\n',
                      encoding="utf-8")
    app = spawn(["run", "--config", str(cfg)])
    station = spawn(["reader", "--config", str(st_cfg)])
    try:
        wait_healthy(f"http://127.0.0.1:{port}")
        assert wait_until(lambda: reader_ready(st_dir / "status.json"), 20)
        sim.present("CP-FAR", BADGE)
        assert wait_until(lambda: len(station_taps(data / "appliance.db")) == 1, 30)
    finally:
        stop_peer(station)
        stop_peer(app)


@pytest.mark.parametrize("body, key", [
    ('[station]\nname = "x"\n', "station"),                                      # neither key nor key_env
    ('[station]\nname = "x"\nkey = "abc"\n', "station.key"),
    ('[station]\nname = "x"\nkey_env = "K"\n[[readers]]\ntype = "nope"\nname = "r"\n', "readers.0.type"),
])
def test_station_config_errors_name_the_key(tmp_path, body, key):
    f = tmp_path / "st.toml"
    f.write_text(body, encoding="utf-8")
    r = run_cli("reader", "--config", str(f))
    assert r.returncode == 2 and key in r.stderr, r.stderr


def test_example_station_config_is_valid(monkeypatch):
    from pathlib import Path

    from satellite.station import load_station_config

    cfg = load_station_config(Path(__file__).resolve().parents[1] / "station.example.toml")
    assert cfg.station.name == "st-north" and cfg.readers[0].type == "pcsc"
    monkeypatch.setenv("SA_STATION_KEY", "0f" * 32)
    assert cfg.station.secret() == bytes.fromhex("0f" * 32)
    monkeypatch.setenv("SA_STATION_KEY", "short")
    with pytest.raises(Exception, match="station.key_env"):
        cfg.station.secret()


def test_a_rogue_answer_does_not_drop_the_taps(tmp_path, sim):
    """Something else answers at the appliance's address (a wrong IP, a rogue box on the LAN) with a 200
    that looks right: the station keeps the taps, because the answer is not signed with its key."""
    import threading
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    class Rogue(BaseHTTPRequestHandler):
        def do_POST(self):
            n = json.loads(self.rfile.read(int(self.headers["Content-Length"])))["taps"]
            body = json.dumps({"results": [{"outcome": "ok", "message": ""} for _ in n]}).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *a):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Rogue)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    sim.add_nfc("CP-FAR", rearm_after_s=0.2)
    st_dir = tmp_path / "station"
    st_cfg = tmp_path / "station.toml"
    st_cfg.write_text(f'[station]\nname = "st-far"\nkey = "{"ab" * 32}"\nappliance_url = "http://127.0.0.1:{server.server_port}"\n'
                      f'data_dir = "{st_dir}"\nretry_max_s = 1\n\n{sim.toml()}\n', encoding="utf-8")
    station = spawn(["reader", "--config", str(st_cfg)])
    try:
        status = st_dir / "status.json"
        assert wait_until(lambda: reader_ready(status), 20)
        sim.present("CP-FAR", BADGE)
        assert wait_until(lambda: "not signed" in (json.loads(status.read_text()).get("error") or ""), 15), status.read_text()
        assert json.loads(status.read_text())["queued"] == 1 and json.loads(status.read_text())["delivered"] == 0
    finally:
        stop_peer(station)
        server.shutdown()
        server.server_close()


def test_a_station_with_a_wrong_clock_takes_the_appliance_time_and_delivers(tmp_path, sim):
    """#16: a Pi has no RTC; a station 15 minutes behind had every post refused as stale, forever. The
    appliance's signed refusal now carries its time: the station corrects its offset, delivers, and the tap
    is recorded at the real time of the tap."""
    from satellite.station import Station, load_station_config

    port = free_port()
    data = tmp_path / "appliance"
    cfg = write_config(data, port=port)
    seed(cfg)
    key = run_cli("create-station", "st-far", "--reader", "CP-FAR", "--config", str(cfg)).stdout.strip()
    sim.add_nfc("CP-FAR", rearm_after_s=0.2)
    st_dir = tmp_path / "station"
    st_cfg = tmp_path / "station.toml"
    st_cfg.write_text(f'[station]\nname = "st-far"\nkey = "{key}"\nappliance_url = "http://127.0.0.1:{port}"\n'
                      f'data_dir = "{st_dir}"\nretry_max_s = 1\n\n{sim.toml()}\n', encoding="utf-8")
    app = spawn(["run", "--config", str(cfg)])
    station = Station(load_station_config(st_cfg), clock=lambda: time.time() - 900).start()
    try:
        wait_healthy(f"http://127.0.0.1:{port}")
        status = st_dir / "status.json"
        assert wait_until(lambda: status.exists() and json.loads(status.read_text()).get("readers", {})
                          .get("CP-FAR") == "ok", 20)
        before = time.time()
        sim.present("CP-FAR", BADGE)
        assert wait_until(lambda: len(station_taps(data / "appliance.db")) == 1, 30), station_taps(data / "appliance.db")
        assert 880 <= station.clock_offset_s <= 920
        conn = sqlite3.connect(data / "appliance.db")
        (at,) = conn.execute("SELECT at FROM patrol_taps WHERE station = 'st-far'").fetchone()
        conn.close()
        assert abs(at / 1000 - before) < 30  # the real time of the tap, not 15 minutes earlier
    finally:
        station.stop()
        stop_peer(app)
