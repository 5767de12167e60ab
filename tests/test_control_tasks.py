"""Control tasks (隐患排查任务) from measures: opened per cycle, reminded, missed as 未排查, checked on a tablet
or at a patrol checkpoint whose checklist item carries the measure."""
from __future__ import annotations

from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest

from appliance.core import events
from appliance.core.access import Principal
from appliance.patrol import models, taps
from appliance.patrol.rules import MINUTE_MS
from appliance.risk import register as R
from appliance.risk import tasks as CT

HOUR = 60 * MINUTE_MS


@pytest.fixture
def register(app, users, as_role):
    admin = as_role("admin")
    area = admin.post("/api/v1/areas", json={"code": "TANK", "name": "储罐区", "polygon": [[0, 0], [9, 0], [9, 9]]}).get_json()["id"]
    a = "system:test"
    o = R.create_object(R.ObjectIn(code="OBJ-1", name="甲醇储罐区", major_hazard=True, area_id=area), actor=a)
    u = R.create_unit(R.UnitIn(object_id=o.id, name="储罐 V-101", department="生产部", liable_person="王芳"), actor=a)
    e = R.create_event(R.EventIn(unit_id=u.id, name="储罐泄漏", method="LS", inherent={"l": 3, "s": 4}), actor=a)
    daily = R.create_measure(R.MeasureIn(event_id=e.id, description="罐区巡检：呼吸阀、阻火器", classify1=3, classify2="3-2",
                                         check_cycle=1, check_cycle_unit="day"), actor=a)
    hourly = R.create_measure(R.MeasureIn(event_id=e.id, description="液位远传监控", classify1=1, classify2="1-4",
                                          check_cycle=1, check_cycle_unit="hour"), actor=a)
    R.create_measure(R.MeasureIn(event_id=e.id, description="SIS 联锁", classify1=1, classify2="1-4"), actor=a)  # no cycle
    return {"area": area, "daily": daily.id, "hourly": hourly.id, "as": as_role}


def _tomorrow_at_noon() -> int:
    """12:05 tomorrow in the plant's time zone: the hour after it ends inside the same day, whatever the hour
    the test runs at (run at 23:xx, the hour's end is also the day's end and both measures go missed)."""
    zone = ZoneInfo(CT.site_timezone())
    day = datetime.fromtimestamp(events.now_ms() / 1000, zone).date() + timedelta(days=1)
    return int(datetime.combine(day, time(12, 5), zone).timestamp() * 1000)


def test_tasks_open_once_per_period_and_go_missed(register):
    now = _tomorrow_at_noon()
    assert CT.tick(now)["opened"] == 2                   # the measure without a cycle has no tasks
    assert CT.tick(now)["opened"] == 0
    t = CT.ControlTask.get(CT.ControlTask.measure_id == register["hourly"])
    assert t.period_start <= now < t.period_end and t.period_end - t.period_start == HOUR
    assert t.assignee == "王芳" and t.department == "生产部" and t.status == "open"
    out = CT.tick(t.period_end)                          # the hour is over: missed, and the next one opens
    assert out["missed"] == 1 and out["opened"] == 1
    assert CT.ControlTask.get_by_id(t.id).status == "missed" and CT.ControlTask.get_by_id(t.id).result == 2
    ev = [e for e in events.read_after(0, 500) if e.type == "control_task.missed"]
    assert len(ev) == 1 and ev[0].payload["result"] == 2


def test_reminder_once_before_the_end(register):
    """The hourly task is reminded once, late in its hour. (The daily task's own reminder depends on the
    plant's time of day when the test runs, so only the hourly task's reminders are counted.)"""
    start = events.now_ms() // HOUR * HOUR           # Asia/Shanghai hours are whole UTC hours
    CT.tick(start + 5 * MINUTE_MS)
    t = CT.ControlTask.get(CT.ControlTask.measure_id == register["hourly"])
    assert t.period_start == start

    def reminders() -> int:
        return [e.payload["id"] for e in events.read_after(0, 500) if e.type == "control_task.due_soon"].count(t.id)

    assert reminders() == 0
    late = t.period_start + int(0.9 * HOUR)
    assert CT.tick(late)["reminded"] >= 1
    assert CT.tick(late)["reminded"] == 0
    assert reminders() == 1


