"""Emergency rules as tables (appliance/emergency/rules.py): accident grading and reporting deadlines of
国务院令第493号 (ids cite the article), the walk graph, the downwind sector, people near and the muster."""
from __future__ import annotations

import pytest

from appliance.emergency import rules as R
from appliance.emergency.rules import DAY, MIN, H, Sighting

M = 10_000  # ¥10 000 (万元)


@pytest.mark.parametrize("deaths, serious, loss, expected", [
    pytest.param(0, 0, 0, "general", id="第三条（四） nothing: still 一般"),
    pytest.param(2, 9, 1000 * M - 1, "general", id="第三条（四） 2 deaths, 9 injured, ¥9 999 999.99: 以下 excludes"),
    pytest.param(3, 0, 0, "larger", id="第三条（三） 3 deaths: 以上 includes the number"),
    pytest.param(0, 10, 0, "larger", id="第三条（三） 10 serious injuries"),
    pytest.param(0, 0, 1000 * M, "larger", id="第三条（三） ¥10 M loss exactly"),
    pytest.param(9, 49, 5000 * M - 1, "larger", id="第三条（三） upper edges of 较大"),
    pytest.param(10, 0, 0, "major", id="第三条（二） 10 deaths"),
    pytest.param(0, 50, 0, "major", id="第三条（二） 50 serious injuries (incl. 急性工业中毒)"),
    pytest.param(0, 0, 5000 * M, "major", id="第三条（二） ¥50 M"),
    pytest.param(29, 99, 10000 * M - 1, "major", id="第三条（二） upper edges of 重大"),
    pytest.param(30, 0, 0, "especially_major", id="第三条（一） 30 deaths"),
    pytest.param(0, 100, 0, "especially_major", id="第三条（一） 100 serious injuries"),
    pytest.param(0, 0, 10000 * M, "especially_major", id="第三条（一） ¥100 M"),
    pytest.param(1, 0, 10000 * M, "especially_major", id="第三条 any one criterion decides (或者)"),
])
def test_accident_grade(deaths, serious, loss, expected):
    assert R.grade(deaths, serious, loss) == expected


def test_grade_refuses_negative_counts():
    with pytest.raises(ValueError):
        R.grade(-1, 0, 0)


@pytest.mark.parametrize("grade, kind, code, after, clause", [
    pytest.param("general", "other", "scene_to_head", 0, "第九条", id="第九条 现场人员 → 单位负责人 立即"),
    pytest.param("general", "other", "head_to_authority", 1 * H, "第九条", id="第九条 单位负责人 → 县级 1 小时"),
    pytest.param("major", "leak", "head_to_authority", 1 * H, "第九条", id="第九条 1 hour whatever the grade"),
    pytest.param("general", "leak", "casualties_supplement", 30 * DAY, "第十三条", id="第十三条 补报 30 日"),
    pytest.param("general", "fire", "casualties_supplement", 7 * DAY, "第十三条", id="第十三条 火灾 补报 7 日"),
    pytest.param("larger", "other", "investigation_report", 60 * DAY, "第二十九条", id="第二十九条 调查报告 60 日"),
    pytest.param("larger", "other", "approval", 75 * DAY, "第三十二条", id="第三十二条 批复 15 日"),
    pytest.param("especially_major", "other", "approval", 90 * DAY, "第三十二条", id="第三十二条 特别重大 批复 30 日"),
])
def test_reporting_deadlines(grade, kind, code, after, clause):
    t0 = 1_700_000_000_000
    d = {x.code: x for x in R.deadlines(grade, t0, kind)}[code]
    assert d.due_at - t0 == after and d.clause == clause


@pytest.mark.parametrize("grade, authority", [
    pytest.param("general", "设区的市级", id="第十条 一般 → 设区的市级"),
    pytest.param("larger", "省级", id="第十条 较大 → 省级"),
    pytest.param("major", "国务院", id="第十条 重大 → 国务院"),
    pytest.param("especially_major", "国务院", id="第十条 特别重大 → 国务院"),
])
def test_report_climbs_to_the_authority_of_its_grade(grade, authority):
    up = {x.code: x for x in R.deadlines(grade, 0)}["authority_up"]
    assert authority in up.zh


@pytest.mark.parametrize("clause,english", [
    ("第九条", "Art. 9"), ("第十条、第十一条", "Arts. 10, 11"), ("第十三条", "Art. 13"), ("第二十九条", "Art. 29"),
    ("第三十二条", "Art. 32"), ("第二十条", "Art. 20"), ("第一百条", "第一百条"), ("附则", "附则"), ("", ""),
])
def test_clause_in_english(clause, english):
    """The accident page in English cites the decree's articles by number (it showed （第九条） before)."""
    assert R.clause_en(clause) == english


