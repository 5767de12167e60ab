"""Detector: image in, labelled boxes in the image's own pixels out.

    det = Detector.from_config(VisionModelConfig())
    det.detect(rgb)   # rgb: numpy H×W×3 uint8 → [Detection(label, score, box=[x1, y1, x2, y2]), ...]

It letterboxes, runs the TFLite file, decodes the CenterNet-style outputs, applies per-class NMS and maps
boxes back to the original image. Labels and thresholds come from the config. With `flip_tta` it also runs
the mirrored canvas and averages the two heatmaps (the mirror's flipped back); the boxes are the unflipped
pass's.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from models.config import VisionModelConfig
from models.postprocess import boxes_to_original, decode_centernet, letterbox, nms
from models.runner import ModelError, TFLiteRunner


@dataclass(frozen=True)
class Detection:
    """One detected object: its label, score 0..1 and box [x1, y1, x2, y2] in original-image pixels."""

    label: str
    score: float
    box: list[float] = field(default_factory=list)

    def as_dict(self, ndigits: int = 1) -> dict:
        return {"label": self.label, "score": round(float(self.score), 4),
                "box": [round(float(v), ndigits) for v in self.box]}


class Detector:
    """A TFLite CenterNet-style detector configured by a VisionModelConfig."""

    def __init__(self, runner: TFLiteRunner, cfg: VisionModelConfig):
        self.runner = runner
        self.cfg = cfg
        path = runner.path
        if runner.input_size != cfg.input_size:
            raise ModelError(f"模型文件 {path}：输入为 {runner.input_size}×{runner.input_size}，配置为 {cfg.input_size}",
                             f"model file {path}: input is {runner.input_size}x{runner.input_size} but the config "
                             f"says input_size = {cfg.input_size}")
        self.heat_index, self.reg_index = self._find_outputs(path, runner.output_shapes, cfg.classes)
        grid = runner.output_shapes[self.heat_index][1]
        self.stride = cfg.input_size / grid
        self.thresholds = np.array([cfg.threshold_for(c) for c in cfg.classes], np.float32)

    @staticmethod
    def _find_outputs(path: Path, shapes: list[tuple[int, ...]], classes: tuple[str, ...]) -> tuple[int, int]:
        n_classes = len(classes)
        want = f"[1, H, W, {n_classes}] and [1, H, W, 4]"
        if len(shapes) != 2 or any(len(s) != 4 or s[0] != 1 for s in shapes):
            raise ModelError(f"模型文件 {path}：输出 {shapes} 应为 {want}",
                             f"model file {path}: outputs {shapes} are not {want} (CenterNet-style heatmap and boxes)")
        heat = [i for i, s in enumerate(shapes) if s[3] == n_classes]
        reg = [i for i, s in enumerate(shapes) if s[3] == 4]
        if n_classes == 4:  # both have 4 channels: the heatmap is the first output
            heat, reg = [0], [1]
        if len(heat) != 1 or len(reg) != 1 or heat == reg or shapes[heat[0]][1:3] != shapes[reg[0]][1:3]:
            # name the key: a config written for an older file (e.g. the 3-class PPE model with "person")
            raise ModelError(f"模型文件 {path}：输出 {shapes} 与 {n_classes} 个类别不符（[vision.model] classes = "
                             f"{list(classes)}），应为 {want}",
                             f"model file {path}: outputs {shapes} do not fit {n_classes} classes ([vision.model] "
                             f"classes = {list(classes)}); want {want}")
        return heat[0], reg[0]

    @classmethod
    def from_config(cls, cfg: VisionModelConfig) -> Detector:
        """Load the model file named by the config; ModelError naming the file when it does not fit."""
        return cls(TFLiteRunner(cfg.path, num_threads=cfg.num_threads), cfg)

    def raw(self, image: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(boxes N×4 in original pixels, scores N, class ids N) after thresholds and NMS."""
        canvas, lb = letterbox(image, self.cfg.input_size)
        outputs = self.runner.run(canvas)
        heat = outputs[self.heat_index]
        if self.cfg.flip_tta:
            mirrored = self.runner.run(np.ascontiguousarray(canvas[:, ::-1]))[self.heat_index]
            heat = (heat + mirrored[:, ::-1]) / 2
        boxes, scores, classes = decode_centernet(heat, outputs[self.reg_index], self.stride,
                                                  self.thresholds, max_candidates=max(300, self.cfg.max_detections))
        keep = nms(boxes, scores, None if self.cfg.class_agnostic_nms else classes, self.cfg.iou_threshold,
                   self.cfg.max_detections)
        return boxes_to_original(boxes[keep], lb), scores[keep], classes[keep]

    def detect(self, image: np.ndarray) -> list[Detection]:
        """Detections in an H×W×3 uint8 RGB image, best score first."""
        boxes, scores, classes = self.raw(image)
        return [Detection(self.cfg.classes[int(c)], float(s), [float(v) for v in b])
                for b, s, c in zip(boxes, scores, classes, strict=False)]
