"""Emergency management through the service and the API: a level-2 alarm event opens the incident draft (people
near from patrol, gate and permit taps; the permits there; nearest resources; a route avoiding the affected
and downwind areas), the contract of GET /emergency/incidents?state=open and GET /emergency/muster, muster by
a tap at the assembly-point reader, drills that write no alarm record, accidents graded by 493号令 with
investigation and corrective hazards."""
from __future__ import annotations

import re

import pytest

from appliance.core import events
from appliance.core import people as P
from appliance.core.events import Committed
from appliance.emergency import incidents as I

AREAS = [("TANK", "储罐区", "tank_farm", [[360, 40], [900, 40], [900, 420], [360, 420]]),
         ("REACT", "反应车间", "process", [[960, 40], [1560, 40], [1560, 420], [960, 420]]),
         ("WH", "仓库", "warehouse", [[360, 480], [820, 480], [820, 860], [360, 860]]),
         ("DOCK", "装卸站台", "loading", [[880, 480], [1560, 480], [1560, 860], [880, 860]]),
         ("CTRL", "中控室", "control", [[40, 40], [300, 40], [300, 420], [40, 420]]),
         ("GATE", "大门", "gate", [[40, 600], [300, 600], [300, 860], [40, 860]])]
PEOPLE = [("E1001", "张伟", "04A1B2C3D4E5F6"), ("E1003", "李强", "04A1B2C3D4E5F8"), ("E1004", "刘洋", "04A1B2C3D4E5F9"),
          ("E1005", "陈静", "04A1B2C3D4E5FA"), ("E1008", "黄勇", "04A1B2C3D4E5FD")]


@pytest.fixture
def plant(app, users, as_role):
    from appliance.emergency.seed import seed_demo
    from appliance.patrol import plans

    actor = "system:test"
    ids = {}
    for code, name, kind, poly in AREAS:
        ids[code] = P.create_area(P.AreaIn(code=code, name=name, kind=kind, polygon=poly), actor=actor).id
    people = {}
    for no, name, uid in PEOPLE:
        p = P.create_person(P.PersonIn(employee_no=no, name=name), actor=actor)
        P.issue_badge(P.BadgeIn(uid=uid, person_id=p.id), actor=actor)
        people[name] = p.id
    for code, area in (("CP-TANK", "TANK"), ("CP-WH", "WH")):
        plans.create_checkpoint(plans.CheckpointIn(code=code, name=code, area_id=ids[area], reader=code), actor=actor)
    assert seed_demo(actor) and not seed_demo(actor)   # once
    c = {r: as_role(r) for r in ("admin", "safety_officer", "supervisor", "worker", "kiosk")}
    return c, ids, people


def tap(reader: str, uid: str, at: int | None = None) -> Committed:
    from appliance.patrol import taps

    payload = taps.record_tap(reader, uid, at or events.now_ms())
    return Committed(seq=1, id="t", type="patrol.tap", occurred_at=at or events.now_ms(), recorded_at=events.now_ms(),
                     actor="device", entity_type="tap", entity_id="1", payload=payload, hash="")


def alarm(area="TANK", level=2, point="GT-101", **kw) -> Committed:
    payload = {"point": point, "name": "储罐区甲烷", "gas": "CH4", "unit": "%LEL", "area": area, "value": 55.0,
               "level": level, "alarm_id": 7, "over_range": False, "shelved": False, **kw}
    return Committed(seq=1, id="a", type="alarm.raised", occurred_at=events.now_ms(), recorded_at=events.now_ms(),
                     actor="system", entity_type="alarm", entity_id="7", payload=payload, hash="")


