"""Courses (issue #20): a video and a PDF uploaded as units (size limit with a clear error, type from the
bytes, the video's length and thumbnail from the media worker, range requests, the PDF inline), assignment
by role, department, work type, contractor firm and person, progress per person and the supervisor's view,
a unit completed only by watching ≥ 90 % (checked on the server) or by opening and confirming the document,
and "learn now" offers from real hazard and PPE-violation events on the bus."""
from __future__ import annotations

import io
from pathlib import Path

import pytest

from appliance.config import load_config
from appliance.core import auth, events
from appliance.core import people as P
from appliance.core.errors import ValidationFailed
from appliance.training import courses as K
from appliance.training import media
from appliance.training import rules as R
from appliance.training.demo import minimal_pdf
from conftest import PASSWORD, As, wait_until, write_config


@pytest.fixture(scope="module")
def video_bytes(tmp_path_factory) -> bytes:
    path = tmp_path_factory.mktemp("video") / "v.webm"
    media.encode_demo_video(path, seconds=5)
    return path.read_bytes()


@pytest.fixture
def config(tmp_path):
    # a 1 MB document limit, so that the limit is testable; videos up to 2 MB
    return load_config(write_config(tmp_path / "data", extra="\n[training]\nvideo_max_mb = 2\ndocument_max_mb = 1\n"))


@pytest.fixture
def plant(app, users):
    liu = P.create_person(P.PersonIn(employee_no="E1004", name="刘洋", kind="employee", department="生产部", job="巡检员"), actor="t")
    wu = P.create_person(P.PersonIn(employee_no="C2001", name="吴刚", kind="contractor", job="焊工", company="江东建设"), actor="t")
    chen = P.create_person(P.PersonIn(employee_no="E1005", name="陈静", kind="employee", department="设备部", job="仪表工"), actor="t")
    auth.create_user(auth.UserIn(login="liuyang", password=PASSWORD, role="worker", person_id=liu.id), actor="t")
    auth.create_user(auth.UserIn(login="wugang", password=PASSWORD, role="worker", person_id=wu.id), actor="t")
    auth.create_user(auth.UserIn(login="sup", password=PASSWORD, role="supervisor", person_id=chen.id), actor="t")
    users = {**users, "liuyang": "liuyang", "wugang": "wugang", "sup": "sup"}
    return {"liu": liu.id, "wu": wu.id, "chen": chen.id, "as": lambda who: As(app, who, users)}


def upload(c, course_id: int, data: bytes, name: str, **fields):
    return c.post(f"/api/v1/training/courses/{course_id}/units",
                  data={"file": (io.BytesIO(data), name), **fields}, content_type="multipart/form-data")


def course_with_units(office, video_bytes) -> tuple[int, dict, dict]:
    cid = office.post("/api/v1/training/courses", json={"title": "个体防护"}).get_json()["id"]
    v = upload(office, cid, video_bytes, "helmet.webm", title="安全帽的正确佩戴", topic="个体防护")
    assert v.status_code == 201, v.get_data(as_text=True)
    d = upload(office, cid, minimal_pdf("受限空间作业安全须知", ["监护人不得离开"]), "a.pdf", title="受限空间须知", topic="受限空间")
    assert d.status_code == 201, d.get_data(as_text=True)
    assert media.wait_idle(60)
    return cid, v.get_json(), d.get_json()


def test_units_are_stored_probed_and_served_with_range_requests(plant, app, video_bytes):
    office = plant["as"]("safety_officer")
    cid, v, d = course_with_units(office, video_bytes)
    assert (v["kind"], v["mime"], v["media_state"]) == ("video", "video/webm", "pending")   # the request did not wait
    assert (d["kind"], d["mime"], d["media_state"]) == ("document", "application/pdf", "ready")
    course = office.get(f"/api/v1/training/courses/{cid}").get_json()
    video = course["units"][0]
    assert video["media_state"] == "ready" and video["duration_s"] == pytest.approx(5.0, abs=0.2)   # the worker's probe
    thumb = office.get(video["thumb_url"])
    assert thumb.status_code == 200 and thumb.mimetype == "image/jpeg" and thumb.data[:2] == b"\xff\xd8"
    # a phone seeks: a byte range, answered 206 with that range
    r = office.get(video["file_url"], headers={"Range": "bytes=100-199"})
    assert r.status_code == 206 and len(r.data) == 100 and r.data == video_bytes[100:200]
    assert r.headers["Content-Range"] == f"bytes 100-199/{len(video_bytes)}" and r.headers["Accept-Ranges"] == "bytes"
    whole = office.get(video["file_url"])
    assert whole.status_code == 200 and whole.data == video_bytes
    pdf = office.get(course["units"][1]["file_url"])
    assert pdf.mimetype == "application/pdf" and pdf.headers["Content-Disposition"].startswith("inline")
    # stored by hash under the data directory, nothing else left there
    files = sorted(p.name for p in (Path(app.config["APPLIANCE"].storage.data_dir) / "training").iterdir())
    assert len(files) == 3 and any(f.endswith(".thumb.jpg") for f in files) and not any(f.startswith(".upload") for f in files)
    types = [e.type for e in events.read_after(0, 500) if e.type.startswith("course.")]
    assert types == ["course.created", "course.unit_added", "course.unit_added", "course.unit_media"]


