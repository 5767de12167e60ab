"""Camera backends against real sources: image folders with corrupt files, a missing folder that appears,
a missing device, a real HTTP MJPEG camera (drivers/sim/mjpeg_server.py) that hangs mid-stream, and the
picamera2 backend on a machine without it. Every wait is a poll with a generous deadline."""
from __future__ import annotations

import time

import numpy as np  # noqa: E402  (a core dependency: the vision process runs on arrays)
import pytest

from conftest import free_port, need, spawn_peer, stop_peer


def wait_for(cond, timeout=30.0, step=0.05):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        v = cond()
        if v:
            return v
        time.sleep(step)
    raise AssertionError(f"condition not met within {timeout} s")


def write_images(folder, n, size=(160, 120)):
    from PIL import Image

    folder.mkdir(parents=True, exist_ok=True)
    for i in range(n):
        Image.new("RGB", size, (i * 40 % 255, 80, 120)).save(folder / f"f{i:03d}.jpg")


def file_camera(path, **kw):
    from drivers.camera_file import FileCamera, FileCameraConfig

    return FileCamera(FileCameraConfig(type="file", name="t", path=path, **kw))


def test_folder_loops_at_the_frame_rate_cap(tmp_path):
    write_images(tmp_path / "imgs", 3)
    cam = file_camera(tmp_path / "imgs", fps=20)
    cam.start()
    try:
        wait_for(lambda: cam.frames >= 8)        # more frames than files: it loops
        f = cam.latest()
        assert f.image.shape == (120, 160, 3) and f.image.dtype == np.uint8
        assert f.source.endswith(".jpg")
        assert cam.health()["status"] == "ok"
    finally:
        cam.stop()


def test_corrupt_frames_are_counted_and_skipped(tmp_path):
    write_images(tmp_path / "imgs", 2)
    (tmp_path / "imgs" / "f000.jpg").write_bytes(b"\xff\xd8\xff\xe0 truncated")
    (tmp_path / "imgs" / "zz.png").write_bytes(b"not a png at all")
    cam = file_camera(tmp_path / "imgs", fps=30)
    cam.start()
    try:
        wait_for(lambda: cam.corrupt >= 4 and cam.frames >= 2)
        h = cam.health()
        assert h["status"] == "ok" and h["corrupt_frames"] >= 4
        assert all(cam.latest().source.endswith("f001.jpg") for _ in range(3))
    finally:
        cam.stop()


def test_only_corrupt_frames_is_a_fault(tmp_path):
    (tmp_path / "imgs").mkdir()
    (tmp_path / "imgs" / "a.jpg").write_bytes(b"garbage")
    cam = file_camera(tmp_path / "imgs", fps=60)
    cam.start()
    try:
        h = wait_for(lambda: (h := cam.health())["status"] == "fault" and h)
        assert "corrupt frames in a row" in h["reason"]
    finally:
        cam.stop()


def test_missing_folder_is_a_fault_and_recovers_when_it_appears(tmp_path):
    cam = file_camera(tmp_path / "later", fps=20, reconnect_max_s=0.5)
    cam.start()
    try:
        h = wait_for(lambda: (h := cam.health())["status"] == "fault" and h)
        assert "no such file or folder" in h["reason"]
        write_images(tmp_path / "later", 2)
        wait_for(lambda: cam.health()["status"] == "ok")
    finally:
        cam.stop()


def test_missing_device_is_a_fault_naming_it():
    from drivers.camera_opencv import OpenCVCamera, OpenCVCameraConfig

    need(OpenCVCamera.available() is None, "opencv-python-headless is not installed")
    cam = OpenCVCamera(OpenCVCameraConfig(type="opencv", name="usb", source="/dev/video97", reconnect_max_s=1))
    cam.start()
    try:
        h = wait_for(lambda: (h := cam.health())["status"] == "fault" and h)
        assert "cannot open /dev/video97" in h["reason"]
    finally:
        cam.stop()


@pytest.fixture
def mjpeg_camera():
    port = free_port()
    p = spawn_peer(["-m", "drivers.sim.mjpeg_server", str(port), "--fps", "20", "--hang-after", "15"])
    yield f"http://user:secret@127.0.0.1:{port}/video.mjpg"
    stop_peer(p)


def test_stream_that_hangs_is_a_fault_then_reconnects(mjpeg_camera):
    from drivers.camera_opencv import OpenCVCamera, OpenCVCameraConfig

    need(OpenCVCamera.available() is None, "opencv-python-headless is not installed")
    cam = OpenCVCamera(OpenCVCameraConfig(type="opencv", name="ip", source=mjpeg_camera, fps=20,
                                          read_timeout_s=1.5, reconnect_max_s=0.5))
    cam.start()
    try:
        wait_for(lambda: cam.frames >= 5)
        assert cam.latest().image.shape == (240, 320, 3)
        h = wait_for(lambda: (h := cam.health())["status"] == "fault" and h)
        assert "no frame from" in h["reason"] and "secret" not in h["reason"]   # the password is not shown
        first = cam.frames
        wait_for(lambda: cam.frames > first)    # reopened with back-off: frames again
        assert cam.reconnects >= 1
    finally:
        cam.stop()


