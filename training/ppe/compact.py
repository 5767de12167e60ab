"""A compact copy of a YOLO-labelled split in ONE file, for training where the dataset folder is not at hand
(a lent GPU machine receives at most 64 MiB with the working tree, and no ../shared).

    python -m training.ppe.compact --data ../shared/data/hardhat_workers --split train \
        --out training/ppe/work/gpu/compact-train-320.npz

Every image is re-encoded as JPEG with its longer side at most --size pixels (aspect kept, no letterbox, so
scale/crop augmentation can still place it freely); the JPEG quality is the highest of 95, 90, … that keeps
the whole file under --max-mib (estimated on a sample, then checked on the real file, stepping down if
needed). Boxes are stored normalised to the image (class, x1, y1, x2, y2 in 0..1), read with
models.evaluate.read_yolo_labels, so they hold at any size. The file is a plain .npz (no pickle):

    jpeg        uint8   all JPEG files concatenated          offsets     int64 [n + 1] into jpeg
    boxes       float32 [M, 5] class, x1, y1, x2, y2 (0..1)   box_offsets int64 [n + 1] into boxes
    names       str     [n] original file names               meta        str   JSON (source, size, quality)

Needs only numpy and Pillow. `CompactSet` reads it back (used by train_full.py).
"""
from __future__ import annotations

import argparse
import io
import json
import random
import time
from pathlib import Path

import numpy as np
from PIL import Image

from models.evaluate import list_images, read_yolo_labels

MIB = 1024 * 1024
QUALITIES = (95, 90, 85, 80, 75, 70, 65, 60, 55, 50, 45, 40)


def shrink(image: Image.Image, size: int) -> Image.Image:
    """RGB, longer side at most `size` (never enlarged)."""
    image = image.convert("RGB")
    w, h = image.size
    scale = size / max(w, h)
    if scale < 1:
        image = image.resize((max(1, round(w * scale)), max(1, round(h * scale))), Image.BILINEAR)
    return image


def encode(image: Image.Image, quality: int) -> bytes:
    buf = io.BytesIO()
    image.save(buf, format="JPEG", quality=quality, optimize=True)
    return buf.getvalue()


def normalised_boxes(root: Path, image: Path) -> np.ndarray:
    """N×5 (class, x1, y1, x2, y2) in 0..1 of the image."""
    return read_yolo_labels(root / "labels" / (image.stem + ".txt"), 1, 1).astype(np.float32)


def pick_quality(images: list[Path], size: int, budget: int, sample: int = 200, seed: int = 0) -> int:
    """The highest quality whose size, extrapolated from a random sample, fits the budget with 3 % margin."""
    chosen = random.Random(seed).sample(images, min(sample, len(images)))
    small = [shrink(Image.open(p), size) for p in chosen]
    for q in QUALITIES:
        estimate = sum(len(encode(im, q)) for im in small) / len(small) * len(images)
        if estimate * 1.03 < budget:
            return q
    raise SystemExit(f"even JPEG quality {QUALITIES[-1]} does not fit {budget / MIB:.0f} MiB; lower --size")


def write_compact(root: Path, images: list[Path], out: Path, size: int, quality: int, source: str) -> int:
    blobs, boxes, names = [], [], []
    for p in images:
        blobs.append(np.frombuffer(encode(shrink(Image.open(p), size), quality), np.uint8))
        boxes.append(normalised_boxes(root, p))
        names.append(p.name)
    offsets = np.zeros(len(blobs) + 1, np.int64)
    offsets[1:] = np.cumsum([len(b) for b in blobs])
    box_offsets = np.zeros(len(boxes) + 1, np.int64)
    box_offsets[1:] = np.cumsum([len(b) for b in boxes])
    meta = {"source": source, "count": len(images), "size": size, "quality": quality, "created": time.time()}
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(out.name + ".tmp.npz")
    np.savez(tmp, jpeg=np.concatenate(blobs) if blobs else np.zeros(0, np.uint8), offsets=offsets,
             boxes=np.concatenate(boxes) if boxes else np.zeros((0, 5), np.float32), box_offsets=box_offsets,
             names=np.array(names), meta=np.array(json.dumps(meta)))
    tmp.replace(out)
    return out.stat().st_size


