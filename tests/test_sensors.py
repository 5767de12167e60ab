"""The gas loop end to end: a real Modbus server → the bus driver → alarms → events, API, acknowledgement.

The test plays the plant: it writes detector values into the server's registers with an ordinary Modbus
client, and reads what the appliance made of them through its HTTP API and event stream.
"""
from __future__ import annotations

import time

import pytest
import requests

from appliance.config import load_config
from appliance.core import auth, events
from conftest import PASSWORD, free_port, login_session, spawn_peer, stop_peer, write_config

SERVER = ["-m", "drivers.sim.modbus_server"]

POINTS = """
[[points]]
id = "GT-101"
name = "储罐区甲烷"
name_en = "Tank farm CH4"
gas = "CH4"
area = "TANK"
x = 500
y = 200
delay_on_s = 0

[[points]]
id = "GT-102"
name = "反应车间硫化氢"
gas = "H2S"
unit = "ppm"
range_high = 50

[[buses]]
type = "modbus_tcp"
name = "gas-ctrl"
host = "127.0.0.1"
port = {port}
timeout_s = 0.3
retries = 0
poll_interval_s = 0.2
backoff_max_s = 0.4

[[buses.devices]]
name = "ctrl-1"
unit = 1
registers = [
  {{ point = "GT-101", address = 0, type = "uint16", scale = 0.1 }},
  {{ point = "GT-102", address = 1, type = "uint16", scale = 0.1, fault_codes = [0xFFFF] }},
  {{ point = "GT-101", address = 2, bit = 0, role = "alarm1" }},
  {{ point = "GT-101", address = 2, bit = 1, role = "alarm2" }},
]
"""


@pytest.fixture
def plant(tmp_path):
    port = free_port()
    server = spawn_peer([*SERVER, "tcp", "127.0.0.1", str(port), "--ids", "1"])
    time.sleep(0.3)
    from pymodbus.client import ModbusTcpClient

    w = ModbusTcpClient("127.0.0.1", port=port, timeout=1, retries=0)
    assert w.connect()
    from appliance.service import Appliance

    cfg = load_config(write_config(tmp_path / "d", extra=POINTS.format(port=port)))
    app = Appliance(cfg).start()
    auth.create_user(auth.UserIn(login="sup", password=PASSWORD, role="supervisor"), actor="test")
    auth.create_user(auth.UserIn(login="officer", password=PASSWORD, role="safety_officer"), actor="test")
    token = auth.create_device_token("wall", actor="test")
    state = {"server": server, "port": port}
    yield app, w, token, state
    app.stop()
    w.close()
    stop_peer(state["server"])


def points(app, token):
    r = requests.get(f"{app.url}/api/v1/points", headers={"Authorization": f"Bearer {token}"}, timeout=5)
    assert r.status_code == 200
    return {p["id"]: p for p in r.json()["points"]}


def wait_for(fn, what, timeout=10):
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        last = fn()
        if last:
            return last
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}: {last}")


