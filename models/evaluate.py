"""Detector evaluation on a YOLO-format folder (images/, labels/): precision and recall at the configured
thresholds and AP@0.5 per class. Matching and AP are pure functions, tested with tables.

Label ids are the model's class indices (for the PPE model: 0 head = no_hardhat, 1 helmet = hardhat; the data
sets' 2 = person is no class of the model, and `vision eval` counts such labels without scoring them). A detection counts as a true positive when it overlaps a not-yet-matched label of its class with
IoU ≥ 0.5, best scores matched first (the PASCAL VOC rule); AP is the all-point interpolated area under the
precision–recall curve.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from models.postprocess import iou

IMAGE_SUFFIXES = {".jpg", ".jpeg", ".png", ".bmp", ".webp"}


def match(det_boxes: np.ndarray, det_scores: np.ndarray, gt_boxes: np.ndarray, iou_min: float = 0.5) -> np.ndarray:
    """For one image and class: a true-positive flag per detection (in the given order of detections)."""
    det_boxes = np.asarray(det_boxes, np.float64).reshape(-1, 4)
    gt_boxes = np.asarray(gt_boxes, np.float64).reshape(-1, 4)
    tp = np.zeros(len(det_boxes), bool)
    used = np.zeros(len(gt_boxes), bool)
    for i in np.argsort(-np.asarray(det_scores), kind="stable"):
        if not len(gt_boxes):
            break
        o = iou(det_boxes[i], gt_boxes)
        o[used] = -1
        j = int(np.argmax(o))
        if o[j] >= iou_min:
            tp[i] = True
            used[j] = True
    return tp


def average_precision(scores: np.ndarray, tp: np.ndarray, n_gt: int) -> float:
    """All-point interpolated AP from every detection's score and true-positive flag (over all images)."""
    if n_gt == 0:
        return float("nan")
    if len(scores) == 0:
        return 0.0
    order = np.argsort(-np.asarray(scores), kind="stable")
    hits = np.asarray(tp, np.float64)[order]
    ctp, cfp = np.cumsum(hits), np.cumsum(1 - hits)
    recall = ctp / n_gt
    precision = ctp / np.maximum(ctp + cfp, 1e-12)
    mrec = np.concatenate([[0.0], recall, [1.0]])
    mpre = np.concatenate([[1.0], precision, [0.0]])
    mpre = np.maximum.accumulate(mpre[::-1])[::-1]
    steps = np.nonzero(mrec[1:] != mrec[:-1])[0]
    return float(np.sum((mrec[steps + 1] - mrec[steps]) * mpre[steps + 1]))


@dataclass
class ClassResult:
    label: str
    labels: int          # ground-truth boxes
    detections: int      # detections at the class threshold
    true_positives: int
    precision: float
    recall: float
    ap50: float

    def as_dict(self) -> dict:
        def r(v):
            return None if v != v else round(v, 4)  # NaN (no labels, no detections) → null
        return {"label": self.label, "labels": self.labels, "detections": self.detections,
                "true_positives": self.true_positives, "precision": r(self.precision), "recall": r(self.recall),
                "ap50": r(self.ap50)}


def read_yolo_labels(path: Path, width: int, height: int) -> np.ndarray:
    """N×5 (class, x1, y1, x2, y2) in pixels from a YOLO label file; empty when there is none."""
    if not path.exists():
        return np.zeros((0, 5))
    rows = []
    for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        parts = line.split()
        if not parts:
            continue
        if len(parts) < 5:
            raise ValueError(f"{path}:{n}: expected 'class cx cy w h', got {line!r}")
        c, cx, cy, w, h = int(float(parts[0])), *map(float, parts[1:5])
        rows.append((c, (cx - w / 2) * width, (cy - h / 2) * height, (cx + w / 2) * width, (cy + h / 2) * height))
    return np.array(rows, np.float64).reshape(-1, 5)


def summarise(labels: tuple[str, ...], thresholds: np.ndarray, per_image: list[tuple[np.ndarray, np.ndarray,
              np.ndarray, np.ndarray]], iou_min: float = 0.5) -> list[ClassResult]:
    """Per-class results from [(det boxes, det scores, det classes, gt N×5), ...] over all images.

    Detections should be produced at a low score floor: AP uses them all, precision and recall only those
    at or above the class's threshold.
    """
    out = []
    for c, label in enumerate(labels):
        all_scores, all_tp, n_gt = [], [], 0
        for boxes, scores, classes, gt in per_image:
            sel = classes == c
            g = gt[gt[:, 0] == c, 1:5]
            n_gt += len(g)
            all_scores.append(scores[sel])
            all_tp.append(match(boxes[sel], scores[sel], g, iou_min))
        scores = np.concatenate(all_scores) if all_scores else np.zeros(0)
        tp = np.concatenate(all_tp) if all_tp else np.zeros(0, bool)
        # P/R at the threshold: matching among the kept detections only (lower ones must not steal labels)
        kept_tp = 0
        kept = 0
        for boxes, s, classes, gt in per_image:
            sel = (classes == c) & (s >= thresholds[c])
            kept += int(sel.sum())
            kept_tp += int(match(boxes[sel], s[sel], gt[gt[:, 0] == c, 1:5], iou_min).sum())
        precision = kept_tp / kept if kept else float("nan")
        recall = kept_tp / n_gt if n_gt else float("nan")
        out.append(ClassResult(label, n_gt, kept, kept_tp, precision, recall, average_precision(scores, tp, n_gt)))
    return out


def list_images(root: Path) -> list[Path]:
    d = root / "images"
    if not d.is_dir():
        raise FileNotFoundError(f"{root} has no images/ folder")
    return sorted(p for p in d.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)
