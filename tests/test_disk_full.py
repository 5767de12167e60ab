"""A full data disk (a real 24 MB tmpfs, filled): reads keep working, other writes get a 507 naming the disk,
health says so, and gas alarms and their acknowledgements are still stored, in the safety reserve."""
from __future__ import annotations

import os
import subprocess
import time

import pytest
import requests

from appliance.config import load_config
from appliance.core import auth, events
from conftest import PASSWORD, free_port, login_session, need, spawn_peer, stop_peer, wait_until, write_config

POINT = """
[[points]]
id = "GT-101"
name = "储罐区甲烷"
gas = "CH4"

[[buses]]
type = "modbus_tcp"
name = "ctrl"
host = "127.0.0.1"
port = {port}
timeout_s = 0.3
retries = 0
poll_interval_s = 0.2

[[buses.devices]]
name = "c"
unit = 1
registers = [{{ point = "GT-101", address = 0, type = "uint16", scale = 0.1 }}]
"""


@pytest.fixture
def small_disk(tmp_path):
    """A 24 MB filesystem of its own (tmpfs): filling it fills nothing else."""
    need(os.geteuid() == 0, "root, to mount a small tmpfs as the data disk")
    d = tmp_path / "disk"
    d.mkdir()
    r = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=24m", "tmpfs", str(d)], capture_output=True, text=True)
    need(r.returncode == 0, f"mounting a tmpfs ({r.stderr.strip()})")
    yield d
    subprocess.run(["umount", "-l", str(d)], check=False)


def fill(d) -> None:
    with open(d / "filler", "wb") as fh:
        try:
            while True:
                fh.write(b"\xff" * 65536)
                fh.flush()
        except OSError:
            pass


def test_full_disk_keeps_reads_and_safety_records(small_disk, tmp_path):
    from pymodbus.client import ModbusTcpClient

    from appliance.service import Appliance

    port = free_port()
    server = spawn_peer(["-m", "drivers.sim.modbus_server", "tcp", "127.0.0.1", str(port), "--ids", "1"])
    w = ModbusTcpClient("127.0.0.1", port=port, timeout=1, retries=0)
    cfg_path = write_config(small_disk / "data", extra=POINT.format(port=port))
    text = cfg_path.read_text(encoding="utf-8")  # a small reserve for a small disk
    cfg_path.write_text(text.replace("[storage]\n", "[storage]\nreserve_mb = 4\ndisk_min_free_mb = 1\n", 1),
                        encoding="utf-8")
    cfg = load_config(cfg_path)
    app = Appliance(cfg).start()
    try:
        assert wait_until(w.connect, 10)
        w.write_register(0, 50, device_id=1)
        auth.create_user(auth.UserIn(login="sup", password=PASSWORD, role="supervisor"), actor="test")
        auth.create_user(auth.UserIn(login="adm", password=PASSWORD, role="admin"), actor="test")
        token = auth.create_device_token("wall", actor="test")
        kiosk = {"Authorization": f"Bearer {token}"}
        sup, adm = login_session(app.url, "sup"), login_session(app.url, "adm")
        assert (small_disk / "data" / ".safety-reserve").stat().st_size == 4 * 1024 * 1024
        assert requests.get(f"{app.url}/api/v1/health", timeout=5).json()["components"]["disk"]["reserve_held"]

        fill(small_disk)

        # reads never write: the wall board's token reads on (its "last used" note is best effort)
        r = requests.get(f"{app.url}/api/v1/points", headers=kiosk, timeout=5)
        assert r.status_code == 200 and r.json()["points"][0]["id"] == "GT-101"
        # an ordinary write: a clear 507 naming the disk, not a generic 500
        r = adm.post(f"{app.url}/api/v1/people", json={"employee_no": "E9", "name": "新员工"}, timeout=5)
        assert r.status_code == 507, r.text
        err = r.json()["error"]
        assert err["code"] == "disk_full" and str(small_disk / "data") in err["messages"]["en"]
        comps = requests.get(f"{app.url}/api/v1/health", timeout=5).json()["components"]
        assert comps["disk"]["status"] == "fault" and comps["database"]["status"] == "fault"

        # a leak on a full disk: the alarm is a safety record and is stored (in the reserve)
        w.write_register(0, 600, device_id=1)
        assert wait_until(lambda: any(a["level"] == 2 for a in requests.get(
            f"{app.url}/api/v1/alarms?active=1", headers=kiosk, timeout=5).json()["alarms"]), 15)
        assert not (small_disk / "data" / ".safety-reserve").exists()
        assert any(e.type == "alarm.raised" and e.payload["level"] == 2 for e in events.read_after(0, 500))
        disk = requests.get(f"{app.url}/api/v1/health", timeout=5).json()["components"]["disk"]
        assert disk["status"] == "fault" and "reserve" in disk["reason"]
        # and the supervisor's acknowledgement is stored too
        alarm = requests.get(f"{app.url}/api/v1/alarms?active=1", headers=kiosk, timeout=5).json()["alarms"][0]
        r = sup.post(f"{app.url}/api/v1/alarms/{alarm['id']}/ack", json={"note": "已隔离"}, timeout=5)
        assert r.status_code == 200 and r.json()["acked_by"] == "user:sup"
        time.sleep(0.3)
        assert any(e.type == "alarm.acked" for e in events.read_after(0, 500))
    finally:
        app.stop()
        w.close()
        stop_peer(server)


def test_a_full_disk_seen_before_belongs_to_its_own_data_directory(tmp_path):
    """The failing-writes state is kept for 5 minutes in the process; an appliance started on another data
    directory (the next one in this test process) must not report the old disk's failure as its own (CI:
    /health answered 503 for a fresh appliance after an earlier disk-full test)."""
    from appliance.core import storage

    storage.make_reserve(tmp_path / "a", 0)
    storage.note_full(OSError(28, "No space left on device"))
    assert storage.status()["writes_failing"]
    (tmp_path / "b").mkdir()
    storage.make_reserve(tmp_path / "b", 1)
    st = storage.status()
    assert not st["writes_failing"] and st["last_error"] is None and st["reserve_held"]
    storage.note_full(OSError(28, "No space left on device"))
    storage.make_reserve(tmp_path / "b", 1)   # the same directory at a restart keeps what it knows
    assert storage.status()["writes_failing"]
    storage.make_reserve(tmp_path / "c", 0)
