"""`make demo` syncs to its own receiver: records arrive; stopping the receiver (unplugging the uplink) and
starting it again loses and duplicates nothing. And the admin page's sync section in a real browser."""
from __future__ import annotations

import json
import os
import re
import signal
import threading

import pytest
import requests

from conftest import PASSWORD, free_port, login_session, run_cli, spawn, spawn_peer, stop_peer, wait_healthy, write_config
from sync_helpers import endpoint_toml, receiver_count, receiver_status, start_receiver, verify, wait_for
from test_browser import browser  # noqa: F401  (the session's chromium, driven by Playwright)


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


@pytest.mark.browser
def test_admin_page_shows_sync_status_and_replays_a_dead_letter(browser, tmp_path):
    """In a real browser: the admin's sync section shows the endpoint, its backlog and the refused record;
    "send again" (forms.js, session + CSRF) resends it once the endpoint takes it; the wall board names the
    sync component (board.js) in the viewer's language."""
    from playwright.sync_api import expect

    rport = free_port()
    rx, _ = start_receiver(tmp_path / "rx", "--reject-type", "person.created", port=rport)
    web = free_port()
    data = tmp_path / "plant"
    seed = spawn(["init-db", "--config", str(write_config(data, port=web, extra=endpoint_toml(
        f"http://127.0.0.1:{rport}/v1")))])
    assert seed.wait(60) == 0
    cfg = data / "appliance.toml"
    cfg.chmod(0o600)
    assert run_cli("create-user", "--config", str(cfg), "--login", "boss", "--role", "admin", "--password-stdin",
                   input=PASSWORD + "\n").returncode == 0
    app = spawn(["run", "--config", str(cfg)])
    threading.Thread(target=lambda: [None for _ in app.stdout], daemon=True).start()
    base = f"http://127.0.0.1:{web}"
    ctx = browser.new_context(viewport={"width": 1280, "height": 900})
    ctx.set_default_timeout(30_000)
    try:
        wait_healthy(base, timeout=60)
        s = login_session(base, "boss")
        assert s.post(f"{base}/api/v1/people", json={"employee_no": "P1", "name": "甲"}, timeout=5).status_code == 201
        wait_for(lambda: requests.get(f"{base}/api/v1/sync/dead-letters", cookies=s.cookies, timeout=5)
                 .json()["dead_letters"], what="the refused person record in the dead letters")
        page = ctx.new_page()
        page.goto(f"{base}/login")
        page.fill("input[name=login]", "boss")
        page.fill("input[name=password]", PASSWORD)
        page.click("main button[type=submit]")
        page.wait_for_url(re.compile(r"/admin$"))
        row = page.locator('tr.sync-endpoint[data-endpoint="hq"]')
        expect(row).to_contain_text("http://127.0.0.1")
        dead = page.locator("table.dead-letters tr[data-dead-letter]")
        expect(dead).to_have_count(1)
        expect(dead.first).to_contain_text("does not accept person.created")
        stop_peer(rx)
        rx, _ = start_receiver(tmp_path / "rx", port=rport)  # the endpoint now takes person records
        dead.first.locator("button.api-button").click()
        wait_for(lambda: not requests.get(f"{base}/api/v1/sync/dead-letters", cookies=s.cookies, timeout=5)
                 .json()["dead_letters"], timeout=30, what="the dead letter resolved")
        assert verify(rport, "test-1")["ok"]
        page.reload()
        expect(page.locator("table.dead-letters")).to_have_count(0)
        board = ctx.new_page()
        board.goto(f"{base}/kiosk?lang=zh-CN")
        expect(board.locator('#components [data-component="sync:hq"] span')).to_have_text("同步 hq")
    finally:
        ctx.close()
        stop_peer(app, timeout=15)
        stop_peer(rx)
