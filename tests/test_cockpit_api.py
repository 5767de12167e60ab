"""The cockpit API, the dual-prevention report (its figures recomputed here from the records, its event-log
head checked against the log), and the backtest command on a generated history."""
from __future__ import annotations

import io
import json

import openpyxl
import pytest

from appliance.core import events
from conftest import As, run_cli

DAY = 86_400_000


@pytest.fixture
def plant(app):
    """Areas, a risk register with a unit at each level, control tasks and hazards at known times."""
    from appliance.core import people as P
    from appliance.risk import register as RG

    P.set_site(name="江东化工", name_en="Jiangdong Chemicals", timezone="Asia/Shanghai", plan_width=1600,
               plan_height=900, actor="t")
    areas = {c: P.create_area(P.AreaIn(code=c, name=n, kind="process"), actor="t").id
             for c, n in (("TANK", "储罐区"), ("REACT", "反应车间"), ("WH", "仓库"), ("DOCK", "装卸站台"),
                          ("CTRL", "中控室"), ("GATE", "大门"))}
    o = RG.create_object(RG.ObjectIn(code="OBJ-1", name="甲醇储罐区", major_hazard=True, area_id=areas["TANK"]), actor="t")
    u = RG.create_unit(RG.UnitIn(object_id=o.id, name="储罐 V-101", department="生产部", liable_person="王芳"), actor="t")
    for name, f in (("泄漏火灾", {"l": 10, "e": 6, "c": 15}), ("中毒", {"l": 3, "e": 6, "c": 15}),
                    ("灼伤", {"l": 1, "e": 6, "c": 15})):     # D = 900 红 / 270 橙 / 90 黄 (LEC)
        e = RG.create_event(RG.EventIn(unit_id=u.id, name=name, method="LEC", inherent=f), actor="t")
    m = RG.create_measure(RG.MeasureIn(event_id=e.id, description="巡检", classify1=3, classify2="3-2"), actor="t")
    return {**areas, "measure": m.id}


def hazard(area_id, reported_at, *, grade="general", closed_at=None, deadline_days=7, category="电气"):
    from appliance.hazards.service import Hazard

    return Hazard.create(area_id=area_id, category=category, description="测试隐患", grade=grade,
                         state="closed" if closed_at else "rectifying", reporter="t", reported_at=reported_at,
                         deadline=reported_at + deadline_days * DAY, accepted_at=closed_at, rejections=0,
                         updated_at=reported_at)


def test_cockpit_figures_come_from_the_window_with_trend_and_definitions(app, users, plant):
    now = events.now_ms()
    a = plant["TANK"]
    hazard(a, now - 5 * DAY, closed_at=now - 4 * DAY)         # this window: closed on time
    hazard(a, now - 10 * DAY)                                # this window: open, past its deadline → overdue
    hazard(a, now - 40 * DAY, closed_at=now - 39 * DAY)      # previous window (30–60 days ago)
    hazard(a, now - 400 * DAY)                               # outside both: never read
    r = As(app, "kiosk", users).get("/api/v1/cockpit?days=30")
    assert r.status_code == 200
    d = r.get_json()
    k = {x["key"]: x for x in d["kpis"]}
    assert d["counts"]["hazards_reported"] == 2
    assert k["rectification_rate"]["value"] == 0.5 and k["rectification_rate"]["previous"] == 1.0
    assert k["rectification_rate"]["direction"] == "worse" and k["rectification_rate"]["delta"] == -0.5
    assert k["overdue"]["value"] == 1 and k["on_time_rate"]["value"] == 1.0
    assert k["rectification_rate"]["definition"]["zh-CN"]
    assert k["rectification_rate"]["drill"] == f"/cockpit/drill/rectification_rate?since={d['since']}&until={d['until']}"
    assert k["rectification_rate"]["page"] == f"/tablet/hazards?since={d['since']}&until={d['until']}"
    assert d["missing"] == []                               # nothing left out: the accident rate is in
    assert d["until"] - d["since"] == 30 * DAY


def accident(area: str, occurred_at: int, *, deaths=0, serious=0, minor=0, kind="fall"):
    """A real accident record, through the emergency domain's own service (graded, clocked, with its event)."""
    from appliance.emergency import accidents as A

    return A.report(A.AccidentIn(area=area, occurred_at=occurred_at, kind=kind, title="测试事故", description="测试事故经过",
                                 deaths=deaths, serious_injuries=serious, minor_injuries=minor), actor="user:t")


