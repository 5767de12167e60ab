"""Photos (hazard evidence, rectification proof): checked, re-encoded, stored by SHA-256.

An upload is decoded with Pillow whatever its name or type claims; anything that does not decode as a
JPEG, PNG or WebP image is refused. The stored file is a fresh JPEG re-encoded from the pixels (so no
hidden payload or EXIF location survives), named by the SHA-256 of those bytes, with a thumbnail beside
it, written atomically (temp file, fsync, rename). Files are served only by hash, never by a user's path.
"""
from __future__ import annotations

import hashlib
import io
import os
import re
import threading
import warnings
from pathlib import Path

from PIL import Image, ImageOps, UnidentifiedImageError

from appliance.core.errors import ValidationFailed

ALLOWED = {"JPEG", "PNG", "WEBP"}
MAX_PIXELS = 40_000_000       # a decompression bomb is refused before it is decoded
MAX_SIDE = 2560               # stored photos are scaled down to this
THUMB_SIDE = 320
HASH_RE = re.compile(r"^[0-9a-f]{64}$")

# Pillow only warns between MAX_IMAGE_PIXELS and twice that (a 79-megapixel PNG of 231 KB got through and
# took 1–2 GB); `decode` checks the header's size itself, before anything is decoded.
Image.MAX_IMAGE_PIXELS = MAX_PIXELS
# At most this many photos are decoded at once, so memory stays bounded however many uploads arrive together
# (one 40-megapixel RGB image is ~120 MB while it is turned around and scaled).
DECODE_SLOTS = threading.BoundedSemaphore(2)


class BadPhoto(ValidationFailed):
    """The upload is not a usable photo."""

    code = "bad_photo"


def _atomic_write(path: Path, data: bytes) -> None:
    tmp = path.with_suffix(path.suffix + ".tmp")
    with open(tmp, "wb") as fh:
        fh.write(data)
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, path)


def _jpeg(img: Image.Image, side: int) -> bytes:
    img = img.copy()
    img.thumbnail((side, side))
    out = io.BytesIO()
    img.save(out, "JPEG", quality=85, optimize=True)
    return out.getvalue()


def decode(data: bytes) -> Image.Image:
    """The upload decoded as an RGB image (EXIF orientation applied); BadPhoto unless it is a whole JPEG,
    PNG or WebP within the pixel limit, whatever its name or type claims."""
    if not data:
        raise BadPhoto("photo：照片为空", "photo: the upload is empty", details=[{"key": "photo"}])
    img: Image.Image
    try:
        with warnings.catch_warnings():  # Pillow's own bomb warning: the size is checked right below instead
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            probe = Image.open(io.BytesIO(data))
        with probe:
            fmt = probe.format
            width, height = probe.size
            if width * height > MAX_PIXELS:  # from the header alone: nothing decoded yet
                mp = width * height / 1e6
                raise BadPhoto(f"photo：图片过大（{mp:.0f} 百万像素，上限 {MAX_PIXELS / 1e6:.0f}）",
                               f"photo: image too large ({mp:.0f} megapixels, limit {MAX_PIXELS / 1e6:.0f})",
                               details=[{"key": "photo"}])
            probe.verify()  # structure check (a truncated file fails here or at load below)
        if fmt not in ALLOWED:
            raise BadPhoto(f"photo：不支持的图片格式 {fmt}", f"photo: unsupported image format {fmt}",
                           details=[{"key": "photo"}])
        with DECODE_SLOTS, Image.open(io.BytesIO(data)) as img:
            if fmt == "JPEG":  # decode a big JPEG at a reduced scale: it is stored at MAX_SIDE anyway
                img.draft("RGB", (2 * MAX_SIDE, 2 * MAX_SIDE))
            img.load()
            img = ImageOps.exif_transpose(img).convert("RGB")
    except BadPhoto:
        raise
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError, Image.DecompressionBombError) as exc:
        raise BadPhoto("photo：不是有效的图片（已损坏或被截断）", f"photo: not a valid image ({exc})",
                       details=[{"key": "photo"}]) from None
    return img


def store(data: bytes, root: Path) -> str:
    """Check, re-encode and store a photo; returns its SHA-256 (the only way to refer to it)."""
    img = decode(data)
    full, thumb = _jpeg(img, MAX_SIDE), _jpeg(img, THUMB_SIDE)
    digest = hashlib.sha256(full).hexdigest()
    root.mkdir(parents=True, exist_ok=True)
    path = root / f"{digest}.jpg"
    if not path.exists():
        _atomic_write(root / f"{digest}.thumb.jpg", thumb)
        _atomic_write(path, full)
    return digest


def path_of(root: Path, digest: str, thumb: bool = False) -> Path | None:
    """The file of a stored photo, or None: only a well-formed hash is ever turned into a path."""
    if not HASH_RE.match(digest):
        return None
    p = root / (f"{digest}.thumb.jpg" if thumb else f"{digest}.jpg")
    return p if p.exists() else None


# Events name the photos they carry under a key `photo`, `<something>_photo` or `photos` (a list), by
# SHA-256. This SQL test over the stored payload text finds the candidate events cheaply; `digests_in`
# reads the decoded payload for the digests themselves.
EVENT_SQL_FILTER = "instr(payload, 'photo') > 0"


def digests_in(payload) -> list[str]:
    """The photo digests an event payload (decoded JSON) refers to, in order, each once."""
    found: dict[str, None] = {}

    def walk(v, key: str = "") -> None:
        if isinstance(v, dict):
            for k, x in v.items():
                walk(x, k)
        elif isinstance(v, list):
            for x in v:
                walk(x, key)
        elif isinstance(v, str) and (key == "photo" or key == "photos" or key.endswith("_photo")) \
                and HASH_RE.match(v):
            found.setdefault(v, None)

    walk(payload)
    return list(found)
