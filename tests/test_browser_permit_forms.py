"""#18 and #15 on the permit pages in a real browser against the demo plant: the apply form's JSA rows
(add/remove, at 390×844), its draft surviving a reload and cleared once sent, a double tap on apply and on
approve sending once (the Idempotency-Key: a forced resend is answered from the server's kept answer), a
hot-work permit approved at two levels by two people with the chain shown, and the empty states."""
from __future__ import annotations

import re
import time
import uuid

import pytest

from conftest import WAIT_MS
from test_browser import Plant
from test_browser_idempotency import _events, _head, _watch
from test_browser_screens import PHONE, TABLET, WALL, log_in, plant, shots  # noqa: F401  (fixtures)

pytestmark = pytest.mark.browser

try:
    from playwright.sync_api import expect
except ImportError:  # pragma: no cover - the browser fixture reports it
    expect = None


def _no_sideways(page, where: str) -> None:
    w = page.evaluate("[document.documentElement.scrollWidth, document.documentElement.clientWidth]")
    assert w[0] <= w[1], f"{where}: scrolls sideways {w}"


def _people(p: Plant) -> dict[str, int]:
    rows = p.admin_session().get(f"{p.base}/api/v1/people?limit=500", timeout=10).json()
    rows = rows["people"] if isinstance(rows, dict) else rows
    return {x["employee_no"]: x["id"] for x in rows}


def _area(p: Plant, code: str) -> int:
    areas = p.admin_session().get(f"{p.base}/api/v1/areas", timeout=10).json()["areas"]
    return next(a["id"] for a in areas if a["code"] == code)


def _local(page, offset_min: int) -> str:
    return page.evaluate("""m => { const d = new Date(Date.now() + m * 60000 - new Date().getTimezoneOffset() * 60000);
                                   return d.toISOString().slice(0, 16); }""", offset_min)


def test_apply_with_jsa_rows_on_a_phone_keeps_a_draft_and_a_double_tap_files_one(plant, new_page, shots):  # noqa: F811
    page = new_page(*PHONE)
    log_in(page, plant, "wangfang")
    page.goto(f"{plant.base}/tablet/permits")
    form = page.locator("#permit-apply")
    place = f"T-104 罐顶 {uuid.uuid4().hex[:6]}"
    form.locator("select[name=type]").select_option("blinding")     # 盲板抽堵: the line's conditions, required
    expect(page.locator("#pm-blind")).to_be_visible()
    expect(form.locator("input[name=medium_pressure_mpa]")).to_have_attribute("required", "")
    form.locator("select[name=type]").select_option("hot_work")
    form.locator("select[name=grade]").select_option("1")
    expect(page.locator("#pm-jsa-req")).to_be_visible()          # 一级动火: the JSA is required
    expect(page.locator("#pm-blind")).to_be_hidden()             # the blinding fields only for 盲板抽堵
    form.locator("select[name=area_id]").select_option(str(_area(plant, "TANK")))
    form.locator("input[name=location]").fill(place)
    form.locator("input[name=content]").fill("呼吸阀支架补焊")
    form.locator("input[name=medium]").fill("CH4")
    form.locator("input[name=valid_from]").fill(_local(page, 1))
    form.locator("input[name=valid_to]").fill(_local(page, 7 * 60))
    ppl = _people(plant)
    form.locator("select[name=workers]").select_option([str(ppl["C2001"])])
    form.locator("select[name=guardian_id]").select_option(str(ppl["E1006"]))
    form.locator("select[name=issuer_id]").select_option(str(ppl["E1007"]))
    rows = form.locator(".jsa-row")
    expect(rows).to_have_count(1)
    for i, (step, hz, ms, who) in enumerate([("置换分析", "残留可燃气体燃爆", "氮气置换，30 min 内分析合格", "王芳"),
                                             ("多余的一行", "x", "x", "x"),
                                             ("焊接", "火花飞溅", "接火盆，专人监火", "赵敏")]):
        if i:
            page.locator("#pm-jsa-add").click()
        row = rows.nth(i)
        row.locator("[data-jsa=step]").fill(step)
        row.locator("[data-jsa=hazards]").fill(hz)
        row.locator("[data-jsa=measures]").fill(ms)
        row.locator("[data-jsa=responsible]").fill(who)
    rows.nth(1).locator(".jsa-remove").click()                   # remove the middle step
    expect(rows).to_have_count(2)
    box = page.locator("#pm-jsa-add").bounding_box()
    assert box and box["height"] >= 44 and box["x"] + box["width"] <= PHONE[0], box
    _no_sideways(page, "apply form with JSA rows at 390")
    page.screenshot(path=str(shots / "permit-apply-jsa-390x844.png"), full_page=True)

    # a reload keeps the half-filled form: the fields, the JSA rows and the worker picked
    page.reload()
    expect(page.locator("#permit-apply .draft-note")).to_be_visible()
    expect(form.locator("input[name=location]")).to_have_value(place)
    expect(form.locator("select[name=grade]")).to_have_value("1")
    expect(rows).to_have_count(2)
    expect(rows.nth(1).locator("[data-jsa=measures]")).to_have_value("接火盆，专人监火")
    assert page.evaluate("Array.from(document.querySelector('select[name=workers]').selectedOptions).map(o => o.value)") \
        == [str(ppl["C2001"])]

    # a double tap, and a resend of the same submission forced past the busy guard: one permit
    head = _head(plant)
    sent, answers = _watch(page, "**/api/v1/permits")
    button = form.locator("button[type=submit]")
    button.click()
    expect(button).to_be_disabled()
    page.evaluate("""() => { const f = document.getElementById('permit-apply');
                             f.dataset.busy = ''; f.requestSubmit(); }""")
    page.wait_for_url(re.compile(r"/tablet/permits/\d+$"), timeout=WAIT_MS)
    page.unroute("**/api/v1/permits")
    filed = [e for e in _events(plant, head, "permit.applied") if e["payload"].get("location") == place]
    assert len(filed) == 1, filed
    assert len(sent) == 2 and sent[0] and sent[0] == sent[1], sent
    # the resend is answered from the kept answer, or (when it lands while the first is still being filed on a
    # busy box) refused as in flight: never filed twice
    assert len(answers) == 2 and (201, None) in answers, answers
    assert [a for a in answers if a != (201, None)][0] in ((200, "true"), (409, None)), answers
    expect(page.locator("#pm-jsa .jsa-list > li")).to_have_count(2)
    expect(page.locator("#pm-jsa")).to_contain_text("接火盆，专人监火")
    # the draft was spent: the form is empty again
    page.goto(f"{plant.base}/tablet/permits")
    expect(page.locator("#permit-apply input[name=location]")).to_have_value("")
    expect(page.locator("#permit-apply .draft-note")).to_be_hidden()


