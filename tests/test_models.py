"""models/: letterbox, decode and NMS as tables; the TFLite runner and Detector on a tiny model generated
here without TensorFlow (tests/tiny_tflite.py); clear errors for a missing or wrongly shaped model file."""
from __future__ import annotations

import math

import numpy as np
import pytest
from pydantic import ValidationError

from models.config import VisionModelConfig
from models.detector import Detection, Detector
from models.postprocess import (
    Letterbox,
    boxes_to_original,
    decode_centernet,
    iou,
    letterbox,
    letterbox_geometry,
    local_peaks,
    nms,
)
from models.runner import ModelError, TFLiteRunner
from tiny_tflite import centernet_model, fc_model

# --- letterbox -------------------------------------------------------------------------------------------

@pytest.mark.parametrize("w, h, size, scale, pad_x, pad_y", [
    (320, 320, 320, 1.0, 0, 0),
    (640, 320, 320, 0.5, 0, 80),
    (320, 640, 320, 0.5, 80, 0),
    (384, 256, 320, 320 / 384, 0, 53),      # the dataset's usual shape: 320×213 centred
    (100, 50, 320, 3.2, 0, 80),             # small images are scaled up
    (1920, 1080, 320, 1 / 6, 0, 70),
])
def test_letterbox_geometry(w, h, size, scale, pad_x, pad_y):
    lb = letterbox_geometry(w, h, size)
    assert lb.scale == pytest.approx(scale)
    assert (lb.pad_x, lb.pad_y, lb.width, lb.height) == (pad_x, pad_y, w, h)


def test_letterbox_pixels_and_padding():
    img = np.zeros((20, 40, 3), np.uint8)
    img[:, :20] = (255, 0, 0)      # left half red, right half black
    out, lb = letterbox(img, 80)
    assert out.shape == (80, 80, 3) and out.dtype == np.uint8
    assert (lb.scale, lb.pad_x, lb.pad_y) == (2.0, 0, 20)
    assert (out[:20] == 114).all() and (out[60:] == 114).all()         # grey bars above and below
    assert tuple(out[40, 10]) == (255, 0, 0) and tuple(out[40, 70]) == (0, 0, 0)


@pytest.mark.parametrize("bad", [np.zeros((10, 10), np.uint8), np.zeros((10, 10, 4), np.uint8),
                                 np.zeros((10, 10, 3), np.float32), np.zeros((0, 10, 3), np.uint8)])
def test_letterbox_rejects_non_rgb(bad):
    with pytest.raises(ValueError):
        letterbox(bad, 32)


@pytest.mark.parametrize("box, lb, want", [
    ([0, 80, 160, 240], Letterbox(0.5, 0, 80, 640, 320), [0, 0, 320, 320]),
    ([10, 10, 20, 20], Letterbox(1.0, 0, 0, 100, 100), [10, 10, 20, 20]),
    ([-10, 70, 400, 90], Letterbox(2.0, 0, 20, 100, 50), [0, 25, 100, 35]),   # clipped to the image
])
def test_boxes_to_original(box, lb, want):
    assert boxes_to_original(np.array([box]), lb)[0].tolist() == pytest.approx(want)


# --- decode ----------------------------------------------------------------------------------------------

def test_local_peaks_keeps_only_neighbourhood_maxima():
    heat = np.zeros((5, 5, 1), np.float32)
    heat[1, 1, 0], heat[1, 2, 0], heat[4, 4, 0] = 0.9, 0.8, 0.3
    peaks = local_peaks(heat)[..., 0]
    assert peaks[1, 1] and not peaks[1, 2] and peaks[4, 4]


def _maps(grid=4, classes=2):
    return np.zeros((grid, grid, classes), np.float32), np.zeros((grid, grid, 4), np.float32)


