"""Raspberry Pi camera through picamera2. picamera2 (and the libcamera Python bindings it needs) exists
only on Raspberry Pi OS (`apt install python3-picamera2`); elsewhere `available()` says so and the camera
is a fault with that reason, logged once, while the rest of the appliance runs.

apt installs it for the system Python, which the appliance's venv does not see; when the import fails and
the system's dist-packages holds picamera2, that directory is appended to sys.path (after the venv's own
packages, so the venv's numpy and friends still win) and the import is tried once more.
"""
from __future__ import annotations

import logging
import sys
from pathlib import Path
from typing import Literal

from pydantic import Field

from drivers.base import register
from drivers.camera import Camera, CameraConfig, CameraError


class PiCameraConfig(CameraConfig):
    type: Literal["picamera2"]
    camera_num: int = Field(0, ge=0, le=8)
    width: int = Field(1280, ge=64, le=4608)
    height: int = Field(720, ge=64, le=3496)


log = logging.getLogger(__name__)

# where Debian / Raspberry Pi OS put apt-installed Python packages (python3-picamera2, python3-libcamera)
SYSTEM_SITE_DIRS = ("/usr/lib/python3/dist-packages",
                    f"/usr/lib/python{sys.version_info.major}.{sys.version_info.minor}/dist-packages")


def system_picamera2_dir(dirs=SYSTEM_SITE_DIRS) -> str | None:
    """The first of `dirs` that holds an apt-installed picamera2 package, if any."""
    for d in dirs:
        if (Path(d) / "picamera2" / "__init__.py").is_file():
            return str(d)
    return None


def unavailable_reason(exc: BaseException, system_dir: str | None) -> str:
    """Why the camera cannot be used, and the step that helps. When apt's picamera2 is there and still fails
    to load (on Bookworm: python3-simplejpeg and friends are built against Debian's numpy 1.x, the venv has
    numpy 2), telling the user to install it again does not help: the Pi camera is read through
    rpicam-vid in its own service instead (docs/INSTALL.md, cameras)."""
    what = f"picamera2 is not available here ({exc.__class__.__name__}: {exc})"
    if system_dir is None:
        return f"{what}; on a Raspberry Pi install python3-picamera2 from Raspberry Pi OS"
    return (f"{what}; python3-picamera2 is installed ({system_dir}) but cannot load beside the appliance's "
            "own packages: enable safety-camera-csi.service (rpicam-vid) and use an opencv camera with "
            'source = "tcp://127.0.0.1:8888"')


def _import_picamera2():
    try:
        import picamera2
    except ImportError:
        extra = system_picamera2_dir()
        if extra is None or extra in sys.path:
            raise
        sys.path.append(extra)  # appended: the venv's packages stay first
        log.info("picamera2 taken from the system's packages", extra={"path": extra})
        import picamera2
    return picamera2


@register
class PiCamera(Camera):
    type_key = "picamera2"
    Config = PiCameraConfig

    @classmethod
    def available(cls) -> str | None:
        try:
            _import_picamera2()
        except Exception as exc:  # ImportError, or libcamera failing inside the import
            return unavailable_reason(exc, system_picamera2_dir())
        return None

    def open(self):
        Picamera2 = _import_picamera2().Picamera2

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
