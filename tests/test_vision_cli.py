"""`safety-appliance vision detect|eval` as a subprocess, on a generated 320-px detector with known outputs
(tests/tiny_tflite.py: an 8×8 block of colour c on black is one class-c detection of exactly that block), and
the evaluation's matching and AP as tables."""
from __future__ import annotations

import json

import numpy as np
import pytest
from PIL import Image

from conftest import run_cli
from models.evaluate import average_precision, match, read_yolo_labels
from tiny_tflite import centernet_model

RED, GREEN = (255, 0, 0), (0, 255, 0)


@pytest.fixture
def model(tmp_path):
    return str(centernet_model(tmp_path / "tiny320.tflite", size=320, box_cells=1.0))


def picture(path, blocks, size=(320, 320)):
    """A black RGB picture with 8×8 blocks [(x, y, colour)] on the 8-px grid."""
    img = np.zeros((size[1], size[0], 3), np.uint8)
    for x, y, colour in blocks:
        img[y:y + 8, x:x + 8] = colour
    Image.fromarray(img).save(path)
    return str(path)


def test_detect_json_contract_and_a_bad_file(tmp_path, model):
    a = picture(tmp_path / "a.png", [(80, 160, RED), (200, 40, GREEN)])
    b = picture(tmp_path / "b.png", [])
    bad = tmp_path / "notes.jpg"
    bad.write_text("this is not a picture", encoding="utf-8")
    r = run_cli("vision", "detect", a, str(bad), b, "--json", "--model", model)
    assert r.returncode == 1, r.stderr
    lines = [json.loads(line) for line in r.stdout.splitlines()]
    assert [l["image"] for l in lines] == [a, str(bad), b]           # the file after the bad one still ran
    first = lines[0]
    assert (first["width"], first["height"]) == (320, 320)
    dets = sorted(first["detections"], key=lambda d: d["label"])
    assert [d["label"] for d in dets] == ["hardhat", "no_hardhat"]
    assert dets[0]["box"] == [200, 40, 208, 48] and dets[1]["box"] == [80, 160, 88, 168]
    assert all(0.98 < d["score"] <= 1.0 for d in dets)
    assert lines[1]["error"].startswith("not an image") and "detections" not in lines[1]
    assert lines[2]["detections"] == []
    assert str(bad) in r.stderr and "不是图像" in r.stderr and "not an image" in r.stderr


def test_detect_boxes_in_original_pixels(tmp_path, model):
    # 640×320 is halved into the 320 input with 80-px bars: a 16×16 block at (160, 160) is one 8×8 model cell
    img = np.zeros((320, 640, 3), np.uint8)
    img[160:176, 160:176] = RED
    p = tmp_path / "wide.png"
    Image.fromarray(img).save(p)
    r = run_cli("vision", "detect", str(p), "--json", "--model", model)
    assert r.returncode == 0, r.stderr
    out = json.loads(r.stdout)
    assert (out["width"], out["height"]) == (640, 320)
    assert [d["box"] for d in out["detections"]] == [[160, 160, 176, 176]]


def test_detect_plain_text_and_missing_model(tmp_path, model):
    a = picture(tmp_path / "a.png", [(80, 160, RED)])
    r = run_cli("vision", "detect", a, "--model", model)
    assert r.returncode == 0 and "no_hardhat 0.99 [80, 160, 88, 168]" in r.stdout, r.stdout + r.stderr
    r = run_cli("vision", "detect", a, "--model", str(tmp_path / "gone.tflite"))
    assert r.returncode == 1 and "gone.tflite" in r.stderr and "file not found" in r.stderr and "文件不存在" in r.stderr


def test_detect_uses_config_thresholds(tmp_path, model):
    a = picture(tmp_path / "a.png", [(80, 160, (170, 0, 0))])          # score ≈ 0.62
    cfg = tmp_path / "appliance.toml"
    cfg.write_text(f'[vision.model]\npath = "{model}"\ninput_size = 320\nscore_threshold = 0.7\n', encoding="utf-8")
    assert json.loads(run_cli("vision", "detect", a, "--json", "--config", str(cfg)).stdout)["detections"] == []
    cfg.write_text(f'[vision.model]\npath = "{model}"\ninput_size = 320\nscore_threshold = 0.5\n', encoding="utf-8")
    dets = json.loads(run_cli("vision", "detect", a, "--json", "--config", str(cfg)).stdout)["detections"]
    assert [d["label"] for d in dets] == ["no_hardhat"] and 0.6 < dets[0]["score"] < 0.65


def _yolo(path, rows):
    path.write_text("".join(f"{c} {(x + 4) / 320} {(y + 4) / 320} {8 / 320} {8 / 320}\n" for c, x, y in rows))


