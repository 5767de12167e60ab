"""Special work on the four-colour risk map in a real browser (Playwright + Debian chromium) against a real
appliance process running the demo plant: a hot work and a lifting job, both active in the gate area (a lift
over live work: SIMOPS, GB 30871-2022 §4), show as chips by type on the tablet's map and the area is hatched
with the clash's reason in its tooltip and, on a tap, in a panel linking both permits — on a phone (390×844),
a tablet (1024×768) and a 1080p screen, and on the wall board at 1080p without the page growing past the
screen; a burst of permit events is one fetch; a suspended one is marked; when the lifting job is closed the hatching goes from every open page
without a reload (permit.* live events)."""
from __future__ import annotations

import re
from datetime import date, timedelta
from pathlib import Path

import pytest

from conftest import WAIT_MS, login_session
from test_browser import Plant, open_board

pytestmark = pytest.mark.browser

try:
    from playwright.sync_api import expect
except ImportError:  # pragma: no cover - test_browser's browser fixture reports it
    expect = None

SIZES = [(390, 844), (1024, 768), (1920, 1080)]
# the demo's people (appliance/demo.py PEOPLE): employee number → badge
BADGE = {"C2001": "04C0FFEE000001", "E1004": "04A1B2C3D4E5F9", "E1006": "04A1B2C3D4E5FB",
         "E1007": "04A1B2C3D4E5FC", "E1008": "04A1B2C3D4E5FD"}


@pytest.fixture(scope="module")
def map_plant(tmp_path_factory):
    p = Plant(tmp_path_factory.mktemp("permit-map-plant"))
    try:
        p.start()
        yield p
    finally:
        p.kill()


@pytest.fixture
def shots(tmp_path_factory) -> Path:
    folder = tmp_path_factory.getbasetemp() / "screens"
    folder.mkdir(exist_ok=True)
    return folder


def _ok(r, status=200) -> dict:
    assert r.status_code == status, (r.status_code, r.text)
    return r.json()


def _approved(plant: Plant, s, people: dict, approvers: dict, **job) -> dict:
    """One permit applied by the admin, its measures confirmed and each approval level signed by its person
    (chain.py: 王芳 the workshop, 张伟 the safety level), over the API."""
    import time

    base = f"{plant.base}/api/v1/permits"
    now = int(time.time() * 1000)
    p = _ok(s.post(base, json={"grade": "2", "area_id": people["area"], "medium": "CH4", "valid_from": now - 60_000,
                               "valid_to": now + 4 * 3_600_000, "issuer_id": people["E1007"], **job}, timeout=10), 201)
    rules = {t["code"]: t for t in _ok(s.get(f"{base}/rules", timeout=10))["types"]}
    got = _ok(approvers["workshop"].post(f"{base}/{p['id']}/measures", json={"measures": {
        m["code"]: {"applies": True, "by": "王芳"} for m in rules[p["type"]]["measures"]}}, timeout=10))
    while got["state"] == "measures_confirmed":
        (level,) = [a["level"] for a in got["approvals"] if a["state"] == "pending"]
        got = _ok(approvers[level].post(f"{base}/{p['id']}/approve", json={"note": "同意"}, timeout=10))
    assert got["state"] == "approved", got
    return got


def _tap_brief_start(plant: Plant, s, pid: int, badges: list[str], analysis: bool) -> dict:
    """The crew's badges tapped at the site (a tablet's NFC), 交底, the gas analysis where the type needs one,
    start."""
    base = f"{plant.base}/api/v1/permits/{pid}"
    for uid in badges:
        _ok(s.post(f"{base}/taps", json={"uid": uid}, timeout=10))
    _ok(s.post(f"{base}/brief", json={}, timeout=10))
    if analysis:
        _ok(s.post(f"{base}/analyses", json={"source": "manual", "analyst": "陈静", "samples": [
            {"gas": "CH4", "value": 1.0, "unit": "%LEL"}]}, timeout=10), 201)
    got = _ok(s.post(f"{base}/start", json={}, timeout=10))
    assert got["state"] == "active", got
    return got


