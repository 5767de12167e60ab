"""YOLO-format data (images/, labels/) → letterboxed model inputs and CenterNet targets (training side).

The letterbox is models.postprocess.letterbox and the label reader models.evaluate's, the very functions the
appliance runs and scores with, so training and inference see the same pixels and boxes. Label lines:
`class cx cy w h`, normalised to the image size.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image

from models.evaluate import list_images, read_yolo_labels  # noqa: F401 (list_images: used by the stages)
from models.postprocess import letterbox


def load_example(root: Path, image: Path, size: int, flip: bool = False) -> tuple[np.ndarray, np.ndarray]:
    """(size×size×3 uint8 canvas, N×5 (class, x1, y1, x2, y2) in canvas pixels)."""
    rgb = np.asarray(Image.open(image).convert("RGB"))
    canvas, lb = letterbox(rgb, size)
    boxes = read_yolo_labels(root / "labels" / (image.stem + ".txt"), lb.width, lb.height)
    boxes[:, [1, 3]] = boxes[:, [1, 3]] * lb.scale + lb.pad_x
    boxes[:, [2, 4]] = boxes[:, [2, 4]] * lb.scale + lb.pad_y
    if flip:
        canvas = canvas[:, ::-1].copy()
        boxes[:, [1, 3]] = size - boxes[:, [3, 1]]
    return canvas, boxes.astype(np.float32)


def centernet_targets(boxes: np.ndarray, grid: int, stride: float, num_classes: int
                      ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Gaussian heatmap C×G×G, regression 4×G×G (dx, dy, log w, log h) and its mask G×G for one image.

    Elliptic Gaussians with sigma = box side / 6 (in cells, at least 0.5): small heads get a tight peak.
    Where two boxes share a centre cell the smaller one wins the regression (it is written last).
    """
    heat = np.zeros((num_classes, grid, grid), np.float32)
    reg = np.zeros((4, grid, grid), np.float32)
    mask = np.zeros((grid, grid), np.float32)
    ys, xs = np.mgrid[0:grid, 0:grid].astype(np.float32)
    areas = (boxes[:, 3] - boxes[:, 1]) * (boxes[:, 4] - boxes[:, 2])
    for c, x1, y1, x2, y2 in boxes[np.argsort(-areas)]:
        w, h = (x2 - x1) / stride, (y2 - y1) / stride
        if w <= 0.2 or h <= 0.2:
            continue
        cx, cy = (x1 + x2) / 2 / stride, (y1 + y2) / 2 / stride
        i, j = int(min(max(cy, 0), grid - 1e-3)), int(min(max(cx, 0), grid - 1e-3))
        sx, sy = max(w / 6, 0.5), max(h / 6, 0.5)
        g = np.exp(-(((xs - j) ** 2) / (2 * sx * sx) + ((ys - i) ** 2) / (2 * sy * sy)))
        np.maximum(heat[int(c)], g, out=heat[int(c)])
        reg[:, i, j] = (cx - j, cy - i, np.log(w), np.log(h))
        mask[i, j] = 1.0
    return heat, reg, mask
