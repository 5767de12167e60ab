"""The generic Idempotency-Key guard (issue 15, "every form idempotent"): the first request runs and its
answer is kept; a repeat gets the kept answer; a repeat while the first runs gets 409; another body under the
same key gets 422; another user's key is theirs; a kept answer expires after 24 h; the guard's own trouble
(a locked database, a full disk) never turns a good write into a 500."""
from __future__ import annotations

import sqlite3
import threading

import pytest
from flask import jsonify, request

from appliance.core import db, events, storage
from appliance.core import idempotency as I
from appliance.core.access import require
from appliance.core.errors import Conflict
from conftest import As

KEY = "f-0123456789abcdef"
PATH = "/api/v1/test-idem/things"

# --------------------------------------------------------------------------------- the pure decision

NOW = 100 * I.TTL_MS


@pytest.mark.parametrize("row, fp, verdict", [
    (None, "a", "run"),                                              # first
    (("a", "done", NOW - 1000), "a", "replay"),                      # repeat
    (("a", "running", NOW - 1000), "a", "in_flight"),                # repeat while the first runs
    (("a", "done", NOW - 1000), "b", "mismatch"),                    # other body, same key
    (("a", "running", NOW - 1000), "b", "mismatch"),
    (("a", "done", NOW - I.TTL_MS + 1), "a", "replay"),              # just inside 24 h
    (("a", "done", NOW - I.TTL_MS), "a", "run"),                     # expired: a new request
    (("a", "done", NOW - I.TTL_MS), "b", "run"),
    (("a", "running", NOW - I.STALE_MS + 1), "a", "in_flight"),
    (("a", "running", NOW - I.STALE_MS), "a", "run"),                # abandoned by a request that died
], ids=["first", "replay", "in-flight", "other-body", "other-body-running", "inside-ttl", "expired",
        "expired-other-body", "running-fresh", "running-stale"])
def test_decide(row, fp, verdict):
    assert I.decide(row, fp, NOW) == verdict


@pytest.mark.parametrize("key, ok", [
    (None, True), ("", True), ("f-0123456789abcdef", True), ("abc.DEF:1_2-3", True), ("x" * 80, True),
    ("short", False), ("x" * 81, False), ("空格 不行 key 1234", False), ("a/b/c/d/e/f", False),
])
def test_key_charset_and_length(key, ok):
    if ok:
        assert I.check_key(key) == (key or None)
    else:
        with pytest.raises(Exception, match="Idempotency-Key"):
            I.check_key(key)


# --------------------------------------------------------------------------------- through the app


@pytest.fixture
def thing(app, users):
    """A write endpoint that counts its runs; `gate` holds a run until set, `fail` makes the next run 409."""
    state = {"n": 0, "gate": None, "fail": False, "entered": threading.Event()}

    @require("hazards.report")
    def make_thing(i: int | None = None):
        state["entered"].set()
        if state["gate"] is not None:
            state["gate"].wait(10)
        if state["fail"]:
            state["fail"] = False
            raise Conflict("稍后再试", "try later")
        state["n"] += 1
        return jsonify({"n": state["n"], "name": (request.get_json(silent=True) or {}).get("name")}), 201

    app.add_url_rule(PATH, "test_make_thing", make_thing, methods=["POST"])
    app.add_url_rule(PATH + "/<int:i>", "test_patch_thing", make_thing, methods=["PATCH", "DELETE"])
    return state


def post(c: As, body: dict, key: str | None = KEY, path: str = PATH, method: str = "POST"):
    return c.open(method, path, json=body, headers={"Idempotency-Key": key} if key else {})