def gate_pair(plant: Plant) -> tuple[dict, dict]:
    """A hot work (吴刚, the demo's welder) and a lifting job (杨磊, given a crane operator's certificate here)
    both active in the gate area, far from the demo's own permits (tank farm, reactor hall)."""
    admin = plant.admin_session()
    people = {x["employee_no"]: x["id"] for x in _ok(admin.get(f"{plant.base}/api/v1/people", timeout=10))["people"]}
    areas = {a["code"]: a["id"] for a in _ok(admin.get(f"{plant.base}/api/v1/areas", timeout=10))["areas"]}
    _ok(admin.post(f"{plant.base}/api/v1/certificates", json={
        "person_id": people["E1006"], "kind": "SE-Q2", "number": "Q2-TEST-0001",
        "issued_on": (date.today() - timedelta(days=30)).isoformat()}, timeout=10), 201)
    approvers = {"workshop": login_session(plant.base, "wangfang", plant.password("wangfang")),
                 "safety": login_session(plant.base, "zhangwei", plant.password("zhangwei"))}
    ctx = {"area": areas["GATE"], "E1007": people["E1007"]}
    hot = _approved(plant, admin, ctx, approvers, type="hot_work", location="大门岗亭钢结构", content="雨棚支架焊接",
                  workers=[people["C2001"]], guardian_id=people["E1004"])
    hot = _tap_brief_start(plant, approvers["workshop"], hot["id"], [BADGE[n] for n in ("C2001", "E1004", "E1007")], True)
    lift = _approved(plant, admin, ctx, approvers, type="lifting", grade="3", location="大门岗亭上方",
                   content="雨棚钢梁吊装", workers=[people["E1006"]], guardian_id=people["E1008"])
    assert lift["simops"] == {"verdict": "escalate", "permits": [hot["id"]]}, lift["simops"]
    lift = _tap_brief_start(plant, approvers["workshop"], lift["id"], [BADGE[n] for n in ("E1006", "E1008", "E1007")], False)
    return hot, lift


def login(page, plant: Plant, who: str) -> None:
    page.goto(f"{plant.base}/login")
    page.fill("input[name=login]", who)
    page.fill("input[name=password]", plant.password(who))
    page.click("main button[type=submit]")
    page.wait_for_url(re.compile(r"/tablet"))


def fits(page, where: str, height_too: bool = False) -> None:
    m = page.evaluate("""() => ({w: document.documentElement.scrollWidth - innerWidth,
                                 h: document.documentElement.scrollHeight - innerHeight})""")
    assert m["w"] <= 0, f"{where}: scrolls sideways by {m['w']} px"
    if height_too:
        assert m["h"] <= 1, f"{where}: taller than the screen by {m['h']} px"


def check_map(page, shots: Path, hot: dict, lift: dict, where: str, chips: bool = True) -> None:
    """The gate area's chips (when drawn), its hatching with the reason, the legend, and the panel on a tap."""
    gate = page.locator('#floor-plan g.area[data-area="GATE"]')
    hatch = gate.locator("polygon.pm-map-hatch")
    expect(hatch).to_have_count(1)
    expect(hatch).to_have_class(re.compile(r"\bsimops-escalate\b"))
    title = gate.locator("title.pm-map-title")
    expect(title).to_have_count(1)
    expect(title).to_contain_text("动火作业与吊装作业在同一区域同时作业，须经安全管理部门审批")
    if chips:
        chip = gate.locator(".pm-map-chips .pm-chip")
        expect(chip).to_have_count(2)
        expect(gate.locator(f'.pm-chip[data-permit="{hot["id"]}"] text')).to_have_text("动火")
        expect(gate.locator(f'.pm-chip[data-permit="{lift["id"]}"] text')).to_have_text("吊装")
        for box in (c.bounding_box() for c in chip.all()):   # inside the area's outline on the screen
            area = gate.locator("polygon").first.bounding_box()
            assert box and area and box["x"] >= area["x"] and box["x"] + box["width"] <= area["x"] + area["width"], where
    legend = page.locator(".risk-legend .pm-legend-simops")
    expect(legend).to_be_visible()
    expect(legend).to_have_text("交叉作业")
    page.locator("#floor-plan").scroll_into_view_if_needed()
    page.screenshot(path=str(shots / f"permit-map-{where.replace(' ', '-')}.png"))
    # the tap: the panel names the clash and links both permits; it fits the screen
    panel = page.locator("#pm-map-detail")
    gate.locator("polygon").first.click(position={"x": 20, "y": 20}, force=True)
    expect(panel).to_be_visible()
    expect(panel.locator(".pm-map-detail-title")).to_contain_text("大门")
    expect(panel.locator(".pm-map-clashes li")).to_contain_text("须经安全管理部门审批")
    for p in (hot, lift):
        expect(panel.locator(f'.pm-map-clashes a[href="/tablet/permits/{p["id"]}"]')).to_contain_text(p["no"])
    expect(panel.locator(".pm-map-permits")).to_be_hidden()   # both are in the clash: not listed twice
    box = panel.bounding_box()
    size = page.viewport_size
    assert box and box["x"] >= 0 and box["x"] + box["width"] <= size["width"] and box["y"] >= 0, (where, box)
    assert box["y"] + box["height"] <= size["height"], (where, box)


