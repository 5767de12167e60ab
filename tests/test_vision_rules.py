"""The vision pipeline's rules as tables: zones, schedules, IoU, the tracker, debounce and cooldown, and the
motion gate; plus the `labels` detector's YOLO parsing and the camera config's errors."""
from __future__ import annotations

import pytest

from appliance.vision import rules as R
from appliance.vision.labels import parse_yolo
from drivers.camera import ScheduleWindow, ZoneConfig

SQUARE = [(0.0, 0.0), (0.5, 0.0), (0.5, 0.5), (0.0, 0.5)]
TRIANGLE = [(0.0, 0.0), (1.0, 0.0), (0.0, 1.0)]


@pytest.mark.parametrize("x, y, poly, inside", [
    (0.25, 0.25, SQUARE, True),
    (0.75, 0.25, SQUARE, False),
    (0.5, 0.25, SQUARE, True),        # on an edge
    (0.0, 0.0, SQUARE, True),         # a corner
    (0.2, 0.2, TRIANGLE, True),
    (0.6, 0.6, TRIANGLE, False),      # beyond the hypotenuse
    (0.5, 0.5, TRIANGLE, True),       # on the hypotenuse
    (-0.1, 0.2, TRIANGLE, False),
])
def test_point_in_polygon(x, y, poly, inside):
    assert R.point_in_polygon(x, y, poly) is inside


DAY = ScheduleWindow(days=[1, 2, 3, 4, 5], start="07:00", end="19:00")
NIGHT = ScheduleWindow(days=[5], start="22:00", end="06:00")   # Friday night into Saturday morning
ALL_DAY = ScheduleWindow(days=[7])


@pytest.mark.parametrize("windows, weekday, hhmm, active", [
    ([], 3, "03:00", True),                 # no schedule: always
    ([DAY], 1, "07:00", True),              # start is inclusive
    ([DAY], 1, "18:59", True),
    ([DAY], 1, "19:00", False),             # end is exclusive
    ([DAY], 1, "06:59", False),
    ([DAY], 6, "12:00", False),             # Saturday not listed
    ([NIGHT], 5, "23:30", True),
    ([NIGHT], 6, "05:59", True),            # after midnight, the day after a listed day
    ([NIGHT], 6, "06:00", False),
    ([NIGHT], 5, "05:00", False),           # Friday early morning: Thursday is not listed
    ([NIGHT], 1, "02:00", False),
    ([ALL_DAY], 7, "23:59", True),          # default 00:00–24:00
    ([ALL_DAY], 1, "00:00", False),
    ([DAY, NIGHT], 5, "23:00", True),
])
def test_schedule_active(windows, weekday, hhmm, active):
    h, m = hhmm.split(":")
    assert R.schedule_active(windows, weekday, int(h) * 60 + int(m)) is active


ZONES = [ZoneConfig(name="left", polygon=SQUARE, schedule=[DAY]),
         ZoneConfig(name="floor", polygon=[(0, 0.5), (1, 0.5), (1, 1), (0, 1)])]


@pytest.mark.parametrize("box, weekday, minute, zone", [
    ([10, 10, 50, 50], 1, 600, "left"),       # centre (30, 30) of 200×200: in the left square, Monday 10:00
    ([10, 10, 50, 50], 6, 600, None),         # Saturday: the left square does not require hard hats
    ([150, 10, 190, 50], 1, 600, None),       # top right: no zone
    ([150, 150, 190, 190], 6, 600, "floor"),  # the floor zone has no schedule: always
])
def test_zone_for(box, weekday, minute, zone):
    assert R.zone_for(box, 200, 200, ZONES, weekday, minute) == zone


def test_a_camera_without_zones_watches_the_whole_view():
    assert R.zone_for([0, 0, 1, 1], 10, 10, [], 6, 0) == R.WHOLE_VIEW


@pytest.mark.parametrize("a, b, expected", [
    ([0, 0, 10, 10], [0, 0, 10, 10], 1.0),
    ([0, 0, 10, 10], [5, 0, 15, 10], 50 / 150),
    ([0, 0, 10, 10], [10, 10, 20, 20], 0.0),
    ([0, 0, 10, 10], [2, 2, 8, 8], 36 / 100),
    ([0, 0, 0, 0], [0, 0, 0, 0], 0.0),
])
def test_iou(a, b, expected):
    assert R.iou(a, b) == pytest.approx(expected)


H = "no_hardhat"
OK = "hardhat"


def det(label, x, y=0, s=10):
    return R.Det(label, 0.9, [x, y, x + s, y + s])


# detection passes (a list of detections each) → the track ids seen in each pass
TRACK_TABLE = [
    ("one head moving slowly keeps its id", [[det(H, 0)], [det(H, 2)], [det(H, 4)]], [[1], [1], [1]]),
    ("a jump beyond the overlap is a new head", [[det(H, 0)], [det(H, 50)]], [[1], [2]]),
    ("two heads keep their ids", [[det(H, 0), det(OK, 100)], [det(OK, 101), det(H, 1)]], [[1, 2], [2, 1]]),
    ("a head missed for max_missed passes is still the same track",
     [[det(H, 0)], [], [], [], [det(H, 1)]], [[1], [], [], [], [1]]),
    ("missed once more, it has ended", [[det(H, 0)], [], [], [], [], [det(H, 1)]], [[1], [], [], [], [], [2]]),
]


