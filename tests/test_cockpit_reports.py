"""The compliance reports as files (#22): the dual-prevention report as PDF with the XLSX's figures and the
event-log head; the patrol, alarm and training reports as XLSX and PDF, their figures recomputed here with
plain SQL over the records; the monthly job (an injected clock) writing last month's reports and its event."""
from __future__ import annotations

import datetime as dt
import io
import json
from zoneinfo import ZoneInfo

import openpyxl
import pytest

from appliance.core import events
from appliance.core.db import database
from conftest import As
from test_cockpit_api import DAY, hazard, plant  # noqa: F401  (plant is a fixture)
from test_pdf import flat, pdf_text

ZONE = ZoneInfo("Asia/Shanghai")
JUNE = int(dt.datetime(2025, 6, 1, tzinfo=ZONE).timestamp() * 1000)
JULY = int(dt.datetime(2025, 7, 1, tzinfo=ZONE).timestamp() * 1000)


def q(sql, *args):
    return database.execute_sql(sql, args).fetchone()[0]


def get(app, users, kind, fmt, period="2025-06", role="safety_officer"):
    r = As(app, role, users).get(f"/api/v1/reports/{kind}?period={period}&format={fmt}")
    assert r.status_code == 200, r.get_data(as_text=True)
    assert f"{kind}-{period}.{fmt}" in r.headers["Content-Disposition"]
    return r


def sheet(data, name):
    wb = openpyxl.load_workbook(io.BytesIO(data))
    return [list(r) for r in wb[name].iter_rows(values_only=True)]


def test_dual_prevention_pdf_carries_the_xlsx_figures_and_the_head(app, users, plant):  # noqa: F811
    from appliance.risk.tasks import ControlTask

    a, b = plant["TANK"], plant["REACT"]
    hazard(a, JUNE + 2 * DAY, closed_at=JUNE + 3 * DAY)
    hazard(a, JUNE + 20 * DAY, closed_at=JUNE + 29 * DAY)
    hazard(b, JUNE + 25 * DAY, grade="major", deadline_days=30)
    hazard(b, JUNE - 10 * DAY, closed_at=JUNE + DAY)
    for status, end in (("done", JUNE + DAY), ("done", JUNE + 2 * DAY), ("missed", JUNE + 3 * DAY)):
        ControlTask.create(measure_id=plant["measure"], period_start=end - DAY, period_end=end, department="生产部",
                           assignee="王芳", status=status, note="")
    r = get(app, users, "dual-prevention", "pdf")
    assert r.mimetype == "application/pdf"
    text = "\n".join(pdf_text(r.data))
    assert "双重预防机制运行情况报告" in text and "江东化工" in text and "2025-06" in text
    for title in ("风险清单", "管控任务", "隐患统计", "重大事故隐患", "重大危险源", "甲醇储罐区", "储罐 V-101", "反应车间",
                  "事故统计", "百万工时伤害率"):
        assert title in text, title
    found = q("SELECT count(*) FROM hazards WHERE reported_at>=? AND reported_at<?", JUNE, JULY)
    rectified = q("SELECT count(*) FROM hazards WHERE state='closed' AND accepted_at>=? AND accepted_at<?", JUNE, JULY)
    lines = text.splitlines()
    total = next(ln.split() for ln in lines if ln.split()[:2] == ["合计", "3"])   # 隐患统计's total row
    assert total[1:3] == [str(found), str(rectified)] == ["3", "3"] and total[6] == "66.7%"
    assert any(ln.split()[:5] == ["合计", "Total", "3", "2", "1"] for ln in lines)   # control tasks: due, done, missed
    # the head: the same as the headers', on the page and in the log, on every page's footer
    seq, digest = int(r.headers["X-Event-Head-Seq"]), r.headers["X-Event-Head-Hash"]
    assert events.Event.get_by_id(seq).hash == digest
    for page in pdf_text(r.data):
        assert f"seq {seq}" in page and digest in flat(page)


