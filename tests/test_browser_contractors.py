"""The contractor screens in a real browser (Playwright + Debian chromium) against the demo plant served by a
real appliance process, with the gate's badge reader emulated on nfcpy's udp frontend (drivers/sim/badges,
as the patrol test does):

- the gate screen: a badge at GATE → allowed (吴刚, 江东) or refused with the reason large (周平, whose firm's
  安全生产许可证 expired), and the wall board's feed says the same;
- the archive, a firm (documents, staff with masked ID numbers, jobs, evaluations) and a job (briefing) at
  phone (390x844), tablet (820x1180) and 1080p (1920x1080): no sideways scroll, CJK text with a real size;
- document review: the safety officer uploads a renewed licence (a double click adds one), the admin
  approves it (the uploader cannot).
"""
from __future__ import annotations

import re

import pytest
import requests

from conftest import WAIT_MS, expect_saved
from test_browser import Plant, open_board

pytestmark = pytest.mark.browser

try:
    from playwright.sync_api import expect
except ImportError:  # pragma: no cover - test_browser's browser fixture reports it
    expect = None

SIZES = {"phone": (390, 844), "tablet": (820, 1180), "1080p": (1920, 1080)}
WELDER, LAPSED_FITTER = "04C0FFEE000001", "04C0FFEE000003"   # 吴刚 (江东), 周平 (临江, licence expired)


@pytest.fixture(scope="module")
def gate_plant(tmp_path_factory):
    from drivers.sim.badges import Badges

    sim = Badges()
    sim.add_nfc("GATE")
    p = Plant(tmp_path_factory.mktemp("gate-plant"), readers_toml=sim.toml())
    text = p.config.read_text(encoding="utf-8")
    assert 'entry_readers = ["GATE"]' in text
    # the optional face check on: it applies only to workers enrolled with consent (the face test's own)
    p.config.write_text(text.replace('entry_readers = ["GATE"]', 'entry_readers = ["GATE"]\nface_check = true\n'
                                     'face_cameras = { GATE = "CAM-GATE" }', 1), encoding="utf-8")
    try:
        p.start()
        p.sim = sim
        yield p
    finally:
        p.kill()
        sim.close()


def log_in(page, plant: Plant, who: str) -> None:
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


def test_gate_screen_allows_and_refuses_with_the_reason(gate_plant, new_page):
    plant = gate_plant
    board = new_page(1920, 1080)
    open_board(board, plant)
    screen = new_page(1024, 768)
    screen.goto(f"{plant.base}/gate/GATE?token={plant.token}")
    expect(screen.locator("#live-state")).to_have_class(re.compile(r"\bconnected\b"), timeout=WAIT_MS)
    expect(screen.locator("#gate-status")).to_have_text("请刷卡")

    plant.sim.present("GATE", WELDER)
    expect(screen.locator("#gate")).to_have_class(re.compile(r"\bok\b"), timeout=WAIT_MS)
    expect(screen.locator("#gate-status")).to_have_text("准许进入")
    expect(screen.locator("#gate-detail")).to_contain_text("吴刚")
    expect(board.locator("#feed li").first).to_contain_text("大门放行：吴刚", timeout=WAIT_MS)

    plant.sim.present("GATE", LAPSED_FITTER)
    expect(screen.locator("#gate")).to_have_class(re.compile(r"\brefused\b"), timeout=WAIT_MS)
    expect(screen.locator("#gate-status")).to_have_text("禁止进入")
    expect(screen.locator("#gate-reason")).to_have_text("承包商单位资质过期或缺失")
    expect(screen.locator("#gate-detail")).to_contain_text("临江安装工程有限公司")
    expect(board.locator("#feed li", has_text="大门拒绝：周平")).to_have_count(1, timeout=WAIT_MS)
    expect(board.locator("#feed li", has_text="大门拒绝：周平")).to_contain_text("承包商单位资质过期或缺失")
    # the reason is the largest text but the status: readable from the checkpoint distance
    size = screen.locator("#gate-reason").evaluate("e => parseFloat(getComputedStyle(e).fontSize)")
    assert size >= 48, size
    no_overflow(screen, "gate screen")
    # the tablet's archive shows both decisions and who is on site
    tablet = new_page(1280, 800)
    log_in(tablet, plant, "zhangwei")
    tablet.goto(f"{plant.base}/tablet/contractors")
    expect(tablet.locator("#entries tr.d-refused").first).to_contain_text("周平")
    expect(tablet.locator("#gate-today .on-site")).to_contain_text("吴刚")