def test_values_alarms_ack_and_clear(plant):
    app, w, token, _ = plant
    w.write_registers(0, [50, 20], device_id=1)  # 5.0 %LEL, 2.0 ppm
    p = wait_for(lambda: (ps := points(app, token))["GT-101"]["value"] == pytest.approx(5.0) and ps, "first values")
    assert p["GT-101"]["state"] == "normal" and p["GT-101"]["unit"] == "%LEL"
    assert p["GT-102"]["thresholds"][0]["value"] == 7.05  # GB/T 50493 default from the OEL table

    head = events.head_seq()
    w.write_register(0, 300, device_id=1)  # 30 %LEL: first level
    wait_for(lambda: points(app, token)["GT-101"]["state"] == "alarm1", "alarm1")
    w.write_register(0, 620, device_id=1)  # 62 %LEL: second level
    wait_for(lambda: points(app, token)["GT-101"]["state"] == "alarm2", "alarm2")
    w.write_register(0, 40, device_id=1)   # the leak is stopped, but the alarm stays latched
    time.sleep(0.6)
    assert points(app, token)["GT-101"]["state"] == "alarm2"

    types = [(e.type, e.payload.get("level")) for e in events.read_after(head, 100)]
    assert ("alarm.raised", 1) in types and ("alarm.raised", 2) in types and ("alarm.cleared", 0) in types
    active = requests.get(f"{app.url}/api/v1/alarms?active=1", headers={"Authorization": f"Bearer {token}"},
                          timeout=5).json()["alarms"]
    (alarm,) = [a for a in active if a["point"] == "GT-101"]
    assert alarm["level"] == 2 and alarm["cleared_at"] and alarm["acked_at"] is None

    # the kiosk may look but not acknowledge; the supervisor acknowledges from the tablet
    r = requests.post(f"{app.url}/api/v1/alarms/{alarm['id']}/ack", json={},
                      headers={"Authorization": f"Bearer {token}"}, timeout=5)
    assert r.status_code == 403
    sup = login_session(app.url, "sup")
    r = sup.post(f"{app.url}/api/v1/alarms/{alarm['id']}/ack", json={"note": "现场已处置，阀门关闭"}, timeout=5)
    assert r.status_code == 200 and r.json()["acked_by"] == "user:sup"
    assert points(app, token)["GT-101"]["state"] == "normal"
    assert sup.post(f"{app.url}/api/v1/alarms/{alarm['id']}/ack", json={}, timeout=5).status_code == 409
    acked = [e for e in events.read_after(head, 200) if e.type == "alarm.acked"]
    assert acked and acked[0].payload["note"] == "现场已处置，阀门关闭" and acked[0].actor == "user:sup"

    hist = requests.get(f"{app.url}/api/v1/points/GT-101/history?range=1h",
                        headers={"Authorization": f"Bearer {token}"}, timeout=5).json()["series"]
    states = [h["state"] for h in hist]
    assert {"normal", "alarm1", "alarm2"} <= set(states)
    r = requests.get(f"{app.url}/api/v1/points/GT-101/history?range=2y", headers={"Authorization": f"Bearer {token}"},
                     timeout=5)
    assert r.status_code == 422


def test_server_killed_is_a_fault_alarm_and_recovers(plant):
    app, w, token, state = plant
    w.write_registers(0, [50, 20], device_id=1)
    wait_for(lambda: points(app, token)["GT-101"]["value"] == pytest.approx(5.0), "first values")
    stop_peer(state["server"])
    p = wait_for(lambda: (ps := points(app, token))["GT-101"]["state"] == "fault" and ps, "fault")
    assert "comm" in p["GT-101"]["fault"] and p["GT-102"]["state"] == "fault"
    health = requests.get(f"{app.url}/api/v1/health", timeout=5).json()
    assert health["components"]["bus:gas-ctrl"]["status"] == "fault"
    assert health["components"]["points"]["status"] == "fault"
    active = requests.get(f"{app.url}/api/v1/alarms?active=1", headers={"Authorization": f"Bearer {token}"},
                          timeout=5).json()["alarms"]
    assert {a["point"] for a in active if a["kind"] == "fault"} == {"GT-101", "GT-102"}

    state["server"] = spawn_peer([*SERVER, "tcp", "127.0.0.1", str(state["port"]), "--ids", "1"])
    wait_for(lambda: points(app, token)["GT-101"]["state"] == "normal", "recovery")  # new server: registers 0
    assert any(e.type == "point.recovered" for e in events.read_after(0, 500))
    fault_alarms = requests.get(f"{app.url}/api/v1/alarms?active=1", headers={"Authorization": f"Bearer {token}"},
                                timeout=5).json()["alarms"]
    assert all(a["cleared_at"] for a in fault_alarms if a["kind"] == "fault")  # cleared, waiting for an ack


