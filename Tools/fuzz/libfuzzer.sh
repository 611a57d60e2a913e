#!/usr/bin/env bash
# Coverage-guided fuzzing of one parser with libFuzzer (swiftc -sanitize=fuzzer, Linux toolchains).
#
#   Tools/fuzz/libfuzzer.sh TARGET [libFuzzer options...]     e.g. Tools/fuzz/libfuzzer.sh bvh -max_total_time=300
#   Tools/fuzz/libfuzzer.sh build                              only build every fuzzer
#   Tools/fuzz/libfuzzer.sh all [SECONDS]                      every target for SECONDS (60) each, a summary line each
#
# TARGET is one of `motiongpt fuzz --list` (npy npz safetensors torch spiece bvh motion-json config json).
# The libraries are compiled by SwiftPM with coverage instrumentation into $FUZZ_BUILD (default
# .build/libfuzzer), then one executable per target is linked around Sources/Fuzzing's target body.
# The fuzzer traps on any error that is not the parser's typed error; crashes, hangs (-timeout, default
# 10 s) and allocations over -malloc_limit_mb (default 2048) are written by libFuzzer as crash-*/timeout-*/
# oom-* files in the current folder. New coverage-increasing inputs go to $FUZZ_BUILD/corpus/TARGET; the
# committed seeds in Tools/fuzz/corpus/TARGET are read, never written.
set -euo pipefail
cd "$(dirname "$0")/../.."
ROOT=$PWD
BUILD=${FUZZ_BUILD:-$ROOT/.build/libfuzzer}
TARGETS="npy npz safetensors torch spiece bvh motion-json config json"
what=${1:?usage: Tools/fuzz/libfuzzer.sh TARGET|build [libFuzzer options]}
shift || true

# -sanitize=fuzzer on compile steps only adds coverage instrumentation (no link happens for --target).
swift build -c release --scratch-path "$BUILD" --target Fuzzing -j "${JOBS:-2}" \
    -Xswiftc -sanitize=fuzzer -Xswiftc -parse-as-library >&2
REL=$(swift build -c release --scratch-path "$BUILD" --show-bin-path)
OBJS=$(find "$REL"/{TensorEngine,NeuralNetwork,MotionData,TextTokenizer,MotionT5,MotionVQ,Fuzzing}.build -name '*.o')

link() {
    local t=$1 exe="$BUILD/fuzz-$1" src="$BUILD/entry-$1.swift"
    cat > "$src" <<SWIFT
import Foundation
import Fuzzing

private let target = FuzzTargets.named("$t")!

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzOne(_ bytes: UnsafePointer<UInt8>?, _ count: Int) -> CInt {
    let data = count == 0 ? Data() : Data(bytes: bytes!, count: count)
    do { try target.body(data) } catch {
        if !target.isTypedError(error) { fatalError("untyped error from the $t parser: \(type(of: error)): \(error)") }
    }
    return 0
}
SWIFT
    # Relink when any library object is newer than the fuzzer (a parser fix need not touch Fuzzing's objects).
    if [ ! -x "$exe" ] || [ -n "$(find "$REL"/{TensorEngine,NeuralNetwork,MotionData,TextTokenizer,MotionT5,MotionVQ,Fuzzing}.build -newer "$exe" -name '*.o' | head -1)" ]; then
        swiftc -O -sanitize=fuzzer -parse-as-library -I "$REL/Modules" -I "$ROOT/Sources/CBLAS" \
            "$src" $OBJS -lopenblas -o "$exe" >&2
    fi
}

# Without AddressSanitizer libFuzzer's -malloc_limit_mb sees no allocations, and an allocation that is
# never touched does not show in the RSS; an address-space limit turns a runaway allocation into a crash.
ulimit -v $((${FUZZ_VM_LIMIT_MB:-8192} * 1024))

if [ "$what" = build ]; then
    for t in $TARGETS; do link "$t"; done
    exit 0
fi
if [ "$what" = all ]; then
    # Every target for SECONDS each (default 60); one summary line per target. Artifacts (crash-*, oom-*,
    # timeout-*) go to $BUILD/artifacts/TARGET/.
    secs=${1:-60}
    status=0
    for t in $TARGETS; do
        link "$t"
        mkdir -p "$BUILD/corpus/$t" "$BUILD/artifacts/$t"
        log="$BUILD/artifacts/$t/log.txt"
        "$BUILD/fuzz-$t" -timeout=10 -malloc_limit_mb=2048 -rss_limit_mb=4096 -max_len=65536 -max_total_time="$secs" \
            -print_final_stats=1 -artifact_prefix="$BUILD/artifacts/$t/" "$BUILD/corpus/$t" "$ROOT/Tools/fuzz/corpus/$t" \
            > "$log" 2>&1 || status=1
        runs=$(grep -o 'stat::number_of_executed_units: *[0-9]*' "$log" | grep -o '[0-9]*$' || echo "?")
        rss=$(grep -o 'stat::peak_rss_mb: *[0-9]*' "$log" | grep -o '[0-9]*$' || echo "?")
        cov=$(grep -o 'cov: [0-9]*' "$log" | tail -1 | grep -o '[0-9]*$' || echo "?")
        found=$(ls "$BUILD/artifacts/$t" | { grep -v log.txt || true; } | tr '\n' ' ')
        echo "$t: $runs executions in $secs s, coverage $cov edges, corpus $(ls "$BUILD/corpus/$t" | wc -l) new inputs + $(ls "$ROOT/Tools/fuzz/corpus/$t" | wc -l) seeds, peak RSS $rss MB, artifacts: ${found:-none}"
    done
    exit $status
fi
case " $TARGETS " in *" $what "*) ;; *) echo "unknown target $what (use one of: $TARGETS)" >&2; exit 1;; esac
link "$what"
mkdir -p "$BUILD/corpus/$what"
exec "$BUILD/fuzz-$what" -timeout=10 -malloc_limit_mb=2048 -rss_limit_mb=4096 -max_len=65536 \
    "$@" "$BUILD/corpus/$what" "$ROOT/Tools/fuzz/corpus/$what"
