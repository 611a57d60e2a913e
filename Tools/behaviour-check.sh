#!/usr/bin/env bash
# Behaviour checks of a text-to-motion model folder through the CLI (any family: MotionGPT or LMM):
# for each prompt and seed, `motiongpt generate` to JSON, then the root's travel on the floor (first to
# last frame, m) and its lift (highest root height above the median, m). Prints one line per prompt.
#
#   Tools/behaviour-check.sh Models/lmm                      # the default prompts, seeds 1 2 3
#   SEEDS="1 2" Tools/behaviour-check.sh runs/x "a person strolls ahead" "someone hops"
#
# The issue-19 thresholds: "a person walks forward" travel > 1 m, "a person bends over" travel < 0.5 m,
# "a person jumps" lift > 0.10 m. Environment: MOTIONGPT_BIN (default .build/release/motiongpt), SEEDS,
# EXTRA (flags for generate, e.g. "--seconds 5").
set -euo pipefail
cd "$(dirname "$0")/.."
M=${MOTIONGPT_BIN:-.build/release/motiongpt}
MODEL=${1:?usage: Tools/behaviour-check.sh MODEL_DIR [PROMPT...]}
shift
if [[ $# -eq 0 ]]; then
  set -- "a person walks forward" "a person bends over" "a person jumps" "a person stands still" "a person waves"
fi
SEEDS=${SEEDS:-"1 2 3"}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
for prompt in "$@"; do
  files=()
  for s in $SEEDS; do
    f="$tmp/$(echo "$prompt" | tr -c 'a-zA-Z0-9' '_')-$s.json"
    # shellcheck disable=SC2086
    "$M" generate "$prompt" --model "$MODEL" --seed "$s" -o "$f" ${EXTRA:-} 2>"$tmp/err" >/dev/null || { echo "\"$prompt\" seed $s: $(tail -n 1 "$tmp/err")"; continue; }
    files+=("$f")
  done
  [[ ${#files[@]} -gt 0 ]] || continue
  python3 - "$prompt" "${files[@]}" <<'PY'
import json, sys
prompt, files = sys.argv[1], sys.argv[2:]
travel, lift, frames = [], [], []
for f in files:
    j = json.load(open(f))["joints"]
    a, b = j[0][0], j[-1][0]
    travel.append(((b[0] - a[0]) ** 2 + (b[2] - a[2]) ** 2) ** 0.5)
    h = sorted(fr[0][1] for fr in j)
    lift.append(h[-1] - h[len(h) // 2])
    frames.append(len(j))
fmt = lambda v: "[" + ", ".join("%.2f" % x for x in v) + "]"
print('"%s": travel (m) %s  lift (m) %s  frames %s' % (prompt, fmt(travel), fmt(lift), frames))
PY
done
