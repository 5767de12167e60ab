"""Course files: videos and PDF documents stored under the data directory by SHA-256, a video's length and
thumbnail read once at upload by FFmpeg's libraries (PyAV, the only importer of `av`), never in a request.

An upload is copied in chunks to a temporary file beside its final place while it is hashed and counted:
over the [training] size limit it is refused (413, naming the field and the limit) and nothing is kept. Its
type comes from its first bytes (WebM/Matroska, MP4, PDF), never from its name. The file is then renamed to
`<sha256>.<ext>` (atomic, fsync'd), so a unit refers to it only by its hash, like hazard photos
(`appliance.core.photos`).

The probe (length and thumbnail) runs in one worker thread, which runs FFmpeg in a child process
(`python -m appliance.training.media FILE THUMB`) with a time limit: a damaged or hostile video can crash or
hang the decoder, never the appliance. A unit is `pending` until the probe ends, then `ready` (or `failed`
with the reason; a document needs no probe).
"""
from __future__ import annotations

import hashlib
import json
import logging
import os
import queue
import subprocess
import sys
import threading
from collections.abc import Callable
from pathlib import Path
from typing import IO

from appliance.core.errors import ApplianceError, ValidationFailed

log = logging.getLogger(__name__)

CHUNK = 1024 * 1024
PROBE_TIMEOUT_S = 120
THUMB_SIDE = 480
EXT = {"video/webm": "webm", "video/mp4": "mp4", "application/pdf": "pdf"}
KIND_OF = {"video/webm": "video", "video/mp4": "video", "application/pdf": "document"}


class FileTooLarge(ApplianceError):
    """A course file over the plant's size limit."""

    code = "file_too_large"
    http_status = 413


def too_large(limit_mb: int) -> FileTooLarge:
    return FileTooLarge(f"file：文件超过上限 {limit_mb} MB，请压缩后再上传", f"file: the file is over the {limit_mb} MB limit; "
                        "compress it and upload again", details=[{"key": "file", "limit_mb": limit_mb}])


def sniff(head: bytes) -> str | None:
    """The MIME type of a course file from its first bytes: WebM/Matroska, MP4 (ISO BMFF), PDF; else None."""
    if head[:4] == b"\x1a\x45\xdf\xa3":
        return "video/webm"
    if head[4:8] == b"ftyp":
        return "video/mp4"
    if head[:5] == b"%PDF-":
        return "application/pdf"
    return None


def store(stream: IO[bytes], root: Path, limits_mb: dict[str, int]) -> tuple[str, str, int]:
    """Copy an upload into `root`: (sha256, mime, size). FileTooLarge over the limit of its kind
    (`limits_mb`: video / document), ValidationFailed for a file that is not a WebM/MP4 video or a PDF;
    nothing is left behind either way."""
    root.mkdir(parents=True, exist_ok=True)
    limit_mb = max(limits_mb.values())
    limit = limit_mb * 1024 * 1024
    h, size, head = hashlib.sha256(), 0, b""
    fd, tmp_name = _temp(root)
    tmp = Path(tmp_name)
    try:
        with os.fdopen(fd, "wb") as out:
            while chunk := stream.read(CHUNK):
                size += len(chunk)
                if len(head) < 16:
                    head += chunk[:16]
                    kind = KIND_OF.get(sniff(head) or "")
                    if kind in limits_mb:
                        limit_mb = limits_mb[kind]
                        limit = limit_mb * 1024 * 1024
                if size > limit:
                    raise too_large(limit_mb)
                h.update(chunk)
                out.write(chunk)
            out.flush()
            os.fsync(out.fileno())
        mime = sniff(head)
        if size == 0 or mime is None:
            raise ValidationFailed("file：只接受 WebM/MP4 视频或 PDF 文档", "file: only WebM/MP4 videos and PDF documents are accepted",
                                   details=[{"key": "file"}])
        digest = h.hexdigest()
        final = root / f"{digest}.{EXT[mime]}"
        if final.exists():
            tmp.unlink()
        else:
            os.replace(tmp, final)
        return digest, mime, size
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def _temp(root: Path) -> tuple[int, str]:
    import tempfile

    return tempfile.mkstemp(dir=root, prefix=".upload-", suffix=".tmp")


def path_of(root: Path, digest: str, mime: str) -> Path | None:
    """The stored file, or None: only a well-formed hash of a known type becomes a path."""
    if len(digest) != 64 or any(c not in "0123456789abcdef" for c in digest) or mime not in EXT:
        return None
    p = root / f"{digest}.{EXT[mime]}"
    return p if p.exists() else None


def thumb_of(root: Path, digest: str) -> Path:
    return root / f"{digest}.thumb.jpg"


# ---------------------------------------------------------------- the probe (child process)

def probe(path: Path, thumb: Path, timeout: float = PROBE_TIMEOUT_S) -> dict:
    """{"duration": seconds} with the thumbnail written to `thumb`; {"error": why} when FFmpeg cannot read
    the video, crashes or takes longer than `timeout`."""
    try:
        r = subprocess.run([sys.executable, "-m", "appliance.training.media", str(path), str(thumb)],
                           capture_output=True, text=True, timeout=timeout, check=False)
    except subprocess.TimeoutExpired:
        return {"error": f"probe took over {timeout:.0f} s"}
    if r.returncode != 0:
        return {"error": (r.stderr.strip().splitlines() or [f"exit {r.returncode}"])[-1][:300]}
    try:
        return json.loads(r.stdout.strip().splitlines()[-1])
    except (ValueError, IndexError):
        return {"error": "probe gave no answer"}


