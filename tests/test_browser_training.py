"""The training screens in a real browser (Playwright + Debian chromium) at phone (390x844), tablet (820x1180)
and 1080p (1920x1080), against the demo plant served by a real appliance process:

- the demo's worker on a phone takes the course assigned to them (the video played from the box with range
  requests and its completion recorded, the PDF opened and confirmed), then the exam;
- a person takes the demo exam on their own login: the paper (no answers in it), a double tap on 交卷 submits
  once, the score and the verdict, each question with its answer and explanation, then the mastery view;
- the supervisor and the safety office see the course progress of the people it is assigned to;
- the safety office sees the demo's certificate warnings (5/25/55 days, two lapsed), the 预警率, the hours
  and the question bank, and acknowledges a warning once; the wall board counts them, and counts again from
  its live stream when a certificate is renewed.

At each size: no horizontal overflow, the CJK text has a real size.
"""
from __future__ import annotations

import re
from datetime import date, timedelta

import pytest

from test_browser import Plant

pytestmark = pytest.mark.browser

try:
    from playwright.sync_api import expect
except ImportError:  # pragma: no cover - test_browser's browser fixture reports it
    expect = None

SIZES = {"phone": (390, 844), "tablet": (820, 1180), "1080p": (1920, 1080)}
# each size's exam taker: the demo's logins linked to people (the exam allows no retake once passed)
TAKERS = {"phone": "liuyang", "tablet": "wangfang", "1080p": "zhangwei"}


@pytest.fixture(scope="module")
def plant(tmp_path_factory):
    p = Plant(tmp_path_factory.mktemp("training-plant"))
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
    """The cell has glyphs, not tofu or one character per line: a two-character name at 16 px is ≥ 32 px wide
    (a phone's card layout sizes the cell to its text)."""
    box = page.locator(selector).first.bounding_box()
    assert box and box["width"] >= 30 and box["height"] > 10, (selector, box)


def test_a_worker_on_a_phone_takes_the_assigned_course_then_the_exam(plant, new_page):
    """The demo's worker (刘洋, 巡检员: the course is assigned to that work type) on a phone: the video unit
    played from the box (a seek answered by a range request, completion recorded by the server), the PDF
    unit opened and confirmed, then the exam, its score and the mastery view."""
    plant.ensure_running()
    page = new_page(*SIZES["phone"])
    login(page, plant, "liuyang")
    page.goto(f"{plant.base}/tablet/training")
    course = page.locator("#my-courses .course", has_text="个体防护与受限空间作业安全")
    expect(course).to_have_count(1)
    expect(course).to_contain_text("0/2")
    no_overflow(page, "training home with courses (phone)")
    course.locator("a").click()
    page.wait_for_url(re.compile(r"/tablet/training/courses/\d+$"))
    expect(page.locator("#units .unit")).to_have_count(2)
    cjk_renders(page, "#units .unit b")
    no_overflow(page, "course (phone)")
    # the video, from the box: the media element's requests are byte ranges (206)
    statuses: list[int] = []
    page.on("response", lambda r: statuses.append(r.status) if "/units/" in r.url and r.url.split("?")[0].endswith("/file") else None)
    page.locator("#units .unit[data-kind=video] a").click()
    page.wait_for_url(re.compile(r"/tablet/training/units/\d+$"))
    player = page.locator("#player")
    expect(player).to_be_visible()
    page.wait_for_function("document.getElementById('player').readyState >= 1")
    assert page.evaluate("document.getElementById('player').duration") == pytest.approx(5, abs=0.3)
    no_overflow(page, "video unit (phone)")
    # seek to 3 s and back (a phone scrubbing): the element follows
    page.evaluate("(() => { const v = document.getElementById('player'); v.muted = true; v.currentTime = 3; })()")
    page.wait_for_function("document.getElementById('player').currentTime >= 2.9 && !document.getElementById('player').seeking")
    page.evaluate("(() => { const v = document.getElementById('player'); v.currentTime = 0; return v.play(); })()")
    expect(page.locator("#unit-state")).to_have_attribute("data-done", "1", timeout=20_000)   # ≥ 90 % played
    assert 206 in statuses, statuses
    # a direct range request answers 206 with that range too
    r = page.request.get(plant.base + (player.get_attribute("src") or ""), headers={"Range": "bytes=0-99"})
    assert r.status == 206 and len(r.body()) == 100 and r.headers["content-range"].startswith("bytes 0-99/")
    # the PDF unit: opened (inline), then confirmed
    page.locator("#next-unit").click()
    page.wait_for_url(re.compile(r"/tablet/training/units/\d+$"))
    link = page.locator("#open-doc")
    pdf = page.request.get(plant.base + (link.get_attribute("href") or ""))
    assert pdf.status == 200 and pdf.headers["content-type"] == "application/pdf"
    assert pdf.headers["content-disposition"].startswith("inline") and pdf.body()[:5] == b"%PDF-"
    no_overflow(page, "document unit (phone)")
    page.locator("#confirm-doc").dblclick()
    expect(page.locator("#unit-state")).to_have_attribute("data-done", "1")
    page.goto(f"{plant.base}/tablet/training")
    expect(page.locator("#my-courses .course", has_text="个体防护与受限空间作业安全")).to_contain_text("2/2")
    take_exam(page, plant, "phone")


