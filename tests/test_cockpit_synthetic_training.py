"""The demo's synthetic year has trainings (#22): records across the year, exams with passes and failures,
written through the training domain, marked 【模拟】/system:synthetic, seeded and repeatable; the training
report and the hours against the 3号令 minimum computed from them agree with a recount in plain SQL."""
from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

import pytest

from appliance.cockpit import synthetic as SY
from appliance.core import events
from appliance.core.db import database
from conftest import As

ZONE = ZoneInfo("Asia/Shanghai")
END = int(dt.datetime(2026, 12, 6, tzinfo=ZONE).timestamp() * 1000)
PEOPLE = [(f"E{i:02d}", "employee", d) for i, d in enumerate(("生产部", "生产部", "设备部", "中控室", "安全环保部", "厂部",
                                                               "仓储物流部", "生产部"))] + [("C01", "contractor", "")]


def q(sql, *args):
    return database.execute_sql(sql, args).fetchall()


def test_the_training_plan_is_seeded_plausible_and_leaves_the_hazards_alone():
    a, b = SY.trainings(END, PEOPLE, seed=5), SY.trainings(END, PEOPLE, seed=5)
    assert a == b and SY.trainings(END, PEOPLE, seed=6)["records"] != a["records"]
    recs = a["records"]
    first = (dt.date(2026, 12, 6) - dt.timedelta(weeks=52)).isoformat()
    assert all(first <= r["held_on"] < "2026-12-06" for r in recs)
    months = {r["held_on"][:7] for r in recs}
    assert len(months) >= 11             # every whole month of the year (the two cut ones may miss a session)
    assert {"briefing", "yearly", "special"} <= {r["kind"] for r in recs} <= {"briefing", "yearly", "refresher", "special"}
    per = {k: sum(r["hours"] for r in recs if r["person"] == k and r["held_on"].startswith("2026")) for k, *_ in PEOPLE}
    workers = [per[k] for k, kind, d in PEOPLE if kind == "employee" and d not in SY.MANAGERS]
    assert min(workers) < 20 < max(workers) and all(h > 8 for h in workers)   # some meet the 20 h minimum, some not
    assert per["C01"] > 0 and all(r["kind"] == "briefing" for r in recs if r["person"] == "C01")
    # two exams a year (after the March and September re-training), passed and failed papers, retakes only after a fail
    assert [x["title"] for x in a["exams"]] == ["2026年上半年安全知识考试", "2026年下半年安全知识考试"]
    attempts = [t for x in a["exams"] for t in x["attempts"]]
    assert any(t["passed"] for t in attempts) and any(not t["passed"] for t in attempts)
    for x in a["exams"]:
        for key in {t["person"] for t in x["attempts"]}:
            mine = [t for t in x["attempts"] if t["person"] == key]
            assert [t["number"] for t in mine] == list(range(1, len(mine) + 1)) and len(mine) <= SY.MAX_ATTEMPTS
            assert not any(t["passed"] for t in mine[:-1])
            assert all(len(t["correct"]) == SY.PAPER and t["started_at"] < t["submitted_at"] < END for t in mine)
    # its own random stream: the hazards of the year are those of the generator without trainings
    assert SY.generate(END, seed=5)["hazards"] == SY.generate(END, seed=5)["hazards"]


@pytest.fixture
def demo_year(app):
    """The demo plant's people, question bank, exam and certificates (`demo._seed`), then the synthetic year
    up to 1 December 2026 (the 2026 figures cover January to November)."""
    from appliance import demo

    demo._seed("system:demo")
    end = int(dt.datetime(2026, 12, 1, tzinfo=ZONE).timestamp() * 1000)
    return SY.seed(end_ms=end, weeks=52)