def _applied_and_confirmed(plant: Plant) -> int:  # noqa: F811
    """A 一级动火 applied by the worker 刘洋 with its JSA, its measures confirmed by the shift."""
    from appliance.permits.rules import MEASURES
    from conftest import login_session

    ppl = _people(plant)
    worker = login_session(plant.base, "liuyang", plant.password("liuyang"))
    now = int(time.time() * 1000)
    r = worker.post(f"{plant.base}/api/v1/permits", json={
        "type": "hot_work", "grade": "1", "area_id": _area(plant, "TANK"), "location": f"T-105 {uuid.uuid4().hex[:5]}",
        "content": "管线补焊", "medium": "CH4", "valid_from": now, "valid_to": now + 7 * 3_600_000,
        "workers": [ppl["C2001"]], "guardian_id": ppl["E1006"], "issuer_id": ppl["E1007"],
        "jsa_rows": [{"step": "补焊", "hazards": "火花", "measures": "接火盆", "responsible": "赵敏"}]}, timeout=10)
    assert r.status_code == 201, r.text
    pid = r.json()["id"]
    shift = login_session(plant.base, "wangfang", plant.password("wangfang"))
    r = shift.post(f"{plant.base}/api/v1/permits/{pid}/measures",
                   json={"measures": {m: {"by": "王芳"} for m, *_ in MEASURES["hot_work"]}}, timeout=10)
    assert r.json()["state"] == "measures_confirmed", r.text
    return pid