@pytest.mark.parametrize("size", ["tablet", "1080p"])
def test_the_supervisor_sees_course_progress(plant, new_page, size):
    plant.ensure_running()
    page = new_page(*SIZES[size])
    login(page, plant, "wangfang" if size == "tablet" else "zhangwei")
    page.goto(f"{plant.base}/tablet/training")
    page.locator("#to-progress").click()
    page.wait_for_url(re.compile(r"/tablet/training/progress"))
    rows = page.locator("#progress-table tbody tr[data-person]")
    expect(rows).to_have_count(4)            # 巡检员 刘洋, 周杰; the firm's 吴刚, 孙丽
    expect(page.locator("#progress-table tr", has_text="刘洋").locator(".done")).to_have_text(re.compile(r"^[0-2]/2$"))
    cjk_renders(page, "#progress-table tbody td")
    no_overflow(page, f"course progress ({size})")


@pytest.mark.parametrize("size", ["tablet", "1080p"])
def test_take_an_exam_see_the_score_and_mastery(plant, new_page, size):
    plant.ensure_running()
    w, h = SIZES[size]
    page = new_page(w, h)
    login(page, plant, TAKERS[size])
    take_exam(page, plant, size)


def take_exam(page, plant: Plant, size: str) -> None:
    page.goto(f"{plant.base}/tablet/training")
    cjk_renders(page, "main h1")
    exam = page.locator("#my-exams .exam", has_text="特殊作业安全知识考试")
    expect(exam).to_have_count(1)
    no_overflow(page, f"training home ({size})")
    exam.locator("button.tr-start").click()
    page.wait_for_url(re.compile(r"/tablet/training/attempts/\d+$"))
    questions = page.locator("#paper .question")
    expect(questions).to_have_count(8)
    expect(page.locator("#clock")).to_have_text(re.compile(r"^(19|20):\d\d$"))
    assert "解析" not in page.content() and page.locator(".explain").count() == 0   # the paper has no answers
    cjk_renders(page, "#paper .question legend")
    for i in range(8):
        questions.nth(i).locator("label").first.click()
    no_overflow(page, f"exam paper ({size})")
    page.locator("#submit-paper").dblclick()                 # a double tap must submit once
    expect(page.locator("#result")).to_be_visible()
    score = float(page.locator("#score").text_content() or "-1")
    assert 0 <= score <= 100
    expect(page.locator("#verdict")).to_have_text(re.compile("^(合格|不合格)$"))
    expect(page.locator(".question.right, .question.wrong")).to_have_count(8)
    no_overflow(page, f"exam result ({size})")
    page.goto(f"{plant.base}/tablet/training")
    # one attempt of the demo exam, scored once (the synthetic year's closed 【模拟】 exams are listed too)
    expect(page.locator("#my-attempts tbody tr", has_text="特殊作业安全知识考试")).to_have_count(1)
    expect(page.locator("#my-attempts tbody tr", has_text="【模拟】").first).to_be_visible()
    page.locator("#my-mastery").click()
    expect(page.locator("#mastery-table tr[data-topic]").first).to_be_visible()
    cjk_renders(page, "#mastery-table tr[data-topic] td")
    no_overflow(page, f"mastery ({size})")


