"""Training-time augmentation for train_full.py, as pure functions of numpy arrays (no torch, so the tests
check them without the training venv): scale jitter with random placement or crop on the letterbox canvas,
mirror, colour jitter. Boxes are N×5 (class, x1, y1, x2, y2) in pixels and follow every geometric change.
"""
from __future__ import annotations

import math

import numpy as np
from PIL import Image

from models.postprocess import PAD_VALUE


def place(image: np.ndarray, boxes: np.ndarray, size: int, scale: float, ox: int, oy: int, flip: bool,
          min_visible: float = 0.4) -> tuple[np.ndarray, np.ndarray]:
    """Resize `image` by `scale`, paste it at (ox, oy) on a grey size×size canvas (cropping what falls
    outside), mirror if asked; boxes (class, x1, y1, x2, y2 in image pixels) follow, clipped to the canvas,
    and a box keeps only if at least `min_visible` of its area and 2 px each way stay in view."""
    h, w = image.shape[:2]
    nw, nh = max(1, round(w * scale)), max(1, round(h * scale))
    resized = np.asarray(Image.fromarray(image).resize((nw, nh), Image.BILINEAR)) if (nw, nh) != (w, h) else image
    canvas = np.full((size, size, 3), PAD_VALUE, np.uint8)
    x0, y0, x1, y1 = max(ox, 0), max(oy, 0), min(ox + nw, size), min(oy + nh, size)
    if x1 > x0 and y1 > y0:
        canvas[y0:y1, x0:x1] = resized[y0 - oy:y1 - oy, x0 - ox:x1 - ox]
    b = boxes.astype(np.float32).copy()
    b[:, [1, 3]] = b[:, [1, 3]] * (nw / w) + ox
    b[:, [2, 4]] = b[:, [2, 4]] * (nh / h) + oy
    area = (b[:, 3] - b[:, 1]) * (b[:, 4] - b[:, 2])
    b[:, 1:5] = b[:, 1:5].clip(0, size)
    vis = (b[:, 3] - b[:, 1]) * (b[:, 4] - b[:, 2])
    keep = (vis >= min_visible * np.maximum(area, 1e-6)) & (b[:, 3] - b[:, 1] >= 2) & (b[:, 4] - b[:, 2] >= 2)
    b = b[keep]
    if flip:
        canvas = canvas[:, ::-1].copy()
        b[:, [1, 3]] = size - b[:, [3, 1]]
    return canvas, b


def jitter_factors(rng: np.random.Generator, strength: float = 0.3) -> np.ndarray:
    """Brightness, contrast and saturation factors, drawn in that order (the order colour_jitter always used,
    so a worker that leaves the jitter to the GPU draws the same numbers from the same generator)."""
    return np.array([rng.uniform(1 - strength, 1 + strength) for _ in range(3)], np.float32)


def apply_jitter(canvas: np.ndarray, factors: np.ndarray) -> np.ndarray:
    """The colour jitter with given factors (float32 arithmetic, clipped and rounded down to uint8).
    train_full.device_jitter is the same arithmetic on a batch of tensors."""
    brightness, contrast, saturation = (float(f) for f in factors)
    x = canvas.astype(np.float32)
    x *= brightness
    mean = x.mean()
    x = (x - mean) * contrast + mean
    grey = x.mean(axis=2, keepdims=True)
    x = (x - grey) * saturation + grey
    return x.clip(0, 255).astype(np.uint8)


def colour_jitter(canvas: np.ndarray, rng: np.random.Generator, strength: float = 0.3) -> np.ndarray:
    return apply_jitter(canvas, jitter_factors(rng, strength))


def augmented_view(image: np.ndarray, boxes: np.ndarray, size: int, rng: np.random.Generator,
                   plain_share: float = 0.2, scale_range: tuple[float, float] = (0.6, 1.5)
                   ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """One training view before its colour jitter: (canvas, boxes, jitter factors). Plain letterbox (as the
    appliance sees it) or scale-jittered placement, random mirror; the factors are drawn last, as ever."""
    h, w = image.shape[:2]
    fit = min(size / w, size / h)
    flip = bool(rng.random() < 0.5)
    if rng.random() < plain_share:
        scale = fit
        nw, nh = max(1, round(w * scale)), max(1, round(h * scale))
        ox, oy = (size - nw) // 2, (size - nh) // 2
    else:
        scale = fit * math.exp(rng.uniform(math.log(scale_range[0]), math.log(scale_range[1])))
        nw, nh = max(1, round(w * scale)), max(1, round(h * scale))
        ox = int(rng.integers(min(0, size - nw), max(0, size - nw) + 1))
        oy = int(rng.integers(min(0, size - nh), max(0, size - nh) + 1))
    canvas, b = place(image, boxes, size, scale, ox, oy, flip)
    return canvas, b, jitter_factors(rng)


def augmented_example(image: np.ndarray, boxes: np.ndarray, size: int, rng: np.random.Generator,
                      plain_share: float = 0.2, scale_range: tuple[float, float] = (0.6, 1.5)
                      ) -> tuple[np.ndarray, np.ndarray]:
    """One training view with its colour jitter applied here (on the CPU)."""
    canvas, b, factors = augmented_view(image, boxes, size, rng, plain_share, scale_range)
    return apply_jitter(canvas, factors), b
