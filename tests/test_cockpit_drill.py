"""The cockpit's drill-down (/cockpit/drill/<tile>): for every tile, on records seeded in every domain it
reads, the rows listed are exactly those the tile counted (a count tile: as many rows as its value; a rate
tile: marked ÷ rows = its value; an exposure rate: the numerator's records), the window is the tile's, a bad
window is a 422 naming the field, and a large window is paged."""
from __future__ import annotations

import datetime as dt
import json
import re

import pytest

from appliance.cockpit import rules as R
from appliance.core import events
from conftest import As
from test_cockpit_api import accident, hazard, plant  # noqa: F401  (plant is a fixture)

DAY = 86_400_000
MIN = 60_000


@pytest.fixture
def seeded(app, plant):  # noqa: F811
    """A week's records of every kind the cockpit counts, and some just outside it."""
    from appliance.contractors.models import Firm, GateEntry
    from appliance.core import people as P
    from appliance.gas.sensors import Alarm
    from appliance.patrol.models import Checkpoint, Plan, Round, Route
    from appliance.risk.tasks import ControlTask
    from appliance.training.certificates import Certificate
    from appliance.vision.violations import Violation

    now = events.now_ms()
    a, b = plant["TANK"], plant["REACT"]
    hazard(a, now - 2 * DAY)                                       # open, not yet due
    hazard(a, now - 6 * DAY, deadline_days=1)                      # overdue
    hazard(b, now - 5 * DAY, closed_at=now - 4 * DAY)              # closed on time
    hazard(b, now - 6 * DAY, closed_at=now - 3 * DAY, deadline_days=1)   # closed late
    hazard(a, now - 3 * DAY, grade="major", deadline_days=30)      # major
    hazard(a, now - 9 * DAY)                                       # the week before: not in the tiles
    from appliance.hazards.service import Hazard
    Hazard.update(recurrence_of=1).where(Hazard.reported_at == now - 2 * DAY).execute()
    for status, end in (("done", now - DAY), ("done", now - 2 * DAY), ("missed", now - 3 * DAY), ("open", now - 4 * DAY),
                        ("missed", now - 8 * DAY)):
        ControlTask.create(measure_id=plant["measure"], period_start=end - DAY, period_end=end, department="生产部",
                           assignee="王芳", status=status, note="")
    route = Route.create(code="R1", name="罐区巡检线", name_en="Tank route", active=True, created_at=now, updated_at=now)
    cps = [Checkpoint.create(code=f"CP{i}", name=n, name_en=n, area_id=a, checklist="[]", tag_uid=f"04AA00{i:08X}",
                             active=True, created_at=now, updated_at=now).id for i, n in enumerate(("罐顶平台", "泵房"))]
    plan_ = Plan.create(name="罐区白班巡检", route_id=route.id, shift="day", schedule="{}", grace_min=0, people="[]",
                        departments="[]", streak_limit=3, active=True, created_at=now, updated_at=now)
    for i, (status, missed) in enumerate((("completed", []), ("late", []), ("incomplete", [cps[1]]), ("missed", cps))):
        end = now - (i + 1) * DAY
        Round.create(plan_id=plan_.id, route_id=route.id, due_start=end - 7_200_000, due_end=end, grace_ms=0, status=status,
                     verdict=json.dumps({"status": status, "missed": missed}), suspicious=False, closed=True, updated_at=now)
    # alarms: GT-201 chatters (3 raises in 40 s), GT-101 once, one still active, one of last week
    t0 = now - 2 * DAY
    for point, at, cleared in (("GT-201", t0, t0 + 5000), ("GT-201", t0 + 20_000, t0 + 25_000),
                               ("GT-201", t0 + 40_000, t0 + 45_000), ("GT-101", now - 4 * DAY, now - 4 * DAY + MIN),
                               ("GT-102", now - 30 * MIN, None), ("GT-101", now - 9 * DAY, now - 9 * DAY + MIN)):
        Alarm.create(point=point, kind="gas", level=1, raised_at=at, cleared_at=cleared)
    for state, at in (("confirmed", now - DAY), ("confirmed", now - 2 * DAY), ("rejected", now - DAY),
                      ("confirmed", now - 10 * DAY)):
        Violation.create(camera="cam1", zone="卸车区", area="TANK", track=1, occurred_at=at, score=0.9, box="[]",
                         width=1, height=1, snapshot="x", frame="y", state=state)
    accident("TANK", now - 3 * DAY, serious=1, minor=1)
    accident("REACT", now - 2 * DAY)                               # no one hurt: an accident, not in the rate
    for e in range(4):
        P.create_person(P.PersonIn(employee_no=f"E{e}", name=f"员工{e}"), actor="t")
    for interlock, at in ((False, now - DAY), (True, now - 2 * DAY), (True, now - 8 * DAY)):
        with events.recording("system:interlock" if interlock else "user:t") as rec:
            rec.emit("permit.suspended", entity=("permit", 7), occurred_at=at,
                     payload={"id": 7, "no": "DH-7", "type": "hot_work", "area": "TANK", "location": "T-1",
                              "suspended_reason": "可燃气体超标", "interlock": interlock})
    firm = Firm.create(name="江东建设", credit_code="91320000000000000X", contact="吴", phone="1", blacklisted=False,
                       created_at=now, updated_at=now)
    for decision, at in (("refused", now - DAY), ("allowed", now - DAY), ("refused", now - 2 * DAY), ("exit", now - DAY),
                         ("refused", now - 8 * DAY)):
        GateEntry.create(at=at, reader="gate-1", direction="in", firm_id=firm.id, uid_tail="AB12", decision=decision,
                         reason="证书过期" if decision == "refused" else "", reasons="[]", recorded_at=at)
    person = P.Person.get(P.Person.employee_no == "E0").id
    today = dt.date.today()
    for number, days in (("W-1", 10), ("W-2", 200)):
        Certificate.create(person_id=person, kind="WELD-FUSION", number=number, issuer="应急管理局", issued_on="2022-01-01",
                           expires_on=(today + dt.timedelta(days=days)).isoformat(), review_due_on=None, photo=None,
                           revoked=False, note="", created_at=now, updated_at=now)
    return now