def test_upload_limits_and_types_are_clear_errors_that_keep_nothing(plant, app, video_bytes):
    office = plant["as"]("safety_officer")
    cid = office.post("/api/v1/training/courses", json={"title": "大文件"}).get_json()["id"]
    big = b"\x1a\x45\xdf\xa3" + b"\0" * (3 * 1024 * 1024)       # a "video" over the 2 MB limit
    r = upload(office, cid, big, "big.webm", title="太大")
    err = r.get_json()["error"]
    assert r.status_code == 413 and err["details"][0]["key"] == "file"
    assert "2 MB" in err["messages"]["en"] and "2 MB" in err["messages"]["zh-CN"]
    doc = b"%PDF-1.4\n" + b"x" * (1024 * 1024 + 10)                # a PDF over the 1 MB document limit
    r = upload(office, cid, doc, "big.pdf", title="太大")
    assert r.status_code == 413 and "1 MB" in r.get_json()["error"]["messages"]["en"]
    r = upload(office, cid, b"MZ\x90\x00 not a video", "virus.webm", title="假视频")
    assert r.status_code == 422 and r.get_json()["error"]["details"][0]["key"] == "file"
    assert plant["as"]("worker").post(f"/api/v1/training/courses/{cid}/units").status_code == 403
    assert K.Unit.select().count() == 0
    leftovers = [p.name for p in (Path(app.config["APPLIANCE"].storage.data_dir) / "training").iterdir() ]
    assert leftovers == []
    # a damaged video is refused by the probe in its own process: the unit says why, the appliance runs on
    r = upload(office, cid, video_bytes[:200], "cut.webm", title="损坏视频")
    assert r.status_code == 201 and media.wait_idle(60)
    u = K.get_unit(r.get_json()["id"])
    assert u.media_state == "failed" and u.media_error


@pytest.mark.parametrize("kind, target, person, hit", [
    ("role", "worker", {"id": 1, "role": "worker"}, True),
    ("role", "worker", {"id": 1, "role": None}, False),            # no login: no role
    ("department", "生产部", {"id": 1, "department": "生产部"}, True),
    ("department", "生产部", {"id": 1, "department": ""}, False),
    ("work_type", "焊工", {"id": 1, "job": "焊工"}, True),           # work type = the person's job (工种)
    ("company", "江东建设", {"id": 1, "company": "江东建设"}, True),  # a contractor firm = the person's company
    ("company", "江东建设", {"id": 1, "company": "临江安装"}, False),
    ("person", "7", {"id": 7}, True),
    ("person", "7", {"id": 8}, False),
])
def test_who_an_assignment_reaches(kind, target, person, hit):
    assert R.assignment_matches(kind, target, person) is hit


