"""The cockpit page in a real browser (Playwright + Debian chromium) at phone (390x844), tablet (820x1180)
and 1080p (1920x1080), on the demo plant (seeded with its synthetic year) served by a real appliance:

- the KPI tiles show figures, a definition opens with one tap, a tile links to the records of its window;
- the forecast sits beside its backtest (model and both baselines scored);
- a hazard reported elsewhere changes the rectification rate on the open page, without a reload (SSE);
- the wall board opens it with its kiosk token in the dark wall layout;
- the compliance reports download from it as PDF (read back in Chinese) and XLSX, last month's by link and
  any period by the form.

At each size: no horizontal overflow, the CJK text has a real size.
"""
from __future__ import annotations

import re
from pathlib import Path

import pytest

from test_browser import Plant, log_in, unique_name

pytestmark = pytest.mark.browser

try:
    from playwright.sync_api import expect
except ImportError:  # pragma: no cover - test_browser's browser fixture reports it
    expect = None

SIZES = {"phone": (390, 844), "tablet": (820, 1180), "1080p": (1920, 1080)}
WAIT_MS = 15_000


@pytest.fixture(scope="module")
def cockpit_plant(tmp_path_factory):
    p = Plant(tmp_path_factory.mktemp("cockpit-plant"))
    try:
        p.start()
        yield p
    finally:
        p.kill()


def no_overflow(page, where: str) -> None:
    width = page.evaluate("[document.documentElement.scrollWidth, document.documentElement.clientWidth]")
    assert width[0] <= width[1], f"{where}: page scrolls sideways ({width[0]} > {width[1]} px)"


def cjk_renders(page, selector: str) -> None:
    box = page.locator(selector).first.bounding_box()
    assert box and box["width"] > 40 and box["height"] > 10, (selector, box)


def report_hazard(plant: Plant, text: str) -> None:
    s = plant.admin_session()
    area = next(a for a in s.get(f"{plant.base}/api/v1/areas", timeout=10).json()["areas"] if a["code"] == "TANK")
    r = s.post(f"{plant.base}/api/v1/hazards", json={"area_id": area["id"], "category": "电气", "description": text},
               timeout=10)
    assert r.status_code == 201, (r.status_code, r.text)


@pytest.mark.parametrize("size", list(SIZES))
def test_cockpit_tiles_definitions_forecast_and_live_refresh(cockpit_plant, new_page, size):
    plant = cockpit_plant
    plant.ensure_running()
    w, h = SIZES[size]
    page = new_page(w, h)
    log_in(page, plant, "zhangwei")
    page.goto(f"{plant.base}/cockpit?days=7")
    expect(page.locator("#live-state")).to_have_class(re.compile(r"\bconnected\b"), timeout=WAIT_MS)
    page.evaluate("window.__sameDocument = true")
    expect(page.locator("h1")).to_have_text("安全驾驶舱")
    cjk_renders(page, "h1")
    tile = page.locator('[data-kpi="rectification_rate"]')
    # the synthetic year gives the window hazards: the rate is a percentage, with a trend against last week
    expect(tile.locator(".value")).to_have_text(re.compile(r"^\d+\.\d%$"))
    expect(tile.locator(".trend")).to_contain_text("上期")
    definition = tile.locator("details.definition")
    expect(definition.locator("p").first).to_be_hidden()
    definition.locator("summary").click()
    expect(definition.locator("p").first).to_contain_text("已验收销号")
    # the forecast and its backtest: all three methods scored
    expect(page.locator("#fc-top tbody tr")).to_have_count(10)
    for m in ("model", "last_week", "mean"):
        expect(page.locator(f'#backtest tr[data-method="{m}"] td').first).to_have_text(re.compile(r"^\d+\.\d{3}$"))
    expect(page.locator("#report-form")).to_be_visible()
    no_overflow(page, f"cockpit {size}")
    page.locator("#forecast").scroll_into_view_if_needed()
    no_overflow(page, f"cockpit forecast {size}")

    # a hazard reported on another tablet: the open page re-reads its figures (SSE), no reload
    before = tile.locator(".value").text_content()
    reported = page.locator("#kpis").get_attribute("data-head")
    report_hazard(plant, unique_name("配电箱门未关闭"))
    expect(page.locator("#kpis")).not_to_have_attribute("data-head", reported or "", timeout=WAIT_MS)
    expect(tile.locator(".value")).not_to_have_text(before or "", timeout=WAIT_MS)
    assert page.evaluate("window.__sameDocument === true")

    # drill-down: the tile leads to the records it counted in its window, and on to the hazards page
    tile.locator("a.drill").click()
    page.wait_for_url(re.compile(r"/cockpit/drill/rectification_rate\?since=\d+&until=\d+$"))
    expect(page.locator("#drill-rows tbody tr").first).to_be_visible()
    no_overflow(page, f"drill-down {size}")
    page.locator("#domain-page").click()
    page.wait_for_url(re.compile(r"/tablet/hazards\?since=\d+&until=\d+$"))
    expect(page.locator("#hazard-window")).to_contain_text("上报的隐患")
    no_overflow(page, f"hazards of the window {size}")


