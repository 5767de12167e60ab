"""Vision pipeline: frame → violation event latency, and the vision process's memory.

A real appliance (`python -m appliance run`) runs one file camera on a generated clip in which every frame
shows one bare head at a new place, with its YOLO label beside it; the `labels` detector replays the labels
and `min_frames = 1`, so every detection pass raises one violation. That measures the pipeline (motion gate,
tracker, rules, two JPEG encodes, the pipe, evidence storage, the event log, SSE) without the model's speed,
which bench/vision.py measures.

- latency: the violation's frame capture time (`frame_at`) → its event committed (`recorded_at`) and → its
  arrival on a raw SSE client. Baseline, same run: the same evidence work done inline in this process
  (encode the annotated and the raw JPEG, store them, write the violation and its event) for one violation.
- memory: VmRSS and VmHWM of the vision process after the run. Baseline, same run: a bare interpreter that
  imports what the vision process needs (numpy, Pillow, OpenCV) and nothing of the appliance.

    python bench/vision_pipeline.py [--seconds 20]
"""
from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

from _common import ROOT, cli, describe, free_port, percentile, ratio, result, rss_kb, stats, stop, wait_healthy

W, H = 640, 480
WARMUP = 3  # the first violations pay for first imports and the first JPEG encoder set-up


def make_clip(root: Path, n: int = 40) -> Path:
    import numpy as np
    from PIL import Image, ImageDraw

    (root / "images").mkdir(parents=True)
    (root / "labels").mkdir()
    rng = np.random.default_rng(1)
    for i in range(n):
        img = Image.fromarray((rng.integers(60, 120, (H, W, 3))).astype("uint8"))
        # a head on a 5×4 grid of places, never twice in a row at the same place: a new track each pass
        x, y = 40 + (i % 5) * 120, 40 + (i * 3 % 4) * 110
        ImageDraw.Draw(img).ellipse([x, y, x + 60, y + 60], fill=(210, 170, 140))
        img.save(root / "images" / f"f{i:03d}.jpg", quality=85)
        (root / "labels" / f"f{i:03d}.txt").write_text(
            f"0 {(x + 30) / W:.5f} {(y + 30) / H:.5f} {60 / W:.5f} {60 / H:.5f}\n")
    return root / "images"


def inline_baseline(data: Path, images: Path, n: int = 30) -> float:
    """ms per violation for the evidence work done inline (no process, no pipe, no pacing)."""
    import numpy as np
    from PIL import Image

    from appliance.core import db, events
    from appliance.vision import violations
    from appliance.vision.rules import Track
    from appliance.vision.worker import annotator, encode_jpeg

    db.migrate(data / "appliance.db", data / "backups")
    db.open_database(data / "appliance.db")
    frames = [np.asarray(Image.open(p).convert("RGB")) for p in sorted(images.glob("*.jpg"))[:n]]
    times = []
    for i, rgb in enumerate(frames):
        t0 = time.perf_counter()
        t = Track(i + 1, [40, 40, 100, 100], "no_hardhat", 1.0)
        snap = encode_jpeg(rgb, 85, None, annotator([], [t], highlight=t.id))
        raw = encode_jpeg(rgb, 92)
        violations.record({"camera": "base", "zone": "all", "track": t.id, "at_ms": events.now_ms(), "score": 1.0,
                           "box": t.box, "width": W, "height": H}, snap, raw, data)
        times.append((time.perf_counter() - t0) * 1000)
    db.database.close()
    return round(percentile(times, 50), 1)


