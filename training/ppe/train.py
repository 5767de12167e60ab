"""Stage 2 of the recipe: train the CenterNet head on the cached backbone features (prepare.py).

    python -m training.ppe.train --cache training/ppe/work/cache-train-320 --out training/ppe/work/run1 --epochs 4

With --tune-tail the last MobileNetV2 stage (features[14:18], stride 32, cheap at 10×10) is fine-tuned too,
from the cached stride-16 features, at a tenth of the head's learning rate (its BatchNorm statistics stay
frozen); --init run1/model.pt starts such a second stage from the first one's weights. --tune-from 7 goes
further down: features[7:18] (the stride-16 and stride-32 stages) are fine-tuned from the cached stride-8
features, which is where a bare head and a hard hat get told apart; only the first 7 blocks stay frozen.
--class-weights scales each class's share of the focal loss (the sparse `person` class). Resumable: `last.pt` is written after every epoch (model, optimiser, schedule, RNG) and a rerun with
the same --out continues from it. The result is `model.pt`: the whole Detector's state_dict (ImageNet
backbone + what was trained), which export_tflite.py turns into the int8 .tflite file.
"""
from __future__ import annotations

import argparse
import json
import math
import time
from pathlib import Path

import numpy as np
import torch
from torch import nn

from training.ppe.data import centernet_targets
from training.ppe.net import TAPS, Detector, Head, mobilenet_v2_features


def focal_loss(logits: torch.Tensor, target: torch.Tensor, weights: torch.Tensor | None = None) -> torch.Tensor:
    """CenterNet's penalty-reduced focal loss (alpha 2, beta 4), normalised by the number of centres; with
    `weights` each class's terms are scaled by weights[c] (a class-balanced loss for the sparse `person`)."""
    p = torch.sigmoid(logits).clamp(1e-4, 1 - 1e-4)
    pos = target.eq(1).float()
    pos_loss = torch.log(p) * (1 - p) ** 2 * pos
    neg_loss = torch.log(1 - p) * p ** 2 * (1 - target) ** 4 * (1 - pos)
    if weights is not None:
        w = weights.view(1, -1, 1, 1)
        pos_loss, neg_loss = pos_loss * w, neg_loss * w
    return -(pos_loss.sum() + neg_loss.sum()) / pos.sum().clamp(min=1)


