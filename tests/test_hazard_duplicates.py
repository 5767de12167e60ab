"""A hazard reported twice is closed as a duplicate of the other report (issue 15 item 2): the picker's rule,
who may, the event, the reporter kept whole; and a duplicate counts nowhere as a hazard found or rectified
(rates, cockpit, compliance report and its export, Art. 14 statistics) and reaches the regulator as deleted,
never as 9 已验收."""
from __future__ import annotations

import io

import openpyxl
import pytest

from appliance.core import events
from appliance.hazards import rules as HR

DAY = 86_400_000
T = 1_750_000_000_000


# (id, area, category, reported_at, duplicate_of)
OTHERS = [
    (2, 1, "电气", T - 1 * DAY, None),        # same area and category, a day before
    (3, 1, "电气", T + 2 * DAY, None),        # two days after
    (4, 1, "电气", T - 4 * DAY, None),        # too long before
    (5, 2, "电气", T, None),                  # another area
    (6, 1, "消防", T, None),                  # another category
    (7, 1, "电气", T - 1000, 2),              # itself a duplicate: its original is offered instead
    (1, 1, "电气", T, None),                  # the hazard itself
    (8, 1, "电气", T + 1 * DAY, None),        # a day after: ties with 2, the earlier first
]


@pytest.mark.parametrize("days,limit,expect", [
    (3, 8, [2, 8, 3]),
    (1, 8, [2, 8]),
    (3, 2, [2, 8]),
    (5, 8, [2, 8, 3, 4]),
    (0, 8, []),
])
def test_duplicate_candidates_table(days, limit, expect):
    assert HR.duplicate_candidates((1, 1, "电气", T), OTHERS, days=days, limit=limit) == expect


@pytest.mark.parametrize("role,state,dup,hid,orig,orig_dup,refused,who", [
    ("supervisor", "reported", None, 1, 2, None, None, False),
    ("safety_officer", "reported", None, 1, 2, None, None, False),
    ("admin", "reported", None, 1, 2, None, None, False),
    ("worker", "reported", None, 1, 2, None, "role", True),
    ("supervisor", "rectifying", None, 1, 2, None, "not dispatched", False),
    ("supervisor", "closed", None, 1, 2, None, "not dispatched", False),
    ("supervisor", "closed", 2, 1, 3, None, "already a duplicate", False),
    ("supervisor", "reported", None, 1, 1, None, "itself", False),
    ("supervisor", "reported", None, 1, 7, 2, "pick the original", False),
])
def test_check_duplicate_table(role, state, dup, hid, orig, orig_dup, refused, who):
    if refused is None:
        HR.check_duplicate(role, state, dup, hid, orig, orig_dup)
        return
    with pytest.raises(HR.TransitionRefused) as exc:
        HR.check_duplicate(role, state, dup, hid, orig, orig_dup)
    assert refused in exc.value.en and exc.value.who is who


@pytest.fixture
def plant(app, users, as_role):
    admin = as_role("admin")
    area = admin.post("/api/v1/areas", json={"code": "TANK", "name": "储罐区", "polygon": [[0, 0], [9, 0], [9, 9]]})
    other = admin.post("/api/v1/areas", json={"code": "WH", "name": "仓库", "polygon": [[0, 0], [9, 0], [9, 9]]})
    return {role: as_role(role) for role in ("admin", "safety_officer", "supervisor", "worker")}, \
        area.get_json()["id"], other.get_json()["id"]


def report(c, area, text="配电箱门未关，线缆裸露", category="电气"):
    r = c.post("/api/v1/hazards", json={"area_id": area, "category": category, "description": text})
    assert r.status_code == 201, r.get_data(as_text=True)
    return r.get_json()["id"]


def _two_reports(plant):
    """The original (dispatched, rectified and accepted) and a second report of it by another person."""
    c, area, _ = plant
    first = report(c["supervisor"], area)
    c["supervisor"].post(f"/api/v1/hazards/{first}/dispatch", json={"assignee": "u_worker"})
    c["worker"].post(f"/api/v1/hazards/{first}/rectify", json={"note": "已关门"})
    assert c["safety_officer"].post(f"/api/v1/hazards/{first}/accept", json={}).get_json()["state"] == "closed"
    second = report(c["worker"], area, "配电室配电箱开着")
    return first, second


