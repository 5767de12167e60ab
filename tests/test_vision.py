"""The vision pipeline end to end: a real appliance (web server, bus, the supervised vision process) on
file cameras looping a short synthetic clip whose YOLO labels are known, replayed by the `labels` detector.
The clip has two bare heads and one hard hat; one camera watches only its left half (a zone), the other
its whole view, so exactly three violations are known to happen. Then the review on the API (confirm →
hazard with the snapshot, reject → training example), and the supervisor restarting a killed and a stalled
vision process. Every wait is a poll with a generous deadline; nothing is timed."""
from __future__ import annotations

import json
import os
import signal
import time

import numpy as np  # noqa: E402  (a core dependency: the vision process runs on arrays)
import pytest

from conftest import login_session, need, write_config

W, H = 320, 240
BARE_LEFT, BARE_RIGHT, HELMET = [40, 40, 80, 80], [240, 40, 280, 80], [40, 150, 80, 190]


def yolo(cls, box):
    x1, y1, x2, y2 = box
    return f"{cls} {(x1 + x2) / 2 / W:.6f} {(y1 + y2) / 2 / H:.6f} {(x2 - x1) / W:.6f} {(y2 - y1) / H:.6f}"


def make_clip(root):
    """Four frames of one scene (slight noise, so the motion gate sees life) with their labels."""
    from PIL import Image, ImageDraw

    (root / "images").mkdir(parents=True)
    (root / "labels").mkdir()
    rng = np.random.default_rng(6)
    for i in range(4):
        arr = np.full((H, W, 3), 90, np.uint8) + rng.integers(0, 6, (H, W, 3), dtype=np.uint8)
        img = Image.fromarray(arr)
        d = ImageDraw.Draw(img)
        for box, colour in ((BARE_LEFT, (200, 160, 130)), (BARE_RIGHT, (190, 150, 120)), (HELMET, (250, 220, 0))):
            d.ellipse([b + (i % 2) for b in box], fill=colour)
        img.save(root / "images" / f"f{i}.jpg", quality=90)
        (root / "labels" / f"f{i}.txt").write_text("\n".join([yolo(0, BARE_LEFT), yolo(0, BARE_RIGHT), yolo(1, HELMET)]))
    return root / "images"


def cameras_toml(images, model_camera=False):
    detect = ('[cameras.detect]\ndetector = "labels"\nfps = 10\nmin_frames = 3\nmin_seconds = 0.3\n'
              'cooldown_s = 3600\n')
    out = ("\n[vision]\nstall_s = 3\nrestart_max_s = 1\n"
           f'\n[[cameras]]\ntype = "file"\nname = "dock-1"\ntitle = "装卸站台"\narea = "DOCK"\npath = "{images}"\nfps = 10\n'
           + detect +
           '[[cameras.zones]]\nname = "left"\npolygon = [[0, 0], [0.5, 0], [0.5, 1], [0, 1]]\n'
           f'\n[[cameras]]\ntype = "file"\nname = "gate-1"\npath = "{images}"\nfps = 10\n' + detect)
    if model_camera:
        out += f'\n[[cameras]]\ntype = "file"\nname = "model-1"\npath = "{images}"\nfps = 5\n'
    return out


def wait_for(cond, timeout=60.0, step=0.1):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        v = cond()
        if v:
            return v
        time.sleep(step)
    raise AssertionError(f"condition not met within {timeout} s")


@pytest.fixture
def vision_plant(tmp_path):
    import requests

    from appliance.config import load_config
    from appliance.core import auth
    from appliance.core import people as P
    from appliance.service import Appliance

    images = make_clip(tmp_path / "clip")
    cfg = load_config(write_config(tmp_path / "live", extra=cameras_toml(images)))
    appliance = Appliance(cfg).start()
    P.create_area(P.AreaIn(code="DOCK", name="装卸站台", name_en="Loading dock", kind="loading"), actor="system:test")
    auth.create_user(auth.UserIn(login="boss", password="correct-horse-9", role="supervisor"), actor="system:test")
    auth.create_user(auth.UserIn(login="hand", password="correct-horse-9", role="worker"), actor="system:test")
    token = auth.create_device_token("wall", actor="system:test")
    kiosk = requests.Session()
    kiosk.headers["Authorization"] = f"Bearer {token}"
    yield appliance, appliance.url, kiosk
    appliance.stop()