def test_accident_rate_from_the_emergency_records_with_trend(app, users, plant):
    from appliance.core import people as P
    from appliance.emergency import accidents as A

    for i in range(5):
        P.create_person(P.PersonIn(employee_no=f"E{i}", name=f"员工{i}"), actor="t")
    P.create_person(P.PersonIn(employee_no="C1", name="承包商", kind="contractor"), actor="t")   # not in the exposure
    employees = P.Person.select().where(P.Person.active & (P.Person.kind == "employee")).count()
    now = events.now_ms()
    a = accident("TANK", now - 3 * DAY, minor=1)                          # this window
    accident("REACT", now - 20 * DAY, kind="burn")                        # this window, nobody hurt
    accident("TANK", now - 45 * DAY, serious=1, minor=1)                  # previous window (30–60 days ago)
    accident("WH", now - 45 * DAY, minor=2)                               # previous window
    accident("WH", now - 400 * DAY, deaths=1)                             # outside both: never read
    # 第十三条 补报 in the investigation: one more seriously injured in the first → counted from the record
    A.investigate(a.id, A.InvestigationIn(serious_injuries=1, cause="脚手架未固定"), actor="user:t")
    hours = employees * 8 * 30
    d = As(app, "kiosk", users).get("/api/v1/cockpit?days=30").get_json()
    k = {x["key"]: x for x in d["kpis"]}
    assert (k["accidents"]["value"], k["accidents"]["previous"], k["accidents"]["direction"]) == (2, 2, "same")
    assert d["counts"]["injured"] == 2 and d["counts"]["person_hours"] == hours
    rate, prev = k["accident_rate"]["value"], k["accident_rate"]["previous"]
    assert rate == round(2 * 1_000_000 / hours, 3) and prev == round(4 * 1_000_000 / hours, 3)
    assert k["accident_rate"]["direction"] == "better" and k["accident_rate"]["delta"] == round(rate - prev, 3)
    assert k["accident_rate"]["unit"] == "per_1m_h" and "GB/T 6441" in k["accident_rate"]["source"]
    assert "百万工时" in k["accident_rate"]["name"]["zh-CN"] and k["accident_rate"]["definition"]["en"]
    assert k["accident_rate"]["page"].startswith("/tablet/emergency")
    # the page shows the tile, its basis and no "not merged" line, in both languages
    html = As(app, "admin", users).get("/cockpit").get_data(as_text=True)
    assert 'data-kpi="accident_rate"' in html and 'id="accident-basis"' in html and "伤害 2 人" in html
    assert "尚未并入" not in html and 'id="missing"' not in html


def test_hazard_tiles_drill_down_to_the_window_s_records(app, users, plant):
    now = events.now_ms()
    a = plant["TANK"]
    inside = hazard(a, now - 2 * DAY).id                                   # in the 7-day window, open
    late = hazard(a, now - 6 * DAY, deadline_days=1).id                    # in it, past its deadline: overdue
    closed = hazard(a, now - 5 * DAY, closed_at=now - 4 * DAY).id          # in it, closed
    before = hazard(a, now - 9 * DAY).id                                   # the week before
    c = As(app, "supervisor", users)
    d = c.get("/api/v1/cockpit?days=7").get_json()
    k = {x["key"]: x for x in d["kpis"]}

    def listed(url):
        r = c.get(url)
        assert r.status_code == 200, url
        html = r.get_data(as_text=True)
        return {h for h in (inside, late, closed, before) if f'data-hazard="{h}"' in html}, html

    shown, html = listed(k["rectification_rate"]["page"])
    assert shown == {inside, late, closed} and 'id="hazard-window"' in html
    assert listed(k["overdue"]["page"])[0] == {late} and k["overdue"]["value"] == 1
    assert listed("/tablet/hazards")[0] == {inside, late, closed, before}      # no filter: the loop page as before
    # a plant-local date works too (Asia/Shanghai): ?until=D includes that whole day
    import datetime as dt
    from zoneinfo import ZoneInfo

    day = dt.datetime.fromtimestamp((now - 9 * DAY) / 1000, ZoneInfo("Asia/Shanghai")).date()
    assert listed(f"/tablet/hazards?since={day}&until={day}")[0] == {before}
    for bad in ("since=yesterday", "until=2025-13-01"):
        r = c.get(f"/tablet/hazards?{bad}")
        assert r.status_code == 422, bad


@pytest.mark.parametrize("days", ["0", "367", "x"])
def test_window_out_of_bounds_is_refused_naming_the_field(app, users, days):
    r = As(app, "admin", users).get(f"/api/v1/cockpit?days={days}")
    assert r.status_code == 422 and r.get_json()["error"]["details"][0]["key"] == "days"


def test_the_cockpit_page_renders_for_the_tablet_and_the_wall(app, users, plant):
    for role in ("admin", "kiosk", "worker"):
        html = As(app, role, users).get("/cockpit").get_data(as_text=True)
        assert "安全驾驶舱" in html and 'data-kpi="rectification_rate"' in html and 'id="backtest"' in html
    assert "wall" in As(app, "kiosk", users).get("/cockpit").get_data(as_text=True).split("<body", 1)[1][:80]
    assert 'id="report-form"' not in As(app, "worker", users).get("/cockpit").get_data(as_text=True)