def test_checked_on_a_tablet(register):
    CT.tick()
    worker = register["as"]("worker")
    tid = CT.ControlTask.get(CT.ControlTask.measure_id == register["daily"]).id
    url = f"/api/v1/control-tasks/{tid}/check"
    assert worker.post(url, json={"result": 2}).status_code == 422          # 未排查 is the system's to record
    assert worker.post(url, json={"result": 1}).status_code == 422          # 存在隐患 needs a note
    r = worker.post(url, json={"result": 1, "note": "阻火器网堵塞"})
    assert r.status_code == 200, r.get_data(as_text=True)
    t = r.get_json()
    assert t["status"] == "done" and t["result"] == 1 and t["hazard_id"] and t["checked_by"] == "user:u_worker"
    h = register["as"]("supervisor").get(f"/api/v1/hazards/{t['hazard_id']}").get_json()
    assert h["area_id"] == register["area"] and "阻火器网堵塞" in h["description"]
    assert worker.post(url, json={"result": 0}).status_code == 409
    assert register["as"]("kiosk").post(url, json={"result": 0}).status_code == 403
    listed = worker.get("/api/v1/control-tasks?status=done").get_json()["tasks"]
    assert [x["id"] for x in listed] == [tid] and listed[0]["measure"].startswith("罐区巡检")
    rates = worker.get("/api/v1/control-tasks/rates?days=1").get_json()
    assert rates["days"] == 1


def test_a_checkpoint_answer_is_the_check_record(register):
    CT.tick()
    so = register["as"]("safety_officer")
    bad = so.post("/api/v1/patrol/checkpoints", json={"code": "CP-1", "name": "罐区", "area_id": register["area"], "reader": "rd-1",
                                                      "checklist": [{"id": "b", "text": "呼吸阀", "measure_id": 999}]})
    assert bad.status_code == 422 and "checklist.0.measure_id" in bad.get_data(as_text=True)
    r = so.post("/api/v1/patrol/checkpoints", json={"code": "CP-1", "name": "罐区", "area_id": register["area"], "reader": "rd-1",
                                                    "checklist": [{"id": "b", "text": "呼吸阀、阻火器", "measure_id": register["daily"]},
                                                                  {"id": "c", "text": "地面无积液"}]})
    assert r.status_code == 201, r.get_data(as_text=True)
    admin = register["as"]("admin")
    pid = admin.post("/api/v1/people", json={"employee_no": "E1", "name": "刘洋", "kind": "employee"}).get_json()["id"]
    admin.post("/api/v1/badges", json={"uid": "04A1B2C3D4E5F9", "person_id": pid})
    tap = taps.record_tap("rd-1", "04A1B2C3D4E5F9", events.now_ms())
    rec = taps.answer(tap["tap_id"], taps.AnswerIn(answers={"b": "normal", "c": "normal"}),
                        Principal("device", 0, "rd-1", "kiosk"))
    assert rec.status == 0
    t = CT.ControlTask.get(CT.ControlTask.measure_id == register["daily"])
    assert t.status == "done" and t.result == 0 and t.checked_by == "person:E1"
    mc = models.CheckRecord.get_by_id(t.check_record_id)
    assert mc.measure_id == register["daily"] and mc.status == 0 and mc.tap_id == tap["tap_id"]
    # the other (hourly) measure was not on the checklist: still open
    assert CT.ControlTask.get(CT.ControlTask.measure_id == register["hourly"]).status == "open"


def test_periods_slept_through_are_missed(register):
    now = events.now_ms()
    start = now // HOUR * HOUR
    CT.tick(start + MINUTE_MS)
    out = CT.tick(start + 5 * HOUR + MINUTE_MS)          # the appliance was off for five hours
    # the open hour went missed, and the four whole hours nobody saw are recorded as 未排查 too (the daily
    # measure adds one more when the five hours cross midnight)
    assert out["missed"] >= 5
    hourly = [(t.period_start, t.status, t.result) for t in CT.ControlTask.select().where(
        CT.ControlTask.measure_id == register["hourly"]).order_by(CT.ControlTask.period_start)]
    assert [p for p, _, _ in hourly] == [start + i * HOUR for i in range(6)]
    assert [(s, r) for _, s, r in hourly] == [("missed", 2)] * 5 + [("open", None)]
    assert CT.tick(start + 5 * HOUR + 2 * MINUTE_MS)["missed"] == 0        # once


def test_a_tick_with_nothing_to_change_takes_no_write_lock(register, config):
    """The job reads the register outside any write transaction and writes only what changes: reading a
    5 000-measure register inside its transaction held SQLite's one write lock for seconds every minute and
    the gas alarms waited (issue 14). With another writer holding the lock, a tick that opens nothing ends
    at once instead of waiting the busy timeout and failing with "database is locked"."""
    import sqlite3

    now = _tomorrow_at_noon()
    assert CT.tick(now)["opened"] == 2
    other = sqlite3.connect(str(config.storage.db_path), timeout=0.1, isolation_level=None)
    try:
        other.execute("BEGIN IMMEDIATE")
        assert CT.tick(now + MINUTE_MS) == {"opened": 0, "reminded": 0, "missed": 0}
        other.execute("ROLLBACK")
    finally:
        other.close()
    assert CT.tick(now + MINUTE_MS)["opened"] == 0
