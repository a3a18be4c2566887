#!/usr/bin/env bash
# Runs the built `gpt2` binary the way a user would: every command once on a small random
# model, and bad input, which must fail with a message and a non-zero exit (never a crash).
# Usage: scripts/cli-smoke.sh path/to/gpt2
set -uo pipefail
gpt2=${1:?usage: scripts/cli-smoke.sh path/to/gpt2}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
failures=0
passed=0

# expect_ok NAME COMMAND...: the command succeeds.
expect_ok() {
    local name=$1; shift
    if "$@" >"$work/out" 2>"$work/err"; then
        passed=$((passed + 1))
    else
        echo "FAIL (exit $?): $name"; sed 's/^/    /' "$work/err" | tail -5
        failures=$((failures + 1))
    fi
}

# expect_error NAME PATTERN COMMAND...: exit code 1–127 (not a signal) and stderr matches PATTERN.
expect_error() {
    local name=$1 pattern=$2; shift 2
    timeout 60 "$@" >"$work/out" 2>"$work/err"
    local rc=$?
    if [ $rc -ge 1 ] && [ $rc -lt 124 ] && grep -qiE "$pattern" "$work/err"; then
        passed=$((passed + 1))
    else
        echo "FAIL (exit $rc): $name — expected an error matching /$pattern/"; sed 's/^/    /' "$work/err" | tail -5
        failures=$((failures + 1))
    fi
}

m="$work/tiny"
expect_ok "init-random" "$gpt2" init-random --config gpt2 --n-layer 2 --n-embd 64 --n-head 4 --n-positions 64 --seed 1 --out "$m"
expect_ok "inspect" "$gpt2" inspect "$m"
expect_ok "generate" "$gpt2" generate -m "$m" -p "Hello, world" -n 8 --seed 3 -t 2
expect_ok "generate greedy" "$gpt2" generate -m "$m" -p "Hello" -n 4 --temperature 0
expect_ok "tokenize" "$gpt2" tokenize -p "Hello, world"
grep -qx "15496 11 995" "$work/out" || { echo "FAIL: tokenize printed $(cat "$work/out")"; failures=$((failures + 1)); }
expect_ok "tokenize --show" "$gpt2" tokenize -m "$m" -p "Hi" --show
printf 'The quick brown fox jumps over the lazy dog. %.0s' $(seq 20) > "$work/text.txt"
expect_ok "perplexity" "$gpt2" perplexity -m "$m" -f "$work/text.txt" --context 32 --stride 16 --dump-logits "$work/logits.f32"
expect_ok "bench" "$gpt2" bench -m "$m" -p 16 -n 4 -pg 8,4 -t 1,2 -r 2 -o jsonl
expect_ok "bench --numa isolate" "$gpt2" bench -m "$m" -p 8 -n 2 -t 2 -r 1 --numa isolate -o jsonl
grep -q '"numa":"isolate"' "$work/out" || { echo "FAIL: bench --numa isolate printed $(head -c 300 "$work/out")"; failures=$((failures + 1)); }
expect_ok "profile" "$gpt2" profile -m "$m" -p 16 -n 4 -t 2 --trace "$work/trace.json" --report "$work/report.html"
expect_ok "calibrate" env GPT2_HOME="$work/home" "$gpt2" calibrate --buffer-mib 64 -r 1
expect_ok "calibrate --show" env GPT2_HOME="$work/home" "$gpt2" calibrate --show

expect_error "missing model" "no such file" "$gpt2" generate -m "$work/nope" -p "x"
expect_error "empty prompt" "prompt is empty" "$gpt2" generate -m "$m" -p ""
expect_error "negative temperature" "temperature" "$gpt2" generate -m "$m" -p "x" --temperature -1
expect_error "top-p out of range" "top-p|topP" "$gpt2" generate -m "$m" -p "x" --top-p 1.5
long=$(printf 'word %.0s' $(seq 100))
expect_error "prompt longer than context" "context" "$gpt2" generate -m "$m" -p "$long"
printf 'garbage' > "$work/bad.safetensors"
expect_error "corrupt safetensors" "bad.safetensors" "$gpt2" inspect "$work/bad.safetensors"
mkdir -p "$work/badconfig" && cp "$m/model.safetensors" "$work/badconfig/" && echo '{"n_layer": 2' > "$work/badconfig/config.json"
expect_error "malformed config.json" "config" "$gpt2" inspect "$work/badconfig"
mkdir -p "$work/notok" && cp "$m/model.safetensors" "$m/config.json" "$work/notok/"
expect_error "missing tokenizer files" "vocab.json" "$gpt2" generate -m "$work/notok" -p "x"
expect_error "perplexity context too long" "context" "$gpt2" perplexity -m "$m" -f "$work/text.txt" --context 4096
expect_error "unknown preset" "unknown --config" "$gpt2" init-random --config gpt5 --out "$work/x"
expect_error "bench bad -p list" "not a non-negative integer" "$gpt2" bench -m "$m" -p abc
expect_error "bench -r 0" "r must be at least 1" "$gpt2" bench -m "$m" -r 0
expect_error "bench unknown -o" "unknown output format" "$gpt2" bench -m "$m" -o xml
expect_error "bench missing model" "no such file" "$gpt2" bench -m "$work/nope" -p 1 -n 0
expect_error "profile past the context" "context" "$gpt2" profile -m "$m" -p 60 -n 10
expect_error "calibrate --show without a cache" "no calibration cached" env GPT2_HOME="$work/empty" "$gpt2" calibrate --show

echo "cli-smoke: $passed passed, $failures failed"
[ $failures -eq 0 ]
