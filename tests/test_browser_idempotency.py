"""Every form is idempotent (issue 15 item 2), beyond the hazard report: in a real browser against the demo
plant, a double tap on a training form and on the major-hazard form files one record even when the page is
made to send the same submission twice (the client's busy guard bypassed), because each submission carries
an Idempotency-Key that the server's generic guard (appliance/core/idempotency.py) answers with the kept
answer. The pages that the domains' forms are on load the shared SafetyForms (forms.js)."""
from __future__ import annotations

import re
import uuid

import pytest

from conftest import WAIT_MS
from test_browser import Plant
from test_browser_picker import pick_person
from test_browser_screens import TABLET, log_in, plant, shots  # noqa: F401  (fixtures)

pytestmark = pytest.mark.browser

try:
    from playwright.sync_api import expect
except ImportError:  # pragma: no cover - the browser fixture reports it
    expect = None


def _events(p: Plant, after: int, kind: str) -> list[dict]:
    s = p.admin_session()
    got = s.get(f"{p.base}/api/v1/events?after={after}&limit=1000", timeout=10).json()["events"]
    return [e for e in got if e["type"] == kind]


def _head(p: Plant) -> int:
    return p.admin_session().get(f"{p.base}/api/v1/events?after=0&limit=1", timeout=10).json()["head"]


def _watch(page, url_glob: str):
    """Slow each request to `url_glob` (the second tap lands while the first is in flight) and note the
    key each carried and whether its answer was a replay."""
    sent, answers = [], []
    page.route(url_glob, lambda route: (sent.append(route.request.headers.get("idempotency-key")),
                                        page.wait_for_timeout(800), route.continue_()))
    page.on("response", lambda r: answers.append((r.status, r.headers.get("idempotent-replayed")))
            if r.request.method in ("POST", "PUT") and re.search(url_glob.replace("**", ".*") + "$", r.url) else None)
    return sent, answers


def test_double_tap_on_a_training_record_files_one(plant, new_page, shots):  # noqa: F811
    """The training record form (the safety office's 培训记录): the button is disabled while it sends; a
    resend of the same submission forced past that guard carries the same key and is answered from the
    server's kept answer, so one record (one training.record_added event) is filed."""
    page = new_page(*TABLET)
    log_in(page, plant, "zhangwei")
    page.goto(f"{plant.base}/tablet/training")
    form = page.locator("#record-form")
    pick_person(form, "刘", "刘洋")          # the person picker (issue 20): nobody is chosen by default
    title = f"受限空间作业专项培训 {uuid.uuid4().hex[:6]}"
    form.locator("input[name=held_on]").fill("2026-11-20")
    form.locator("input[name=hours]").fill("2")
    form.locator("input[name=title]").fill(title)
    head = _head(plant)
    sent, answers = _watch(page, "**/api/v1/training/records")
    button = form.locator("button[type=submit]")
    button.click()
    expect(button).to_be_disabled()
    button.click(force=True)                       # a tap on the disabled button does nothing …
    page.evaluate("""() => {                         // … and a resend of the same form is the same record
      const f = document.getElementById('record-form');
      f.dataset.busy = ''; f.requestSubmit(); }""")
    expect(page.locator("#form-status")).to_have_class(re.compile(r"\bok\b"), timeout=WAIT_MS)
    page.wait_for_timeout(2000)
    # the page has reloaded to show the record: the outcome is still there to read (kept across the reload,
    # sessionStorage), and shown once — a second reload is a clean page
    expect(page.locator("#form-status")).to_have_class(re.compile(r"\bok\b"))
    expect(page.locator("#form-status")).to_have_text("已保存")
    page.unroute("**/api/v1/training/records")
    filed = [e for e in _events(plant, head, "training.record_added") if e["payload"].get("title") == title]
    assert len(filed) == 1, filed
    assert len(sent) == 2 and sent[0] and sent[0] == sent[1], sent           # one key for both sends
    assert sorted(answers) == [(200, "true"), (201, None)], answers          # the second was the kept answer
    page.screenshot(path=str(shots / "training-record-once-1024x768.png"), full_page=True)
    page.reload()
    expect(page.locator("#form-status")).to_have_text("")


def test_a_resend_after_a_lost_answer_files_one_major_hazard_installation(plant, new_page):  # noqa: F811
    """risk/major.js (its own fetch, not SafetyForms): the first save reaches the server but its answer is
    lost on the way back (the tablet's Wi-Fi drops); the page shows the error and the button again, the
    user taps save once more, and the same key makes it the same installation, not a second one."""
    page = new_page(*TABLET)
    log_in(page, plant, "zhangwei")
    page.goto(f"{plant.base}/tablet/risks/major-hazards")
    code = "MH-" + uuid.uuid4().hex[:6].upper()
    form = page.locator("#mh-form")
    form.locator("input[name=code]").fill(code)
    form.locator("input[name=name]").fill("液氯储罐区")
    form.locator("select[name=kind]").select_option("tank_farm")
    form.locator("input[name=people_500m]").fill("20")
    row = form.locator(".mh-row").nth(0)
    row.locator('[data-k="name"]').fill("氯")
    row.locator('[data-k="q_t"]').fill("25")
    row.locator('[data-k="critical_t"]').fill("5")
    sent = []

    def lose_first_answer(route):
        sent.append(route.request.headers.get("idempotency-key"))
        if len(sent) == 1:
            route.fetch()          # the server files it …
            route.abort()          # … and the answer never reaches the tablet
        else:
            route.continue_()

    page.route("**/api/v1/risk/major-hazards", lose_first_answer)
    save = page.locator("#mh-save")
    save.click()
    expect(page.locator("#form-status")).to_have_class(re.compile(r"\berror\b"), timeout=WAIT_MS)
    expect(save).to_be_enabled()
    page.evaluate("window.__beforeSave = true")
    save.click()
    page.wait_for_function("window.__beforeSave === undefined", timeout=WAIT_MS)   # reloaded after the save
    page.unroute("**/api/v1/risk/major-hazards")
    expect(page.locator(f'.mh-card[data-code="{code}"]')).to_have_count(1)
    listed = plant.admin_session().get(f"{plant.base}/api/v1/risk/major-hazards", timeout=10).json()
    rows = listed["installations"] if isinstance(listed, dict) else listed
    assert sum(r["code"] == code for r in rows) == 1, rows
    assert len(sent) == 2 and sent[0] and sent[0] == sent[1], sent


@pytest.mark.parametrize("path", ["/tablet/training", "/tablet/risks/major-hazards", "/tablet/emergency",
                                  "/tablet/contractors", "/tablet/contractors/jobs/1"])
def test_domain_pages_load_the_shared_form_guard(plant, new_page, path):  # noqa: F811
    """The domains' form scripts build on SafetyForms (busy guard, key, confirm dialog); a page that does not
    load forms.js leaves them without it (the contractor job page's forms did nothing on submit)."""
    page = new_page(*TABLET)
    log_in(page, plant, "zhangwei")
    page.goto(f"{plant.base}{path}")
    assert page.evaluate("typeof window.SafetyForms") == "object"