def _probe_here(path: Path, thumb: Path) -> dict:
    """In the child: the video's length, and a JPEG of a frame a tenth of the way in (the first frames are
    often black)."""
    import av

    with av.open(str(path)) as c:
        v = c.streams.video[0]
        if v.duration is not None and v.time_base is not None:
            duration = float(v.duration * v.time_base)
        elif c.duration is not None:
            duration = c.duration / 1_000_000
        else:   # no length in the header (a live-recorded WebM): count the frames' times
            duration = max((float(f.time or 0) for f in c.decode(v)), default=0.0)
            c.seek(0)
        if duration <= 0:
            raise ValueError("the video has no length")
        if v.time_base is not None and duration > 1:
            c.seek(int(duration * 0.1 / v.time_base), stream=v, backward=True)
        frame = next(iter(c.decode(v)), None)
        if frame is None:
            raise ValueError("the video has no frames")
        img = frame.to_image()
        img.thumbnail((THUMB_SIDE, THUMB_SIDE))
        tmp = thumb.with_suffix(".tmp")
        img.save(tmp, "JPEG", quality=80)
        os.replace(tmp, thumb)
    return {"duration": round(duration, 3), "width": v.width, "height": v.height}


# ---------------------------------------------------------------- the worker thread

_jobs: queue.Queue[tuple[Path, Path, Callable[[dict], None]]] = queue.Queue()
_worker: threading.Thread | None = None
_lock = threading.Lock()


def submit(path: Path, thumb: Path, done: Callable[[dict], None]) -> None:
    """Probe `path` on the worker thread, then call `done(result)` there; returns at once."""
    global _worker
    _jobs.put((path, thumb, done))
    with _lock:
        if _worker is None or not _worker.is_alive():
            _worker = threading.Thread(target=_run, name="training-media", daemon=True)
            _worker.start()


def _run() -> None:
    while True:
        path, thumb, done = _jobs.get()
        try:
            done(probe(path, thumb))
        except Exception:   # the unit stays pending; the log says why
            log.exception("course video probe failed", extra={"path": str(path)})
        finally:
            from appliance.core.db import database

            database.close()   # no connection held between jobs (the next may be hours away)
            _jobs.task_done()


def wait_idle(timeout: float = 30) -> bool:
    """For tests and the demo seed: True once every submitted probe has finished."""
    import time

    end = time.monotonic() + timeout
    while _jobs.unfinished_tasks and time.monotonic() < end:
        time.sleep(0.05)
    return not _jobs.unfinished_tasks


# ---------------------------------------------------------------- demo files

def encode_demo_video(path: Path, seconds: int = 5, fps: int = 10, size: tuple[int, int] = (320, 180)) -> None:
    """A short WebM (VP8) that a browser plays: a bar crossing a coloured screen, one second a colour."""
    import av
    from PIL import Image, ImageDraw

    colours = [(230, 126, 34), (41, 128, 185), (39, 174, 96), (192, 57, 43), (142, 68, 173)]
    tmp = path.with_suffix(".tmp")
    with av.open(str(tmp), "w", format="webm") as c:
        s = c.add_stream("libvpx", rate=fps)
        s.width, s.height, s.pix_fmt = size[0], size[1], "yuv420p"
        for i in range(seconds * fps):
            img = Image.new("RGB", size, colours[(i // fps) % len(colours)])
            d = ImageDraw.Draw(img)
            x = int(size[0] * i / (seconds * fps))
            d.rectangle([x, size[1] - 30, x + 24, size[1] - 10], fill=(255, 255, 255))
            d.text((12, 12), f"{i // fps + 1}/{seconds}", fill=(255, 255, 255))
            for packet in s.encode(av.VideoFrame.from_image(img)):
                c.mux(packet)
        for packet in s.encode():
            c.mux(packet)
    os.replace(tmp, path)


class DemoVideo:
    """`encode_demo_video` in a child process, started at once and waited for by `path()`: PyAV's FFmpeg
    libraries, once loaded, stay in the process's memory for good (~25 MB of the demo's first start), and the
    encoding overlaps the rest of the demo's seeding (bench/footprint.py, issue 14). The appliance loads
    FFmpeg only in children (the probe, this)."""

    def __init__(self, path: Path):
        self._path = path
        self._proc = subprocess.Popen([sys.executable, "-m", "appliance.training.media", "--demo-video", str(path)],
                                      stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)

    def path(self, timeout: float = 60) -> Path:
        try:
            _, err = self._proc.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            self._proc.kill()
            self._proc.wait()
            raise RuntimeError(f"demo video not encoded in {timeout:.0f} s") from None
        if self._proc.returncode != 0 or not self._path.exists():
            raise RuntimeError(f"demo video not encoded: "
                               f"{(err.strip().splitlines() or [f'exit {self._proc.returncode}'])[-1]}")
        return self._path

    def close(self) -> None:
        """Stop the child if its video was not picked up (the demo's course was there already)."""
        if self._proc.returncode is not None:   # picked up
            return
        if self._proc.poll() is None:
            self._proc.kill()
        self._proc.communicate()


def main(argv: list[str]) -> int:
    if len(argv) == 2 and argv[0] == "--demo-video":
        encode_demo_video(Path(argv[1]))
        return 0
    if len(argv) != 2:
        print("usage: python -m appliance.training.media VIDEO THUMB.jpg | --demo-video OUT.webm", file=sys.stderr)
        return 2
    try:
        print(json.dumps(_probe_here(Path(argv[0]), Path(argv[1]))))
    except Exception as exc:   # the parent reads the last line of stderr as the reason
        print(f"{type(exc).__name__}: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
