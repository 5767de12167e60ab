"""Pure functions around the detector: letterbox pre-processing, decoding of the model's outputs, NMS.

Everything here works on numpy arrays and plain numbers so that it is tested with tables and shared by the
runtime (models/detector.py) and the training recipe (training/ppe/), which must letterbox exactly alike.

The model family is CenterNet-style (one feature map at stride `s`):
- `heat` [H, W, C]: per-class centre scores in 0..1 (sigmoid already applied in the model);
- `reg`  [H, W, 4]: (dx, dy, log_w, log_h) per cell: the centre is at ((j + dx)·s, (i + dy)·s) and the box
  is exp(log_w)·s wide and exp(log_h)·s high, all in pixels of the model input.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from PIL import Image

PAD_VALUE = 114  # grey padding, the same in training and at run time
LOG_WH_CLAMP = 6.0  # exp(6)·stride is far larger than any input; keeps a broken model from overflowing


@dataclass(frozen=True)
class Letterbox:
    """How an image was fitted into the square model input: input = original·scale + (pad_x, pad_y)."""

    scale: float
    pad_x: int
    pad_y: int
    width: int   # original image size
    height: int


def letterbox_geometry(width: int, height: int, size: int) -> Letterbox:
    """Scale that fits width×height into size×size keeping the aspect ratio, and the centring pads."""
    if width <= 0 or height <= 0:
        raise ValueError(f"image size {width}x{height} is empty")
    scale = min(size / width, size / height)
    new_w, new_h = max(1, round(width * scale)), max(1, round(height * scale))
    return Letterbox(scale=scale, pad_x=(size - new_w) // 2, pad_y=(size - new_h) // 2, width=width, height=height)


def letterbox(image: np.ndarray, size: int) -> tuple[np.ndarray, Letterbox]:
    """Resize an H×W×3 uint8 RGB image into a size×size uint8 canvas (bilinear, grey padding)."""
    if image.ndim != 3 or image.shape[2] != 3 or image.dtype != np.uint8:
        raise ValueError(f"expected an HxWx3 uint8 RGB image, got shape {image.shape} dtype {image.dtype}")
    h, w = image.shape[:2]
    lb = letterbox_geometry(w, h, size)
    new_w, new_h = max(1, round(w * lb.scale)), max(1, round(h * lb.scale))
    if (new_w, new_h) != (w, h):
        resized = np.asarray(Image.fromarray(image).resize((new_w, new_h), Image.Resampling.BILINEAR))
    else:
        resized = image
    canvas = np.full((size, size, 3), PAD_VALUE, np.uint8)
    canvas[lb.pad_y:lb.pad_y + new_h, lb.pad_x:lb.pad_x + new_w] = resized
    return canvas, lb


def boxes_to_original(boxes: np.ndarray, lb: Letterbox) -> np.ndarray:
    """Map N×4 [x1, y1, x2, y2] boxes from model-input pixels back to the original image, clipped to it."""
    out = np.asarray(boxes, np.float64).reshape(-1, 4).copy()
    out[:, [0, 2]] = (out[:, [0, 2]] - lb.pad_x) / lb.scale
    out[:, [1, 3]] = (out[:, [1, 3]] - lb.pad_y) / lb.scale
    out[:, [0, 2]] = out[:, [0, 2]].clip(0, lb.width)
    out[:, [1, 3]] = out[:, [1, 3]].clip(0, lb.height)
    return out


def local_peaks(heat: np.ndarray) -> np.ndarray:
    """Boolean mask of cells that are the maximum of their 3×3 neighbourhood, per channel (CenterNet NMS)."""
    h, w, _ = heat.shape
    padded = np.pad(heat, ((1, 1), (1, 1), (0, 0)), constant_values=-np.inf)
    best = heat.copy()
    for dy in range(3):
        for dx in range(3):
            np.maximum(best, padded[dy:dy + h, dx:dx + w], out=best)
    return heat >= best


def decode_centernet(heat: np.ndarray, reg: np.ndarray, stride: float, threshold: float | np.ndarray,
                     max_candidates: int = 300) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Peaks of `heat` at or above `threshold` (a number, or one per class) → (boxes N×4, scores N, classes N).

    Boxes are [x1, y1, x2, y2] in model-input pixels, best score first, at most `max_candidates`.
    """
    if heat.ndim != 3 or reg.ndim != 3 or reg.shape[2] != 4 or heat.shape[:2] != reg.shape[:2]:
        raise ValueError(f"heat {heat.shape} and reg {reg.shape} do not fit (want HxWxC and HxWx4)")
    thr = np.broadcast_to(np.asarray(threshold, np.float32), (heat.shape[2],))
    keep = local_peaks(heat) & (heat >= thr[None, None, :])
    ys, xs, cs = np.nonzero(keep)
    scores = heat[ys, xs, cs]
    order = np.argsort(-scores, kind="stable")[:max_candidates]
    ys, xs, cs, scores = ys[order], xs[order], cs[order], scores[order]
    r = reg[ys, xs].astype(np.float64)
    cx = (xs + r[:, 0]) * stride
    cy = (ys + r[:, 1]) * stride
    bw = np.exp(np.clip(r[:, 2], -LOG_WH_CLAMP, LOG_WH_CLAMP)) * stride
    bh = np.exp(np.clip(r[:, 3], -LOG_WH_CLAMP, LOG_WH_CLAMP)) * stride
    boxes = np.stack([cx - bw / 2, cy - bh / 2, cx + bw / 2, cy + bh / 2], axis=1)
    return boxes.reshape(-1, 4), scores.astype(np.float32), cs.astype(np.int64)


