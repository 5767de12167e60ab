"""Live events over SSE from the real server: `id: seq`, resume with Last-Event-ID, nothing missed."""
from __future__ import annotations

import json
import time

import pytest
import requests

from appliance.core import auth, events
from appliance.core import people as P
from appliance.core.db import database
from conftest import wait_until


def _person(no):
    return P.create_person(P.PersonIn(employee_no=no, name=f"人员{no}"), actor="user:test")


class Stream:
    """A minimal SSE client over a real socket."""

    def __init__(self, base, token, last_event_id=None, timeout=10):
        headers = {"Authorization": f"Bearer {token}", "Accept": "text/event-stream"}
        if last_event_id is not None:
            headers["Last-Event-ID"] = str(last_event_id)
        self.r = requests.get(f"{base}/api/v1/stream", headers=headers, stream=True, timeout=(5, timeout))
        self.lines = self.r.iter_lines(decode_unicode=True)

    def next_event(self) -> tuple[int, dict]:
        seq, data = None, None
        for line in self.lines:
            if line.startswith("id: "):
                seq = int(line[4:])
            elif line.startswith("data: "):
                data = json.loads(line[6:])
            elif line == "" and data is not None:
                return seq, data
        raise AssertionError("stream ended")

    def close(self):
        self.r.close()


@pytest.fixture
def token(running):
    return auth.create_device_token("sse-test", actor="test")


def test_stream_sends_each_event_with_its_seq_as_id(running, token):
    s = Stream(running.url, token)
    assert s.r.status_code == 200 and s.r.headers["Content-Type"].startswith("text/event-stream")
    try:
        created = [_person(f"S{i}") for i in range(3)]
        got = [s.next_event() for _ in created]
        assert [d["payload"]["employee_no"] for _, d in got] == ["S0", "S1", "S2"]
        assert all(seq == d["seq"] for seq, d in got)
        assert [seq for seq, _ in got] == list(range(got[0][0], got[0][0] + 3))
    finally:
        s.close()


def test_reconnect_with_last_event_id_misses_nothing(running, token):
    s = Stream(running.url, token)
    _person("A1")
    last, _ = s.next_event()
    s.close()
    _person("A2")  # while the kiosk is away
    _person("A3")
    s = Stream(running.url, token, last_event_id=last)
    try:
        missed = [s.next_event() for _ in range(2)]
        assert [d["payload"]["employee_no"] for _, d in missed] == ["A2", "A3"]
        assert [seq for seq, _ in missed] == [last + 1, last + 2]
        _person("A4")  # and then live again
        seq, d = s.next_event()
        assert seq == last + 3 and d["payload"]["employee_no"] == "A4"
    finally:
        s.close()


def test_replay_from_the_start_reads_the_log(running, token):
    head = events.head_seq()
    assert head >= 3  # site.set, system.started, device_token.created happened before we connect
    s = Stream(running.url, token, last_event_id=0)
    try:
        got = [s.next_event() for _ in range(head)]
        assert [seq for seq, _ in got] == list(range(1, head + 1))
        assert got[0][1]["type"] == "site.set"
    finally:
        s.close()


def test_bad_last_event_id_and_no_token(running, token):
    r = requests.get(f"{running.url}/api/v1/stream", headers={"Authorization": f"Bearer {token}", "Last-Event-ID": "abc"},
                     timeout=5)
    assert r.status_code == 422 and r.json()["error"]["code"] == "validation_failed"
    r = requests.get(f"{running.url}/api/v1/stream", timeout=5)
    assert r.status_code == 401


def test_many_clients_all_receive_everything(running, token):
    clients = [Stream(running.url, token) for _ in range(12)]
    try:
        for i in range(5):
            _person(f"M{i}")
        for c in clients:
            assert [c.next_event()[1]["payload"]["employee_no"] for _ in range(5)] == [f"M{i}" for i in range(5)]
    finally:
        for c in clients:
            c.close()


def test_a_client_ahead_of_the_log_is_told_to_reload(running, token):
    """After a restored backup the log is shorter than what a kiosk saw: it gets `event: reset`."""
    head = events.head_seq()
    r = requests.get(f"{running.url}/api/v1/stream", headers={"Authorization": f"Bearer {token}",
                                                              "Last-Event-ID": str(head + 50)}, stream=True, timeout=(5, 10))
    try:
        lines = r.iter_lines(decode_unicode=True)
        seen = []
        for line in lines:
            seen.append(line)
            if line.startswith("data: "):
                break
        assert "event: reset" in seen and json.loads(seen[-1][6:]) == {"head": head}
        _person("R1")  # and it carries on from the real head
        for line in lines:
            if line.startswith("id: "):
                assert int(line[4:]) == head + 1
                break
    finally:
        r.close()


