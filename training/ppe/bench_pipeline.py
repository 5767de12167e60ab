"""Images/s of train_full.py's data pipeline alone (no model): the DataLoader over a compact file, for a few
epochs, start-up included, as train_full builds it.

    python -m training.ppe.bench_pipeline --compact training/ppe/work/gpu/compact-train-320.npz \
        --limit 400 --workers 0 --epochs 2 --mode after

--mode before: what train_full did before #17's fix: JPEG decode per view, colour jitter in the worker,
fresh workers every epoch. --mode after: the decoded cache (memory-mapped), jitter left to the device
(timed apart, on this CPU, as device_jitter), workers kept alive between epochs. The setup (for "after":
decoding the whole compact file into the cache, once per run) is printed apart.
"""
from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import torch

from training.ppe.train_full import device_jitter, make_loader, pair


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--compact", type=Path, required=True)
    ap.add_argument("--mode", choices=("before", "after"), default="after")
    ap.add_argument("--limit", type=int, default=400)
    ap.add_argument("--batch", type=int, default=32)
    ap.add_argument("--size", type=int, default=384)
    ap.add_argument("--workers", type=int, default=0)
    ap.add_argument("--epochs", type=int, default=2)
    ap.add_argument("--threads", type=int, default=1)
    args = ap.parse_args(argv)
    torch.set_num_threads(args.threads)
    with tempfile.TemporaryDirectory() as tmp:
        after = args.mode == "after"
        ns = argparse.Namespace(compact=args.compact, decoded_cache=after, cache_dir=Path(tmp), out=Path(tmp),
                                limit=args.limit, multi_scale=None, size=args.size, classes=3, seed=0,
                                jitter="device" if after else "worker", scale_range=pair(float)("0.6,1.5"),
                                batch=args.batch, workers=args.workers)
        t0 = time.perf_counter()
        _, sampler, loader = make_loader(ns, torch.device("cpu"))
        if not after and args.workers:  # the old loader: workers started afresh for every epoch
            loader = torch.utils.data.DataLoader(loader.dataset, batch_sampler=sampler, num_workers=args.workers)
        t_ready = time.perf_counter() - t0
        images, last = 0, None
        for epoch in range(args.epochs):
            sampler.set_epoch(epoch)
            for batch in loader:
                images, last = images + len(batch[0]), batch
        total = time.perf_counter() - t0
        assert last is not None, "no batch: --limit below --batch?"
        tj = time.perf_counter()  # what the device then does, timed apart (on a GPU: a few batch ops)
        device_jitter(last[0].float(), last[4])
        jitter_s = (time.perf_counter() - tj) / len(last[0]) * images
    print(f"mode {args.mode}: {images} images in {total - t_ready:.2f}s after the loader's setup "
          f"({images / (total - t_ready):.1f} images/s; setup {t_ready:.2f}s, with it {images / total:.1f} images/s; "
          f"workers {args.workers}, size {args.size}, batch {args.batch})"
          + (f"; device_jitter on this CPU {jitter_s / images * 1000:.2f} ms/image, apart" if after else ""),
          flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