DRILL_SIZES = {"phone": (390, 844), "tablet": (1024, 768)}


def measured(page, least: float, where: str) -> None:
    """No sideways scroll, no text under `least` px, no key or untranslated text (test_browser_screens)."""
    from test_browser_screens import MEASURE, PAGE_TEXTS, missing_texts

    page.evaluate("window.__measureSvg = false")
    m = page.evaluate(MEASURE)
    assert m["overflow"] <= 0, f"{where}: scrolls sideways by {m['overflow']} px: {m['wide']}"
    assert m["min"] is None or m["min"] >= least - 0.05, (where, m["small"])
    lang = page.locator("html").get_attribute("lang") or "zh-CN"
    assert not missing_texts(page.evaluate(PAGE_TEXTS), lang), where


def drill_rows(page) -> int:
    rows = page.locator("#drill-rows tbody tr")
    expect(rows.first).to_be_visible()
    n = int(page.locator("#drill-summary").get_attribute("data-rows") or 0)
    assert 0 < rows.count() <= min(n, 50), (rows.count(), n)
    return n


@pytest.mark.parametrize("size", list(DRILL_SIZES))
def test_two_tiles_drill_down_to_their_records(cockpit_plant, new_page, shots, size):
    """Click the patrol completion tile and the alarm tile: each opens the records it counted in the
    window (the rows' count is the tile's basis), in both languages, fitting the screen."""
    plant = cockpit_plant
    plant.ensure_running()
    w, h = DRILL_SIZES[size]
    page = new_page(w, h)
    log_in(page, plant, "zhangwei")
    for key, lang in (("patrol_rate", "zh-CN"), ("alarms_per_10_min", "en")):
        if lang == "en":
            page.goto(f"{plant.base}/lang/en?next=/cockpit")
            expect(page.locator("html")).to_have_attribute("lang", "en")
        page.goto(f"{plant.base}/cockpit?days=30")
        tile = page.locator(f'[data-kpi="{key}"]')
        tile.locator("a.drill").click()
        page.wait_for_url(re.compile(rf"/cockpit/drill/{key}\?since=\d+&until=\d+$"))
        expect(page.locator("#drill-title")).to_have_attribute("data-kpi", key)
        n = drill_rows(page)
        if key == "patrol_rate":   # marked ÷ rows is the tile's rate
            counted = int(page.locator("#drill-summary").get_attribute("data-counted") or 0)
            assert page.locator("#drill-value").text_content() == f"{counted / n * 100:.1f}%"
            expect(page.locator("#drill-count")).to_contain_text(f"{n} 条记录中计入 {counted} 条")
        else:                      # a month of alarms: more than a page
            expect(page.locator("#drill-count")).to_contain_text(f"{n} alarms raised in the window")
            if n > 50:
                expect(page.locator("#page-of")).to_contain_text("Page 1 of")
                page.locator("#next").click()
                page.wait_for_url(re.compile(r"&page=2$"))
                expect(page.locator("#drill-rows tbody tr").first).to_be_visible()
        page.screenshot(path=str(shots / f"drill-{key}-{w}x{h}.png"), full_page=False)
        measured(page, 14, f"drill {key} {size}")


def test_the_wall_board_shows_a_drill_down_in_its_layout(cockpit_plant, new_page, shots):
    plant = cockpit_plant
    plant.ensure_running()
    page = new_page(1920, 1080)
    page.goto(f"{plant.base}/cockpit/drill/missed_checkpoints?token={plant.token}")
    expect(page.locator("body")).to_have_class(re.compile(r"\bwall\b"))
    drill_rows(page)
    page.screenshot(path=str(shots / "drill-wall-1920x1080.png"))
    measured(page, 24, "drill on the wall")


