"""OpenCV camera: USB cameras (`/dev/video0` or an index) and network streams (RTSP, HTTP MJPEG) through
`cv2.VideoCapture`. The only module that imports cv2 (opencv-python-headless; never opencv-python too).
"""
from __future__ import annotations

import re
from typing import Literal

from pydantic import Field

from drivers.base import register
from drivers.camera import Camera, CameraConfig, CameraError


class OpenCVCameraConfig(CameraConfig):
    type: Literal["opencv"]
    source: str = Field(min_length=1, max_length=500)  # "0", "/dev/video0", "rtsp://…", "http://…"
    width: int | None = Field(None, ge=16, le=8192)
    height: int | None = Field(None, ge=16, le=8192)
    open_timeout_s: float = Field(10.0, gt=0, le=120)
    read_timeout_s: float = Field(10.0, gt=0, le=120)


def redact(source: str) -> str:
    """A stream URL without its password, for logs and the health page."""
    return re.sub(r"(://[^:/@]+):[^@/]*@", r"\1:***@", source)


def open_capture(source: str | int, open_timeout_s: float, read_timeout_s: float):
    """An opened cv2.VideoCapture, or CameraError naming the source."""
    import cv2

    params = [cv2.CAP_PROP_OPEN_TIMEOUT_MSEC, int(open_timeout_s * 1000),
              cv2.CAP_PROP_READ_TIMEOUT_MSEC, int(read_timeout_s * 1000)]
    cap = cv2.VideoCapture(source, cv2.CAP_ANY, params)
    if not cap.isOpened():
        cap.release()
        raise CameraError(f"cannot open {redact(str(source))} (unplugged, wrong address, or not a video)")
    return cap


def read_rgb(cap, label: str, corrupt_ok: bool = False):
    """The next frame as RGB; None at the end of a file when `corrupt_ok`, else CameraError."""
    ok, bgr = cap.read()
    if not ok or bgr is None:
        if corrupt_ok:
            return None
        raise CameraError(f"no frame from {redact(label)} (stream ended, timed out or device unplugged)")
    return bgr[:, :, ::-1].copy()


def rewind(cap) -> None:
    import cv2

    cap.set(cv2.CAP_PROP_POS_FRAMES, 0)


@register
class OpenCVCamera(Camera):
    type_key = "opencv"
    Config = OpenCVCameraConfig

    @classmethod
    def available(cls) -> str | None:
        try:
            import cv2  # noqa: F401
        except ImportError as exc:
            return f"opencv-python-headless is not installed ({exc})"
        return None

    def open(self):
        src = self.config.source
        cap = open_capture(int(src) if src.isdigit() else src, self.config.open_timeout_s, self.config.read_timeout_s)
        if self.config.width and self.config.height:
            import cv2

            cap.set(cv2.CAP_PROP_FRAME_WIDTH, self.config.width)
            cap.set(cv2.CAP_PROP_FRAME_HEIGHT, self.config.height)
        return cap

    def read(self, handle):
        return read_rgb(handle, self.config.source), None

    def close(self, handle):
        handle.release()