@pytest.mark.parametrize("size", SIZES)
def test_archive_firm_and_job_screens_and_document_review(gate_plant, new_page, size):
    plant = gate_plant
    w, h = SIZES[size]
    officer = new_page(w, h)
    log_in(officer, plant, "zhangwei")
    officer.goto(f"{plant.base}/tablet/contractors")
    row = officer.locator("#firms tr", has_text="临江安装工程有限公司")
    expect(row.locator(".ct-st")).to_have_text(re.compile("资质过期/缺失|合格"))
    expect(officer.locator("#firms tr", has_text="江东建设工程有限公司").locator(".ct-st")).to_have_text("合格")
    cjk_renders(officer, "#firms .ct-st")
    no_overflow(officer, f"archive ({size})")

    row.locator("a").click()
    expect(officer.locator("#firm-name")).to_contain_text("临江安装工程有限公司")
    expect(officer.locator("#staff")).to_contain_text("周平")
    no_overflow(officer, f"firm ({size})")
    # a renewed 安全生产许可证, double-clicked: one document, awaiting someone else's review
    before = officer.locator("#documents tbody tr").count()
    form = officer.locator("#doc-form")
    form.locator("select[name=kind]").select_option("safety_licence")
    form.locator("input[name=number]").fill(f"(苏)JZ安许证字[2025]{size}")
    form.locator("input[name=expires_on]").fill("2030-01-01")
    form.locator("button[type=submit]").dblclick()
    expect_saved(officer)
    expect(officer.locator("#documents tbody tr")).to_have_count(before + 1, timeout=WAIT_MS)
    mine = officer.locator("#documents tbody tr", has_text=f"{size}")
    expect(mine).to_contain_text("本人提交，须由他人审核")
    no_overflow(officer, f"firm after upload ({size})")

    admin = new_page(w, h)
    log_in(admin, plant, "admin")
    admin.goto(f"{plant.base}/tablet/contractors")
    doc = admin.locator("#pending .doc", has_text=f"{size}")
    expect(doc).to_have_count(1)
    no_overflow(admin, f"pending review ({size})")
    doc.locator("button[value=approve]").click()
    expect(admin.locator("#form-status")).to_have_class(re.compile(r"\bok\b"))
    expect(admin.locator("#pending .doc", has_text=f"{size}")).to_have_count(0, timeout=WAIT_MS)
    expect(admin.locator("#firms tr", has_text="临江安装工程有限公司").locator(".ct-st")).to_have_text("合格")

    # the good firm: staff with masked ID numbers hidden nowhere else, the job with its confirmed briefing
    officer.goto(f"{plant.base}/tablet/contractors")
    officer.locator("#firms tr", has_text="江东建设工程有限公司").locator("a").click()
    expect(officer.locator("#staff")).to_contain_text("吴刚")
    expect(officer.locator("#staff .tr-valid").first).to_have_text("有效")
    officer.locator("#jobs a", has_text="储罐区管线动火改造").click()
    expect(officer.locator("#job-status")).to_have_text("进行中")
    expect(officer.locator("#briefings .briefing").first).to_contain_text("动火点周围")
    expect(officer.locator("#workers li.briefed")).to_have_count(1)  # the welder; the scaffolder is on the scaffold job
    cjk_renders(officer, "#briefings .content")
    no_overflow(officer, f"job ({size})")