@pytest.fixture
def patrol(app, plant):  # noqa: F811
    from appliance.patrol.models import Checkpoint, Plan, Round, Route

    now = events.now_ms()
    route = Route.create(code="R1", name="罐区巡检线", name_en="Tank route", active=True, created_at=now, updated_at=now)
    cps = [Checkpoint.create(code=f"CP{i}", name=n, name_en=n, area_id=plant["TANK"], checklist="[]", tag_uid=f"04AA00{i:08X}", active=True,
                             created_at=now, updated_at=now).id for i, n in enumerate(("罐顶平台", "泵房", "围堰"))]
    plan = Plan.create(name="罐区白班巡检", route_id=route.id, shift="day", schedule="{}", grace_min=0, people="[]",
                       departments="[]", streak_limit=3, active=True, created_at=now, updated_at=now)
    cases = [("completed", []), ("completed", []), ("late", []), ("incomplete", [cps[1]]), ("missed", cps),
             ("incomplete", [cps[1], cps[2]])]
    for i, (status, missed) in enumerate(cases):
        end = JUNE + (i + 1) * DAY
        Round.create(plan_id=plan.id, route_id=route.id, due_start=end - 7_200_000, due_end=end, grace_ms=0,
                     status=status, verdict=json.dumps({"status": status, "missed": missed}), suspicious=i == 0,
                     closed=True, updated_at=now)
    for end in (JUNE - 1, JULY):    # 31 May 23:59:59.999 and 1 July 00:00: outside June
        Round.create(plan_id=plan.id, route_id=route.id, due_start=end - 7_200_000, due_end=end, grace_ms=0,
                     status="missed", verdict=json.dumps({"missed": cps}), suspicious=False, closed=True, updated_at=now)
    return cps


def test_patrol_report_recomputed_from_the_rounds(app, users, patrol):
    due = q("SELECT count(*) FROM patrol_rounds WHERE closed AND due_end>=? AND due_end<?", JUNE, JULY)
    walked = q("SELECT count(*) FROM patrol_rounds WHERE closed AND status IN ('completed','late') AND due_end>=? "
               "AND due_end<?", JUNE, JULY)
    missed_cp = q("SELECT sum(json_array_length(json_extract(verdict,'$.missed'))) FROM patrol_rounds "
                  "WHERE due_end>=? AND due_end<?", JUNE, JULY)
    assert (due, walked, missed_cp) == (6, 3, 6)
    x = get(app, users, "patrol", "xlsx").data
    plans = sheet(x, "按计划")
    assert plans[1] == ["罐区白班巡检", 6, 2, 1, 2, 1, "50.0%"] and plans[-1][:2] == ["合计 Total", due]
    summary = dict(r[:2] for r in sheet(x, "巡检汇总"))
    assert summary["已巡次数 Rounds walked"] == walked and summary["漏检点次 Missed checkpoints"] == missed_cp
    assert summary["可疑巡检 Suspicious rounds"] == 1
    assert sheet(x, "漏检点")[1] == ["CP1 泵房", 3]
    text = "\n".join(pdf_text(get(app, users, "patrol", "pdf").data))
    assert "巡检报告" in text and "罐区白班巡检" in text and "CP1 泵房 3" in text
    assert any(ln.split() == ["巡检完成率", "Completion", "rate", "50.0%"] for ln in text.splitlines())


