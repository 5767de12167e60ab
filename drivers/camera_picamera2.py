"""Raspberry Pi camera through picamera2. picamera2 (and the libcamera Python bindings it needs) exists
only on Raspberry Pi OS (`apt install python3-picamera2`); elsewhere `available()` says so and the camera
is a fault with that reason, logged once, while the rest of the appliance runs.
"""
from __future__ import annotations

from typing import Literal

from pydantic import Field

from .camera import Camera, CameraConfig, CameraError, register_camera


class PiCameraConfig(CameraConfig):
    type: Literal["picamera2"]
    camera_num: int = Field(0, ge=0, le=8)
    width: int = Field(1280, ge=64, le=4608)
    height: int = Field(720, ge=64, le=3496)


@register_camera
class PiCamera(Camera):
    type_key = "picamera2"
    Config = PiCameraConfig

    @classmethod
    def available(cls) -> str | None:
        try:
            import picamera2  # noqa: F401
        except Exception as exc:  # ImportError, or libcamera failing inside the import
            return (f"picamera2 is not available here ({exc.__class__.__name__}: {exc}); on a Raspberry Pi "
                    "install python3-picamera2 from Raspberry Pi OS")
        return None

    def open(self):
        from picamera2 import Picamera2

        try:
            cam = Picamera2(self.config.camera_num)
            cam.configure(cam.create_video_configuration(
                main={"size": (self.config.width, self.config.height), "format": "RGB888"}))
            cam.start()
        except Exception as exc:  # libcamera reports a missing or busy camera in many ways
            raise CameraError(f"picamera2 camera {self.config.camera_num}: {exc}") from None
        return cam

    def read(self, handle):
        try:
            arr = handle.capture_array("main")
        except Exception as exc:
            raise CameraError(f"picamera2 capture failed: {exc}") from None
        return arr[:, :, ::-1].copy(), None  # "RGB888" is B, G, R in memory

    def close(self, handle):
        handle.stop()
        handle.close()