def test_two_levels_approve_in_order_and_a_double_tap_approves_once(plant, new_page, shots):  # noqa: F811
    pid = _applied_and_confirmed(plant)
    shift = new_page(*TABLET)
    log_in(shift, plant, "wangfang")
    shift.goto(f"{plant.base}/tablet/permits/{pid}")
    chain = shift.locator("#pm-chain .chain > li")
    expect(chain).to_have_count(2)
    expect(chain.nth(0)).to_have_attribute("data-state", "pending")
    expect(chain.nth(1)).to_have_attribute("data-state", "waiting")
    head = _head(plant)
    sent, answers = _watch(shift, f"**/api/v1/permits/{pid}/approve")
    button = shift.locator("#pm-approve button[type=submit]")
    button.click()
    expect(button).to_be_disabled()
    shift.evaluate("""() => { const f = document.getElementById('pm-approve');
                              f.dataset.busy = ''; f.requestSubmit(); }""")
    expect(shift.locator("#pm-chain .chain > li").nth(0)).to_have_attribute("data-state", "approved", timeout=WAIT_MS)
    shift.unroute(f"**/api/v1/permits/{pid}/approve")
    steps = [e for e in _events(plant, head, "permit.level_approved") if e["payload"]["id"] == pid]
    assert len(steps) == 1 and steps[0]["payload"]["level"] == "workshop", steps
    assert len(sent) == 2 and sent[0] == sent[1], sent
    assert (200, None) in answers and len(answers) == 2 and any(a in answers for a in ((200, "true"), (409, None))), answers
    expect(shift.locator("#pm-state")).to_have_attribute("data-state", "measures_confirmed")
    expect(shift.locator("#pm-chain .chain > li").nth(0)).to_contain_text("王芳")
    # the safety level: not the shift's to sign — the page says whom it waits for instead of offering the form
    expect(shift.locator("#pm-approve")).to_have_count(0)
    expect(shift.locator("#pm-waiting")).to_contain_text("安全管理负责人")
    # … the safety officer does, and the permit is approved
    office = new_page(*PHONE)
    log_in(office, plant, "zhangwei")
    office.goto(f"{plant.base}/tablet/permits/{pid}")
    expect(office.locator("#pm-decide h2")).to_contain_text("安全管理负责人")
    office.locator("#pm-approve input[name=note]").fill("同意，加强监火")
    office.locator("#pm-approve button[type=submit]").click()
    expect(office.locator("#pm-state")).to_have_attribute("data-state", "approved", timeout=WAIT_MS)
    states = office.locator("#pm-chain .chain > li")
    expect(states.nth(0)).to_have_attribute("data-state", "approved")
    expect(states.nth(1)).to_have_attribute("data-state", "approved")
    expect(states.nth(1)).to_contain_text("张伟")
    expect(states.nth(1)).to_contain_text("同意，加强监火")
    _no_sideways(office, "approved permit at 390")
    office.screenshot(path=str(shots / "permit-chain-390x844.png"), full_page=True)
    for size, name in ((TABLET, "1024x768"), (WALL, "1920x1080")):
        office.set_viewport_size({"width": size[0], "height": size[1]})
        _no_sideways(office, f"approved permit at {name}")
        office.screenshot(path=str(shots / f"permit-chain-{name}.png"), full_page=True)


def test_a_rejection_ends_the_permit_with_its_reason(plant, new_page, shots):  # noqa: F811
    pid = _applied_and_confirmed(plant)
    page = new_page(*TABLET)
    log_in(page, plant, "wangfang")
    page.goto(f"{plant.base}/tablet/permits/{pid}")
    page.locator("#pm-reject input[name=reason]").fill("罐区今日倒罐，改期作业")
    page.locator("#pm-reject button[type=submit]").click()
    page.locator("dialog.confirm-dialog .confirm-ok").click()       # the shared confirm dialog
    expect(page.locator("#pm-state")).to_have_attribute("data-state", "rejected", timeout=WAIT_MS)
    expect(page.locator("#pm-rejected")).to_contain_text("罐区今日倒罐，改期作业")
    expect(page.locator("#pm-chain .chain > li").nth(0)).to_have_attribute("data-state", "rejected")
    expect(page.locator("#pm-approve")).to_have_count(0)


@pytest.mark.parametrize("size", [PHONE, TABLET, WALL], ids=["390x844", "1024x768", "1920x1080"])
def test_the_permit_pages_load_the_shared_forms_and_fit(plant, new_page, shots, size):  # noqa: F811
    page = new_page(*size)
    log_in(page, plant, "wangfang")
    for name, path in (("list", "/tablet/permits"), ("guard", "/tablet/permits/guard"), ("detail", "/tablet/permits/1")):
        page.goto(f"{plant.base}{path}")
        assert page.evaluate("typeof window.SafetyForms") == "object", path
        _no_sideways(page, f"{path} at {size}")
        page.screenshot(path=str(shots / f"permit-{name}-{size[0]}x{size[1]}.png"), full_page=True)
    # 王芳 guards no job in the demo: the empty state says what is missing and when it fills
    page.goto(f"{plant.base}/tablet/permits/guard")
    expect(page.locator("#guard-none")).to_contain_text("指定您为监护人")
