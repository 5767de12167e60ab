"""Hours worked (实际总工时) recorded per month: the rule that spreads them over a window (table cases), the
form's API (422 naming the field, a month recorded again replaces it, a double submit records once), and
the accident and violation rates dividing by them, falling back to the estimate for months without a
record, the tile saying which was used."""
from __future__ import annotations

import datetime as dt
import json
from zoneinfo import ZoneInfo

import pytest

from appliance.cockpit import rules as R
from appliance.core import events
from conftest import As
from test_cockpit_api import accident, plant  # noqa: F401  (plant is a fixture)

TZ = "Asia/Shanghai"
DAY = R.DAY_MS


def ms(y, m, d, h=0):
    return int(dt.datetime(y, m, d, h, tzinfo=ZoneInfo(TZ)).timestamp() * 1000)


@pytest.mark.parametrize("since,until,expect", [
    pytest.param(ms(2025, 6, 1), ms(2025, 7, 1), [("2025-06", 30 * DAY, 30 * DAY)], id="one-whole-month"),
    pytest.param(ms(2025, 6, 16), ms(2025, 7, 6), [("2025-06", 15 * DAY, 30 * DAY), ("2025-07", 5 * DAY, 31 * DAY)],
                 id="across-a-month-end-in-plant-time"),
    pytest.param(ms(2024, 12, 31), ms(2025, 3, 1), [("2024-12", DAY, 31 * DAY), ("2025-01", 31 * DAY, 31 * DAY),
                                                   ("2025-02", 28 * DAY, 28 * DAY)], id="across-a-year-and-february"),
])
def test_months_a_window_touches(since, until, expect):
    assert R.months(since, until, TZ) == expect


@pytest.mark.parametrize("since,until,recorded,employees,hours,basis", [
    # nothing recorded: the estimate, employees × 8 h × days (the old rule)
    pytest.param(ms(2025, 6, 1), ms(2025, 7, 1), {}, 10, 10 * 8 * 30, "estimated", id="no-record-estimate"),
    # June recorded: its hours whatever the head count
    pytest.param(ms(2025, 6, 1), ms(2025, 7, 1), {"2025-06": 12_345.0}, 10, 12_345.0, "recorded", id="whole-month-recorded"),
    # half of June (15 of 30 days): half of June's hours
    pytest.param(ms(2025, 6, 16), ms(2025, 7, 1), {"2025-06": 3000.0}, 10, 1500.0, "recorded", id="share-of-a-month"),
    # 15 days of June recorded (half its 3000 h) + 5 days of July estimated (10 × 8 × 5)
    pytest.param(ms(2025, 6, 16), ms(2025, 7, 6), {"2025-06": 3000.0}, 10, 1500.0 + 400.0, "mixed", id="mixed-months"),
    # a month recorded as 0 hours is a record (no work that month), not a missing one
    pytest.param(ms(2025, 6, 1), ms(2025, 7, 1), {"2025-06": 0.0}, 10, 0.0, "recorded", id="zero-hours-is-a-record"),
    # a record of another month does not count
    pytest.param(ms(2025, 6, 1), ms(2025, 7, 1), {"2025-05": 9999.0}, 2, 2 * 8 * 30, "estimated", id="other-month-ignored"),
])
def test_window_hours(since, until, recorded, employees, hours, basis):
    out = R.window_hours(since, until, recorded, employees, TZ)
    assert out["hours"] == pytest.approx(hours) and out["basis"] == basis


@pytest.mark.parametrize("hours,basis,injured,rate", [
    pytest.param(None, "estimated", 2, round(2 * 1e6 / (5 * 8 * 10), 3), id="estimate"),
    pytest.param(20_000.0, "recorded", 2, 100.0, id="recorded-2-per-20000h"),
    pytest.param(0.0, "recorded", 2, None, id="zero-hours-no-rate"),
])
def test_the_rates_divide_by_the_hours_given(hours, basis, injured, rate):
    f = R.Facts(since=0, until=10 * DAY, employees=5, accidents=[(0, 1, 1)], violations=4, hours=hours, hours_basis=basis)
    out = R.compute(f)
    assert out["accident_rate"] == rate and out["hours_basis"] == basis
    expect_hours = 5 * 8 * 10 if hours is None else hours
    assert out["violation_rate"] == (round(4 * 100 / expect_hours, 3) if expect_hours else None)


