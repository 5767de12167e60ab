"""The gas-leak emergency end to end in a real browser (Playwright + Debian chromium) against a real appliance
process running the demo plant with its simulated gas controller (a real Modbus server) and emulated NFC
readers (nfcpy udp), the assembly point's reader MUSTER-1 among them:

the inspector 刘洋 taps at the tank farm (CP-TANK) → the gas-leak scenario takes GT-101 to level 2 → the wall
board (1080p) shows the incident with 刘洋 last seen at the tank farm, the nearest breathing apparatus and the
route to the gate's assembly point, drawn on the plan → the commander ticks the checklist on a tablet
(820x1180; a double click ticks once) → everyone missing taps in at MUSTER-1 → the muster roll on a phone
(390x844) and the board say everyone is accounted for. Every page: no sideways scroll, CJK text renders.
"""
from __future__ import annotations

import re
import subprocess
import sys
import time

import pytest

from conftest import ROOT, WAIT_MS
from test_browser import Plant

pytestmark = pytest.mark.browser

try:
    from playwright.sync_api import expect
except ImportError:  # pragma: no cover - test_browser's browser fixture reports it
    expect = None

SIZES = {"phone": (390, 844), "tablet": (820, 1180), "1080p": (1920, 1080)}
INSPECTOR = "04A1B2C3D4E5F9"   # 刘洋 (demo.PEOPLE)


class GasPlant(Plant):
    """The demo plant with the simulated gas controller (driven by this test) and emulated readers."""

    def __init__(self, data, readers_toml: str, sim_port: int):
        seed = subprocess.run(
            [sys.executable, "-c", "import sys; from appliance import demo; "
                                   "demo.prepare(sys.argv[1], int(sys.argv[2]), '127.0.0.1', int(sys.argv[3]), "
                                   "readers_toml=sys.argv[4])",
             str(data), "0", str(sim_port), readers_toml], cwd=ROOT, capture_output=True, text=True, timeout=120)
        assert seed.returncode == 0, seed.stdout + seed.stderr
        super().__init__(data, readers_toml)
        text = self.config.read_text(encoding="utf-8")
        if "[[points]]" not in text:
            from drivers.sim.plant import points_toml
            self.config.write_text(text + "\n" + points_toml(sim_port), encoding="utf-8")


@pytest.fixture(scope="module")
def leak_plant(tmp_path_factory):
    from appliance import demo_emergency
    from appliance.demo_patrol import readers
    from conftest import free_port
    from drivers.sim.badges import Badges
    from drivers.sim.plant import Plant as Controller

    sim = Badges()
    controller = Controller(free_port()).start()
    p = None
    try:
        readers(sim)
        p = GasPlant(tmp_path_factory.mktemp("emergency-plant"), demo_emergency.readers(sim), controller.port)
        p.sim, p.controller = sim, controller
        p.start()
        yield p
    finally:
        if p is not None:
            p.kill()
        sim.close()
        controller.stop()


def login(page, plant, who: str) -> None:
    page.goto(f"{plant.base}/login")
    page.fill("input[name=login]", who)
    page.fill("input[name=password]", plant.password(who))
    page.click("main button[type=submit]")
    page.wait_for_url(re.compile(r"/(tablet|admin)"))


def no_overflow(page, where: str) -> None:
    width = page.evaluate("[document.documentElement.scrollWidth, document.documentElement.clientWidth]")
    assert width[0] <= width[1], f"{where}: page scrolls sideways ({width[0]} > {width[1]} px)"


def cjk_renders(page, selector: str) -> None:
    box = page.locator(selector).first.bounding_box()
    assert box and box["width"] > 20 and box["height"] > 10, (selector, box)


def api(plant, path: str) -> dict:
    import requests

    r = requests.get(f"{plant.base}/api/v1{path}", headers={"Authorization": f"Bearer {plant.token}"}, timeout=10)
    assert r.status_code == 200, r.text
    return r.json()


def wait_for(predicate, timeout: float = 60):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        got = predicate()
        if got:
            return got
        time.sleep(0.2)
    raise AssertionError("condition not met in time")


