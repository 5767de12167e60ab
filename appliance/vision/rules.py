"""The rules of the vision pipeline as pure functions over plain values, tested with tables: where hard hats
are required (zones), when (schedules), which detections are the same head over time (an IoU tracker),
when an uncovered head becomes a violation (debounce and cooldown), and whether a scene moved (motion gate).

Boxes are [x1, y1, x2, y2] in pixels; zone polygons are in normalised image coordinates (0..1); times are
integer milliseconds; schedules are judged in the site's local time.
"""
from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import NamedTuple

HEAD_LABELS = ("no_hardhat", "hardhat")   # a head, covered or not: what the tracker follows
UNCOVERED = "no_hardhat"
WHOLE_VIEW = "all"                        # the zone name of a camera without zones


class Det(NamedTuple):
    """One detection (the model side's Detection has the same three fields)."""

    label: str
    score: float
    box: Sequence[float]


# ---- zones and schedules -------------------------------------------------------------------------

def point_in_polygon(x: float, y: float, polygon: Sequence[Sequence[float]]) -> bool:
    """Ray casting; a point on an edge counts as inside."""
    n = len(polygon)
    inside = False
    for i in range(n):
        x1, y1 = polygon[i]
        x2, y2 = polygon[(i + 1) % n]
        # on the edge: collinear and within its bounding box
        cross = (x2 - x1) * (y - y1) - (y2 - y1) * (x - x1)
        if abs(cross) < 1e-12 and min(x1, x2) <= x <= max(x1, x2) and min(y1, y2) <= y <= max(y1, y2):
            return True
        if (y1 > y) != (y2 > y):
            xi = x1 + (y - y1) * (x2 - x1) / (y2 - y1)
            if x < xi:
                inside = not inside
    return inside


def _minutes(hhmm: str) -> int:
    h, m = hhmm.split(":")
    return int(h) * 60 + int(m)


def schedule_active(windows: Iterable, weekday: int, minute: int) -> bool:
    """Whether any window covers ISO `weekday` (1 = Monday) at `minute` after local midnight. No windows:
    always. A window whose end is before its start runs over midnight into the next day."""
    windows = list(windows)
    if not windows:
        return True
    prev_day = 7 if weekday == 1 else weekday - 1
    for w in windows:
        start, end = _minutes(w.start), _minutes(w.end)
        if start <= end:
            if weekday in w.days and start <= minute < end:
                return True
        else:  # overnight: from start to midnight on a listed day, then midnight to end the day after
            if (weekday in w.days and minute >= start) or (prev_day in w.days and minute < end):
                return True
    return False


def head_point(box: Sequence[float], width: int, height: int) -> tuple[float, float]:
    """Where a head is, for zone membership: its box centre, normalised."""
    return ((box[0] + box[2]) / 2 / width, (box[1] + box[3]) / 2 / height)


def zone_for(box: Sequence[float], width: int, height: int, zones: Sequence, weekday: int, minute: int) -> str | None:
    """The first zone that contains the head and requires hard hats now, or None. A camera without zones
    watches its whole view at all times."""
    if not zones:
        return WHOLE_VIEW
    x, y = head_point(box, width, height)
    for z in zones:
        if point_in_polygon(x, y, z.polygon) and schedule_active(z.schedule, weekday, minute):
            return z.name
    return None


# ---- tracking and debounce ------------------------------------------------------------------------

def iou(a: Sequence[float], b: Sequence[float]) -> float:
    ix = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    iy = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    inter = ix * iy
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
    return inter / union if union > 0 else 0.0


@dataclass
class Track:
    """One head followed across detections."""

    id: int
    box: list[float]
    label: str
    score: float
    hits: int = 1
    missed: int = 0
    uncovered_frames: int = 0          # consecutive detections without a hard hat
    uncovered_since: int | None = None  # when the current uncovered streak began (ms)
    last_violation: int | None = None   # when this track last raised a violation (ms)
    history: list[str] = field(default_factory=list)

    def observe(self, det: Det, at_ms: int) -> None:
        self.box, self.label, self.score = list(det.box), det.label, float(det.score)
        self.missed = 0
        if det.label == UNCOVERED:
            self.uncovered_frames += 1
            if self.uncovered_since is None:
                self.uncovered_since = at_ms
        else:
            self.uncovered_frames, self.uncovered_since = 0, None