def health(kiosk, base):
    return kiosk.get(f"{base}/api/v1/health", timeout=10).json()["components"]


def test_pipeline_end_to_end_and_review(vision_plant):
    import io

    import requests
    from PIL import Image

    from appliance.core import events
    from appliance.hazards.service import Hazard
    from appliance.vision import violations as V

    appliance, base, kiosk = vision_plant
    data = appliance.config.storage.data_dir
    wait_for(lambda: V.Violation.select().count() >= 3)
    time.sleep(2)  # the clip keeps looping: debounce and cooldown must not add any
    rows = list(V.Violation.select().order_by(V.Violation.id))
    assert sorted((v.camera, v.zone) for v in rows) == [("dock-1", "left"), ("gate-1", "all"), ("gate-1", "all")]
    gate = [v for v in rows if v.camera == "gate-1"]
    assert gate[0].track != gate[1].track
    dock = next(v for v in rows if v.camera == "dock-1")
    box = json.loads(dock.box)
    assert abs(box[0] - BARE_LEFT[0]) <= 2 and abs(box[3] - BARE_LEFT[3]) <= 2 and dock.area == "DOCK"
    for v in rows:
        assert (data / "photos" / f"{v.snapshot}.jpg").exists()
        assert (data / "vision" / "frames" / f"{v.frame}.jpg").exists()
        assert v.state == "open" and v.score == 1.0
    evs = [e for e in events.read_after(0, 1000) if e.type == "vision.violation"]
    assert sorted(e.payload["id"] for e in evs) == [v.id for v in rows]
    assert {e.payload["snapshot"] for e in evs} == {v.snapshot for v in rows}

    comps = health(kiosk, base)
    assert comps["vision"]["status"] == "ok", comps["vision"]
    assert comps["vision"]["detectors"]["labels"]["status"] == "ok"
    for cam in ("camera:dock-1", "camera:gate-1"):
        assert comps[cam]["status"] == "ok" and comps[cam]["detections"] > 0, comps[cam]

    r = kiosk.get(f"{base}/api/v1/cameras/dock-1/frame.jpg", timeout=10)
    assert r.status_code == 200 and r.headers["Content-Type"] == "image/jpeg"
    assert Image.open(io.BytesIO(r.content)).size == (W, H)
    n = int(r.headers["X-Frame-Number"])
    r2 = kiosk.get(f"{base}/api/v1/cameras/dock-1/frame.jpg?after={n}", timeout=10)
    assert int(r2.headers["X-Frame-Number"]) > n
    assert requests.get(f"{base}/api/v1/cameras/dock-1/frame.jpg", timeout=10).status_code == 401
    assert kiosk.get(f"{base}/api/v1/cameras/nope/frame.jpg", timeout=10).status_code == 404
    cams = kiosk.get(f"{base}/api/v1/cameras", timeout=10).json()["cameras"]
    assert [c["name"] for c in cams] == ["dock-1", "gate-1"] and cams[0]["title"] == "装卸站台"
    listed = kiosk.get(f"{base}/api/v1/violations?state=open", timeout=10).json()["violations"]
    assert len(listed) == 3

    # the kiosk reads but never reviews; a worker may not either
    assert kiosk.post(f"{base}/api/v1/violations/{dock.id}/confirm", json={}, timeout=10).status_code == 403
    hand = login_session(base, "hand")
    assert hand.post(f"{base}/api/v1/violations/{dock.id}/confirm", json={}, timeout=10).status_code == 403

    boss = login_session(base, "boss")
    page = boss.get(f"{base}/tablet/violations", timeout=10).text
    assert f"/api/v1/photos/{dock.snapshot}" in page and f"/api/v1/violations/{dock.id}/confirm" in page
    assert f"/api/v1/violations/{dock.id}/confirm" not in hand.get(f"{base}/tablet/violations", timeout=10).text
    board = kiosk.get(f"{base}/kiosk", timeout=10).text
    assert 'data-camera="dock-1"' in board and f'data-violation="{dock.id}"' in board
    r = boss.post(f"{base}/api/v1/violations/{dock.id}/confirm", json={"note": "叉车旁"}, timeout=10)
    assert r.status_code == 200, r.text
    hz = Hazard.get_by_id(r.json()["hazard"]["id"])
    assert hz.photo == dock.snapshot and hz.category == "安全" and "未佩戴安全帽" in hz.description
    assert boss.get(f"{base}/api/v1/photos/{hz.photo}", timeout=10).status_code == 200
    again = boss.post(f"{base}/api/v1/violations/{dock.id}/confirm", json={}, timeout=10)
    assert again.status_code == 409

    g0, g1 = gate
    r = boss.post(f"{base}/api/v1/violations/{g0.id}/confirm", json={}, timeout=10)
    assert r.status_code == 422 and r.json()["error"]["details"][0]["key"] == "area_id"
    assert V.get(g0.id).state == "open"  # nothing changed
    r = boss.post(f"{base}/api/v1/violations/{g1.id}/reject", json={"note": "是安全帽的反光"}, timeout=10)
    assert r.status_code == 200 and r.json()["state"] == "rejected"
    kept = data / "vision" / "false_positives" / f"{g1.id:06d}"
    meta = json.loads((kept / "meta.json").read_text(encoding="utf-8"))
    assert meta["box"] == json.loads(g1.box) and meta["verdict"] == "false_positive"
    with Image.open(kept / "frame.jpg") as frame:
        assert frame.size == (W, H) and (kept / "snapshot.jpg").stat().st_size > 0
    types = [e.type for e in events.read_after(0, 1000)]
    assert types.count("vision.confirmed") == 1 and types.count("vision.rejected") == 1
    assert "hazard.reported" in types


