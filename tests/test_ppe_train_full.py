"""train_full.py's torch side (#17): the loader with workers kept alive between epochs hands out the batches
the pure pipeline plans, and the colour jitter done on the device is the worker's. Needs torch (the training
venv): `PYTHONPATH=.:tests training/ppe/.venv-train/bin/python -m pytest --noconftest -o addopts= -o filterwarnings=
-m training -p no:randomly tests/test_ppe_train_full.py` (`make -f training/ppe/Makefile test`). Marked `training`:
`make test` deselects them (its venv has no torch) and says so in its summary; selected without torch they fail."""
from __future__ import annotations

import argparse

import numpy as np
import pytest

from test_ppe_pipeline import compact_file  # noqa: F401  (the fixture)
from training.ppe import compact
from training.ppe.augment import apply_jitter, jitter_factors
from training.ppe.pipeline import batch_plan, example

try:   # the training venv; in make test's venv these tests are deselected (marker `training`)
    import torch

    from training.ppe.train_full import device_jitter, make_loader
except ImportError:
    torch = None

pytestmark = pytest.mark.training


@pytest.fixture(autouse=True)
def _torch_here():
    assert torch is not None, "needs torch: run make -f training/ppe/Makefile test"


def test_device_jitter_is_the_workers_jitter_to_one_level():
    rng = np.random.default_rng(0)
    canvases = rng.integers(0, 256, (6, 64, 64, 3), dtype=np.uint8)
    factors = np.stack([jitter_factors(rng, 0.3) for _ in range(6)])
    want = np.stack([apply_jitter(c, f) for c, f in zip(canvases, factors, strict=True)])
    got = device_jitter(torch.from_numpy(canvases).permute(0, 3, 1, 2).float(), torch.from_numpy(factors))
    diff = np.abs(got.permute(0, 2, 3, 1).numpy() - want.astype(np.float32))
    assert diff.max() < 1.0 + 1e-3   # the worker rounds down to uint8; the device keeps the fraction


def _args(path, tmp, **kw):
    base = dict(compact=path, decoded_cache=True, cache_dir=tmp, out=tmp, limit=0, multi_scale=None, size=128,
                classes=3, seed=3, jitter="device", scale_range=(0.6, 1.5), batch=4, workers=2)
    return argparse.Namespace(**{**base, **kw})


def test_persistent_workers_hand_out_the_planned_batches_every_epoch(compact_file, tmp_path):  # noqa: F811
    cs = compact.CompactSet(compact_file)
    _, sampler, loader = make_loader(_args(compact_file, tmp_path, multi_scale=(96, 160)), torch.device("cpu"))
    assert loader.persistent_workers and loader.num_workers == 2
    for epoch in (0, 1, 2):
        sampler.set_epoch(epoch)
        plan = batch_plan(len(cs), 4, epoch, 3, (96, 128, 160))
        got = list(loader)
        assert len(got) == len(plan) == 2
        for (images, heat, _reg, _mask, factors), keys in zip(got, plan, strict=True):
            want = [example(cs, i, e, 3, s, 3) for e, i, s in keys]
            np.testing.assert_array_equal(images.permute(0, 2, 3, 1).numpy(), np.stack([w[0] for w in want]))
            np.testing.assert_array_equal(heat.numpy(), np.stack([w[1] for w in want]))
            np.testing.assert_array_equal(factors.numpy(), np.stack([w[4] for w in want]))


def test_the_new_loader_gives_the_old_paths_batches(compact_file, tmp_path):  # noqa: F811
    """Old path: JPEG decode and jitter in the worker. New: decoded cache, jitter on the device."""
    old = make_loader(_args(compact_file, tmp_path / "o", decoded_cache=False, jitter="worker", workers=0),
                      torch.device("cpu"))[2]
    new = make_loader(_args(compact_file, tmp_path / "n"), torch.device("cpu"))[2]
    for (xo, ho, ro, mo, fo), (xn, hn, rn, mn, fn) in zip(old, new, strict=True):
        assert (fo == 1).all()
        jittered = device_jitter(xn.float(), fn)
        assert (jittered - xo.float()).abs().max() < 1.0 + 1e-3
        for a, b in ((ho, hn), (ro, rn), (mo, mn)):
            assert torch.equal(a, b)