def iou(box: np.ndarray, boxes: np.ndarray) -> np.ndarray:
    """IoU of one [x1, y1, x2, y2] box with each of N boxes."""
    boxes = np.asarray(boxes, np.float64).reshape(-1, 4)
    ix1 = np.maximum(box[0], boxes[:, 0])
    iy1 = np.maximum(box[1], boxes[:, 1])
    ix2 = np.minimum(box[2], boxes[:, 2])
    iy2 = np.minimum(box[3], boxes[:, 3])
    inter = np.clip(ix2 - ix1, 0, None) * np.clip(iy2 - iy1, 0, None)
    area = max(box[2] - box[0], 0) * max(box[3] - box[1], 0)
    areas = np.clip(boxes[:, 2] - boxes[:, 0], 0, None) * np.clip(boxes[:, 3] - boxes[:, 1], 0, None)
    union = area + areas - inter
    return np.where(union > 0, inter / np.where(union > 0, union, 1), 0.0)


def nms(boxes: np.ndarray, scores: np.ndarray, classes: np.ndarray | None, iou_threshold: float,
        max_detections: int = 100) -> np.ndarray:
    """Greedy non-maximum suppression; indices kept, best score first.

    With `classes`, boxes only suppress boxes of their own class; with None, all boxes compete.
    """
    boxes = np.asarray(boxes, np.float64).reshape(-1, 4)
    scores = np.asarray(scores, np.float64).reshape(-1)
    if len(boxes) != len(scores):
        raise ValueError(f"{len(boxes)} boxes but {len(scores)} scores")
    cls = np.zeros(len(boxes), np.int64) if classes is None else np.asarray(classes).reshape(-1)
    order = list(np.argsort(-scores, kind="stable"))
    kept: list[int] = []
    while order and len(kept) < max_detections:
        i = order.pop(0)
        kept.append(i)
        if not order:
            break
        rest = np.array(order)
        overlap = iou(boxes[i], boxes[rest])
        order = [j for j, o in zip(rest.tolist(), overlap, strict=False) if not (cls[j] == cls[i] and o > iou_threshold)]
    return np.array(kept, np.int64)