@pytest.mark.parametrize("cell, reg, stride, want", [
    ((1, 2), (0.5, 0.5, 0.0, 0.0), 8, [16, 8, 24, 16]),                       # 1×1 cell box at the cell centre
    ((0, 0), (0.0, 0.0, math.log(4), math.log(2)), 8, [-16, -8, 16, 8]),      # 4×2 cells around the corner
    ((3, 3), (0.25, 0.75, math.log(2), 0.0), 10, [22.5, 32.5, 42.5, 42.5]),
])
def test_decode_box_geometry(cell, reg, stride, want):
    heat, r = _maps()
    heat[cell[0], cell[1], 1] = 0.9
    r[cell[0], cell[1]] = reg
    boxes, scores, classes = decode_centernet(heat, r, stride, 0.5)
    assert boxes.tolist() == [pytest.approx(want)]
    assert scores.tolist() == [pytest.approx(0.9)] and classes.tolist() == [1]


@pytest.mark.parametrize("threshold, want_classes", [
    (0.5, [0, 1]),
    (0.85, [0]),
    ([0.95, 0.5], [1]),      # one threshold per class
    (0.99, []),
])
def test_decode_thresholds_and_order(threshold, want_classes):
    heat, r = _maps()
    heat[0, 0, 0], heat[3, 3, 1] = 0.9, 0.6
    _, scores, classes = decode_centernet(heat, r, 8, threshold)
    assert classes.tolist() == want_classes
    assert list(scores) == sorted(scores, reverse=True)


def test_decode_caps_candidates_and_checks_shapes():
    heat = np.zeros((8, 8, 1), np.float32)
    heat[::2, ::2, 0] = np.linspace(0.5, 0.9, 16).reshape(4, 4)
    boxes, scores, _ = decode_centernet(heat, np.zeros((8, 8, 4), np.float32), 8, 0.1, max_candidates=5)
    assert len(boxes) == 5 and scores[0] == pytest.approx(0.9)
    with pytest.raises(ValueError):
        decode_centernet(heat, np.zeros((8, 8, 3), np.float32), 8, 0.1)


# --- NMS -------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("a, b, want", [
    ([0, 0, 10, 10], [0, 0, 10, 10], 1.0),
    ([0, 0, 10, 10], [5, 0, 15, 10], 50 / 150),
    ([0, 0, 10, 10], [10, 10, 20, 20], 0.0),
    ([0, 0, 10, 10], [2, 2, 4, 4], 4 / 100),
    ([0, 0, 0, 0], [0, 0, 0, 0], 0.0),          # empty boxes do not divide by zero
])
def test_iou(a, b, want):
    assert iou(np.array(a, float), np.array([b], float))[0] == pytest.approx(want)


@pytest.mark.parametrize("boxes, scores, classes, thr, want", [
    ([[0, 0, 10, 10], [1, 1, 11, 11], [50, 50, 60, 60]], [0.9, 0.8, 0.7], None, 0.5, [0, 2]),
    ([[0, 0, 10, 10], [1, 1, 11, 11]], [0.8, 0.9], None, 0.5, [1]),                 # best score wins
    ([[0, 0, 10, 10], [1, 1, 11, 11]], [0.9, 0.8], [0, 1], 0.5, [0, 1]),            # other class kept
    ([[0, 0, 10, 10], [5, 0, 15, 10]], [0.9, 0.8], None, 0.34, [0, 1]),             # IoU 1/3 is under 0.34: kept
    ([[0, 0, 10, 10], [5, 0, 15, 10]], [0.9, 0.8], None, 0.2, [0]),
    ([], [], None, 0.5, []),
])
def test_nms(boxes, scores, classes, thr, want):
    assert nms(np.array(boxes, float), np.array(scores), classes, thr).tolist() == want


def test_nms_max_detections():
    boxes = np.array([[i * 20, 0, i * 20 + 10, 10] for i in range(10)], float)
    assert nms(boxes, np.linspace(1, 0.1, 10), None, 0.5, max_detections=3).tolist() == [0, 1, 2]


# --- config ----------------------------------------------------------------------------------------------

