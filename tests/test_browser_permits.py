"""A hot-work permit (GB 30871-2022) through every step in a real browser (Playwright + Debian chromium),
against a real appliance process running the demo plant with its simulated gas controller (a real Modbus
server) and emulated NFC readers (nfcpy udp):

apply (worker's tablet) → confirm measures → approve (the shift, not the applicant) → the worker, guardian
and person in charge tap their badges at the emulated CP-TANK reader → 交底 → gas analysis taken from the
live detectors in the tank farm → start → the gas-leak scenario raises GT-101 and the permit is suspended
(the guardian's phone shows it) → resuming is refused until a new analysis → resume → close; the printed
permit in Chinese. The pages at phone (390x844), tablet (820x1180) and 1080p: no sideways scroll, a double
click applies once, the CJK text has a real size.
"""
from __future__ import annotations

import re
import subprocess
import sys
import time
from pathlib import Path

import pytest

from conftest import ROOT, WAIT_MS
from test_browser import Plant, unique_name

pytestmark = pytest.mark.browser

try:
    from playwright.sync_api import expect
except ImportError:  # pragma: no cover - test_browser's browser fixture reports it
    expect = None

SIZES = {"phone": (390, 844), "tablet": (820, 1180), "1080p": (1920, 1080)}
BADGES = {"吴刚": "04C0FFEE000001", "刘洋": "04A1B2C3D4E5F9", "赵敏": "04A1B2C3D4E5FC"}


class GasPlant(Plant):
    """The demo plant with the simulated gas controller (in this process, so the test drives the leak) and
    the four checkpoint readers emulated."""

    def __init__(self, data, readers_toml: str, sim_port: int):
        seed = subprocess.run(
            [sys.executable, "-c", "import sys; from appliance import demo; "
                                   "demo.prepare(sys.argv[1], int(sys.argv[2]), '127.0.0.1', int(sys.argv[3]), "
                                   "readers_toml=sys.argv[4])",
             str(data), "0", str(sim_port), readers_toml], cwd=ROOT, capture_output=True, text=True, timeout=120)
        assert seed.returncode == 0, seed.stdout + seed.stderr
        super().__init__(data, readers_toml)   # re-writes the config with its port: keep the points
        text = self.config.read_text(encoding="utf-8")
        if "[[points]]" not in text:
            from drivers.sim.plant import points_toml
            self.config.write_text(text + "\n" + points_toml(sim_port), encoding="utf-8")


@pytest.fixture(scope="module")
def gas_plant(tmp_path_factory):
    from appliance.demo_patrol import readers
    from conftest import free_port
    from drivers.sim.badges import Badges
    from drivers.sim.plant import Plant as Controller

    sim = Badges()
    controller = Controller(free_port()).start()
    p = None
    try:
        p = GasPlant(tmp_path_factory.mktemp("permit-plant"), readers(sim), controller.port)
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


def ok(page) -> None:
    expect(page.locator("#form-status")).to_have_class(re.compile(r"\bok\b"))


def local(page, offset_min: int) -> str:
    return page.evaluate("""m => { const d = new Date(Date.now() + m * 60000 - new Date().getTimezoneOffset() * 60000);
                                   return d.toISOString().slice(0, 16); }""", offset_min)


def api(plant, path: str) -> dict:
    import requests

    r = requests.get(f"{plant.base}/api/v1{path}", headers={"Authorization": f"Bearer {plant.token}"}, timeout=10)
    assert r.status_code == 200, r.text
    return r.json()


@pytest.mark.parametrize("size", ["phone", "tablet", "1080p"])
def test_permit_pages_fit_each_screen(gas_plant, new_page, size):
    """The demo's two active permits on the list, one permit and the guardian's view, at phone and 1080p."""
    plant = gas_plant
    plant.ensure_running()
    page = new_page(*SIZES[size])
    login(page, plant, "wangfang")
    page.goto(f"{plant.base}/tablet/permits")
    expect(page.locator("#permits .permit.st-active")).to_have_count(2)
    cjk_renders(page, "h1")
    no_overflow(page, f"list {size}")
    page.locator("#permits .permit.st-active a").first.click()
    expect(page.locator("#pm-state")).to_have_text(re.compile("作业中"))
    pdf = page.locator("#permit-pdf")        # the PDF link: a whole button, on the screen
    expect(pdf).to_have_text("下载 PDF 作业票")
    box = pdf.bounding_box()
    assert box and box["height"] >= 44 and box["x"] + box["width"] <= SIZES[size][0], box
    no_overflow(page, f"detail {size}")
    page.goto(f"{plant.base}/tablet/permits/guard")
    no_overflow(page, f"guard {size}")


