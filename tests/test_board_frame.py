"""The wall board's frame on the live stream (issue 14): every point and the standing alarms, pushed once a
second and right after an alarm change, instead of each board fetching two lists per event plus a 2 s poll.
Real peers: a pymodbus server, the whole appliance, SSE over a real socket."""
from __future__ import annotations

import json
import time

import pytest
import requests

from appliance.config import load_config
from appliance.core import auth, events
from conftest import PASSWORD, free_port, login_session, spawn_peer, stop_peer, wait_until, write_config
from test_disk_full import POINT  # one gas point (GT-101, CH4) on a Modbus TCP controller


class Sse:
    """SSE over a real socket: yields (event name, id, data) for each message; comments are skipped."""

    def __init__(self, url: str, headers: dict, timeout: float = 10):
        self.r = requests.get(url, headers={**headers, "Accept": "text/event-stream"}, stream=True,
                              timeout=(5, timeout))
        self.lines = self.r.iter_lines(decode_unicode=True)

    def messages(self):
        name, seq, data = "message", None, None
        for line in self.lines:
            if line.startswith("event: "):
                name = line[7:]
            elif line.startswith("id: "):
                seq = int(line[4:])
            elif line.startswith("data: "):
                data = json.loads(line[6:])
            elif line == "":
                if data is not None:
                    yield name, seq, data
                name, seq, data = "message", None, None

    def until(self, pred, limit_s: float = 20):
        """Messages up to and including the first for which pred(name, data) holds."""
        seen, end = [], time.monotonic() + limit_s
        for name, seq, data in self.messages():
            seen.append((name, seq, data))
            if pred(name, data):
                return seen
            if time.monotonic() > end:
                break
        raise AssertionError(f"not seen in {limit_s} s; last: {seen[-3:]}")

    def close(self):
        self.r.close()


def _gt(frame):
    return next(p for p in frame["points"] if p["id"] == "GT-101")


@pytest.fixture
def plant(tmp_path):
    from pymodbus.client import ModbusTcpClient

    from appliance.service import Appliance

    port = free_port()
    server = spawn_peer(["-m", "drivers.sim.modbus_server", "tcp", "127.0.0.1", str(port), "--ids", "1"])
    w = ModbusTcpClient("127.0.0.1", port=port, timeout=1, retries=0)
    app = Appliance(load_config(write_config(tmp_path / "data", extra=POINT.format(port=port)))).start()
    try:
        assert wait_until(w.connect, 10)
        w.write_register(0, 50, device_id=1)    # 5 %LEL: normal
        yield app, w
    finally:
        app.stop()
        w.close()
        stop_peer(server)


def test_the_board_frame_follows_the_alarm_and_its_acknowledgement(plant):
    app, w = plant
    token = auth.create_device_token("wall", actor="test")
    auth.create_user(auth.UserIn(login="sup", password=PASSWORD, role="supervisor"), actor="test")
    s = Sse(f"{app.url}/api/v1/stream?last_event_id={events.head_seq()}&frames=board",
            {"Authorization": f"Bearer {token}"})
    try:
        # on connect the current state comes at once (no list to fetch), then it follows the readings
        seen = s.until(lambda n, d: n == "board" and _gt(d)["value"] == pytest.approx(5.0))
        frame = seen[-1][2]
        assert frame["alarms"] == [] and _gt(frame)["state"] == "normal"

        w.write_register(0, 600, device_id=1)   # 60 %LEL: level 2 (GB/T 50493-2019: ≥ 50 %LEL)
        seen = s.until(lambda n, d: n == "board" and any(a["point"] == "GT-101" and a["level"] == 2
                                                         for a in d["alarms"]))
        frame = seen[-1][2]
        # the alarm's event comes too (the frame is published at the write; the event when the bus reads the
        # log, a few ms later or earlier: the banner and the feed each show it as soon as it is there)
        if not any(n == "message" and d["type"] == "alarm.raised" for n, _, d in seen):
            s.until(lambda n, d: n == "message" and d["type"] == "alarm.raised" and d["payload"]["point"] == "GT-101")
        assert _gt(frame)["level"] == 2 and _gt(frame)["value"] == pytest.approx(60.0)
        # what the frame says is what the lists say
        kiosk = {"Authorization": f"Bearer {token}"}
        listed = requests.get(f"{app.url}/api/v1/alarms?active=1", headers=kiosk, timeout=5).json()["alarms"]
        assert [a["id"] for a in frame["alarms"]] == [a["id"] for a in listed]
        alarm_id = frame["alarms"][0]["id"]

        sup = login_session(app.url, "sup")
        r = sup.post(f"{app.url}/api/v1/alarms/{alarm_id}/ack", json={"note": "现场确认"}, timeout=5)
        assert r.status_code == 200, r.text
        seen = s.until(lambda n, d: n == "board" and any(a["id"] == alarm_id and a["acked_at"]
                                                         for a in d["alarms"]))
        assert seen[-1][2]["alarms"][0]["acked_by"] == "user:sup"

        w.write_register(0, 20, device_id=1)    # back to normal: the acknowledged alarm leaves the frame
        s.until(lambda n, d: n == "board" and d["alarms"] == [])
    finally:
        s.close()


def test_a_stream_that_asks_for_no_frame_gets_none(plant):
    app, w = plant
    token = auth.create_device_token("feed", actor="test")
    # the frame is being published (once a second) …
    assert wait_until(lambda: app.runtime.bus.frame("board") is not None, 10)
    for query in ("", "&frames=nothing"):
        s = Sse(f"{app.url}/api/v1/stream?last_event_id={events.head_seq()}{query}",
                {"Authorization": f"Bearer {token}"}, timeout=3)
        try:
            w.write_register(0, 600 if not query else 30, device_id=1)
            got = []
            with pytest.raises(requests.exceptions.ConnectionError):   # the read times out: no more messages
                for m in s.messages():
                    got.append(m)
            # … but this stream has only the events, no frame
            assert got and all(n == "message" for n, _, _ in got), got
        finally:
            s.close()


def test_the_bus_keeps_one_text_per_frame_version():
    bus = events.Bus()
    bus.set_frame("board", '{"a":1}', "board.read")
    first = bus.frame("board")
    assert first is not None and first.version == 1
    bus.set_frame("board", '{"a":1}', "board.read")       # the same state again is no new version
    assert bus.frame("board") is first
    bus.set_frame("board", '{"a":2}', "board.read")
    second = bus.frame("board")
    assert second is not None and second.version == 2 and second.text == '{"a":2}'
    assert bus.frame("other") is None