def test_alarm_report_recomputed_from_the_alarms(app, users, plant):  # noqa: F811
    from appliance.gas.sensors import Alarm

    def alarm(point, at, level=1, ack_s=60, clear_min=5):
        Alarm.create(point=point, kind="gas", level=level, raised_at=at, acked_at=at + ack_s * 1000 if ack_s else None,
                     cleared_at=at + clear_min * 60_000 if clear_min else None)

    t = JUNE + 3 * DAY
    for i in range(3):
        alarm("GT-201", t + i * 15_000)                 # three in 30 s: chattering
    alarm("GT-101", JUNE + 10 * DAY, level=2, ack_s=120, clear_min=30)
    alarm("GT-101", JULY - 60_000, ack_s=None, clear_min=None)        # still active at the end of June
    alarm("GT-101", JULY)                                             # July
    Alarm.create(point="GT-101", kind="fault", level=0, raised_at=JUNE + DAY)
    n = q("SELECT count(*) FROM alarms WHERE kind='gas' AND raised_at>=? AND raised_at<?", JUNE, JULY)
    l2 = q("SELECT count(*) FROM alarms WHERE kind='gas' AND level>=2 AND raised_at>=? AND raised_at<?", JUNE, JULY)
    assert (n, l2) == (5, 1)
    x = get(app, users, "alarms", "xlsx").data
    summary = dict(r[:2] for r in sheet(x, "报警汇总"))
    assert summary["气体报警次数 Gas alarms"] == n
    assert summary["每10分钟报警数（每操作员）Alarms per 10 min per operator"] == round(n / (30 * 144), 3)
    assert summary["最忙10分钟 Busiest 10 min"] == 3 and summary["振荡报警点 Chattering points"] == "GT-201"
    assert summary["其他报警 Other alarms: fault"] == 1
    pts = {r[0]: r for r in sheet(x, "按测点")[1:]}
    assert pts["GT-101"][1:4] == [2, 1, l2] and pts["GT-101"][4] == 120.0 and pts["GT-101"][6] == 1
    assert pts["GT-201"][1:] == [3, 3, 0, 60.0, 5.0, 0]
    text = "\n".join(pdf_text(get(app, users, "alarms", "pdf").data))
    assert "报警报告" in text and "EEMUA 191" in text
    assert any(ln.split()[:4] == ["GT-101", "2", "1", "1"] for ln in text.splitlines())


def test_training_report_recomputed_from_the_records(app, users, plant):  # noqa: F811
    from appliance.core import people as P
    from appliance.training.certificates import Certificate
    from appliance.training.exams import Attempt, Exam
    from appliance.training.records import Record

    now = events.now_ms()
    a = P.create_person(P.PersonIn(employee_no="E01", name="张伟", kind="employee"), actor="t").id
    b = P.create_person(P.PersonIn(employee_no="E02", name="李娜", kind="employee"), actor="t").id
    for pid, day, hours, kind in ((a, "2025-06-01", 8, "yearly"), (a, "2025-06-30", 4, "special"),
                                  (b, "2025-06-15", 8, "yearly"), (b, "2025-05-31", 8, "yearly"),
                                  (b, "2025-07-01", 8, "yearly")):
        Record.create(person_id=pid, held_on=day, hours=hours, title="年度安全培训", kind=kind, trainer="王芳",
                      created_at=now)
    exam = Exam.create(title="动火作业考试", picks="{}", pass_mark=80, time_limit_s=1800, max_attempts=3, active=True,
                       created_at=now, updated_at=now)
    for n, (pid, score, at) in enumerate(((a, 90.0, JUNE + DAY), (b, 70.0, JUNE + 2 * DAY), (b, 85.0, JULY + DAY))):
        Attempt.create(exam_id=exam.id, person_id=pid, number=n, questions="[]", started_at=at - 600_000,
                       deadline_at=at + 600_000, state="submitted", submitted_at=at, correct=0, score=score,
                       passed=score >= 80)
    for pid, kind, number, expires in ((a, "WELD-FUSION", "W-1", "2025-08-15"), (b, "ELEC-LV", "E-1", "2025-09-30"),
                                       (b, "HEIGHT-MAINT", "H-1", "2028-01-01")):
        Certificate.create(person_id=pid, kind=kind, number=number, issuer="应急管理局", issued_on="2022-01-01",
                           expires_on=expires, review_due_on=None, photo=None, revoked=False, note="", created_at=now,
                           updated_at=now)
    hours = q("SELECT sum(hours) FROM training_records WHERE held_on>='2025-06-01' AND held_on<'2025-07-01'")
    x = get(app, users, "training", "xlsx").data
    kinds = sheet(x, "培训汇总")
    assert kinds[-1] == ["合计 Total", 3, hours, 2] and hours == 20
    assert sheet(x, "人员学时")[1:] == [["E01", "张伟", 2, 12], ["E02", "李娜", 1, 8]]
    assert sheet(x, "考试")[1] == ["动火作业考试", 2, 1, "50.0%", 80]
    assert [r[2] for r in sheet(x, "证书到期")[1:]] == ["W-1"]          # due by 30 Aug (60 days after June)
    assert dict(r[:2] for r in sheet(x, "有效证书")[1:])["低压电工作业 ELEC-LV"] == 1
    text = "\n".join(pdf_text(get(app, users, "training", "pdf").data))
    assert "培训报告" in text and "张伟" in text and "动火作业考试" in text and "熔化焊接与热切割作业" in text
    assert any(ln.split() == ["E01", "张伟", "2", "12.0"] for ln in text.splitlines())