def test_shelving_needs_a_reason_and_is_recorded(plant):
    app, w, token, _ = plant
    w.write_register(0, 300, device_id=1)
    wait_for(lambda: points(app, token)["GT-101"]["state"] == "alarm1", "alarm1")
    alarm = requests.get(f"{app.url}/api/v1/alarms?active=1", headers={"Authorization": f"Bearer {token}"},
                         timeout=5).json()["alarms"][0]
    sup = login_session(app.url, "sup")
    r = sup.post(f"{app.url}/api/v1/alarms/{alarm['id']}/shelve", json={"minutes": 30}, timeout=5)
    assert r.status_code == 422 and "reason" in r.json()["error"]["messages"]["en"]
    r = sup.post(f"{app.url}/api/v1/alarms/{alarm['id']}/shelve", json={"minutes": 999, "reason": "x"}, timeout=5)
    assert r.status_code == 422 and r.json()["error"]["details"] == [{"key": "minutes"}]  # beyond one shift
    r = sup.post(f"{app.url}/api/v1/alarms/{alarm['id']}/shelve", json={"minutes": 30, "reason": "探头标定"}, timeout=5)
    assert r.status_code == 200 and r.json()["shelved_until"] > events.now_ms()
    assert r.json()["shelved_level"] == 1
    ev = [e for e in events.read_after(0, 500) if e.type == "alarm.shelved"]
    assert ev and ev[0].payload["reason"] == "探头标定" and ev[0].actor == "user:sup"

    # a rise to level 2 breaks through the shelf: recorded, and the point is no longer shelved
    w.write_register(0, 600, device_id=1)
    wait_for(lambda: points(app, token)["GT-101"]["state"] == "alarm2", "alarm2")
    assert points(app, token)["GT-101"]["shelved_until"] is None
    un = [e for e in events.read_after(0, 500) if e.type == "alarm.unshelved"]
    assert un and un[-1].payload["breakthrough"] is True
    raised = [e for e in events.read_after(0, 500) if e.type == "alarm.raised" and e.payload["level"] == 2]
    assert raised[-1].payload["shelved"] is False  # it sounds

    # a point in level 2: only the safety officer may shelve it, with a reason
    r = sup.post(f"{app.url}/api/v1/alarms/{alarm['id']}/shelve", json={"minutes": 30, "reason": "检修"}, timeout=5)
    assert r.status_code == 403, r.text
    officer = login_session(app.url, "officer")
    r = officer.post(f"{app.url}/api/v1/alarms/{alarm['id']}/shelve", json={"minutes": 30, "reason": "检修隔离"},
                     timeout=5)
    assert r.status_code == 200 and r.json()["shelved_level"] == 2


def test_points_config_errors_name_the_key(tmp_path):
    from appliance.config import parse_config
    from appliance.core.errors import ConfigError

    bad = POINTS.format(port=502).replace('gas = "H2S"', 'gas = "XYZ"')
    with pytest.raises(ConfigError) as e:
        parse_config(bad)
    assert "points.1.gas" in e.value.en and "unknown gas" in e.value.en
    bad = POINTS.format(port=502).replace('point = "GT-102"', 'point = "GT-999"')
    with pytest.raises(ConfigError) as e:
        parse_config(bad)
    assert "GT-999" in e.value.en and "not in [[points]]" in e.value.en
    bad = POINTS.format(port=502).replace('unit = "ppm"', 'unit = "furlongs"')
    with pytest.raises(ConfigError) as e:
        parse_config(bad)
    assert "no default set-points for H2S in furlongs" in e.value.en


def test_escalation_load_and_retention(plant):
    app, w, token, _ = plant
    w.write_register(0, 300, device_id=1)
    wait_for(lambda: points(app, token)["GT-101"]["state"] == "alarm1", "alarm1")
    s = app.runtime.sensors
    assert s.escalate(after_min=10) == 0  # not yet
    assert s.escalate(after_min=10, now=events.now_ms() + 11 * 60_000) == 1
    assert s.escalate(after_min=10, now=events.now_ms() + 12 * 60_000) == 0  # once per alarm
    ev = [e for e in events.read_after(0, 500) if e.type == "alarm.escalated"]
    assert ev and ev[0].payload["point"] == "GT-101" and ev[0].payload["to"] == "safety_officer"
    load = requests.get(f"{app.url}/api/v1/alarms/load", headers={"Authorization": f"Bearer {token}"}, timeout=5).json()
    assert load["standing"] == 1 and load["per_10_min_peak_24h"] == 1 and load["target_per_10_min"] == 1.0
    n_alarms = len(requests.get(f"{app.url}/api/v1/alarms", headers={"Authorization": f"Bearer {token}"},
                                timeout=5).json()["alarms"])
    removed, _ = s.prune(readings_days=1, minutes_days=1, now=events.now_ms() + 2 * 86_400_000)
    assert removed >= 1  # telemetry goes with age ...
    assert len(requests.get(f"{app.url}/api/v1/alarms", headers={"Authorization": f"Bearer {token}"},
                            timeout=5).json()["alarms"]) == n_alarms  # ... safety records stay