def _sheet(wb, name):
    return [list(r) for r in wb[name].iter_rows(values_only=True)]


def test_dual_prevention_report_figures_recomputed_from_the_records(app, users, plant):
    import datetime as dt
    from zoneinfo import ZoneInfo

    from appliance.core import people as P
    from appliance.core.db import database
    from appliance.risk.tasks import ControlTask

    zone = ZoneInfo("Asia/Shanghai")
    june = int(dt.datetime(2025, 6, 1, tzinfo=zone).timestamp() * 1000)
    july = int(dt.datetime(2025, 7, 1, tzinfo=zone).timestamp() * 1000)
    a, b = plant["TANK"], plant["REACT"]
    hazard(a, june + 2 * DAY, closed_at=june + 3 * DAY)                       # found and rectified
    hazard(a, june + 20 * DAY, closed_at=june + 29 * DAY)                     # rectified, late (deadline 7 d)
    hazard(b, june + 25 * DAY, grade="major", deadline_days=30)              # major, still open
    hazard(b, june - 10 * DAY, closed_at=june + DAY)                          # found in May, rectified in June
    hazard(a, june - 1, category="消防")                                      # 23:59:59.999 on 31 May: May
    hazard(a, july, category="消防")                                          # 00:00 on 1 July: July
    for status, end in (("done", june + DAY), ("done", june + 2 * DAY), ("missed", june + 3 * DAY),
                        ("missed", july + DAY)):
        ControlTask.create(measure_id=plant["measure"], period_start=end - DAY, period_end=end, department="生产部", assignee="王芳",
                           status=status, note="")
    accident("TANK", june + 5 * DAY, serious=1, minor=2)                     # June
    accident("REACT", july - 1, kind="burn")                                 # June's last millisecond
    accident("WH", july, deaths=1)                                           # July: not in June's report
    P.create_person(P.PersonIn(employee_no="E1", name="员工"), actor="t")
    r = As(app, "safety_officer", users).get("/api/v1/reports/dual-prevention?period=2025-06&format=xlsx")
    assert r.status_code == 200, r.get_data(as_text=True)
    assert "dual-prevention-2025-06.xlsx" in r.headers["Content-Disposition"]
    wb = openpyxl.load_workbook(io.BytesIO(r.data))
    assert wb.sheetnames == ["报告信息", "风险清单", "管控任务", "隐患统计", "重大事故隐患", "重大危险源", "事故统计"]

    # the figures, recomputed here with plain SQL over the same records
    def q(sql, *args):
        return database.execute_sql(sql, args).fetchone()[0]

    stats = {row[0]: row for row in _sheet(wb, "隐患统计") if row and row[0] in ("一般事故隐患", "重大事故隐患", "合计")}
    for grade, label in (("general", "一般事故隐患"), ("major", "重大事故隐患")):
        found = q("SELECT count(*) FROM hazards WHERE grade=? AND reported_at>=? AND reported_at<?", grade, june, july)
        rectified = q("SELECT count(*) FROM hazards WHERE grade=? AND state='closed' AND accepted_at>=? AND accepted_at<?",
                      grade, june, july)
        assert stats[label][1:3] == [found, rectified], label
    assert stats["合计"][1:3] == [3, 3]           # found 2 general + 1 major; rectified 3 (one found in May)
    assert stats["合计"][6] == "66.7%"            # found & rectified 2 of the 3 found
    assert stats["重大事故隐患"][4] == 1           # open at the end of June
    cats = {row[0]: row[1] for row in _sheet(wb, "隐患统计") if row and row[0] in ("电气", "消防")}
    assert cats == {"电气": 3}                     # the 31 May and 1 July ones stay out of June
    tasks = _sheet(wb, "管控任务")
    due = q("SELECT count(*) FROM control_tasks WHERE period_end>? AND period_end<=?", june, july)
    done = q("SELECT count(*) FROM control_tasks WHERE status='done' AND period_end>? AND period_end<=?", june, july)
    assert tasks[-1][:4] == ["合计 Total", due, done, due - done] == ["合计 Total", 3, 2, 1]
    risks = _sheet(wb, "风险清单")
    assert risks[1][:3] == ["甲醇储罐区", "是", "储罐 V-101"] and risks[1][5:] == [1, 1, 1, 0, 3]
    majors = _sheet(wb, "重大事故隐患")
    assert len(majors) == 2 and majors[1][1] == "反应车间" and majors[1][6] == "整改中"

    # the event-log head it was made at: present in the log with that hash, and the chain verifies
    info = {row[0]: row[1] for row in _sheet(wb, "报告信息")}
    seq, digest = info["事件日志头序号 Event-log head seq"], info["事件日志头哈希 Event-log head hash"]
    assert seq == int(r.headers["X-Event-Head-Seq"]) > 0 and digest == r.headers["X-Event-Head-Hash"]
    assert events.Event.get_by_id(seq).hash == digest
    assert info["报告期 Period"] == "2025-06" and info["单位 Plant"] == "江东化工"
    assert events.verify_chain(database.connection()) >= seq
    # 事故统计: recomputed with SQL over the accidents of June, and the rate over June's estimated hours
    acc = {row[0]: row for row in _sheet(wb, "事故统计") if row and row[0]}
    n, hurt = database.execute_sql(
        "SELECT count(*), sum(deaths + serious_injuries + minor_injuries) FROM emergency_accidents "
        "WHERE occurred_at >= ? AND occurred_at < ?", (june, july)).fetchone()
    assert acc["合计 Total"][1:5] == [n, 0, 1, 2] and (n, hurt) == (2, 3)
    assert acc["一般事故"][1] == 2 and acc["特别重大事故"][1] == 0
    employees = P.Person.select().where(P.Person.active & (P.Person.kind == "employee")).count()
    hours = employees * 8 * (july - june) / DAY
    label = "百万工时伤害率 Injuries per 1,000,000 person-hours (GB/T 6441-1986 6.3)"
    assert acc[label][1] == round(3 * 1_000_000 / hours, 3)
    assert "未并入" not in info["说明 Note"]


