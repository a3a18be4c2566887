#!/usr/bin/env bash
# Builds and runs the libFuzzer targets in Fuzz/ (see ROBUSTNESS.md, Fuzzing).
#
#   scripts/fuzz.sh TARGET SECONDS [LIBFUZZER_FLAG...]   one target
#   scripts/fuzz.sh all SECONDS [LIBFUZZER_FLAG...]      every target, one after the other
#
# Targets: gguf, safetensors, kld, config, vocab, roundtrip. Extra flags go to libFuzzer (e.g.
# -runs=1000000, which stops at that many executions if SECONDS has not run out first).
# Each target is compiled with `swiftc -sanitize=fuzzer,address` from the parser's own sources
# into .build-fuzz/ (rebuilt when a source changes) and starts from its committed seeds in
# Fuzz/corpus/TARGET/, with Fuzz/TARGET.dict when there is one. What it discovers goes to
# .build-fuzz/corpus/TARGET/, crashing inputs to .build-fuzz/artifacts/TARGET/, the full log to
# .build-fuzz/logs/TARGET.log. Exits non-zero if any target crashes, hangs or runs out of memory.
set -euo pipefail
cd "$(dirname "$0")/.."
root="$PWD"
build="$root/.build-fuzz"
targets=(gguf safetensors kld config vocab roundtrip)

