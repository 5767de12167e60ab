"""Every form is idempotent (issue 15), the patrol and hazard screens that still sent no key: the checkpoint
screen's checklist answers (checkpoint.js), the patrol tablet's forms (patrol_tablet.js) and the report form's
QR lookup (hazards/locate.js). Each is made to send the same submission twice (the second while the first is
in flight, the client's busy guard bypassed); one record results, both sends carry one key and the second is
answered from the server's kept answer (appliance/core/idempotency.py) — without the key the checkpoint's
resend is refused as "already answered" and the tablet's as a duplicate code."""
from __future__ import annotations

import re
import uuid

import pytest

from conftest import WAIT_MS
from test_browser import Plant
from test_browser_screens import CHECKPOINT, PHONE, TABLET, log_in

pytestmark = pytest.mark.browser

try:
    from playwright.sync_api import expect
except ImportError:  # pragma: no cover - the browser fixture reports it
    expect = None


@pytest.fixture(scope="module")
def patrol_plant(tmp_path_factory):
    """The demo plant with its checkpoint readers emulated (the test presents the badges)."""
    from appliance.demo_patrol import readers
    from drivers.sim.badges import Badges

    sim = Badges()
    p = Plant(tmp_path_factory.mktemp("patrol-idem"), readers_toml=readers(sim))
    try:
        p.start()
        p.sim = sim
        yield p
    finally:
        p.kill()
        sim.close()


def _watch(page, url_re: str):
    """Slow each POST to a URL matching `url_re` (a second send lands while the first is in flight); note
    the key each carried and each answer's status and replay header."""
    sent: list[str | None] = []
    answers: list[tuple[int, str | None]] = []
    pattern = re.compile(url_re)

    def slow(route):
        if route.request.method != "POST":
            return route.continue_()
        sent.append(route.request.headers.get("idempotency-key"))
        page.wait_for_timeout(800)
        return route.continue_()

    page.route(pattern, slow)
    page.on("response", lambda r: answers.append((r.status, r.headers.get("idempotent-replayed")))
            if r.request.method == "POST" and pattern.search(r.url) else None)
    return sent, answers


def _resend(page, selector: str) -> None:
    """What a second tap would do if the busy guard let it: submit the same form again."""
    page.evaluate("""(sel) => { const f = document.querySelector(sel);
      f.dataset.busy = ''; f.querySelectorAll('button').forEach(b => b.disabled = false); f.requestSubmit(); }""",
                  selector)


def test_checkpoint_answers_sent_twice_are_one_check(patrol_plant, new_page):
    plant = patrol_plant
    screen = new_page(*CHECKPOINT)
    screen.goto(f"{plant.base}/checkpoint/CP-TANK?token={plant.creds['checkpoint_tokens']['CP-TANK']}")
    expect(screen.locator("#live-state")).to_have_class(re.compile(r"\bconnected\b"), timeout=WAIT_MS)
    assert screen.evaluate("typeof window.SafetyForms") == "object"
    plant.sim.present("CP-TANK", "04A1B2C3D4E5F9")          # 刘洋, the inspector
    items = screen.locator("#cp-items li")
    expect(items).to_have_count(3, timeout=WAIT_MS)
    items.nth(0).locator("label.choice.abnormal").click()
    items.nth(0).locator(".cp-draft textarea").fill(f"LT-101 液位计读数跳变 {uuid.uuid4().hex[:6]}")
    text = items.nth(0).locator(".cp-draft textarea").input_value()
    items.nth(1).locator("label.choice.normal").click()
    items.nth(2).locator("label.choice.normal").click()
    sent, answers = _watch(screen, r"/api/v1/patrol/taps/\d+/answers$")
    submit = screen.locator("#cp-submit")
    submit.click()
    expect(submit).to_be_disabled()
    _resend(screen, "#cp-checklist")
    expect(screen.locator("#cp-result")).to_contain_text("已上报 1 项隐患", timeout=WAIT_MS)
    screen.wait_for_timeout(1800)
    # the resend's answer is the kept one: the screen still says it was filed, not "already answered"
    expect(screen.locator("#cp-result")).not_to_have_class(re.compile(r"\brefused\b"))
    assert len(sent) == 2 and sent[0] and sent[0] == sent[1], sent
    # the resend is answered from the kept answer, or (when it lands while the first is still being written on
    # a busy box) refused as in flight: never written twice
    assert len(answers) == 2 and (201, None) in answers, answers
    assert [a for a in answers if a != (201, None)][0] in ((200, "true"), (409, None)), answers
    hazards = plant.admin_session().get(f"{plant.base}/api/v1/hazards", timeout=10).json()["hazards"]
    assert sum(text in h["description"] for h in hazards) == 1