@pytest.mark.parametrize("raw, key", [
    ({"input_size": 300}, "input_size"),                 # not a multiple of 32
    ({"classes": ["a", "a"]}, "classes"),
    ({"class_thresholds": {"cat": 0.5}}, "class_thresholds"),
    ({"score_threshold": 0}, "score_threshold"),
    ({"num_threads": 0}, "num_threads"),
    ({"modle": "x"}, "modle"),                           # unknown keys are errors
    ({"flip_tta": "yes"}, "flip_tta"),                   # true or false, nothing else
])
def test_config_rejects(raw, key):
    with pytest.raises(ValidationError, match=key):
        VisionModelConfig.model_validate(raw)


def test_config_thresholds_per_class():
    cfg = VisionModelConfig(score_threshold=0.4, class_thresholds={"hardhat": 0.6})
    assert cfg.threshold_for("no_hardhat") == 0.4 and cfg.threshold_for("hardhat") == 0.6


def test_default_classes_have_no_person():
    # the shipped model's contract (#17): `person` was never learnt and is dropped from the file
    assert VisionModelConfig().classes == ("no_hardhat", "hardhat")
    with pytest.raises(ValidationError, match="class_thresholds"):
        VisionModelConfig(class_thresholds={"person": 0.5})


# --- runner and detector on a generated model ------------------------------------------------------------

@pytest.fixture
def tiny(tmp_path):
    return centernet_model(tmp_path / "tiny.tflite", size=64)


def test_runner_runs_generated_model(tiny):
    r = TFLiteRunner(tiny, num_threads=2)
    assert r.input_size == 64 and r.output_shapes == [(1, 8, 8, 2), (1, 8, 8, 4)]
    img = np.zeros((64, 64, 3), np.uint8)
    img[16:24, 8:16, 0] = 255
    heat, reg = r.run(img)
    assert heat[2, 1].tolist() == pytest.approx([1 / (1 + math.exp(-4.75)), 1 / (1 + math.exp(8))], rel=1e-5)
    assert reg[0, 0].tolist() == pytest.approx([0.5, 0.5, math.log(2), math.log(2)], rel=1e-5)
    with pytest.raises(ValueError, match="64x64x3"):
        r.run(np.zeros((32, 32, 3), np.uint8))


def test_detector_end_to_end_in_original_pixels(tiny):
    # the grey bars (114) score sigmoid(114/20 − 8) ≈ 0.09: under this threshold
    cfg = VisionModelConfig(path=tiny, input_size=64, score_threshold=0.5)
    det = Detector.from_config(cfg)
    # a 128×64 image: letterboxed at scale 0.5 with 16 px bars above and below
    img = np.zeros((64, 128, 3), np.uint8)
    img[0:16, 32:48, 1] = 255     # green → class 1, lands in model cell (row 2, col 2)
    img[32:48, 96:112, 0] = 255   # red → class 0, cell (row 4, col 6)
    dets = det.detect(img)
    assert sorted(d.label for d in dets) == ["hardhat", "no_hardhat"]
    by = {d.label: d for d in dets}
    # each cell predicts a 16 px box on its centre: model [12, 12, 28, 28] → here [24, -8, 56, 24], clipped
    assert by["hardhat"].box == pytest.approx([24, 0, 56, 24])
    assert by["no_hardhat"].box == pytest.approx([88, 24, 120, 56])    # model [44, 28, 60, 44]
    assert all(0.98 < d.score <= 1 for d in dets), dets    # blocks a little blurred by the resize
    assert Detection("hardhat", 0.98765, [1.234, 2, 3, 4]).as_dict() == \
        {"label": "hardhat", "score": 0.9877, "box": [1.2, 2.0, 3.0, 4.0]}
    assert det.detect(np.zeros((50, 70, 3), np.uint8)) == []      # nothing bright: nothing found


