"""The vision process: its own OS process (started and watched by `vision_supervisor`), CPU-bound and
niced so that the web server and the pollers keep their share.

Per camera: newest frame → motion gate (a still scene is not re-detected, except every `recheck_s` or
while a head is being tracked) → detection at most `detect.fps` times a second → IoU tracker → zone and
schedule → a violation when a head has stayed uncovered for `min_frames` detections and `min_seconds`,
once per track per `cooldown_s`. Violations (with an annotated snapshot and the raw frame), annotated
frames for the board's tiles and a heartbeat with every camera's state go to the main process over a pipe;
the main process writes the records (one writer to the database).
"""
from __future__ import annotations

import io
import logging
import os
import signal
import threading
import time
import zoneinfo
from datetime import UTC, datetime
from typing import TypedDict

from appliance.vision import rules as R

log = logging.getLogger(__name__)

HEARTBEAT_S = 1.0
DISPLAY_SIDE = 640           # tiles get frames at most this wide
COLOURS = {"no_hardhat": (230, 40, 40), "hardhat": (40, 200, 60)}


class DetectorUnavailable(Exception):
    """No detector can run here (no model runner, no model file, a model of the wrong shape)."""


def load_model_detector(config):
    """The PPE model (`models/`) built from `[vision.model]`."""
    try:
        from models.detector import Detector
    except ImportError as exc:  # ai-edge-litert (or tflite-runtime) missing on this box
        raise DetectorUnavailable(f"the PPE detector cannot run here ({exc})") from None
    try:
        return Detector.from_config(config.vision.model)
    except Exception as exc:  # a missing or misshapen model file: its message names the file
        raise DetectorUnavailable(str(exc)) from None


def encode_jpeg(rgb, quality: int = 80, max_side: int | None = None, draw=None) -> bytes:
    from PIL import Image

    img = Image.fromarray(rgb)
    if draw is not None:
        draw(img)
    if max_side and max(img.size) > max_side:
        img.thumbnail((max_side, max_side))
    out = io.BytesIO()
    img.save(out, "JPEG", quality=quality)
    return out.getvalue()