def test_hot_work_permit_through_every_step_with_badges_live_gas_and_the_leak(gas_plant, new_page):
    plant = gas_plant
    plant.ensure_running()
    place = unique_name("T-103 罐顶人孔")
    w, h = SIZES["tablet"]

    # 申请: the worker applies on a tablet (a double click applies once)
    worker = new_page(w, h)
    login(worker, plant, "liuyang")
    worker.goto(f"{plant.base}/tablet/permits")
    form = worker.locator("#permit-apply")
    form.locator("select[name=type]").select_option("hot_work")
    form.locator("select[name=grade]").select_option("2")
    form.locator("select[name=area_id]").select_option(label="储罐区")
    form.locator("input[name=location]").fill(place)
    form.locator("input[name=content]").fill("人孔法兰焊接加固")
    form.locator("input[name=medium]").fill("CH4")
    form.locator("input[name=valid_from]").fill(local(worker, -1))
    form.locator("input[name=valid_to]").fill(local(worker, 8 * 60))
    form.locator("select[name=workers]").select_option(label="吴刚（焊工）")  # the welder: his 焊接证 is checked (30号令)
    form.locator("select[name=guardian_id]").select_option(label="刘洋")
    form.locator("select[name=issuer_id]").select_option(label="赵敏")
    no_overflow(worker, "apply form")
    form.locator("button[type=submit]").dblclick()
    worker.wait_for_url(re.compile(r"/tablet/permits/\d+$"))
    pid = int(worker.url.rsplit("/", 1)[1])
    mine = [p for p in api(plant, "/permits")["permits"] if p["location"] == place]
    assert [p["id"] for p in mine] == [pid], mine
    expect(worker.locator("#pm-state")).to_have_text(re.compile("已申请"))

    # 措施确认 and 审批 by the shift (王芳, not the applicant)
    shift = new_page(w, h)
    login(shift, plant, "wangfang")
    shift.goto(f"{plant.base}/tablet/permits/{pid}")
    shift.locator("#pm-measures input[name=by]").fill("王芳")
    shift.locator("#pm-measures button[type=submit]").click()
    expect(shift.locator("#pm-state")).to_have_text(re.compile("措施已确认"))
    # the demo's confined-space entry one door away (REACT, on the walk graph) makes this SIMOPS: the approval
    # goes up to the safety level (张伟) after the workshop's (王芳, chain.py): two levels, two people
    pm = api(plant, f"/permits/{pid}")
    if pm["simops"]:
        assert pm["approval_level"] == "safety" and pm["simops"]["verdict"] == "escalate", pm
        assert [a["level"] for a in pm["approvals"]] == ["workshop", "safety"], pm["approvals"]
        shift.locator("#pm-approve button[type=submit]").click()
        expect(shift.locator("#pm-chain .chain > li").nth(0)).to_have_attribute("data-state", "approved")
        expect(shift.locator("#pm-approve")).to_have_count(0)               # not the shift's level: it waits
        expect(shift.locator("#pm-waiting")).to_be_visible()
        office = new_page(w, h)
        login(office, plant, "zhangwei")
        office.goto(f"{plant.base}/tablet/permits/{pid}")
        office.locator("#pm-approve button[type=submit]").click()
        expect(office.locator("#pm-state")).to_have_text(re.compile("已审批"))
        office.close()
        # no reload here: the page follows its permit's state by itself (a reload of ours raced its own)
    else:
        shift.locator("#pm-approve button[type=submit]").click()
    expect(shift.locator("#pm-state")).to_have_text(re.compile("已审批"), timeout=WAIT_MS)

    # 交底 is refused until everyone has tapped at the site reader
    shift.locator("#pm-brief button[type=submit]").click()
    expect(shift.locator("#form-status")).to_have_class(re.compile(r"\berror\b"))
    expect(shift.locator("#form-status")).to_contain_text(re.compile("刷卡|badge"))
    for uid in BADGES.values():
        plant.sim.present("CP-TANK", uid)
    deadline = time.monotonic() + WAIT_MS / 1000
    while time.monotonic() < deadline and api(plant, f"/permits/{pid}")["presence_missing"]:
        time.sleep(0.3)
    assert api(plant, f"/permits/{pid}")["presence_missing"] == []
    shift.reload()
    expect(shift.locator("#pm-people li.tapped")).to_have_count(3)
    shift.locator("#pm-brief button[type=submit]").click()
    expect(shift.locator("#pm-state")).to_have_text(re.compile("已交底"))

    # the gas gate: an analysis from the tank farm's live detectors (GT-101 CH4, GT-102 H2S), then start
    shift.locator("#pm-live button[type=submit]").click()
    expect(shift.locator("#pm-analyses tr.pass")).to_have_count(1)
    expect(shift.locator("#pm-analyses tr.pass").first).to_contain_text("GT-101")
    shift.locator("#pm-start button[type=submit]").click()
    expect(shift.locator("#pm-state")).to_have_text(re.compile("作业中"))
    no_overflow(shift, "detail, active")

    # the guardian's phone
    guard = new_page(*SIZES["phone"])
    login(guard, plant, "liuyang")
    guard.goto(f"{plant.base}/tablet/permits/guard")
    card = guard.locator(f'.guard-card[data-permit="{pid}"]')
    expect(card.locator(".pm-state-big")).to_have_text("作业中")
    no_overflow(guard, "guardian phone")

    # the leak: GT-101 rises through level 1; within a poll the permit is suspended, on the phone too
    plant.controller.started = time.monotonic() - 24
    plant.controller.scenario = "gas-leak"
    expect(card.locator(".pm-state-big")).to_have_text("已暂停", timeout=60_000)
    expect(guard.locator(f'.guard-card[data-permit="{pid}"] .pm-reason')).to_contain_text("GT-101")
    plant.controller.scenario = None
    # the open permit page follows the suspension by itself (it reloads on a state change: a reload of ours
    # raced it, ERR_ABORTED in CI)
    expect(shift.locator("#pm-state")).to_contain_text("已暂停", timeout=WAIT_MS)
    # resuming without a new analysis is refused
    shift.locator("#pm-resume button[type=submit]").click()
    expect(shift.locator("#form-status")).to_have_class(re.compile(r"\berror\b"))
    # a portable analysis after the leak is isolated (GT-101 stays latched until acknowledged), then resume
    m = shift.locator("#pm-manual")
    m.locator("input[name=analyst]").fill("陈静")
    m.locator("[data-sample=gas]").select_option("CH4")
    m.locator("[data-sample=value]").fill("1.0")
    m.locator("[data-sample=unit]").select_option("%LEL")
    m.locator("button[type=submit]").click()
    expect(shift.locator("#pm-analyses tr.pass")).to_have_count(2)
    shift.locator("#pm-resume button[type=submit]").click()
    expect(shift.locator("#pm-state")).to_have_text(re.compile("作业中"))
    # 完工验收
    shift.locator("#pm-close input[name=note]").fill("现场已清理，无遗留火种")
    shift.locator("#pm-close button[type=submit]").click()
    expect(shift.locator("#pm-state")).to_have_text(re.compile("已验收关闭"))
    entry = [p for p in api(plant, "/permits?state=closed")["permits"] if p["id"] == pid]
    assert entry and entry[0]["area"] == "TANK"
    # the printed permit, in Chinese
    shift.goto(f"{plant.base}/tablet/permits/{pid}/print")
    expect(shift.locator("h1")).to_have_text("动火作业安全作业票")
    cjk_renders(shift, "h1")
    expect(shift.locator("body")).to_contain_text(place)
    # and as PDF, from the detail page: the closed permit's form and history read back in Chinese
    from test_pdf import pdf_text

    shift.goto(f"{plant.base}/tablet/permits/{pid}")
    with shift.expect_download() as dl:
        shift.click("#permit-pdf")
    text = "".join("".join(pdf_text(Path(dl.value.path()).read_bytes())).split())
    assert "动火安全作业票" in text and "".join(place.split()) in text and "完工验收" in text
    # the whole history is in the event log, the suspension by the interlock among it
    s = plant.admin_session()
    seen, after = [], 0
    while True:
        page_ = s.get(f"{plant.base}/api/v1/events?after={after}&limit=1000", timeout=10).json()
        if not page_["events"]:
            break
        seen += [e for e in page_["events"] if e["entity_type"] == "permit" and e["entity_id"] == str(pid)]
        after = page_["events"][-1]["seq"]
    types = [e["type"] for e in seen]
    assert types[0] == "permit.applied" and types[-1] == "permit.closed", types
    (susp,) = [e for e in seen if e["type"] == "permit.suspended"]
    assert susp["actor"] == "system:interlock" and susp["payload"]["interlock"] is True
    assert types.count("permit.person_verified") == 3 and types.count("permit.analysed") == 2