def test_quarterly_report_and_bad_requests(app, users, plant):
    c = As(app, "admin", users)
    r = c.get("/api/v1/reports/dual-prevention?period=2025-Q2&format=xlsx")
    assert r.status_code == 200
    assert "2025-Q2" in r.headers["Content-Disposition"]
    pdf = c.get("/api/v1/reports/dual-prevention?period=2025-06&format=pdf")   # the figures: test_cockpit_reports
    assert pdf.status_code == 200 and pdf.mimetype == "application/pdf" and pdf.data[:5] == b"%PDF-"
    for bad, key in (("period=2025-13&format=xlsx", "period"), ("period=2025-Q5", "period"), ("format=xlsx", "period"),
                     ("period=2025-06&format=docx", "format")):
        r = c.get(f"/api/v1/reports/dual-prevention?{bad}")
        assert r.status_code == 422 and r.get_json()["error"]["details"][0]["key"] == key, bad
    assert As(app, "worker", users).get("/api/v1/reports/dual-prevention?period=2025-06").status_code == 403
    assert As(app, "kiosk", users).get("/api/v1/reports/dual-prevention?period=2025-06").status_code == 403


def test_forecast_on_the_synthetic_history(app, users, plant):
    from appliance.cockpit import synthetic

    counts = synthetic.seed(weeks=30)
    assert counts["hazards"] > 100 and synthetic.seed(weeks=30) == {}     # once only
    ev = events.Event.get(events.Event.type == "cockpit.synthetic_history")
    assert json.loads(ev.payload)["synthetic"] is True
    d = As(app, "supervisor", users).get("/api/v1/cockpit/forecast?weeks=26&test_weeks=8").get_json()
    assert d["hazards"] > 50 and len(d["top"]) == 10 and d["top"][0]["rate"] >= d["top"][-1]["rate"]
    assert d["backtest"]["weeks_scored"] == 8
    for m in ("model", "last_week", "mean"):
        assert d["backtest"]["methods"][m]["nll"] > 0
    assert d["categories"]["REACT"]["total"] > 0 and d["categories"]["REACT"]["top"]
    # the settings were tuned on the weeks before the 8 scored ones, and the page says whether the model won
    bt = d["backtest"]
    assert bt["tuned_on_folds"] == 26 - 8 - 4 and d["model"] == bt["params"]
    html = As(app, "supervisor", users).get("/cockpit").get_data(as_text=True)
    assert 'id="bt-verdict"' in html and f'class="verdict {bt["verdict"]}"' in html


def test_backtest_command_scores_model_and_baselines_on_a_generated_history():
    r = run_cli("forecast", "backtest", "--weeks", "4", "--history", "16", "--synthetic", "--seed", "3", "--json")
    assert r.returncode == 0, r.stderr
    out = json.loads(r.stdout)
    assert out["weeks_scored"] == 4 and out["hazards_scored"] > 0
    for m in ("model", "last_week", "mean"):    # computed, not necessarily won
        s = out["methods"][m]
        assert s["nll"] > 0 and s["mae"] > 0 and 0 <= s["top_capture"] <= 1
    r = run_cli("forecast", "backtest", "--weeks", "4", "--history", "16", "--synthetic")
    assert r.returncode == 0 and "baseline: last week" in r.stdout and "model" in r.stdout
