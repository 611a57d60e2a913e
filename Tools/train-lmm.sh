#!/usr/bin/env bash
# Trains a Large Motion Model from the CMU set in Data/cmu-mocap-h3d: unconditional pretraining (random
# frame-rate downsampling, random part masking, random crops), then fine-tuning with the text condition,
# each choosing its weights on the val split, then (EXPORT) the folder copied to Models/lmm with its
# text encoder named as ../text-encoder. Each stage resumes from its checkpoints when run again (a stage
# whose time is recorded is skipped), so an interrupted run continues where it stopped.
#
#   Tools/train-lmm.sh                                    # runs/lmm, then Models/lmm
#   OUT=runs/lmm-nomask EXPORT= PRETRAIN_FLAGS=--no-random-masking Tools/train-lmm.sh   # the ablation's other arm
#
# Environment: MOTIONGPT_BIN (default .build/release/motiongpt), OUT (default runs/lmm), DATA (default
# Data/cmu-mocap-h3d), TEXT_ENCODER (default Models/text-encoder), EXPORT (default Models/lmm; empty to skip), PRETRAIN_STEPS / FINETUNE_STEPS
# (default 600 / 400: the bundled model's), GUIDANCE (the exported guidance_scale, default 1), PRETRAIN_FLAGS / FINETUNE_FLAGS (extra flags).
# With HumanML3D (the paper's data): DATA=/path/to/HumanML3D, more steps, and --part-dim 64 --layers 8
# --time-dim 2048 in PRETRAIN_FLAGS for the official width.
set -euo pipefail
cd "$(dirname "$0")/.."
M=${MOTIONGPT_BIN:-.build/release/motiongpt}
OUT=${OUT:-runs/lmm}
DATA=${DATA:-Data/cmu-mocap-h3d}
EXPORT=${EXPORT-Models/lmm}
PRETRAIN_STEPS=${PRETRAIN_STEPS:-600}
FINETUNE_STEPS=${FINETUNE_STEPS:-400}
TEXT_ENCODER=${TEXT_ENCODER:-Models/text-encoder}
SEED=1

mkdir -p "$OUT"
log() { echo "[$(date -u +%H:%M:%S)] $*"; }
timed() { local name=$1; shift; local t0=$(date +%s); "$@"; echo "$name $(( $(date +%s) - t0 ))" >> "$OUT/times.txt"; }
resume_flag() { ls "$1"/step-*.safetensors >/dev/null 2>&1 && echo --resume || true; }
done_() { grep -q "^$1 " "$OUT/times.txt" 2>/dev/null; }

if ! done_ pretrain; then
  log "pretrain: $PRETRAIN_STEPS steps"
  # shellcheck disable=SC2046,SC2086
  timed pretrain "$M" train lmm --stage pretrain --data "$DATA" --out "$OUT/pretrain" --text-encoder "$TEXT_ENCODER" --mirror --seed $SEED \
    --steps "$PRETRAIN_STEPS" $(resume_flag "$OUT/pretrain/checkpoints") --force ${PRETRAIN_FLAGS:-}
fi
if ! done_ finetune; then
  log "finetune: $FINETUNE_STEPS steps"
  # shellcheck disable=SC2046,SC2086
  timed finetune "$M" train lmm --stage finetune --init "$OUT/pretrain" --data "$DATA" --out "$OUT/finetune" --text-encoder "$TEXT_ENCODER" --mirror --seed $SEED \
    --steps "$FINETUNE_STEPS" --f16 $(resume_flag "$OUT/finetune/checkpoints") --force ${FINETUNE_FLAGS:-}
fi
if [[ -n $EXPORT ]]; then
  log "export: $OUT/finetune -> $EXPORT"
  mkdir -p "$EXPORT"
  cp "$OUT/finetune/model.safetensors" "$OUT/finetune/mean.npy" "$OUT/finetune/std.npy" "$EXPORT/"
  # The guidance the bundled model samples with: the official 5.5 over-drives this small model (walks at
  # 3.6 m/s), 1 keeps CMU's walking speed (Models/lmm/README.md).
  sed -E -e 's#"text_encoder" : "[^"]*"#"text_encoder" : "../text-encoder"#' \
    -e "s#\"guidance_scale\" : [0-9.]+#\"guidance_scale\" : ${GUIDANCE:-1}#" "$OUT/finetune/config.json" > "$EXPORT/config.json"
  grep -q '"text_encoder" : "../text-encoder"' "$EXPORT/config.json"
fi
log "done; stage times (s) in $OUT/times.txt"
