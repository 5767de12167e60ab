"""The major-hazard screens in a real browser (Playwright + Debian chromium) at phone (390x844), tablet
(820x1180) and 1080p (1920x1080), against the demo plant served by a real appliance process:

- the report form with the 121号 checklist (a tick forces the major grade) and the Art. 14 fields;
- dispatch with the Art. 14 report and Art. 15 plan, rectification with its cost;
- the acceptance step (SAWS order 16 Art. 18): the evaluation by the safety office, then the principal's
  sign-off (the demo's admin is named principal in [hazards] principal_logins);
- the quarterly statistics page (Art. 14) and its export.

At each size: no horizontal overflow, a double click submits once, the CJK text has a real size.
"""
from __future__ import annotations

import re

import pytest

from test_browser import Plant, unique_name

pytestmark = pytest.mark.browser

try:
    from playwright.sync_api import expect
except ImportError:  # pragma: no cover - test_browser's browser fixture reports it
    expect = None

SIZES = {"phone": (390, 844), "tablet": (820, 1180), "1080p": (1920, 1080)}
PLAN = {"target": "消除液氯充装泄漏风险", "methods": "加装万向管道充装系统", "funding": "8.6万元已落实",
        "organisation": "设备部 黄勇", "schedule": "30日内完成", "safety_measures": "充装暂停，备用空气呼吸器"}


@pytest.fixture(scope="module")
def major_plant(tmp_path_factory):
    p = Plant(tmp_path_factory.mktemp("major-plant"))
    assert 'principal_logins = ["admin"]' in p.config.read_text(encoding="utf-8")  # the demo's principal
    try:
        p.start()
        yield p
    finally:
        p.kill()


def login(page, plant: Plant, who: str) -> None:
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
    assert box and box["width"] > 40 and box["height"] > 10, (selector, box)


def ok(page) -> None:
    """The form said it was saved; then the page reloads itself (forms.js, 600 ms later): wait for that
    reload, so the test's next goto is not aborted by it (net::ERR_ABORTED)."""
    page.wait_for_function("() => { window.__stay = 1; return true; }")
    expect(page.locator("#form-status")).to_have_class(re.compile(r"\bok\b"))
    page.wait_for_function("() => window.__stay === undefined", timeout=10_000)
    page.wait_for_load_state("load")


