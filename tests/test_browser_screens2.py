"""Issue 15, the rest: the screens that still stopped real users, each in a real browser.

- The alarms page (item 3) is live: a new alarm appears and its state changes without a reload (the SSE
  stream), acknowledge is its own glove-sized button apart from shelving, the shelve duration a labelled
  choice capped by the rules, each card shows the peak since the alarm was raised, and the alarms
  acknowledged this shift stay in a list below. Driven by a real Modbus server through the real bus driver.
"""
from __future__ import annotations

import re

import pytest

from conftest import free_port
from test_browser import GAS_BOARD_POINTS

pytestmark = pytest.mark.browser

try:
    from playwright.sync_api import expect
except ImportError:  # pragma: no cover - the browser fixture reports it
    expect = None

PHONE, TABLET, CHECKPOINT, WALL = (390, 844), (1024, 768), (800, 1280), (1920, 1080)


def _overflow(page) -> int:
    return page.evaluate("document.documentElement.scrollWidth - document.documentElement.clientWidth")


def _login(page, base: str, login: str, password: str) -> None:
    page.goto(f"{base}/login")
    page.fill("input[name=login]", login)
    page.fill("input[name=password]", password)
    page.click("main button[type=submit]")
    page.wait_for_url(re.compile(r"/(tablet|admin)"))


@pytest.fixture(scope="module")
def shots(tmp_path_factory):
    folder = tmp_path_factory.getbasetemp() / "screens"
    folder.mkdir(exist_ok=True)
    return folder


def test_alarms_page_is_live_with_peak_big_ack_labelled_shelve_and_shift_history(new_page, tmp_path, shots):
    from pymodbus.client import ModbusTcpClient

    from appliance.config import load_config
    from appliance.core import auth
    from appliance.gas.rules import MAX_SHELVE_MIN
    from appliance.service import Appliance
    from conftest import spawn_peer, stop_peer, wait_until, write_config

    port = free_port()
    server = spawn_peer(["-m", "drivers.sim.modbus_server", "tcp", "127.0.0.1", str(port), "--ids", "1"])
    w = ModbusTcpClient("127.0.0.1", port=port, timeout=1, retries=0)
    assert wait_until(w.connect, timeout=10), "the Modbus server never accepted"
    w.write_registers(0, [20, 209], device_id=1)  # 2.0 %LEL, 20.9 %VOL
    app = Appliance(load_config(write_config(tmp_path / "d", extra=GAS_BOARD_POINTS.format(port=port)))).start()
    try:
        auth.create_user(auth.UserIn(login="wangfang", password="pw-123456", role="supervisor",
                                     display_name="王芳"), actor="test")
        page = new_page(*TABLET)
        _login(page, app.url, "wangfang", "pw-123456")
        page.goto(f"{app.url}/tablet/alarms")
        expect(page.locator("#live-state")).to_have_class(re.compile(r"\bconnected\b"))
        # no alarm: the empty states say what happens and what to do
        expect(page.locator("#alarm-empty")).to_contain_text("自动出现")
        expect(page.locator("#alarm-history .empty")).to_contain_text("本班")
        page.evaluate("window.__notReloaded = true")

        # a leak: 30 → 62 → 45 %LEL; the card appears by itself and keeps the peak, 62.0
        w.write_register(0, 300, device_id=1)
        card = page.locator(".alarm-card").filter(has_text="反应釜甲烷")
        expect(card).to_have_count(1, timeout=15_000)
        expect(page.locator("#alarm-empty")).to_have_count(0)
        w.write_register(0, 620, device_id=1)
        expect(card).to_have_class(re.compile(r"\blevel2\b"), timeout=15_000)
        expect(card.locator(".peak-value")).to_have_text("62.0", timeout=15_000)
        w.write_register(0, 450, device_id=1)
        expect(card.locator(".reading")).to_have_text("45.0", timeout=40_000)   # the 30 s value refresh
        expect(card.locator(".peak-value")).to_have_text("62.0")
        assert page.evaluate("window.__notReloaded === true"), "the page reloaded"

        # acknowledge: its own big button, apart from the shelve form, whose duration is a labelled select
        ack = card.locator(".ack-form button[type=submit]")
        box = ack.bounding_box()
        assert box["height"] >= 48 and box["width"] >= 48, box
        shelve = card.locator(".shelve-form")
        if shelve.count():   # a supervisor may not shelve a level-2 alarm: the form is not even offered
            assert not shelve.locator(".ack-button").count()
        assert card.locator(".ack-form select, .ack-form input[name=minutes]").count() == 0
        card.locator(".ack-form input[name=note]").fill("关闭阀门，通风")
        page.screenshot(path=str(shots / f"alarms-live-{TABLET[0]}x{TABLET[1]}.png"), full_page=True)
        ack.click()
        # acknowledged: the active card goes (once its gas clears), the shift's list keeps it, by name
        history = page.locator("#alarm-history li").filter(has_text="反应釜甲烷")
        expect(history).to_have_count(1, timeout=15_000)
        expect(history).to_contain_text("王芳")
        expect(history).to_contain_text("62.0")
        expect(history).not_to_contain_text("user:")
        w.write_register(0, 20, device_id=1)
        expect(page.locator(".alarm-card").filter(has_text="反应釜甲烷")).to_have_count(0, timeout=15_000)
        expect(history).to_have_count(1)
        assert page.evaluate("window.__notReloaded === true"), "the page reloaded"

        # a level-1 alarm (low O₂) can be shelved by the supervisor: the duration is a labelled choice
        w.write_register(1, 180, device_id=1)
        o2 = page.locator(".alarm-card").filter(has_text="受限空间氧气")
        expect(o2).to_have_count(1, timeout=15_000)
        expect(o2.locator(".peak-value")).to_have_text("18.0")
        w.write_register(1, 170, device_id=1)  # lower is worse on the 缺氧 side
        expect(o2.locator(".peak-value")).to_have_text("17.0", timeout=40_000)
        select = o2.locator(".shelve-form select[name=minutes]")
        expect(select).to_be_visible()
        label = o2.locator(".shelve-form label:has(select[name=minutes])")
        expect(label).to_contain_text("搁置时长")
        values = [int(v) for v in select.locator("option").evaluate_all("os => os.map(o => o.value).filter(Boolean)")]
        assert values and max(values) <= MAX_SHELVE_MIN, values
        assert select.input_value() == "", "no preselected shelve duration"
        for size in (PHONE, TABLET, WALL):
            page.set_viewport_size({"width": size[0], "height": size[1]})
            assert _overflow(page) <= 0, size
            b = o2.locator(".ack-button").bounding_box()
            assert b["height"] >= 48, (size, b)
            page.screenshot(path=str(shots / f"alarms-{size[0]}x{size[1]}-zh-CN.png"), full_page=True)
    finally:
        app.stop()
        w.close()
        stop_peer(server)

