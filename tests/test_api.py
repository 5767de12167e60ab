"""Bad input at the HTTP edge: each gets a clear JSON 4xx naming the problem, and nothing stored changes."""
from __future__ import annotations

import pytest

from appliance.core import events
from appliance.core import people as P
from conftest import As


@pytest.fixture
def admin(app, users):
    c = As(app, "admin", users)
    assert c.post("/api/v1/people", json={"employee_no": "E1", "name": "张三"}).status_code == 201
    return c


@pytest.mark.parametrize("method, path, kw, status, code, key", [
    ("POST", "/api/v1/people", {"data": "{not json", "content_type": "application/json"}, 400, "bad_json", None),
    ("POST", "/api/v1/people", {"data": "", "content_type": "application/json"}, 400, "bad_json", None),
    ("POST", "/api/v1/people", {"json": [1, 2]}, 400, "bad_json", None),
    ("POST", "/api/v1/people", {"json": {"name": "无工号"}}, 422, "validation_failed", "employee_no"),
    ("POST", "/api/v1/people", {"json": {"employee_no": "E2", "name": "x", "salary": 1}}, 422, "validation_failed", "salary"),
    ("POST", "/api/v1/people", {"json": {"employee_no": "E2", "name": "x", "kind": "robot"}}, 422, "validation_failed", "kind"),
    ("POST", "/api/v1/people", {"json": {"employee_no": "E 2", "name": "x"}}, 422, "validation_failed", "employee_no"),
    ("POST", "/api/v1/people", {"json": {"employee_no": "E1", "name": "重复"}}, 409, "conflict", None),
    ("POST", "/api/v1/badges", {"json": {"uid": "zz", "person_id": 1}}, 422, "validation_failed", "uid"),
    ("POST", "/api/v1/badges", {"json": {"uid": "04A1B2C3", "person_id": "one"}}, 422, "validation_failed", "person_id"),
    ("POST", "/api/v1/badges", {"json": {"uid": "04A1B2C3", "person_id": 42}}, 422, "validation_failed", "person_id"),
    ("POST", "/api/v1/areas", {"json": {"code": "A1", "name": "区", "polygon": [[0, 0], [1, 1]]}}, 422, "validation_failed", "polygon"),
    ("POST", "/api/v1/areas", {"json": {"code": "A1", "name": "区", "polygon": [[0, 0], [1, 1], [99999, 1]]}}, 422, "validation_failed", "polygon"),
    ("PATCH", "/api/v1/people/999", {"json": {"name": "谁"}}, 404, "not_found", None),
    ("PATCH", "/api/v1/people/1", {"json": {"active": "maybe"}}, 422, "validation_failed", "active"),
    ("PATCH", "/api/v1/people/1", {"json": {"name": None}}, 422, "validation_failed", "name"),
    ("PATCH", "/api/v1/people/1", {"json": {"active": None}}, 422, "validation_failed", "active"),
    ("GET", "/api/v1/people/99999999999999999999", {}, 422, "number_too_large", None),
    ("POST", "/api/v1/badges", {"json": {"uid": "04A1B2C3", "person_id": 10**30}}, 422, "validation_failed", "person_id"),
    ("GET", "/api/v1/areas/999", {}, 404, "not_found", None),
    ("GET", "/api/v1/events?limit=abc", {}, 422, "validation_failed", "limit"),
    ("GET", "/api/v1/events?limit=5000", {}, 422, "validation_failed", "limit"),
    ("GET", "/api/v1/no-such-thing", {}, 404, "not_found", None),
    ("PUT", "/api/v1/people", {"json": {}}, 405, "method_not_allowed", None),
    ("POST", "/api/v1/people", {"data": "x" * (17 * 1024 * 1024), "content_type": "application/json"}, 413, "request_entity_too_large", None),
])
def test_bad_requests_get_clear_errors_and_change_nothing(admin, method, path, kw, status, code, key):
    head = events.head_seq()
    people = P.Person.select().count()
    r = admin.open(method, path, **kw)
    assert r.status_code == status, r.get_data(as_text=True)[:300]
    err = r.get_json()["error"]
    assert err["code"] == code
    assert err["messages"]["zh-CN"] and err["messages"]["en"] and err["message"] == err["messages"]["zh-CN"]
    if key:
        assert key in [d["key"] for d in err["details"]]
        assert key in err["messages"]["en"]
    assert events.head_seq() == head and P.Person.select().count() == people


def test_english_errors_on_request(admin):
    r = admin.get("/api/v1/areas/999?lang=en")
    assert r.get_json()["error"]["message"] == "area 999 does not exist"
    r = admin.get("/api/v1/areas/999", headers={"Accept-Language": "en-US,en;q=0.9"})
    assert r.get_json()["error"]["message"] == "area 999 does not exist"


def test_master_data_round_trip(admin):
    r = admin.post("/api/v1/areas", json={"code": "TANK", "name": "储罐区", "name_en": "Tank farm", "kind": "tank_farm",
                                           "polygon": [[0, 0], [100, 0], [100, 100], [0, 100]]})
    assert r.status_code == 201
    area = r.get_json()
    r = admin.patch(f"/api/v1/areas/{area['id']}", json={"polygon": None})
    assert r.status_code == 422  # an area without a polygon would break the floor plan
    r = admin.patch(f"/api/v1/areas/{area['id']}", json={"polygon": [[0, 0], [50, 0], [50, 50]]})
    assert r.get_json()["polygon"] == [[0, 0], [50, 0], [50, 50]]
    person = admin.get("/api/v1/people").get_json()["people"][0]
    r = admin.post("/api/v1/badges", json={"uid": "04:a1:b2:c3:d4:e5:f6", "person_id": person["id"]})
    assert r.status_code == 201 and r.get_json()["uid"] == "04A1B2C3D4E5F6"
    assert admin.post("/api/v1/badges", json={"uid": "04A1B2C3D4E5F6", "person_id": person["id"]}).status_code == 409
    assert P.person_for_badge("04 a1 b2 c3 d4 e5 f6").name == "张三"
    # a person who leaves loses their badges in the same change
    admin.patch(f"/api/v1/people/{person['id']}", json={"active": False})
    assert P.person_for_badge("04A1B2C3D4E5F6") is None
    assert admin.get("/api/v1/badges").get_json()["badges"] == []
    types = [e.type for e in events.read_after(0, 100)]
    assert types[-2:] == ["person.updated", "badge.deactivated"]
    r = admin.patch("/api/v1/badges/1", json={"active": True})
    assert r.status_code == 409  # not for an inactive holder
    site = admin.patch("/api/v1/site", json={"name": "新名字"})
    assert site.status_code == 404  # no site row yet in a bare test database


@pytest.mark.parametrize("raw, uid", [
    ("04a1b2c3", "04A1B2C3"), ("04:A1:B2:C3:D4:E5:F6", "04A1B2C3D4E5F6"), ("03FE-FFE0-1122-3344", "03FEFFE011223344"),
    (" 04 a1 b2 c3 ", "04A1B2C3"),
])
def test_uid_normalisation(raw, uid):
    assert P.normalize_uid(raw) == uid


@pytest.mark.parametrize("raw", ["", "04A1B2", "04A1B2C3D", "GG112233", "04" * 11])
def test_bad_uids(raw):
    with pytest.raises(ValueError):
        P.normalize_uid(raw)


def test_health_reports_components(client):
    body = client.get("/api/v1/health").get_json()
    assert body["status"] in ("ok", "degraded")
    assert {"database", "disk", "event_bus"} <= set(body["components"])
    from appliance.core.db import migrations
    assert body["components"]["database"]["schema_version"] == len(migrations())