@pytest.mark.parametrize("size", SIZES)
def test_roster_import_checks_names_bad_rows_then_imports_and_the_firm_is_corrected(gate_plant, new_page, size,
                                                                                   tmp_path, tmp_path_factory):
    """The office imports the roster a contractor sent: the check names the bad row and imports nothing;
    the corrected file is checked, then imported (after a confirmation); the firm's phone is corrected."""
    plant = gate_plant
    firm = f"东方检修有限公司{size}"
    header = "单位名称,联系人,联系电话,工号,姓名,工种,工卡号,入厂教育日期,证书类别,证书编号,发证日期\n"
    good = f"{firm},李经理,0512-2222222,K{size},孙建,电工,,2026-01-05,低压电工作业,D-{size},2024-05-01\n"
    bad = f"{firm},李经理,0512-2222222,K2{size},吴明,焊工,,2026-01-05,潜水作业,X-{size},2024-05-01\n"
    (tmp_path / "bad.csv").write_text(header + good + bad, encoding="utf-8-sig")
    (tmp_path / "good.csv").write_text(header + good, encoding="utf-8-sig")
    page = new_page(*SIZES[size])
    log_in(page, plant, "zhangwei")
    page.goto(f"{plant.base}/tablet/contractors")
    form = page.locator("#import-form")
    form.locator("input[type=file]").set_input_files(str(tmp_path / "bad.csv"))
    form.locator("button[value=check]").click()
    expect(page.locator("#import-report .import-errors li")).to_have_count(1, timeout=WAIT_MS)
    expect(page.locator("#import-report")).to_contain_text("第 3 行 证书类别")
    expect(page.locator("#import-report")).to_contain_text("潜水作业")
    no_overflow(page, f"import report ({size})")
    page.locator("#roster-import").screenshot(path=str(tmp_path_factory.getbasetemp() / f"roster-import-{size}.png"))
    form.locator("input[type=file]").set_input_files(str(tmp_path / "good.csv"))
    form.locator("button[value=check]").click()
    expect(page.locator("#import-report p.ok")).to_contain_text("人员 1 人", timeout=WAIT_MS)
    expect(page.locator("#firms")).not_to_contain_text(firm)          # a check writes nothing
    form.locator("button[value=import]").click()
    page.locator("dialog.confirm-dialog .confirm-ok").click()
    expect(page.locator("#import-report p.ok")).to_contain_text("已导入", timeout=WAIT_MS)
    page.wait_for_load_state("load")
    expect(page.locator("#firms")).to_contain_text(firm, timeout=WAIT_MS)
    page.locator("#firms a", has_text=firm).click()
    expect(page.locator("#staff")).to_contain_text("孙建")
    page.locator("#firm-edit summary").click()
    page.locator("#firm-edit-form input[name=phone]").fill("0512-3333333")
    page.locator("#firm-edit-form button[type=submit]").dblclick()
    expect(page.locator("#form-status")).to_have_class(re.compile(r"\bok\b"))
    expect(page.locator("p.meta").first).to_contain_text("0512-3333333", timeout=WAIT_MS)
    no_overflow(page, f"firm edit ({size})")