class Tracker:
    """Greedy IoU tracker: each detection continues the unmatched track it overlaps most (above `iou_min`),
    else starts a new track; a track that misses more than `max_missed` detections in a row ends."""

    def __init__(self, iou_min: float = 0.3, max_missed: int = 3):
        self.iou_min = iou_min
        self.max_missed = max_missed
        self.tracks: list[Track] = []
        self._next = 1

    def update(self, dets: Sequence[Det], at_ms: int) -> list[Track]:
        """Feed one detection pass; returns the tracks seen in it."""
        pairs = sorted(((iou(t.box, d.box), ti, di) for ti, t in enumerate(self.tracks) for di, d in enumerate(dets)),
                       reverse=True)
        used_t, used_d, seen = set(), set(), []
        for score, ti, di in pairs:
            if score < self.iou_min:
                break
            if ti in used_t or di in used_d:
                continue
            used_t.add(ti)
            used_d.add(di)
            self.tracks[ti].hits += 1
            self.tracks[ti].observe(dets[di], at_ms)
            seen.append(self.tracks[ti])
        for ti, t in enumerate(self.tracks):
            if ti not in used_t:
                t.missed += 1
        self.tracks = [t for t in self.tracks if t.missed <= self.max_missed]
        for di, d in enumerate(dets):
            if di not in used_d:
                t = Track(self._next, list(d.box), d.label, float(d.score))
                t.observe(d, at_ms)
                t.hits = 1
                self._next += 1
                self.tracks.append(t)
                seen.append(t)
        return seen

    @property
    def active(self) -> bool:
        return bool(self.tracks)


def should_raise(track: Track, at_ms: int, min_frames: int, min_seconds: float, cooldown_s: float) -> bool:
    """A violation when the head has stayed uncovered for `min_frames` detections and `min_seconds`, and the
    track has not raised one within `cooldown_s`."""
    if track.uncovered_since is None or track.uncovered_frames < min_frames:
        return False
    if at_ms - track.uncovered_since < min_seconds * 1000:
        return False
    if track.last_violation is not None and at_ms - track.last_violation < cooldown_s * 1000:
        return False
    return True


# ---- motion gate ----------------------------------------------------------------------------------

MOTION_SIDE = 64        # frames are compared as 64-pixel-wide grey thumbnails
PIXEL_DELTA = 25        # a pixel changed when its grey level moved this much (noise stays below)


def thumbnail_gray(rgb):
    """A small grey copy of an RGB frame for the motion gate (strided, no filtering: cheap)."""
    import numpy as np

    h, w = rgb.shape[:2]
    step = max(1, w // MOTION_SIDE)
    small = rgb[::step, ::step]
    return (small[..., 0].astype(np.uint16) * 3 + small[..., 1].astype(np.uint16) * 6
            + small[..., 2].astype(np.uint16)) // 10


def motion_share(prev, cur) -> float:
    """Share (0..1) of thumbnail pixels that changed; 1.0 when there is no comparable previous frame."""
    import numpy as np

    if prev is None or prev.shape != cur.shape:
        return 1.0
    diff = np.abs(cur.astype(np.int16) - prev.astype(np.int16))
    return float(np.count_nonzero(diff > PIXEL_DELTA)) / diff.size


# ---- grouping violations for review --------------------------------------------------------------
#
# Issue 15 item 6: one scene (a worker without a hard hat standing at the same spot) raised a violation a
# minute, 58 in an hour, each its own card. For review they are one: the same camera, the same class and
# zone, each within GROUP_WINDOW_MS of the one before. The evidence stays one violation per occurrence
# (GB/T 33000-2016 §5.6: records kept); the supervisor decides the group once.
GROUP_WINDOW_MS = 10 * 60_000


@dataclass(frozen=True)
class Occurrence:
    id: int
    camera: str
    zone: str
    at_ms: int
    label: str = UNCOVERED


@dataclass
class Group:
    camera: str
    zone: str
    label: str
    ids: list[int] = field(default_factory=list)     # oldest first
    first_ms: int = 0
    last_ms: int = 0

    @property
    def count(self) -> int:
        return len(self.ids)

    @property
    def latest(self) -> int:
        return self.ids[-1]


def group_violations(items: Iterable[Occurrence], window_ms: int = GROUP_WINDOW_MS) -> list[Group]:
    """Occurrences grouped by scene: same camera, zone and class, each at most `window_ms` after the last
    one of its group (a gap longer than that starts a new group). Newest group first."""
    open_: dict[tuple[str, str, str], Group] = {}
    out: list[Group] = []
    for o in sorted(items, key=lambda o: (o.at_ms, o.id)):
        key = (o.camera, o.zone, o.label)
        g = open_.get(key)
        if g is None or o.at_ms - g.last_ms > window_ms:
            g = open_[key] = Group(o.camera, o.zone, o.label, first_ms=o.at_ms)
            out.append(g)
        g.ids.append(o.id)
        g.last_ms = o.at_ms
    return sorted(out, key=lambda g: (g.last_ms, g.latest), reverse=True)