def test_mark_a_reported_hazard_as_a_duplicate(plant):
    from appliance.hazards.service import Hazard

    c, area, other_area = plant
    first, second = _two_reports(plant)
    report(c["worker"], other_area)                              # another area: not offered
    report(c["worker"], area, "消防栓被挡", category="消防")       # another category: not offered
    Hazard.update(photo="ab" * 32).where(Hazard.id == second).execute()   # the second report's photo
    r = c["supervisor"].get(f"/api/v1/hazards/{second}/duplicate-candidates")
    assert [h["id"] for h in r.get_json()["hazards"]] == [first]   # closed ones are offered too
    assert c["worker"].get(f"/api/v1/hazards/{second}/duplicate-candidates").status_code == 403

    url = f"/api/v1/hazards/{second}/duplicate"
    assert c["worker"].post(url, json={"duplicate_of": first, "note": "同一配电箱"}).status_code == 403
    assert c["supervisor"].post(url, json={"duplicate_of": first}).status_code == 422          # the note is required
    assert c["supervisor"].post(url, json={"duplicate_of": 9999, "note": "同一配电箱"}).status_code == 422
    r = c["supervisor"].post(url, json={"duplicate_of": first, "note": "同一配电箱"})
    assert r.status_code == 200, r.get_data(as_text=True)
    h = r.get_json()
    assert h["state"] == "closed" and h["duplicate_of"] == first and h["duplicate_note"] == "同一配电箱"
    assert h["danger_state"] == -1 and h["accepted_by"] is None and h["accepted_at"] is None  # never accepted
    # the reporter is kept and not penalised; the photo stays
    assert h["reporter"] == "user:u_worker" and h["rejections"] == 0 and h["photo"] == "ab" * 32
    ev = [e for e in events.read_after(0, 500) if e.type == "hazard.duplicate"]
    assert len(ev) == 1 and ev[0].entity_id == str(second) and ev[0].actor == "user:u_supervisor"
    assert ev[0].payload["duplicate_of"] == first and ev[0].payload["penalised"] is False
    # a second submit (a double tap that got through) changes nothing and records nothing
    assert c["supervisor"].post(url, json={"duplicate_of": first, "note": "同一配电箱"}).status_code == 409
    assert len([e for e in events.read_after(0, 500) if e.type == "hazard.duplicate"]) == 1
    # a duplicate is not an original; a dispatched hazard is not a duplicate
    third = report(c["worker"], area, "配电箱又开了")
    r = c["supervisor"].post(f"/api/v1/hazards/{third}/duplicate", json={"duplicate_of": second, "note": "同一"})
    assert r.status_code == 409 and "original" in r.get_json()["error"]["messages"]["en"]
    assert [x["id"] for x in c["supervisor"].get(f"/api/v1/hazards/{third}/duplicate-candidates")
            .get_json()["hazards"]] == [first]
    c["supervisor"].post(f"/api/v1/hazards/{third}/dispatch", json={"assignee": "u_worker"})
    r = c["supervisor"].post(f"/api/v1/hazards/{third}/duplicate", json={"duplicate_of": first, "note": "同一"})
    assert r.status_code == 409

    # the original's card shows the duplicate's report, note and photo
    html = c["supervisor"].get("/tablet/hazards").get_data(as_text=True)
    card = html.split(f'data-hazard="{first}"', 1)[1].split("</section>", 1)[0]
    assert f'data-duplicate="{second}"' in card and "配电室配电箱开着" in card and "同一配电箱" in card
    assert f"/api/v1/photos/{'ab' * 32}?thumb=1" in card


