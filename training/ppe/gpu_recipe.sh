#!/usr/bin/env bash
# GPU_RECIPE (#17): one device call, run as is by a session with a lent GPU (README.md, "GPU_RECIPE").
#
#   here, once:  make -f training/ppe/Makefile gpu-prep      # training/ppe/work/gpu: compact train (45 MiB),
#                                                            # valid_a sample (5 MiB), init.pt (float16, 4.5 MiB)
#   there:       run(command="bash training/ppe/gpu_recipe.sh", carry=["training/ppe/work/gpu"], timeout_s=540)
#   here, after: make -f training/ppe/Makefile gpu-finish RUN_DIR=<files_at>   # int8 export + vision eval, both halves
#
# What it trains, and why (the levers most likely to reach no_hardhat P/R 0.90/0.90): from the shipped model
# (init.pt), the whole network at a HIGHER INPUT RESOLUTION with MULTI-SCALE batches (SIZE, canvas drawn per
# batch from MS_LO..MS_HI): the recall ceiling (≤ 0.907 even at threshold 0.10) is the smallest heads sharing
# a stride-8 cell; a larger input spreads them over more cells without changing the network or the appliance's
# decoding (a stride-4 output would: not in this recipe). The schedule is fitted to TRAIN_MIN minutes from
# the steady speed (schedule.py), the loader keeps its workers, decodes once (pipeline.DecodedCache) and
# leaves the colour jitter to the GPU. Then torch_eval scores the EMA weights on the valid_a sample at
# EVAL_SIZES (choosing a size and threshold there only); valid_b is scored here on the int8 export.
#
# Budget (timeout_s 540 of a 15-minute device budget that also pays the machine's start): decoded cache
# ≈ 5 s, training TRAIN_MIN (default 6.5 min) + the epoch in progress, eval ≈ 30 s, copies ≈ 1 s.
#
#   DRY_RUN=1 bash training/ppe/gpu_recipe.sh     # the same steps on this CPU, tiny (16 images, 2 steps):
#                                                 # tests/test_ppe_gpu_recipe.py runs it
set -euo pipefail
GPU_DIR=${GPU_DIR:-training/ppe/work/gpu}
PY=${PY:-python3}
SIZE=${SIZE:-512}
MS_LO=${MS_LO:-384}
MS_HI=${MS_HI:-640}
TRAIN_MIN=${TRAIN_MIN:-6.5}
LR=${LR:-1e-3}
BATCH=${BATCH:-64}
WORKERS=${WORKERS:-14}
EVAL_SIZES=${EVAL_SIZES:-384,448,512,576}
RUN=${RUN:-/tmp/ppe_run}
EXTRA=()
if [[ "${DRY_RUN:-0}" == 1 ]]; then
    OUT=${OUT:-training/ppe/work/dry}
    RUN=$OUT/run
    DEVICE=cpu SIZE=128 MS_LO=96 MS_HI=160 BATCH=4 WORKERS=1 EVAL_SIZES=128,160
    EXTRA=(--limit 16 --steps 2 --threads 1)
    EVAL_EXTRA=(--limit 8)
else
    DEVICE=cuda
    EVAL_EXTRA=()
fi
: "${OUT:?set OUT (the device tool sets it)}"
mkdir -p "$OUT" "$RUN"
LOG=$OUT/train.log
export PYTHONPATH=${PYTHONPATH:+$PYTHONPATH:}.

{ date -u; nvidia-smi --query-gpu=name,memory.total --format=csv,noheader 2>/dev/null || echo "no nvidia-smi";
  "$PY" -c 'import torch, numpy, PIL; print("torch", torch.__version__, "cuda", torch.cuda.is_available())';
  ls -l "$GPU_DIR"; } >"$OUT/env.txt" 2>&1

t0=$(date +%s)
"$PY" -m training.ppe.train_full --compact "$GPU_DIR/compact-train-320.npz" --init "$GPU_DIR/init.pt" \
    --out "$RUN" --cache-dir "$RUN" --device "$DEVICE" --stages train --size "$SIZE" \
    --multi-scale "$MS_LO,$MS_HI" --max-minutes "$TRAIN_MIN" --epochs 400 --batch "$BATCH" --lr "$LR" \
    --workers "$WORKERS" --log-every 50 "${EXTRA[@]}" 2>&1 | tee "$LOG"
cp "$RUN/model.pt" "$OUT/model.pt"
echo "train: $(( $(date +%s) - t0 )) s" | tee -a "$LOG"

"$PY" -m training.ppe.torch_eval --model "$OUT/model.pt" --compact "$GPU_DIR/compact-valid_a.npz" \
    --sizes "$EVAL_SIZES" --device "$DEVICE" --json "$OUT/torch_eval.json" "${EVAL_EXTRA[@]}" 2>&1 | tee "$OUT/eval.log"
echo "total: $(( $(date +%s) - t0 )) s" | tee -a "$LOG"
