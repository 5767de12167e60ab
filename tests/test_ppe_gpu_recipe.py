"""GPU_RECIPE (training/ppe/gpu_recipe.sh, #17) in its CPU dry-run mode: the very script a session with a lent
GPU runs, on 16 images for 2 steps, then its evaluation on 8: it must leave the model, the logs and the eval
report in $OUT. Runs with the training venv (training/ppe/.venv-train, `make -f training/ppe/Makefile venvs`);
marked `training`: `make test` deselects it (CI has no torch), `make -f training/ppe/Makefile test` runs it, and
selected without the training venv it fails."""
from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest

from test_ppe_pipeline import compact_file  # noqa: F401  (the fixture: a compact file of 9 images)

ROOT = Path(__file__).resolve().parents[1]
TRAIN_PY = ROOT / "training" / "ppe" / ".venv-train" / "bin" / "python"


@pytest.mark.training
def test_gpu_recipe_dry_run_leaves_model_logs_and_eval(compact_file, tmp_path):  # noqa: F811
    assert TRAIN_PY.exists(), "no training venv: make -f training/ppe/Makefile venvs"
    gpu = tmp_path / "gpu"
    gpu.mkdir()
    (gpu / "compact-train-320.npz").symlink_to(compact_file)
    (gpu / "compact-valid_a.npz").symlink_to(compact_file)
    subprocess.run([str(TRAIN_PY), "-c", "import torch, sys; from training.ppe.net import Detector; "
                    "torch.save({'state_dict': {k: v.half() if v.is_floating_point() else v for k, v in "
                    "Detector(3, pretrained=False).state_dict().items()}, 'num_classes': 3}, sys.argv[1])",
                    str(gpu / "init.pt")], cwd=ROOT, check=True, env={**os.environ, "PYTHONPATH": str(ROOT)})
    out = tmp_path / "out"
    done = subprocess.run(["bash", "training/ppe/gpu_recipe.sh"], cwd=ROOT, capture_output=True, text=True,
                          timeout=240, env={**os.environ, "DRY_RUN": "1", "OUT": str(out), "GPU_DIR": str(gpu),
                                            "PY": str(TRAIN_PY)})
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    assert {"model.pt", "train.log", "eval.log", "torch_eval.json", "env.txt"} <= {p.name for p in out.iterdir()}
    log = (out / "train.log").read_text()
    assert "trained 2 steps" in log and "canvas 96/128/160" in log and "colour jitter on the device" in log
    report = json.loads((out / "torch_eval.json").read_text())
    assert report["images"] == 8 and set(report["sizes"]) == {"128", "160"}
    assert "no_hardhat" in report["sizes"]["128"]["sweep"]["0.40"]
