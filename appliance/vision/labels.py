"""The `labels` detector: it reads the YOLO label file beside each image of a file camera
(`…/images/x.jpg` → `…/labels/x.txt`, or `x.txt` next to it) and reports those boxes as detections.

It is a real detector peer for the pipeline, not a model: it lets the tests, the benchmark and a replay of
labelled footage drive tracking, zones, schedules, debounce and the evidence path with known ground truth,
independently of the model's accuracy. Class ids follow the hard-hat data sets: 0 head (no hard hat),
1 helmet, 2 person. It reports what the model can report (models/config.py DEFAULT_CLASSES): heads, bare or
covered. The sets' `person` boxes are skipped like any unknown id — the model has no such class (dropped,
models/ppe/MODEL_CARD.md) and the pipeline follows heads only (rules.HEAD_LABELS), so a replay that reported
them would show the tests a label the real detector never gives.
"""
from __future__ import annotations

from pathlib import Path

from appliance.vision.rules import Det

CLASSES = {0: "no_hardhat", 1: "hardhat"}   # id 2 (person) is skipped: no class of the model


def label_path(image: str | Path) -> Path | None:
    p = Path(image)
    for cand in (p.parent.parent / "labels" / f"{p.stem}.txt", p.with_suffix(".txt")):
        if cand.exists():
            return cand
    return None


def parse_yolo(text: str, width: int, height: int) -> list[Det]:
    """YOLO lines `class cx cy w h` (normalised) → detections in pixels; malformed lines are skipped."""
    out = []
    for line in text.splitlines():
        parts = line.split()
        if len(parts) != 5:
            continue
        try:
            cls = int(parts[0])
            cx, cy, w, h = (float(x) for x in parts[1:])
        except ValueError:
            continue
        if cls not in CLASSES:
            continue
        out.append(Det(CLASSES[cls], 1.0, [(cx - w / 2) * width, (cy - h / 2) * height,
                                           (cx + w / 2) * width, (cy + h / 2) * height]))
    return out


class LabelFileDetector:
    """detect(rgb, source) → the boxes of the label file beside `source` (none when there is none)."""

    wants_source = True
    name = "labels"

    def detect(self, rgb, source: str | None = None) -> list[Det]:
        if source is None:
            return []
        lp = label_path(source)
        if lp is None:
            return []
        h, w = rgb.shape[:2]
        return parse_yolo(lp.read_text(encoding="utf-8", errors="replace"), w, h)
