"""The permit as a PDF (the printed 安全作业票 in GB 30871-2022's layout, in Chinese): type, grade, number,
place and job, validity; the people with their badges, their certificates valid over the job and when they
were verified on site; the gas analyses with their values and 合格/不合格; the JSA and each measure with
who confirmed it; the approval steps (申请 → 措施确认 → 审批 → 现场交底 → 作业 → 完工验收) with names and
times; a QR code to the live record; and the permit's whole history from the event log, each event with
its seq, so a closed permit's paper copy can be checked against the audit chain (its last event's seq and
hash are on every page's footer)."""
from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from zoneinfo import ZoneInfo

from appliance.core import events
from appliance.core.people import Area, Badge, Person, site_timezone
from appliance.permits import service as S

_ZH = json.loads((Path(__file__).parent / "i18n" / "zh-CN.json").read_text(encoding="utf-8"))
STEPS = (("permit.applied", "申请"), ("permit.measures_confirmed", "措施确认"), ("permit.approved", "审批"),
         ("permit.briefed", "现场交底"), ("permit.started", "作业"), ("permit.closed", "完工验收"))
SOURCES = {"manual": "人工检测", "live": "固定式检测器"}


def _t(key: str, **values) -> str:
    text = _ZH.get(key, key)
    try:
        return text.format(**values)
    except (KeyError, IndexError, ValueError):
        return text


def history(permit_id: int) -> list[events.Event]:
    """Every event of the permit, in log order."""
    return list(events.Event.select().where((events.Event.entity_type == "permit")
                                            & (events.Event.entity_id == str(permit_id))).order_by(events.Event.seq))