def test_controller_truth_beside_ours(plant):
    """The controller's own status bits and its sensor-fault code reach the point (GB/T 50493: the board
    shows the controller's alarm beside the appliance's when they differ)."""
    app, w, token, _ = plant
    w.write_registers(0, [220, 20, 0b11], device_id=1)  # 22 %LEL: below our level 1, but the controller says L2
    p = wait_for(lambda: (ps := points(app, token))["GT-101"]["controller"] == 2 and ps, "controller level")
    assert p["GT-101"]["state"] == "normal" and p["GT-101"]["condition"] == 0
    w.write_register(1, 0xFFFF, device_id=1)  # the vendor's sensor-fault code: a fault, never 6553.5 ppm
    p = wait_for(lambda: (ps := points(app, token))["GT-102"]["state"] == "fault" and ps, "fault code")
    assert "0xFFFF" in p["GT-102"]["fault"] and p["GT-102"]["value"] != 6553.5


def test_retention_prunes_in_short_chunks_and_keeps_the_recent(app, config):
    """The nightly cleanup deletes old telemetry point by point in short transactions (an alarm write
    never waits behind one long delete); rows inside the retention stay."""
    from appliance.core.db import database
    from appliance.gas.sensors import Sensors

    day = 86_400_000
    now = events.now_ms()
    rows = [(p, now - (3 * day if i < 2500 else 0) - i, float(i), "normal") for p in ("A", "B") for i in range(3000)]
    database.connection().executemany("INSERT INTO readings (point, at, value, state) VALUES (?, ?, ?, ?)", rows)
    database.connection().executemany(
        "INSERT INTO reading_minutes (point, minute, min, avg, max, n) VALUES (?, ?, 0, 0, 0, 1)",
        [(p, now - 3 * day - i * 60_000) for p in ("A", "B") for i in range(1500)])
    s = Sensors(config)
    s.PRUNE_CHUNK = 700
    assert s.prune(readings_days=1, minutes_days=1, now=now) == (5000, 3000)
    left = database.execute_sql("SELECT point, count(*) FROM readings GROUP BY point ORDER BY point").fetchall()
    assert left == [("A", 500), ("B", 500)]
    assert database.execute_sql("SELECT count(*) FROM reading_minutes").fetchone()[0] == 0


def test_an_alarm_refused_by_a_locked_database_is_written_with_the_next_batch(tmp_path):
    """Issue 14: a long write elsewhere (a 5 000-row import under web load) held SQLite's lock past
    busy_timeout, and the sensors dropped the alarm's record and event ("could not store sensor data").
    Now what a locked database refused is kept and written first with the next write, at its own time."""
    from appliance.core import db
    from appliance.gas.sensors import Alarm, Sensors
    from drivers.base import Reading

    one = POINTS.split("[[points]]")[1]
    cfg = load_config(write_config(tmp_path / "d", extra="[[points]]" + one))
    db.migrate(cfg.storage.db_path, cfg.storage.backup_dir)
    db.open_database(cfg.storage.db_path, busy_timeout_ms=150)
    s = Sensors(cfg)
    t0 = events.now_ms()
    other = db.connect_raw(cfg.storage.db_path)
    other.execute("BEGIN IMMEDIATE")                          # the long writer
    try:
        s.ingest([Reading("GT-101", 60.0, t0)])               # level 2 at once (delay_on_s = 0)
        assert s._unwritten is not None
        assert s.points["GT-101"].state.shown == 2            # the board shows it meanwhile
    finally:
        other.execute("ROLLBACK")
        other.close()
    s.ingest([Reading("GT-101", 61.0, t0 + 1000)])            # the next poll writes both
    assert s._unwritten is None
    [a] = list(Alarm.select())
    assert a.level == 2 and a.raised_at == t0 and a.kind == "gas"
    raised = [e for e in events.read_after(0, 100) if e.type == "alarm.raised"]
    assert raised and raised[0].occurred_at == t0
    n = db.database.execute_sql("SELECT count(*) FROM readings WHERE point = 'GT-101'").fetchone()[0]
    assert n >= 1
