"""Issue 15, the last of it: names instead of internal ids (item 9), a wall board without its token, a trend
on a new system, times labelled with their zone (item 10), and an empty state that says what to do next on
every list — each in a real browser against the demo plant or an empty appliance.
"""
from __future__ import annotations

import re

import pytest

from conftest import WAIT_MS
from test_browser import Plant
from test_browser_screens import MEASURE, PAGE_TEXTS, PHONE, TABLET, WALL, log_in, missing_texts

pytestmark = pytest.mark.browser

try:
    from playwright.sync_api import expect
except ImportError:  # pragma: no cover - the browser fixture reports it
    expect = None

@pytest.fixture(scope="module")
def plant(tmp_path_factory):
    p = Plant(tmp_path_factory.mktemp("screens3-plant"))
    try:
        p.start()
        yield p
    finally:
        p.kill()


@pytest.fixture(scope="module")
def shots(tmp_path_factory):
    folder = tmp_path_factory.getbasetemp() / "screens"
    folder.mkdir(exist_ok=True)
    return folder


def _ids_in(page) -> list[str]:
    """Internal ids on the page: an actor ("user:wangfang", "system:demo", "device:reader:GATE")."""
    body = page.locator("body").inner_text()
    return [m.group(0) for m in re.finditer(r"\b(?:user|system|device|address):[A-Za-z0-9_.:-]+", body)]


def test_feed_and_lists_show_names_never_ids(plant, new_page, shots):
    """Item 9: the board's live feed and the tablet's lists name people ("刘洋"), readers ("读卡器 GATE") and the
    appliance ("系统"), never "user:liuyang", "device:reader:GATE" or "system:demo"; a hazard dispatched while
    the board watches arrives in the feed by the assignee's name, and so does it after a reload."""
    s = plant.admin_session()
    areas = s.get(f"{plant.base}/api/v1/areas", timeout=10).json()["areas"]
    board = new_page(*WALL)
    board.goto(f"{plant.base}/kiosk?token={plant.token}")
    expect(board.locator("#live-state")).to_have_class(re.compile(r"\bconnected\b"), timeout=WAIT_MS)

    r = s.post(f"{plant.base}/api/v1/hazards", json={"area_id": areas[0]["id"], "category": "设备",
                                                     "description": "配电室门锁损坏，无关人员可进入"}, timeout=10)
    assert r.status_code == 201, r.text
    r = s.post(f"{plant.base}/api/v1/hazards/{r.json()['id']}/dispatch", json={"assignee": "liuyang"}, timeout=10)
    assert r.status_code == 200, r.text
    line = board.locator("#feed li").filter(has_text="配电室门锁损坏").filter(has_text="派发")
    expect(line).to_have_count(1, timeout=WAIT_MS)
    expect(line).to_contain_text("刘洋")
    expect(line).not_to_contain_text("liuyang")
    expect(line.locator(".who")).to_have_text(re.compile(r"\S"))
    # the demo camera's violations by the camera's title, not "dock-cam-1"
    expect(board.locator("#violations li").first).to_contain_text("装卸站台", timeout=WAIT_MS)
    expect(board.locator("#violations")).not_to_contain_text("dock-cam-1")
    assert not _ids_in(board), _ids_in(board)
    # who did it: a name or a label, never a bare login ("admin") or "system"
    whos = board.locator("#feed .who").all_text_contents()
    assert whos and not [w for w in whos if re.fullmatch(r"[a-z][a-z0-9_.-]*", w)], whos
    expect(board.locator("#feed li").filter(has_text="用户登录")).not_to_contain_text("admin")
    expect(board.locator("#status-panel, .status-panel")).not_to_contain_text("dock-cam-1")
    board.screenshot(path=str(shots / "names-board-1920x1080.png"))
    board.reload()
    expect(board.locator("#feed li").filter(has_text="配电室门锁损坏").filter(has_text="刘洋")).to_have_count(1)
    assert not _ids_in(board), _ids_in(board)

    # the event API carries the same names for any other screen
    evs = s.get(f"{plant.base}/api/v1/events?after=0&limit=1000", timeout=10).json()["events"]
    dispatched = [e for e in evs if e["type"] == "hazard.dispatched"][-1]
    assert dispatched["names"]["assignee"] == "刘洋", dispatched["names"]
    cams = [e for e in evs if e["type"] == "vision.violation"]
    assert cams and cams[-1]["names"]["camera"] == "装卸站台 1号摄像头", cams[-1:]
    system = [e for e in evs if e["actor"].split(":")[0] == "system"]
    assert {"system", "system:demo"} <= {e["actor"] for e in system}, {e["actor"] for e in system}
    assert {e["names"]["actor"] for e in system} == {"系统"}, {e["names"]["actor"] for e in system}

    # the tablet's pages: hazards (reporter, assignee), dispatch rules, alarms, violations, patrol, people, admin
    page = new_page(*TABLET)
    log_in(page, plant, "zhangwei")
    for path in ("/tablet", "/tablet/hazards", "/tablet/hazards/rules", "/tablet/alarms", "/tablet/violations",
                 "/tablet/patrol", "/tablet/people", "/tablet/risks"):
        page.goto(f"{plant.base}{path}")
        page.wait_for_load_state("load")
        assert not _ids_in(page), (path, _ids_in(page))
    page.goto(f"{plant.base}/tablet")
    expect(page.locator("h1")).to_contain_text("欢迎，张伟")      # not "欢迎，zhangwei"
    page.goto(f"{plant.base}/tablet/hazards/rules")
    assignee = page.locator("#rule-form select[name=assignee]")
    assert assignee.input_value() == "", "no preselected assignee"
    labels = assignee.locator("option").all_text_contents()
    assert "刘洋" in labels and "liuyang" not in labels, labels