def test_first_then_replay(as_role, thing):
    w = as_role("worker")
    first = post(w, {"name": "甲"})
    assert first.status_code == 201 and first.get_json() == {"n": 1, "name": "甲"}
    assert I.REPLAYED not in first.headers
    again = post(w, {"name": "甲"})
    # the kept answer, marked as a replay; created the first time, so 200 now (the hazard report's convention)
    assert again.status_code == 200 and again.get_json() == {"n": 1, "name": "甲"}
    assert again.headers[I.REPLAYED] == "true"
    assert thing["n"] == 1
    assert post(w, {"name": "甲"}, key="f-another-key-0001").get_json()["n"] == 2   # a new key: a new request
    assert post(w, {"name": "甲"}, key=None).get_json()["n"] == 3                  # no key: unguarded
    assert post(w, {"name": "甲"}, key=None).get_json()["n"] == 4


def test_methods_and_paths_are_separate(as_role, thing):
    w = as_role("worker")
    assert post(w, {}, path=PATH + "/1", method="PATCH").status_code == 201
    assert post(w, {}, path=PATH + "/1", method="DELETE").status_code == 201   # same key, other method
    assert post(w, {}, path=PATH + "/2", method="PATCH").status_code == 201     # same key, other path
    assert post(w, {}, path=PATH + "/1", method="PATCH").status_code == 200     # replay
    assert thing["n"] == 3


def test_other_body_under_the_same_key_is_refused(as_role, thing):
    w = as_role("worker")
    assert post(w, {"name": "甲"}).status_code == 201
    r = post(w, {"name": "乙"})
    assert r.status_code == 422 and r.get_json()["error"]["code"] == "idempotency_key_reused"
    msgs = r.get_json()["error"]["messages"]
    assert "Idempotency-Key" in msgs["zh-CN"] and "Idempotency-Key" in msgs["en"]
    r = w.open("POST", PATH + "?dry_run=1", json={"name": "甲"}, headers={"Idempotency-Key": KEY})
    assert r.status_code == 422                                                   # the query is part of it
    assert thing["n"] == 1


def test_other_user_same_key_is_their_own(as_role, thing):
    w, s = as_role("worker"), as_role("supervisor")
    assert post(w, {"name": "甲"}).get_json()["n"] == 1
    other = post(s, {"name": "甲"})
    assert other.status_code == 201 and other.get_json()["n"] == 2 and I.REPLAYED not in other.headers
    assert post(s, {"name": "乙"}).status_code == 422   # and under it the supervisor's own body counts
    assert thing["n"] == 2


def test_repeat_while_the_first_runs_gets_409(app, users, thing):
    thing["gate"] = threading.Event()
    w1, w2 = As(app, "worker", users), As(app, "worker", users)   # two tabs of one user
    out = {}
    t = threading.Thread(target=lambda: out.setdefault("first", post(w1, {"name": "甲"})))
    t.start()
    try:
        assert thing["entered"].wait(10)
        r = post(w2, {"name": "甲"})
        assert r.status_code == 409 and r.get_json()["error"]["code"] == "idempotency_in_flight"
        assert r.headers["Retry-After"] == "1"
        assert set(r.get_json()["error"]["messages"]) == {"zh-CN", "en"}
    finally:
        thing["gate"].set()
        t.join(10)
    thing["gate"] = None
    assert out["first"].status_code == 201
    assert post(w2, {"name": "甲"}).status_code == 200 and thing["n"] == 1


def test_a_failed_answer_is_not_kept(as_role, thing):
    w = as_role("worker")
    thing["fail"] = True
    assert post(w, {"name": "甲"}).status_code == 409   # the view's own conflict: nothing was written
    assert post(w, {"name": "甲"}).status_code == 201   # the resend runs
    assert thing["n"] == 1
    # refused by permission: not kept either, and the key still works for an allowed caller
    k = as_role("kiosk")
    assert post(k, {"name": "甲"}, key="f-kiosk-key-0001").status_code == 403
    assert db.database.execute_sql("SELECT count(*) FROM idempotency_keys WHERE key = 'f-kiosk-key-0001'").fetchone()[0] == 0


