"""PPE detector speed and quality: frames/s of the whole detector (letterbox → TFLite int8 → decode → NMS) at
its input size on 1 and 2 interpreter threads, against a baseline measured in the same run: the bare
interpreter invoke loop on the same file (same input already set, nothing before or after). Also the
letterbox cost per frame, and "no hard hat" precision/recall/AP@0.5 from the evaluation command's code on
both halves of the valid split of ../shared/data/hardhat_workers (falling back to ../shared/data/hardhat_sample):
valid_a chose the shipped threshold, valid_b (the half that chose nothing) gives the reported figure.

Targets (GUIDE §5): ≥ 10 frames/s at 320×320 on one core; no_hardhat precision and recall ≥ 0.90.

    python bench/vision.py [--model F] [--frames 200] [--data DIR] [--no-eval] [--choose] [--flip-tta]

--choose also sweeps the threshold on valid_a, takes the one with the best min(P, R) for no_hardhat there,
and reports valid_b at it (how a test-time size or another file is compared with the shipped settings).
--flip-tta measures the detector with `flip_tta = true` (the mirrored pass averaged in). On 1 thread the
frames per CPU-second of the interpreter's thread (`time.thread_time()`: one core's own rate, whatever else
the machine runs) are printed beside the wall-clock rate.
"""
from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path

import numpy as np
from _common import ROOT, ratio, result

from models.commands import evaluate_dir, read_rgb
from models.config import VisionModelConfig
from models.detector import Detector
from models.evaluate import list_images
from models.postprocess import letterbox
from models.runner import TFLiteRunner

SHARED = Path(os.environ.get("SHARED_DATA", ROOT.parent / "shared" / "data"))  # a worktree elsewhere: set it
SWEEP = (0.25, 0.30, 0.35, 0.40, 0.45, 0.50, 0.55, 0.60)


def sample_frames(n: int) -> list[np.ndarray]:
    """Real worker photos when ../shared is here (detections to decode), else seeded noise."""
    d = SHARED / "hardhat_sample" / "images"
    if d.is_dir():
        return [read_rgb(p) for p in sorted(d.iterdir())[:n]]
    rng = np.random.default_rng(7)
    return [rng.integers(0, 256, (288, 384, 3), np.uint8) for _ in range(n)]


def halves(data: Path, tmp: Path) -> dict[str, Path]:
    """valid_a (even-numbered files of the sorted list) and valid_b (odd), as folders of links."""
    out = {}
    for half, parity in (("valid_a", 0), ("valid_b", 1)):
        root = tmp / half
        (root / "images").mkdir(parents=True)
        (root / "labels").mkdir()
        for i, img in enumerate(list_images(data)):
            if i % 2 != parity:
                continue
            (root / "images" / img.name).symlink_to(img)
            label = data / "labels" / (img.stem + ".txt")
            if label.exists():
                (root / "labels" / label.name).symlink_to(label)
        out[half] = root
    return out