def test_recording_hours_validates_replaces_and_is_for_the_safety_office(app, users):
    so = As(app, "safety_officer", users)
    r = so.post("/api/v1/cockpit/hours", json={"month": "2025-06", "hours": 12000})
    assert r.status_code == 201, r.get_data(as_text=True)
    first = r.get_json()
    assert first["unit_kind"] == "plant" and first["unit"] == "" and first["recorded_by"] == "user:u_safety_officer"
    r = so.post("/api/v1/cockpit/hours", json={"month": "2025-06", "hours": 12500, "note": "含加班"})
    assert r.status_code == 200 and r.get_json()["id"] == first["id"] and r.get_json()["hours"] == 12500
    assert so.post("/api/v1/cockpit/hours", json={"month": "2025-06", "unit_kind": "firm", "unit": "江东建设",
                                                  "hours": 800}).status_code == 201
    for bad, field in (({"month": "2025-13", "hours": 1}, "month"), ({"month": "2025-06", "hours": -1}, "hours"),
                       ({"month": "2025-06", "hours": 1, "unit": "生产部"}, "unit"),
                       ({"month": "2025-06", "unit_kind": "department", "hours": 1}, "unit"),
                       ({"month": "2025-06", "unit_kind": "shift", "unit": "x", "hours": 1}, "unit_kind"),
                       ({"month": "2025-06"}, "hours")):
        r = so.post("/api/v1/cockpit/hours", json=bad)
        assert r.status_code == 422, bad
        assert r.get_json()["error"]["details"][0]["key"] == field, (bad, r.get_json())
    assert As(app, "supervisor", users).post("/api/v1/cockpit/hours", json={"month": "2025-07", "hours": 1}).status_code == 403
    listed = As(app, "supervisor", users).get("/api/v1/cockpit/hours").get_json()["hours"]
    assert [(h["unit_kind"], h["hours"]) for h in listed] == [("plant", 12500), ("firm", 800)]
    ev = [json.loads(e.payload) for e in events.Event.select().where(events.Event.type == "cockpit.hours_recorded")]
    assert [e["hours"] for e in ev] == [12000, 12500, 800]
    html = so.get("/cockpit/hours").get_data(as_text=True)
    assert 'id="hours-form"' in html and "江东建设" in html and "12,500.0" in html
    assert As(app, "supervisor", users).get("/cockpit/hours").status_code == 403


def test_a_double_submit_records_once(app, users):
    so = As(app, "safety_officer", users)
    for _ in range(2):
        r = so.post("/api/v1/cockpit/hours", json={"month": "2025-08", "hours": 9000},
                    headers={"Idempotency-Key": "f-hours-double-1"})
        assert r.status_code in (200, 201)
    assert r.headers.get("Idempotent-Replayed") == "true"
    assert events.Event.select().where(events.Event.type == "cockpit.hours_recorded").count() == 1


def test_the_cockpit_divides_by_recorded_hours_and_says_so(app, users, plant):  # noqa: F811
    from appliance.core import people as P

    for i in range(5):
        P.create_person(P.PersonIn(employee_no=f"E{i}", name=f"员工{i}"), actor="t")
    now = events.now_ms()
    accident("TANK", now - 3 * DAY, serious=1, minor=1)
    so = As(app, "safety_officer", users)

    def tiles():
        d = so.get("/api/v1/cockpit?days=30").get_json()
        return d, {k["key"]: k for k in d["kpis"]}

    d, k = tiles()
    estimate = 5 * 8 * 30
    assert d["counts"]["hours_basis"] == "estimated" and d["counts"]["person_hours"] == estimate
    assert k["accident_rate"]["value"] == round(2 * 1e6 / estimate, 3)
    months = R.months(d["since"], d["until"], TZ)
    # the window's first month recorded: mixed
    so.post("/api/v1/cockpit/hours", json={"month": months[0][0], "hours": 10_000})
    d, k = tiles()
    assert d["counts"]["hours_basis"] == ("mixed" if len(months) > 1 else "recorded")
    # every month touched recorded (the last one by its departments only: their sum)
    for m, _, _ in months[1:]:
        so.post("/api/v1/cockpit/hours", json={"month": m, "unit_kind": "department", "unit": "生产部", "hours": 6000})
        so.post("/api/v1/cockpit/hours", json={"month": m, "unit_kind": "firm", "unit": "江东建设", "hours": 2000})
    d, k = tiles()
    hours = sum((10_000 if i == 0 else 8000) * inside / whole for i, (_, inside, whole) in enumerate(months))
    assert d["counts"]["hours_basis"] == "recorded" and d["counts"]["person_hours"] == round(hours, 1)
    assert k["accident_rate"]["value"] == round(2 * 1e6 / hours, 3)
    html = so.get("/cockpit?days=30").get_data(as_text=True)
    assert 'id="accident-basis" data-basis="recorded"' in html and "按月记录" in html
    assert 'id="violation-basis" data-basis="recorded"' in html and 'id="hours-link"' in html
    assert "（按月记录）</p>" in html and "（估算：未记录工时）</p>" not in html


def test_the_dual_prevention_report_uses_the_month_s_recorded_hours(app, users, plant):  # noqa: F811
    import io

    import openpyxl

    from test_cockpit_api import _sheet

    accident("TANK", ms(2025, 6, 10), serious=1, minor=2)
    so = As(app, "safety_officer", users)
    label = "百万工时伤害率 Injuries per 1,000,000 person-hours (GB/T 6441-1986 6.3)"

    def accidents_sheet():
        r = so.get("/api/v1/reports/dual-prevention?period=2025-06&format=xlsx")
        assert r.status_code == 200
        return {row[0]: row for row in _sheet(openpyxl.load_workbook(io.BytesIO(r.data)), "事故统计") if row and row[0]}

    acc = accidents_sheet()
    assert "工时（估算）Person-hours (estimated: employees × 8 h × days)" in acc
    so.post("/api/v1/cockpit/hours", json={"month": "2025-06", "hours": 30_000})
    acc = accidents_sheet()
    assert acc["工时（按月记录）Person-hours (recorded per month)"][1] == 30_000
    assert acc[label][1] == 100.0                       # 3 injured × 10⁶ ÷ 30,000 h