def test_supervisor_restarts_a_killed_and_a_stalled_vision_process(vision_plant):
    appliance, base, kiosk = vision_plant
    first = wait_for(lambda: (v := health(kiosk, base)["vision"])["status"] == "ok" and v)["pid"]
    os.kill(first, signal.SIGKILL)
    second = wait_for(lambda: (v := health(kiosk, base)["vision"])["status"] == "ok" and v["pid"] != first and v)
    assert second["restarts"] == 1 and "ended" in second["last_exit"]
    wait_for(lambda: health(kiosk, base)["camera:dock-1"]["status"] == "ok")

    os.kill(second["pid"], signal.SIGSTOP)  # alive but silent: a hung detector looks like this
    try:
        stalled = wait_for(lambda: (v := health(kiosk, base)["vision"])["status"] == "fault" and v)
        assert "heartbeat" in stalled["reason"] or "vision process" in stalled["reason"]
        third = wait_for(lambda: (v := health(kiosk, base)["vision"])["status"] == "ok"
                         and v["pid"] not in (first, second["pid"]) and v)
        assert third["restarts"] == 2 and "stalled" in third["last_exit"]
    finally:
        try:
            os.kill(second["pid"], signal.SIGKILL)
        except ProcessLookupError:
            pass


def test_a_group_stop_ends_the_vision_process_without_a_restart(vision_plant, monkeypatch):
    """systemd (control group), `timeout` and a terminal send SIGTERM to every process of the appliance: the
    worker ends (exit 0) a moment before the appliance's own stop. The supervisor must not spawn a new vision
    process then; a clean exit with no stop following is still restarted, after a short grace."""
    import multiprocessing

    from appliance.vision import supervisor as S

    appliance, base, kiosk = vision_plant
    monkeypatch.setattr(S, "CLEAN_EXIT_GRACE_S", 5.0)   # longer than the 2 s backoff after a first restart
    sup = appliance.runtime.vision
    first = wait_for(lambda: (v := health(kiosk, base)["vision"])["status"] == "ok" and v)["pid"]
    os.kill(first, signal.SIGTERM)          # the worker alone, and nothing stops: restarted after the grace
    second = wait_for(lambda: (v := health(kiosk, base)["vision"])["status"] == "ok" and v["pid"] != first and v)
    assert second["restarts"] == 1 and "exit code 0" in second["last_exit"]
    os.kill(second["pid"], signal.SIGTERM)  # the group stop; the appliance's stop reaches the vision
    time.sleep(3.5)                         # supervisor after its other parts (mDNS, drivers): seconds
    appliance.stop()
    assert sup.restarts == 1
    assert not [p for p in multiprocessing.active_children() if p.name == "safety-appliance-vision"]


