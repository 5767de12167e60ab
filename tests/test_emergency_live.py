"""Emergency, followed live: the wind of an open incident follows the weather point (a sustained change beyond
22.5° redraws the downwind areas and the route and records an event; a gust does not; a wind typed by a
person is kept until a person changes it; a fault shows the wind unknown with its last value and age), the
resource-warning inbox, and the master-data screens' server side."""
from __future__ import annotations

from types import SimpleNamespace

import pytest

from appliance.core import events
from appliance.emergency import incidents as I
from appliance.emergency import wind as W
from test_emergency import alarm, plant  # noqa: F401  (the fixture)

S = 1000


@pytest.fixture
def weather():
    """A weather point the test turns (its view as the gas domain gives it)."""
    from appliance.emergency import wind_reader

    point = SimpleNamespace(value=350.0, state="normal")
    point.view = lambda: {"state": point.state, "value": point.value}
    I.configure_wind(wind_reader(SimpleNamespace(sensors=SimpleNamespace(points={"WD-1": point})), "WD-1"))
    W._since.clear()
    W._fault.clear()
    try:
        yield point
    finally:
        I.configure_wind(None)
        W._since.clear()
        W._fault.clear()


def updates(after: int) -> list:
    return [e for e in events.read_after(after, 5000) if e.type == "emergency.incident_updated"]


def test_a_sustained_wind_change_redraws_the_incident_and_a_gust_does_not(plant, weather):  # noqa: F811
    c, *_ = plant
    I.subscriber(alarm())
    iid = c["kiosk"].get("/api/v1/emergency/incidents?state=open").get_json()["incidents"][0]["id"]
    inc = c["kiosk"].get(f"/api/v1/emergency/incidents/{iid}").get_json()
    assert (inc["wind_from"], inc["wind_source"], inc["downwind"]) == (350.0, "sensor", ["DOCK", "WH"])
    assert inc["wind_point"]["state"] == "ok"
    head = events.head_seq()
    t0 = events.now_ms()
    assert W.follow(t0) == []                                   # same wind
    weather.value = 90.0                                        # the wind turns east…
    assert W.follow(t0 + 1 * S) == [] and W.follow(t0 + 20 * S) == []      # …not yet held long enough
    weather.value = 355.0                                       # a gust: back before the sustain time
    assert W.follow(t0 + 25 * S) == []
    weather.value = 90.0
    assert W.follow(t0 + 30 * S) == [] and W.follow(t0 + 59 * S) == []     # the wait started afresh at 30 s
    assert updates(head) == []                                  # nothing redrawn, nothing recorded
    assert W.follow(t0 + 60 * S) == [(iid, "apply")]
    inc = c["kiosk"].get(f"/api/v1/emergency/incidents/{iid}").get_json()
    assert (inc["wind_from"], inc["downwind"], inc["route"]["areas"]) == (90.0, ["CTRL"], ["TANK", "WH", "GATE"])
    [ev] = updates(head)
    assert ev.payload["change"] == "wind" and ev.payload["wind_before"] == 350.0 and ev.payload["wind_source"] == "sensor"
    assert ev.actor == W.ACTOR and ev.payload["downwind"] == ["CTRL"]
    assert W.follow(t0 + 120 * S) == []                         # once
    board = c["kiosk"].get("/kiosk/emergency/incident").get_data(as_text=True)
    assert "风向 90°" in board and "气象点实时" in board
    # a person types a wind: kept, whatever the point says
    inc = c["supervisor"].post(f"/api/v1/emergency/incidents/{iid}/wind", json={"wind_from": 350}).get_json()
    assert (inc["wind_from"], inc["wind_source"]) == (350.0, "manual")
    assert W.follow(t0 + 200 * S) == [] and W.follow(t0 + 300 * S) == []
    assert c["kiosk"].get(f"/api/v1/emergency/incidents/{iid}").get_json()["wind_from"] == 350.0
    page = c["supervisor"].get(f"/tablet/emergency/incidents/{iid}").get_data(as_text=True)
    assert "人工输入" in page and "改为跟随气象点" in page
    # …until a person hands it back to the weather point
    inc = c["supervisor"].post(f"/api/v1/emergency/incidents/{iid}/wind", json={"follow": True}).get_json()
    assert (inc["wind_from"], inc["wind_source"], inc["downwind"]) == (90.0, "sensor", ["CTRL"])
    assert "改为跟随气象点" not in c["supervisor"].get(f"/tablet/emergency/incidents/{iid}").get_data(as_text=True)