def test_wall_board_without_a_token_says_what_it_needs(plant, new_page, shots):
    """Item 10: /kiosk opened without its screen token explains itself (ask the safety office for a kiosk
    link) in both languages, with a small link for a person's login, instead of a bare password form."""
    for lang, needs, ask in (("zh-CN", "大屏令牌", "安全管理部门"), ("en", "screen token", "safety office")):
        page = new_page(*WALL)
        if lang == "en":
            page.goto(f"{plant.base}/lang/en?next=/kiosk")
        else:
            page.goto(f"{plant.base}/kiosk")
        box = page.locator("#screen-token")
        expect(box).to_contain_text(needs)
        expect(box).to_contain_text(ask)
        assert page.locator("input[name=password]").count() == 0, "a bare password form"
        assert not missing_texts(page.evaluate(PAGE_TEXTS), lang)
        page.screenshot(path=str(shots / f"kiosk-no-token-1920x1080-{lang}.png"))
        for size in (PHONE, TABLET):
            page.set_viewport_size({"width": size[0], "height": size[1]})
            m = page.evaluate(MEASURE)
            assert m["overflow"] <= 0 and m["min"] >= 14, m
            page.screenshot(path=str(shots / f"kiosk-no-token-{size[0]}x{size[1]}-{lang}.png"), full_page=True)
    # a person may still log in from there, and lands on the board
    page = new_page(*TABLET)
    page.goto(f"{plant.base}/kiosk")
    page.locator("#person-login").click()
    page.fill("input[name=login]", "wangfang")
    page.fill("input[name=password]", plant.password("wangfang"))
    page.click("main button[type=submit]")
    page.wait_for_url(re.compile(r"/kiosk$"))
    expect(page.locator(".board")).to_be_visible()


# ---------------------------------------------------------------- a new system: nothing recorded yet


