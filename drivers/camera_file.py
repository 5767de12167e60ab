"""File camera: a folder of images or a video file, played at the camera's frame rate and looping.

For the demo and the tests (a sample clip with known people in it), and for replaying footage. Images are
decoded with Pillow; a file that does not decode is a corrupt frame (counted, skipped). Video files are
read through OpenCV (`camera_opencv.open_capture`, the only owner of cv2).
"""
from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field

from drivers.base import register
from drivers.camera import Camera, CameraConfig, CameraError, CorruptFrame, SourceEnded

IMAGE_SUFFIXES = {".jpg", ".jpeg", ".png", ".bmp", ".webp"}
VIDEO_SUFFIXES = {".mp4", ".avi", ".mkv", ".mov", ".mjpeg", ".mjpg", ".webm"}


class FileCameraConfig(CameraConfig):
    type: Literal["file"]
    path: Path                                  # a folder of images, one image, or a video file
    loop: bool = True
    max_side: int = Field(1280, ge=64, le=8192)  # larger images are scaled down on read
    files: list[str] = Field(default_factory=list, max_length=10000)  # a folder: these names, in order (default all)
    frames_per_image: int = Field(1, ge=1, le=10000)  # a folder: each image held this many frames (a still clip)


class _Images:
    def __init__(self, files: list[Path]):
        self.files = files
        self.i = 0
        self.held = 0
        self.current = None


def decode_image(path: Path, max_side: int):
    """An image file as RGB uint8 H×W×3; CorruptFrame when it does not decode."""
    import numpy as np
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(path) as img:
            img.load()
            rgb = img.convert("RGB")
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError, Image.DecompressionBombError) as exc:
        raise CorruptFrame(f"{path.name}: not a decodable image ({exc})") from None
    if max(rgb.size) > max_side:
        rgb.thumbnail((max_side, max_side))
    return np.asarray(rgb)


@register
class FileCamera(Camera):
    type_key = "file"
    Config = FileCameraConfig

    def open(self):
        p = self.config.path
        if not p.exists():
            raise CameraError(f"{p}: no such file or folder")
        if p.is_dir():
            if self.config.files:
                files = [p / name for name in self.config.files if (p / name).is_file()]
            else:
                files = sorted(f for f in p.iterdir() if f.suffix.lower() in IMAGE_SUFFIXES and f.is_file())
            if not files:
                raise CameraError(f"{p}: no images in this folder")
            return _Images(files)
        if p.suffix.lower() in IMAGE_SUFFIXES:
            return _Images([p])
        if p.suffix.lower() in VIDEO_SUFFIXES:
            from drivers.camera_opencv import open_capture

            return open_capture(str(p), 5.0, 5.0)
        raise CameraError(f"{p}: not an image folder, an image or a video file")

    def read(self, handle):
        if isinstance(handle, _Images):
            if handle.current is not None and handle.held < self.config.frames_per_image:
                handle.held += 1
                return handle.current
            if handle.i >= len(handle.files):
                if not self.config.loop:
                    raise SourceEnded(f"{self.config.path}: end of the file source")
                handle.i = 0
            f = handle.files[handle.i]
            handle.i += 1
            handle.current, handle.held = None, 1
            handle.current = (decode_image(f, self.config.max_side), str(f))
            return handle.current
        from drivers.camera_opencv import read_rgb, rewind

        img = read_rgb(handle, str(self.config.path), corrupt_ok=True)
        if img is None:
            if not self.config.loop:
                raise SourceEnded(f"{self.config.path}: end of the video")
            rewind(handle)
            img = read_rgb(handle, str(self.config.path))
        return img, None

    def close(self, handle):
        if not isinstance(handle, _Images) and handle is not None:
            handle.release()