def test_a_weather_point_fault_shows_the_wind_unknown_with_its_last_value_and_keeps_the_plan(plant, weather):  # noqa: F811
    c, *_ = plant
    I.subscriber(alarm())
    iid = c["kiosk"].get("/api/v1/emergency/incidents?state=open").get_json()["incidents"][0]["id"]
    head = events.head_seq()
    t0 = events.now_ms()
    weather.state = "fault"
    assert W.follow(t0) == [(iid, "fault")] and W.follow(t0 + 5 * S) == []      # announced once
    inc = c["kiosk"].get(f"/api/v1/emergency/incidents/{iid}").get_json()
    assert inc["wind_point"]["state"] == "fault" and inc["wind_point"]["value"] == 350.0
    assert inc["wind_point"]["age_s"] >= 0
    assert inc["downwind"] == ["DOCK", "WH"] and inc["wind_from"] == 350.0    # the plan drawn for it is kept
    board = c["kiosk"].get("/kiosk/emergency/incident").get_data(as_text=True)
    assert "风向未知（气象点故障）" in board and "最后读数 350°" in board and "分钟前" in board
    en = c["kiosk"].get("/kiosk/emergency/incident?lang=en").get_data(as_text=True)
    assert "Wind unknown (weather point fault)" in en and "last reading 350°" in en
    weather.state, weather.value = "normal", 352.0
    assert W.follow(t0 + 10 * S) == [(iid, "ok")]
    assert [e.payload["wind_point"] for e in updates(head)] == ["fault", "ok"]
    assert "气象点实时" in c["kiosk"].get("/kiosk/emergency/incident").get_data(as_text=True)


def test_a_typed_wind_is_never_followed_and_no_point_means_no_follower(plant, weather):  # noqa: F811
    c, *_ = plant
    typed = c["worker"].post("/api/v1/emergency/incidents", json={"area": "DOCK", "wind_from": 90}).get_json()
    assert typed["wind_source"] == "manual"
    weather.value = 200.0
    t0 = events.now_ms()
    assert W.follow(t0) == [] and W.follow(t0 + 120 * S) == []
    assert c["kiosk"].get(f"/api/v1/emergency/incidents/{typed['id']}").get_json()["wind_from"] == 90
    I.configure_wind(None)
    assert W.follow(t0 + 240 * S) == []
    r = c["supervisor"].post(f"/api/v1/emergency/incidents/{typed['id']}/wind", json={"follow": True})
    assert r.status_code == 422 and r.get_json()["error"]["details"][0]["key"] == "follow"


# ---------------------------------------------------------------- the resource-warning inbox

def test_the_warning_inbox_lists_acknowledges_and_resolves_with_the_new_date(plant):  # noqa: F811
    from datetime import datetime, timedelta
    from zoneinfo import ZoneInfo

    from appliance.emergency import setup as S
    from appliance.emergency import upkeep

    c, *_ = plant
    today = datetime.fromtimestamp(events.now_ms() / 1000, ZoneInfo("Asia/Shanghai")).date()
    got = c["supervisor"].get("/api/v1/emergency/resource-warnings").get_json()
    cs = [w for w in got["warnings"] if w["resource"] == "CS-01"]              # the demo's expired suit
    assert cs and cs[0]["what"] == "expiry" and cs[0]["state"] == "overdue" and cs[0]["area_name"] == "中控室"
    assert cs[0]["location"] == "中控室微型消防站" and cs[0]["acked"] is None
    assert got["counts"]["open"] == len(got["warnings"]) and got["counts"]["overdue"] >= 1
    for r in S.resources():                                                    # a known set from here on
        S.Resource.update(active=False).where(S.Resource.id == r.id).execute()
    S.save_resource(S.ResourceIn(code="BA-9", kind="breathing_apparatus", name="空呼", area="TANK", location="罐区东",
                                 quantity=2, expires_on=today + timedelta(days=400),
                                 next_inspection=today + timedelta(days=5)), actor="system:test")
    page = c["supervisor"].get("/tablet/emergency/warnings").get_data(as_text=True)
    assert 'data-resource="BA-9" data-what="inspection"' in page and "还有 5 天" in page and "罐区东" in page
    assert "em-ack" in page and "em-resolve" not in page                     # a supervisor acknowledges, no more
    due = (today + timedelta(days=5)).isoformat()
    ack = {"resource": "BA-9", "what": "inspection", "due_on": due}
    assert c["worker"].post("/api/v1/emergency/resource-warnings/ack", json=ack).status_code == 403
    w = c["supervisor"].post("/api/v1/emergency/resource-warnings/ack", json=ack).get_json()["warnings"]
    assert w[0]["acked"]["by"].endswith("supervisor") or w[0]["acked"]["by"]
    assert c["supervisor"].post("/api/v1/emergency/resource-warnings/ack", json=ack).status_code == 409   # once
    stale = {**ack, "due_on": (today + timedelta(days=6)).isoformat()}
    assert c["supervisor"].post("/api/v1/emergency/resource-warnings/ack", json=stale).status_code == 409
    board = c["kiosk"].get("/kiosk/emergency/upkeep").get_data(as_text=True)
    assert 'data-count="open"><span>待处理</span><b>0</b>' in board and 'data-count="overdue"' in board
    # resolve: inspected today, next in a year; a past or missing date names its field
    r = c["safety_officer"].post("/api/v1/emergency/resource-warnings/resolve",
                                 json={"resource": "BA-9", "what": "inspection", "next_date": today.isoformat()})
    assert r.status_code == 422 and r.get_json()["error"]["details"][0]["key"] == "next_date"
    r = c["safety_officer"].post("/api/v1/emergency/resource-warnings/resolve",
                                 json={"resource": "BA-9", "what": "inspection"})
    assert r.status_code == 422 and r.get_json()["error"]["details"][0]["key"] == "next_date"
    nxt = (today + timedelta(days=365)).isoformat()
    got = c["safety_officer"].post("/api/v1/emergency/resource-warnings/resolve",
                                   json={"resource": "BA-9", "what": "inspection", "next_date": nxt}).get_json()
    assert got["warnings"] == []
    res = [x for x in c["kiosk"].get("/api/v1/emergency/resources").get_json()["resources"] if x["code"] == "BA-9"][0]
    assert (res["inspected_on"], res["next_inspection"]) == (today.isoformat(), nxt)
    assert [e.payload["next_date"] for e in events.read_after(0, 5000) if e.type == upkeep.UPKEPT] == [nxt]
    assert upkeep.scan() == 0                                                  # the new date is far: nothing warned
    empty = c["safety_officer"].get("/tablet/emergency/warnings").get_data(as_text=True)
    assert 'id="em-warnings-empty"' in empty and "没有待处理的物资预警" in empty and "/tablet/emergency/setup" in empty
    assert c["kiosk"].get("/kiosk/emergency/upkeep").get_data(as_text=True).strip() == ""   # nothing open: no panel
    en = c["safety_officer"].get("/tablet/emergency/warnings?lang=en").get_data(as_text=True)
    assert "No resource warnings" in en


