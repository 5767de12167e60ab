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