@pytest.mark.parametrize("size", ["phone", "tablet", "1080p"])
def test_emergency_pages_fit_each_screen(leak_plant, new_page, size):
    """The overview (resources with warnings, teams, plans, accident form) and the muster page, every size."""
    leak_plant.ensure_running()
    page = new_page(*SIZES[size])
    login(page, leak_plant, "zhangwei")
    page.goto(f"{leak_plant.base}/tablet/emergency")
    expect(page.locator("#em-resources tr[data-code=BA-01]")).to_contain_text("正压式空气呼吸器")
    expect(page.locator("#em-resources tr[data-code=CS-01]")).to_contain_text("已过期")
    expect(page.locator("#em-res-warn")).to_contain_text(re.compile(r"⚠ \d+ 项"))      # the upkeep count
    cjk_renders(page, "h1")
    no_overflow(page, f"overview {size}")
    page.goto(f"{leak_plant.base}/tablet/emergency/muster")
    cjk_renders(page, "h1")
    no_overflow(page, f"muster {size}")


def post(page, path: str, payload: dict) -> dict:
    """A POST from the logged-in page (its session and CSRF token), as the page's own scripts send it."""
    status, got = page.evaluate(
        """async ([path, payload]) => {
             const r = await fetch("/api/v1" + path, {method: "POST", credentials: "same-origin",
               headers: {"Content-Type": "application/json",
                         "X-CSRF-Token": document.querySelector('meta[name="csrf-token"]').content},
               body: JSON.stringify(payload)});
             return [r.status, await r.json()];
           }""", [path, payload])
    assert status in (200, 201), got
    return got


def test_accident_deadlines_count_down_and_overdue_shows(leak_plant, new_page, tmp_path):
    """The 493号令 clocks tick on the accident page: the 1-hour report is overdue two hours on, in red, and
    the 3-hour one counts down."""
    leak_plant.ensure_running()
    page = new_page(*SIZES["tablet"])
    login(page, leak_plant, "wangfang")
    page.goto(f"{leak_plant.base}/tablet/emergency")
    occurred = int(time.time() * 1000) - 2 * 3600_000 - 60_000
    a = post(page, "/emergency/accidents", {"area": "TANK", "occurred_at": occurred, "kind": "leak",
                                             "title": "储罐区泄漏", "description": "阀门法兰泄漏", "minor_injuries": 1})
    page.goto(f"{leak_plant.base}/tablet/emergency/accidents/{a['id']}")
    late = page.locator('#em-deadlines li[data-code="head_to_authority"] .countdown')
    expect(late).to_have_text(re.compile(r"已超期 01:0[01]:\d\d"))
    expect(late).to_have_class(re.compile(r"\boverdue\b"))
    assert page.locator(".countdown.overdue").first.evaluate("e => getComputedStyle(e).color") == "rgb(255, 255, 255)"
    running = page.locator('#em-deadlines li[data-code="authority_up"] .countdown')
    expect(running).to_have_text(re.compile(r"剩余 00:5[89]:\d\d"))
    expect(running).not_to_have_class(re.compile(r"\boverdue\b"))
    first = running.text_content()
    expect(running).not_to_have_text(first, timeout=3000)                       # it ticks
    expect(page.locator('#em-deadlines li[data-code="investigation_report"] .countdown')).to_have_text(
        re.compile(r"剩余 59天 \d\d:\d\d"))
    no_overflow(page, "accident with countdowns")
    for size in ("phone", "1080p"):
        page.set_viewport_size(dict(zip(("width", "height"), SIZES[size], strict=True)))
        no_overflow(page, f"accident with countdowns, {size}")
    page.screenshot(path=str(tmp_path / "accident-1080p.png"), full_page=True)


