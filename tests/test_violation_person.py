"""The person named on a confirmed PPE violation is on the violation row (issue 20, migration 0035):

- the migration adds the column and fills it from the vision.confirmed events' `person_id` (and gives the
  same scene's other violations, confirmed with it, the same person);
- confirming with a person stores them on every violation of the group; the card, the JSON and the CSV
  export show them by name (a wall board's token gets no name);
- naming (or correcting) the person after the review stores them on the group and offers them the PPE
  unit once (the training domain answers vision.person_named like vision.confirmed).
"""
from __future__ import annotations

import csv
import io
import json
import sqlite3

from appliance.core import db, events
from appliance.core import people as P
from appliance.training import courses as K
from appliance.vision import violations as V
from conftest import wait_until


def _number(name: str) -> int:
    return next(n for n, nm, _ in db.migrations() if nm == name)


def test_the_migration_backfills_the_person_from_the_confirm_events(tmp_path):
    path = tmp_path / "old.db"
    n = _number("violation_person")
    db.migrate(path, target=n - 1)
    c = sqlite3.connect(path)
    c.execute("INSERT INTO people (id, employee_no, name, kind, created_at, updated_at) VALUES (7, 'C7', '吴刚', 'contractor', 1, 1)")
    c.execute("INSERT INTO areas (id, code, name, created_at, updated_at) VALUES (1, 'GATE', '大门', 1, 1)")
    c.execute("INSERT INTO hazards (id, area_id, category, description, grade, state, reporter, reported_at, updated_at) "
              "VALUES (5, 1, '安全', 'x', 'general', 'reported', 'u', 1, 1)")
    row = ("cam", "gate", None, 1, 1, 0.9, "[1,2,3,4]", 64, 48, "s", "f")
    for vid, state, hazard in ((1, "confirmed", 5), (2, "confirmed", 5), (3, "confirmed", None), (4, "open", None),
                               (5, "confirmed", None)):
        c.execute("INSERT INTO violations (id, camera, zone, area, track, occurred_at, score, box, width, height, snapshot, "
                  "frame, state, hazard_id) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", (vid, *row, state, hazard))
    evs = [("vision.confirmed", "1", {"id": 1, "hazard_id": 5, "person_id": 7, "person": "吴刚"}),
           ("vision.confirmed", "2", {"id": 2, "hazard_id": 5, "with": 1}),        # the group's other one
           ("vision.confirmed", "3", {"id": 3}),                                    # nobody named
           ("vision.violation", "4", {"id": 4, "person_id": 7}),                    # not a confirm
           ("vision.confirmed", "5", {"id": 5, "person_id": 999})]                  # a person that is not there
    for seq, (typ, ent, payload) in enumerate(evs, 1):
        c.execute("INSERT INTO events (seq, id, type, occurred_at, recorded_at, actor, entity_type, entity_id, payload, "
                  "prev_hash, hash) VALUES (?, ?, ?, 1, 1, 't', 'violation', ?, ?, '', '')",
                  (seq, f"e{seq}", typ, ent, json.dumps(payload)))
    c.commit()
    c.close()
    assert db.migrate(path, target=n) == [f"{n:04d}_violation_person"]
    c = sqlite3.connect(path)
    got = dict(c.execute("SELECT id, person_id FROM violations ORDER BY id").fetchall())
    c.close()
    assert got == {1: 7, 2: 7, 3: None, 4: None, 5: None}


def jpeg() -> bytes:
    import cv2
    import numpy as np

    ok, buf = cv2.imencode(".jpg", np.full((48, 64, 3), 120, np.uint8))
    assert ok
    return buf.tobytes()


def record(config, track: int, camera: str = "cam-gate") -> V.Violation:
    meta = {"camera": camera, "zone": "gate", "area": "GATE", "track": track, "at_ms": events.now_ms(),
            "score": 0.91, "box": [1, 2, 30, 40], "width": 64, "height": 48}
    return V.record(meta, jpeg(), jpeg(), config.storage.data_dir)