def test_the_seeded_year_has_trainings_written_through_the_training_domain(app, users, demo_year):
    assert demo_year["trainings"] > 100 and demo_year["exams"] == 2 and demo_year["attempts"] >= 10
    synthetic = q("SELECT count(*), count(DISTINCT person_id), count(DISTINCT substr(held_on, 1, 7)) "
                  "FROM training_records WHERE title LIKE '【模拟】%'")[0]
    assert synthetic[0] == demo_year["trainings"] and synthetic[1] >= 12 and synthetic[2] >= 12
    # each record and attempt has its domain event, by the synthetic actor
    added = q("SELECT count(*) FROM events WHERE type='training.record_added' AND actor=?", SY.ACTOR)[0][0]
    submitted = q("SELECT count(*) FROM events WHERE type='training.exam_submitted' AND actor=?", SY.ACTOR)[0][0]
    assert (added, submitted) == (demo_year["trainings"], demo_year["attempts"])
    passed, failed = q("SELECT sum(passed), sum(NOT passed) FROM exam_attempts a JOIN exams e ON e.id=a.exam_id "
                       "WHERE e.title LIKE '【模拟】%' AND a.state='submitted'")[0]
    assert passed > 0 and failed > 0
    # the synthetic exams are closed: no one takes them; the demo's own exam is still open
    open_titles = [e["title"] for e in As(app, "worker", users).get("/api/v1/training/exams").get_json()["exams"]]
    assert open_titles == ["特殊作业安全知识考试"]
    assert SY.seed(weeks=52) == {}                                     # once only


def test_the_training_report_of_a_synthetic_quarter_matches_a_recount(app, users, demo_year):
    import io

    import openpyxl

    r = As(app, "safety_officer", users).get("/api/v1/reports/training?period=2026-Q3&format=xlsx")
    assert r.status_code == 200
    wb = openpyxl.load_workbook(io.BytesIO(r.data))
    rows = [list(x) for x in wb["培训汇总"].iter_rows(values_only=True)]
    n, hours, people = q("SELECT count(*), sum(hours), count(DISTINCT person_id) FROM training_records "
                         "WHERE held_on>='2026-07-01' AND held_on<'2026-10-01'")[0]
    assert n > 20 and rows[-1] == ["合计 Total", n, round(hours, 1), people]
    since = int(dt.datetime(2026, 7, 1, tzinfo=ZONE).timestamp() * 1000)
    until = int(dt.datetime(2026, 10, 1, tzinfo=ZONE).timestamp() * 1000)
    exam = [list(x) for x in wb["考试"].iter_rows(values_only=True)][1:]
    (title, attempts, passed), = q("SELECT e.title, count(*), sum(a.passed) FROM exam_attempts a JOIN exams e "
                                   "ON e.id=a.exam_id WHERE a.submitted_at>=? AND a.submitted_at<? GROUP BY e.id",
                                   since, until)
    assert title == "【模拟】2026年下半年安全知识考试" and attempts > passed > 0
    assert exam == [[title, attempts, passed, f"{passed / attempts * 100:.1f}%", exam[0][4]]]


def test_the_hours_against_the_minimum_match_a_recount(app, users, demo_year):
    d = As(app, "safety_officer", users).get("/api/v1/training/hours?year=2026").get_json()
    done = dict(q("SELECT person_id, sum(hours) FROM training_records WHERE held_on BETWEEN '2026-01-01' AND "
                  "'2026-12-31' GROUP BY person_id"))
    rows = {p["person_id"]: p for p in d["people"]}
    assert set(done) <= set(rows) and len(done) >= 12
    for pid, h in done.items():
        assert rows[pid]["done"] == round(h, 1)
    # every employee has a category (the demo's four, the rest from the synthetic year): each held against the
    # yearly minimum; some meet it, some fall short by exactly what is missing
    employees = {pid for (pid,) in q("SELECT id FROM people WHERE kind='employee' AND active")}
    with_minimum = [p for p in d["people"] if p["required"]]
    assert {p["person_id"] for p in with_minimum} == employees and all(p["done"] > 0 for p in with_minimum)
    assert any(p["met"] for p in with_minimum) and any(not p["met"] for p in with_minimum)
    for p in with_minimum:
        assert p["short"] == round(max(0.0, p["required"] - done[p["person_id"]]), 1)
    assert {r[0] for r in q("SELECT category FROM training_profiles")} == {"principal", "safety_manager", "worker"}
    assert events.Event.select().where(events.Event.type == "cockpit.synthetic_history").count() == 1