@pytest.mark.parametrize("size", list(SIZES))
def test_the_safety_office_sees_the_certificate_warnings(plant, new_page, size):
    plant.ensure_running()
    w, h = SIZES[size]
    page = new_page(w, h)
    login(page, plant, "zhangwei")
    page.goto(f"{plant.base}/tablet/training")
    # the demo: two lapsed (杨磊's forklift, 钱勇's 焊工证 — the contractor refused at the gate), three warned (5, 25, 55 days); each size renews one of the warned (the plant is
    # shared by the sizes), so 3, 2, 1 are left to it
    warned = page.locator("#cert-table tr[data-state=warned]")
    left = warned.count()
    assert left >= 1, "the demo's warned certificates are listed"
    expect(page.locator("#cert-table tr[data-state=expired]")).to_have_count(2)
    expect(page.locator("#cert-table tr[data-state=silent]")).to_have_count(0)   # none unwarned
    expect(page.locator("#coverage-rate")).to_have_text("100.0%")
    expect(page.locator("#hours-table tbody tr").first).to_be_visible()
    expect(page.locator("#topics tbody tr")).to_have_count(10)        # the demo bank's topics, 20 questions each
    cjk_renders(page, "#cert-table td:nth-child(2)")   # the kind's name (a two-character name is 40 px on a phone)
    no_overflow(page, f"certificates ({size})")
    # the wall board counts them (the kiosk's own device login)
    board = new_page(w, h)
    board.goto(f"{plant.base}/kiosk?token={plant.token}")
    expect(board.locator("#cert-panel li[data-count=expired] b")).to_have_text("2")
    expect(board.locator("#cert-panel li[data-count=warned] b")).to_have_text(str(left))
    cjk_renders(board, "#cert-panel h2")
    no_overflow(board, f"wall board ({size})")
    expect(board.locator("#live-state")).to_have_class(re.compile(r"\bconnected\b"))
    board.evaluate("window.notReloaded = true")
    # a warning acknowledged once (a double tap), gone from the inbox
    warnings = page.locator("#cert-warnings .warning")
    n = warnings.count()
    if n:   # the earlier sizes may have answered every one
        with page.expect_navigation():        # the page reloads itself after the answer
            warnings.first.locator("button.tr-ack").dblclick()
            expect(page.locator("#form-status")).to_have_class(re.compile(r"\bok\b"))
        expect(page.locator("#cert-warnings .warning")).to_have_count(n - 1)
    # a renewal (new expiry and review day) ends the warnings: the certificate is valid again
    row = page.locator("#cert-table tr[data-state=warned]").first
    cert = row.get_attribute("data-cert")
    row.locator("details.renew summary").click()
    row.locator("input[name=expires_on]").fill((date.today() + timedelta(days=6 * 365)).isoformat())
    row.locator("input[name=review_due_on]").fill((date.today() + timedelta(days=3 * 365)).isoformat())
    no_overflow(page, f"renewal ({size})")
    with page.expect_navigation():
        row.locator("button[type=submit]").click()
        expect(page.locator("#form-status")).to_have_class(re.compile(r"\bok\b"))
    expect(page.locator(f"#cert-table tr[data-cert='{cert}']")).to_have_attribute("data-state", "valid")
    expect(page.locator("#cert-table tr[data-state=warned]")).to_have_count(left - 1)
    # the wall board, left open, counts the renewal from its live stream (certificate.updated), no reload
    expect(board.locator("#cert-panel li[data-count=warned] b")).to_have_text(str(left - 1))
    assert board.evaluate("window.notReloaded === true")


@pytest.fixture(scope="module")
def shots(tmp_path_factory):
    folder = tmp_path_factory.getbasetemp() / "screens"
    folder.mkdir(exist_ok=True)
    return folder


@pytest.mark.parametrize("size", [(390, 844), (1024, 768), (1920, 1080)])
def test_the_synthetic_years_trainings_show_on_the_training_pages(plant, new_page, shots, size):
    """The demo's synthetic year (cockpit/synthetic.py): a worker sees their earlier 【模拟】 exam attempts with the
    score and verdict; the safety office sees the year's hours of every person against the 3号令 minimum."""
    plant.ensure_running()
    w, h = size
    page = new_page(w, h)
    login(page, plant, "liuyang")
    page.goto(f"{plant.base}/tablet/training")
    synthetic = page.locator("#my-attempts tbody tr", has_text="【模拟】")
    expect(synthetic.first).to_be_visible()
    expect(synthetic.first.locator(".passed, .failed")).to_have_count(1)
    expect(page.locator("#my-exams .exam", has_text="【模拟】")).to_have_count(0)      # closed: no one takes them
    synthetic.first.scroll_into_view_if_needed()
    no_overflow(page, f"training home with the synthetic attempts ({w}x{h})")
    page.screenshot(path=str(shots / f"training-attempts-{w}x{h}.png"))
    office = new_page(w, h)
    login(office, plant, "zhangwei")
    office.goto(f"{plant.base}/tablet/training")
    rows = office.locator("#hours-table tbody tr[data-person]")
    expect(rows.first).to_be_visible()
    assert rows.count() >= 12                               # the employees and contractors trained this year
    expect(office.locator("#hours-table tbody .st-valid").first).to_be_visible()           # someone met the minimum
    expect(office.locator("#hours-table tbody .st-expired").first).to_be_visible()         # someone fell short
    cjk_renders(office, "#hours-table tbody td")
    office.locator("#hours-table").scroll_into_view_if_needed()
    no_overflow(office, f"hours against the minimum ({w}x{h})")
    office.screenshot(path=str(shots / f"training-hours-{w}x{h}.png"))
    print(f"screenshots in {shots}")