def test_confirmed_with_a_person_on_every_row_shown_and_exported(app, as_role, config):
    P.create_area(P.AreaIn(code="GATE", name="大门"), actor="t")
    wu = P.create_person(P.PersonIn(employee_no="C2001", name="吴刚", kind="contractor", job="焊工", company="江东建设"), actor="t")
    a, b, alone = record(config, 1), record(config, 2), record(config, 3)
    sup = as_role("supervisor")
    r = sup.post(f"/api/v1/violations/{b.id}/confirm", json={"person_id": wu.id, "group": [a.id]})
    assert r.status_code == 200, r.get_data(as_text=True)
    assert r.get_json()["violation"]["person"] == {"id": wu.id, "name": "吴刚", "employee_no": "C2001",
                                                   "department": "", "company": "江东建设"}
    assert [V.get(i).person_id for i in (a.id, b.id)] == [wu.id, wu.id]
    assert sup.post(f"/api/v1/violations/{alone.id}/confirm", json={"note": "=HYPERLINK(\"http://x\")"}).status_code == 200
    assert V.get(alone.id).person_id is None
    listed = {v["id"]: v for v in sup.get("/api/v1/violations?state=confirmed").get_json()["violations"]}
    assert listed[a.id]["person"]["name"] == "吴刚" and listed[alone.id]["person"] is None
    # a wall board lists violations but gets no names
    board = as_role("kiosk").get("/api/v1/violations").get_json()["violations"]
    assert {v["id"] for v in board} == {a.id, b.id, alone.id} and all(v["person"] is None for v in board)
    assert as_role("kiosk").get(f"/api/v1/violations/{a.id}").get_json()["person"] is None
    # the card of a decided violation names the person
    page = sup.get("/tablet/violations").get_data(as_text=True)
    assert f'data-violation="{b.id}"' in page and "吴刚" in page.split(f'data-violation="{b.id}"', 1)[1].split("</section>", 1)[0]
    # the export, linked from the page
    assert 'href="/api/v1/violations?format=xlsx"' in page
    xlsx = sup.get("/api/v1/violations?format=xlsx")
    assert xlsx.status_code == 200 and xlsx.get_data()[:2] == b"PK"
    out = sup.get("/api/v1/violations?format=csv")
    assert out.status_code == 200 and out.mimetype == "text/csv"
    rows = list(csv.reader(io.StringIO(out.get_data().decode("utf-8-sig"))))
    head = rows[0]
    assert "人员 person" in head and "工号 employee no." in head
    by_id = {r[0]: r for r in rows[1:]}
    assert by_id[str(b.id)][head.index("人员 person")] == "吴刚"
    assert by_id[str(b.id)][head.index("工号 employee no.")] == "C2001"
    assert by_id[str(alone.id)][head.index("人员 person")] == ""
    assert by_id[str(alone.id)][head.index("备注 note")].startswith("'=")      # text, never a formula
    assert sup.get("/api/v1/violations?format=pdf").get_json()["error"]["details"][0]["key"] == "format"
    assert as_role("kiosk").get("/api/v1/violations?format=csv").get_data().decode("utf-8-sig").count("吴刚") == 0


def test_a_person_named_after_the_review_is_stored_and_offered_the_unit_once(app, as_role, config):
    from appliance.training.demo import minimal_pdf

    P.create_area(P.AreaIn(code="GATE", name="大门"), actor="t")
    wu = P.create_person(P.PersonIn(employee_no="C2001", name="吴刚", kind="contractor", job="焊工"), actor="t")
    liu = P.create_person(P.PersonIn(employee_no="E1004", name="刘洋", kind="employee"), actor="t")
    office = as_role("safety_officer")
    cid = office.post("/api/v1/training/courses", json={"title": "个体防护"}).get_json()["id"]
    up = office.post(f"/api/v1/training/courses/{cid}/units", content_type="multipart/form-data",
                     data={"file": (io.BytesIO(minimal_pdf("安全帽", ["系好下颏带"])), "a.pdf"), "title": "安全帽的正确佩戴",
                           "topic": "个体防护"})
    assert up.status_code == 201, up.get_data(as_text=True)
    a, b, opened = record(config, 1), record(config, 2), record(config, 3)
    sup = as_role("supervisor")
    assert sup.post(f"/api/v1/violations/{a.id}/confirm", json={"group": [b.id]}).status_code == 200
    # not on an open violation; not a person that is not there; a worker may not
    assert sup.post(f"/api/v1/violations/{opened.id}/person", json={"person_id": wu.id}).status_code == 409
    bad = sup.post(f"/api/v1/violations/{a.id}/person", json={"person_id": 999_999})
    assert bad.status_code == 422 and bad.get_json()["error"]["details"][0]["key"] == "person_id"
    assert as_role("worker").post(f"/api/v1/violations/{a.id}/person", json={"person_id": wu.id}).status_code == 403
    bus = events.Bus(poll_s=0.05)
    bus.subscribe(K.on_event)
    bus.start()
    try:
        r = sup.post(f"/api/v1/violations/{a.id}/person", json={"person_id": wu.id})
        assert r.status_code == 200 and r.get_json()["person"]["name"] == "吴刚"
        assert [V.get(i).person_id for i in (a.id, b.id)] == [wu.id, wu.id]
        # the same again: nothing new; corrected to 刘洋: he is offered it; cleared: nobody is
        assert sup.post(f"/api/v1/violations/{a.id}/person", json={"person_id": wu.id}).status_code == 200
        assert sup.post(f"/api/v1/violations/{a.id}/person", json={"person_id": liu.id}).status_code == 200
        assert sup.post(f"/api/v1/violations/{a.id}/person", json={"person_id": None}).status_code == 200
        assert V.get(b.id).person_id is None
        bus.poke()
        assert wait_until(lambda: bus.head >= events.head_seq(), 10)
    finally:
        bus.stop()
    named = [e.payload for e in events.read_after(0, 10_000) if e.type == "vision.person_named"]
    assert [x["person_id"] for x in named] == [wu.id, liu.id, None]
    assert named[0]["ids"] == [a.id, b.id] and named[1]["previous_person_id"] == wu.id
    offers = [(o.person_id, o.source_type, o.source_id) for o in K.Offer.select().order_by(K.Offer.id)]
    assert offers == [(wu.id, "vision.confirmed", str(a.id)), (liu.id, "vision.confirmed", str(a.id))]
