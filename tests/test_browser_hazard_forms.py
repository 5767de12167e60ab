"""The hazard forms a worker fills on a phone (issue 15 item 10 "reloading loses a half-filled report", beyond
the report itself): the assignee's 整改完成 form, a rejection's reason and the patrol tablet's control-task
note keep what was typed across a reload (forms.js data-draft, localStorage) and drop it once sent."""
from __future__ import annotations

import re
import uuid

import pytest

from conftest import WAIT_MS, expect_saved
from test_browser import Plant
from test_browser_screens import MEASURE, PHONE, TABLET, log_in

pytestmark = pytest.mark.browser

try:
    from playwright.sync_api import expect
except ImportError:  # pragma: no cover - the browser fixture reports it
    expect = None


@pytest.fixture(scope="module")
def plant(tmp_path_factory):
    p = Plant(tmp_path_factory.mktemp("hz-forms-plant"))
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


def _fits(page, size) -> None:
    m = page.evaluate(MEASURE)
    assert m["overflow"] <= 0, f"{size}: scrolls sideways by {m['overflow']} px: {m['wide']}"


def _rectifying(plant: Plant, text: str, assignee: str = "liuyang") -> int:
    s = plant.admin_session()
    area = next(a for a in s.get(f"{plant.base}/api/v1/areas", timeout=10).json()["areas"] if a["name"] == "仓库")
    r = s.post(f"{plant.base}/api/v1/hazards", json={"area_id": area["id"], "category": "设备", "description": text},
               timeout=10)
    assert r.status_code == 201, r.text
    hid = r.json()["id"]
    if r.json()["state"] == "reported":
        r = s.post(f"{plant.base}/api/v1/hazards/{hid}/dispatch", json={"assignee": assignee}, timeout=10)
        assert r.status_code == 200, r.text
    return hid


def _draft(page, name: str):
    return page.evaluate("(n) => localStorage.getItem('draft:/tablet/hazards:' + n)", name)


def test_the_rectify_form_keeps_its_draft_across_a_reload(plant, new_page, shots):
    hid = _rectifying(plant, f"仓库货架横梁变形 {uuid.uuid4().hex[:6]}")
    page = new_page(*PHONE)
    log_in(page, plant, "liuyang")
    page.goto(f"{plant.base}/tablet/hazards")
    card = page.locator(f'.hazard[data-hazard="{hid}"]')
    form = card.locator("form[data-api$='/rectify']")
    note = "已更换 3 号货架横梁，加装限高标识"
    form.locator("input[name=note]").fill(note)
    form.locator("input[name=cost]").fill("1280")
    page.reload()
    form = page.locator(f'.hazard[data-hazard="{hid}"] form[data-api$="/rectify"]')
    expect(form.locator("input[name=note]")).to_have_value(note)
    expect(form.locator("input[name=cost]")).to_have_value("1280")
    expect(form.locator(".draft-note")).to_be_visible()
    _fits(page, PHONE)
    page.locator(f'.hazard[data-hazard="{hid}"]').screenshot(path=str(shots / "rectify-draft-390x844.png"))
    form.locator("button[type=submit]").click()
    expect_saved(page)
    h = plant.admin_session().get(f"{plant.base}/api/v1/hazards/{hid}", timeout=10).json()
    assert h["state"] == "pending_acceptance" and h["rectify_note"] == note and h["cost"] == 1280
    assert _draft(page, f"rectify-{hid}") is None                     # sent: the draft is spent