@pytest.fixture(scope="module")
def fresh(tmp_path_factory):
    """An appliance just installed: two gas points on a real Modbus server, users, no other data."""
    from pymodbus.client import ModbusTcpClient

    from appliance.config import load_config
    from appliance.core import auth
    from appliance.service import Appliance
    from conftest import free_port, spawn_peer, stop_peer, wait_until, write_config
    from test_browser import GAS_BOARD_POINTS

    port = free_port()
    server = spawn_peer(["-m", "drivers.sim.modbus_server", "tcp", "127.0.0.1", str(port), "--ids", "1"])
    w = ModbusTcpClient("127.0.0.1", port=port, timeout=1, retries=0)
    assert wait_until(w.connect, timeout=10), "the Modbus server never accepted"
    w.write_registers(0, [20, 209], device_id=1)
    data = tmp_path_factory.mktemp("fresh")
    # the gas board's bus with room for a loaded CI box: a read past 0.3 s there is a device fault, and its
    # alarm (rightly) fills the alarms page that this module checks is empty (a CI run saw it)
    points = GAS_BOARD_POINTS.format(port=port).replace("timeout_s = 0.3\nretries = 0", "timeout_s = 3.0\nretries = 2")
    assert "timeout_s = 3.0" in points
    app = Appliance(load_config(write_config(data / "d", extra=points))).start()
    try:
        for login, role, name in (("root", "admin", "赵刚"), ("wangfang", "supervisor", "王芳"),
                                  ("zhangwei", "safety_officer", "张伟")):
            auth.create_user(auth.UserIn(login=login, password="pw-123456", role=role, display_name=name), actor="test")
        yield app
    finally:
        app.stop()
        w.close()
        stop_peer(server)


def _login(page, base: str, login: str) -> None:
    page.goto(f"{base}/login")
    page.fill("input[name=login]", login)
    page.fill("input[name=password]", "pw-123456")
    page.click("main button[type=submit]")
    page.wait_for_url(re.compile(r"/(tablet|admin)"))


def test_live_feed_names_readers_and_the_system(fresh, new_page, shots):
    """Item 9: events by a badge reader, a satellite station, the appliance and a person arrive in the live
    feed as "读卡器 GATE", "读卡站 …", "系统" and "王芳" — and on a reload the same — never as their ids."""
    from appliance.core import events

    page = new_page(*TABLET)
    _login(page, fresh.url, "wangfang")
    page.goto(f"{fresh.url}/tablet")
    expect(page.locator("#live-state")).to_have_class(re.compile(r"\bconnected\b"), timeout=WAIT_MS)
    events.record("patrol.tap", actor="device:reader:GATE",
                  payload={"reader": "GATE", "status": "refused", "message": "未登记的工卡", "message_en": "unknown badge"})
    events.record("station.activated", actor="device:station:north", payload={"name": "north"})
    events.record("site.updated", actor="system:demo", payload={})
    events.record("hazard.rule_set", actor="user:zhangwei", payload={"assignee": "wangfang", "area_id": None})
    feed = page.locator("#feed")
    expect(feed.locator("li").filter(has_text="刷卡")).to_contain_text("读卡器 GATE", timeout=WAIT_MS)
    expect(feed.locator("li").filter(has_text="读卡站已启用")).to_contain_text("读卡站 north")
    expect(feed.locator("li").filter(has_text="工厂信息已更新").locator(".who")).to_have_text("系统")
    rule = feed.locator("li").filter(has_text="自动派发规则")
    expect(rule).to_contain_text("王芳")
    expect(rule.locator(".who")).to_have_text("张伟")
    assert not _ids_in(page), _ids_in(page)
    page.screenshot(path=str(shots / "names-feed-1024x768.png"), full_page=True)
    page.reload()
    expect(page.locator("#feed li").filter(has_text="刷卡")).to_contain_text("读卡器 GATE")
    expect(page.locator("#feed li").filter(has_text="自动派发规则")).to_contain_text("王芳")
    assert not _ids_in(page), _ids_in(page)


# (page, who, the lists' empty states that must be there: (selector, words that say what to do next zh, en))
EMPTY = [
    ("/tablet/hazards", "wangfang", [("#hazards-empty", "上报隐患", "report it")]),
    ("/tablet/hazards/rules", "zhangwei", [("#rules .empty", "下方表单", "form below")]),
    ("/tablet/risks", "zhangwei", [("#register .empty", "导入", "Import")]),
    ("/tablet/patrol", "zhangwei", [("#rounds .empty", "巡检计划", "plan"), ("tr.empty", "新建巡检点", "Add one"),
                                    ("tr.empty", "巡检点编号", "list their codes"), ("tr.empty", "巡检时间", "set its times"),
                                    ("tr.empty", "刷工卡", "tap")]),
    ("/tablet/alarms", "wangfang", [("#alarm-empty", "自动出现", "appear"), (".empty", "本班", "shift")]),
    ("/tablet/violations", "wangfang", [(".card.empty", "摄像头", "camera"), (".card.empty", "确认或判为误报", "confirmed")]),
    ("/tablet/people", "zhangwei", [("tr.empty", "添加", "Add")]),
    ("/admin", "root", [("tr.empty", "新建令牌", "Add token"), ("#sync .empty", "配置文件", "config file")]),
]