def test_assignment_progress_and_the_supervisors_view(plant, video_bytes):
    office = plant["as"]("safety_officer")
    cid, v, d = course_with_units(office, video_bytes)
    for kind, target in [("work_type", "巡检员"), ("company", "江东建设")]:
        r = office.post("/api/v1/training/assignments", json={"item_id": cid, "target_kind": kind, "target": target,
                                                              "due_on": "2030-01-31"})
        assert r.status_code == 201 and r.get_json()["people"] == 1
    r = office.post("/api/v1/training/assignments", json={"item_id": cid, "target_kind": "work_type", "target": "巡检员"})
    assert r.status_code == 409
    r = office.post("/api/v1/training/assignments", json={"item_id": cid, "target_kind": "person", "target": "9999"})
    assert r.status_code == 422 and r.get_json()["error"]["details"][0]["key"] == "target"
    exam_r = office.post("/api/v1/training/assignments", json={"item_kind": "exam", "item_id": 1, "target_kind": "role", "target": "worker"})
    assert exam_r.status_code == 404                                       # no exam 1 here
    assert plant["as"]("worker").post("/api/v1/training/assignments", json={}).status_code == 403
    liu = plant["as"]("liuyang")
    mine = liu.get("/api/v1/training/courses").get_json()["courses"]
    assert [(c["id"], c["assigned"], c["due_on"], c["done"], c["total"]) for c in mine] == [(cid, True, "2030-01-31", 0, 2)]
    rows = {r["person"]: r for r in office.get(f"/api/v1/training/progress?course_id={cid}").get_json()["progress"]}
    assert set(rows) == {"刘洋", "吴刚"}                                     # 陈静 (设备部, 仪表工) is not reached
    assert rows["刘洋"]["state"] == "not_started" and rows["刘洋"]["last_at"] is None
    # 刘洋 reads the document: its file opened, then confirmed
    assert liu.post(f"/api/v1/training/units/{d['id']}/confirm").status_code == 409     # not opened yet
    assert liu.get(f"/api/v1/training/units/{d['id']}/file").status_code == 200
    assert liu.post(f"/api/v1/training/units/{d['id']}/confirm").get_json()["done"] is True
    rows = {r["person"]: r for r in office.get("/api/v1/training/progress").get_json()["progress"]}
    assert (rows["刘洋"]["done"], rows["刘洋"]["total"], rows["刘洋"]["state"]) == (1, 2, "started")
    assert rows["刘洋"]["last_at"] is not None
    assert plant["as"]("worker").get("/api/v1/training/progress").status_code == 403
    sup_page = plant["as"]("sup").get("/tablet/training/progress").get_data(as_text=True)
    assert "刘洋" in sup_page and "1/2" in sup_page


def test_a_video_is_done_only_when_90_percent_was_played(plant, video_bytes):
    office = plant["as"]("safety_officer")
    cid, v, _ = course_with_units(office, video_bytes)
    liu = plant["as"]("liuyang")
    assert liu.post(f"/api/v1/training/units/{v['id']}/played", json={"played": [[0, 1]]}).status_code == 409   # not opened
    opened = liu.post(f"/api/v1/training/units/{v['id']}/open").get_json()["opened_at"]
    assert liu.post(f"/api/v1/training/units/{v['id']}/played", json={"played": [[3, 1]]}).status_code == 422
    pid = plant["liu"]
    p = K.report_played(v["id"], pid, K.PlayedIn(played=[[0, 2], [1.5, 3.0]]), actor="t", now_ms=opened + 10_000)
    assert (p.watched_s, p.completed_at) == (3.0, None)
    # seeking past the middle does not count what was skipped
    p = K.report_played(v["id"], pid, K.PlayedIn(played=[[4.0, 4.4]]), actor="t", now_ms=opened + 12_000)
    assert p.watched_s == pytest.approx(3.4) and p.completed_at is None
    p = K.report_played(v["id"], pid, K.PlayedIn(played=[[3.0, 4.0], [4.4, 4.6]]), actor="t", now_ms=opened + 14_000)
    assert p.watched_s == pytest.approx(4.6) and p.completed_at is not None        # 92 % of 5 s
    done = [e for e in events.read_after(0, 1000) if e.type == "course.unit_completed"]
    assert [(e.entity_id, e.payload["person_id"]) for e in done] == [(str(v["id"]), pid)]
    # a page claiming more than it could have played since it opened the unit is refused, and nothing changes
    # (a minute-long video here: 60 s claimed 10 s after opening, at most 2x speed)
    K.Unit.update(duration_s=60.0).where(K.Unit.id == v["id"]).execute()
    wu_opened = K.open_unit(v["id"], plant["wu"], actor="t").opened_at
    with pytest.raises(ValidationFailed) as exc:
        K.report_played(v["id"], plant["wu"], K.PlayedIn(played=[[0, 60]]), actor="t", now_ms=wu_opened + 10_000)
    assert exc.value.details == [{"key": "played"}]
    assert K.Progress.get((K.Progress.person_id == plant["wu"]) & (K.Progress.unit_id == v["id"])).watched_s == 0


@pytest.mark.parametrize("ranges, duration, merged, seconds", [
    ([[0, 2], [1, 3]], 5, [[0, 3]], 3),
    ([[3, 4], [0, 1]], 5, [[0, 1], [3, 4]], 2),
    ([[0, 9]], 5, [[0, 5]], 5),                 # clipped to the video's length
    ([[2, 2], [-1, 0.5]], 5, [[0, 0.5]], 0.5),  # empty ranges dropped, negatives clipped
])
def test_played_ranges_merge(ranges, duration, merged, seconds):
    got = R.merge_ranges(ranges, duration)
    assert got == merged and R.covered(got) == seconds


