"""Shared answers (core/answers.py): the list fifty boards ask for is built once per change of the event log,
never served stale after a change, rebuilt when its time is up, and never shared between two databases."""
from __future__ import annotations

import threading
import time

import pytest

from appliance.core import answers, db, events


@pytest.fixture
def counted(app):
    built = []

    def build():
        built.append(1)
        time.sleep(0.05)   # long enough for every concurrent caller to arrive while it is built
        return {"n": len(built)}

    answers.forget()
    with app.app_context():
        yield built, build


def test_built_once_for_many_callers_until_something_is_recorded(counted):
    built, build = counted
    out: list[bytes] = []
    threads = [threading.Thread(target=lambda: out.append(answers.shared_json("k", build).get_data()))
               for _ in range(20)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    db.database.close()
    assert len(built) == 1 and set(out) == {b'{"n":1}'}
    assert answers.shared_json("k", build).get_data() == b'{"n":1}'
    assert answers.shared_json("other", build).get_data() == b'{"n":2}'   # its own key
    events.record("test.changed", actor="test")
    assert answers.shared_json("k", build).get_data() == b'{"n":3}'        # a change: built again at once


def test_an_answer_lives_at_most_its_time(counted):
    built, build = counted
    assert answers.shared_json("k", build, ttl_s=0.2).get_data() == b'{"n":1}'
    assert answers.shared_json("k", build, ttl_s=0.2).get_data() == b'{"n":1}'
    time.sleep(0.25)   # a deadline may have passed: overdue is worked out again
    assert answers.shared_json("k", build, ttl_s=0.2).get_data() == b'{"n":2}'


def test_answers_no_one_can_get_are_not_kept(counted):
    """An answer of an earlier head of the log, or whose time is up, is dropped when the next one is stored,
    instead of staying until 64 are kept (a dozen dead 370 KB hazard lists under bench/load.py)."""
    built, build = counted
    for _ in range(5):
        answers.shared_json("k", build)
        events.record("test.changed", actor="test")
    answers.shared_json("k", build)
    assert len(built) == 6 and len(answers._answers) == 1           # only the current head's
    answers.shared_json("short", build, ttl_s=0.05)
    time.sleep(0.1)
    answers.shared_json("other", build)
    assert sorted(k[3] for k in answers._answers) == ["json:k", "json:other"]   # "short" was out of time


def test_a_scoped_answer_is_kept_while_only_other_events_are_recorded(counted):
    """The risk register is built from records that change only with risk.* events: the gas readings that move
    the log's head every second must not throw it away, a risk event must, at once."""
    built, build = counted
    assert answers.shared_json("reg", build, ttl_s=600, scope="risk.").get_data() == b'{"n":1}'
    for t in ("gas.reading", "riskless.thing", "ris.k", "hazard.reported"):
        events.record(t, actor="test")
    assert answers.shared_json("reg", build, ttl_s=600, scope="risk.").get_data() == b'{"n":1}'
    answers.shared_json("k", build)                      # an answer of the whole log's head does not drop it
    assert answers.shared_json("reg", build, ttl_s=600, scope="risk.").get_data() == b'{"n":1}'
    events.record("risk.measure_added", actor="test")
    assert answers.shared_json("reg", build, ttl_s=600, scope="risk.").get_data() == b'{"n":3}'
    assert [k[3] for k in answers._answers].count("json:reg") == 1   # the older version is dropped
    assert events.head_seq_of("risk.") == events.head_seq() and events.head_seq_of("hazard.") < events.head_seq()
    assert events.head_seq_of("nothing.") == 0


def test_the_newest_seq_of_a_scope_follows_the_log_event_by_event(counted):
    """head_seq_of remembers the head it looked at and then reads only the newer events: it must equal the
    whole log's answer after every kind of write, in and out of the scope, one or several at a time."""
    import random

    rnd = random.Random(14)

    def truth(prefix):
        row = db.database.execute_sql("SELECT max(seq) FROM events WHERE substr(type, 1, ?) = ?",
                                      (len(prefix), prefix)).fetchone()
        return row[0] or 0

    scopes = ("hazard.", "risk.", "area.", "contractor.")
    for _ in range(40):
        with events.recording("test") as rec:
            for _ in range(rnd.randint(1, 3)):
                rec.emit(rnd.choice(("hazard.reported", "risk.measure_added", "alarm.raised", "hazards.x",
                                     "area.updated", "riskless.y")))
        for p in rnd.sample(scopes, rnd.randint(1, len(scopes))):   # not every scope is asked every time
            assert events.head_seq_of(p) == truth(p), p
    for p in scopes:
        assert events.head_seq_of(p) == truth(p), p


def test_an_answer_of_several_scopes_is_kept_until_any_of_them_moves(counted):
    """The hazard list is built from hazards and the firms named on them: a gas event keeps it, a hazard or a
    firm event throws it away."""
    built, build = counted
    scope = ("hazard.", "contractor.")
    assert answers.shared_json("hz", build, ttl_s=600, scope=scope).get_data() == b'{"n":1}'
    events.record("alarm.raised", actor="test")
    assert answers.shared_json("hz", build, ttl_s=600, scope=scope).get_data() == b'{"n":1}'
    events.record("contractor.firm_updated", actor="test")
    assert answers.shared_json("hz", build, ttl_s=600, scope=scope).get_data() == b'{"n":2}'
    events.record("hazard.reported", actor="test")
    assert answers.shared_json("hz", build, ttl_s=600, scope=scope).get_data() == b'{"n":3}'
    assert [k[3] for k in answers._answers].count("json:hz") == 1


def test_two_databases_do_not_share_answers(counted, tmp_path):
    built, build = counted
    assert answers.shared_json("k", build).get_data() == b'{"n":1}'
    first = db.database.database
    other = tmp_path / "other.db"
    db.migrate(other)
    db.database.init(str(other), pragmas=db.PRAGMAS)
    try:
        assert events.head_seq() == 0
        assert answers.shared_json("k", build).get_data() == b'{"n":2}'
    finally:
        db.database.close()
        db.database.init(first, pragmas=db.PRAGMAS)


def test_a_reported_hazard_is_on_the_board_list_at_once(app, users, as_role):
    admin, worker, kiosk = as_role("admin"), as_role("worker"), as_role("kiosk")
    area = admin.post("/api/v1/areas", json={"code": "TANK", "name": "储罐区",
                                             "polygon": [[0, 0], [9, 0], [9, 9]]}).get_json()["id"]
    assert kiosk.get("/api/v1/hazards?state=reported").get_json()["hazards"] == []
    r = worker.post("/api/v1/hazards", json={"area_id": area, "category": "电气", "description": "配电箱门未关"})
    assert r.status_code == 201
    listed = kiosk.get("/api/v1/hazards?state=reported").get_json()["hazards"]
    assert [h["id"] for h in listed] == [r.get_json()["id"]] and listed[0]["description"] == "配电箱门未关"
    assert kiosk.get("/api/v1/hazards?state=closed").get_json()["hazards"] == []
    assert any(a["area_id"] == area and a["open_hazards"] == 1 for a in kiosk.get("/api/v1/risk/map").get_json()["areas"])