def test_a_duplicate_counts_in_no_rate_kpi_report_or_statistics(app, users, plant, as_role):
    from appliance.cockpit import report as DP
    from appliance.cockpit.export import render
    from appliance.hazards import service as H

    c, area, _ = plant
    first, second = _two_reports(plant)
    open_one = report(c["worker"], area, "另一处隐患", category="消防")
    now = events.now_ms()
    before = H.rates(now - DAY, now + DAY)
    kpi_before = c["admin"].get("/api/v1/cockpit?days=30").get_json()
    stats_before = DP.hazard_statistics(now - DAY, now + DAY, now + 1)
    c["supervisor"].post(f"/api/v1/hazards/{second}/duplicate", json={"duplicate_of": first, "note": "同一配电箱"})

    # rates: 3 reported (1 closed) became 2 reported, 1 closed — not 3 reported, 2 closed
    assert before["reported"] == 3 and before["closed"] == 1
    after = H.rates(now - DAY, now + DAY)
    assert after["reported"] == 2 and after["closed"] == 1 and after["rectification_rate"] == 0.5
    r = c["admin"].get("/api/v1/hazards/rates?days=30").get_json()
    assert r["reported"] == 2 and r["closed"] == 1 and r["rectification_rate"] == 0.5

    # cockpit KPIs
    kpi = c["admin"].get("/api/v1/cockpit?days=30").get_json()
    k = {x["key"]: x["value"] for x in kpi["kpis"]}
    assert kpi_before["counts"]["hazards_reported"] == 3
    assert kpi["counts"]["hazards_reported"] == 2 and kpi["counts"]["hazards_closed"] == 1
    assert k["rectification_rate"] == 0.5

    # the compliance report's hazard statistics: the duplicate is neither found nor open nor rectified
    assert stats_before["total"]["found"] == 3 and stats_before["total"]["open"] == 2
    s = DP.hazard_statistics(now - DAY, now + DAY, now + 1)
    assert s["total"]["found"] == 2 and s["total"]["rectified"] == 1 and s["total"]["open"] == 1
    assert s["categories"] == {"消防": 1, "电气": 1}

    # the Art. 14 statistics table (and its spreadsheet export, made from it)
    from appliance.core.people import site_timezone
    from appliance.hazards.stats import period_of

    year, quarter = period_of(now, site_timezone())
    st = H.statistics(year, quarter, site_timezone())
    assert st["total"]["found"] == 2 and st["total"]["open"] == 1
    r = c["safety_officer"].get(f"/api/v1/hazards/statistics?year={year}&quarter={quarter}&format=xlsx")
    assert r.status_code == 200
    rows = [list(x) for x in openpyxl.load_workbook(io.BytesIO(r.data)).active.iter_rows(values_only=True)]
    total = next(x for x in rows if x and x[0] == "合计 total")
    assert total[1:3] == [2, 1] and total[4] == 1, total       # found, rectified; open

    # the dual-prevention report file
    import datetime as dt
    from zoneinfo import ZoneInfo

    month = dt.datetime.fromtimestamp(now / 1000, ZoneInfo(site_timezone())).strftime("%Y-%m")
    data, figures = render("dual-prevention", month, "xlsx", now=now + 1)
    assert figures["hazards"]["total"]["found"] == 2 and figures["hazards"]["total"]["open"] == 1
    sheet = openpyxl.load_workbook(io.BytesIO(data))["隐患统计"]
    total = next(list(x) for x in sheet.iter_rows(values_only=True) if x and x[0] == "合计")
    assert total[1:3] == [2, 1], total
    assert open_one


def test_a_duplicate_reaches_the_regulator_as_deleted_not_accepted(app, users, plant):
    from sync import store
    from sync.mapping import Mapper, load_profile

    c, area, _ = plant
    first, second = _two_reports(plant)
    c["supervisor"].post(f"/api/v1/hazards/{second}/duplicate", json={"duplicate_of": first, "note": "同一配电箱"})
    seqs = [e.seq for e in events.read_after(0, 500) if e.entity_type == "hazard"]
    mapper = Mapper(load_profile("wwyt", "jiangsu"), {"credit_code": "9" * 18, "company_code": "123456789"},
                    "test-1", "Asia/Shanghai")
    tables, failures = mapper.map_rows(store.rows_by_seq(seqs))
    assert failures == []
    by_desc = {rec["DANGER_DESC"]: rec for rec, _, _ in tables["t_yhzlxx"].values()}
    orig, dup = by_desc["配电箱门未关，线缆裸露"], by_desc["配电室配电箱开着"]
    assert orig["DANGER_STATE"] == 9 and orig["delete_mark"] == 0
    assert dup["DANGER_STATE"] == -1 and dup["delete_mark"] == 1 and dup["CHECK_ACCEPT_TIME"] is None


# ---------------------------------------------------------------- 撤销重复: a duplicate closed by mistake


@pytest.mark.parametrize("role,duplicate_of,refused,who", [
    ("supervisor", 2, None, False),
    ("safety_officer", 2, None, False),
    ("admin", 2, None, False),
    ("worker", 2, "role", True),
    ("kiosk", 2, "role", True),
    ("supervisor", None, "not closed as a duplicate", False),
])
def test_check_undo_duplicate_table(role, duplicate_of, refused, who):
    if refused is None:
        assert HR.check_undo_duplicate(role, duplicate_of) == "reported"
        return
    with pytest.raises(HR.TransitionRefused) as exc:
        HR.check_undo_duplicate(role, duplicate_of)
    assert refused in exc.value.en and exc.value.who is who