def test_level_2_alarm_opens_the_draft_with_people_permits_resources_and_route(plant):
    c, ids, people = plant
    from appliance.permits.service import Permit

    now = events.now_ms()
    I.subscriber(tap("CP-TANK", "04A1B2C3D4E5F9", now - 5 * 60_000))    # 刘洋 the inspector at the tank farm
    I.subscriber(tap("CP-WH", "04A1B2C3D4E5F8", now - 50 * 60_000))     # 李强, too long ago to be "near"
    Permit.create(no="HW-1", type="hot_work", grade="2", area_id=ids["TANK"], location="T-102", content="焊接",
                  state="suspended", valid_from=now, valid_to=now + 3_600_000, applicant="u", workers="[]",
                  guardian_id=people["张伟"], issuer_id=people["陈静"], measures="{}", jsa="", approval_level="workshop",
                  suspended_reason="interlock: level 2", created_at=now, updated_at=now)
    assert I.subscriber(alarm(level=1)) is None and not I.open_incidents()        # level 1: no incident
    I.subscriber(alarm())
    r = c["kiosk"].get("/api/v1/emergency/incidents?state=open")
    assert r.status_code == 200
    [inc] = r.get_json()["incidents"]
    assert {"id", "kind", "area", "opened_at", "people_near", "resources"} <= set(inc)
    assert inc["kind"] == "leak" and inc["area"] == "TANK" and inc["detectors"][0]["point"] == "GT-101"
    assert [(p["person"], p["area"]) for p in inc["people_near"]] == [("刘洋", "TANK")]
    assert {"person", "area", "last_seen_at"} <= set(inc["people_near"][0])
    assert inc["permits"][0]["no"] == "HW-1" and inc["permits"][0]["state"] == "suspended"
    ba = [x for x in inc["resources"] if x["kind"] == "breathing_apparatus"]
    assert [(x["code"], x["metres"]) for x in ba] == [("BA-01", 120), ("BA-02", 190)]
    assert "CS-01" not in {x["code"] for x in inc["resources"]}                     # expired: not offered
    assert inc["route"]["areas"] == ["TANK", "WH", "GATE"] and inc["route"]["assembly_point"]["code"] == "AP-GATE"
    assert inc["teams"][0]["name"] == "兼职应急救援队" and inc["teams"][0]["members"][0]["phone"]
    assert inc["steps"][0]["code"] == "confirm" and inc["muster"]["expected"] == 2
    # a second detector in the same area joins the open incident; a stale repeat adds nothing
    I.subscriber(alarm(point="GT-102", gas="H2S"))
    I.subscriber(alarm(point="GT-102", gas="H2S"))
    [inc] = c["kiosk"].get("/api/v1/emergency/incidents?state=open").get_json()["incidents"]
    assert [d["point"] for d in inc["detectors"]] == ["GT-101", "GT-102"]
    types = [e.type for e in events.read_after(0, 5000)]
    assert types.count("emergency.incident_opened") == 1 and types.count("emergency.incident_updated") == 1


def test_north_wind_marks_the_warehouse_downwind_and_the_route_goes_round(plant):
    c, *_ = plant
    r = c["worker"].post("/api/v1/emergency/incidents", json={"kind": "leak", "area": "TANK"})
    assert r.status_code == 201, r.get_data(as_text=True)
    iid = r.get_json()["id"]
    assert r.get_json()["route"]["areas"] == ["TANK", "WH", "GATE"]
    assert c["worker"].post(f"/api/v1/emergency/incidents/{iid}/wind", json={"wind_from": 0}).status_code == 403
    r = c["supervisor"].post(f"/api/v1/emergency/incidents/{iid}/wind", json={"wind_from": 0})
    inc = r.get_json()
    # a north wind: WH and GATE lie downwind, so the gate's assembly point is no refuge: no route at all
    assert set(inc["downwind"]) == {"WH", "GATE"} and inc["route"] is None
    inc = c["supervisor"].post(f"/api/v1/emergency/incidents/{iid}/wind", json={"wind_from": 90}).get_json()
    assert inc["downwind"] == ["CTRL"] and inc["route"]["areas"] == ["TANK", "WH", "GATE"]
    inc = c["supervisor"].post(f"/api/v1/emergency/incidents/{iid}/wind", json={"wind_from": 350}).get_json()
    assert inc["downwind"] == ["DOCK", "WH"] and inc["route"]["areas"] == ["TANK", "CTRL", "GATE"]