# ---------------------------------------------------------------- master data: retire, pages

def test_retired_master_data_is_no_longer_offered_and_a_save_brings_it_back(plant):  # noqa: F811
    c, *_ = plant
    so = c["safety_officer"]
    team = so.get("/api/v1/emergency/teams").get_json()["teams"][0]
    assert c["supervisor"].post(f"/api/v1/emergency/teams/{team['id']}/retire").status_code == 403
    assert so.post(f"/api/v1/emergency/teams/{team['id']}/retire").get_json()["retired"] is True
    assert so.post(f"/api/v1/emergency/teams/{team['id']}/retire").status_code == 404       # once
    assert so.get("/api/v1/emergency/teams").get_json()["teams"] == []
    assert so.post("/api/v1/emergency/plans/P-LEAK/retire").status_code == 200
    plans = so.get("/api/v1/emergency/plans").get_json()["plans"]
    assert "P-LEAK" not in [p["code"] for p in plans]
    assert so.post("/api/v1/emergency/resources/BA-01/retire").status_code == 200
    assert so.post("/api/v1/emergency/assembly-points/AP-GATE/retire").status_code == 200
    I.subscriber(alarm())
    inc = so.get("/api/v1/emergency/incidents?state=open").get_json()["incidents"][0]
    full = so.get(f"/api/v1/emergency/incidents/{inc['id']}").get_json()
    assert full["plan"] is None and full["teams"] == [] and full["route"] is None            # none offered
    assert "BA-01" not in [r["code"] for r in full["resources"]]
    types = [e.type for e in events.read_after(0, 5000)]
    assert {"emergency.team_retired", "emergency.plan_retired", "emergency.resource_retired",
            "emergency.point_retired"} <= set(types)
    # saved again under its key: back in use
    r = so.post("/api/v1/emergency/teams", json={**{k: team[k] for k in ("name", "kind", "area", "on_duty")},
                                                   "members": [{k: m[k] for k in ("person_id", "role", "phone")}
                                                               for m in team["members"]]})
    assert r.status_code == 201 and so.get("/api/v1/emergency/teams").get_json()["teams"][0]["active"] is True


@pytest.mark.parametrize("lang", ["zh-CN", "en"])
def test_the_setup_page_lists_everything_and_empty_sections_say_what_to_do(plant, lang):  # noqa: F811
    c, *_ = plant
    so = c["safety_officer"]
    page = so.get(f"/tablet/emergency/setup?lang={lang}").get_data(as_text=True)
    for rid in ('id="res-form"', 'id="team-form"', 'id="plan-form"', 'id="point-form"', 'id="graph-form"',
                'data-code="BA-01"', 'data-code="P-LEAK"', 'data-code="AP-GATE"', 'id="em-graph"',
                'class="em-g-edge"', "data-confirm="):
        assert rid in page, rid
    assert "window.confirm" not in page and "em-setup-empty" not in page
    assert c["supervisor"].get("/tablet/emergency/setup").status_code in (302, 403)
    from appliance.emergency import setup as S

    for r in S.resources():
        S.retire("resource", r.code, actor="system:test")
    S.set_graph(S.GraphIn(edges=[]), actor="system:test")
    page = so.get(f"/tablet/emergency/setup?lang={lang}").get_data(as_text=True)
    if lang == "en":
        assert "No emergency resources yet: add the first one" in page and "The walk graph is empty" in page
    else:
        assert "还没有应急物资：用下面的表单新增第一件" in page and "疏散通道图还是空的" in page
