#!/usr/bin/env bash
# Layering check (run by .ci/run): a target may depend on, and import, only targets below it in
# DESIGN.md's order. Reads the `import` lines of Sources/<Target>/**/*.swift and the targets'
# `dependencies:` in Package.swift; fails naming every upward (or sideways) edge.
#   Tools/check_layering.sh            # the package in the current folder's root
#   Tools/check_layering.sh DIR        # another checkout
set -euo pipefail
root=${1:-$(cd "$(dirname "$0")/.." && pwd)}
cd "$root"

# DESIGN.md's order, lowest first. Targets not yet built are listed so they slot in where they belong.
order=(CBLAS CKernels CMPI TensorEngine NeuralNetwork MotionData MotionRender Audio TextTokenizer MotionVQ MotionT5
       TextEncoder MotionDiffusion ModelHub Generation Evaluation Training Fuzzing motiongpt MotionServer motiongpt-server)
declare -A rank
for i in "${!order[@]}"; do rank[${order[$i]}]=$i; done

fail=0
targets=()
for dir in Sources/*/; do
  t=$(basename "$dir")
  targets+=("$t")
  if [[ -z ${rank[$t]+x} ]]; then echo "layering: Sources/$t is not in DESIGN.md's order (add it to Tools/check_layering.sh)"; fail=1; fi
done
is_target() { local x; for x in "${targets[@]}"; do [[ $x == "$1" ]] && return 0; done; return 1; }

# 1. import lines.
for t in "${targets[@]}"; do
  [[ -z ${rank[$t]+x} ]] && continue
  while IFS= read -r line; do
    file=${line%%:*}; rest=${line#*:}; num=${rest%%:*}; text=${rest#*:}
    mod=$(sed -E 's/^[[:space:]]*(@testable[[:space:]]+|@_exported[[:space:]]+|@_implementationOnly[[:space:]]+)?import[[:space:]]+(class |struct |enum |func |protocol |typealias )?([A-Za-z0-9_]+).*/\3/' <<<"$text")
    is_target "$mod" || continue
    if [[ $mod == "$t" ]]; then continue; fi
    if (( ${rank[$mod]} >= ${rank[$t]} )); then
      echo "layering: $file:$num: $t imports $mod, which is not below it"
      fail=1
    fi
  done < <(grep -rnE '^[[:space:]]*(@testable[[:space:]]+|@_exported[[:space:]]+|@_implementationOnly[[:space:]]+)?import[[:space:]]' "Sources/$t" --include='*.swift' || true)
done

# 2. Package.swift dependencies (one target declaration per line or spread over lines: join them).
flat=$(tr '\n' ' ' < Package.swift | sed -E 's/\.(target|executableTarget|testTarget|systemLibrary)\(/\n&/g')
while IFS= read -r decl; do
  [[ $decl =~ ^\.(target|executableTarget)\(.*name:\ *\"([A-Za-z0-9_-]+)\" ]] || continue
  t=${BASH_REMATCH[2]}
  [[ -z ${rank[$t]+x} ]] && continue
  deps=$(sed -nE 's/.*dependencies: *\[([^]]*)\].*/\1/p' <<<"$decl")
  for d in $(grep -oE '"[A-Za-z0-9_-]+"' <<<"$deps" | tr -d '"'); do
    [[ -z ${rank[$d]+x} ]] && continue
    if (( ${rank[$d]} >= ${rank[$t]} )); then
      echo "layering: Package.swift: $t depends on $d, which is not below it"
      fail=1
    fi
  done
done <<<"$flat"

if (( fail )); then echo "layering check failed"; exit 1; fi
echo "layering check passed: ${#targets[@]} targets, every import and dependency points down"