def test_wind_from_the_weather_point_when_none_was_typed(plant):
    """[emergency] wind_point: the draft of an alarm (and of a call without wind) reads the weather point; a
    typed wind wins; no reading or a fault leaves the wind unknown, and the draft still opens."""
    from types import SimpleNamespace

    from appliance.emergency import wind_reader

    c, *_ = plant
    point = SimpleNamespace(view=lambda: {"state": "normal", "value": 350.0})
    runtime = SimpleNamespace(sensors=SimpleNamespace(points={"WD-1": point}))
    try:
        I.configure_wind(wind_reader(runtime, "WD-1"))
        I.subscriber(alarm())
        inc = c["kiosk"].get("/api/v1/emergency/incidents?state=open").get_json()["incidents"][0]
        full = c["kiosk"].get(f"/api/v1/emergency/incidents/{inc['id']}").get_json()
        assert full["wind_from"] == 350.0 and full["downwind"] == ["DOCK", "WH"]
        assert full["route"]["areas"] == ["TANK", "CTRL", "GATE"]                 # round the downwind side
        typed = c["worker"].post("/api/v1/emergency/incidents", json={"area": "DOCK", "wind_from": 90}).get_json()
        assert typed["wind_from"] == 90
        untyped = c["worker"].post("/api/v1/emergency/incidents", json={"area": "REACT"}).get_json()
        assert untyped["wind_from"] == 350.0
        point.view = lambda: {"state": "fault", "value": 10.0}                     # stale, bus down
        assert I.sensor_wind() is None
        point.view = lambda: {"state": "normal", "value": 400.0}                   # not a direction
        assert I.sensor_wind() is None
        runtime.sensors = None                                                     # the gas domain not running
        assert I.sensor_wind() is None
        I.configure_wind(lambda: 1 / 0)                                            # never stops the draft
        assert c["worker"].post("/api/v1/emergency/incidents", json={"area": "WH"}).get_json()["wind_from"] is None
    finally:
        I.configure_wind(None)
    assert I.sensor_wind() is None


def test_muster_by_a_tap_at_the_assembly_reader_and_by_hand(plant):
    c, ids, people = plant
    now = events.now_ms()
    I.subscriber(tap("CP-TANK", "04A1B2C3D4E5F9", now - 60_000))   # 刘洋
    I.subscriber(tap("CP-WH", "04A1B2C3D4E5F8", now - 60_000))     # 李强
    assert c["kiosk"].get("/api/v1/emergency/muster").get_json() == {**I.roll(None)}   # none running: zeros
    I.subscriber(alarm())
    m = c["kiosk"].get("/api/v1/emergency/muster").get_json()
    assert (m["expected"], m["present"]) == (2, 0) and {x["person"] for x in m["missing"]} == {"刘洋", "李强"}
    assert {"person", "area", "last_seen_at"} <= set(m["missing"][0])
    I.subscriber(tap("MUSTER-1", "04A1B2C3D4E5F9"))                 # the inspector taps in at the gate
    I.subscriber(tap("MUSTER-1", "04A1B2C3D4E5F9"))                 # twice: counted once
    m = c["kiosk"].get("/api/v1/emergency/muster").get_json()
    assert (m["expected"], m["present"]) == (2, 1) and [x["person"] for x in m["missing"]] == ["李强"]
    ev = [e for e in events.read_after(0, 5000) if e.type == "emergency.mustered"]
    assert len(ev) == 1 and ev[0].payload["present"] == 1 and ev[0].payload["point"] == "AP-GATE"
    r = c["supervisor"].post("/api/v1/emergency/muster/marks", json={"person_id": people["李强"]})
    assert r.get_json()["all_accounted"] and r.get_json()["present"] == 2
    csv = c["kiosk"].get("/api/v1/emergency/muster.csv").get_data(as_text=True)
    assert "刘洋" in csv and "李强" in csv and csv.startswith("\ufeff")