def test_a_read_that_never_returns_is_a_stall_fault(tmp_path):
    """A backend whose read blocks for good (no timeout honoured): the capture loop cannot be interrupted,
    so `check` turns the camera to fault after stall_s and starts a fresh capture beside the stuck one."""
    import threading

    from drivers.camera_file import FileCamera, FileCameraConfig

    write_images(tmp_path / "imgs", 1)
    release = threading.Event()

    class Hanging(FileCamera):
        calls = 0

        def read(self, handle):
            Hanging.calls += 1
            if Hanging.calls > 3:
                release.wait(60)
            return super().read(handle)

    cam = Hanging(FileCameraConfig(type="file", name="h", path=tmp_path / "imgs", fps=20, stall_s=0.5))
    cam.start()
    try:
        h = wait_for(lambda: (h := cam.health())["status"] == "fault" and h)
        assert h["reason"].startswith("no frame for")
        wait_for(lambda: cam.health() and cam.stall_restarts >= 1)   # health() runs the check, as the vision loop does
    finally:
        release.set()
        cam.stop()


def test_picamera2_absent_is_reported_not_raised():
    from drivers.camera_picamera2 import PiCamera

    why = PiCamera.available()
    try:
        import picamera2  # noqa: F401
    except Exception:
        assert why and "picamera2 is not available here" in why
    else:  # pragma: no cover - on a Raspberry Pi
        assert why is None


def test_picamera2_is_looked_for_in_the_system_packages_apt_installs_to(tmp_path):
    """apt's python3-picamera2 lives outside the venv; the driver finds the directory that holds it."""
    from drivers.camera_picamera2 import SYSTEM_SITE_DIRS, system_picamera2_dir

    assert "/usr/lib/python3/dist-packages" in SYSTEM_SITE_DIRS
    empty, system = tmp_path / "empty", tmp_path / "dist-packages"
    empty.mkdir()
    assert system_picamera2_dir([str(empty), str(system)]) is None
    (system / "picamera2").mkdir(parents=True)
    assert system_picamera2_dir([str(empty), str(system)]) is None   # a bare directory is not a package
    (system / "picamera2" / "__init__.py").write_text("")
    assert system_picamera2_dir([str(empty), str(system)]) == str(system)


@pytest.mark.parametrize("system_dir, says, not_says", [
    (None, "install python3-picamera2", "safety-camera-csi"),
    # installed but failing to load (numpy 1.x vs the venv's numpy 2): installing it again would not help
    ("/usr/lib/python3/dist-packages", "safety-camera-csi.service", "install python3-picamera2"),
])
def test_picamera2_fault_says_the_step_that_helps(system_dir, says, not_says):
    from drivers.camera_picamera2 import unavailable_reason

    why = unavailable_reason(ImportError("numpy.core.multiarray failed to import"), system_dir)
    assert "picamera2 is not available here (ImportError: numpy.core.multiarray failed to import)" in why
    assert says in why and not_says not in why


def _h264_elementary(n: int, size=(320, 240)) -> bytes:
    """n frames of raw H.264 (Annex B, SPS/PPS inline), what rpicam-vid --inline --codec h264 sends."""
    import io

    import av

    buf = io.BytesIO()
    with av.open(buf, "w", format="h264") as out:
        s = out.add_stream("h264", rate=10)
        s.width, s.height, s.pix_fmt = size[0], size[1], "yuv420p"
        for i in range(n):
            img = np.full((size[1], size[0], 3), (i * 7) % 255, np.uint8)
            for pkt in s.encode(av.VideoFrame.from_ndarray(img, format="rgb24")):
                out.mux(pkt)
        for pkt in s.encode():
            out.mux(pkt)
    return buf.getvalue()


def test_a_pi_csi_camera_stream_as_rpicam_vid_serves_it():
    """The Raspberry Pi camera path (systemd/safety-camera-csi.service): rpicam-vid listens on
    tcp://127.0.0.1:8888 and sends raw H.264 to one client; the appliance reads it as an `opencv` camera.
    A peer here stands in for rpicam-vid with the same byte stream (PyAV's libx264); frames must come."""
    import socket
    import threading

    from drivers.camera_opencv import OpenCVCamera, OpenCVCameraConfig

    need(OpenCVCamera.available() is None, "opencv-python-headless is not installed")
    stream = _h264_elementary(200)
    srv = socket.socket()
    srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    srv.bind(("127.0.0.1", 0))
    srv.listen(1)
    port, done = srv.getsockname()[1], threading.Event()

    def serve():
        while not done.is_set():
            try:
                conn, _ = srv.accept()
            except OSError:
                return
            with conn:
                try:
                    for i in range(0, len(stream), 4096):   # at about the camera's pace
                        conn.sendall(stream[i:i + 4096])
                        time.sleep(0.005)
                except OSError:
                    pass

    t = threading.Thread(target=serve, daemon=True)
    t.start()
    cam = OpenCVCamera(OpenCVCameraConfig(type="opencv", name="csi", source=f"tcp://127.0.0.1:{port}", fps=10,
                                          reconnect_max_s=1))
    cam.start()
    try:
        wait_for(lambda: cam.frames >= 5)
        assert cam.latest().image.shape == (240, 320, 3) and cam.health()["status"] == "ok"
    finally:
        cam.stop()
        done.set()
        srv.close()