def test_simops_on_the_risk_map_at_three_sizes_and_gone_when_one_closes(map_plant, new_page, shots):
    plant = map_plant
    plant.ensure_running()
    hot, lift = gate_pair(plant)
    pages = []
    for w, h in SIZES:
        page = new_page(w, h)
        login(page, plant, "wangfang")
        page.goto(f"{plant.base}/tablet")
        expect(page.locator("#live-state")).to_have_class(re.compile(r"\bconnected\b"), timeout=WAIT_MS)
        check_map(page, shots, hot, lift, f"tablet {w}x{h}")
        if w < 1101:   # the clash as a button under the map, a finger's size, opening the same panel
            btn = page.locator('#pm-map-simops button[data-area="GATE"]')
            expect(btn).to_have_text(re.compile(r"^⚠ 大门：动火 · 吊装$"))
            bb = btn.bounding_box()
            assert bb and bb["height"] >= 48, bb
        fits(page, f"tablet {w}x{h}")
        page.screenshot(path=str(shots / f"permit-map-tablet-{w}x{h}-panel.png"))
        page.locator("#pm-map-detail .pm-map-close").click()
        expect(page.locator("#pm-map-detail")).to_be_hidden()
        page.evaluate("window.__sameDocument = true")
        pages.append((f"tablet {w}x{h}", page))

    # the wall board at 1080p: its permit markers under the area's name (board.js), the hatching, the legend
    # and the panel of the risk map, and the page no taller than the screen
    board = new_page(1920, 1080)
    open_board(board, plant)
    check_map(board, shots, hot, lift, "wall 1920x1080", chips=False)
    # each permit is a marker under the area's name, or, where the small area has no room for them all, the
    # rest are one "+n" line: no marker runs past the area's bottom edge (they used to be cut by the plan)
    gate = board.locator('.pm-marks[data-area="GATE"]')
    expect(gate.locator(f'.pm-mark[data-permit="{lift["id"]}"], .pm-more')).not_to_have_count(0)
    past = board.evaluate("""() => [...document.querySelectorAll('.pm-marks')].map(s => {
        const area = s.closest('g.area').querySelector('polygon').getBoundingClientRect();
        const marks = s.getBoundingClientRect();
        return [s.dataset.area, Math.round(marks.bottom - area.bottom)]; }).filter(x => x[1] > 0)""")
    assert past == [], f"permit markers below their area's edge (area, px): {past}"
    # the hatching is drawn inside the area: the permits board's own pass over the areas still ends (its strip)
    expect(board.locator(f'#pm-board-list li[data-permit="{lift["id"]}"]')).to_have_count(1)
    expect(board.locator("#pm-map-simops")).to_be_hidden()      # no room for the buttons on the wall
    fits(board, "wall 1920x1080", height_too=True)
    board.screenshot(path=str(shots / "permit-map-wall-1920x1080-panel.png"))
    board.keyboard.press("Escape")
    expect(board.locator("#pm-map-detail")).to_be_hidden()
    fits(board, "wall 1920x1080, panel closed", height_too=True)
    pages.append(("wall 1920x1080", board))

    # a burst of permit events (a crew tapping in, a step after another) is one fetch of the map's data
    phone = pages[0][1]
    fetched: list[str] = []
    phone.on("request", lambda r: fetched.append(r.url) if "/api/v1/permits/map" in r.url else None)
    phone.evaluate("""() => { for (let i = 0; i < 20; i++) document.dispatchEvent(new CustomEvent("live-event",
                                  {detail: {type: "permit.person_verified", seq: 0}})); }""")
    phone.wait_for_timeout(1500)
    assert len(fetched) == 1, fetched

    # suspended: the hot work's chip turns red with 停, the clash stays (the work and the crane are there)
    s = plant.admin_session()
    _ok(s.post(f"{plant.base}/api/v1/permits/{hot['id']}/suspend", json={"reason": "吊物下方有人"}, timeout=10))
    chip = phone.locator(f'#floor-plan .pm-chip[data-permit="{hot["id"]}"]')
    expect(chip).to_have_class(re.compile(r"\bst-suspended\b"))
    expect(chip.locator("text")).to_have_text("动火·停")
    expect(phone.locator('#floor-plan g.area[data-area="GATE"] polygon.pm-map-hatch')).to_have_count(1)
    phone.locator("#floor-plan").scroll_into_view_if_needed()
    phone.screenshot(path=str(shots / "permit-map-tablet-390x844-suspended.png"))

    # the lifting job closed: the hatching goes from every page, without a reload; the hot work stays
    _ok(s.post(f"{plant.base}/api/v1/permits/{lift['id']}/close", json={"note": "吊装完成"}, timeout=10))
    for where, page in pages:
        gate = page.locator('#floor-plan g.area[data-area="GATE"]')
        expect(gate.locator("polygon.pm-map-hatch")).to_have_count(0)
        expect(gate.locator("title.pm-map-title")).not_to_contain_text("交叉作业")
        if where.startswith("wall"):
            expect(page.locator(f'#pm-board-list li[data-permit="{lift["id"]}"]')).to_have_count(0)
            expect(page.locator(f'#pm-board-list li[data-permit="{hot["id"]}"]')).to_have_class(re.compile("st-suspended"))
        if where.startswith("tablet"):
            expect(gate.locator(".pm-chip")).to_have_count(1)
            expect(page.locator('#pm-map-simops button[data-area="GATE"]')).to_have_count(0)
        assert page.evaluate("window.__sameDocument") is True, f"{where}: the page reloaded"
        fits(page, f"{where}, after the close", height_too=where.startswith("wall"))
    pages[1][1].screenshot(path=str(shots / "permit-map-tablet-1024x768-closed.png"))
    board.screenshot(path=str(shots / "permit-map-wall-1920x1080-closed.png"))