@pytest.mark.parametrize("size", list(DRILL_SIZES))
def test_the_safety_officer_records_hours_worked_once_on_a_double_tap(cockpit_plant, new_page, shots, size):
    """The cockpit links to the hours form; a month's hours sent with a double tap are recorded once (the
    button is disabled in flight and the request carries an Idempotency-Key), and the accident rate's line
    then says which hours it used."""
    plant = cockpit_plant
    plant.ensure_running()
    w, h = DRILL_SIZES[size]
    page = new_page(w, h)
    log_in(page, plant, "zhangwei")
    page.goto(f"{plant.base}/cockpit?days=30")
    page.locator("#hours-link").click()
    page.wait_for_url(re.compile(r"/cockpit/hours$"))
    month = "2019-01" if size == "phone" else "2019-02"      # a month of its own per size (the plant is shared)
    page.fill("#hours-month", month)
    page.select_option("#hours-kind", "department")
    page.fill("#hours-unit", "生产部")
    page.fill("#hours-hours", "4321")
    s = plant.admin_session()
    head = s.get(f"{plant.base}/api/v1/events?after=0&limit=1", timeout=10).json()["head"]
    page.route("**/api/v1/cockpit/hours", lambda route: (page.wait_for_timeout(800), route.continue_()))
    button = page.locator("#hours-save")
    button.click()
    expect(button).to_be_disabled()
    button.click(force=True)                      # a second tap while the first is in flight
    expect(page.locator(f'#hours-list td:text-is("{month}")')).to_have_count(1, timeout=WAIT_MS)
    page.screenshot(path=str(shots / f"hours-{w}x{h}.png"), full_page=True)
    measured(page, 14, f"hours form {size}")
    rows = [x for x in s.get(f"{plant.base}/api/v1/cockpit/hours", timeout=10).json()["hours"] if x["month"] == month]
    assert len(rows) == 1 and rows[0]["hours"] == 4321 and rows[0]["unit"] == "生产部"
    # one recording, not a recording and its replacement: the second tap never ran
    got = s.get(f"{plant.base}/api/v1/events?after={head}&limit=1000", timeout=10).json()["events"]
    assert len([e for e in got if e["type"] == "cockpit.hours_recorded"]) == 1
    page.goto(f"{plant.base}/cockpit?days=30")
    expect(page.locator("#accident-basis")).to_have_attribute("data-basis", re.compile(r"^(estimated|mixed|recorded)$"))
    expect(page.locator("#bt-verdict")).to_be_visible()
    page.screenshot(path=str(shots / f"cockpit-{w}x{h}.png"), full_page=True)


@pytest.fixture(scope="module")
def shots(tmp_path_factory) -> Path:
    folder = tmp_path_factory.getbasetemp() / "screens"
    folder.mkdir(exist_ok=True)
    return folder


def test_the_wall_board_opens_the_cockpit_with_its_token(cockpit_plant, new_page):
    plant = cockpit_plant
    plant.ensure_running()
    page = new_page(1920, 1080)
    page.goto(f"{plant.base}/cockpit?token={plant.token}")
    assert "token=" not in page.url
    expect(page.locator("body")).to_have_class(re.compile(r"\bwall\b"))
    expect(page.locator("#live-state")).to_have_class(re.compile(r"\bconnected\b"), timeout=WAIT_MS)
    expect(page.locator('[data-kpi="alarms_per_10_min"] .value')).to_have_text(re.compile(r"^\d+\.\d{2}$"))
    expect(page.locator("#report-form")).to_have_count(0)     # the kiosk does not download reports
    expect(page.locator("a.drill")).to_have_count(0)
    cjk_renders(page, "h1")
    no_overflow(page, "wall 1080p")


@pytest.mark.parametrize("size", list(SIZES))
def test_reports_download_as_pdf_and_xlsx_from_the_cockpit(cockpit_plant, new_page, size):
    """Last month's links and the period form give real files: the PDF reads back in Chinese."""
    from test_pdf import pdf_text

    plant = cockpit_plant
    plant.ensure_running()
    w, h = SIZES[size]
    page = new_page(w, h)
    log_in(page, plant, "zhangwei")
    page.goto(f"{plant.base}/cockpit?days=7")
    section = page.locator("#report")
    section.scroll_into_view_if_needed()
    expect(page.locator("#report-links tr")).to_have_count(4)
    cjk_renders(page, "#report h2")
    no_overflow(page, f"reports {size}")
    for link in page.locator("#report-links a").all():   # every link is a tappable button
        box = link.bounding_box()
        assert box and box["height"] >= 44 and box["x"] + box["width"] <= w, (size, box)
    with page.expect_download() as dl:
        page.locator('#report-links tr[data-report="patrol"] a', has_text="PDF").click()
    data = Path(dl.value.path()).read_bytes()
    text = "".join(pdf_text(data))
    assert data[:5] == b"%PDF-" and "巡检报告" in text and "事件日志头" in text
    assert re.search(r"patrol-\d{4}-\d{2}\.pdf$", dl.value.suggested_filename)
    # any period: the form (one submit, two formats)
    page.select_option("#report-kind", "alarms")
    page.fill("#report-period", "2025-Q2")
    with page.expect_download() as dl:
        page.click("#report-pdf")
    assert dl.value.suggested_filename == "alarms-2025-Q2.pdf"
    with page.expect_download() as dl:
        page.click("#report-xlsx")
    assert dl.value.suggested_filename == "alarms-2025-Q2.xlsx"
    assert Path(dl.value.path()).read_bytes()[:2] == b"PK"
