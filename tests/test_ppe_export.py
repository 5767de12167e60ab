"""export_weights.py's `--keep-classes` (#17): the program written for the shipped 2-class file (no_hardhat,
hardhat; `person` dropped) is the 3-class network with the heat head's last 1×1 conv cut to those rows, and
its check outputs are the full network's channels 0 and 1 exactly. Needs torch (the training venv):
`PYTHONPATH=.:tests training/ppe/.venv-train/bin/python -m pytest --noconftest -o addopts= -o filterwarnings=
-m training -p no:randomly tests/test_ppe_export.py` (`make -f training/ppe/Makefile test`). Marked `training`:
`make test` deselects it (its venv has no torch)."""
from __future__ import annotations

import json

import numpy as np
import pytest
from PIL import Image

try:   # the training venv; in make test's venv these tests are deselected (marker `training`)
    import torch

    from training.ppe import export_weights
    from training.ppe.net import Detector
except ImportError:
    torch = None

pytestmark = pytest.mark.training


@pytest.fixture
def model_and_data(tmp_path):
    assert torch is not None, "needs torch: run make -f training/ppe/Makefile test"
    torch.manual_seed(0)
    det = Detector(3, pretrained=False)
    with torch.no_grad():   # a heat head whose channels differ clearly (the init gives all the same bias)
        det.head.heat.bias.copy_(torch.tensor([-1.0, 0.5, 2.0]))
    model = tmp_path / "model.pt"
    torch.save({"state_dict": det.state_dict(), "num_classes": 3}, model)
    valid = tmp_path / "data" / "valid"
    (valid / "images").mkdir(parents=True)
    (valid / "labels").mkdir()
    rng = np.random.default_rng(1)
    for i in range(4):
        Image.fromarray(rng.integers(0, 256, (48, 64, 3), np.uint8)).save(valid / "images" / f"v{i}.png")
        (valid / "labels" / f"v{i}.txt").write_text("0 0.5 0.5 0.2 0.2\n2 0.4 0.5 0.6 0.9\n")
    return model, tmp_path / "data"


def _heat_conv(program) -> str:
    """The name of the conv whose sigmoid is the heat output."""
    ops = json.loads(str(program["ops"]))
    return next(op for op in ops if op["dst"] == ops[-1]["heat"])["a"]


def _program(model, data, out, *extra):
    assert export_weights.main(["--model", str(model), "--out", str(out), "--data", str(data), "--size", "64",
                                *extra]) == 0
    return dict(np.load(out))


def test_keep_classes_cuts_the_heat_head_to_those_channels(model_and_data, tmp_path):
    model, data = model_and_data
    full = _program(model, data, tmp_path / "full.npz")
    two = _program(model, data, tmp_path / "two.npz", "--keep-classes", "0,1")
    conv = _heat_conv(two)
    assert conv == _heat_conv(full)                                    # the same op, fewer rows
    assert two[conv + ".w"].shape[0] == 2 and full[conv + ".w"].shape[0] == 3
    np.testing.assert_array_equal(two[conv + ".w"], full[conv + ".w"][:2])
    np.testing.assert_array_equal(two[conv + ".b"], full[conv + ".b"][:2])
    assert two["check.heat"].shape[-1] == 2 and full["check.heat"].shape[-1] == 3
    np.testing.assert_allclose(two["check.heat"], full["check.heat"][..., :2], atol=1e-6)
    np.testing.assert_array_equal(two["check.reg"], full["check.reg"])  # the boxes do not depend on the classes
    # every other array is the same: only the last heat conv changed
    assert sorted(set(two) ^ set(full)) == []
    assert [k for k in two if two[k].shape != full[k].shape] == [conv + ".w", conv + ".b", "check.heat"]


def test_keep_classes_order_and_bad_ids(model_and_data, tmp_path):
    model, data = model_and_data
    full = _program(model, data, tmp_path / "full.npz")
    swapped = _program(model, data, tmp_path / "swapped.npz", "--keep-classes", "1,0")
    np.testing.assert_allclose(swapped["check.heat"], full["check.heat"][..., [1, 0]], atol=1e-6)
    for bad in ("0,3", "1,1", "-1"):
        with pytest.raises(ValueError, match="--keep-classes"):
            _program(model, data, tmp_path / "bad.npz", "--keep-classes", bad)