@pytest.mark.parametrize("watched, duration, done", [
    (4.5, 5.0, True), (4.4, 5.0, False), (0, None, False), (100, None, False), (90, 100, True),
])
def test_video_done_at_90_percent(watched, duration, done):
    assert R.video_done(watched, duration) is done


@pytest.mark.parametrize("before, after, elapsed, ok", [
    (0, 10, 10, True), (0, 25, 10, True), (0, 26, 10, False), (0, 5, 0, True), (0, 6, 0, False),
])
def test_what_a_page_could_have_played(before, after, elapsed, ok):
    # up to 2x playback speed and 5 s of slack for clocks and the network
    assert R.plausible_watch(before, after, elapsed) is ok


def test_related_units_prefer_the_persons_work_type():
    units = [(1, "个体防护", ""), (2, "个体防护", "焊工"), (3, "个体防护", "电工"), (4, "动火作业", "")]
    assert R.related_units(units, ("个体防护",), "焊工") == [2, 1]
    assert R.related_units(units, ("个体防护",), "巡检员") == [1]
    assert R.related_units(units, ("动火作业", "个体防护"), "") == [4, 1]
    assert R.related_units(units, (), "焊工") == []
    assert R.learn_now_topics("vision.confirmed") == ("个体防护",)
    assert R.learn_now_topics("hazard.dispatched", "消防")[0] == "动火作业"


def test_learn_now_from_real_hazard_and_violation_events_on_the_bus(plant, video_bytes):
    office = plant["as"]("safety_officer")
    _, v, d = course_with_units(office, video_bytes)
    area = P.create_area(P.AreaIn(code="TANK", name="罐区"), actor="t")
    bus = events.Bus(poll_s=0.05)
    bus.subscribe(K.on_event)
    bus.start()
    try:
        # a hazard of the 安全 category dispatched to 刘洋: the PPE unit is offered to him
        h = office.post("/api/v1/hazards", json={"area_id": area.id, "category": "安全", "description": "未戴安全帽进入罐区"})
        assert h.status_code == 201, h.get_data(as_text=True)
        hid = h.get_json()["id"]
        r = office.post(f"/api/v1/hazards/{hid}/dispatch", json={"assignee": "liuyang"})
        assert r.status_code == 200, r.get_data(as_text=True)
        bus.poke()
        assert wait_until(lambda: K.Offer.select().where(K.Offer.person_id == plant["liu"]).exists(), 10)
        # a confirmed PPE violation naming 吴刚 (the vision domain's event type, published on the log)
        events.record("vision.confirmed", actor="user:u_supervisor", entity=("violation", 42),
                      payload={"id": 42, "camera": "cam-1", "zone": "gate", "hazard_id": hid, "person_id": plant["wu"]})
        bus.poke()
        assert wait_until(lambda: K.Offer.select().where(K.Offer.person_id == plant["wu"]).exists(), 10)
        # an unrelated event offers nothing; the same event twice offers once
        events.record("vision.confirmed", actor="t", entity=("violation", 42), payload={"id": 42, "person_id": plant["wu"]})
        events.record("gas.reading", actor="t", payload={"person_id": plant["chen"]})
        bus.poke()
        assert wait_until(lambda: bus.head >= events.head_seq(), 10)
    finally:
        bus.stop()
    # a 安全 hazard: the PPE unit first, then the confined-space one; the violation: the PPE unit only
    offers = [(o.person_id, o.unit_id, o.source_type, o.source_id) for o in K.Offer.select().order_by(K.Offer.id)]
    assert offers == [(plant["liu"], v["id"], "hazard.dispatched", str(hid)), (plant["liu"], d["id"], "hazard.dispatched", str(hid)),
                      (plant["wu"], v["id"], "vision.confirmed", "42")]
    offered = [e for e in events.read_after(0, 1000) if e.type == "course.learn_offered"]
    assert len(offered) == 3 and offered[0].payload["topics"][0] == "个体防护"
    # in his inbox, on the page too; each gone when its unit is done
    liu = plant["as"]("liuyang")
    inbox = liu.get("/api/v1/training/learn-now").get_json()["offers"]
    assert [o["unit"] for o in inbox] == ["安全帽的正确佩戴", "受限空间须知"]
    assert "安全帽的正确佩戴" in liu.get("/tablet/training").get_data(as_text=True)
    opened = liu.post(f"/api/v1/training/units/{v['id']}/open").get_json()["opened_at"]
    K.report_played(v["id"], plant["liu"], K.PlayedIn(played=[[0, 5]]), actor="t", now_ms=opened + 6000)
    assert [o["unit"] for o in liu.get("/api/v1/training/learn-now").get_json()["offers"]] == ["受限空间须知"]
    # the shift offers a unit by hand (a violation it saw): recorded as an event too
    r = plant["as"]("sup").post("/api/v1/training/learn-now", json={"person_id": plant["chen"], "topic": "受限空间",
                                                                     "reason": "未办证进入受限空间"})
    assert r.status_code == 201 and len(r.get_json()["offered"]) == 1
    assert plant["as"]("liuyang").post("/api/v1/training/learn-now", json={"person_id": plant["chen"], "topic": "x"}).status_code == 403