@pytest.mark.parametrize("size", list(SIZES))
def test_major_hazard_report_evaluation_sign_off_and_statistics(major_plant, new_page, size):
    plant = major_plant
    plant.ensure_running()
    w, h = SIZES[size]
    text = unique_name("液氯充装未用万向管道")
    card_sel = f'.hazard:has-text("{text}")'

    # the worker reports: a 121号 tick forces the major grade and shows the Art. 14 fields
    worker = new_page(w, h)
    login(worker, plant, "liuyang")
    worker.goto(f"{plant.base}/tablet/hazards")
    form = worker.locator("#hazard-report")
    expect(form.locator("#art14-fields")).to_be_hidden()
    form.locator("select[name=area_id]").select_option(label="储罐区")
    form.locator("select[name=category]").select_option("工艺")
    form.locator("input[name=description]").fill(text)
    form.locator("#checklist-121 summary").click()
    expect(form.locator("input[name=checklist]")).to_have_count(20)
    form.locator("input[value='121-07']").check()
    expect(form.locator("#grade-forced")).to_be_visible()
    expect(form.locator("select[name=grade]")).to_have_value("major")
    expect(form.locator("#art14-fields")).to_be_visible()
    form.locator("textarea[name=status_cause]").fill("液氯充装使用金属软管，未设万向管道")
    form.locator("textarea[name=harm_analysis]").fill("泄漏可致中毒；需停车改造，难度中等")
    cjk_renders(worker, "#checklist-121 label.tick span")
    no_overflow(worker, f"report form ({size})")
    form.locator("button[type=submit]").dblclick()           # a double tap must report once
    ok(worker)
    worker.wait_for_timeout(300)
    worker.goto(f"{plant.base}/tablet/hazards")
    expect(worker.locator(card_sel)).to_have_count(1)
    expect(worker.locator(card_sel)).to_have_class(re.compile(r"\bmajor\b"))
    expect(worker.locator(card_sel).locator(".ticked")).to_contain_text("121-07")

    # the safety office dispatches with the Art. 15 plan (the Art. 14 parts come from the report)
    officer = new_page(w, h)
    login(officer, plant, "zhangwei")
    officer.goto(f"{plant.base}/tablet/hazards")
    card = officer.locator(card_sel)
    dispatch = card.locator("form[data-api$='/dispatch']")
    expect(dispatch.locator("textarea[name=status_cause]")).to_have_value("液氯充装使用金属软管，未设万向管道")
    dispatch.locator("select[name=assignee]").select_option("liuyang")
    for k, v in PLAN.items():
        dispatch.locator(f"input[name='plan.{k}']").fill(v)
    no_overflow(officer, f"dispatch ({size})")
    dispatch.locator("button").click()
    ok(officer)

    worker.goto(f"{plant.base}/tablet/hazards")
    rect = worker.locator(card_sel).locator("form[data-api$='/rectify']")
    rect.locator("input[name=note]").fill("已加装万向管道充装系统")
    rect.locator("input[name=cost]").fill("86000")
    rect.locator("button.primary").click()
    ok(worker)

    # Art. 18: the evaluation first …
    officer.goto(f"{plant.base}/tablet/hazards")
    card = officer.locator(card_sel)
    expect(card.locator(".stage")).to_have_text("待治理评估")
    expect(card.locator("form[data-api$='/accept']")).to_have_count(0)     # no plain acceptance
    ev = card.locator("form.evaluate")
    ev.locator("select[name=assessor_kind]").select_option("agency")
    ev.locator("input[name=assessor]").fill("江东安全评价有限公司")
    ev.locator("select[name=result]").select_option("pass")
    ev.locator("input[name=document]").fill("江东评〔2025〕17号")
    no_overflow(officer, f"evaluation ({size})")
    ev.locator("button[type=submit]").click()
    ok(officer)
    officer.goto(f"{plant.base}/tablet/hazards")
    expect(officer.locator(card_sel).locator(".stage")).to_have_text("待主要负责人签字")
    expect(officer.locator(card_sel).locator("form.sign-off")).to_have_count(0)   # not the principal

    # … then the principal's sign-off closes it
    principal = new_page(w, h)
    login(principal, plant, "admin")
    principal.goto(f"{plant.base}/tablet/hazards")
    card = principal.locator(card_sel)
    expect(card.locator(".evaluation")).to_contain_text("江东安全评价有限公司")
    no_overflow(principal, f"sign-off ({size})")
    card.locator("form.sign-off button").click()
    ok(principal)
    principal.goto(f"{plant.base}/tablet/hazards")
    expect(principal.locator(card_sel)).to_have_class(re.compile(r"st-closed"))

    # the quarterly statistics page: this hazard among the major ones, closed; exportable; printable layout
    principal.goto(f"{plant.base}/tablet/hazards/statistics")
    stats = principal.locator("#stats-table")
    found = int(stats.locator("tr[data-grade=major] .found").text_content() or "0")
    assert found >= 1, found
    expect(principal.locator("#majors-table tr", has_text=text).locator(".state")).to_have_text("已验收销号")
    expect(principal.locator(".sign-lines")).to_contain_text("主要负责人签字")
    cjk_renders(principal, "main h1")
    no_overflow(principal, f"statistics ({size})")
    csv = principal.request.get(plant.base + (principal.locator("#export-csv").get_attribute("href") or ""))
    assert csv.status == 200 and "主要负责人签字" in csv.body().decode("utf-8-sig")
    principal.locator("#period-form select[name=quarter]").select_option("year")
    principal.locator("#period-form button").click()
    expect(principal.locator("#period")).to_contain_text("全年")
    principal.emulate_media(media="print")
    expect(principal.locator("#period-form")).to_be_hidden()   # the printout is the table and the signatures
    expect(principal.locator("#stats-table")).to_be_visible()