def test_a_checkpoint_made_twice_on_the_patrol_tablet_is_one(patrol_plant, new_page):
    plant = patrol_plant
    page = new_page(*TABLET)
    log_in(page, plant, "admin")
    page.goto(f"{plant.base}/tablet/patrol")
    form = page.locator("form.patrol-form[data-kind=checkpoint]")
    code = "CP-" + uuid.uuid4().hex[:5].upper()
    form.locator("input[name=code]").fill(code)
    form.locator("input[name=name]").fill("装车台东侧")
    form.locator("select[name=area_id]").select_option(index=1)
    form.locator("input[name=tag_uid]").fill("04" + uuid.uuid4().hex[:12].upper())
    form.locator("textarea[name=checklist]").fill("静电接地完好\n鹤管无滴漏 | 工艺")
    sent, answers = _watch(page, r"/api/v1/patrol/checkpoints$")
    button = form.locator("button[type=submit]")
    button.click()
    expect(button).to_be_disabled()
    _resend(page, "form.patrol-form[data-kind=checkpoint]")
    expect(page.locator("#form-status")).to_have_class(re.compile(r"\bok\b"), timeout=WAIT_MS)
    page.wait_for_timeout(1800)
    assert len(sent) == 2 and sent[0] and sent[0] == sent[1], sent
    # the resend is answered from the kept answer, or (when it lands while the first is still being written on
    # a busy box) refused as in flight: never written twice
    assert len(answers) == 2 and (201, None) in answers, answers
    assert [a for a in answers if a != (201, None)][0] in ((200, "true"), (409, None)), answers
    got = plant.admin_session().get(f"{plant.base}/api/v1/patrol/checkpoints", timeout=10).json()["checkpoints"]
    assert sum(c["code"] == code for c in got) == 1


def test_the_qr_lookup_of_a_report_photo_is_sent_once_with_a_key(patrol_plant, new_page, tmp_path):
    from test_browser_screens2 import _jpeg

    plant = patrol_plant
    photo = tmp_path / "p.jpg"
    photo.write_bytes(_jpeg(3))
    page = new_page(*PHONE)
    log_in(page, plant, "liuyang")
    page.goto(f"{plant.base}/tablet/hazards")
    sent, answers = _watch(page, r"/api/v1/hazards/locate$")
    inp = page.locator("#report-photo")
    inp.set_input_files(str(photo))
    expect(inp).to_be_disabled()                    # in flight: the photo cannot be changed meanwhile
    page.evaluate("document.getElementById('report-photo').dispatchEvent(new Event('change'))")
    expect(page.locator("#locate-status")).to_have_attribute("data-reason", re.compile(r".+"), timeout=WAIT_MS)
    expect(inp).to_be_enabled()
    page.wait_for_timeout(500)
    assert len(sent) == 1 and sent[0], sent
    assert answers == [(200, None)], answers


def test_a_control_task_check_keeps_its_note_across_a_reload_and_is_sent_once(patrol_plant, new_page):
    """The patrol tablet's control check (隐患排查任务) on a phone: the note typed survives a reload (forms.js
    data-draft) and is gone once sent; 正常 tapped twice records one check with one key."""
    plant = patrol_plant
    page = new_page(*PHONE)
    log_in(page, plant, "wangfang")
    page.goto(f"{plant.base}/tablet/patrol")
    form = page.locator("form.task-form").first
    task = form.get_attribute("data-task")
    note = "呼吸阀阀盘无卡涩，阻火器网面清洁"
    form.locator("input[name=note]").fill(note)
    page.reload()
    form = page.locator(f'form.task-form[data-task="{task}"]')
    expect(form.locator("input[name=note]")).to_have_value(note)
    sent, answers = _watch(page, rf"/api/v1/control-tasks/{task}/check$")
    ok_button = form.locator("button[value='0']")
    ok_button.click()
    expect(ok_button).to_be_disabled()
    page.evaluate("""(t) => { const f = document.querySelector('form.task-form[data-task="' + t + '"]');
      f.dataset.busy = ''; f.requestSubmit(f.querySelector("button[value='0']")); }""", task)
    expect(page.locator("#form-status")).to_have_class(re.compile(r"\bok\b"), timeout=WAIT_MS)
    page.wait_for_timeout(1800)
    assert len(sent) == 2 and sent[0] and sent[0] == sent[1], sent
    # one ran; the repeat got its kept answer, or 409 if it came while the first still ran (as above)
    assert (200, None) in answers and len(answers) == 2, answers
    assert [a for a in answers if a != (200, None)][0] in ((200, "true"), (409, None)), answers
    page.wait_for_load_state("load")
    assert page.evaluate("(t) => localStorage.getItem('draft:/tablet/patrol:task-' + t)", task) is None
    done = plant.admin_session().get(f"{plant.base}/api/v1/control-tasks?status=done", timeout=10).json()["tasks"]
    assert sum(str(t["id"]) == task for t in done) == 1