def test_the_demo_gate_tapper_shows_an_allowed_and_a_refused_entry_on_the_board(gate_plant, new_page):
    """`make demo`'s contractors at the gate (appliance/demo_contractors.GateTapper on the emulated GATE
    reader): the wall board's feed shows 吴刚 let in, 周平 refused with the reason, and 钱勇 refused for his
    lapsed 焊工 特种作业操作证, live."""
    from appliance.demo_contractors import GateTapper

    plant = gate_plant
    board = new_page(*SIZES["1080p"])
    board.goto(f"{plant.base}/kiosk?token={plant.token}")
    expect(board.locator(".live")).to_have_class(re.compile(r"\bconnected\b"), timeout=WAIT_MS)
    allowed = board.locator("#feed li", has_text="大门放行：吴刚").count()
    refused = board.locator("#feed li", has_text="大门拒绝：周平").count()
    uncertified = board.locator("#feed li", has_text="大门拒绝：钱勇").count()
    tapper = GateTapper(plant.sim, every_s=3600, gap_s=1.0, start_after_s=0).start()
    try:
        expect(board.locator("#feed li", has_text="大门放行：吴刚")).to_have_count(allowed + 1, timeout=WAIT_MS)
        line = board.locator("#feed li", has_text="大门拒绝：周平")
        expect(line).to_have_count(refused + 1, timeout=WAIT_MS)
        # the reason shown is the gate's own (the licence, or no approved job once another test renewed it)
        entries = requests.get(f"{plant.base}/api/v1/gate/entries?since=0", timeout=10,
                               headers={"Authorization": f"Bearer {plant.token}"}).json()["entries"]
        latest = next(e for e in entries if e["person"] == "周平" and e["decision"] == "refused")
        expect(line.first).to_contain_text(latest["reason_zh"])
        welder = board.locator("#feed li", has_text="大门拒绝：钱勇")
        expect(welder).to_have_count(uncertified + 1, timeout=WAIT_MS)
        expect(welder.first).to_contain_text("作业所需特种作业操作证缺失或过期")
        entries = requests.get(f"{plant.base}/api/v1/gate/entries?since=0", timeout=10,
                               headers={"Authorization": f"Bearer {plant.token}"}).json()["entries"]
        qian = next(e for e in entries if e["person"] == "钱勇")
        assert qian["decision"] == "refused" and qian["details"] == ["expired:welding"]
    finally:
        tapper.stop()


CHECK_SIZES = {"phone": (390, 844), "tablet": (1024, 768), "1080p": (1920, 1080)}


@pytest.fixture(scope="module")
def shots(tmp_path_factory):
    folder = tmp_path_factory.getbasetemp() / "screens"
    folder.mkdir(exist_ok=True)
    return folder


@pytest.mark.parametrize("size", CHECK_SIZES)
def test_an_empty_firm_and_an_unbriefed_job_say_what_is_missing_and_what_to_do(gate_plant, new_page, size, shots):
    """A firm just registered has no documents, staff, jobs or evaluations: each list says so in a sentence
    with the next step (not "暂无" or a dash), wrapping inside the page at phone, tablet and 1080p; a job
    without a briefing says it cannot start until it is briefed."""
    plant = gate_plant
    s = plant.admin_session()
    name = f"空白检修工程有限公司{size}"
    r = s.post(f"{plant.base}/api/v1/contractors", json={"name": name}, timeout=10)
    assert r.status_code == 201, r.text
    page = new_page(*CHECK_SIZES[size])
    log_in(page, plant, "zhangwei")
    page.goto(f"{plant.base}/tablet/contractors/{r.json()['id']}")
    expect(page.locator("#firm-name")).to_contain_text(name)
    expect(page.locator("p.meta").first).to_contain_text("统一社会信用代码 未登记")
    for section, says in (("#documents", "还没有任何证照"), ("#staff", "还没有登记人员"),
                          ("#jobs", "先在上方“人员”中登记人员，再新建作业"), ("#evaluations", "每项作业结束后在作业页面评价")):
        cell = page.locator(f"{section} tr.empty td")
        expect(cell).to_contain_text(says)
        box = cell.bounding_box()
        assert box and box["height"] >= 20, (section, box)
    assert "暂无" not in page.locator("main").inner_text()
    no_overflow(page, f"empty firm ({size})")
    page.screenshot(path=str(shots / f"ct-empty-firm-{size}.png"), full_page=True)
    # the demo's 仓库货架维修 (临江, not yet approved) has had no briefing
    page.goto(f"{plant.base}/tablet/contractors")
    page.locator("#firms a", has_text="临江安装工程有限公司").click()
    page.locator("#jobs a", has_text="仓库货架维修").click()
    expect(page.locator("#no-briefing")).to_contain_text("交底内容和每位人员的确认记录齐全前，作业不能开始")
    no_overflow(page, f"unbriefed job ({size})")
    page.screenshot(path=str(shots / f"ct-job-unbriefed-{size}.png"), full_page=True)


