"""train_full.py's data pipeline without torch: a pre-decoded, memory-mapped pixel cache of the compact file,
the per-example work a data-loader worker does, and the batch plan (which example, in which epoch, at which
canvas size). Pure numpy + Pillow, so tests/test_ppe_pipeline.py checks it in the appliance venv.

Why (#17): on the GPU machine the loader was the bottleneck (≈ 900 images/s with 14 workers, ≈ 15 ms of CPU
per image). Per image on a 2-core x86 CPU (best of 3, 100 images): JPEG decode 1.2 ms, placement (resize,
crop, mirror) 3.1 ms, colour jitter 8.8 ms, targets 0.2 ms. So the jitter moves to the GPU (the worker only
draws its three factors; train_full.device_jitter applies them to the batch) and the decode to a one-off
cache: `DecodedCache` writes every image once as raw uint8 into one .npy, padded to the largest image, which
each worker memory-maps (the pages are shared between workers through the OS page cache).

The cache keeps the compact file's own pixels (longer side ≤ its --size, 320 by default), not a copy scaled
to the training size: augmentation scales every view anyway (0.6–1.5× of the letterbox fit), so a copy at
the training size would only interpolate twice and take 44 % more room (2.2 GB instead of 1.5 GB for the
4,916 training images at 384). It is written beside the run (`--cache-dir`), never carried: the compact JPEG
file is what fits the 64 MiB a lent machine receives.
"""
from __future__ import annotations

import json
import os
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np

from training.ppe.augment import apply_jitter, augmented_view
from training.ppe.compact import CompactSet
from training.ppe.data import centernet_targets

STRIDE = 8


class DecodedCache:
    """The images of a compact file, decoded once: `image(i)` → H×W×3 uint8 (a view of the memory map),
    `boxes(i, w, h)` as CompactSet's. Same interface as CompactSet, so either feeds `example`."""

    def __init__(self, compact: CompactSet, cache_dir: Path, threads: int = 0):
        self.compact = compact
        self.names, self.meta = compact.names, compact.meta
        stat = compact.path.stat()
        key = {"compact": compact.path.name, "bytes": stat.st_size, "mtime_ns": stat.st_mtime_ns, "n": len(compact)}
        self.pixels_path = cache_dir / f"{compact.path.stem}.decoded-u8.npy"
        self.index_path = cache_dir / f"{compact.path.stem}.decoded.json"
        fresh = (self.index_path.exists() and self.pixels_path.exists()
                 and json.loads(self.index_path.read_text()).get("key") == key)
        if not fresh:
            self._build(cache_dir, key, threads or min(16, os.cpu_count() or 1))
        index = json.loads(self.index_path.read_text())
        self.shapes = np.array(index["shapes"], np.int64).reshape(-1, 2)
        self.pixels = np.load(self.pixels_path, mmap_mode="r")

    def _build(self, cache_dir: Path, key: dict, threads: int) -> None:
        cache_dir.mkdir(parents=True, exist_ok=True)
        n = len(self.compact)
        with ThreadPoolExecutor(threads) as pool:  # Pillow's decoder releases the GIL
            shapes = list(pool.map(lambda i: self.compact.image_size(i), range(n)))
        hmax = max((h for h, _ in shapes), default=1)
        wmax = max((w for _, w in shapes), default=1)
        tmp = self.pixels_path.with_name(self.pixels_path.name + ".tmp.npy")
        out = np.lib.format.open_memmap(tmp, mode="w+", dtype=np.uint8, shape=(n, hmax, wmax, 3))

        def fill(i: int) -> None:
            im = self.compact.image(i)
            out[i, :im.shape[0], :im.shape[1]] = im

        with ThreadPoolExecutor(threads) as pool:
            list(pool.map(fill, range(n)))
        out.flush()
        tmp.replace(self.pixels_path)
        self.index_path.write_text(json.dumps({"key": key, "shapes": [list(s) for s in shapes]}))

    def __len__(self) -> int:
        return len(self.names)

    def image(self, i: int) -> np.ndarray:
        h, w = self.shapes[i]
        return self.pixels[i, :h, :w]

    def boxes(self, i: int, width: int, height: int) -> np.ndarray:
        return self.compact.boxes(i, width, height)


def example(source, i: int, epoch: int, seed: int, size: int, classes: int, jitter_here: bool = False,
            scale_range: tuple[float, float] = (0.6, 1.5)):
    """What a worker makes of image i in `epoch` at canvas `size`: (canvas size×size×3 uint8, heat C×G×G,
    reg 4×G×G, mask G×G, jitter factors (3,) float32). The jitter is applied here only with `jitter_here`
    (then the factors are ones); else the trainer applies the factors on its device. Deterministic in
    (seed, epoch, i), whatever the worker."""
    rng = np.random.default_rng((seed, epoch, i))
    image = source.image(i)
    boxes = source.boxes(i, image.shape[1], image.shape[0])
    canvas, b, factors = augmented_view(image, boxes, size, rng, scale_range=scale_range)
    if jitter_here:
        canvas, factors = apply_jitter(canvas, factors), np.ones(3, np.float32)
    heat, reg, mask = centernet_targets(b, size // STRIDE, float(STRIDE), classes)
    return canvas, heat, reg, mask, factors


def batch_plan(n: int, batch: int, epoch: int, seed: int, sizes: tuple[int, ...]) -> list[list[tuple[int, int, int]]]:
    """The batches of one epoch as lists of (epoch, image index, canvas size): a permutation drawn from
    (seed, epoch), cut into batches (the last, short one dropped when there is more than one batch), each batch
    at one canvas size drawn from `sizes` (multi-scale training; one size = a fixed canvas). A pure function of
    its arguments, so a worker kept alive between epochs needs no shared state to know the epoch."""
    rng = np.random.default_rng((seed, epoch, 7919))
    order = rng.permutation(n)
    cut = len(order) // batch * batch if len(order) > batch else len(order)
    batches = [order[k:k + batch] for k in range(0, cut, batch)]
    picks = rng.integers(0, len(sizes), len(batches))
    return [[(epoch, int(i), int(sizes[p])) for i in b] for b, p in zip(batches, picks, strict=True)]


def sizes_between(lo: int, hi: int, step: int = 32) -> tuple[int, ...]:
    """Canvas sizes for multi-scale training: lo, lo + step, …, hi (multiples of 32, the appliance's own
    rule for input_size)."""
    if lo % step or hi % step or not 0 < lo <= hi:
        raise ValueError(f"--multi-scale {lo},{hi}: both must be multiples of {step}, the first ≤ the second")
    return tuple(range(lo, hi + 1, step))