def test_revoked_token_ends_an_open_stream(running, token, monkeypatch):
    import appliance.core.routes as core

    monkeypatch.setattr(core, "HEARTBEAT_S", 0.3)
    s = Stream(running.url, token)
    try:
        _person("V1")
        s.next_event()
        tok = auth.DeviceToken.get(auth.DeviceToken.name == "sse-test")
        auth.revoke_device_token(tok.id, actor="test")
        with pytest.raises(AssertionError, match="stream ended"):
            for _ in range(50):  # the revocation event itself may still arrive; then the stream closes
                s.next_event()
    finally:
        s.close()


def test_a_stream_gives_back_its_connection_once_it_has_named_its_events(running, token):
    """Naming an event (the actor's name, the person's) reads the database on the stream's thread; each stream
    gives that connection back at once, not at its next heartbeat (5 s): 50 wall boards held ~50 SQLite
    connections and ~20 MB of their page caches under bench/load.py (issue 14)."""
    from appliance.core import db

    def held() -> int:   # connections open and not waiting in the pool: on some thread
        return len(database._opened_on) - len(database._idle)

    db.release_connection()
    before = held()
    streams = [Stream(running.url, token) for _ in range(4)]
    try:
        for i in range(3):
            _person(f"H{i}")
            db.release_connection()   # this test's own thread
            for s in streams:
                assert s.next_event()[1]["payload"]["employee_no"] == f"H{i}"
        from appliance.core.routes import HEARTBEAT_S

        assert wait_until(lambda: held() <= before, HEARTBEAT_S / 3), (held(), before)
    finally:
        for s in streams:
            s.close()


def test_one_caller_cannot_take_every_stream(running, token):
    clients = [Stream(running.url, token) for _ in range(16)]
    try:
        r = requests.get(f"{running.url}/api/v1/stream", headers={"Authorization": f"Bearer {token}"}, timeout=5)
        assert r.status_code == 503 and r.json()["error"]["code"] == "streams_exhausted"
        assert int(r.headers["Retry-After"]) > 0
        h = requests.get(f"{running.url}/api/v1/health", timeout=5)
        assert h.status_code == 200, h.text  # others still served
    finally:
        for c in clients:
            c.close()
    deadline = time.monotonic() + 20  # slots come back at the next keep-alive after the streams close
    while time.monotonic() < deadline:
        r = requests.get(f"{running.url}/api/v1/stream", headers={"Authorization": f"Bearer {token}"},
                         stream=True, timeout=5)
        r.close()
        if r.status_code == 200:
            break
        time.sleep(0.2)
    assert r.status_code == 200


def test_a_frame_is_made_once_however_many_streams_send_it():
    """Issue 14: 50 wall boards each naming and serialising a register import's ~6,600 events took the pages
    to 5 s; the frames are made once per event and language, least recently used out first."""
    from appliance.core.routes import _ItemCache

    cache, made = _ItemCache(3), []

    def make(k):
        return lambda: made.append(k) or f"frame {k}"

    for _stream in range(50):
        for seq in (1, 2, 3):
            assert cache.get((seq, f"id{seq}", "zh-CN"), make(seq)) == f"frame {seq}"
    assert made == [1, 2, 3]
    cache.get((1, "id1", "en"), make("1en"))                 # another language is another frame
    cache.get((2, "id2", "zh-CN"), make(2))                  # hit: 2 is now the most recent
    cache.get((4, "id4", "zh-CN"), make(4))                  # full: the least recently used (3) goes
    cache.get((3, "id3", "zh-CN"), make(3))
    assert made == [1, 2, 3, "1en", 4, 3]


def test_a_bulk_writes_items_stay_in_the_log_and_screens_get_its_summary(running, token):
    """A register import's thousands of item events went to each of 50 live streams (5 s pages, 580 MB under
    bench/load.py, issue 14): items written with `recording(live=False)` are logged, chained and read back,
    while the stream sends the next live event (the write's summary) and nothing of the items."""
    s = Stream(running.url, token)
    try:
        head = events.head_seq()
        with events.recording("user:test", live=False) as rec:
            for i in range(3):
                rec.emit("risk.measure_added", entity=("risk_measure", i), payload={"n": i})
        events.record("risk.register_imported", actor="user:test", payload={"rows": 3})
        seq, data = s.next_event()
        assert data["type"] == "risk.register_imported" and seq == head + 4
        assert [e.type for e in events.read_after(head, 10)] == ["risk.measure_added"] * 3 + ["risk.register_imported"]
        assert events.verify_chain(database.connection()) == head + 4
    finally:
        s.close()