def test_the_gate_screen_fills_a_1080p_screen_and_a_phone(gate_plant, new_page, shots):
    """The gate screen on a 1080p monitor beside the reader and on a phone a guard holds: the refusal's
    reason fits without scrolling, in large type."""
    plant = gate_plant
    # two refused badges (a reader takes the same card again only after its re-arm time): 周平, then 钱勇
    for size, uid in (("1080p", LAPSED_FITTER), ("phone", "04C0FFEE000004")):
        screen = new_page(*CHECK_SIZES[size])
        screen.goto(f"{plant.base}/gate/GATE?token={plant.token}")
        expect(screen.locator("#live-state")).to_have_class(re.compile(r"\bconnected\b"), timeout=WAIT_MS)
        screen.screenshot(path=str(shots / f"ct-gate-idle-{size}.png"))
        plant.sim.present("GATE", uid)
        expect(screen.locator("#gate")).to_have_class(re.compile(r"\brefused\b"), timeout=WAIT_MS)
        no_overflow(screen, f"gate ({size})")
        fits = screen.evaluate("""() => { const r = document.getElementById('gate-reason').getBoundingClientRect();
            return [r.bottom <= innerHeight, document.documentElement.scrollHeight <= innerHeight + 1]; }""")
        assert fits == [True, True], (size, fits)
        size_px = screen.locator("#gate-reason").evaluate("e => parseFloat(getComputedStyle(e).fontSize)")
        assert size_px >= (48 if size == "1080p" else 28), (size, size_px)
        screen.screenshot(path=str(shots / f"ct-gate-refused-{size}.png"))


@pytest.mark.parametrize("size", CHECK_SIZES)
def test_a_workers_face_is_enrolled_with_consent_and_withdrawn(gate_plant, new_page, size, shots):
    """With the face check on, a staff row offers enrolment: the consent wording in full, a tick the worker's
    consent needs, a photo (a real public-domain one); enrolled, it says so and consent can be withdrawn
    through the shared confirm dialog."""
    from test_contractor_face import WORKER, photo

    plant = gate_plant
    s = plant.admin_session()
    f = s.post(f"{plant.base}/api/v1/contractors", json={"name": f"人脸核验试点有限公司{size}"}, timeout=10).json()
    w = s.post(f"{plant.base}/api/v1/contractors/{f['id']}/workers",
               json={"employee_no": f"FACE{size}", "name": f"陈{size}"}, timeout=10)
    assert w.status_code == 201, w.text
    pid = w.json()["person_id"]
    image = shots / f"face-{size}.jpg"
    image.write_bytes(photo(WORKER))
    page = new_page(*CHECK_SIZES[size])
    log_in(page, plant, "zhangwei")
    page.goto(f"{plant.base}/tablet/contractors/{f['id']}")
    row = page.locator(f"[data-face='{pid}']")
    row.locator("summary").click()
    expect(row.locator(".consent")).to_contain_text("不保存照片")
    row.locator("input[type=file]").set_input_files(str(image))
    row.locator("button[type=submit]").click()      # not ticked: the browser holds the form back
    assert row.locator("input[name=consent]").evaluate("e => !e.validity.valid")
    row.locator("input[name=consent]").check()
    no_overflow(page, f"face enrolment ({size})")
    page.screenshot(path=str(shots / f"ct-face-enrol-{size}.png"), full_page=True)
    row.locator("button[type=submit]").click()      # saved: the page reloads with the enrolment shown
    expect(page.locator(f"[data-face='{pid}'] .face-on")).to_have_text("已登记人脸", timeout=WAIT_MS)
    no_overflow(page, f"face enrolled ({size})")
    page.locator(f"[data-face='{pid}'] button.ct-button").click()
    page.locator("dialog.confirm-dialog .confirm-ok").click()
    expect(page.locator(f"[data-face='{pid}'] summary")).to_have_text("登记人脸（须本人同意）", timeout=WAIT_MS)