class CompactSet:
    """Random access to a compact file: `image(i)` → H×W×3 uint8 RGB, `boxes(i)` → N×5 in pixels of it."""

    def __init__(self, path: Path):
        with np.load(path, allow_pickle=False) as z:
            self.jpeg = z["jpeg"]
            self.offsets = z["offsets"]
            self.all_boxes = z["boxes"]
            self.box_offsets = z["box_offsets"]
            self.names = [str(n) for n in z["names"]]
            self.meta = json.loads(str(z["meta"]))
        self.path = path

    def __len__(self) -> int:
        return len(self.names)

    def image(self, i: int) -> np.ndarray:
        data = self.jpeg[self.offsets[i]:self.offsets[i + 1]].tobytes()
        return np.asarray(Image.open(io.BytesIO(data)).convert("RGB"))

    def image_size(self, i: int) -> tuple[int, int]:
        """(height, width) of image i, from its JPEG header alone."""
        with Image.open(io.BytesIO(self.jpeg[self.offsets[i]:self.offsets[i + 1]].tobytes())) as im:
            return im.size[1], im.size[0]

    def boxes(self, i: int, width: int, height: int) -> np.ndarray:
        b = self.all_boxes[self.box_offsets[i]:self.box_offsets[i + 1]].copy()
        b[:, [1, 3]] *= width
        b[:, [2, 4]] *= height
        return b


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", type=Path, required=True, help="dataset root holding <split>/images and labels")
    ap.add_argument("--split", default="train")
    ap.add_argument("--out", type=Path, required=True, help="the .npz to write (keep it out of git)")
    ap.add_argument("--size", type=int, default=320, help="longer side of the re-encoded images (384 does not fit "
                    "48 MiB even at quality 40; train_full.py scales them to its --size)")
    ap.add_argument("--max-mib", type=float, default=48.0,
                    help="size limit of the file (default 48, so that with the repository and an initial "
                         "model.pt it fits the 64 MiB a lent machine receives)")
    ap.add_argument("--quality", type=int, default=0, help="JPEG quality; 0 = the highest that fits")
    ap.add_argument("--limit", type=int, default=0, help="only the first N images (a quick trial)")
    ap.add_argument("--half", choices=("a", "b"), help="only the even- (a) or odd-numbered (b) files of the sorted "
                    "list: valid_a and valid_b, as bench/vision.py and the model card split valid/")
    args = ap.parse_args(argv)

    root = args.data / args.split
    images = list_images(root)
    if args.half:
        images = images[(0 if args.half == "a" else 1)::2]
    images = images[: args.limit or None]
    budget = int(args.max_mib * MIB)
    t0 = time.monotonic()
    quality = args.quality or pick_quality(images, args.size, budget)
    while True:
        n_bytes = write_compact(root, images, args.out, args.size, quality, f"{args.data}/{args.split}")
        if n_bytes < budget or args.quality:
            break
        lower = [q for q in QUALITIES if q < quality]
        if not lower:
            raise SystemExit(f"{args.out} is {n_bytes / MIB:.1f} MiB at quality {quality}; lower --size")
        print(f"{n_bytes / MIB:.1f} MiB at quality {quality} is over {args.max_mib} MiB; trying {lower[0]}")
        quality = lower[0]
    if n_bytes >= budget:
        raise SystemExit(f"{args.out} is {n_bytes / MIB:.1f} MiB, over --max-mib {args.max_mib}")
    cs = CompactSet(args.out)
    n_boxes = len(cs.all_boxes)
    print(f"wrote {args.out}: {len(cs)} images, {n_boxes} boxes, longer side ≤ {args.size} px, JPEG quality "
          f"{quality}, {n_bytes:,} bytes ({n_bytes / MIB:.1f} MiB) in {time.monotonic() - t0:.0f}s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
