"""Names instead of ids (issue 15 item 9) and times that say their zone (item 10): the actor labels, the names
an event carries to the screens, the log lines' time stamps and the hazard statistics export."""
from __future__ import annotations

import json
import logging

import pytest


@pytest.fixture
def wangfang(app):
    from appliance.core import auth

    auth.create_user(auth.UserIn(login="wangfang", password="pw-123456", role="supervisor", display_name="王芳"),
                     actor="system:test")
    return "wangfang"


@pytest.mark.parametrize("actor,lang,shown", [
    ("user:wangfang", "zh-CN", "王芳"),               # a person by the name the admin gave
    ("wangfang", "zh-CN", "王芳"),                    # a bare login (a hazard's assignee)
    ("user:nobody", "zh-CN", "nobody"),               # a login gone since: the login, not "user:nobody"
    ("system", "zh-CN", "系统"),
    ("system:demo", "zh-CN", "系统"),
    ("system:sensors", "en", "System"),
    ("device:reader:GATE", "zh-CN", "读卡器 GATE"),
    ("device:reader:GATE", "en", "reader GATE"),
    ("device:station:north", "zh-CN", "读卡站 north"),
    ("device:wall", "zh-CN", "屏幕 wall"),            # a screen token
    ("anonymous", "zh-CN", "匿名"),                   # a hazard reported without a name
    ("address:10.0.0.7", "en", "from 10.0.0.7"),
    (None, "zh-CN", "—"),
])
def test_actor_label(app, wangfang, actor, lang, shown):
    from appliance.core import names
    from kiosk_ui import translate

    with app.app_context():
        assert names.actor_label(actor, lambda key, **kw: translate(lang, key, **kw)) == shown


def test_event_names_replace_logins_readers_cameras_and_zones(app, wangfang):
    from appliance.core import names
    from appliance.core import people as P
    from kiosk_ui import translate

    def zh(key, **kw):
        return translate("zh-CN", key, **kw)

    with app.app_context():
        P.create_area(P.AreaIn(code="DOCK", name="装卸站台", name_en="Dock"), actor="system:test")
        assert names.event_names("user:wangfang", {"assignee": "wangfang"}, zh, "zh-CN", {}) == \
            {"actor": "王芳", "assignee": "王芳"}
        tap = names.event_names("device:reader:GATE", {"reader": "GATE", "checkpoint": None}, zh, "zh-CN", {})
        assert tap == {"actor": "读卡器 GATE", "reader": "读卡器 GATE"}
        at_cp = names.event_names("device:reader:R1", {"reader": "R1", "checkpoint": "泵房", "checkpoint_en": "Pumps"},
                                  zh, "en", {})
        assert at_cp["reader"] == "Pumps"
        vio = names.event_names("system:vision", {"camera": "dock-cam-1", "zone": "all", "area": "DOCK"}, zh, "zh-CN",
                                {"dock-cam-1": "装卸站台 1号摄像头"})
        assert vio == {"actor": "系统", "camera": "装卸站台 1号摄像头", "zone": "装卸站台", "area": "装卸站台"}
        # an event's area (a permit started, a hazard reported) by name in the page's language, never its code
        started = {"no": "HO-00001", "area": "DOCK"}
        assert names.event_names("user:wangfang", started, zh, "zh-CN", {})["area"] == "装卸站台"
        assert names.event_names("user:wangfang", started, zh, "en", {})["area"] == "Dock"
        assert "area" not in names.event_names("user:wangfang", {"area": "NOWHERE"}, zh, "zh-CN", {})
        assert names.event_names("system", {"zone": "all", "area": ""}, zh, "zh-CN", {})["zone"] == "未关联区域"
        # the area names are kept between events (issue 14), until an area changes: the next event has its new name
        dock = P.Area.get(P.Area.code == "DOCK")
        P.update_area(dock.id, P.AreaUpdate(name="东装卸站台"), actor="system:test")
        assert names.event_names("user:wangfang", started, zh, "zh-CN", {})["area"] == "东装卸站台"
        P.create_area(P.AreaIn(code="YARD", name="堆场", name_en="Yard"), actor="system:test")
        assert names.event_names("user:wangfang", {"area": "YARD"}, zh, "en", {})["area"] == "Yard"