def rows_of(html: str) -> int:
    return len(re.findall(r'<tr data-row="', html))


def test_every_tile_lists_exactly_the_records_it_counted(app, users, seeded):
    c = As(app, "supervisor", users)
    d = c.get("/api/v1/cockpit?days=7").get_json()
    k = {x["key"]: x for x in d["kpis"]}
    assert set(k) == {x.key for x in R.KPIS}
    seen = {}
    for key, tile in k.items():
        assert tile["drill"] == f"/cockpit/drill/{key}?since={d['since']}&until={d['until']}"
        r = c.get(tile["drill"])
        assert r.status_code == 200, (key, r.get_data(as_text=True)[:300])
        html = r.get_data(as_text=True)
        n = rows_of(html)
        seen[key] = n
        assert f'data-rows="{n}"' in html, key
        unit, value = tile["unit"], tile["value"]
        if unit == "count":
            assert n == value, (key, n, value)
        elif unit == "rate":
            counted = int(re.search(r'data-counted="(\d+)"', html).group(1))
            assert html.count('class="counted"') == counted
            assert round(counted / n, 3) == value, (key, counted, n, value)
    # the exposure rates: their numerators' records
    assert seen["violation_rate"] == d["counts"]["violations"] == 2
    assert seen["alarms_per_10_min"] == d["counts"]["alarms"] == 5
    assert seen["accident_rate"] == 1 and d["counts"]["injured"] == 2
    # the figures the seed was built for (so the equalities above are not 0 == 0)
    assert {key: seen[key] for key in ("overdue", "recurrences", "major_found", "tasks_missed", "missed_checkpoints",
                                        "standing_alarms", "chattering_points", "accidents",
                                        "permit_suspensions", "interlock_suspensions", "gate_refused",
                                        "certs_expiring")} == {
        "overdue": 1, "recurrences": 1, "major_found": 1, "tasks_missed": 1, "missed_checkpoints": 3,
        "standing_alarms": 1, "chattering_points": 1, "accidents": 2,
        "permit_suspensions": 2, "interlock_suspensions": 1, "gate_refused": 2, "certs_expiring": 1}
    # the chatterer's 3 raises within 40 s: one 10-minute slot, or two where a slot boundary (which moves
    # with the request's now) falls between them — the tile and its rows agree either way (above)
    assert seen["alarm_peak_10_min"] in (2, 3)
    assert (seen["rectification_rate"], seen["on_time_rate"], seen["task_rate"], seen["patrol_rate"]) == (5, 2, 4, 4)


