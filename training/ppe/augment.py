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


def colour_jitter(canvas: np.ndarray, rng: np.random.Generator, strength: float = 0.3) -> np.ndarray:
    x = canvas.astype(np.float32)
    x *= rng.uniform(1 - strength, 1 + strength)  # brightness
    mean = x.mean()
    x = (x - mean) * rng.uniform(1 - strength, 1 + strength) + mean  # contrast
    grey = x.mean(axis=2, keepdims=True)
    x = (x - grey) * rng.uniform(1 - strength, 1 + strength) + grey  # saturation
    return x.clip(0, 255).astype(np.uint8)


def augmented_example(image: np.ndarray, boxes: np.ndarray, size: int, rng: np.random.Generator,
                      plain_share: float = 0.2, scale_range: tuple[float, float] = (0.6, 1.5)
                      ) -> tuple[np.ndarray, np.ndarray]:
    """One training view: plain letterbox (as the appliance sees it) or scale-jittered placement, random
    mirror, colour jitter."""
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
    return colour_jitter(canvas, rng), b
