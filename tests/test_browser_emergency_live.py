"""Emergency screens in a real browser against a real appliance (the demo plant, its simulated gas controller,
and a weather station: its own Modbus TCP server whose register 0 is the wind direction, [emergency] wind_point):

- the wind is followed: the board (1080p) and the commander's tablet (1024x768) redraw the downwind areas and
  the route when the weather point turns, without a reload; a fault shows the wind unknown with its last value;
- the resource-warning inbox on a phone: acknowledge, resolve with the new date; the board counts them live;
- the master-data screens (phone and tablet): add, edit, an error that names its field, retire behind the
  shared confirm dialog, a double tap that saves once; the walk graph drawn on the plan.
"""
from __future__ import annotations

import re
import subprocess
import sys
import time

import pytest

from conftest import ROOT, WAIT_MS
from test_browser_emergency import GasPlant, api, login, no_overflow, wait_for
from test_browser_screens import MEASURE

pytestmark = pytest.mark.browser

try:
    from playwright.sync_api import expect
except ImportError:  # pragma: no cover - test_browser's browser fixture reports it
    expect = None

PHONE, TABLET, WALL = (390, 844), (1024, 768), (1920, 1080)
WIND_REGISTER = 0
WEATHER_TOML = """
[[points]]
id = "WD-1"
name = "气象站风向"
name_en = "Weather station wind direction"
gas = "WD"
unit = "°"
area = "CTRL"
x = 100
y = 100
range_high = 360

[[buses]]
type = "modbus_tcp"
name = "weather-station"
host = "127.0.0.1"
port = {port}
timeout_s = 0.5
retries = 1
poll_interval_s = 1.0

[[buses.devices]]
name = "wind-vane"
unit = 1
registers = [{{ point = "WD-1", address = {reg}, type = "uint16", scale = 1.0, fault_codes = [0xFFFF] }}]

[emergency]
wind_point = "WD-1"
wind_sustain_s = 2
"""


@pytest.fixture(scope="module")
def shots(tmp_path_factory):
    folder = tmp_path_factory.getbasetemp() / "screens"
    folder.mkdir(exist_ok=True)
    return folder