@pytest.mark.parametrize("passes, expected", [(p, e) for _, p, e in TRACK_TABLE], ids=[t[0] for t in TRACK_TABLE])
def test_tracker(passes, expected):
    tr = R.Tracker(iou_min=0.3, max_missed=3)
    got = []
    for i, dets in enumerate(passes):
        tracks = tr.update(dets, i * 500)
        # in detection order: which track each detection went to
        by_box = {tuple(t.box): t.id for t in tracks}
        got.append([by_box[tuple(d.box)] for d in dets])
    assert got == expected


# labels per pass, pass interval 500 ms, (min_frames, min_seconds, cooldown_s) → passes that raise
DEBOUNCE = [
    ("three uncovered passes and one second", [H, H, H], (3, 1.0, 60), [2]),
    ("not yet one second after three passes", [H, H, H], (3, 1.5, 60), []),
    ("enough seconds but too few passes", [H, H], (3, 0.0, 60), []),
    ("a hard hat in between restarts the count", [H, H, OK, H, H, H], (3, 1.0, 60), [5]),
    ("cooldown: one violation per track", [H] * 8, (2, 0.0, 60), [1]),
    ("after the cooldown it raises again", [H] * 8, (2, 0.0, 1.0), [1, 3, 5, 7]),
    ("covered all along", [OK] * 5, (1, 0.0, 0), []),
    ("a single frame with min_frames 1", [H], (1, 0.0, 60), [0]),
]


@pytest.mark.parametrize("labels, params, raised", [(l, p, r) for _, l, p, r in DEBOUNCE], ids=[d[0] for d in DEBOUNCE])
def test_debounce_and_cooldown(labels, params, raised):
    tr = R.Tracker()
    got = []
    for i, label in enumerate(labels):
        at = i * 500
        (t,) = tr.update([det(label, 0)], at)
        if R.should_raise(t, at, *params):
            t.last_violation = at
            got.append(i)
    assert got == raised


def test_motion_gate():
    import numpy as np
    a = np.zeros((240, 320, 3), np.uint8)
    b = a.copy()
    assert R.motion_share(None, R.thumbnail_gray(a)) == 1.0
    assert R.motion_share(R.thumbnail_gray(a), R.thumbnail_gray(b)) == 0.0
    b[:, :32] = 255                          # a tenth of the view changes
    share = R.motion_share(R.thumbnail_gray(a), R.thumbnail_gray(b))
    assert 0.08 <= share <= 0.12
    noise = a.copy()
    noise[::2] = 10                          # sensor noise under the pixel threshold
    assert R.motion_share(R.thumbnail_gray(a), R.thumbnail_gray(noise)) == 0.0


@pytest.mark.parametrize("text, expected", [
    ("0 0.5 0.5 0.2 0.4", [("no_hardhat", [80, 60, 120, 140])]),
    # id 2 (person) is no class of the model (#17): the replay skips it as the detector would never give it
    ("1 0.25 0.25 0.5 0.5\n2 0.5 0.5 1 1", [("hardhat", [0, 0, 100, 100])]),
    ("garbage\n7 0.5 0.5 0.1 0.1\n0 x 0.5 0.1 0.1\n", []),
    ("", []),
])
def test_yolo_labels(text, expected):
    got = [(d.label, [round(v) for v in d.box]) for d in parse_yolo(text, 200, 200)]
    assert got == expected


@pytest.mark.parametrize("snippet, key", [
    ('type = "file"\nname = "c1"\npath = "/x"\nbogus = 1', "cameras.0.file.bogus"),
    ('type = "webcam"\nname = "c1"', "cameras.0"),
    ('type = "file"\nname = "bad name"\npath = "/x"', "cameras.0.file.name"),
    ('type = "file"\nname = "c1"\npath = "/x"\n[[cameras.zones]]\nname = "z"\npolygon = [[0, 0], [2, 0], [1, 1]]',
     "cameras.0.file.zones.0.polygon"),
    ('type = "file"\nname = "c1"\npath = "/x"\n[[cameras.zones]]\nname = "z"\npolygon = [[0, 0], [1, 0], [1, 1]]\n'
     '[[cameras.zones.schedule]]\ndays = [0]', "cameras.0.file.zones.0.schedule.0.days"),
    ('type = "file"\nname = "c1"\npath = "/x"\n[cameras.detect]\nmin_frames = 0', "cameras.0.file.detect.min_frames"),
    ('type = "opencv"\nname = "c1"', "cameras.0.opencv.source"),
])
def test_bad_camera_config_names_the_key(snippet, key):
    from appliance.config import parse_config
    from appliance.core.errors import ConfigError

    with pytest.raises(ConfigError) as e:
        parse_config("[[cameras]]\n" + snippet)
    keys = [d["key"] for d in e.value.details] if e.value.details else []
    assert any(k.startswith(key) for k in keys), (keys, e.value.en)


def test_two_cameras_with_one_name_are_refused():
    from appliance.config import parse_config
    from appliance.core.errors import ConfigError

    cam = '[[cameras]]\ntype = "file"\nname = "c1"\npath = "/x"\n'
    with pytest.raises(ConfigError, match="two cameras share a name"):
        parse_config(cam + cam)


def test_example_cameras_parse():
    from appliance.config import parse_config
    from conftest import ROOT

    text = (ROOT / "appliance.example.toml").read_text(encoding="utf-8")
    block = text.split("# BEGIN EXAMPLE CAMERAS\n")[1].split("# END EXAMPLE CAMERAS")[0]
    uncommented = "\n".join(line[2:] if line.startswith("# ") else line.lstrip("#") for line in block.splitlines())
    cfg = parse_config(uncommented, "example cameras")
    assert [c.type for c in cfg.cameras] == ["opencv", "picamera2", "file"]
    assert cfg.cameras[0].zones[0].schedule[0].days == [1, 2, 3, 4, 5] and cfg.vision.stall_s == 20
