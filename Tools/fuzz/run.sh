#!/usr/bin/env bash
# A long in-process fuzz campaign over every parser, one process per target so that a crash in one
# does not stop the others. Prints one report line per target; crash, timeout and finding inputs land in
# $OUT (default fuzz-out/). Exit status 1 when any target found something.
#
#   Tools/fuzz/run.sh [SECONDS_PER_TARGET=60] [SEED=1]        MOTIONGPT=path/to/motiongpt to pick a build
set -uo pipefail
cd "$(dirname "$0")/../.."
SECONDS_PER_TARGET=${1:-60}
SEED=${2:-1}
OUT=${OUT:-fuzz-out}
BIN=${MOTIONGPT:-}
if [ -z "$BIN" ]; then
    swift build -c release --product motiongpt >&2 || exit 1
    BIN=$(swift build -c release --show-bin-path)/motiongpt
fi
status=0
for t in $("$BIN" fuzz --list | cut -d: -f1); do
    "$BIN" fuzz --target "$t" --iterations 1000000000 --seconds "$SECONDS_PER_TARGET" --seed "$SEED" --out "$OUT" || status=1
done
exit $status