def test_a_failed_rectify_keeps_the_draft_and_a_rejection_reason_survives(plant, new_page):
    """A submission refused by the server keeps the draft (the worker has not lost their text); the shift's
    rejection reason (退回) survives a reload too and is gone once sent."""
    hid = _rectifying(plant, f"配电间门锁损坏 {uuid.uuid4().hex[:6]}")
    page = new_page(*PHONE)
    log_in(page, plant, "liuyang")
    page.goto(f"{plant.base}/tablet/hazards")
    form = page.locator(f'.hazard[data-hazard="{hid}"] form[data-api$="/rectify"]')
    form.locator("input[name=note]").fill("已换锁")
    page.route("**/rectify", lambda route: route.fulfill(status=503, content_type="application/json",
                                                         body='{"error": {"message": "busy"}}'))
    form.locator("button[type=submit]").click()
    expect(page.locator("#form-status")).to_have_class(re.compile(r"\berror\b"), timeout=WAIT_MS)
    page.unroute("**/rectify")
    assert "已换锁" in (_draft(page, f"rectify-{hid}") or "")
    form.locator("button[type=submit]").click()
    expect_saved(page)

    shift = new_page(*TABLET)
    log_in(shift, plant, "zhangwei")
    shift.goto(f"{plant.base}/tablet/hazards")
    reject = shift.locator(f'.hazard[data-hazard="{hid}"] form[data-api$="/reject"]').first
    reject.locator("input[name=note]").fill("锁具型号不符，须用防爆型")
    shift.reload()
    reject = shift.locator(f'.hazard[data-hazard="{hid}"] form[data-api$="/reject"]').first
    expect(reject.locator("input[name=note]")).to_have_value("锁具型号不符，须用防爆型")
    _fits(shift, TABLET)
    reject.locator("button[type=submit]").click()
    expect_saved(shift)
    assert plant.admin_session().get(f"{plant.base}/api/v1/hazards/{hid}", timeout=10).json()["state"] == "rectifying"
    assert _draft(shift, f"reject-{hid}") is None


WALL = (1920, 1080)


@pytest.mark.parametrize("size", [PHONE, TABLET, WALL], ids=["390x844", "1024x768", "1920x1080"])
def test_a_report_names_the_contractor_firm_and_the_shift_can_change_it(plant, new_page, shots, size):
    """Issue 19: the report form's optional firm picker (the contractors' archive), the firm shown on the
    hazard, and the shift's 保存承包商 on the card; nothing scrolls sideways."""
    s = plant.admin_session()
    firms = s.get(f"{plant.base}/api/v1/contractors", timeout=10).json()["contractors"]
    assert len(firms) >= 2, firms
    first, second = firms[0], firms[1]
    page = new_page(*size)
    log_in(page, plant, "liuyang")
    page.goto(f"{plant.base}/tablet/hazards")
    form = page.locator("#hazard-report")
    picker = form.locator("select[name=firm_id]")
    assert picker.input_value() == ""                              # optional, no firm preselected
    text = f"脚手架扣件缺失 {uuid.uuid4().hex[:6]}"
    form.locator("select[name=area_id]").select_option(label="仓库")
    form.locator("input[name=description]").fill(text)
    picker.select_option(str(first["id"]))
    _fits(page, size)
    form.locator("button[type=submit]").click()
    expect_saved(page)
    card = page.locator(".hazard", has_text=text)
    expect(card.locator(".firm")).to_contain_text(first["name"], timeout=WAIT_MS)
    (h,) = [x for x in s.get(f"{plant.base}/api/v1/hazards", timeout=10).json()["hazards"] if x["description"] == text]
    assert h["firm_id"] == first["id"]

    shift = new_page(*size)
    log_in(shift, plant, "zhangwei")
    shift.goto(f"{plant.base}/tablet/hazards")
    card = shift.locator(f'.hazard[data-hazard="{h["id"]}"]')
    change = card.locator("form.firm-form")
    change.locator("select[name=firm_id]").select_option(str(second["id"]))
    assert change.locator("button[type=submit]").bounding_box()["height"] >= 48
    _fits(shift, size)
    card.screenshot(path=str(shots / f"hazard-firm-{size[0]}x{size[1]}.png"))
    change.locator("button[type=submit]").click()
    expect_saved(shift)
    expect(shift.locator(f'.hazard[data-hazard="{h["id"]}"] .firm')).to_contain_text(second["name"], timeout=WAIT_MS)
