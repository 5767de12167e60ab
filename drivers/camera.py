"""The camera interface: one capture loop (reconnect with back-off, a frame-rate cap, corrupt-frame
counting, a `fault` state when frames stop) over small backends that only open, read and close.

Backends, one per file, chosen by the camera's `type`:
- `file`      — `camera_file.py`: a folder of images or a video file, looping (the demo and the tests);
- `opencv`    — `camera_opencv.py`: OpenCV `VideoCapture` for USB cameras and RTSP/HTTP streams;
- `picamera2` — `camera_picamera2.py`: the Raspberry Pi camera, only where picamera2 imports.

A camera hands out its newest frame (`latest()`), RGB uint8 H×W×3: the vision process takes the newest
and lets older ones go, so a slow detector never builds a backlog. The capture thread never raises: a
failure is a state with a reason, logged once when it starts and once when it clears. A read that hangs
(a stalled stream) cannot be interrupted, so after `stall_s` without a frame the camera is a fault and a
fresh capture thread is started beside the stuck one (which exits when its read returns).
"""
from __future__ import annotations

import logging
import threading
import time
from abc import abstractmethod
from collections.abc import Callable
from typing import Any, ClassVar, Literal, NamedTuple

from pydantic import BaseModel, ConfigDict, Field, field_validator

from drivers.base import REGISTRY, DeviceState, Driver, DriverConfig, now_ms

log = logging.getLogger(__name__)

CORRUPT_RUN_FAULT = 10  # this many undecodable frames in a row is a broken source, not bad luck


class CameraError(Exception):
    """The camera cannot be opened or stopped delivering frames (it is reopened with back-off)."""


class CorruptFrame(Exception):
    """One frame could not be decoded; it is counted and skipped."""


class SourceEnded(CameraError):
    """A file source that does not loop has no more frames."""


class Frame(NamedTuple):
    """One captured frame: RGB uint8 H×W×3, when it was captured, its number, and the file it came from
    (file sources only; the `labels` detector reads the YOLO label file beside it)."""

    image: Any
    at_ms: int
    seq: int
    source: str | None = None


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class ScheduleWindow(_Strict):
    """When hard hats are required in a zone: ISO weekdays (1 = Monday) and a local time window; an end
    before the start runs over midnight."""

    days: list[int] = Field(default_factory=lambda: [1, 2, 3, 4, 5, 6, 7], min_length=1)
    start: str = Field("00:00", pattern=r"^([01][0-9]|2[0-3]):[0-5][0-9]$")
    end: str = Field("24:00", pattern=r"^(([01][0-9]|2[0-3]):[0-5][0-9]|24:00)$")

    @field_validator("days")
    @classmethod
    def _weekdays(cls, v: list[int]) -> list[int]:
        if any(d < 1 or d > 7 for d in v):
            raise ValueError("days are 1 (Monday) to 7 (Sunday)")
        return v


class ZoneConfig(_Strict):
    """Where in a camera's view hard hats are required: a polygon in normalised image coordinates (0..1)."""

    name: str = Field(pattern=r"^[A-Za-z0-9_.-]{1,40}$")
    polygon: list[tuple[float, float]] = Field(min_length=3, max_length=64)
    area: str | None = None                     # area code for hazards; default: the camera's
    schedule: list[ScheduleWindow] = Field(default_factory=list)  # empty: always

    @field_validator("polygon")
    @classmethod
    def _normalised(cls, v):
        if any(not (0 <= x <= 1 and 0 <= y <= 1) for x, y in v):
            raise ValueError("polygon points are normalised image coordinates within 0..1")
        return v


class DetectConfig(_Strict):
    """How a camera's frames become violations (the vision process)."""

    fps: float = Field(2.0, gt=0, le=30)        # detections per second at most
    detector: Literal["model", "labels"] = "model"  # labels: YOLO label files beside the source images
    min_score: float = Field(0.5, ge=0, le=1)
    min_frames: int = Field(3, ge=1, le=1000)   # a head uncovered for this many detections ...
    min_seconds: float = Field(1.0, ge=0, le=3600)  # ... and this long raises a violation
    cooldown_s: float = Field(120.0, ge=0, le=86400)  # per track, after a violation
    camera_cooldown_s: float = Field(0.0, ge=0, le=86400)  # flood guard: at most one per camera this often
    iou: float = Field(0.3, gt=0, lt=1)         # tracker: a detection continues a track above this overlap
    max_missed: int = Field(3, ge=1, le=100)    # detections a track may miss before it ends
    motion_threshold: float = Field(0.01, ge=0, le=1)  # share of changed pixels that counts as motion
    recheck_s: float = Field(5.0, gt=0, le=3600)    # still scene: detect anyway this often


class CameraConfig(DriverConfig):
    """What every camera type shares: where it looks, how fast, and how its frames are judged."""

    name: str = Field(pattern=r"^[A-Za-z0-9_.-]{1,40}$")
    title: str = Field("", max_length=60)       # shown on the tile; default: the name
    area: str | None = None                     # area code: confirmed violations become hazards there
    fps: float = Field(5.0, gt=0, le=60)        # frame-rate cap of the capture loop
    stall_s: float = Field(10.0, ge=0.5, le=600)  # no frame for this long: fault
    reconnect_max_s: float = Field(30.0, ge=0.1, le=3600)  # back-off ceiling between reopen attempts
    zones: list[ZoneConfig] = Field(default_factory=list)  # empty: the whole view, always
    detect: DetectConfig = DetectConfig()


def camera_class(type_key: str) -> type[Camera]:
    """The backend of a camera type."""
    import drivers

    drivers.load_all()
    cls = REGISTRY[type_key]
    assert issubclass(cls, Camera), type_key
    return cls