def test_flip_tta_maps_the_mirror_back(tiny):
    # the generated net is exactly mirror-equivariant (8×8 pooling on an aligned grid), so averaging the mirror
    # pass, flipped back, must give the same detections and scores; a mirror left unflipped would average each
    # block with the dark cell opposite it and halve its score
    img = np.zeros((48, 64, 3), np.uint8)
    img[8:16, 8:16, 0] = 255                      # red (no_hardhat) on the left
    img[24:32, 40:48, 1] = 170                    # a dimmer green (hardhat) on the right
    plain = Detector.from_config(VisionModelConfig(path=tiny, input_size=64, score_threshold=0.3))
    tta = Detector.from_config(VisionModelConfig(path=tiny, input_size=64, score_threshold=0.3, flip_tta=True))
    want, got = plain.detect(img), tta.detect(img)
    assert [d.label for d in want] == ["no_hardhat", "hardhat"]
    assert [(d.label, d.box) for d in got] == [(d.label, d.box) for d in want]
    assert [d.score for d in got] == pytest.approx([d.score for d in want], abs=1e-6)


def test_detector_threshold_from_config(tiny):
    img = np.zeros((64, 64, 3), np.uint8)
    img[16:24, 8:16, 0] = 170                                       # sigmoid(170/20 − 8) ≈ 0.62
    low = Detector.from_config(VisionModelConfig(path=tiny, input_size=64, score_threshold=0.5))
    high = Detector.from_config(VisionModelConfig(path=tiny, input_size=64, score_threshold=0.5,
                                                  class_thresholds={"no_hardhat": 0.7}))
    assert [d.label for d in low.detect(img)] == ["no_hardhat"]
    assert high.detect(img) == []


@pytest.mark.parametrize("make, cfg_kw, message", [
    (lambda p: p / "nothing.tflite", {}, "file not found"),
    (lambda p: (p / "junk.tflite").write_bytes(b"not a model at all" * 10) and p / "junk.tflite", {},
     "not a usable TFLite model"),
    (lambda p: fc_model(p / "fc.tflite"), {}, "input shape [1, 4] is not [1, S, S, 3]"),
    (lambda p: centernet_model(p / "tiny.tflite", 64), {"input_size": 96}, "input is 64x64 but the config"),
    (lambda p: centernet_model(p / "tiny.tflite", 64, classes=3), {"input_size": 64},
     "do not fit 2 classes ([vision.model] classes = ['no_hardhat', 'hardhat'])"),
    # a config still naming `person` against a 2-class file (the shipped one since #17): the key is named
    (lambda p: centernet_model(p / "tiny.tflite", 64), {"input_size": 64,
                                                        "classes": ("no_hardhat", "hardhat", "person")},
     "do not fit 3 classes ([vision.model] classes = ['no_hardhat', 'hardhat', 'person'])"),
])
def test_model_errors_name_the_file(tmp_path, make, cfg_kw, message):
    path = make(tmp_path)
    with pytest.raises(ModelError) as exc:
        Detector.from_config(VisionModelConfig(path=path, **cfg_kw))
    assert str(path) in exc.value.en and message in exc.value.en
    assert str(path) in exc.value.zh


def test_main_config_carries_vision_model():
    from appliance.config import parse_config
    from appliance.core.errors import ConfigError

    cfg = parse_config('[vision.model]\nscore_threshold = 0.6\nnum_threads = 2\n')
    assert cfg.vision.model.score_threshold == 0.6 and cfg.vision.model.num_threads == 2
    assert parse_config("").vision.model == VisionModelConfig()
    with pytest.raises(ConfigError) as exc:
        parse_config('[vision.model]\nthreshold = 0.6\n')
    assert exc.value.details[0]["key"] == "vision.model.threshold"


def test_class_agnostic_nms_keeps_one_label_per_object(tiny):
    img = np.zeros((64, 64, 3), np.uint8)
    img[16:24, 8:16] = (255, 230, 0)          # yellow: class 0 (red) and class 1 (green) fire on one cell
    per_class = Detector.from_config(VisionModelConfig(path=tiny, input_size=64, score_threshold=0.5))
    agnostic = Detector.from_config(VisionModelConfig(path=tiny, input_size=64, score_threshold=0.5,
                                                      class_agnostic_nms=True))
    assert sorted(d.label for d in per_class.detect(img)) == ["hardhat", "no_hardhat"]
    assert [d.label for d in agnostic.detect(img)] == ["no_hardhat"]     # the higher score (red 255) wins
