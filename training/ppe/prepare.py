"""Stage 1 of the recipe: run the frozen ImageNet MobileNetV2 once over the training split (and its mirror
image) and cache its three feature maps as float16, so the head trains without the backbone's cost.

    python -m training.ppe.prepare --data ../shared/data/hardhat_workers --split train --out training/ppe/work

Resumable: the cache is written in chunks and `done.txt` says how many images are in; a rerun continues.
`--maps c8` caches only the stride-8 map (what `train.py --tune-from 7` reads), running only the first seven
blocks: about half the time and a third of the disk.
"""
from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np
import torch

from training.ppe.data import list_images, load_example
from training.ppe.net import Backbone

SHAPES = {"c8": (32, 8), "c16": (96, 16), "c32": (320, 32)}


def cache_dir(out: Path, split: str, size: int) -> Path:
    return out / f"cache-{split}-{size}"


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", type=Path, required=True, help="dataset root holding <split>/images and labels")
    ap.add_argument("--split", default="train")
    ap.add_argument("--out", type=Path, default=Path("training/ppe/work"))
    ap.add_argument("--size", type=int, default=320)
    ap.add_argument("--flip", action="store_true", help="also cache the mirror image of every picture")
    ap.add_argument("--limit", type=int, default=0, help="only the first N images (a quick trial)")
    ap.add_argument("--batch", type=int, default=16)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--maps", default="c8,c16,c32", help="which feature maps to cache (c8 alone for --tune-from 7)")
    args = ap.parse_args(argv)
    maps = [m for m in SHAPES if m in args.maps.split(",")]
    if not maps or len(maps) != len(args.maps.split(",")):
        ap.error(f"--maps: choose from {', '.join(SHAPES)}")
    torch.set_num_threads(args.threads)

    root = args.data / args.split
    images = list_images(root)[: args.limit or None]
    items = [(p, False) for p in images] + ([(p, True) for p in images] if args.flip else [])
    d = cache_dir(args.out, args.split, args.size)
    d.mkdir(parents=True, exist_ok=True)
    n = len(items)
    meta = {"n": n, "size": args.size, "flip": args.flip, "data": str(args.data), "split": args.split,
            "images": [str(p.name) for p, _ in items], "flipped": [f for _, f in items]}
    mf = d / "meta.json"
    if mf.exists() and json.loads(mf.read_text())["n"] != n:
        raise SystemExit(f"{d} holds a cache of another size; delete it to rebuild")
    mf.write_text(json.dumps(meta))
    arrays = {k: np.lib.format.open_memmap(d / f"{k}.npy", mode="r+" if (d / f"{k}.npy").exists() else "w+",
                                           dtype=np.float16, shape=(n, c, args.size // s, args.size // s))
              for k, (c, s) in SHAPES.items() if k in maps}
    boxes_file = d / "boxes.npz"
    boxes = dict(np.load(boxes_file)) if boxes_file.exists() else {}
    done_file = d / "done.txt"
    done = int(done_file.read_text()) if done_file.exists() else 0

    net = Backbone(pretrained=True).eval()
    t0 = time.monotonic()
    with torch.no_grad():
        for start in range(done, n, args.batch):
            chunk = items[start:start + args.batch]
            batch = []
            for k, (p, flip) in enumerate(chunk):
                canvas, b = load_example(root, p, args.size, flip)
                batch.append(canvas)
                boxes[str(start + k)] = b
            x = torch.from_numpy(np.stack(batch)).permute(0, 3, 1, 2).float()
            feats = net.stem(x) if maps == ["c8"] else net(x)  # c8 alone: only the first seven blocks run
            for key, feat in zip(SHAPES, feats, strict=False):
                if key in arrays:
                    arrays[key][start:start + len(chunk)] = feat.numpy().astype(np.float16)
            last = start + len(chunk) >= n
            if (start // args.batch) % 20 == 19 or last:  # a checkpoint: features, boxes, then the count
                for a in arrays.values():
                    a.flush()
                np.savez(boxes_file, **boxes)
                done_file.write_text(str(start + len(chunk)))
            if (start // args.batch) % 20 == 0:
                rate = (start + len(chunk) - done) / (time.monotonic() - t0)
                print(f"{start + len(chunk)}/{n} images, {rate:.1f} img/s", flush=True)
    print(f"cached {n} examples in {d}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