def bare_imports_rss() -> tuple[int, int]:
    code = ("import numpy, cv2, PIL.Image, sys, time; from PIL import Image; "
            "print('READY', flush=True); time.sleep(30)")
    p = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True)
    try:
        p.stdout.readline()
        time.sleep(0.3)
        return rss_kb(p.pid, "VmRSS", children=False) // 1024, rss_kb(p.pid, "VmHWM", children=False) // 1024
    finally:
        p.kill()
        p.wait()


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--seconds", type=float, default=20)
    args = ap.parse_args()
    import requests
    from _common import read_sse

    tmp = Path(tempfile.mkdtemp(prefix="bench-vision-"))
    images = make_clip(tmp / "clip")
    port = free_port()
    data = tmp / "data"
    data.mkdir()
    from models.config import DEFAULT_MODEL

    # with the shipped model, a second camera runs it on the same clip, so the RSS includes the interpreter
    with_model = DEFAULT_MODEL.exists()
    model_cam = (f'[[cameras]]\ntype = "file"\nname = "bench-model"\npath = "{images}"\nfps = 5\n'
                 '[cameras.detect]\nfps = 2\n') if with_model else ""
    cfg = data / "appliance.toml"
    cfg.write_text(
        f'[storage]\ndata_dir = "{data}"\n[web]\nhost = "127.0.0.1"\nport = {port}\ntls = false\n'
        '[discovery]\nenabled = false\n[logging]\nformat = "text"\nlevel = "WARNING"\n'
        '[vision]\ndisplay_fps = 3\n'
        f'[[cameras]]\ntype = "file"\nname = "bench"\npath = "{images}"\nfps = 10\n'
        '[cameras.detect]\ndetector = "labels"\nfps = 5\nmin_frames = 1\nmin_seconds = 0\ncooldown_s = 0\n'
        'max_missed = 1\n' + model_cam, encoding="utf-8")
    cli("init-db", "--config", str(cfg))
    token = cli("create-token", "--config", str(cfg), "--name", "bench").strip().split()[-1]
    proc = subprocess.Popen([sys.executable, "-m", "appliance", "run", "--config", str(cfg)], cwd=ROOT,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    base = f"http://127.0.0.1:{port}"
    got: list[tuple[float, dict]] = []
    halt, ready = threading.Event(), threading.Event()
    try:
        wait_healthy(base, proc, 60)
        reader = threading.Thread(target=read_sse, args=(port, token, halt, ready.set,
                                                         lambda t, ev: got.append((t, ev))), daemon=True)
        reader.start()
        ready.wait(10)
        time.sleep(args.seconds)
        health = requests.get(f"{base}/api/v1/health", timeout=5).json()["components"]
        pid = health["vision"]["pid"]
        vis_rss = rss_kb(pid, "VmRSS", children=False) // 1024
        vis_hwm = rss_kb(pid, "VmHWM", children=False) // 1024
        main_rss = rss_kb(proc.pid, "VmRSS", children=False) // 1024
        cam = health["camera:bench"]
    finally:
        halt.set()
        stop(proc)
    vio = [(t, ev) for t, ev in got if ev["type"] == "vision.violation"][WARMUP:]
    commit = [ev["recorded_at"] - ev["payload"]["frame_at"] for _, ev in vio]
    sse = [t * 1000 - ev["payload"]["frame_at"] for t, ev in vio]
    base_ms = inline_baseline(tmp / "baseline", images)
    bare_rss, bare_hwm = bare_imports_rss()
    lat = {"violations": len(vio), "commit_ms": stats(commit), "sse_ms": stats(sse)}   # p99 from >= 200, else max of N
    print(f"violations raised in {args.seconds:g} s: {len(vio)} after {WARMUP} warm-up (detections {cam.get('detections')}, "
          f"frames {cam.get('frames')}, skipped still {cam.get('skipped_still')})")
    print(f"frame -> event committed: {describe(lat['commit_ms'])}")
    print(f"frame -> SSE client:      {describe(lat['sse_ms'])}")
    print(f"baseline, the evidence work inline: {base_ms} ms per violation "
          f"(ratio p50 {ratio(lat['sse_ms']['p50'], base_ms)}x)")
    print(f"PPE model loaded in the vision process: {'yes' if with_model else 'no (not shipped in this build)'}")
    print(f"vision process RSS {vis_rss} MB (peak {vis_hwm} MB); bare numpy+cv2+Pillow interpreter {bare_rss} MB "
          f"(peak {bare_hwm} MB); main process {main_rss} MB")
    result("vision_pipeline", latency=lat, baseline_inline_ms=base_ms, ratio_p50=ratio(lat["sse_ms"]["p50"], base_ms),
           ratio_p99=ratio(lat["sse_ms"]["tail"], base_ms), vision_rss_mb=vis_rss, vision_hwm_mb=vis_hwm,
           bare_rss_mb=bare_rss, model_loaded=with_model, ratio_rss=ratio(vis_rss, bare_rss), main_rss_mb=main_rss, seconds=args.seconds)


if __name__ == "__main__":
    main()