def test_eval_counts_precision_recall_and_ap(tmp_path, model):
    root = tmp_path / "set"
    (root / "images").mkdir(parents=True)
    (root / "labels").mkdir()
    picture(root / "images" / "a.png", [(80, 160, RED), (200, 40, GREEN)])
    _yolo(root / "labels" / "a.txt", [(0, 80, 160), (1, 200, 40)])
    picture(root / "images" / "b.png", [(40, 40, (200, 0, 0))])         # a lower-scored false no_hardhat
    _yolo(root / "labels" / "b.txt", [(1, 240, 240), (2, 100, 100)])    # a missed hard hat; a person (id 2)
    r = run_cli("vision", "eval", str(root), "--json", "--model", model)
    assert r.returncode == 0, r.stderr
    rep = json.loads(r.stdout)
    by = {c["label"]: c for c in rep["classes"]}
    assert rep["images"] == 2
    assert (by["no_hardhat"]["labels"], by["no_hardhat"]["detections"], by["no_hardhat"]["true_positives"]) == (1, 2, 1)
    assert (by["no_hardhat"]["precision"], by["no_hardhat"]["recall"], by["no_hardhat"]["ap50"]) == (0.5, 1.0, 1.0)
    assert (by["hardhat"]["precision"], by["hardhat"]["recall"], by["hardhat"]["ap50"]) == (1.0, 0.5, 0.5)
    # the data sets' id 2 (person) is no class of the 2-class model: counted, not scored, not an error
    assert "person" not in by and rep["unscored_labels"] == {"2": 1}
    text = run_cli("vision", "eval", str(root), "--model", model).stdout
    assert "no_hardhat" in text and "AP@0.5" in text and "precision" in text
    assert "not scored: 1 labels of class id 2" in text
    # the sweep: at 0.95 the lower-scored false no_hardhat (≈ 0.88) is gone
    rep = json.loads(run_cli("vision", "eval", str(root), "--json", "--sweep", "--model", model).stdout)
    assert rep["sweep"]["0.50"]["no_hardhat"] == {"precision": 0.5, "recall": 1.0}
    assert rep["sweep"]["0.90"]["no_hardhat"] == {"precision": 1.0, "recall": 1.0}
    assert "threshold" in run_cli("vision", "eval", str(root), "--sweep", "--model", model).stdout


def test_eval_bad_folder(tmp_path, model):
    r = run_cli("vision", "eval", str(tmp_path), "--model", model)
    assert r.returncode == 1 and "images/" in r.stderr


def test_eval_negative_class_id_is_an_error(tmp_path, model):
    root = tmp_path / "set"
    (root / "images").mkdir(parents=True)
    (root / "labels").mkdir()
    picture(root / "images" / "a.png", [])
    (root / "labels" / "a.txt").write_text("-1 0.5 0.5 0.1 0.1\n")
    r = run_cli("vision", "eval", str(root), "--model", model)
    assert r.returncode == 1 and "a.txt: class id -1 is negative" in r.stderr


@pytest.mark.parametrize("dets, scores, gts, want", [
    ([[0, 0, 10, 10]], [0.9], [[0, 0, 10, 10]], [True]),
    ([[0, 0, 10, 10], [1, 1, 10, 10]], [0.8, 0.9], [[0, 0, 10, 10]], [False, True]),   # best score takes it
    ([[0, 0, 10, 10]], [0.9], [[20, 20, 30, 30]], [False]),
    ([[0, 0, 10, 10], [20, 20, 30, 30]], [0.5, 0.6], [[0, 0, 10, 10], [20, 20, 30, 30]], [True, True]),
    ([[0, 0, 10, 10]], [0.9], [], [False]),
    ([[0, 0, 10, 10]], [0.9], [[0, 0, 10, 21]], [False]),                             # IoU 0.476 < 0.5
])
def test_match(dets, scores, gts, want):
    assert match(np.array(dets, float), np.array(scores), np.array(gts, float)).tolist() == want


@pytest.mark.parametrize("scores, tp, n_gt, want", [
    ([0.9, 0.8], [True, True], 2, 1.0),
    ([0.9, 0.8], [True, False], 2, 0.5),
    ([0.9, 0.8], [False, True], 2, 0.25),      # recall 0.5 reached at precision 0.5
    ([0.9, 0.8, 0.7], [True, False, True], 2, 0.5 + 0.5 * 2 / 3),
    ([], [], 3, 0.0),
])
def test_average_precision(scores, tp, n_gt, want):
    assert average_precision(np.array(scores), np.array(tp, bool), n_gt) == pytest.approx(want)


def test_yolo_labels_to_pixels(tmp_path):
    f = tmp_path / "x.txt"
    f.write_text("0 0.5 0.5 0.2 0.4\n\n2 0.1 0.1 0.2 0.2\n")
    assert read_yolo_labels(f, 200, 100).tolist() == [[0, 80, 30, 120, 70], [2, 0, 0, 40, 20]]
    assert read_yolo_labels(tmp_path / "none.txt", 10, 10).shape == (0, 5)
    f.write_text("0 0.5\n")
    with pytest.raises(ValueError, match="x.txt:1"):
        read_yolo_labels(f, 10, 10)
