"""The permit as PDF (#18): a hot-work permit taken through every step, then read back from its PDF — the
Chinese form, the people with badges and certificates, the gas analyses' values and verdicts, the measures
with who confirmed them, the approval steps, the QR code's address and the closed permit's history."""
from __future__ import annotations

from appliance.core import events
from test_pdf import flat, pdf_text
from test_permits import UIDS, apply, manual, site, tap_all, to_briefed  # noqa: F401  (site is a fixture)


def test_a_closed_hot_work_permit_reads_back_from_its_pdf(site):  # noqa: F811
    c, areas, people = site
    pid = apply(c, areas, people, jsa="罐顶残留可燃气体，动火前置换并检测")["id"]
    to_briefed(c, pid)
    tap_all(c, pid)
    assert c["supervisor"].post(f"/api/v1/permits/{pid}/brief", json={}).status_code == 200
    manual(c, pid, 12.0)                                   # CH4 12 %LEL = 0.6 %V/V: fails the hot-work limit
    manual(c, pid, 2.0)
    assert c["supervisor"].post(f"/api/v1/permits/{pid}/start", json={}).status_code == 200
    assert c["supervisor"].post(f"/api/v1/permits/{pid}/close", json={"note": "现场清理完毕"}).status_code == 200
    p = c["admin"].get(f"/api/v1/permits/{pid}").get_json()

    r = c["supervisor"].get(f"/tablet/permits/{pid}/pdf")
    assert r.status_code == 200 and r.mimetype == "application/pdf"
    assert f"permit-{p['no']}.pdf" in r.headers["Content-Disposition"]
    pages = pdf_text(r.data)
    text = "\n".join(pages)
    whole = flat(text)
    assert "动火安全作业票" in text and p["no"] in text and "作业级别二级" in whole
    assert "储罐区" in text and "T-101罐顶" in whole and "更换呼吸阀法兰，焊接" in whole
    assert "罐顶残留可燃气体，动火前置换并检测" in whole
    # people: names, badges, the welder's certificate valid over the job, the site taps
    for key in ("welder", "helper", "guardian", "issuer"):
        assert f"人员{key}" in whole and UIDS[key] in whole
    assert "熔化焊接与热切割作业T-0" in whole and "未刷卡" not in whole
    # the analyses: values and verdicts, in time order, the failing one too
    assert "CH412%LEL" in whole and "CH42%LEL" in whole
    lines = [flat(ln) for ln in text.splitlines()]
    assert any("CH412%LEL" in ln and "不合格" in ln for ln in lines)
    assert any("CH42%LEL" in ln and "合格" in ln and "不合格" not in ln for ln in lines)
    assert "陈静" in whole and "PGM-2400" in whole
    # measures confirmed by a named person; approval steps with names; close note
    assert "王芳" in whole and "未确认" not in whole
    for step in ("申请", "措施确认", "审批", "现场交底", "作业", "完工验收"):
        assert step in whole
    assert "user:u_supervisor" in whole and "未进行" not in whole and "现场清理完毕" in whole
    # the QR's address, and the history with every event's seq; the last event's hash on every page
    assert f"/tablet/permits/{pid}" in whole
    log = list(events.Event.select().where((events.Event.entity_type == "permit") & (events.Event.entity_id == str(pid)))
               .order_by(events.Event.seq))
    assert log[-1].type == "permit.closed"
    for e in log:
        assert e.hash[:16] in whole, e.type
    assert "作业票" + p["no"] + "完工验收" in whole
    for page in pages:
        assert f"seq {log[-1].seq}" in page and log[-1].hash in flat(page)


def test_the_detail_page_links_the_pdf_and_an_unknown_permit_is_404(site):  # noqa: F811
    c, areas, people = site
    pid = apply(c, areas, people)["id"]
    html = c["worker"].get(f"/tablet/permits/{pid}").get_data(as_text=True)
    assert f'href="/tablet/permits/{pid}/pdf"' in html and "下载 PDF 作业票" in html
    assert c["worker"].get("/tablet/permits/99999/pdf").status_code == 404


def test_the_pdf_has_the_jsa_rows_and_the_approval_chain(site):  # noqa: F811
    """#18: the JSA's steps (hazards, measures, who) and each approval level with its decision on the PDF."""
    from test_permits import JSA

    c, areas, people = site
    rows = [JSA[0], {"step": "焊接固定支架", "hazards": "火花飞溅引燃", "measures": "接火盆，专人监火", "responsible": "赵敏"}]
    pid = apply(c, areas, people, grade="1", jsa_rows=rows, valid_to=events.now_ms() + 7 * 3_600_000)["id"]
    to_briefed(c, pid)
    whole = flat("\n".join(pdf_text(c["supervisor"].get(f"/tablet/permits/{pid}/pdf").data)))
    assert "焊接固定支架火花飞溅引燃接火盆，专人监火赵敏" in whole
    assert "1.所在单位（车间）同意user:u_supervisor" in whole and "2.安全管理部门同意user:u_safety_officer" in whole
