"""Stage 3a (torch venv): turn the trained Detector into a framework-free "program" of folded convolutions,
so the TensorFlow side (export_tflite.py) rebuilds it layer by layer without torch.

    python -m training.ppe.export_weights --model training/ppe/work/run1/model.pt --out training/ppe/work/program.npz \
        --data ../shared/data/hardhat_workers

Every Conv+BatchNorm(+ReLU/ReLU6) becomes one conv op with the BatchNorm folded into its weights and bias.
The file also carries the torch outputs for a few letterboxed images, which the TFLite side compares with
its own to prove that the copy is faithful.

`--keep-classes 0,1` writes only those heat channels, in that order (the last 1×1 conv's rows; nothing else
of the network depends on them): the shipped PPE file keeps no_hardhat and hardhat and drops the unlearnt
`person` channel (models/ppe/MODEL_CARD.md, #17). The check outputs are those of the sliced network.
"""
from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np
import torch
from torch import nn

from training.ppe.data import list_images, load_example
from training.ppe.net import MEAN, STD, TAPS, Detector


class Program:
    def __init__(self):
        self.ops: list[dict] = []
        self.arrays: dict[str, np.ndarray] = {}
        self.n = 0

    def value(self) -> str:
        self.n += 1
        return f"v{self.n}"

    def conv(self, conv: nn.Conv2d, bn: nn.BatchNorm2d | None, act: str, src: str) -> str:
        w = conv.weight.detach().double()
        b = conv.bias.detach().double() if conv.bias is not None else torch.zeros(w.shape[0], dtype=torch.float64)
        if bn is not None:
            s = bn.weight.detach().double() / torch.sqrt(bn.running_var.double() + bn.eps)
            w = w * s.view(-1, 1, 1, 1)
            b = (b - bn.running_mean.double()) * s + bn.bias.detach().double()
        dst = self.value()
        self.arrays[f"{dst}.w"] = w.float().numpy()
        self.arrays[f"{dst}.b"] = b.float().numpy()
        self.ops.append({"op": "conv", "src": src, "dst": dst, "k": conv.kernel_size[0], "stride": conv.stride[0],
                         "groups": conv.groups, "act": act})
        return dst

    def seq(self, modules: list[nn.Module], src: str) -> str:
        """Conv, BatchNorm, optional activation, repeated (the layout of torchvision's blocks and ours)."""
        flat: list[nn.Module] = []

        def walk(m):
            if isinstance(m, nn.Sequential):
                for c in m.children():
                    walk(c)
            else:
                flat.append(m)
        for m in modules:
            walk(m)
        i = 0
        while i < len(flat):
            conv = flat[i]
            assert isinstance(conv, nn.Conv2d), f"expected a Conv2d, got {conv}"
            bn = flat[i + 1] if i + 1 < len(flat) and isinstance(flat[i + 1], nn.BatchNorm2d) else None
            j = i + 1 + (bn is not None)
            act = "none"
            if j < len(flat) and isinstance(flat[j], (nn.ReLU, nn.ReLU6)):
                act = "relu6" if isinstance(flat[j], nn.ReLU6) else "relu"
                j += 1
            src = self.conv(conv, bn, act, src)
            i = j
        return src

    def binary(self, op: str, a: str, b: str | None = None) -> str:
        dst = self.value()
        self.ops.append({"op": op, "a": a, "b": b, "dst": dst})
        return dst


def keep_classes(det: Detector, keep: list[int]) -> Detector:
    """The Detector with its heat head cut to the channels `keep`, in that order (in place; returned)."""
    old = det.head.heat
    if not keep or len(set(keep)) != len(keep) or not all(0 <= c < old.out_channels for c in keep):
        raise ValueError(f"--keep-classes {keep}: want distinct channel ids in 0..{old.out_channels - 1}")
    new = nn.Conv2d(old.in_channels, len(keep), 1)
    with torch.no_grad():
        new.weight.copy_(old.weight[keep])
        new.bias.copy_(old.bias[keep])
    det.head.heat = new
    return det


def build_program(det: Detector) -> Program:
    p = Program()
    p.arrays["norm.scale"] = (1 / (255 * np.array(STD))).astype(np.float32)
    p.arrays["norm.bias"] = (-np.array(MEAN) / np.array(STD)).astype(np.float32)
    p.ops.append({"op": "normalize", "src": "input", "dst": "x0"})
    x, taps = "x0", []
    for i, block in enumerate(det.backbone.features[:TAPS[-1]]):
        if hasattr(block, "use_res_connect"):
            y = p.seq(list(block.conv), x)
            x = p.binary("add", x, y) if block.use_res_connect else y
        else:
            x = p.seq([block], x)
        if i + 1 in TAPS:
            taps.append(x)
    c8, c16, c32 = taps
    h = det.head
    p16 = p.binary("add", p.seq([h.lat16], c16), p.binary("up2", p.seq([h.lat32], c32)))
    p16 = p.seq([h.reduce16], p.seq([h.smooth16], p16))
    p8 = p.binary("add", p.seq([h.lat8], c8), p.binary("up2", p16))
    p8 = p.seq([h.tower], p.seq([h.smooth8], p8))
    heat = p.binary("sigmoid", p.seq([h.heat], p8))
    reg = p.seq([h.reg], p8)
    p.ops.append({"op": "outputs", "heat": heat, "reg": reg})
    return p


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", type=Path, required=True)
    ap.add_argument("--out", type=Path, required=True)
    ap.add_argument("--data", type=Path, required=True, help="dataset root; valid/ images are the check samples")
    ap.add_argument("--size", type=int, default=320)
    ap.add_argument("--keep-classes", type=lambda t: [int(c) for c in t.split(",")], metavar="I,J,…",
                    help="write only these heat channels, in this order (e.g. 0,1: no_hardhat, hardhat); "
                         "default: all the model has")
    args = ap.parse_args(argv)
    ck = torch.load(args.model, map_location="cpu", weights_only=False)
    det = Detector(ck["num_classes"], pretrained=False)
    det.load_state_dict(ck["state_dict"])
    if args.keep_classes is not None:
        keep_classes(det, args.keep_classes)
    det.eval()
    prog = build_program(det)
    samples = [load_example(args.data / "valid", p, args.size)[0] for p in list_images(args.data / "valid")[:4]]
    x = torch.from_numpy(np.stack(samples)).permute(0, 3, 1, 2).float()
    with torch.no_grad():
        heat, reg = det(x)
    prog.arrays["check.images"] = np.stack(samples)
    prog.arrays["check.heat"] = torch.sigmoid(heat).permute(0, 2, 3, 1).numpy()
    prog.arrays["check.reg"] = reg.permute(0, 2, 3, 1).numpy()
    np.savez(args.out, ops=np.array(json.dumps(prog.ops)), **prog.arrays)
    print(f"wrote {args.out}: {len(prog.ops)} ops, {sum(v.size for k, v in prog.arrays.items() if k.endswith('.w'))} "
          f"weights, {det.head.heat.out_channels} classes")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