@pytest.fixture(scope="module")
def wind_plant(tmp_path_factory):
    from pymodbus.client import ModbusTcpClient

    from appliance import demo_emergency
    from appliance.demo_patrol import readers
    from conftest import free_port
    from drivers.sim.badges import Badges
    from drivers.sim.plant import Plant as Controller

    sim = Badges()
    controller = Controller(free_port()).start()
    station_port = free_port()
    station = subprocess.Popen([sys.executable, "-m", "drivers.sim.modbus_server", "tcp", "127.0.0.1",
                                str(station_port), "--ids", "1", "--registers", "4"], cwd=ROOT,
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    assert station.stdout is not None and station.stdout.readline().strip() == "READY"
    p = None
    vane = ModbusTcpClient("127.0.0.1", port=station_port)
    try:
        readers(sim)
        p = GasPlant(tmp_path_factory.mktemp("emergency-wind"), demo_emergency.readers(sim), controller.port)
        with open(p.config, "a", encoding="utf-8") as f:
            f.write(WEATHER_TOML.format(port=station_port, reg=WIND_REGISTER))
        assert vane.connect()

        def turn(deg: int) -> None:
            r = vane.write_register(WIND_REGISTER, deg, device_id=1)
            assert not r.isError(), r

        turn(350)
        p.sim, p.controller, p.turn = sim, controller, turn
        p.start()
        yield p
    finally:
        vane.close()
        try:
            if p is not None:
                (tmp_path_factory.getbasetemp() / "emergency-wind-plant.log").write_text(p.output, encoding="utf-8")
        finally:
            if p is not None:
                p.kill()
            sim.close()
            controller.stop()
            station.terminate()
            station.wait(10)


def call(page, path: str, body: dict | None = None, method: str = "POST") -> dict:
    """The API from the logged-in page (its session and CSRF token), as its own scripts call it."""
    return page.evaluate("""([path, body, method]) => fetch('/api/v1' + path, {method, credentials: 'same-origin',
        headers: {'Content-Type': 'application/json',
                  'X-CSRF-Token': document.querySelector('meta[name="csrf-token"]').content},
        body: body === null ? undefined : JSON.stringify(body)}).then(r => r.json().then(j => ({status: r.status, body: j})))""",
                         [path, body, method])


def close_open(page, plant) -> None:
    for inc in api(plant, "/emergency/incidents?state=open")["incidents"]:
        assert call(page, f"/emergency/incidents/{inc['id']}/close", {"note": "test"})["status"] == 200


def fits(page, where: str) -> None:
    m = page.evaluate(MEASURE)
    assert m["overflow"] <= 0, f"{where}: scrolls sideways by {m['overflow']} px: {m['wide']}"
    assert m["min"] is None or m["min"] >= 14 - 0.05, (where, m["small"][:5])


def events_of(plant, kind: str, after: int) -> list[dict]:
    return [e for e in api(plant, f"/events?after={after}&limit=1000")["events"] if e["type"] == kind]


def head(plant) -> int:
    return api(plant, "/events?after=0&limit=1")["head"]


# ---------------------------------------------------------------- the wind, followed

def test_the_board_and_the_tablet_redraw_when_the_weather_point_turns(wind_plant, new_page, shots):
    plant = wind_plant
    plant.ensure_running()
    plant.turn(350)
    tablet = new_page(*TABLET)
    login(tablet, plant, "zhangwei")
    close_open(tablet, plant)
    board = new_page(*WALL)
    board.goto(f"{plant.base}/kiosk?token={plant.token}")
    expect(board.locator("#live-state")).to_have_class(re.compile(r"\bconnected\b"), timeout=WAIT_MS)
    # a call with no wind typed: the weather point's (350°, a north wind)
    opened = call(tablet, "/emergency/incidents", {"area": "TANK", "kind": "leak", "title": "罐区泄漏（测试）"})
    assert opened["status"] == 201, opened
    iid = opened["body"]["id"]
    wait_for(lambda: api(plant, f"/emergency/incidents/{iid}")["wind_from"] == 350, 30)
    wind = board.locator("#em-board-wind")
    expect(wind).to_contain_text("350°", timeout=WAIT_MS)
    expect(wind).to_contain_text("气象点实时")
    expect(board.locator('g.area[data-area="WH"]')).to_have_class(re.compile(r"\bem-downwind\b"))
    tablet.goto(f"{plant.base}/tablet/emergency/incidents/{iid}")
    expect(tablet.locator("#em-wind")).to_contain_text("气象点实时")
    board.evaluate("window.__notReloaded = 1")
    tablet.evaluate("window.__notReloaded = 1")
    route_before = board.locator("#em-board-route").inner_text()
    before = head(plant)

    plant.turn(90)                                              # the wind turns east and holds
    expect(wind).to_contain_text("90°", timeout=30_000)
    expect(board.locator('g.area[data-area="CTRL"]')).to_have_class(re.compile(r"\bem-downwind\b"))
    expect(board.locator('g.area[data-area="WH"]')).not_to_have_class(re.compile(r"\bem-downwind\b"))
    expect(tablet.locator("#em-wind")).to_contain_text("90°", timeout=WAIT_MS)
    expect(tablet.locator("#em-downwind")).to_contain_text("中控室")   # by its name, not its code
    expect(tablet.locator("input[name=wind_from]")).to_have_value("90.0")      # the box shows the wind now
    assert board.evaluate("window.__notReloaded") == 1 and tablet.evaluate("window.__notReloaded") == 1   # live
    assert board.locator("#em-board-route").inner_text() != route_before
    [ev] = [e for e in events_of(plant, "emergency.incident_updated", before) if e["payload"].get("change") == "wind"]
    assert ev["payload"]["wind_before"] == 350 and ev["payload"]["wind_from"] == 90
    board.screenshot(path=str(shots / "em-wind-board-1080p.png"))
    tablet.screenshot(path=str(shots / "em-wind-tablet-1024.png"), full_page=True)

    plant.turn(0xFFFF)                                          # the vane's fault code
    expect(wind).to_contain_text("风向未知（气象点故障）", timeout=30_000)
    expect(wind).to_contain_text("最后读数 90°")
    expect(board.locator('g.area[data-area="CTRL"]')).to_have_class(re.compile(r"\bem-downwind\b"))   # plan kept
    board.screenshot(path=str(shots / "em-wind-fault-1080p.png"))

    # a person types a wind: kept while the point comes back and turns
    plant.turn(90)
    expect(wind).to_contain_text("气象点实时", timeout=30_000)
    tablet.fill("input[name=wind_from]", "180")
    tablet.locator("form:has(input[name=wind_from]) button[type=submit]").click()
    expect(wind).to_contain_text("人工输入", timeout=WAIT_MS)
    plant.turn(300)
    time.sleep(8)                                               # more than the sustain time and a follower look
    assert api(plant, f"/emergency/incidents/{iid}")["wind_from"] == 180
    no_overflow(board, "board with the followed wind")
    close_open(tablet, plant)


# ---------------------------------------------------------------- the resource-warning inbox

def test_the_warning_inbox_on_a_phone_and_the_counts_on_the_board(wind_plant, new_page, shots):
    plant = wind_plant
    plant.ensure_running()
    phone = new_page(*PHONE)
    login(phone, plant, "zhangwei")
    close_open(phone, plant)
    board = new_page(*WALL)
    board.goto(f"{plant.base}/kiosk?token={plant.token}")
    expect(board.locator("#live-state")).to_have_class(re.compile(r"\bconnected\b"), timeout=WAIT_MS)
    panel = board.locator(".side-panel #em-upkeep-panel")           # in the side column, under the status
    expect(panel).to_be_visible()
    start = api(plant, "/emergency/resource-warnings")["counts"]
    assert start["open"] >= 1
    expect(panel.locator('[data-count="open"] b')).to_have_text(str(start["open"]))

    phone.goto(f"{plant.base}/tablet/emergency")
    phone.locator("#em-res-warn").click()
    expect(phone).to_have_url(re.compile(r"/tablet/emergency/warnings$"))
    card = phone.locator('#em-warnings li[data-resource="CS-01"][data-what="expiry"]')   # the expired suit
    expect(card).to_contain_text("重型防化服")
    expect(card).to_contain_text("中控室微型消防站")
    expect(card).to_contain_text("已逾期")
    fits(phone, "warnings inbox, phone")
    phone.screenshot(path=str(shots / "em-warnings-390.png"), full_page=True)
    before = head(plant)
    card.locator("form.em-ack button").dblclick()                    # a double tap acknowledges once
    expect(phone.locator('#em-warnings li[data-resource="CS-01"] .em-acked')).to_contain_text("已确认", timeout=WAIT_MS)
    assert len(events_of(plant, "emergency.resource_warning_acked", before)) == 1
    expect(panel.locator('[data-count="open"] b')).to_have_text(str(start["open"] - 1), timeout=WAIT_MS)   # live

    # resolve: replaced, with a date that is not in the future first (the field is named), then a good one
    card = phone.locator('#em-warnings li[data-resource="CS-01"][data-what="expiry"]')
    card.locator("input[name=next_date]").fill("2020-01-01")
    card.locator("form.em-resolve button").click()
    expect(phone.locator("#form-status")).to_contain_text("next_date：新日期应晚于今天", timeout=WAIT_MS)
    card.locator("input[name=next_date]").fill("2036-01-01")
    card.locator("form.em-resolve button").click()
    expect(phone.locator('#em-warnings li[data-resource="CS-01"][data-what="expiry"]')).to_have_count(0, timeout=WAIT_MS)
    cs = [r for r in api(plant, "/emergency/resources")["resources"] if r["code"] == "CS-01"][0]
    assert cs["expires_on"] == "2036-01-01"
    expect(panel.locator('[data-count="overdue"] b')).to_have_text(str(start["overdue"] - 1), timeout=WAIT_MS)
    tab = new_page(*TABLET)
    login(tab, plant, "zhangwei")
    tab.goto(f"{plant.base}/tablet/emergency/warnings")
    fits(tab, "warnings inbox, tablet")
    board.screenshot(path=str(shots / "em-upkeep-board-1080p.png"))


# ---------------------------------------------------------------- master data

def test_resources_and_teams_on_a_phone_add_edit_error_retire(wind_plant, new_page, shots):
    plant = wind_plant
    plant.ensure_running()
    page = new_page(*PHONE)
    login(page, plant, "zhangwei")
    page.goto(f"{plant.base}/tablet/emergency")
    page.locator("#em-setup-link").click()
    expect(page).to_have_url(re.compile(r"/tablet/emergency/setup$"))
    fits(page, "setup, phone")
    page.screenshot(path=str(shots / "em-setup-390.png"), full_page=True)

    # a resource: more available than in stock → the field is named and marked
    form = page.locator("#res-form")
    form.locator("input[name=code]").fill("BA-T1")
    form.locator("input[name=name]").fill("测试空气呼吸器")
    form.locator("select[name=kind]").select_option("breathing_apparatus")
    form.locator("select[name=area]").select_option("WH")
    form.locator("input[name=location]").fill("仓库东门")
    form.locator("input[name=quantity]").fill("2")
    form.locator("input[name=available]").fill("3")
    form.locator("button[type=submit]").click()
    expect(form.locator(".em-form-error")).to_contain_text("可用数量：可用数量不能多于库存", timeout=WAIT_MS)
    expect(form.locator("input[name=available]")).to_have_attribute("aria-invalid", "true")
    page.screenshot(path=str(shots / "em-setup-error-390.png"), full_page=True)
    form.locator("input[name=available]").fill("2")
    before = head(plant)
    form.locator("button[type=submit]").dblclick()                   # a double tap saves once
    expect(page.locator('#em-setup-resources li[data-code="BA-T1"]')).to_contain_text("仓库东门", timeout=WAIT_MS)
    assert len(events_of(plant, "emergency.resource_saved", before)) == 1
    # edit: the form filled from the record, the code fixed
    page.locator('#em-setup-resources li[data-code="BA-T1"] button[data-edit]').click()
    expect(form.locator("input[name=code]")).to_have_value("BA-T1")
    expect(form.locator("input[name=code]")).to_have_js_property("readOnly", True)
    expect(form.locator("input[name=location]")).to_have_value("仓库东门")
    form.locator("input[name=location]").fill("仓库西门")
    form.locator("button[type=submit]").click()
    expect(page.locator('#em-setup-resources li[data-code="BA-T1"]')).to_contain_text("仓库西门", timeout=WAIT_MS)
    # retire: the shared dialog; cancel keeps it, confirm retires it
    retire = page.locator('#em-setup-resources li[data-code="BA-T1"] button.api-button')
    retire.click()
    dialog = page.locator("dialog.confirm-dialog")
    expect(dialog).to_be_visible()
    expect(dialog).to_contain_text("测试空气呼吸器")
    dialog.locator("button:not(.confirm-ok)").click()
    expect(dialog).to_have_count(0)
    assert "BA-T1" in [r["code"] for r in api(plant, "/emergency/resources")["resources"]]
    retire.click()
    page.locator("dialog.confirm-dialog button.confirm-ok").click()
    expect(page.locator('#em-setup-resources li[data-code="BA-T1"]')).to_have_count(0, timeout=WAIT_MS)
    assert "BA-T1" not in [r["code"] for r in api(plant, "/emergency/resources")["resources"]]

    # a team with a member whose phone is not a number → that row's phone is named
    team = page.locator("#team-form")
    team.locator("input[name=name]").fill("夜班救援组")
    team.locator("select[name=kind]").select_option("rescue")
    row = team.locator('[data-rows="members"] .em-rowitem').first
    row.locator('[data-field="role"]').fill("组长")
    row.locator('[data-field="phone"]').fill("call me")
    team.locator("button[data-add-row=members]").click()
    row2 = team.locator('[data-rows="members"] .em-rowitem').nth(1)
    row2.locator('[data-field="person_id"]').select_option(index=1)
    row2.locator('[data-field="phone"]').fill("13900000002")
    team.locator("button[type=submit]").click()
    expect(team.locator(".em-form-error")).to_contain_text("电话（第 1 行）：", timeout=WAIT_MS)
    expect(row.locator('[data-field="phone"]')).to_have_attribute("aria-invalid", "true")
    row.locator('[data-field="phone"]').fill("13900000001")
    team.locator("button[type=submit]").click()
    item = page.locator("#em-setup-teams li", has_text="夜班救援组")
    expect(item).to_contain_text("13900000002", timeout=WAIT_MS)
    item.locator("button[data-edit]").click()
    expect(team.locator('[data-rows="members"] .em-rowitem')).to_have_count(2)
    team.locator("select[name=on_duty]").select_option("false")
    team.locator('[data-rows="members"] .em-rowitem').nth(1).locator(".row-remove").click()
    team.locator("button[type=submit]").click()
    expect(page.locator("#em-setup-teams li", has_text="夜班救援组")).not_to_contain_text("13900000002", timeout=WAIT_MS)
    t = [x for x in api(plant, "/emergency/teams")["teams"] if x["name"] == "夜班救援组"][0]
    assert t["on_duty"] is False and [m["phone"] for m in t["members"]] == ["13900000001"]
    fits(page, "setup after edits, phone")


def test_plans_points_and_the_walk_graph_on_a_tablet(wind_plant, new_page, shots):
    plant = wind_plant
    plant.ensure_running()
    page = new_page(*TABLET)
    login(page, plant, "zhangwei")
    page.goto(f"{plant.base}/tablet/emergency/setup")
    fits(page, "setup, tablet")
    expect(page.locator("#em-graph .em-g-edge").first).to_be_visible()          # the graph drawn on the plan
    edges = page.locator("#em-graph .em-g-edge").count()

    # a plan: two steps with the same code → "steps" named; then saved; then edited
    plan = page.locator("#plan-form")
    plan.locator("input[name=code]").fill("P-TEST")
    plan.locator("input[name=name]").fill("测试泄漏预案")
    plan.locator("select[name=scenario]").select_option("leak")
    s1 = plan.locator('[data-rows="steps"] .em-rowitem').first
    s1.locator('[data-field="code"]').fill("alarm")
    s1.locator('[data-field="text"]').fill("报警")
    plan.locator("button[data-add-row=steps]").click()
    s2 = plan.locator('[data-rows="steps"] .em-rowitem').nth(1)
    s2.locator('[data-field="code"]').fill("alarm")
    s2.locator('[data-field="text"]').fill("疏散")
    plan.locator("button[type=submit]").click()
    expect(plan.locator(".em-form-error")).to_contain_text("步骤", timeout=WAIT_MS)
    s2.locator('[data-field="code"]').fill("evacuate")
    plan.locator("button[type=submit]").click()
    expect(page.locator('#em-setup-plans li[data-code="P-TEST"]')).to_contain_text("2", timeout=WAIT_MS)
    page.locator('#em-setup-plans li[data-code="P-TEST"] button[data-edit]').click()
    expect(plan.locator('[data-rows="steps"] .em-rowitem')).to_have_count(2)
    plan.locator("input[name=name]").fill("测试泄漏预案（修订）")
    plan.locator("button[type=submit]").click()
    expect(page.locator('#em-setup-plans li[data-code="P-TEST"]')).to_contain_text("修订", timeout=WAIT_MS)

    # an assembly point: a reader already at the gate's point → "读卡器" named; then saved; then edited
    pt = page.locator("#point-form")
    gate_reader = [p for p in api(plant, "/emergency/assembly-points")["assembly_points"] if p["code"] == "AP-GATE"][0]["reader"]
    pt.locator("input[name=code]").fill("AP-WH")
    pt.locator("input[name=name]").fill("仓库集合点")
    pt.locator("select[name=area]").select_option("WH")
    pt.locator("input[name=reader]").fill(gate_reader)
    pt.locator("button[type=submit]").click()
    expect(pt.locator(".em-form-error")).to_contain_text("读卡器", timeout=WAIT_MS)
    pt.locator("input[name=reader]").fill("MUSTER-WH")
    pt.locator("button[type=submit]").click()
    expect(page.locator('#em-setup-points li[data-code="AP-WH"]')).to_contain_text("仓库集合点", timeout=WAIT_MS)
    page.locator('#em-setup-points li[data-code="AP-WH"] button[data-edit]').click()
    pt.locator("input[name=name_en]").fill("Warehouse assembly point")
    with page.expect_navigation():                       # saved: the page shows the list again
        pt.locator("button[type=submit]").click()
    assert [p for p in api(plant, "/emergency/assembly-points")["assembly_points"]
            if p["code"] == "AP-WH"][0]["name_en"] == "Warehouse assembly point"

    # the walk graph: a passage from an area to itself is named by its row; a good one is drawn
    g = page.locator("#graph-form")
    g.locator("button[data-add-row=edges]").click()
    last = g.locator('[data-rows="edges"] .em-rowitem').last
    last.locator('[data-field="a"]').select_option("CTRL")
    last.locator('[data-field="b"]').select_option("CTRL")
    last.locator('[data-field="door"]').fill("测试门")
    last.locator('[data-field="metres"]').fill("40")
    g.locator("button[type=submit]").click()
    expect(g.locator(".em-form-error")).to_contain_text(f"起点区域（第 {edges + 1} 行）：通道两端不能是同一区域", timeout=WAIT_MS)
    expect(last.locator('[data-field="a"]')).to_have_attribute("aria-invalid", "true")
    page.screenshot(path=str(shots / "em-setup-graph-error-1024.png"), full_page=True)
    pairs = {frozenset((e["a"], e["b"])) for e in api(plant, "/emergency/graph")["edges"]}
    other = next(b for b in ("DOCK", "WH", "GATE", "REACT", "TANK") if frozenset(("CTRL", b)) not in pairs)
    last.locator('[data-field="b"]').select_option(other)
    g.locator("button[type=submit]").click()
    expect(page.locator("#em-graph .em-g-edge")).to_have_count(edges + 1, timeout=WAIT_MS)
    assert any({e["a"], e["b"]} == {"CTRL", other} and e["door"] == "测试门" for e in api(plant, "/emergency/graph")["edges"])
    fits(page, "setup after edits, tablet")
    page.screenshot(path=str(shots / "em-setup-1024.png"), full_page=True)
    wall = new_page(*WALL)
    login(wall, plant, "zhangwei")
    wall.goto(f"{plant.base}/tablet/emergency/setup")
    fits(wall, "setup, 1080p")
    wall.screenshot(path=str(shots / "em-setup-1080p.png"), full_page=True)
