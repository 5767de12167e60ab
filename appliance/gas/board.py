"""The wall board's live state as one frame on the live streams: every point's view and the standing alarms.

Before (issue 14), each board fetched /api/v1/points and /api/v1/alarms?active=1 every 2 s and again on each
alarm or point event: 50 screens in a leak made a herd of list queries while the alarm path needed the
database. Now the sensors publish the frame once per second (their tick) and at once after an alarm
transition, an acknowledgement or a shelve; the bus keeps the one JSON text and every stream that asked for
`frames=board` gets it when it changes. The standing alarms are read from the database only when they
changed; the points are in memory.
"""
from __future__ import annotations

import json
import threading
from collections.abc import Callable

from appliance.core import events

FRAME = "board"
PERMISSION = "board.read"   # what /api/v1/points and /api/v1/alarms need: the frame carries the same


class BoardFrame:
    """Publishes the frame from `points()` (every point's view) and `standing()` (the alarms /alarms?active=1
    lists). Call `publish` outside the sensors' lock (it takes its own lock, then theirs); `alarms_changed`
    takes no lock and may be called anywhere."""

    def __init__(self, points: Callable[[], list[dict]], standing: Callable[[], list[dict]]):
        self.points, self.standing = points, standing
        self._gen = 0                          # bumped by each alarm change
        self._alarms: tuple[int, list[dict]] | None = None   # the standing alarms as of a generation
        self._lock = threading.Lock()          # one publisher at a time: an older frame never follows a newer

    def alarms_changed(self) -> None:
        self._gen += 1

    def publish(self) -> None:
        """Build the frame and hand it to the bus (which ignores an unchanged text). No bus: nothing to do."""
        bus = events.BUS
        if bus is None:
            return
        with self._lock:
            gen = self._gen
            if self._alarms is None or self._alarms[0] != gen:
                # a change during the read bumps the generation again: the next publish reads once more
                self._alarms = (gen, self.standing())
            text = json.dumps({"points": self.points(), "alarms": self._alarms[1]},
                              ensure_ascii=False, separators=(",", ":"))
            bus.set_frame(FRAME, text, PERMISSION)
