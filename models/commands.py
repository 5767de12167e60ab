"""`safety-appliance vision detect|eval`: the detector on image files, for people and other programs.

detect --json prints one JSON object per image and line (a contract):
    {"image": PATH, "width": W, "height": H,
     "detections": [{"label": "no_hardhat", "score": 0.91, "box": [x1, y1, x2, y2]}, ...]}
boxes in pixels of the original image, at the configured thresholds. A file that is not a readable image gets
{"image": PATH, "error": "..."} on stdout, a bilingual line on stderr, and exit code 1; the other files are
still processed.
"""
from __future__ import annotations

import json
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

from models.config import VisionModelConfig
from models.detector import Detector
from models.evaluate import list_images, read_yolo_labels, summarise

EVAL_FLOOR = 0.05  # detections kept for AP; precision/recall use the configured thresholds


class NotAnImage(Exception):
    """A file that cannot be read as an image."""


def read_rgb(path: str | Path) -> np.ndarray:
    """An image file as H×W×3 uint8 RGB; NotAnImage (with the reason) when it is not one."""
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(path) as im:
            return np.asarray(im.convert("RGB"))
    except FileNotFoundError:
        raise NotAnImage("file not found") from None
    except IsADirectoryError:
        raise NotAnImage("is a folder") from None
    except UnidentifiedImageError:
        raise NotAnImage("not an image (format not recognised)") from None
    except (OSError, ValueError, Image.DecompressionBombError) as exc:
        raise NotAnImage(f"cannot decode the image ({exc})") from None


_ZH = {"file not found": "文件不存在", "is a folder": "是文件夹", "not an image (format not recognised)": "不是图像（格式无法识别）"}


def detect_files(cfg: VisionModelConfig, paths: list[str], as_json: bool, out=sys.stdout, err=sys.stderr) -> int:
    det = Detector.from_config(cfg)
    failed = 0
    for p in paths:
        try:
            rgb = read_rgb(p)
        except NotAnImage as exc:
            failed += 1
            reason = str(exc)
            zh = _ZH.get(reason, "无法解码图像")
            print(f"错误 / error: {p}: {zh} / {reason}", file=err)
            if as_json:
                print(json.dumps({"image": p, "error": reason}, ensure_ascii=False), file=out, flush=True)
            continue
        found = det.detect(rgb)
        h, w = rgb.shape[:2]
        if as_json:
            print(json.dumps({"image": p, "width": w, "height": h, "detections": [d.as_dict() for d in found]},
                             ensure_ascii=False), file=out, flush=True)
        else:
            text = "; ".join(f"{d.label} {d.score:.2f} [{', '.join(f'{v:.0f}' for v in d.box)}]" for d in found)
            print(f"{p} {w}x{h}: {text or '—'}", file=out, flush=True)
    return 1 if failed else 0


def evaluate_dir(cfg: VisionModelConfig, root: Path, iou_min: float = 0.5, sweep: tuple[float, ...] = ()) -> dict:
    """Run the detector over root/images and score it against root/labels; a JSON-ready dict."""
    floor = min(EVAL_FLOOR, cfg.score_threshold, *cfg.class_thresholds.values(), *sweep)
    det = Detector.from_config(cfg.model_copy(update={"score_threshold": floor, "class_thresholds": {}}))
    thresholds = np.array([cfg.threshold_for(c) for c in cfg.classes])
    per_image, skipped = [], []
    unscored: dict[str, int] = {}
    t0 = time.monotonic()
    images = list_images(root)
    for path in images:
        try:
            rgb = read_rgb(path)
        except NotAnImage as exc:
            skipped.append(f"{path.name}: {exc}")
            continue
        h, w = rgb.shape[:2]
        gt = read_yolo_labels(root / "labels" / (path.stem + ".txt"), w, h)
        if (gt[:, 0] < 0).any():
            raise ValueError(f"{path.stem}.txt: class id {int(gt[gt[:, 0] < 0][0, 0])} is negative")
        # ids past the model's classes (the hard-hat sets' 2 = person, which the shipped model has no class for)
        # are counted in the report, not scored
        beyond = gt[:, 0] >= len(cfg.classes)
        for c in gt[beyond, 0].astype(int):
            unscored[str(c)] = unscored.get(str(c), 0) + 1
        gt = gt[~beyond]
        boxes, scores, classes = det.raw(rgb)
        per_image.append((boxes, scores, classes, gt))
    seconds = time.monotonic() - t0
    results = summarise(cfg.classes, thresholds, per_image, iou_min)
    report: dict[str, Any] = {"dir": str(root), "model": str(cfg.path), "images": len(per_image), "skipped": skipped,
              "iou": iou_min, "thresholds": {c: float(t) for c, t in zip(cfg.classes, thresholds, strict=False)},
              "seconds": round(seconds, 2), "classes": [r.as_dict() for r in results],
              "unscored_labels": dict(sorted(unscored.items(), key=lambda kv: int(kv[0])))}
    if sweep:  # precision/recall per class at other thresholds, from the same detections
        report["sweep"] = {}
        for t in sweep:
            rs = summarise(cfg.classes, np.full(len(cfg.classes), t), per_image, iou_min)
            report["sweep"][f"{t:.2f}"] = {r.label: {"precision": r.as_dict()["precision"],
                                                     "recall": r.as_dict()["recall"]} for r in rs}
    return report


def print_eval(report: dict, out=sys.stdout) -> None:
    def f(v):
        return "   —  " if v is None else f"{v:6.3f}"
    print(f"{report['dir']}: {report['images']} images, model {report['model']}, IoU ≥ {report['iou']}", file=out)
    print(f"{'class':<12} {'thr':>5} {'labels':>7} {'dets':>6} {'TP':>6} {'precision':>9} {'recall':>7} "
          f"{'AP@0.5':>7}", file=out)
    for r in report["classes"]:
        print(f"{r['label']:<12} {report['thresholds'][r['label']]:5.2f} {r['labels']:7d} {r['detections']:6d} "
              f"{r['true_positives']:6d} {f(r['precision']):>9} {f(r['recall']):>7} {f(r['ap50']):>7}", file=out)
    if report.get("sweep"):
        labels = [r["label"] for r in report["classes"]]
        print("threshold  " + "  ".join(f"{l + ' P / R':>22}" for l in labels), file=out)
        for t, by in report["sweep"].items():
            print(f"{t:>9}  " + "  ".join(f"{f(by[l]['precision']):>14} / {f(by[l]['recall'])}" for l in labels),
                  file=out)
    for c, n in report.get("unscored_labels", {}).items():
        print(f"未评分 / not scored: {n} labels of class id {c} (the model has {len(report['classes'])} classes)",
              file=out)
    for s in report["skipped"]:
        print(f"skipped / 跳过: {s}", file=out)