def test_every_deadline_clause_has_an_english_citation():
    for d in R.deadlines("general", 0):
        assert R.clause_en(d.clause).startswith("Art"), d


def test_deadlines_refuse_an_unknown_grade():
    with pytest.raises(ValueError):
        R.deadlines("catastrophic", 0)


# the demo plant: TANK and REACT in the north, CTRL west, WH and DOCK south, GATE south-west
EDGES = [("TANK", "CTRL", 120), ("TANK", "REACT", 100), ("TANK", "WH", 90), ("REACT", "DOCK", 90),
         ("WH", "DOCK", 100), ("WH", "GATE", 110), ("CTRL", "GATE", 150)]


@pytest.mark.parametrize("start, targets, avoid, path, metres", [
    pytest.param("TANK", {"GATE"}, set(), ["TANK", "WH", "GATE"], 200, id="shortest route"),
    pytest.param("TANK", {"GATE"}, {"WH"}, ["TANK", "CTRL", "GATE"], 270, id="avoids a downwind area"),
    pytest.param("TANK", {"GATE"}, {"TANK", "WH"}, ["TANK", "CTRL", "GATE"], 270,
                 id="the affected start itself may be left"),
    pytest.param("REACT", {"GATE", "CTRL"}, {"TANK"}, ["REACT", "DOCK", "WH", "GATE"], 300,
                 id="around the affected area to the nearest of two refuges"),
    pytest.param("GATE", {"GATE"}, set(), ["GATE"], 0, id="already at the assembly point"),
    pytest.param("TANK", {"GATE"}, {"WH", "CTRL"}, None, None, id="every way cut: no route"),
    pytest.param("TANK", {"WH"}, {"WH"}, None, None, id="an affected refuge is no refuge"),
])
def test_route_on_the_walk_graph(start, targets, avoid, path, metres):
    got = R.route(EDGES, start, targets, avoid)
    assert (got is None) if path is None else got == (path, metres)


def test_distances_and_neighbours():
    d = R.distances(EDGES, "TANK")
    assert d["GATE"] == 200 and d["DOCK"] == 190 and R.neighbours(EDGES, "TANK") == {"CTRL", "REACT", "WH"}
    assert "GATE" not in R.distances(EDGES, "TANK", avoid={"WH", "CTRL"})
    with pytest.raises(ValueError):
        R.distances([("A", "B", -1)], "A")


CENTRES = {"TANK": (630, 230), "REACT": (1260, 230), "WH": (590, 670), "DOCK": (1220, 670), "CTRL": (170, 230),
           "GATE": (170, 730)}


@pytest.mark.parametrize("wind_from, half, expected", [
    pytest.param(None, 45, set(), id="calm / unknown: none marked"),
    pytest.param(0, 45, {"WH", "GATE"}, id="north wind → south: WH 5° off, GATE 42.6° off"),
    pytest.param(0, 30, {"WH"}, id="a narrower site sector leaves the gate out"),
    pytest.param(90, 45, {"CTRL"}, id="east wind → west: the control room"),
    pytest.param(180, 45, set(), id="south wind → north: nothing there"),
    pytest.param(270, 45, {"REACT", "DOCK"}, id="west wind → east: REACT and DOCK (36.7° off)"),
    pytest.param(45, 45, {"WH", "CTRL", "GATE"}, id="NE wind → 225°: CTRL exactly 45° off is inside (edge)"),
])
def test_downwind_sector(wind_from, half, expected):
    assert R.downwind("TANK", CENTRES, wind_from, half) == expected


def test_bearing_is_compass_on_the_plan():
    assert R.bearing((0, 0), (0, -1)) == 0 and R.bearing((0, 0), (1, 0)) == 90 and R.bearing((0, 0), (0, 1)) == 180


def test_people_near_takes_each_persons_latest_sighting():
    now = 100 * MIN
    s = [Sighting(1, "TANK", now - 5 * MIN, "patrol"),
         Sighting(2, "TANK", now - 10 * MIN, "patrol"), Sighting(2, "GATE", now - 2 * MIN, "gate"),  # has left
         Sighting(3, "REACT", now - 1 * MIN, "permit"),
         Sighting(4, "TANK", now - 40 * MIN, "patrol")]                                              # too long ago
    got = R.people_near(s, {"TANK", "REACT"}, since=now - 30 * MIN)
    assert [x.person_id for x in got] == [3, 1]


