"""One camera's pipeline in this process (a real file camera, the `labels` detector, no supervisor): the
motion gate, the per-camera flood guard and schedules, on the synthetic clip of test_vision (two bare heads
and one hard hat). Runs are bounded by frame counts, not by time."""
from __future__ import annotations

import time
import zoneinfo
from datetime import datetime

import numpy as np  # noqa: E402  (a core dependency: the vision process runs on arrays)

from test_vision import make_clip  # noqa: E402


def run(path, n_frames, fps=40, **detect):
    from appliance.vision.labels import LabelFileDetector
    from appliance.vision.worker import CameraPipeline
    from drivers.camera import DetectConfig
    from drivers.camera_file import FileCamera, FileCameraConfig

    zones = detect.pop("zones", [])
    hold = detect.pop("frames_per_image", 1)
    cfg = FileCameraConfig(type="file", name="p", path=path, fps=fps, zones=zones, frames_per_image=hold,
                           detect=DetectConfig(detector="labels", **{"fps": 30, "min_frames": 2, "min_seconds": 0,
                                                                     **detect}))
    cam = FileCamera(cfg)
    msgs = []
    p = CameraPipeline(cfg, cam, LabelFileDetector(), {"status": "ok"}, "Asia/Shanghai", 5.0, msgs.append)
    cam.start()
    deadline = time.monotonic() + 60
    try:
        while p.stats["frames_seen"] < n_frames and time.monotonic() < deadline:
            if not p.step(time.time_ns() // 1_000_000):
                time.sleep(0.002)
    finally:
        cam.stop()
    assert p.stats["frames_seen"] >= n_frames, p.stats
    return p, [m for m in msgs if m[0] == "violation"], [m for m in msgs if m[0] == "frame"]


def test_two_bare_heads_two_violations_with_evidence(tmp_path):
    p, vio, frames = run(make_clip(tmp_path / "clip"), 30)
    assert sorted(m[1]["box"][0] for m in vio) == [40, 240]          # each bare head once; the hard hat never
    meta, snap, raw = vio[0][1:]
    assert snap[:2] == raw[:2] == b"\xff\xd8" and snap != raw        # JPEGs; the snapshot is annotated
    assert meta["width"] == 320 and meta["zone"] == "all" and frames  # and tiles got frames


def test_flood_guard_holds_a_camera_to_one_violation(tmp_path):
    _, vio, _ = run(make_clip(tmp_path / "clip"), 30, camera_cooldown_s=3600)
    assert len(vio) == 1


def test_outside_the_schedule_nothing_is_raised(tmp_path):
    from drivers.camera import ScheduleWindow, ZoneConfig

    today = datetime.now(zoneinfo.ZoneInfo("Asia/Shanghai")).isoweekday()
    other_days = [d for d in range(1, 8) if d != today and d != (today % 7) + 1 and d != (today - 2) % 7 + 1]
    zone = ZoneConfig(name="yard", polygon=[(0, 0), (1, 0), (1, 1), (0, 1)],
                      schedule=[ScheduleWindow(days=other_days)])
    p, vio, _ = run(make_clip(tmp_path / "clip"), 30, zones=[zone])
    assert vio == [] and p.stats["detections"] >= 5


def test_a_still_scene_is_not_detected_again(tmp_path):
    from PIL import Image

    (tmp_path / "still").mkdir()
    Image.new("RGB", (320, 240), (90, 90, 90)).save(tmp_path / "still" / "a.jpg")
    p, vio, _ = run(tmp_path / "still", 40, frames_per_image=1000, recheck_s=3600)
    assert p.stats["detections"] == 1 and p.stats["skipped_still"] >= 10 and vio == []


def test_evidence_retention_keeps_open_and_recent_frames_only(app, tmp_path):
    """Raw frames go once their violation is reviewed and the keep time is over; snapshots stay; orphans after
    a day; the false-positive set is held under its cap, oldest first."""
    import io
    import os

    from PIL import Image

    from appliance.vision import violations as V

    def jpeg(seed):
        rng = np.random.default_rng(seed)
        buf = io.BytesIO()
        Image.fromarray(rng.integers(0, 255, (48, 64, 3), dtype=np.uint8)).save(buf, "JPEG")
        return buf.getvalue()

    data = tmp_path / "data"
    day = V.DAY_MS
    now = 100 * day
    meta = {"camera": "cam-dock", "zone": "dock", "track": 1, "at_ms": now - 20 * day, "score": 0.9,
            "box": [1, 2, 3, 4], "width": 64, "height": 48}
    rows = [V.record({**meta, "track": i}, jpeg(100 + i), jpeg(i), data) for i in range(4)]
    # 0: open; 1: confirmed 10 days ago; 2: rejected 2 days ago; 3: confirmed 10 days ago, same frame as the open one
    V.Violation.update(state="confirmed", decided_at=now - 10 * day).where(V.Violation.id == rows[1].id).execute()
    V.Violation.update(state="rejected", decided_at=now - 2 * day).where(V.Violation.id == rows[2].id).execute()
    V.Violation.update(state="confirmed", decided_at=now - 10 * day, frame=rows[0].frame).where(
        V.Violation.id == rows[3].id).execute()
    frames = V.frame_root(data)
    orphan_old, orphan_new = frames / ("a" * 64 + ".jpg"), frames / ("b" * 64 + ".jpg")
    for path, age in ((orphan_old, 2 * day), (orphan_new, 0)):
        path.write_bytes(jpeg(9))
        os.utime(path, ((now - age) / 1000, (now - age) / 1000))
    fp = V.false_positive_root(data)
    for i in range(3):
        (fp / f"{i:06d}").mkdir(parents=True)
        (fp / f"{i:06d}" / "frame.jpg").write_bytes(b"x" * 600_000)

    removed = V.prune_evidence(data, frames_keep_days=7, false_positives_max_mb=1, now_ms=now)

    assert removed["frames"] == 1 and removed["orphans"] == 1 and removed["false_positives"] == 2
    assert (frames / f"{rows[0].frame}.jpg").exists()       # open (and shared with a decided one)
    assert not (frames / f"{rows[1].frame}.jpg").exists()   # reviewed 10 days ago
    assert (frames / f"{rows[2].frame}.jpg").exists()       # reviewed 2 days ago: within the keep time
    assert not orphan_old.exists() and orphan_new.exists()
    assert all((V.photo_root(data) / f"{r.snapshot}.jpg").exists() for r in rows)  # snapshots are never pruned
    assert sorted(d.name for d in fp.iterdir()) == ["000002"]  # the newest example survives the 1 MB cap
    assert V.Violation.select().count() == 4                  # the records stay
    again = V.prune_evidence(data, frames_keep_days=7, false_positives_max_mb=1, now_ms=now)
    assert again == {"frames": 0, "orphans": 0, "false_positives": 0, "bytes": 0}