def fps(fn, frames: list, n: int, clock=time.perf_counter) -> float:
    for f in frames[:5]:
        fn(f)
    t0 = clock()
    for i in range(n):
        fn(frames[i % len(frames)])
    return n / (clock() - t0)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", type=Path, help="a .tflite file (default: the shipped model)")
    ap.add_argument("--frames", type=int, default=200, help="frames per measurement")
    ap.add_argument("--data", type=Path, help="YOLO folder to evaluate (default: hardhat_workers/valid)")
    ap.add_argument("--no-eval", action="store_true")
    ap.add_argument("--choose", action="store_true", help="choose the threshold on valid_a, report valid_b at it")
    ap.add_argument("--flip-tta", action="store_true", help="the detector with flip_tta = true")
    args = ap.parse_args()
    # a file given by hand runs at its own input size
    cfg = VisionModelConfig(**({"path": args.model, "input_size": TFLiteRunner(args.model).input_size}
                               if args.model else {}), flip_tta=args.flip_tta)
    frames = sample_frames(20)
    size = cfg.input_size
    print(f"model {cfg.path} ({cfg.path.stat().st_size / 1e6:.2f} MB), input {size}x{size}, flip_tta {cfg.flip_tta}, "
          f"{len(frames)} distinct frames {frames[0].shape[1]}x{frames[0].shape[0]}")

    per_threads = {}
    for threads in (1, 2):
        det = Detector.from_config(cfg.model_copy(update={"num_threads": threads}))
        canvas, _ = letterbox(frames[0], size)
        # (a float32 file, e.g. export_tflite --float, takes the same 0..255 pixels as floats)
        det.runner.interpreter.set_tensor(det.runner.input["index"], canvas[None].astype(det.runner.input["dtype"]))
        bare = fps(lambda _f: det.runner.invoke_only(), frames, args.frames)
        full = fps(det.detect, frames, args.frames)
        per_threads[threads] = {"detector_fps": round(full, 1), "bare_invoke_fps": round(bare, 1),
                                "ratio": ratio(full, bare), "ms_per_frame": round(1000 / full, 2)}
        cpu = ""
        if threads == 1:  # the one interpreter thread is this one: its CPU time is the detector's whole cost
            per_threads[1]["detector_cpu_fps"] = round(fps(det.detect, frames, args.frames, time.thread_time), 1)
            cpu = f", {per_threads[1]['detector_cpu_fps']} frames per CPU-second"
        print(f"{threads} thread(s): detector {full:.1f} frames/s ({1000 / full:.1f} ms){cpu}, bare invoke "
              f"{bare:.1f}/s, ratio {full / bare:.2f}x")
    lb_ms = 1000 / fps(lambda f: letterbox(f, size), frames, args.frames)
    print(f"letterbox alone: {lb_ms:.2f} ms/frame")

    quality = None
    if not args.no_eval:
        data = args.data or next((d for d in (SHARED / "hardhat_workers" / "valid", SHARED / "hardhat_sample")
                                  if d.is_dir()), None)
        if data is None:
            print("no evaluation data (../shared/data absent); --data DIR to give one")
        else:
            # The shipped threshold was chosen on valid_a (the even-numbered files, models/ppe/MODEL_CARD.md):
            # valid_b, the half that chose nothing, is the honest figure; both are printed.
            quality = {"data": str(data)}
            with tempfile.TemporaryDirectory() as tmp:
                for half, folder in halves(data, Path(tmp)).items():
                    rep = evaluate_dir(cfg.model_copy(update={"num_threads": 2}), folder,
                                       sweep=SWEEP if args.choose else ())
                    if args.choose:
                        quality[f"{half}_sweep"] = {t: v["no_hardhat"] for t, v in rep["sweep"].items()}
                    nh = next(c for c in rep["classes"] if c["label"] == "no_hardhat")
                    quality[half] = {"images": rep["images"], "threshold": rep["thresholds"]["no_hardhat"],
                                     **{k: nh[k] for k in ("labels", "detections", "precision", "recall", "ap50")}}
                    for c in rep["classes"]:
                        print(f"eval {data.name} {half}: {c['label']:<11} P {c['precision']}  R {c['recall']}  "
                              f"AP@0.5 {c['ap50']} ({c['labels']} labels, {c['detections']} detections)")
            quality.update({k: quality["valid_b"][k] for k in ("images", "threshold", "labels", "detections",
                                                               "precision", "recall", "ap50")})
            if args.choose:
                a = quality["valid_a_sweep"]
                best = max(a, key=lambda t: min(a[t]["precision"] or 0, a[t]["recall"] or 0))
                quality["chosen"] = {"threshold": best, "valid_a": a[best], "valid_b": quality["valid_b_sweep"][best]}
                print(f"chosen on valid_a: threshold {best} (no_hardhat P {a[best]['precision']} R "
                      f"{a[best]['recall']}); valid_b at it: P {quality['valid_b_sweep'][best]['precision']} "
                      f"R {quality['valid_b_sweep'][best]['recall']}")
    result("vision", model=str(cfg.path.relative_to(ROOT) if cfg.path.is_relative_to(ROOT) else cfg.path),
           input_size=size, threads=per_threads, letterbox_ms=round(lb_ms, 2), no_hardhat=quality,
           target_fps=10, target_pr=0.9)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
