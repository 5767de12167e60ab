"""train_full.py's data pipeline without torch (training/ppe/pipeline.py, #17): the pre-decoded, memory-mapped
cache gives the very pixels and examples the JPEG path gives, the worker's examples are the old ones (same
random draws), and the batch plan that lets workers live across epochs."""
from __future__ import annotations

import os

import numpy as np
import pytest
from PIL import Image

from training.ppe import compact
from training.ppe.augment import augmented_example
from training.ppe.pipeline import DecodedCache, batch_plan, example, sizes_between


@pytest.fixture(scope="module")
def compact_file(tmp_path_factory):
    """A compact file of 9 photo-like images (smooth gradients + noise) of different shapes, 1–3 boxes each."""
    root = tmp_path_factory.mktemp("data") / "train"
    (root / "images").mkdir(parents=True)
    (root / "labels").mkdir()
    rng = np.random.default_rng(0)
    for i, (w, h) in enumerate([(384, 256), (256, 384), (300, 300), (384, 288), (200, 150), (384, 216),
                                (320, 240), (128, 320), (384, 384)]):
        yy, xx = np.mgrid[0:h, 0:w]
        base = np.stack([xx * 255 / w, yy * 255 / h, (xx + yy) * 127 / (w + h)], axis=2)
        img = (base + rng.normal(0, 12, base.shape)).clip(0, 255).astype(np.uint8)
        Image.fromarray(img).save(root / "images" / f"im{i}.jpg", quality=92)
        lines = [f"{k % 3} {0.2 + 0.25 * k} {0.3 + 0.2 * k} 0.08 0.1" for k in range(1 + i % 3)]
        (root / "labels" / f"im{i}.txt").write_text("\n".join(lines) + "\n")
    out = root.parent / "c.npz"
    assert compact.main(["--data", str(root.parent), "--out", str(out), "--size", "320", "--quality", "60"]) == 0
    return out


def test_decoded_cache_holds_the_jpeg_pixels_and_boxes(compact_file, tmp_path):
    cs = compact.CompactSet(compact_file)
    dc = DecodedCache(cs, tmp_path)
    assert len(dc) == len(cs) == 9
    assert isinstance(dc.pixels, np.memmap) and dc.pixels.dtype == np.uint8
    for i in range(len(cs)):
        want = cs.image(i)
        np.testing.assert_array_equal(dc.image(i), want)
        assert cs.image_size(i) == want.shape[:2]
        np.testing.assert_array_equal(dc.boxes(i, want.shape[1], want.shape[0]), cs.boxes(i, want.shape[1], want.shape[0]))


def test_decoded_cache_is_reused_and_rebuilt_when_the_compact_file_changes(compact_file, tmp_path):
    cs = compact.CompactSet(compact_file)
    first = DecodedCache(cs, tmp_path)
    built = first.pixels_path.stat().st_mtime_ns
    assert DecodedCache(cs, tmp_path).pixels_path.stat().st_mtime_ns == built  # fresh: not decoded again
    st = compact_file.stat()
    os.utime(compact_file, ns=(st.st_atime_ns, st.st_mtime_ns + 10**9))     # "a new compact file"
    try:
        again = DecodedCache(compact.CompactSet(compact_file), tmp_path)
        assert again.pixels_path.stat().st_mtime_ns != built
        np.testing.assert_array_equal(again.image(3), cs.image(3))
    finally:
        os.utime(compact_file, ns=(st.st_atime_ns, st.st_mtime_ns))


@pytest.mark.parametrize("size", [256, 384, 448])
def test_examples_from_the_cache_are_those_of_the_jpeg_path(compact_file, tmp_path, size):
    cs = compact.CompactSet(compact_file)
    dc = DecodedCache(cs, tmp_path)
    for epoch in (0, 3):
        for i in range(len(cs)):
            for jitter_here in (False, True):
                a = example(cs, i, epoch, 5, size, 3, jitter_here)
                b = example(dc, i, epoch, 5, size, 3, jitter_here)
                for x, y in zip(a, b, strict=True):
                    np.testing.assert_array_equal(x, y)


def test_a_worker_draws_what_the_old_augmented_set_drew(compact_file):
    """The old AugmentedSet: rng (seed, epoch, i) → augmented_example (jitter applied on the CPU)."""
    cs = compact.CompactSet(compact_file)
    for epoch, i in [(0, 0), (1, 4), (7, 8)]:
        image = cs.image(i)
        old, old_boxes = augmented_example(image, cs.boxes(i, image.shape[1], image.shape[0]), 384,
                                           np.random.default_rng((0, epoch, i)))
        canvas, *_, factors = example(cs, i, epoch, 0, 384, 3, jitter_here=True)
        np.testing.assert_array_equal(canvas, old)
        assert factors.tolist() == [1, 1, 1]
        plain, *_, factors = example(cs, i, epoch, 0, 384, 3, jitter_here=False)
        assert not np.array_equal(plain, old) and ((0.7 <= factors) & (factors <= 1.3)).all()


def test_batch_plan_covers_each_image_once_per_epoch_and_is_a_function_of_the_epoch():
    plan = batch_plan(103, 10, epoch=2, seed=0, sizes=(384,))
    assert len(plan) == 10 and all(len(b) == 10 for b in plan)          # the short last batch is dropped
    seen = [i for b in plan for _, i, _ in b]
    assert len(set(seen)) == 100 and all(e == 2 and s == 384 for b in plan for e, _, s in b)
    assert batch_plan(103, 10, 2, 0, (384,)) == plan                     # any process computes the same
    assert batch_plan(103, 10, 3, 0, (384,)) != plan                     # another epoch, another order
    assert batch_plan(5, 10, 0, 0, (384,))[0].__len__() == 5              # fewer images than a batch: one batch


def test_multi_scale_plan_gives_each_batch_one_size_from_the_range():
    sizes = sizes_between(320, 512)
    assert sizes == (320, 352, 384, 416, 448, 480, 512)
    plan = batch_plan(640, 8, 0, 0, sizes)
    per_batch = [{s for _, _, s in b} for b in plan]
    assert all(len(s) == 1 for s in per_batch)
    assert {s.pop() for s in per_batch} == set(sizes)                    # 80 batches reach every size


@pytest.mark.parametrize("lo, hi", [(320, 500), (330, 512), (512, 384), (0, 64)])
def test_multi_scale_range_must_be_multiples_of_32(lo, hi):
    with pytest.raises(ValueError, match="multi-scale"):
        sizes_between(lo, hi)