def test_drill_evaluation_form_opens_corrective_hazards_once(leak_plant, new_page, tmp_path):
    """A tabletop drill's evaluation on its incident page: the findings (one a line) become hazards; a double
    click sends once; the drill is closed again so the board is free for the leak below."""
    plant = leak_plant
    plant.ensure_running()
    page = new_page(*SIZES["tablet"])
    login(page, plant, "wangfang")
    page.goto(f"{plant.base}/tablet/emergency")
    plan = next(p for p in api(plant, "/emergency/plans")["plans"] if p["scenario"] == "leak")
    started = post(page, "/emergency/drills", {"plan_id": plan["id"], "area": "WH", "form": "tabletop"})
    inc, drill = started["incident"], started["drill"]
    try:
        page.goto(f"{plant.base}/tablet/emergency/incidents/{inc['id']}")
        form = page.locator("#em-evaluation form.evaluation")
        form.locator("textarea[name=summary]").fill("桌面推演按预案完成")
        form.locator("textarea[name=shortcomings]").fill("通讯不畅")
        form.locator("select[name=rating]").select_option("poor")
        form.locator("textarea[data-findings]").fill("对讲机电量不足\n\n  集合点指示牌缺失  \n")
        head = api(plant, "/events?after=0&limit=1")["head"]
        # a double click sends once: the button is disabled from the first click until the page reloads
        form.locator("button[type=submit]").dblclick()
        expect(form.locator("button[type=submit]")).to_be_disabled()
        expect(page.locator("#form-status")).to_have_class(re.compile(r"\bok\b"), timeout=WAIT_MS)
        expect(page.locator("#em-findings li")).to_have_count(2, timeout=WAIT_MS)
        expect(page.locator("#em-findings")).to_contain_text("集合点指示牌缺失")
        expect(page.locator("#em-rating")).to_contain_text("不合格")
        evs = api(plant, f"/events?after={head}&limit=1000")["events"]
        assert [e["type"] for e in evs].count("emergency.drill_evaluated") == 1, evs
        [got] = [d for d in api(plant, "/emergency/drills")["drills"] if d["id"] == drill["id"]]
        assert got["evaluation"]["rating"] == "poor" and len(got["findings"]) == 2
        assert all(f["hazard_id"] for f in got["findings"])
        cjk_renders(page, "#em-evaluation h2")
        no_overflow(page, "drill evaluation")
        page.set_viewport_size(dict(zip(("width", "height"), SIZES["phone"], strict=True)))
        no_overflow(page, "drill evaluation, phone")
        page.screenshot(path=str(tmp_path / "drill-evaluation-phone.png"), full_page=True)
    finally:
        post(page, f"/emergency/incidents/{inc['id']}/close", {"note": "演练结束"})