def test_the_event_api_and_the_stream_carry_names(app, users, as_role, wangfang):
    from appliance.core import events
    from appliance.core.routes import sse_frame

    with app.app_context():
        events.record("hazard.rule_set", actor="user:wangfang", payload={"assignee": "wangfang"})
    evs = as_role("admin").get("/api/v1/events?after=0&limit=1000&lang=zh-CN").get_json()["events"]
    got = next(e for e in evs if e["type"] == "hazard.rule_set")
    assert got["names"] == {"actor": "王芳", "assignee": "王芳"}
    again = as_role("admin").get("/api/v1/events?after=0&limit=1000&lang=zh-CN").get_json()
    assert again["events"][:len(evs)] == evs and again["head"] == events.head_seq()   # the same items, made once
    en = as_role("admin").get("/api/v1/events?after=0&limit=1000&lang=en").get_json()["events"]
    assert next(e for e in en if e["type"] == "hazard.rule_set")["names"]["actor"] == "王芳"
    assert {k: v for k, v in got.items() if k != "names"} == next(e.as_dict() for e in events.read_after(0, 1000)
                                                                   if e.type == "hazard.rule_set")
    ev = next(e for e in events.read_after(0, 1000) if e.type == "hazard.rule_set")
    frame = sse_frame(ev, lambda e: {"actor": "王芳"})
    body = json.loads(frame.split("data: ", 1)[1])
    assert body["names"] == {"actor": "王芳"} and body["hash"] == ev.hash


def test_log_lines_are_in_plant_time_with_its_offset(app):
    """The app was built for a site in Asia/Shanghai: a log line's time is the plant's, with +08:00."""
    from appliance.core import logs

    rec = logging.LogRecord("x", logging.INFO, __file__, 1, "tank %s", ("T-1",), None)
    rec.created, rec.msecs = 1_767_225_600.25, 250.0          # 2026-01-01T00:00:00.250Z
    line = json.loads(logs.JsonFormatter().format(rec))
    assert line["ts"] == "2026-01-01T08:00:00.250+08:00", line
    assert logs.TextFormatter().format(rec).startswith("2026-01-01T08:00:00.250+08:00 INFO x: tank T-1")
    logs.set_timezone("UTC")
    assert json.loads(logs.JsonFormatter().format(rec))["ts"] == "2026-01-01T00:00:00.250+00:00"


def test_statistics_export_labels_its_dates_with_the_zone_and_names_the_acceptor(app, wangfang):
    from appliance.hazards.export import statistics_rows

    stats = {"year": 2026, "quarter": 1, "due": "2026-04-15", "timezone": "Asia/Shanghai",
             "by_grade": {"general": {}, "major": {}}, "total": {}, "majors": [
                 {"id": 7, "area": "储罐区", "description": "储罐无紧急切断", "state": "closed", "stage": None,
                  "deadline": 1_767_225_600_000, "accepted_by": "user:wangfang"}]}
    for g in ("general", "major"):
        stats["by_grade"][g] = {"found": 0, "rectified": 0, "found_rectified": 0, "open": 0, "overdue": 0,
                                "rectification_rate": None, "cost": 0}
    stats["total"] = stats["by_grade"]["general"]
    with app.app_context():
        rows = statistics_rows(stats)
    heading = next(r for r in rows if r and r[0] == "编号 id")
    assert heading[4] == "整改期限（Asia/Shanghai）deadline (Asia/Shanghai)", heading
    major = next(r for r in rows if r and r[0] == 7)
    assert major[4] == "2026-01-01" and major[5] == "王芳", major