def render(permit_id: int, link: str, qr_png: bytes | None = None) -> bytes:
    """The permit's PDF; `link` is the live record's address (printed, and in the QR code when given)."""
    from appliance.core.pdf import Document

    p = S.get(permit_id)
    d = S.permit_dict(p)
    tz = site_timezone()
    zone = ZoneInfo(tz)

    def at(ms: int | None) -> str:
        return dt.datetime.fromtimestamp(ms / 1000, zone).strftime("%Y-%m-%d %H:%M") if ms else ""

    log = history(p.id)
    last = log[-1] if log else None
    sign = (f"作业票 {p.no} · 事件日志 seq {last.seq} SHA-256 {last.hash}" if last else f"作业票 {p.no}")
    doc = Document(f"{d['type_name'].removesuffix('作业')}安全作业票", [f"GB 30871-2022 · 编号 {p.no} · 状态 {_t('pm.state.' + p.state)}",
                                                 f"打印时间 {at(events.now_ms())}（{tz}）"], signature=sign)
    if qr_png:
        doc.image(qr_png, width_mm=28, caption=f"扫码查看实时记录 {link}")
    area = Area.get_or_none(Area.id == p.area_id)
    doc.key_values([
        ("作业类型", f"{d['type_name']}（{d['type_name_en']}）"), ("作业级别", d["grade_name"]), ("作业票编号", p.no),
        ("作业区域", f"{area.name}（{area.code}）" if area else str(p.area_id)), ("作业地点", p.location),
        ("作业内容", p.content), ("作业介质", p.medium or "—"),
        *([("介质温度", f"{p.medium_temp_c:g} °C" if p.medium_temp_c is not None else "未记录"),
           ("介质压力", f"{p.medium_pressure_mpa:g} MPa（表压）" if p.medium_pressure_mpa is not None else "未记录")]
          if p.type == "blinding" else []),
        ("申请人", p.applicant),
        ("有效期", f"{at(p.valid_from)} 至 {at(p.valid_to)}"), ("审批级别", {"workshop": "车间（部门）负责人", "safety": "安全管理负责人", "principal": "主要负责人"}
                      .get(p.approval_level, p.approval_level)),
        ("交叉作业", "、".join(str(x) for x in (d["simops"] or {}).get("permits", [])) or "无"),
        ("实时记录", link)])

    doc.heading("一、作业人员")
    ids = [w["id"] for w in d["workers"]] + [d["guardian"]["id"], d["issuer"]["id"]]
    people = {x.id: x for x in Person.select().where(Person.id.in_(ids))}
    badges: dict[int, list[str]] = {}
    for b in Badge.select().where(Badge.person.in_(ids) & Badge.active):
        badges.setdefault(b.person_id, []).append(b.uid)
    from appliance.training import certificates as TC

    rows = []
    for role, who in ([("作业人", w) for w in d["workers"]] + [("监护人", d["guardian"]), ("作业负责人", d["issuer"])]):
        person = people.get(who["id"])
        certs = [c for c in TC.valid_certificates(who["id"], p.valid_from)
                 if c["expires_on"] >= dt.datetime.fromtimestamp(p.valid_to / 1000, zone).date().isoformat()]
        cert_text = "；".join(f"{(c['kind_name'] or {}).get('zh-CN', c['kind'])} {c['number']} 至 {c['expires_on']}"
                             for c in certs) or "—"
        rows.append([role, who["name"], person.employee_no if person else "", "、".join(badges.get(who["id"], [])) or "—",
                     cert_text, at(who["tapped_at"]) or "未刷卡"])
    doc.table(["角色", "姓名", "工号", "工卡", "有效证书（覆盖作业期）", "现场刷卡"], rows, widths=(1.2, 1.3, 1.1, 2, 4, 1.8))

    doc.heading("二、气体分析")
    arows = []
    for a in sorted(d["analyses"], key=lambda a: a["at"]):
        samples = "；".join(f"{s['gas']} {s['value']:g} {s['unit']}" for s in a["samples"])
        arows.append([at(a["at"]), SOURCES.get(a["source"], a["source"]), samples,
                      " ".join(x for x in (a["analyst"], a["instrument"]) if x), "合格" if a["passed"] else "不合格",
                      "；".join(str(r) for r in a["reasons"])])
    doc.table(["分析时间", "方式", "代表性气体及结果", "分析人/仪器", "结论", "说明"], arows or [["—"] * 6],
              widths=(1.6, 1.3, 2.6, 1.8, 1, 2.4))

    doc.heading("三、作业危害分析（JSA）与安全措施")
    if d["jsa_rows"]:
        doc.table(["序号", "作业步骤", "危害", "控制措施", "负责人"],
                  [[i, r["step"], r["hazards"], r["measures"], r["responsible"]] for i, r in enumerate(d["jsa_rows"], start=1)],
                  widths=(0.6, 2, 2.6, 3.2, 1.2))
    else:
        doc.paragraph("未做逐步的作业危害分析" + ("（此作业须有，申请时未填写）" if d["jsa_required"] else "。"))
    if p.jsa:
        doc.paragraph(f"风险辨识补充说明：{p.jsa}")
    doc.table(["序号", "安全措施", "是否涉及", "确认人"],
              [[i, m["zh"], "是" if m.get("applies") else ("否" if m.get("by") else "未确认"), m.get("by") or ""]
               for i, m in enumerate(d["measures"], start=1)], widths=(0.6, 6, 1, 1.4))

    doc.heading("四、审批流程")
    first: dict[str, events.Event] = {}
    for e in log:
        first.setdefault(e.type, e)
    steps = []
    for etype, name in STEPS:
        step = first.get(etype)
        who = step.actor if step else ""
        if etype == "permit.approved" and p.approved_by:
            who = p.approved_by
        if etype == "permit.closed" and p.closed_by:
            who = p.closed_by
        steps.append([name, who, at(step.occurred_at) if step else "", f"seq {step.seq}" if step else "未进行"])
    doc.table(["步骤", "人员", "时间", "事件"], steps, widths=(1.5, 2.5, 2, 1.5))
    level_zh = {"workshop": "所在单位（车间）", "safety": "安全管理部门", "principal": "主要负责人"}
    state_zh = {"approved": "同意", "rejected": "驳回", "pending": "待审批", "waiting": "等待上一级"}
    doc.table(["审批级别", "意见", "审批人", "时间", "说明"],
              [[f"{a['step']}. {level_zh.get(a['level'], a['level'])}", state_zh.get(a["state"], a["state"]),
                a["by"] or "", at(a["at"]), a["note"] or ""] for a in d["approvals"]], widths=(2, 1.2, 2, 1.8, 2.5))
    if p.close_note:
        doc.paragraph(f"完工验收意见：{p.close_note}")

    doc.heading("五、作业票历史（事件日志）")
    hrows = []
    for e in log:
        payload = json.loads(e.payload or "{}")
        names = {"person": payload.get("person") or payload.get("person_name") or "", "area": area.name if area else "",
                 **{k: v for k, v in payload.items() if isinstance(v, str | int | float)}}
        hrows.append([e.seq, at(e.occurred_at), e.actor, _t(f"ev.{e.type}", **names), e.hash[:16]])
    doc.table(["序号 seq", "时间", "操作人", "事件", "哈希（前16位）"], hrows, widths=(0.9, 1.6, 1.8, 4.5, 2))
    doc.signature_lines(["作业负责人", "监护人", "审批人"])
    return doc.output()
