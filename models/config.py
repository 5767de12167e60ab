"""The detector's configuration: `[vision.model]` in the appliance TOML file.

The runner knows nothing of hard hats: which file to run, its input size, what each output class is called
and the thresholds all come from here. The defaults describe the committed PPE model.
"""
from __future__ import annotations

from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, StrictBool, model_validator

#: The committed PPE detector (see models/ppe/MODEL_CARD.md).
DEFAULT_MODEL = Path(__file__).resolve().parent / "ppe" / "ppe_mnv2_512_int8.tflite"
#: Its classes, in the order of the model's class outputs (dataset ids 0 head, 1 helmet). The data sets' id 2
#: (person) is not a class of the model: it was never learnt and was dropped from the file (MODEL_CARD.md, #17).
DEFAULT_CLASSES = ("no_hardhat", "hardhat")


class VisionModelConfig(BaseModel):
    """Which TFLite detector to run and how to read its outputs."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    path: Path = DEFAULT_MODEL
    # Square input side in pixels; must match the model file (checked when it is loaded).
    input_size: int = Field(512, ge=32, le=1280, multiple_of=32)
    # Label of each class channel, in the model's order.
    classes: tuple[str, ...] = Field(DEFAULT_CLASSES, min_length=1, max_length=100)
    # A detection is reported when its score reaches this (or its class's entry in class_thresholds).
    score_threshold: float = Field(0.40, gt=0.0, le=1.0)
    class_thresholds: dict[str, float] = Field(default_factory=dict)
    # Boxes of one class overlapping more than this (IoU) are merged by NMS.
    iou_threshold: float = Field(0.5, gt=0.0, le=1.0)
    # NMS across classes too: one object, one label (a head is either bare or wearing a hard hat).
    class_agnostic_nms: bool = False
    max_detections: int = Field(100, ge=1, le=1000)
    # CPU threads for the interpreter (the vision process runs beside the web server and pollers).
    num_threads: int = Field(1, ge=1, le=16)
    # Test-time horizontal flip: also run the mirrored image and average the two centre heatmaps (boxes from the
    # unflipped pass). Twice the work per frame; measured in MODEL_CARD.md ("test-time levers").
    flip_tta: StrictBool = False

    @model_validator(mode="after")
    def _classes_consistent(self):
        if len(set(self.classes)) != len(self.classes):
            raise ValueError("classes: a label appears twice")
        for name, value in self.class_thresholds.items():
            if name not in self.classes:
                raise ValueError(f"class_thresholds: {name!r} is not one of classes {list(self.classes)}")
            if not 0.0 < value <= 1.0:
                raise ValueError(f"class_thresholds: {name} = {value} is not in (0, 1]")
        return self

    def threshold_for(self, label: str) -> float:
        """The score a detection of `label` needs to be reported."""
        return self.class_thresholds.get(label, self.score_threshold)