def test_rows_say_when_what_where_and_link_to_their_record(app, users, seeded):
    c = As(app, "supervisor", users)
    d = c.get("/api/v1/cockpit?days=7").get_json()
    k = {x["key"]: x for x in d["kpis"]}
    html = c.get(k["accidents"]["drill"]).get_data(as_text=True)
    assert "测试事故" in html and "储罐区" in html and re.search(r'href="/tablet/emergency/accidents/\d+"', html)
    html = c.get(k["interlock_suspensions"]["drill"]).get_data(as_text=True)
    assert "DH-7" in html and 'href="/tablet/permits/7"' in html and "气体联锁" in html
    html = c.get(k["overdue"]["drill"]).get_data(as_text=True)
    m = re.search(r'href="(/tablet/hazards\?since=\d+&amp;until=\d+)"', html)
    assert m and "储罐区" in html and "电气 · 测试隐患" in html
    # the hazard's own link shows that hazard
    assert c.get(m.group(1).replace("&amp;", "&")).status_code == 200
    html = c.get(k["missed_checkpoints"]["drill"]).get_data(as_text=True)
    assert "泵房" in html and "罐区巡检线" in html
    html = c.get(k["gate_refused"]["drill"]).get_data(as_text=True)
    assert "证书过期" in html and "江东建设" in html and "gate-1" in html
    html = c.get(k["certs_expiring"]["drill"] + "&lang=en").get_data(as_text=True)
    assert "W-1" in html and "W-2" not in html and "days left" in html
    html = c.get(k["chattering_points"]["drill"]).get_data(as_text=True)
    assert "GT-201" in html and "窗口内报警 3 次" in html


@pytest.mark.parametrize("query,field", [
    ("since=yesterday", "since"), ("until=x", "until"), ("since=-5", "since"),
    ("since=2000&until=1000", "until"), ("since=1000&until=1000", "until"),
    (f"since=0&until={367 * DAY}", "since"),
])
def test_a_bad_window_is_a_422_naming_the_field(app, users, query, field):
    r = As(app, "supervisor", users).get(f"/cockpit/drill/overdue?{query}", headers={"Accept": "application/json"})
    assert r.status_code == 422, query
    err = r.get_json()["error"]
    assert err["details"][0]["key"] == field and err["messages"]["en"] and err["messages"]["zh-CN"], (query, err)


def test_an_unknown_tile_is_404_and_the_worker_and_kiosk_may_read(app, users, seeded):
    assert As(app, "supervisor", users).get("/cockpit/drill/nonsense").status_code == 404
    assert As(app, "kiosk", users).get("/cockpit/drill/overdue").status_code == 200


def test_a_large_window_is_paged(app, users, plant):  # noqa: F811
    from appliance.gas.sensors import Alarm

    now = events.now_ms()
    for i in range(120):
        Alarm.create(point="GT-101", kind="gas", level=1, raised_at=now - DAY - i * 20 * MIN, cleared_at=now - DAY)
    c = As(app, "supervisor", users)
    url = f"/cockpit/drill/alarms_per_10_min?since={now - 7 * DAY}&until={now}"
    first = c.get(url).get_data(as_text=True)
    assert rows_of(first) == 50 and 'data-rows="120"' in first and "第 1 / 3 页" in first and 'id="next"' in first
    last = c.get(url + "&page=3&lang=en").get_data(as_text=True)
    assert rows_of(last) == 20 and "Page 3 of 3" in last and 'id="prev"' in last
    assert c.get(url + "&page=4").status_code == 422