def test_a_missing_model_leaves_the_cameras_streaming_and_health_says_why(tmp_path):
    import requests

    from appliance.config import load_config
    from appliance.core import auth
    from appliance.service import Appliance

    images = make_clip(tmp_path / "clip")
    missing = tmp_path / "no-such-model.tflite"
    cam = (f'\n[vision.model]\npath = "{missing}"\n'
           f'\n[[cameras]]\ntype = "file"\nname = "model-1"\npath = "{images}"\nfps = 5\n')
    appliance = Appliance(load_config(write_config(tmp_path / "live", extra=cam))).start()
    try:
        token = auth.create_device_token("wall", actor="system:test")
        s = requests.Session()
        s.headers["Authorization"] = f"Bearer {token}"
        v = wait_for(lambda: (v := health(s, appliance.url)["vision"])["status"] != "starting" and v)
        assert v["status"] == "degraded" and "detector unavailable" in v["reason"], v
        assert str(missing) in v["reason"]   # the error names the file
        r = wait_for(lambda: (r := s.get(f"{appliance.url}/api/v1/cameras/model-1/frame.jpg", timeout=10)).ok and r)
        assert r.headers["Content-Type"] == "image/jpeg"
        wait_for(lambda: health(s, appliance.url)["camera:model-1"]["status"] == "ok")
    finally:
        appliance.stop()


def test_the_tflite_detector_drives_the_pipeline(tmp_path):
    """detector = "model": the vision process runs models.detector.Detector on a tiny CenterNet-style TFLite
    file generated in the test (tests/tiny_tflite.py: a red 8×8 block is a bare head, a green one a hard hat)."""
    import importlib.util

    need(importlib.util.find_spec("tflite") is not None, "the tflite schema package (pip install -e '.[dev]')")
    from PIL import Image

    from appliance.config import load_config
    from appliance.service import Appliance
    from appliance.vision import violations as V
    from tiny_tflite import centernet_model

    model = centernet_model(tmp_path / "tiny320.tflite", size=320, box_cells=1.0)
    (tmp_path / "clip").mkdir()
    for i in range(3):
        img = np.zeros((320, 320, 3), np.uint8)
        img[160:168, 80:88] = (255, 0, 0)      # no hard hat
        img[40:48, 200:208] = (0, 255, 0)      # hard hat
        img[300:304, i * 8:i * 8 + 4] = 60     # a little life for the motion gate
        Image.fromarray(img).save(tmp_path / "clip" / f"f{i}.png")
    extra = (f'\n[vision.model]\npath = "{model}"\ninput_size = 320\n'
             f'\n[[cameras]]\ntype = "file"\nname = "tiny"\npath = "{tmp_path / "clip"}"\nfps = 10\n'
             '[cameras.detect]\nfps = 5\nmin_frames = 3\nmin_seconds = 0.3\ncooldown_s = 3600\n')
    appliance = Appliance(load_config(write_config(tmp_path / "live", extra=extra))).start()
    try:
        wait_for(lambda: V.Violation.select().count() >= 1)
        time.sleep(1.5)
        (v,) = list(V.Violation.select())
        assert json.loads(v.box) == [80, 160, 88, 168] and v.score > 0.98 and v.zone == "all"
        assert appliance.runtime.vision.health()["detectors"]["model"]["status"] == "ok"
    finally:
        appliance.stop()