usage() {
    local IFS='|'
    echo "usage: scripts/fuzz.sh {${targets[*]}|all} SECONDS [LIBFUZZER_FLAG...]" >&2
    exit 1
}
[ $# -ge 2 ] || usage
target="$1" seconds="$2"
shift 2
[[ "$seconds" =~ ^[1-9][0-9]*$ ]] || { echo "error: SECONDS must be a positive integer, got '$seconds'" >&2; exit 1; }
scripts/install-deps.sh  # libnuma's headers, for GPT2Runtime

# Checked optimised code, as release builds of the parsers should be: -O keeps the overflow
# and bounds traps that -Ounchecked drops.
swift_flags=(-parse-as-library -O -g)

sources_of() {
    case "$1" in
        gguf) echo Sources/ModelIO/*.swift Fuzz/ScratchFile.swift Fuzz/GGUFReader.swift ;;
        safetensors) echo Sources/ModelIO/*.swift Fuzz/ScratchFile.swift Fuzz/SafetensorsReader.swift ;;
        kld) echo Sources/ModelIO/*.swift Fuzz/ScratchFile.swift Fuzz/BaseLogitsReader.swift ;;
        config) echo Sources/GPT2/Model/GPT2Config.swift Sources/GPT2/GPT2Error.swift Fuzz/ConfigJSON.swift ;;
        vocab | roundtrip)
            local harness=Fuzz/VocabMerges.swift
            [ "$1" = roundtrip ] && harness=Fuzz/TokenizerRoundTrip.swift
            # BundledFiles.swift needs SwiftPM's Bundle.module; the stub finds the same files.
            ls Sources/Tokenizer/*.swift | grep -v '/BundledFiles.swift$' | tr '\n' ' '
            echo Fuzz/BundledFilesStub.swift "$harness" ;;
        *) return 1 ;;
    esac
}

# True when $1 is missing or older than any of the other arguments.
stale() {
    local output="$1"; shift
    [ -e "$output" ] || return 0
    [ -n "$(find "$@" -newer "$output" 2>/dev/null | head -1)" ]
}

# GPT2Runtime (AlignedBuffer), which ModelIO imports, as a static library and module.
build_runtime() {
    local library="$build/libGPT2Runtime.a"
    stale "$library" Sources/GPT2Runtime Sources/CNuma Sources/CPUHints || return 0
    echo "building GPT2Runtime for the fuzzers" >&2
    mkdir -p "$build/modules"
    (cd "$build" && swiftc "${swift_flags[@]}" -sanitize=address -module-name GPT2Runtime \
        -I "$root/Sources/CNuma" -I "$root/Sources/CPUHints" -emit-module -emit-module-path modules/GPT2Runtime.swiftmodule \
        -emit-library -static -o "$library" "$root"/Sources/GPT2Runtime/*.swift)
}

build_target() {
    local name="$1" binary="$build/bin/$1" sources
    sources=$(sources_of "$name")
    local extra=() inputs=()
    if [ "$name" = gguf ] || [ "$name" = safetensors ] || [ "$name" = kld ]; then
        build_runtime
        extra=(-I "$build/modules" -I "$root/Sources/CNuma" -I "$root/Sources/CPUHints" -L "$build" -lGPT2Runtime -lnuma)
        inputs=("$build/libGPT2Runtime.a")
    fi
    # shellcheck disable=SC2086  # sources is a list of paths without spaces
    stale "$binary" $sources "${inputs[@]}" || return 0
    echo "building fuzz target $name" >&2
    mkdir -p "$build/bin" "$build/obj/$name"
    local absolute=()
    for source in $sources; do absolute+=("$root/$source"); done
    # Object files and the ld.gold "Cannot export local symbol '__asan_…'" warnings (harmless)
    # stay in the build directory.
    (cd "$build/obj/$name" && swiftc "${swift_flags[@]}" -sanitize=fuzzer,address -module-name "Fuzz_$name" \
        "${extra[@]}" -o "$binary" "${absolute[@]}" 2> >(grep -v "Cannot export local symbol '__asan_" >&2))
}

# The Swift runtime's own crash handler reads memory that ASan flags, hiding the real report.
export SWIFT_BACKTRACE=enable=no

# Runs one target; prints libFuzzer's final coverage line and execution count, or the crash.
run_target() {
    local name="$1"; shift
    local log="$build/logs/$name.log"
    mkdir -p "$build/corpus/$name" "$build/artifacts/$name" "$build/logs"
    local status=0 dictionary=()
    [ -f "Fuzz/$name.dict" ] && dictionary=(-dict="Fuzz/$name.dict")
    # -rss_limit_mb/-malloc_limit_mb: an input that needs more memory than this is a defect
    # (the parsers bound every allocation by the input's size). Leak detection is off: Foundation
    # keeps caches that LeakSanitizer reports as leaks.
    "$build/bin/$name" -max_total_time="$seconds" -rss_limit_mb=2048 -malloc_limit_mb=1024 \
        -timeout=10 -detect_leaks=0 -print_final_stats=1 -artifact_prefix="$build/artifacts/$name/" \
        "${dictionary[@]}" "$@" "$build/corpus/$name" "Fuzz/corpus/$name" >"$log" 2>&1 || status=$?
    if [ "$status" -ne 0 ]; then
        echo "FAIL $name (exit $status); log: $log" >&2
        # The Swift error, libFuzzer's report and the top of the stack.
        grep -E -A14 'Fatal error|==ERROR|ERROR: libFuzzer' "$log" | grep -v -E '^ *0x|compiler-rt/lib|libc\.so' | head -24 >&2 || tail -40 "$log" >&2
        grep -E '^(SUMMARY|artifact_prefix)' "$log" >&2 || true
        return "$status"
    fi
    local done_line runs
    done_line=$(grep -E '^#[0-9]+[[:space:]]+DONE' "$log" | tail -1)
    runs=$(sed -n 's/^stat::number_of_executed_units: //p' "$log")
    echo "ok   $name: $runs runs; $done_line"
}

if [ "$target" = all ]; then
    selected=("${targets[@]}")
else
    sources_of "$target" >/dev/null || usage
    selected=("$target")
fi

for name in "${selected[@]}"; do build_target "$name"; done
failed=()
for name in "${selected[@]}"; do run_target "$name" "$@" || failed+=("$name"); done
if [ ${#failed[@]} -gt 0 ]; then
    echo "fuzzing found defects in: ${failed[*]}" >&2
    exit 1
fi