def test_the_demo_pdf_is_a_well_formed_pdf():
    pdf = minimal_pdf("标题", ["第一行", "line two"])
    assert pdf.startswith(b"%PDF-1.4") and pdf.rstrip().endswith(b"%%EOF")
    xref = int(pdf.rsplit(b"startxref", 1)[1].split()[0])
    assert pdf[xref:xref + 4] == b"xref"
    # every object offset in the table points at that object
    table = pdf[xref:].split(b"\n")[3:10]
    for i, row in enumerate(table, 1):
        off = int(row.split()[0])
        assert pdf[off:].startswith(f"{i} 0 obj".encode())
    assert "标题".encode("utf-16-be").hex().upper().encode() in pdf


def jpeg() -> bytes:
    import cv2
    import numpy as np

    ok, buf = cv2.imencode(".jpg", np.full((48, 64, 3), 120, np.uint8))
    assert ok
    return buf.tobytes()


def test_learn_now_for_the_person_named_when_a_violation_is_confirmed(plant, video_bytes, config):
    """The real path: a violation the vision process recorded, confirmed on the API with the person picked by
    name on the tablet page; the vision.confirmed event names them and the bus brings them the PPE unit."""
    from appliance.vision import violations as V

    office = plant["as"]("safety_officer")
    _, v, _ = course_with_units(office, video_bytes)
    P.create_area(P.AreaIn(code="GATE", name="大门"), actor="t")

    def violation(track: int) -> V.Violation:
        meta = {"camera": "cam-gate", "zone": "gate", "area": "GATE", "track": track, "at_ms": events.now_ms(),
                "score": 0.91, "box": [1, 2, 30, 40], "width": 64, "height": 48}
        return V.record(meta, jpeg(), jpeg(), config.storage.data_dir)

    seen = violation(1)
    sup = plant["as"]("sup")
    page = sup.get("/tablet/violations").get_data(as_text=True)
    # the picker searches the server by name (the people are not listed in the page); the id is what is sent
    assert 'type="hidden" name="person_id"' in page and 'role="combobox"' in page and "吴刚" not in page
    found = sup.get("/api/v1/people/search?q=wg").get_json()["people"]
    assert [(p["name"], p["company"], p["job"]) for p in found] == [("吴刚", "江东建设", "焊工")]
    assert 'data-omit="area_id person_id"' in page      # a rejection sends no person
    bad = sup.post(f"/api/v1/violations/{seen.id}/confirm", json={"person_id": 999_999})
    assert bad.status_code == 422 and bad.get_json()["error"]["details"][0]["key"] == "person_id"
    bus = events.Bus(poll_s=0.05)
    bus.subscribe(K.on_event)
    bus.start()
    try:
        r = sup.post(f"/api/v1/violations/{seen.id}/confirm", json={"person_id": plant["wu"], "note": "未系下颏带"})
        assert r.status_code == 200, r.get_data(as_text=True)
        assert "人员：吴刚（江东建设）" in r.get_json()["hazard"]["description"]
        # another, confirmed without a person: a hazard, and nobody is offered anything for it
        anon = violation(2)
        assert sup.post(f"/api/v1/violations/{anon.id}/confirm", json={}).status_code == 200
        bus.poke()
        assert wait_until(lambda: K.Offer.select().where(K.Offer.person_id == plant["wu"]).exists(), 10)
        assert wait_until(lambda: bus.head >= events.head_seq(), 10)
    finally:
        bus.stop()
    confirmed = [e.payload for e in events.read_after(0, 1000) if e.type == "vision.confirmed"]
    assert (confirmed[0]["person_id"], confirmed[0]["person"]) == (plant["wu"], "吴刚")
    assert "person_id" not in confirmed[1]
    offers = [(o.person_id, o.unit_id, o.source_type, o.source_id) for o in K.Offer.select().order_by(K.Offer.id)]
    assert offers == [(plant["wu"], v["id"], "vision.confirmed", str(seen.id))]
    inbox = plant["as"]("wugang").get("/api/v1/training/learn-now").get_json()["offers"]
    assert [o["unit"] for o in inbox] == ["安全帽的正确佩戴"] and str(seen.id) in inbox[0]["reason"]