def test_bad_key_is_refused_before_the_write(as_role, thing):
    w = as_role("worker")
    r = post(w, {"name": "甲"}, key="bad key")
    assert r.status_code == 422 and "Idempotency-Key" in r.get_json()["error"]["messages"]["en"]
    assert thing["n"] == 0
    assert w.get("/api/v1/health", headers={"Idempotency-Key": "bad key"}).status_code != 422   # reads ignore it


def test_kept_answers_expire_after_24_hours_and_are_pruned(as_role, thing):
    w = as_role("worker")
    assert post(w, {"name": "甲"}).status_code == 201
    db.database.execute_sql("UPDATE idempotency_keys SET created_at = created_at - ?", (I.TTL_MS,))
    again = post(w, {"name": "甲"})
    assert again.status_code == 201 and again.get_json()["n"] == 2   # a day later the key is a new request
    assert post(w, {"name": "乙"}, key="f-old-key-000001").status_code == 201
    db.database.execute_sql("UPDATE idempotency_keys SET created_at = created_at - ? WHERE key = ?",
                            (I.TTL_MS + 1, "f-old-key-000001"))
    assert I.prune() == 1
    left = db.database.execute_sql("SELECT key FROM idempotency_keys").fetchall()
    assert left == [(KEY,)]


class _Broken:
    """The database as the guard sees it when its own row cannot be written: every guard statement fails."""

    def __init__(self, message: str):
        self.message = message

    def atomic(self):
        raise sqlite3.OperationalError(self.message)

    def execute_sql(self, *a, **kw):
        raise sqlite3.OperationalError(self.message)


@pytest.mark.parametrize("message", ["database is locked", "database or disk is full"])
def test_guard_trouble_never_turns_a_good_write_into_a_500(as_role, thing, monkeypatch, caplog, message):
    w = as_role("worker")
    monkeypatch.setattr(I, "database", _Broken(message))
    r = post(w, {"name": "甲"})
    assert r.status_code == 201 and r.get_json()["n"] == 1   # ran unguarded
    assert "runs unguarded" in caplog.text
    if "full" in message:
        assert storage.is_disk_full(sqlite3.OperationalError(message))


def test_keeping_the_answer_fails_the_write_still_answers(as_role, thing, monkeypatch, caplog):
    w = as_role("worker")
    real = db.database

    class _FailsOnUpdate:
        def atomic(self):
            return real.atomic()

        def execute_sql(self, sql, params=()):
            if sql.startswith("UPDATE"):
                raise sqlite3.OperationalError("database is locked")
            return real.execute_sql(sql, params)

    monkeypatch.setattr(I, "database", _FailsOnUpdate())
    r = post(w, {"name": "甲"})
    assert r.status_code == 201 and "could not keep the answer" in caplog.text


def test_prune_runs_on_a_schedule(config):
    from appliance.core import jobs
    from appliance.core.web import Runtime

    s = jobs.build(config, Runtime(config))
    job = s.get_job("idempotency-prune")
    assert job is not None and job.func is I.prune
    assert events.now_ms() > 0


def test_a_multipart_upload_is_known_by_its_fields_and_files(as_role, thing):
    """A resend of the same upload has a new multipart boundary: its fields and files' names and sizes
    decide, and the body is not read into memory for the fingerprint."""
    from io import BytesIO

    w = as_role("worker")

    def upload(content: bytes, title: str = "第一课"):
        return w.open("POST", PATH, data={"title": title, "file": (BytesIO(content), "unit.mp4")},
                      content_type="multipart/form-data", headers={"Idempotency-Key": KEY})

    assert upload(b"x" * 2000).status_code == 201
    assert upload(b"y" * 2000).status_code == 200        # the same upload sent again
    assert upload(b"x" * 2001).status_code == 422        # another file under the same key
    assert upload(b"x" * 2000, title="第二课").status_code == 422
    assert thing["n"] == 1
