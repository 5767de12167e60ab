"""The major hazard installations page (/tablet/risks/major-hazards) in a real browser at phone, tablet and
1080p sizes, against the demo plant served by a real appliance process (fixtures of test_browser.py): the
safety officer registers a unit with two chemicals (one submit however often it is clicked), sees its GB
18218-2018 level, edits it, and the wall board's floor plan marks the area; nothing overflows sideways."""
from __future__ import annotations

import re
import shutil
import uuid

import pytest

from conftest import WAIT_MS
from test_browser import log_in, plant, running_plant  # noqa: F401  (fixtures)

expect = pytest.importorskip("playwright.sync_api").expect
pytestmark = pytest.mark.browser

SIZES = [("phone", 390, 844), ("tablet", 820, 1180), ("1080p", 1920, 1080)]


def no_sideways_overflow(page) -> None:
    wide = page.evaluate("""() => {
        const w = document.documentElement.clientWidth;
        const out = [];
        if (document.documentElement.scrollWidth > w) out.push('document ' + document.documentElement.scrollWidth);
        document.querySelectorAll('main *').forEach(e => {
            const r = e.getBoundingClientRect();
            if (r.width && r.right > w + 1) out.push(e.tagName + '.' + e.className + ' ' + Math.round(r.right));
        });
        return out.slice(0, 5);
    }""")
    assert not wide, f"wider than the screen: {wide}"


@pytest.mark.parametrize("size, width, height", SIZES, ids=[s[0] for s in SIZES])
def test_register_and_edit_a_major_hazard_installation(running_plant, new_page, tmp_path, size, width, height):  # noqa: F811
    demo = running_plant
    page = new_page(width, height)
    log_in(page, demo, "zhangwei")            # the demo's safety officer
    page.goto(f"{demo.base}/tablet/risks")
    page.locator("#major-link").click()
    page.wait_for_url(re.compile(r"/tablet/risks/major-hazards$"))
    expect(page.locator("h1")).to_contain_text("重大危险源")
    no_sideways_overflow(page)

    code = "MH-" + uuid.uuid4().hex[:6].upper()
    form = page.locator("#mh-form")
    form.locator("input[name=code]").fill(code)
    form.locator("input[name=name]").fill("液氯液氨储罐区")
    form.locator("select[name=kind]").select_option("tank_farm")
    form.locator("select[name=area_id]").select_option(label="储罐区")
    form.locator("input[name=people_500m]").fill("120")                 # α = 2.0
    row = form.locator(".mh-row").nth(0)
    row.locator('[data-k="name"]').fill("氯")
    row.locator('[data-k="cas"]').fill("7782-50-5")                     # β 4 (表3)
    row.locator('[data-k="q_t"]').fill("25")
    row.locator('[data-k="critical_t"]').fill("5")                      # q/Q 5
    page.locator("#mh-add-row").click()
    row = form.locator(".mh-row").nth(1)
    row.locator('[data-k="name"]').fill("液氨")                          # β 2 by name (表3)
    row.locator('[data-k="q_t"]').fill("50")
    row.locator('[data-k="critical_t"]').fill("10")                     # q/Q 5 → R = 2 × (20 + 10) = 60
    no_sideways_overflow(page)
    page.evaluate("window.__beforeSave = true")
    # two submits in a row (a double tap): one installation
    page.evaluate("f => { f.requestSubmit(); f.requestSubmit(); }", form.element_handle())
    page.wait_for_function("window.__beforeSave === undefined", timeout=WAIT_MS)   # reloaded after the save
    card = page.locator(f'.mh-card[data-code="{code}"]')
    expect(card).to_have_count(1)
    expect(card.locator(".level-chip")).to_have_text("二级重大危险源")
    expect(card.locator(".mh-r")).to_have_text("60")
    expect(card.locator(".mh-subs li")).to_have_count(2)
    no_sideways_overflow(page)
    card.scroll_into_view_if_needed()
    page.screenshot(path=str(tmp_path / f"major-{size}.png"), full_page=True)
    shutil.copy(tmp_path / f"major-{size}.png", f"/tmp/major-{size}.png")

    # edit: more chlorine → R = 2 × (4 × 15 + 10) = 140, 一级
    card.locator(".mh-edit").click()
    expect(page.locator("#mh-form-title")).to_contain_text(code)
    form.locator(".mh-row").nth(0).locator('[data-k="q_t"]').fill("75")
    page.evaluate("window.__beforeSave = true")
    page.locator("#mh-save").click()
    page.wait_for_function("window.__beforeSave === undefined", timeout=WAIT_MS)
    expect(card.locator(".level-chip")).to_have_text("一级重大危险源")

    # a refused value names the field and keeps what was typed
    form.locator("input[name=code]").fill(code + "X")
    form.locator("input[name=name]").fill("坏数据")
    form.locator("input[name=people_500m]").fill("10")
    row = form.locator(".mh-row").nth(0)
    row.locator('[data-k="name"]').fill("甲醇")
    row.locator('[data-k="q_t"]').fill("10")
    row.locator('[data-k="critical_t"]').fill("0")                      # Q ≤ 0
    page.locator("#mh-save").click()
    expect(page.locator("#form-status")).to_have_class(re.compile(r"\berror\b"))
    expect(page.locator("#form-status")).to_contain_text("critical_t")
    expect(row.locator('[data-k="name"]')).to_have_value("甲醇")
    expect(page.locator("#mh-save")).to_be_enabled()

    controls = page.locator("#mh-form button:visible, #mh-form input:visible, #mh-form select:visible")
    small = [controls.nth(i).evaluate("e => e.outerHTML.slice(0, 80)") for i in range(controls.count())
             if (controls.nth(i).bounding_box() or {"height": 48})["height"] < 48 - 0.01]
    assert not small, f"controls under 48 px high: {small}"

    # the wall board's floor plan marks the tank farm with the most severe level there
    page.goto(f"{demo.base}/kiosk")
    badge = page.locator('#area-TANK .mh-badge')
    expect(badge).to_have_attribute("data-mh-level", "1")
    expect(badge.locator("text")).to_have_text("一级重大危险源")
    if size == "1080p":
        page.screenshot(path="/tmp/major-plan.png")
