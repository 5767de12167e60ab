"""`make demo` syncs to its own receiver: records arrive; stopping the receiver (unplugging the uplink) and
starting it again loses and duplicates nothing."""
from __future__ import annotations

import json
import os
import signal
import threading

import pytest
import requests

from conftest import free_port, login_session, spawn, spawn_peer, stop_peer, wait_healthy
from sync_helpers import receiver_count, receiver_status, verify, wait_for


@pytest.mark.slow
def test_demo_records_reach_its_receiver_across_a_receiver_restart(tmp_path):
    port, data = free_port(), tmp_path / "plant"
    proc = spawn(["demo", "--port", str(port), "--data", str(data), "--host", "127.0.0.1", "--no-browser",
                  "--no-devices"])
    lines: list[str] = []
    threading.Thread(target=lambda: [lines.append(line) for line in proc.stdout], daemon=True).start()
    base = f"http://127.0.0.1:{port}"
    rx2 = None
    try:
        wait_healthy(base, timeout=60)
        rdir = data / "demo-receiver"
        rport = int((rdir / "port").read_text())
        assert any(f"127.0.0.1:{rport}" in line for line in lines), lines
        toml = (data / "appliance.toml").read_text()
        assert "secret_env" in toml and (rdir / "secret").read_text().strip() not in toml  # never in the file

        def head():
            return requests.get(f"{base}/api/v1/health", timeout=5).json()["components"]["database"]["event_head"]

        wait_for(lambda: receiver_count(rport, "demo-plant") >= head() > 0, timeout=60, what="demo records arrive")
        # unplug: the receiver goes away; records keep being written and wait
        os.kill(int((rdir / "pid").read_text()), signal.SIGKILL)
        creds = json.loads((data / "demo-credentials.json").read_text(encoding="utf-8"))
        s = login_session(base, "admin", creds["users"]["admin"]["password"])
        for i in range(5):
            assert s.post(f"{base}/api/v1/people", json={"employee_no": f"U{i}", "name": f"离线{i}"}, timeout=5).status_code == 201

        def failing():
            c = requests.get(f"{base}/api/v1/health", timeout=5).json()["components"]["sync:demo-receiver"]
            return c if c["status"] == "degraded" and c["backlog_total"] >= 5 else None

        c = wait_for(failing, timeout=30, what="the sync shows the receiver is gone")
        assert "unreachable" in c["last_error"]
        page = s.get(f"{base}/admin", timeout=5).text
        assert 'data-endpoint="demo-receiver"' in page
        # plug back in: the same receiver, same data, same port
        secret = (rdir / "secret").read_text().strip()
        os.environ["SYNC_RECEIVER_SECRET"] = secret
        try:
            rx2 = spawn_peer(["-m", "appliance", "receiver", "--port", str(rport), "--data", str(rdir)])
        finally:
            del os.environ["SYNC_RECEIVER_SECRET"]
        n = head()
        wait_for(lambda: receiver_count(rport, "demo-plant") >= n, timeout=60, what="the backlog drains")
        v = verify(rport, "demo-plant")
        assert v["ok"] and v["events"] == receiver_count(rport, "demo-plant") >= n
        assert receiver_status(rport)["stats"]["rejected"] == 0
    finally:
        if rx2 is not None:
            stop_peer(rx2)
        stop_peer(proc, timeout=15)