def confined_entry(plant) -> dict:
    """The demo's confined-space entry in the reactor hall (REACT), on site."""
    board = api(plant, "/permits/board")["permits"]
    (p,) = [x for x in board if x["area"] == "REACT" and x["type"] == "confined_space"]
    return p


@pytest.mark.parametrize("size", ["phone", "tablet", "1080p"])
def test_wall_board_shows_the_permits_on_the_plan(gas_plant, new_page, size):
    """A marker per permit on site in its area (type, state, countdowns), and the strip under the plan."""
    plant = gas_plant
    plant.ensure_running()
    p = confined_entry(plant)
    page = new_page(*SIZES[size])
    page.goto(f"{plant.base}/kiosk?token={plant.token}")
    mark = page.locator(f'.floor-plan .pm-marks[data-area="REACT"] .pm-mark[data-permit="{p["id"]}"]')
    expect(mark).to_have_count(1)
    expect(mark.locator("text").first).to_contain_text("受限空间作业")
    expect(mark.locator(".pm-cd")).to_have_text(re.compile(r"有效期剩余 \d+:\d\d:\d\d"))
    if p["state"] == "active":
        expect(mark.locator(".pm-cd2")).to_contain_text("距下次分析")
    # the strip names the area as the plan does (反应车间), never by its code (REACT)
    expect(page.locator(f'#pm-board-list li[data-permit="{p["id"]}"] > b')).to_have_text(re.compile(r"^反应车间 · "))
    cjk_renders(page, "#pm-board h2")
    no_overflow(page, f"board {size}")
    boxes = [b for b in (r.bounding_box() for r in page.locator(".floor-plan .pm-mark rect").all()) if b]
    for i, a in enumerate(boxes):     # markers of neighbouring areas never cover each other
        for b in boxes[i + 1:]:
            apart = (a["x"] + a["width"] <= b["x"] or b["x"] + b["width"] <= a["x"]
                     or a["y"] + a["height"] <= b["y"] or b["y"] + b["height"] <= a["y"])
            assert apart, (size, a, b)