def reg_loss(pred: torch.Tensor, target: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """L1 on (dx, dy, log w, log h) at the centre cells only."""
    m = mask.unsqueeze(1)
    return (torch.abs(pred - target) * m).sum() / (m.sum() * 4).clamp(min=1)


TUNE_FROM = (None, TAPS[0], TAPS[1])  # head only; features[7:18] from c8; features[14:18] from c16


def cached_inputs(tune_from: int | None) -> tuple[str, ...]:
    """Which cached feature maps a stage reads: the ones below the first tuned block."""
    return {None: ("c8", "c16", "c32"), TAPS[1]: ("c8", "c16"), TAPS[0]: ("c8",)}[tune_from]


class Trainable(nn.Module):
    """What is trained: the head, and optionally the backbone from block `tune_from` up (BN statistics frozen)."""

    def __init__(self, num_classes: int, tune_from: int | None):
        if tune_from not in TUNE_FROM:
            raise ValueError(f"tune_from must be one of {TUNE_FROM}, got {tune_from}")
        super().__init__()
        self.head = Head(num_classes)
        self.tune_from = tune_from
        self.tail = None
        if tune_from is not None:
            feats = mobilenet_v2_features(pretrained=True)
            self.tail = nn.Sequential(*[feats[i] for i in range(tune_from, TAPS[2])])

    def forward(self, *cached):
        if self.tune_from is None:
            c8, c16, c32 = cached
        elif self.tune_from == TAPS[1]:
            c8, c16 = cached
            c32 = self.tail(c16)
        else:
            (c8,) = cached
            split = TAPS[1] - TAPS[0]
            c16 = self.tail[:split](c8)
            c32 = self.tail[split:](c16)
        return self.head(c8, c16, c32)

    def train(self, mode: bool = True):
        super().train(mode)
        if self.tail is not None:  # frozen BatchNorm statistics in the tuned backbone stage
            for m in self.tail.modules():
                if isinstance(m, nn.BatchNorm2d):
                    m.eval()
        return self


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--cache", type=Path, required=True)
    ap.add_argument("--out", type=Path, required=True)
    ap.add_argument("--epochs", type=int, default=12)
    ap.add_argument("--batch", type=int, default=32)
    ap.add_argument("--lr", type=float, default=2e-3)
    ap.add_argument("--tune-tail", action="store_true", help="same as --tune-from 14")
    ap.add_argument("--tune-from", type=int, choices=[TAPS[0], TAPS[1]],
                    help="fine-tune features[N:18] too: 14 from cached c16, 7 from cached c8")
    ap.add_argument("--backbone-lr-scale", type=float, default=0.1)
    ap.add_argument("--class-weights", type=str, default="", help="e.g. 1,1,4 (one per class)")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--classes", type=int, default=3)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--init", type=Path, help="start from a model.pt of an earlier run (e.g. the head-only stage)")
    ap.add_argument("--max-minutes", type=float, default=0, help="stop (resumably) after this much wall time")
    args = ap.parse_args(argv)
    tune_from = args.tune_from if args.tune_from is not None else (TAPS[1] if args.tune_tail else None)
    weights = None
    if args.class_weights:
        ws = [float(v) for v in args.class_weights.split(",")]
        if len(ws) != args.classes:
            ap.error(f"--class-weights needs {args.classes} values, got {len(ws)}")
        weights = torch.tensor(ws)
    torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    args.out.mkdir(parents=True, exist_ok=True)

    meta = json.loads((args.cache / "meta.json").read_text())
    n, size = int((args.cache / "done.txt").read_text()), meta["size"]
    keys = cached_inputs(tune_from)
    feats = {k: np.load(args.cache / f"{k}.npy", mmap_mode="r") for k in keys}
    grid = feats["c8"].shape[-1]
    stride = size / grid
    boxes = np.load(args.cache / "boxes.npz")
    t0 = time.monotonic()
    targets = [centernet_targets(boxes[str(i)], grid, stride, args.classes) for i in range(n)]
    heat_t = torch.from_numpy(np.stack([t[0] for t in targets]))
    reg_t = torch.from_numpy(np.stack([t[1] for t in targets]))
    mask_t = torch.from_numpy(np.stack([t[2] for t in targets]))
    del targets
    print(f"{n} examples, grid {grid}, targets in {time.monotonic() - t0:.1f}s", flush=True)

    model = Trainable(args.classes, tune_from)
    if args.init:
        state = torch.load(args.init, map_location="cpu", weights_only=False)["state_dict"]
        model.head.load_state_dict({k[5:]: v for k, v in state.items() if k.startswith("head.")})
        if model.tail is not None:
            for j, i in enumerate(range(tune_from, TAPS[2])):
                pre = f"backbone.features.{i}."
                model.tail[j].load_state_dict({k[len(pre):]: v for k, v in state.items() if k.startswith(pre)})
        print(f"initialised from {args.init}", flush=True)
    groups = [{"params": model.head.parameters(), "lr": args.lr}]
    if model.tail is not None:
        groups.append({"params": model.tail.parameters(), "lr": args.lr * args.backbone_lr_scale})
    opt = torch.optim.AdamW(groups, weight_decay=1e-4)
    steps_per_epoch = math.ceil(n / args.batch)
    total = steps_per_epoch * args.epochs
    warm = min(300, total // 10)
    sched = torch.optim.lr_scheduler.LambdaLR(
        opt, lambda s: min(1.0, (s + 1) / max(warm, 1)) * 0.5 * (1 + math.cos(math.pi * min(s, total) / total)))
    start_epoch, history = 0, []
    last = args.out / "last.pt"
    if last.exists():
        ck = torch.load(last, map_location="cpu", weights_only=False)
        model.load_state_dict(ck["model"])
        opt.load_state_dict(ck["opt"])
        sched.load_state_dict(ck["sched"])
        torch.set_rng_state(ck["rng"])
        start_epoch, history = ck["epoch"], ck["history"]
        print(f"resumed after epoch {start_epoch}", flush=True)

    began = time.monotonic()
    for epoch in range(start_epoch, args.epochs):
        model.train()
        order = torch.randperm(n).numpy()
        sums, t_ep = np.zeros(2), time.monotonic()
        for k in range(steps_per_epoch):
            idx = np.sort(order[k * args.batch:(k + 1) * args.batch])
            heat, reg = model(*(torch.from_numpy(np.asarray(feats[key][idx], np.float32)) for key in keys))
            lf = focal_loss(heat, heat_t[idx], weights)
            lr_ = reg_loss(reg, reg_t[idx], mask_t[idx])
            loss = lf + lr_
            opt.zero_grad(set_to_none=True)
            loss.backward()
            nn.utils.clip_grad_norm_(model.parameters(), 10.0)
            opt.step()
            sched.step()
            sums += (lf.item(), lr_.item())
            if k % 50 == 0:
                el = time.monotonic() - t_ep
                print(f"epoch {epoch + 1} step {k}/{steps_per_epoch} focal {lf.item():.3f} reg {lr_.item():.3f} "
                      f"({el / (k + 1):.2f}s/step)", flush=True)
        mean = (sums / steps_per_epoch).round(4).tolist()
        history.append({"epoch": epoch + 1, "focal": mean[0], "reg": mean[1],
                        "seconds": round(time.monotonic() - t_ep, 1)})
        print(f"epoch {epoch + 1} done: {history[-1]}", flush=True)
        torch.save({"model": model.state_dict(), "opt": opt.state_dict(), "sched": sched.state_dict(),
                    "rng": torch.get_rng_state(), "epoch": epoch + 1, "history": history,
                    "args": {k: str(v) for k, v in vars(args).items()}}, args.out / "last.tmp")
        (args.out / "last.tmp").replace(last)
        save_detector(model, args.classes, args.out / "model.pt", history)
        if args.max_minutes and time.monotonic() - began > args.max_minutes * 60 and epoch + 1 < args.epochs:
            print(f"stopping after {args.max_minutes} min; rerun to continue", flush=True)
            return 3
    return 0


def save_detector(model: Trainable, num_classes: int, path: Path, history: list) -> None:
    """The full Detector (ImageNet backbone + trained head/tail) as one state_dict for export."""
    det = Detector(num_classes, pretrained=True)
    det.head.load_state_dict(model.head.state_dict())
    if model.tail is not None:
        for j, i in enumerate(range(model.tune_from, TAPS[2])):
            det.backbone.features[i].load_state_dict(model.tail[j].state_dict())
    torch.save({"state_dict": det.state_dict(), "num_classes": num_classes, "history": history}, path)


if __name__ == "__main__":
    raise SystemExit(main())