class Camera(Driver):
    """Base of the camera backends: subclasses implement `open`, `read` and `close`."""

    kind = "camera"

    type_key: ClassVar[str]
    config: CameraConfig
    sink: Callable[[Frame], None] | None

    def __init__(self, config: CameraConfig, sink: Callable[[Frame], None] | None = None):
        super().__init__(config, sink)
        self.state = DeviceState(f"camera:{config.name}")
        self._lock = threading.Lock()
        self._latest: Frame | None = None
        self._seq = 0
        self._gen = 0
        self._stop = threading.Event()
        self._started = 0.0
        self._last_frame_mono: float | None = None
        self._last_restart = 0.0
        self.frames = 0
        self.corrupt = 0
        self.reconnects = 0
        self.stall_restarts = 0

    # -- backend hooks ---------------------------------------------------------------------------
    @abstractmethod
    def open(self) -> Any:
        """Open the device or stream; raise CameraError with the reason."""

    @abstractmethod
    def read(self, handle: Any) -> tuple[Any, str | None]:
        """The next frame as (RGB uint8 array, source file or None); CorruptFrame or CameraError."""

    def close(self, handle: Any) -> None:
        """Release the device; must not raise."""

    # -- the capture loop ------------------------------------------------------------------------
    def start(self) -> None:
        self._stop.clear()
        self._started = time.monotonic()
        self._spawn()

    def _spawn(self) -> None:
        with self._lock:
            self._gen += 1
            gen = self._gen
        threading.Thread(target=self._run, args=(gen,), name=f"camera-{self.config.name}-{gen}", daemon=True).start()

    def _current(self, gen: int) -> bool:
        return not self._stop.is_set() and gen == self._gen

    def _run(self, gen: int) -> None:
        backoff = 0.5
        while self._current(gen):
            try:
                handle = self.open()
            except CameraError as exc:
                self.state.fault(str(exc))
                self._stop.wait(backoff)
                backoff = min(backoff * 2, self.config.reconnect_max_s)
                continue
            except Exception as exc:  # a backend bug is a fault of this camera, never the process
                log.exception("camera open failed", extra={"camera": self.config.name})
                self.state.fault(f"open failed: {exc}")
                self._stop.wait(backoff)
                backoff = min(backoff * 2, self.config.reconnect_max_s)
                continue
            try:
                self._capture(handle, gen)
                backoff = 0.5
            except SourceEnded as exc:
                self.state.fault(str(exc))
                return
            except CameraError as exc:
                self.state.fault(str(exc))
                self.reconnects += 1
            except Exception as exc:
                log.exception("camera read failed", extra={"camera": self.config.name})
                self.state.fault(f"read failed: {exc}")
                self.reconnects += 1
            finally:
                try:
                    self.close(handle)
                except Exception:  # closing a dead device may fail; it is gone either way
                    log.debug("camera close failed", exc_info=True)
            self._stop.wait(backoff)
            backoff = min(backoff * 2, self.config.reconnect_max_s)

    def _capture(self, handle: Any, gen: int) -> None:
        period = 1.0 / self.config.fps
        next_t = time.monotonic()
        corrupt_run = 0
        while self._current(gen):
            delay = next_t - time.monotonic()
            if delay > 0 and self._stop.wait(delay):
                return
            next_t = max(next_t + period, time.monotonic() - period)  # the cap; no burst after a slow read
            try:
                image, source = self.read(handle)
            except CorruptFrame as exc:
                self.corrupt += 1
                corrupt_run += 1
                if corrupt_run == 1:
                    log.warning("corrupt camera frame skipped", extra={"camera": self.config.name, "reason": str(exc)})
                if corrupt_run >= CORRUPT_RUN_FAULT:
                    raise CameraError(f"{corrupt_run} corrupt frames in a row (last: {exc})") from None
                continue
            corrupt_run = 0
            if gen != self._gen:  # a stuck read that came back after a fresh thread took over
                return
            with self._lock:
                self._seq += 1
                frame = Frame(image, now_ms(), self._seq, source)
                self._latest = frame
                self._last_frame_mono = time.monotonic()
            self.frames += 1
            self.state.ok()
            if self.sink is not None:
                self.sink(frame)

    def latest(self) -> Frame | None:
        """The newest frame (or None before the first)."""
        return self._latest

    def check(self) -> None:
        """Called often by the vision loop (and by `health`): no frame for `stall_s` is a fault, and a
        capture thread stuck in a read is replaced by a fresh one, at most once per `stall_s`."""
        if self._stop.is_set() or not self._started:
            return
        now = time.monotonic()
        last = self._last_frame_mono or self._started
        age = now - last
        if age < self.config.stall_s:
            return
        if self.state.status != "fault" or (self.state.reason or "").startswith("no frame"):
            self.state.fault(f"no frame for {age:.0f} s")
        if now - max(last, self._last_restart) >= self.config.stall_s * 2 and (self.state.reason or "").startswith("no frame"):
            self._last_restart = now
            self.stall_restarts += 1
            log.warning("camera stalled; starting a fresh capture", extra={"camera": self.config.name})
            self._spawn()

    def stop(self) -> None:
        self._stop.set()

    def health(self) -> dict:
        self.check()
        out = self.state.as_dict()
        out.update(type=self.type_key, frames=self.frames, corrupt_frames=self.corrupt, reconnects=self.reconnects)
        if self._latest is not None:
            out["last_frame"] = self._latest.at_ms
            h, w = self._latest.image.shape[:2]
            out["size"] = [int(w), int(h)]
        return out