def test_gas_leak_opens_the_incident_and_the_muster_accounts_for_everyone(leak_plant, new_page):
    plant = leak_plant
    plant.ensure_running()
    # the inspector's round reaches the tank farm
    plant.sim.present("CP-TANK", INSPECTOR, hold_s=0.6)
    wait_for(lambda: any(t.get("reader") == "CP-TANK" and t.get("outcome") in ("ok", "outside_round")
                         for t in api(plant, "/patrol/taps?reader=CP-TANK")["taps"]), 30)

    board = new_page(*SIZES["1080p"])
    board.goto(f"{plant.base}/kiosk?token={plant.token}")
    expect(board.locator("#live-state")).to_have_class(re.compile(r"\bconnected\b"), timeout=WAIT_MS)
    expect(board.locator("#em-board .em-incident")).to_have_count(0)

    # the leak: GT-101 through level 1 to level 2 within ~20 s of cycle time
    plant.controller.started = time.monotonic() - 30
    plant.controller.scenario = "gas-leak"
    panel = board.locator("#em-board .em-incident")
    expect(panel).to_be_visible(timeout=60_000)
    plant.controller.scenario = None
    expect(panel.locator(".em-title")).to_contain_text("储罐区")
    expect(board.locator("#em-board-people")).to_contain_text("刘洋")
    expect(board.locator("#em-board-people")).to_contain_text("储罐区")   # areas by name
    expect(board.locator('#em-board-areas li[data-area="TANK"]')).to_contain_text("到 0/")
    expect(board.locator("#em-board-res")).to_contain_text("正压式空气呼吸器")
    expect(board.locator("#em-board-route")).to_contain_text("储罐区 → 仓库 → 大门")
    expect(board.locator("#em-route-line")).to_have_count(1)                     # drawn on the plan
    expect(board.locator('g.area[data-area="TANK"]')).to_have_class(re.compile(r"\bem-affected\b"))
    cjk_renders(board, "#em-board .em-title")
    no_overflow(board, "board with the incident")

    [inc] = api(plant, "/emergency/incidents?state=open")["incidents"]
    assert inc["area"] == "TANK" and inc["detectors"][0]["point"] == "GT-101" and not inc["drill"]
    assert any(p["person"] == "刘洋" and p["area"] == "TANK" for p in inc["people_near"])
    assert inc["resources"][0]["kind"] == "breathing_apparatus"
    # the tank-farm hot-work permit was suspended by the permits module on the same alarm
    assert any(p["area"] == "TANK" and p["state"] == "suspended" for p in inc["permits"])

    # the commander's checklist on a tablet: a double click ticks a step once
    tablet = new_page(*SIZES["tablet"])
    login(tablet, plant, "wangfang")
    tablet.goto(f"{plant.base}/tablet/emergency/incidents/{inc['id']}")
    head = api(plant, "/events?after=0&limit=1")["head"]
    step = tablet.locator('#em-steps li[data-step="confirm"]')
    step.locator("button").dblclick()
    expect(tablet.locator("#form-status")).to_have_class(re.compile(r"\bok\b"))
    expect(tablet.locator('#em-steps li[data-step="confirm"]')).to_have_class(re.compile(r"\bdone\b"), timeout=WAIT_MS)
    done = [e for e in api(plant, f"/events?after={head}&limit=1000")["events"] if e["type"] == "emergency.step_done"]
    assert len(done) == 1, done
    cjk_renders(tablet, "#em-steps li")
    no_overflow(tablet, "incident checklist")

    # the roll on a phone at the assembly point; everyone missing taps in at MUSTER-1, the inspector first
    phone = new_page(*SIZES["phone"])
    login(phone, plant, "wangfang")
    phone.goto(f"{plant.base}/tablet/emergency/muster")
    expect(phone.locator("#em-missing")).to_contain_text("刘洋")
    no_overflow(phone, "muster roll, people missing")
    from appliance.demo import PEOPLE

    uid = {name: u for _no, name, *_rest, u in PEOPLE}
    missing = [m["person"] for m in api(plant, "/emergency/muster")["missing"]]
    assert "刘洋" in missing
    by_hand = [n for n in missing if len(uid[n]) == 16]   # a FeliCa card (周杰): the ISO 14443-A reader cannot read it
    for name in sorted(set(missing) - set(by_hand), key=lambda n: n != "刘洋"):
        plant.sim.present("MUSTER-1", uid[name], hold_s=0.5)
    for name in by_hand:                                   # the warden marks them on the phone
        row = phone.locator("#em-missing li", has_text=name)
        expect(row).to_have_count(1, timeout=WAIT_MS)
        row.locator("button").click()
        expect(phone.locator("#em-missing li", has_text=name)).to_have_count(0, timeout=WAIT_MS)
    expect(phone.locator("#em-all")).to_be_visible(timeout=WAIT_MS)
    m = api(plant, "/emergency/muster")
    assert m["present"] == m["expected"] == len(missing) and m["missing"] == []
    expect(board.locator("#em-board-muster")).to_have_text(re.compile(rf"{m['expected']}.*{m['expected']}"),
                                                           timeout=WAIT_MS)
    expect(board.locator("#em-board-muster")).to_have_class(re.compile(r"\ball\b"))
    expect(board.locator('#em-board-areas li[data-area="TANK"]')).to_have_class("all")   # per area, as on the phone
    expect(board.locator("#em-board-areas li.some")).to_have_count(0)
    no_overflow(phone, "muster roll, all accounted")
    csv = __import__("requests").get(f"{plant.base}/api/v1/emergency/muster.csv",
                                     headers={"Authorization": f"Bearer {plant.token}"}, timeout=10).text
    assert "刘洋" in csv
