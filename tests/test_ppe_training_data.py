"""The GPU recipe's data side, without torch: the compact training file (training/ppe/compact.py) keeps every
image and box, and the augmentation (training/ppe/augment.py) moves boxes with the pixels (letterbox, scale,
crop, mirror)."""
from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from models.postprocess import PAD_VALUE, letterbox
from training.ppe import compact
from training.ppe.augment import augmented_example, colour_jitter, place


def _dataset(root, sizes):
    """A YOLO folder of noise images (noise: JPEG cannot shrink it much) with two boxes each."""
    (root / "images").mkdir(parents=True)
    (root / "labels").mkdir()
    rng = np.random.default_rng(0)
    for i, (w, h) in enumerate(sizes):
        Image.fromarray(rng.integers(0, 256, (h, w, 3), dtype=np.uint8)).save(root / "images" / f"im{i}.jpg")
        (root / "labels" / f"im{i}.txt").write_text("0 0.25 0.5 0.1 0.2\n1 0.75 0.4 0.3 0.4\n")


def test_compact_file_round_trip(tmp_path):
    _dataset(tmp_path / "d" / "train", [(384, 288), (200, 300), (640, 480)])
    out = tmp_path / "c.npz"
    assert compact.main(["--data", str(tmp_path / "d"), "--out", str(out), "--size", "320"]) == 0
    cs = compact.CompactSet(out)
    assert len(cs) == 3 and cs.names == ["im0.jpg", "im1.jpg", "im2.jpg"]
    assert cs.meta["size"] == 320 and cs.meta["quality"] == 95
    shapes = [cs.image(i).shape for i in range(3)]
    assert shapes == [(240, 320, 3), (300, 200, 3), (240, 320, 3)]  # longer side ≤ 320, never enlarged
    for i, (h, w, _) in enumerate(shapes):
        b = cs.boxes(i, w, h)
        np.testing.assert_allclose(b[0], [0, 0.2 * w, 0.4 * h, 0.3 * w, 0.6 * h], rtol=1e-5)
        np.testing.assert_allclose(b[1], [1, 0.6 * w, 0.2 * h, 0.9 * w, 0.6 * h], rtol=1e-5)


def test_compact_file_steps_quality_down_to_fit(tmp_path):
    _dataset(tmp_path / "d" / "train", [(320, 320)] * 4)
    out = tmp_path / "c.npz"
    compact.main(["--data", str(tmp_path / "d"), "--out", str(out), "--max-mib", "1"])
    big = out.stat().st_size
    compact.main(["--data", str(tmp_path / "d"), "--out", str(out), "--max-mib", str(big * 0.6 / compact.MIB)])
    assert out.stat().st_size < big * 0.6
    assert compact.CompactSet(out).meta["quality"] < 95
    with pytest.raises(SystemExit, match="does not fit"):
        compact.main(["--data", str(tmp_path / "d"), "--out", str(out), "--max-mib", "0.001"])


def test_place_at_the_letterbox_geometry_is_the_appliance_letterbox():
    rng = np.random.default_rng(1)
    image = rng.integers(0, 256, (240, 400, 3), dtype=np.uint8)
    want, lb = letterbox(image, 320)
    boxes = np.array([[0, 10, 20, 110, 220]], np.float32)
    canvas, b = place(image, boxes, 320, lb.scale, lb.pad_x, lb.pad_y, flip=False)
    np.testing.assert_array_equal(canvas, want)
    np.testing.assert_allclose(b[0, 1:], [10 * lb.scale + lb.pad_x, 20 * lb.scale + lb.pad_y,
                                          110 * lb.scale + lb.pad_x, 220 * lb.scale + lb.pad_y], rtol=1e-5)


def test_place_mirrors_pixels_and_boxes():
    image = np.zeros((100, 100, 3), np.uint8)
    image[10:30, 5:25] = 255  # a white square under the box
    canvas, b = place(image, np.array([[2, 5, 10, 25, 30]], np.float32), 100, 1.0, 0, 0, flip=True)
    np.testing.assert_allclose(b, [[2, 75, 10, 95, 30]])
    assert canvas[10:30, 75:95].min() == 255 and canvas[:, :75].max() == 0


@pytest.mark.parametrize("ox, kept", [(0, [0]), (-35, [0, 1]), (-60, [1])])
def test_place_crops_and_drops_boxes_mostly_out_of_view(ox, kept):
    image = np.full((100, 100, 3), 50, np.uint8)
    boxes = np.array([[0, 0, 0, 40, 40], [1, 50, 0, 90, 40]], np.float32)
    # scale 2: x 0..80 and 100..180 on a 100 px canvas; ox shifts them left; a box keeps ≥ 40 % in view
    canvas, b = place(image, boxes, 100, 2.0, ox, 0, flip=False)
    assert b[:, 0].tolist() == kept
    assert (b[:, 1:] >= 0).all() and (b[:, 1:] <= 100).all()
    assert canvas.shape == (100, 100, 3) and (canvas == 50).all()  # the image covers the whole canvas


def test_place_pads_with_the_appliance_grey():
    canvas, _ = place(np.zeros((50, 50, 3), np.uint8), np.zeros((0, 5), np.float32), 100, 1.0, 25, 25, False)
    assert canvas[0, 0].tolist() == [PAD_VALUE] * 3 and canvas[50, 50].tolist() == [0, 0, 0]


def test_colour_jitter_keeps_shape_and_is_identity_at_zero_strength():
    rng = np.random.default_rng(2)
    canvas = rng.integers(0, 256, (32, 32, 3), dtype=np.uint8)
    out = colour_jitter(canvas, np.random.default_rng(0), strength=0.0)
    assert out.dtype == np.uint8 and np.abs(out.astype(int) - canvas).max() <= 1
    assert colour_jitter(canvas, np.random.default_rng(0)).shape == canvas.shape


def test_augmented_examples_keep_boxes_on_the_canvas():
    rng = np.random.default_rng(3)
    image = rng.integers(0, 256, (240, 320, 3), dtype=np.uint8)
    boxes = np.array([[0, 10, 10, 60, 70], [1, 200, 100, 300, 230], [2, 140, 20, 160, 40]], np.float32)
    seen = set()
    for seed in range(40):
        canvas, b = augmented_example(image, boxes, 320, np.random.default_rng(seed))
        assert canvas.shape == (320, 320, 3) and canvas.dtype == np.uint8
        assert ((b[:, 1:] >= 0) & (b[:, 1:] <= 320)).all()
        assert (b[:, 3] - b[:, 1] >= 2).all() and (b[:, 4] - b[:, 2] >= 2).all()
        seen.add(len(b))
    assert 3 in seen and min(seen) < 3  # plain and mild views keep every box; some crops lose one