def test_board_and_list_follow_a_suspension_live(gas_plant, new_page):
    """The confined-space entry is suspended elsewhere: the board's marker turns red with the reason and the
    tablet and phone lists follow, without a reload; a new analysis and resume turn them back."""
    plant = gas_plant
    plant.ensure_running()
    p = confined_entry(plant)
    pid = p["id"]
    s = plant.admin_session()
    if p["state"] != "active":
        r = s.post(f"{plant.base}/api/v1/permits/{pid}/analyses", json={
            "source": "manual", "analyst": "陈静", "samples": [{"gas": "O2", "value": 20.8, "unit": "%VOL"},
                                                              {"gas": "CH4", "value": 1, "unit": "%LEL"}]}, timeout=10)
        assert r.status_code == 201, r.text
        assert s.post(f"{plant.base}/api/v1/permits/{pid}/resume", json={}, timeout=10).status_code == 200

    board = new_page(*SIZES["1080p"])
    board.goto(f"{plant.base}/kiosk?token={plant.token}")
    mark = board.locator(f'.floor-plan .pm-mark[data-permit="{pid}"]')
    expect(mark).to_have_class(re.compile(r"\bst-active\b"))
    lists = []
    for size in ("tablet", "phone"):
        page = new_page(*SIZES[size])
        login(page, plant, "wangfang")
        page.goto(f"{plant.base}/tablet/permits")
        expect(page.locator(f'#permits li[data-permit="{pid}"]')).to_have_class(re.compile(r"\bst-active\b"))
        page.evaluate("window.__noReload = 1")
        lists.append((size, page))

    reason = unique_name("通风机故障")
    r = s.post(f"{plant.base}/api/v1/permits/{pid}/suspend", json={"reason": reason}, timeout=10)
    assert r.status_code == 200, r.text
    expect(mark).to_have_class(re.compile(r"\bst-suspended\b"))
    expect(mark.locator(".pm-reason")).to_contain_text(reason[:20])
    expect(board.locator(f'#pm-board-list li[data-permit="{pid}"] .pm-b-reason')).to_have_text(reason)
    for size, page in lists:
        li = page.locator(f'#permits li[data-permit="{pid}"]')
        expect(li).to_have_class(re.compile(r"\bst-suspended\b"))
        expect(li.locator(".pm-reason")).to_have_text(reason)
        assert page.evaluate("window.__noReload") == 1, f"{size}: the list page reloaded"
        no_overflow(page, f"list {size}, suspended")
    no_overflow(board, "board, suspended")

    r = s.post(f"{plant.base}/api/v1/permits/{pid}/analyses", json={
        "source": "manual", "analyst": "陈静", "samples": [{"gas": "O2", "value": 20.8, "unit": "%VOL"},
                                                          {"gas": "CH4", "value": 1, "unit": "%LEL"}]}, timeout=10)
    assert r.status_code == 201, r.text
    assert s.post(f"{plant.base}/api/v1/permits/{pid}/resume", json={}, timeout=10).status_code == 200
    expect(mark).to_have_class(re.compile(r"\bst-active\b"))
    for _, page in lists:
        expect(page.locator(f'#permits li[data-permit="{pid}"]')).to_have_class(re.compile(r"\bst-active\b"))
