#!/usr/bin/env bash
# Trains the bundled default model (Models/default) from the CMU set in Data/cmu-mocap-h3d: caption
# augmentation and the text vocabulary (Python, a build step), then MotionGPT's three stages with fixed
# seeds, each choosing its weights on the val split. Each stage resumes from its checkpoints when run
# again (a stage whose output exists is skipped), so an interrupted run continues where it stopped.
#
#   Tools/train-default.sh                 # everything into runs/default, then Models/default
#   OUT=runs/x STAGES="tokenizer" Tools/train-default.sh
#
# Environment: PYTHON (numpy + sentencepiece; default ../venv/bin/python), MOTIONGPT_BIN (default
# .build/release/motiongpt), OUT (default runs/default), DATA (default Data/cmu-mocap-h3d),
# EXPORT (default Models/default; empty to skip the export), TOKENIZER_STEPS / PRETRAIN_STEPS /
# INSTRUCT_STEPS (default 2000 / 1500 / 500: the bundled model's; a few steps make a smoke test).
# With HumanML3D instead (the paper's recipe, long on a CPU): DATA=/path/to/HumanML3D and drop the
# augmentation (AUGMENT=0), use --config default for the tokenizer and a Flan-T5 folder via LM=.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-../venv/bin/python}
M=${MOTIONGPT_BIN:-.build/release/motiongpt}
OUT=${OUT:-runs/default}
DATA=${DATA:-Data/cmu-mocap-h3d}
EXPORT=${EXPORT-Models/default}
AUGMENT=${AUGMENT:-1}
STAGES=${STAGES:-"data tokenizer pretrain instruct export"}
SEED=1
TOKENIZER_STEPS=${TOKENIZER_STEPS:-2000}
PRETRAIN_STEPS=${PRETRAIN_STEPS:-1500}
INSTRUCT_STEPS=${INSTRUCT_STEPS:-500}

mkdir -p "$OUT"
log() { echo "[$(date -u +%H:%M:%S)] $*"; }
timed() { local name=$1; shift; local t0=$(date +%s); "$@"; echo "$name $(( $(date +%s) - t0 ))" >> "$OUT/times.txt"; }
resume_flag() { ls "$1"/step-*.safetensors >/dev/null 2>&1 && echo --resume || true; }
has() { [[ " $STAGES " == *" $1 "* ]]; }
# A stage is done when its time is recorded (outputs appear earlier: the best weights so far are saved as they come).
done_() { grep -q "^$1 " "$OUT/times.txt" 2>/dev/null; }

if has data; then
  if [[ $AUGMENT == 1 ]]; then
    log "data: caption augmentation and spiece.model ($PY)"
    timed data "$PY" Tools/default-model/prepare_data.py --data "$DATA" --out "$OUT/data"
  else
    log "data: no augmentation; spiece.model from $DATA"
    timed data "$PY" Tools/default-model/prepare_data.py --data "$DATA" --out "$OUT/data" --no-augment
  fi
fi

if has tokenizer && ! done_ tokenizer; then
  log "stage 1: motion tokenizer"
  timed tokenizer "$M" train tokenizer --data "$OUT/data" --out "$OUT/vq" --config small --mirror \
    --steps $TOKENIZER_STEPS --batch-size 32 --window 64 --lr 2e-4 --seed $SEED --log-every 50 --checkpoint-every 200 \
    $(resume_flag "$OUT/vq/checkpoints")
fi

if has pretrain && ! done_ pretrain; then
  log "stage 2: motion-language pretraining"
  timed pretrain "$M" train pretrain --data "$OUT/data" --model "$OUT/pre" --motion-tokenizer "$OUT/vq" \
    --lm-config Tools/default-model/t5-config.json --spiece "$OUT/spiece.model" --mirror \
    --steps $PRETRAIN_STEPS --batch-size 16 --lr 2e-4 --seed $SEED --log-every 25 --checkpoint-every 100 --validate-every 100 \
    $(resume_flag "$OUT/pre/checkpoints-pretrain")
fi

if has instruct && ! done_ instruct; then
  log "stage 3: instruction tuning"
  timed instruct "$M" train instruct --data "$OUT/data" --model "$OUT/pre" --out "$OUT/motiongpt" --mirror \
    --steps $INSTRUCT_STEPS --batch-size 16 --lr 2e-4 --seed $SEED --log-every 25 --checkpoint-every 100 --validate-every 50 \
    $(resume_flag "$OUT/motiongpt/checkpoints-instruct")
fi

if has export && [[ -n $EXPORT ]]; then
  log "export: $OUT/motiongpt -> $EXPORT (weights F16)"
  "$M" export "$OUT/motiongpt" -o "$EXPORT" --f16 --vocabulary "$OUT/vocabulary.txt" --force
fi
log "done; stage times (s):"; cat "$OUT/times.txt"