def test_muster_counts_expected_present_and_names_the_missing():
    exp = {1: Sighting(1, "TANK", 10, "patrol"), 2: Sighting(2, "TANK", 20, "patrol"),
           3: Sighting(3, "WH", 30, "gate")}
    roll = R.muster(exp, {1: 100, 9: 101})
    assert roll["expected"] == 3 and roll["present"] == 2 and [m.person_id for m in roll["missing"]] == [2, 3]
    assert roll["extra"] == [9] and roll["per_area"]["TANK"] == {"expected": 2, "present": 1}
    assert not roll["all_accounted"]
    everyone = R.muster(exp, {1: 1, 2: 2, 3: 3})
    assert everyone["all_accounted"] and everyone["present"] == 3 and everyone["missing"] == []
    assert R.muster({}, {})["all_accounted"]


def test_resources_ranked_by_walk_distance_and_state():
    now = 1000 * DAY
    dist = R.distances(EDGES, "TANK")
    res = [R.Resource(1, "breathing_apparatus", "GATE", 2),
           R.Resource(2, "breathing_apparatus", "CTRL", 4),
           R.Resource(3, "breathing_apparatus", "TANK", 0),                         # none left
           R.Resource(4, "breathing_apparatus", "WH", 1, expires_on_ms=now - 1),    # expired
           R.Resource(5, "gas_detector", "REACT", 3, next_inspection_ms=now + DAY),  # due soon: still usable
           R.Resource(6, "eyewash", "ISLAND", 1)]                                    # unreachable
    got = R.rank_resources(res, dist, R.NEEDED["toxic"], now)
    assert [(r.id, m) for r, m in got] == [(2, 120), (1, 200), (5, 100)]
    assert R.resource_state(res[4], now) == "warn" and R.resource_state(res[3], now) == "expired"
    assert R.resource_state(R.Resource(7, "eyewash", "WH", 1, next_inspection_ms=now), now) == "overdue"


# days before the date, already warned → thresholds due now (30/7/0, most urgent last; missed ones come late)
@pytest.mark.parametrize("left, sent, due", [
    (45, (), []),
    (31, (), []),
    (30, (), [30]),
    (29, (30,), []),
    (8, (30,), []),
    (7, (30,), [7]),
    (5, (), [30, 7]),            # the box was off at day 30: late, not skipped
    (1, (30, 7), []),
    (0, (30, 7), [0]),
    (0, (), [30, 7, 0]),
    (-3, (30, 7), [0]),          # past the date: the day's warning still comes, once
    (-3, (30, 7, 0), []),
])
def test_resource_warnings_once_per_threshold(left, sent, due):
    from datetime import date, timedelta

    today = date(2026, 3, 10)
    assert R.resource_warnings(today + timedelta(days=left), today, sent) == due



S30 = R.WIND_SUSTAIN_S * 1000


@pytest.mark.parametrize("applied, reading, since, now, expected", [
    pytest.param(350, None, None, 0, ("fault", None), id="no reading (fault): keep the plan, wind shown unknown"),
    pytest.param(350, None, 5, 10, ("fault", None), id="a fault forgets a pending change"),
    pytest.param(None, 90, None, 0, ("apply", None), id="wind was unknown: the first reading applies at once"),
    pytest.param(350, 350, None, 0, ("keep", None), id="same wind"),
    pytest.param(350, 12.5, None, 0, ("keep", None), id="22.5° across north is the same compass point"),
    pytest.param(350, 12.6, None, 7, ("wait", 7), id="just past 22.5° across north: the wait starts"),
    pytest.param(90, 112.5, None, 0, ("keep", None), id="exactly 22.5°: not a change"),
    pytest.param(90, 200, 1000, 1000 + S30 - 1, ("wait", 1000), id="not held long enough: a gust"),
    pytest.param(90, 200, 1000, 1000 + S30, ("apply", None), id="held for the sustain time: redraw"),
    pytest.param(90, 95, 1000, 1000 + S30, ("keep", None), id="came back before: the wait is over, nothing redrawn"),
])
def test_wind_follow(applied, reading, since, now, expected):
    assert R.wind_follow(applied, reading, since, now) == expected


@pytest.mark.parametrize("a, b, delta", [(0, 0, 0), (350, 10, 20), (10, 350, 20), (90, 270, 180), (0, 359.5, 0.5)])
def test_wind_delta(a, b, delta):
    assert R.wind_delta(a, b) == pytest.approx(delta)