def test_undo_a_duplicate_reopens_it_counted_and_dispatchable(plant):
    from appliance.hazards import service as H

    c, area, _ = plant
    first, second = _two_reports(plant)
    now = events.now_ms()
    c["supervisor"].post(f"/api/v1/hazards/{second}/duplicate", json={"duplicate_of": first, "note": "同一配电箱"})
    assert H.rates(now - DAY, now + DAY)["reported"] == 1
    url = f"/api/v1/hazards/{second}/undo-duplicate"
    assert c["worker"].post(url, json={"note": "不是同一个配电箱"}).status_code == 403
    r = c["supervisor"].post(url, json={})
    assert r.status_code == 422 and "note" in r.get_data(as_text=True)         # the reason is required
    assert c["supervisor"].post(f"/api/v1/hazards/{first}/undo-duplicate",
                                json={"note": "不是重复"}).status_code == 409     # not a duplicate
    r = c["safety_officer"].post(url, json={"note": "配电室与车间是两个配电箱"})
    assert r.status_code == 200, r.get_data(as_text=True)
    h = r.get_json()
    assert h["state"] == "reported" and h["duplicate_of"] is None and h["duplicate_note"] is None
    assert h["danger_state"] == -1 and h["reporter"] == "user:u_worker" and h["rejections"] == 0
    ev = [e for e in events.read_after(0, 500) if e.type == "hazard.duplicate_undone"]
    assert len(ev) == 1 and ev[0].entity_id == str(second) and ev[0].actor == "user:u_safety_officer"
    assert ev[0].payload["was_duplicate_of"] == first and ev[0].payload["note"] == "配电室与车间是两个配电箱"
    assert ev[0].payload["duplicate_note"] == "同一配电箱" and ev[0].payload["duplicate_by"] == "user:u_supervisor"
    # a second submit changes nothing and records nothing
    assert c["safety_officer"].post(url, json={"note": "配电室与车间是两个配电箱"}).status_code == 409
    assert len([e for e in events.read_after(0, 500) if e.type == "hazard.duplicate_undone"]) == 1
    # it counts again, it is no longer shown on the original, and it goes on through the loop
    after = H.rates(now - DAY, now + DAY)
    assert after["reported"] == 2 and after["closed"] == 1
    html = c["supervisor"].get("/tablet/hazards").get_data(as_text=True)
    card = html.split(f'data-hazard="{first}"', 1)[1].split("</section>", 1)[0]
    assert f'data-duplicate="{second}"' not in card
    assert c["supervisor"].post(f"/api/v1/hazards/{second}/dispatch",
                                json={"assignee": "u_worker"}).get_json()["state"] == "rectifying"


def test_an_undone_duplicate_reaches_the_regulator_as_not_deleted(app, users, plant):
    """The regulator upserts by id: the record deleted as a duplicate comes back, 待确认 (−1), delete_mark 0."""
    from sync import store
    from sync.mapping import Mapper, load_profile

    c, area, _ = plant
    first, second = _two_reports(plant)
    c["supervisor"].post(f"/api/v1/hazards/{second}/duplicate", json={"duplicate_of": first, "note": "同一配电箱"})
    mapper = Mapper(load_profile("wwyt", "jiangsu"), {"credit_code": "9" * 18, "company_code": "123456789"},
                    "test-1", "Asia/Shanghai")
    seq_dup = [e.seq for e in events.read_after(0, 500) if e.type == "hazard.duplicate"]
    tables, _ = mapper.map_rows(store.rows_by_seq(seq_dup))
    (deleted,) = [rec for rec, _, _ in tables["t_yhzlxx"].values()]
    assert deleted["delete_mark"] == 1
    c["supervisor"].post(f"/api/v1/hazards/{second}/undo-duplicate", json={"note": "不是同一个配电箱"})
    seq_undo = [e.seq for e in events.read_after(0, 500) if e.type == "hazard.duplicate_undone"]
    tables, failures = mapper.map_rows(store.rows_by_seq(seq_undo))
    assert failures == []
    (back,) = [rec for rec, _, _ in tables["t_yhzlxx"].values()]
    assert back["id"] == deleted["id"]                        # the same record, upserted
    assert back["DANGER_STATE"] == -1 and back["delete_mark"] == 0 and back["CHECK_ACCEPT_TIME"] is None
    assert back["DANGER_DESC"] == "配电室配电箱开着"
