"""Score a model.pt (float, in torch) on a compact file at one or more input sizes, where neither TensorFlow nor
the appliance nor the dataset folder is at hand (the lent GPU machine, gpu_recipe.sh): letterbox
(models.postprocess, the appliance's own), the network, decode + per-class NMS (models.postprocess) and the
appliance's scoring (models.evaluate.summarise), over a sweep of thresholds.

    python -m training.ppe.torch_eval --model OUT/model.pt --compact training/ppe/work/gpu/compact-valid_a.npz \
        --sizes 384,448,512 --json OUT/torch_eval.json

It only chooses (a test-time size, a threshold) on the set it is given — valid_a in the recipe; the figures
that count are `safety-appliance vision eval` of the int8 export on valid_b, here (README.md, GPU_RECIPE).
"""
from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np
import torch

from models.evaluate import summarise
from models.postprocess import boxes_to_original, decode_centernet, letterbox, nms
from training.ppe.compact import CompactSet
from training.ppe.net import Detector

CLASSES = ("no_hardhat", "hardhat", "person")
SWEEP = (0.25, 0.30, 0.35, 0.40, 0.45, 0.50, 0.55)


@torch.no_grad()
def detections(det: Detector, cs: CompactSet, size: int, device: torch.device, batch: int = 32, floor: float = 0.05):
    """[(boxes, scores, classes, gt N×5)] per image, in original pixels, detections at or above `floor`."""
    out = []
    for start in range(0, len(cs), batch):
        items = []
        for i in range(start, min(start + batch, len(cs))):
            rgb = cs.image(i)
            canvas, lb = letterbox(rgb, size)
            items.append((canvas, lb, cs.boxes(i, rgb.shape[1], rgb.shape[0]).astype(np.float64)))
        x = torch.from_numpy(np.stack([c for c, _, _ in items])).permute(0, 3, 1, 2).float().to(device)
        heat, reg = det(x)
        heat = torch.sigmoid(heat.float()).permute(0, 2, 3, 1).cpu().numpy()
        reg = reg.float().permute(0, 2, 3, 1).cpu().numpy()
        for (_, lb, gt), h, r in zip(items, heat, reg, strict=True):
            boxes, scores, classes = decode_centernet(h, r, size / h.shape[0], floor)
            keep = nms(boxes, scores, classes, 0.5, 100)
            out.append((boxes_to_original(boxes[keep], lb), scores[keep], classes[keep], gt))
    return out


def score(per_image, threshold: float) -> dict:
    rs = summarise(CLASSES, np.full(len(CLASSES), threshold), per_image)
    return {r.label: {k: r.as_dict()[k] for k in ("labels", "detections", "precision", "recall", "ap50")} for r in rs}


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", type=Path, required=True)
    ap.add_argument("--compact", type=Path, required=True)
    ap.add_argument("--sizes", default="384", help="comma-separated input sizes")
    ap.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    ap.add_argument("--limit", type=int, default=0)
    ap.add_argument("--json", type=Path, help="write the report here too")
    args = ap.parse_args(argv)
    device = torch.device(args.device)
    ck = torch.load(args.model, map_location="cpu", weights_only=False)
    det = Detector(ck["num_classes"], pretrained=False)
    det.load_state_dict({k: v.float() if v.is_floating_point() else v for k, v in ck["state_dict"].items()})
    det.eval().to(device)
    cs = CompactSet(args.compact)
    if args.limit:
        cs.names = cs.names[: args.limit]
    report = {"model": str(args.model), "set": str(args.compact), "images": len(cs), "sizes": {}}
    for size in (int(s) for s in args.sizes.split(",")):
        t0 = time.monotonic()
        per_image = detections(det, cs, size, device)
        sweep = {f"{t:.2f}": score(per_image, t) for t in SWEEP}
        nh = {t: v["no_hardhat"] for t, v in sweep.items()}
        best = max(nh, key=lambda t: min(nh[t]["precision"] or 0, nh[t]["recall"] or 0))
        report["sizes"][str(size)] = {"seconds": round(time.monotonic() - t0, 1), "best_threshold": best,
                                      "sweep": sweep}
        print(f"size {size}: no_hardhat AP {nh[best]['ap50']}; best min(P, R) at {best}: P {nh[best]['precision']} "
              f"R {nh[best]['recall']}; at 0.40: P {nh['0.40']['precision']} R {nh['0.40']['recall']} "
              f"({time.monotonic() - t0:.0f}s)", flush=True)
    if args.json:
        args.json.write_text(json.dumps(report, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