def annotator(zones, tracks, highlight: int | None = None):
    """A function that draws the zones and the tracked heads on a PIL image."""

    def draw(img):
        from PIL import ImageDraw

        d = ImageDraw.Draw(img)
        w, h = img.size
        lw = max(2, w // 320)
        for z in zones:
            d.polygon([(x * w, y * h) for x, y in z.polygon], outline=(250, 200, 0), width=lw)
            x0, y0 = z.polygon[0]
            d.text((x0 * w + 4, y0 * h + 2), z.name, fill=(250, 200, 0))
        for t in tracks:
            colour = COLOURS.get(t.label, (255, 255, 255))
            width = lw * 2 if t.id == highlight else lw
            d.rectangle(t.box, outline=colour, width=width)
            tag = f"#{t.id} {'NO HARD HAT' if t.label == R.UNCOVERED else 'hard hat'} {t.score:.2f}"
            d.text((t.box[0] + 2, max(0, t.box[1] - 12)), tag, fill=colour)

    return draw


class _Stats(TypedDict):
    frames_seen: int
    detections: int
    skipped_still: int
    violations: int
    detect_ms: float | None     # a moving average


class CameraPipeline:
    """One camera's path from frames to violations."""

    def __init__(self, cfg, camera, detector, detector_state: dict, tz: str, display_fps: float, send):
        self.cfg = cfg
        self.camera = camera
        self.detector = detector
        self.detector_state = detector_state
        self.tz = zoneinfo.ZoneInfo(tz)
        self.send = send
        d = cfg.detect
        self.tracker = R.Tracker(d.iou, d.max_missed)
        self.display_period_ms = 1000 / display_fps
        self.last_seq = 0
        self.prev_small = None
        self.last_detect = 0
        self.last_display = 0
        self.last_violation: int | None = None
        self.shown: list[R.Track] = []
        self.stats: _Stats = {"frames_seen": 0, "detections": 0, "skipped_still": 0, "violations": 0, "detect_ms": None}

    def step(self, now: int) -> bool:
        frame = self.camera.latest()
        if frame is None or frame.seq == self.last_seq:
            return False
        self.last_seq = frame.seq
        self.stats["frames_seen"] += 1
        d = self.cfg.detect
        small = R.thumbnail_gray(frame.image)
        moved = R.motion_share(self.prev_small, small) >= d.motion_threshold
        self.prev_small = small
        if self.detector is not None and now - self.last_detect >= 1000 / d.fps:
            if moved or self.tracker.active or now - self.last_detect >= d.recheck_s * 1000:
                self.last_detect = now
                self._detect(frame)
            else:
                self.stats["skipped_still"] += 1
        if now - self.last_display >= self.display_period_ms:
            self.last_display = now
            jpeg = encode_jpeg(frame.image, 70, DISPLAY_SIDE, annotator(self.cfg.zones, self.shown))
            self.send(("frame", self.cfg.name, frame.at_ms, jpeg))
        return True

    def _detect(self, frame) -> None:
        d = self.cfg.detect
        t0 = time.perf_counter()
        try:
            if getattr(self.detector, "wants_source", False):
                dets = self.detector.detect(frame.image, frame.source)
            else:
                dets = self.detector.detect(frame.image)
        except Exception as exc:  # one bad frame or a runner error: counted, the loop goes on
            log.exception("detection failed", extra={"camera": self.cfg.name})
            self.detector_state.update(status="degraded", reason=f"detection failed: {exc}")
            return
        ms = (time.perf_counter() - t0) * 1000
        prev = self.stats["detect_ms"]
        self.stats["detect_ms"] = round(ms if prev is None else prev * 0.9 + ms * 0.1, 1)
        self.stats["detections"] += 1
        heads = [R.Det(x.label, float(x.score), [float(v) for v in x.box]) for x in dets
                 if x.label in R.HEAD_LABELS and x.score >= d.min_score]
        seen = self.tracker.update(heads, frame.at_ms)
        self.shown = seen
        h, w = frame.image.shape[:2]
        local = datetime.fromtimestamp(frame.at_ms / 1000, UTC).astimezone(self.tz)
        weekday, minute = local.isoweekday(), local.hour * 60 + local.minute
        for t in seen:
            if not R.should_raise(t, frame.at_ms, d.min_frames, d.min_seconds, d.cooldown_s):
                continue
            zone = R.zone_for(t.box, w, h, self.cfg.zones, weekday, minute)
            if zone is None:
                continue
            if (self.last_violation is not None
                    and frame.at_ms - self.last_violation < d.camera_cooldown_s * 1000):
                continue  # the flood guard holds; the track may raise once it has passed
            t.last_violation = self.last_violation = frame.at_ms
            self.stats["violations"] += 1
            area = next((z.area for z in self.cfg.zones if z.name == zone and z.area), None) or self.cfg.area
            meta = {"camera": self.cfg.name, "zone": zone, "area": area, "track": t.id, "at_ms": frame.at_ms,
                    "score": t.score, "box": t.box, "width": w, "height": h, "sent_ms": R_now()}
            snap = encode_jpeg(frame.image, 85, None, annotator(self.cfg.zones, seen, highlight=t.id))
            raw = encode_jpeg(frame.image, 92)
            self.send(("violation", meta, snap, raw))

    def state(self) -> dict:
        out = self.camera.health()
        out.update(self.stats, tracks=len(self.tracker.tracks), title=self.cfg.title or self.cfg.name)
        return out


def R_now() -> int:
    return time.time_ns() // 1_000_000


class Unavailable:
    """A camera whose backend cannot run here: a fault with the reason, nothing else."""

    def __init__(self, cfg, reason: str):
        self.config = cfg
        self.reason = reason

    def start(self):
        pass

    def stop(self):
        pass

    def latest(self):
        return None

    def health(self):
        return {"status": "fault", "reason": self.reason, "type": self.config.type}


def build(config, send):
    """Cameras, detectors and pipelines from the config."""
    from appliance.vision.labels import LabelFileDetector
    from drivers.camera import camera_class

    detectors: dict[str, tuple[object | None, dict]] = {}

    def detector(kind: str):
        if kind not in detectors:
            if kind == "labels":
                detectors[kind] = (LabelFileDetector(), {"status": "ok", "kind": "labels"})
            else:
                try:
                    detectors[kind] = (load_model_detector(config), {"status": "ok", "kind": "model"})
                except DetectorUnavailable as exc:
                    log.error("PPE detector unavailable; cameras stream but nothing is detected",
                              extra={"reason": str(exc)})
                    detectors[kind] = (None, {"status": "fault", "kind": "model", "reason": str(exc)})
        return detectors[kind]

    pipelines = []
    for cfg in config.cameras:
        cls = camera_class(cfg.type)
        why = cls.available()
        if why:
            log.error("camera backend unavailable", extra={"camera": cfg.name, "reason": why})
            cam = Unavailable(cfg, why)
        else:
            cam = cls(cfg)
        det, state = detector(cfg.detect.detector)
        pipelines.append(CameraPipeline(cfg, cam, det, state, config.site.timezone, config.vision.display_fps, send))
    return pipelines, {k: s for k, (_, s) in detectors.items()}


def main(config, conn) -> None:
    """Entry of the vision process (spawned by the supervisor with the validated config and a pipe)."""
    from appliance.core import logs

    logs.setup(config.logging.level, config.logging.format)
    try:
        os.nice(config.vision.niceness)
    except OSError:  # not permitted here: run at the same priority
        pass
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *a: stop.set())
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C reaches the whole group; the parent stops us
    lock = threading.Lock()

    def send(msg):
        with lock:
            conn.send(msg)

    pipelines, det_states = build(config, send)
    for p in pipelines:
        p.camera.start()
    parent = os.getppid()
    last_beat = 0.0
    told: dict[str, str | None] = {}
    try:
        while not stop.is_set():
            now = R_now()
            worked = False
            for p in pipelines:
                worked = p.step(now) or worked
            # a camera's status change (its first frame, a fault) is told at once, not at the next beat: the
            # board and health show a camera that works as soon as it does (bench/footprint.py, issue 14)
            statuses = {p.cfg.name: p.camera.health().get("status") for p in pipelines}
            if time.monotonic() - last_beat >= HEARTBEAT_S or statuses != told:
                last_beat, told = time.monotonic(), statuses
                if os.getppid() != parent:
                    break  # the appliance is gone: do not linger as an orphan
                send(("state", {"pid": os.getpid(), "detectors": det_states,
                                "cameras": {p.cfg.name: p.state() for p in pipelines}}))
            if not worked:
                stop.wait(0.01)
    except (BrokenPipeError, EOFError, ConnectionResetError):
        pass
    finally:
        for p in pipelines:
            p.camera.stop()