def test_every_list_says_what_to_do_when_empty(fresh, new_page, shots):
    """Empty states (issue 15): on a new system every list on the tablet pages and the admin page says what
    to do next, in both languages, not a bare "无"; each is long enough to be a sentence."""
    problems = []
    for path, who, wanted in EMPTY:
        for lang in ("zh-CN", "en"):
            page = new_page(*TABLET)
            _login(page, fresh.url, who)
            page.goto(f"{fresh.url}/lang/{lang}?next={path}")
            page.wait_for_load_state("load")
            for sel, zh, en in wanted:
                word = zh if lang == "zh-CN" else en
                if not page.locator(sel).filter(has_text=word).count():
                    problems.append(f"{path} {lang}: no empty state {sel} with {word!r}: "
                                    f"{[e.inner_text() for e in page.locator(sel).all()]}")
            for el in page.locator(".empty").all():
                text = el.inner_text().strip()
                if el.is_visible() and len(text) < (12 if lang == "zh-CN" else 24):
                    problems.append(f"{path} {lang}: a bare empty state {text!r}")
            assert not missing_texts(page.evaluate(PAGE_TEXTS), lang), (path, lang)
            name = path.strip("/").replace("/", "-")
            page.screenshot(path=str(shots / f"empty-{name}-{TABLET[0]}x{TABLET[1]}-{lang}.png"), full_page=True)
            if lang == "zh-CN":   # the empty states fit a phone too
                page.set_viewport_size({"width": PHONE[0], "height": PHONE[1]})
                m = page.evaluate(MEASURE)
                if m["overflow"] > 0 or m["stacked"]:
                    problems.append(f"{path} at 390 px: {m['wide']} {m['stacked']}")
                page.screenshot(path=str(shots / f"empty-{name}-{PHONE[0]}x{PHONE[1]}-{lang}.png"), full_page=True)
            page.close()
    # the wall board's lists: the feed, the taps, the rounds
    board = new_page(*WALL)
    _login(board, fresh.url, "wangfang")
    board.goto(f"{fresh.url}/kiosk")
    for sel in ("#patrol-routes .empty", "#patrol-taps .empty"):
        loc = board.locator(sel)
        if loc.count() and len(loc.inner_text().strip()) < 12:
            problems.append(f"/kiosk: {sel} says {loc.inner_text()!r}")
    board.screenshot(path=str(shots / "empty-board-1920x1080.png"))
    assert not problems, "\n".join(problems)


def test_trend_on_a_new_system_says_how_much_data_there_is(fresh, new_page, shots):
    """Item 10: a trend opens on the last 24 h; a system up for minutes shows what it has with a note
    ("数据不足 24 小时，显示已有 N 小时"), not an empty-looking chart."""
    page = new_page(*WALL)
    _login(page, fresh.url, "wangfang")
    page.goto(f"{fresh.url}/kiosk")
    point = page.locator("#floor-plan [data-point]").first
    expect(point).to_be_visible(timeout=WAIT_MS)
    point.click()
    trend = page.locator("#trend")
    expect(trend).to_be_visible()
    expect(trend.locator('[data-range="24h"]')).to_have_attribute("aria-pressed", "true")
    note = page.locator("#trend-note")
    expect(note).to_be_visible(timeout=WAIT_MS)
    expect(note).to_contain_text("数据不足 24 小时")
    expect(page.locator("#trend-chart canvas").first).to_be_visible()
    page.screenshot(path=str(shots / "trend-new-system-1920x1080.png"))
    assert page.evaluate("parseFloat(getComputedStyle(document.getElementById('trend-note')).fontSize)") >= 24
    trend.locator('[data-range="7d"]').click()
    expect(note).to_contain_text("数据不足 168 小时")
    trend.locator('[data-range="1h"]').click()
    expect(note).to_be_hidden()