def test_muster_export_in_plant_time_with_employee_numbers_and_board_counts_per_area(plant):
    """The roll as a warden reads it: employee numbers (not row ids) and the site's local time (not UTC
    milliseconds); the wall board's panel counts expected/present for each area of last sighting."""
    import csv
    import io
    from datetime import datetime
    from zoneinfo import ZoneInfo

    c, ids, people = plant
    P.set_site("测试厂", "Test plant", "Asia/Urumqi", 1600, 900, actor="system:test")
    seen = (events.now_ms() - 120_000) // 1000 * 1000     # two minutes ago, on a whole second
    I.subscriber(tap("CP-TANK", "04A1B2C3D4E5F9", seen))   # 刘洋 E1004
    I.subscriber(tap("CP-WH", "04A1B2C3D4E5F8", seen))     # 李强 E1003
    I.subscriber(tap("CP-WH", "04A1B2C3D4E5FA", seen))     # 陈静 E1005
    I.subscriber(alarm())
    I.subscriber(tap("MUSTER-1", "04A1B2C3D4E5F8"))
    rows = list(csv.reader(io.StringIO(c["kiosk"].get("/api/v1/emergency/muster.csv").get_data(as_text=True)
                                       .lstrip("\ufeff"))))
    assert rows[0][2] == "工号 employee no." and "Asia/Urumqi" in rows[0][4]
    by_name = {r[1]: r for r in rows[1:]}
    local = datetime.fromtimestamp(seen / 1000, ZoneInfo("Asia/Urumqi")).strftime("%Y-%m-%d %H:%M:%S")
    assert by_name["刘洋"][:5] == ["missing", "刘洋", "E1004", "TANK", local]
    assert by_name["李强"][0:3] == ["present", "李强", "E1003"] and by_name["李强"][5] == "AP-GATE"
    assert re.fullmatch(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d", by_name["李强"][6])
    assert all(r[2].startswith("E") for r in rows[1:])   # employee numbers, never the internal person id
    assert not any(re.fullmatch(r"\d{13}", cell) for r in rows for cell in r)   # no raw milliseconds
    board = c["kiosk"].get("/kiosk/emergency/incident").get_data(as_text=True)
    # each area by its name, as the rest of the board names them (not its code)
    areas = {a: (n, c) for a, n, c in re.findall(r'<li data-area="(\w+)" class="\w+"><b>([^<]+)</b> 到 (\d+/\d+)</li>', board)}
    assert areas == {"TANK": ("储罐区", "0/1"), "WH": ("仓库", "1/2")}
    P.Area.update(name_en="Warehouse").where(P.Area.code == "WH").execute()
    board = c["kiosk"].get("/kiosk/emergency/incident?lang=en").get_data(as_text=True)
    assert re.search(r'<li data-area="WH" class="some"><b>Warehouse</b> 1/2 in</li>', board), board
    assert re.search(r'<li data-area="TANK" class="some"><b>储罐区</b>', board)    # no English name: the Chinese one
    assert '<li data-area="WH" class="some">' in board
    # the people missing and the route name their areas too, in the board and on the commander's page
    zh = c["kiosk"].get("/kiosk/emergency/incident").get_data(as_text=True)
    missing = re.search(r'<ul class="em-people" id="em-board-missing">(.*?)</ul>', zh, re.S).group(1)
    assert "刘洋 · 储罐区 ·" in missing and "TANK" not in missing, missing
    route = re.search(r'id="em-board-route">([^<]*)<', zh)
    assert route and " → " in route.group(1) and not re.search(r"\b(TANK|WH|GATE)\b", route.group(1)), route


def test_no_drill_while_a_real_muster_is_open_and_taps_go_to_the_real_one(plant):
    """A drill started during a real muster would be the newest and collect the real taps: refused, in both
    languages, writing nothing; a real incident opened during a drill takes the taps."""
    c, ids, people = plant
    from appliance.emergency.models import Drill, Incident, Muster, Plan

    plan = Plan.get(Plan.code == "P-LEAK")
    I.subscriber(tap("CP-TANK", "04A1B2C3D4E5F9", events.now_ms() - 60_000))    # 刘洋
    I.subscriber(alarm())
    real = I.current_muster()
    head = events.head_seq()
    r = c["supervisor"].post("/api/v1/emergency/drills", json={"plan_id": plan.id, "area": "WH"})
    assert r.status_code == 409, r.get_data(as_text=True)
    err = r.get_json()["error"]
    assert "真实事件" in err["message"] or "真实事件" in str(err)
    r_en = c["supervisor"].post("/api/v1/emergency/drills", json={"plan_id": plan.id, "area": "WH"},
                                headers={"Accept-Language": "en"})
    assert "real incident" in str(r_en.get_json()["error"])
    assert events.head_seq() == head and Drill.select().count() == 0 and Incident.select().count() == 1
    # the real incident closed, a drill runs; a real alarm meanwhile (a drill muster row still open, as one
    # left from before this rule would be) takes the assembly point's taps
    c["supervisor"].post(f"/api/v1/emergency/incidents/{real.incident_id}/close", json={"note": "处置完毕"})
    r = c["supervisor"].post("/api/v1/emergency/drills", json={"plan_id": plan.id, "area": "WH"})
    assert r.status_code == 201, r.get_data(as_text=True)
    I.subscriber(alarm(area="REACT", point="GT-201"))
    newer = Muster.create(incident_id=r.get_json()["incident"]["id"], drill=True, started_at=events.now_ms(),
                          expected="[]")
    got = I.current_muster()
    assert not got.drill and got.id != newer.id
    I.subscriber(tap("MUSTER-1", "04A1B2C3D4E5F9"))
    m = c["kiosk"].get("/api/v1/emergency/muster").get_json()
    assert not m["drill"] and [p["person"] for p in m["present_list"]] == ["刘洋"]


def test_resource_upkeep_warns_once_per_threshold_and_the_tablet_counts(plant):
    """The daily scan: one emergency.resource_warned per resource, date and threshold (30/7/0 days), at any
    rate; a new date starts afresh; the tablet's emergency page counts what is near or past."""
    from datetime import date, datetime, timedelta
    from zoneinfo import ZoneInfo

    from appliance.emergency import setup as S
    from appliance.emergency import upkeep

    c, *_ = plant
    for r in S.resources():                       # the demo's own resources out of the way
        S.Resource.update(active=False).where(S.Resource.id == r.id).execute()
    now = events.now_ms()
    today = datetime.fromtimestamp(now / 1000, ZoneInfo("Asia/Shanghai")).date()
    day = lambda n: today + timedelta(days=n)   # noqa: E731
    actor = "system:test"
    S.save_resource(S.ResourceIn(code="BA-9", kind="breathing_apparatus", name="空呼", area="TANK", quantity=2,
                                 expires_on=day(20), next_inspection=day(5)), actor=actor)
    S.save_resource(S.ResourceIn(code="EX-9", kind="fire_extinguisher", name="灭火器", area="WH", quantity=4,
                                 expires_on=day(400)), actor=actor)

    def warned():
        return [(e.payload["code"], e.payload["what"], e.payload["thresholds"])
                for e in events.read_after(0, 5000) if e.type == "emergency.resource_warned"]

    assert upkeep.scan(now) == 2
    assert warned() == [("BA-9", "expiry", [30]), ("BA-9", "inspection", [30, 7])]
    assert upkeep.scan(now) == 0 and upkeep.scan(now + 3_600_000) == 0                    # once
    assert upkeep.scan(now + 5 * R_DAY) == 1 and warned()[-1] == ("BA-9", "inspection", [0])
    assert upkeep.scan(now + 13 * R_DAY) == 1 and warned()[-1] == ("BA-9", "expiry", [7])
    assert upkeep.scan(now + 14 * R_DAY) == 0
    # inspected: the next date starts its thresholds again
    S.save_resource(S.ResourceIn(code="BA-9", kind="breathing_apparatus", name="空呼", area="TANK", quantity=2,
                                 expires_on=day(20), inspected_on=day(14), next_inspection=day(40)), actor=actor)
    assert upkeep.scan(now + 14 * R_DAY) == 1 and warned()[-1] == ("BA-9", "inspection", [30])
    ev = [e for e in events.read_after(0, 5000) if e.type == "emergency.resource_warned"][0]
    assert ev.payload["days_left"] == 20 and ev.payload["due_on"] == day(20).isoformat() and "空呼" in ev.payload["message"]
    assert isinstance(date.fromisoformat(ev.payload["due_on"]), date)
    # the tablet: one resource near its dates (BA-9), the extinguisher fine
    assert upkeep.warning_count(now) == 1
    page = c["supervisor"].get("/tablet/emergency").get_data(as_text=True)
    assert re.search(r'id="em-res-warn" href="/tablet/emergency/warnings">⚠ 1 项', page), page


R_DAY = 24 * 3600 * 1000


def test_a_drill_is_marked_and_writes_no_alarm_record(plant):
    c, *_ = plant
    from appliance.emergency.models import Plan
    from appliance.gas.sensors import Alarm

    plan = Plan.get(Plan.code == "P-LEAK")
    before = Alarm.select().count()
    r = c["supervisor"].post("/api/v1/emergency/drills", json={"plan_id": plan.id, "area": "TANK", "gas": "CH4"})
    assert r.status_code == 201, r.get_data(as_text=True)
    inc, drill = r.get_json()["incident"], r.get_json()["drill"]
    assert inc["drill"] and inc["source"] == "drill" and "DRILL" in inc["title"] and inc["muster"]["drill"]
    assert Alarm.select().count() == before
    assert not [e for e in events.read_after(0, 5000) if e.type.startswith("alarm.")]
    assert all(e.payload.get("drill") for e in events.read_after(0, 5000)
               if e.type.startswith(("emergency.incident", "emergency.muster", "emergency.drill")))
    # a real level-2 alarm in the same area is a real incident, not folded into the drill
    I.subscriber(alarm())
    assert [i.drill for i in I.open_incidents()] == [False, True]
    r = c["supervisor"].post(f"/api/v1/emergency/incidents/{inc['id']}/steps/confirm")
    assert r.get_json()["steps"][0]["done"] and r.get_json()["steps"][0]["elapsed_s"] >= 0
    assert c["supervisor"].post(f"/api/v1/emergency/incidents/{inc['id']}/steps/confirm").status_code == 409
    assert c["supervisor"].post(f"/api/v1/emergency/incidents/{inc['id']}/steps/nope").status_code == 422
    r = c["supervisor"].post(f"/api/v1/emergency/drills/{drill['id']}/evaluation", json={
        "summary": "疏散用时 6 分钟", "shortcomings": "集合点读卡器位置不明显", "rating": "adequate",
        "findings": [{"text": "集合点增设指示牌", "category": "安全"}]})
    assert r.status_code == 200, r.get_data(as_text=True)
    hid = r.get_json()["findings"][0]["hazard_id"]
    h = c["admin"].get(f"/api/v1/hazards/{hid}").get_json()
    assert "集合点增设指示牌" in h["description"] and h["area_id"]
    r = c["supervisor"].post(f"/api/v1/emergency/incidents/{inc['id']}/close", json={"note": "演练结束"})
    assert r.get_json()["state"] == "closed"
    assert c["supervisor"].post(f"/api/v1/emergency/incidents/{inc['id']}/close", json={}).status_code == 409


def test_accident_graded_clocked_investigated_and_corrected(plant):
    c, ids, _ = plant
    t0 = events.now_ms() - 30 * 60_000
    body = {"area": "TANK", "occurred_at": t0, "kind": "poisoning", "title": "罐区硫化氢中毒",
            "description": "检修时吸入硫化氢", "deaths": 0, "serious_injuries": 2, "direct_loss_yuan": 800_000}
    r = c["worker"].post("/api/v1/emergency/accidents", json=body)
    assert r.status_code == 201, r.get_data(as_text=True)
    a = r.get_json()
    assert a["grade"] == "general" and a["grade_name"] == "一般事故"
    d = {x["code"]: x for x in a["deadlines"]}
    assert d["head_to_authority"]["due_at"] == t0 + 3_600_000 and not d["head_to_authority"]["overdue"]
    # 第十三条 补报: more injured found within 30 days → re-graded to 较大
    r = c["safety_officer"].post(f"/api/v1/emergency/accidents/{a['id']}/investigation", json={
        "why": ["吸入硫化氢", "未佩戴呼吸器", "呼吸器不在现场", "应急柜未配置", "配置标准缺失"],
        "fishbone": {"man": "未按规程佩戴", "method": "作业票未要求"}, "cause": "个体防护缺失", "serious_injuries": 10})
    assert r.get_json()["grade"] == "larger" and r.get_json()["state"] == "investigating"
    assert c["safety_officer"].post(f"/api/v1/emergency/accidents/{a['id']}/investigation",
                                    json={"fishbone": {"weather": "x"}}).status_code == 422
    r = c["safety_officer"].post(f"/api/v1/emergency/accidents/{a['id']}/corrective",
                                 json={"text": "罐区应急柜配置 2 套空气呼吸器", "category": "安全"})
    assert r.status_code == 201
    hid = r.get_json()["corrective"][0]["hazard_id"]
    assert c["admin"].get(f"/api/v1/hazards/{hid}").get_json()["area_id"] == ids["TANK"]
    r = c["supervisor"].post(f"/api/v1/emergency/accidents/{a['id']}/reported", json={})
    assert [x for x in r.get_json()["deadlines"] if x["code"] == "head_to_authority"][0]["met"]
    # the same kind in the same area again: linked as a recurrence
    b = c["worker"].post("/api/v1/emergency/accidents", json={**body, "occurred_at": events.now_ms()}).get_json()
    assert b["related"] == [a["id"]]
    assert c["safety_officer"].post(f"/api/v1/emergency/accidents/{b['id']}/close").status_code == 409  # no cause yet
    assert c["safety_officer"].post(f"/api/v1/emergency/accidents/{a['id']}/close").get_json()["state"] == "closed"


@pytest.mark.parametrize("path, payload, key", [
    ("/api/v1/emergency/incidents", {"kind": "leak", "area": "MOON"}, "area"),
    ("/api/v1/emergency/incidents", {"kind": "meteor", "area": "TANK"}, "kind"),
    ("/api/v1/emergency/incidents", {"kind": "leak", "area": "TANK", "wind_from": 360}, "wind_from"),
    ("/api/v1/emergency/accidents", {"area": "TANK", "occurred_at": 1, "kind": "leak", "title": "泄漏",
                                     "description": "描述", "deaths": -1}, "deaths"),
    ("/api/v1/emergency/accidents", {"area": "TANK", "occurred_at": 4_000_000_000_000, "kind": "leak",
                                     "title": "泄漏", "description": "描述"}, "occurred_at"),
])
def test_bad_input_names_the_field_and_writes_nothing(plant, path, payload, key):
    c, *_ = plant
    head = events.head_seq()
    r = c["admin"].post(path, json=payload)
    assert r.status_code == 422, r.get_data(as_text=True)
    assert key in r.get_data(as_text=True) and events.head_seq() == head


def test_master_data_validation(plant):
    c, *_ = plant
    r = c["admin"].post("/api/v1/emergency/resources", json={"code": "X-1", "kind": "unicorn", "name": "x",
                                                             "area": "TANK", "quantity": 1})
    assert r.status_code == 422 and "kind" in r.get_data(as_text=True)
    r = c["admin"].post("/api/v1/emergency/resources", json={"code": "X-1", "kind": "eyewash", "name": "x",
                                                             "area": "TANK", "quantity": 1, "available": 2})
    assert r.status_code == 422 and "available" in r.get_data(as_text=True)
    r = c["admin"].open("PUT", "/api/v1/emergency/graph", json={"edges": [{"a": "TANK", "b": "TANK", "metres": 1}]})
    assert r.status_code == 422
    assert c["supervisor"].post("/api/v1/emergency/resources", json={}).status_code == 403
    res = {x["code"]: x for x in c["kiosk"].get("/api/v1/emergency/resources").get_json()["resources"]}
    assert res["CS-01"]["state"] == "expired" and res["EW-01"]["state"] == "warn" and res["BA-01"]["state"] == "ok"


@pytest.mark.parametrize("lang", ["zh-CN", "en"])
def test_pages_render_with_an_incident_a_drill_and_an_accident(plant, lang):
    c, *_ = plant
    from appliance.emergency.models import Plan

    drill = c["supervisor"].post("/api/v1/emergency/drills", json={"plan_id": Plan.get(Plan.code == "P-FIRE").id,
                                                                   "area": "REACT"}).get_json()
    I.subscriber(alarm())   # after the drill: no drill starts while a real muster is open
    acc = c["worker"].post("/api/v1/emergency/accidents", json={
        "area": "TANK", "occurred_at": events.now_ms(), "kind": "leak", "title": "罐区泄漏", "description": "法兰泄漏"}).get_json()
    inc = I.open_incidents()[0]
    pages = {"/tablet/emergency": "应急管理" if lang == "zh-CN" else "Emergency management",
             f"/tablet/emergency/incidents/{inc.id}": "储罐区 → 仓库 → 大门",
             f"/tablet/emergency/incidents/{drill['incident']['id']}": "em-evaluation",
             "/tablet/emergency/muster": "/api/v1/emergency/muster.csv",
             f"/tablet/emergency/accidents/{acc['id']}": "第九条" if lang == "zh-CN" else "(Art. 9)",
             "/kiosk/emergency/incident": "em-incident"}
    for path, expect in pages.items():
        r = c["supervisor"].get(path + f"?lang={lang}", headers={"Accept-Language": lang})
        assert r.status_code == 200, (path, r.status_code)
        assert expect in r.get_data(as_text=True), path
    board = c["kiosk"].get("/kiosk").get_data(as_text=True)
    assert 'id="em-board"' in board and "em-incident" in board and "GT-101" in board