def test_unknown_report_and_bad_format_name_the_field(app, users):
    c = As(app, "admin", users)
    r = c.get("/api/v1/reports/accidents?period=2025-06")
    assert r.status_code == 422 and r.get_json()["error"]["details"][0]["key"] == "report"
    r = c.get("/api/v1/reports/patrol?period=2025-06&format=docx")
    assert r.status_code == 422 and r.get_json()["error"]["details"][0]["key"] == "format"
    assert As(app, "worker", users).get("/api/v1/reports/training?period=2025-06").status_code == 403


def test_monthly_job_writes_last_months_reports_once_with_an_event(app, plant, tmp_path):  # noqa: F811
    from appliance.cockpit import export

    hazard(plant["TANK"], JUNE + 2 * DAY)
    first_of_july = JULY + 90 * 60_000          # 01:30 on 1 July, plant time: the job's slot
    written = export.write_monthly(tmp_path, now=first_of_july)
    names = sorted(p.name for p in written)
    assert names == sorted(f"{k}-2025-06.{f}" for k in ("dual-prevention", "patrol", "alarms", "training")
                           for f in ("xlsx", "pdf"))
    assert all(p.parent == tmp_path / "2025-06" and p.stat().st_size > 1000 for p in written)
    assert not list((tmp_path / "2025-06").glob(".*.tmp"))
    text = "\n".join(pdf_text((tmp_path / "2025-06" / "dual-prevention-2025-06.pdf").read_bytes()))
    assert "2025-06" in text and "一般事故隐患" in text
    ev = events.Event.get(events.Event.type == "cockpit.reports_written")
    payload = json.loads(ev.payload)
    assert ev.entity_id == "2025-06" and payload["period"] == "2025-06" and len(payload["files"]) == 8
    assert events.Event.get_by_id(payload["head"]["seq"]).hash == payload["head"]["hash"]
    assert export.write_monthly(tmp_path, now=first_of_july + 3_600_000) == []          # once a month
    assert export.last_month(JUNE, "Asia/Shanghai") == "2025-05"
    assert export.last_month(int(dt.datetime(2025, 1, 1, tzinfo=ZONE).timestamp() * 1000), "Asia/Shanghai") == "2024-12"


def test_the_job_is_scheduled_on_the_first_into_the_backup_folder(tmp_path):
    from types import SimpleNamespace

    from apscheduler.schedulers.background import BackgroundScheduler

    from appliance.cockpit import export

    s = BackgroundScheduler(timezone="Asia/Shanghai")
    export.jobs(s, SimpleNamespace(storage=SimpleNamespace(backup_dir=tmp_path / "backups")), None)
    job = s.get_job("cockpit-reports")
    assert job.args == (tmp_path / "backups" / "reports",)
    fields = {f.name: str(f) for f in job.trigger.fields}
    assert (fields["day"], fields["hour"], fields["minute"]) == ("1", "1", "30")
    nxt = job.trigger.get_next_fire_time(None, dt.datetime(2025, 6, 15, tzinfo=ZONE))
    assert (nxt.month, nxt.day, nxt.hour) == (7, 1, 1)


def test_the_cockpit_page_links_every_report_as_xlsx_and_pdf(app, users, plant):  # noqa: F811
    html = As(app, "supervisor", users).get("/cockpit").get_data(as_text=True)
    for key in ("dual-prevention", "patrol", "alarms", "training"):
        for fmt in ("xlsx", "pdf"):
            assert f"/api/v1/reports/{key}?period=" in html and f"format={fmt}" in html
    assert 'id="report-pdf"' in html and "巡检报告" in html
    r = As(app, "supervisor", users).get("/cockpit/report?kind=alarms&period=2025-Q2&format=pdf")
    assert r.status_code == 303 and r.headers["Location"].endswith("/api/v1/reports/alarms?period=2025-Q2&format=pdf")
    r = As(app, "supervisor", users).get("/cockpit/report?kind=nope&period=2025-06&format=pdf")
    assert r.status_code == 422
