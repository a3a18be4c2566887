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

# expect_error NAME PATTERN COMMAND...: exit code 1–127 (not a signal), and stderr ends with one
# `Error: …` line that matches PATTERN and is no framework dump.
expect_error() {
    local name=$1 pattern=$2; shift 2
    timeout 60 "$@" >"$work/out" 2>"$work/err"
    local rc=$?
    if [ $rc -ge 1 ] && [ $rc -lt 124 ] && [ "$(grep -c '^Error: ' "$work/err")" = 1 ] \
        && tail -n 1 "$work/err" | grep -q '^Error: ' && grep -qiE -e "$pattern" "$work/err" && ! grep -q 'Domain' "$work/err"; then
        passed=$((passed + 1))
    else
        echo "FAIL (exit $rc): $name — expected a one-line error matching /$pattern/"; sed 's/^/    /' "$work/err" | tail -5
        failures=$((failures + 1))
    fi
}

# expect_status NAME STATUS PATTERN COMMAND...: as expect_error, with exactly that exit status.
expect_status() {
    local name=$1 status=$2 pattern=$3; shift 3
    expect_error "$name" "$pattern" "$@"
    local rc
    timeout 60 "$@" >/dev/null 2>&1; rc=$?
    if [ $rc -ne "$status" ]; then
        echo "FAIL: $name exited with $rc, expected $status"; failures=$((failures + 1))
    fi
}

# check NAME COMMAND...: the command (a test of what a step left behind) succeeds.
check() {
    local name=$1; shift
    if "$@"; then passed=$((passed + 1)); else echo "FAIL: $name"; failures=$((failures + 1)); fi
}

# wait_for COMMAND...: polls every millisecond, for up to a minute, until the command succeeds
# (use `eval '…'` for a condition with substitutions to evaluate each time).
wait_for() {
    for _ in $(seq 60000); do "$@" && return 0; sleep 0.001; done
    return 1
}

# started_with_default_signals COMMAND...: runs it in the background with SIGINT, SIGTERM and
# SIGHUP at their default action (a script's background jobs start with SIGINT ignored).
started_with_default_signals() {
    env --default-signal=INT,TERM,HUP "$@" >"$work/out" 2>"$work/err" &
    pid=$!
}

m="$work/tiny"
expect_ok "init-random" "$gpt2" init-random --config gpt2 --n-layer 2 --n-embd 64 --n-head 4 --n-positions 64 --seed 1 --out "$m"
expect_ok "inspect" "$gpt2" inspect "$m"
expect_ok "generate" "$gpt2" generate -m "$m" -p "Hello, world" -n 8 --seed 3 -t 2
expect_ok "generate greedy" "$gpt2" generate -m "$m" -p "Hello" -n 4 --temperature 0
expect_ok "tokenize" "$gpt2" tokenize -p "Hello, world"
grep -qx "15496 11 995" "$work/out" || { echo "FAIL: tokenize printed $(cat "$work/out")"; failures=$((failures + 1)); }
echo "Hello, world" | "$gpt2" tokenize -f /dev/stdin > "$work/stdin-ids" 2>&1
check "tokenize -f /dev/stdin" grep -qx "15496 11 995 198" "$work/stdin-ids"
echo "Hello, world" | "$gpt2" tokenize -f - > "$work/dash-ids" 2>&1
check "tokenize -f - (standard input)" grep -qx "15496 11 995 198" "$work/dash-ids"
expect_ok "quantize with llama-quantize's positional type" "$gpt2" quantize "$m" "$work/positional.gguf" Q8_0
expect_ok "generate with -s, --temp and -c" "$gpt2" generate -m "$m" -p "Hello" -n 4 -s 1 --temp 0.7 -c 16
expect_ok "bench with repeated flags and a range" "$gpt2" bench -m "$m" -p 4 -p 8 -n 0 -t 1-2 -r 1 -o csv
expect_ok "tokenize --show" "$gpt2" tokenize -m "$m" -p "Hi" --show
check "tokenize --show prints quoted text" grep -qx "$(printf "17250\t'Hi'")" "$work/out"
expect_ok "tokenize --show --raw" "$gpt2" tokenize -p " Hi" --show --raw
check "tokenize --show --raw keeps the vocabulary's spelling" grep -q "ĠHi" "$work/out"
expect_ok "--version" "$gpt2" --version
check "--version names the commit and the kernels" eval 'grep -q "^commit: " "$work/out" && grep -q "^kernels compiled: " "$work/out"'
expect_ok "bench -o sql" "$gpt2" bench -m "$m" -p 4 -n 0 -t 1 -r 1 -o sql
check "bench -o sql creates the table and inserts a row" eval 'grep -q "^CREATE TABLE IF NOT EXISTS test (" "$work/out" && grep -q "^INSERT INTO test (" "$work/out"'
for shell in bash zsh fish; do
    expect_ok "completion script for $shell" "$gpt2" --generate-completion-script "$shell"
    check "the $shell completion names bench" grep -q "bench" "$work/out"
done
# The bash script completes a subcommand when sourced (it finds `gpt2` on PATH).
completed=$(PATH="$(dirname "$gpt2"):$PATH" bash -c 'source <(gpt2 --generate-completion-script bash)
    f=$(complete -p gpt2 | sed -E "s/.*-F ([^ ]+).*/\1/"); COMP_WORDS=(gpt2 be); COMP_CWORD=1
    COMP_LINE="gpt2 be"; COMP_POINT=7; $f gpt2 be gpt2; echo "${COMPREPLY[*]}"' 2>&1)
check "bash completes 'gpt2 be' to bench (got '$completed')" test "$completed" = "bench"
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
expect_status "init-random absurd width" 64 "n_embd is 4611686018427387904, more than" "$gpt2" init-random --n-embd 4611686018427387904 --out "$work/x"
expect_status "init-random larger than memory" 1 "needs .* of memory" "$gpt2" init-random --n-layer 4096 --n-embd 65536 --n-head 16 --out "$work/x"
# A config that declares fewer layers than the file holds must not run a truncated model.
mkdir -p "$work/fewer" && cp "$m"/* "$work/fewer/" && sed -i 's/"n_layer": 2/"n_layer": 1/' "$work/fewer/config.json"
expect_error "fewer layers than the file" "n_layer is 1, but the file holds tensors of 2 layers" "$gpt2" generate -m "$work/fewer" -p "x" -n 1
sed -i 's/"n_layer": 1/"n_layer": 1000000000/' "$work/fewer/config.json"
expect_error "huge n_layer" "n_layer is 1000000000, more than the 4096" "$gpt2" generate -m "$work/fewer" -p "x" -n 1
expect_error "bench bad -p list" "not a non-negative integer" "$gpt2" bench -m "$m" -p abc
expect_error "bench -r 0" "r must be at least 1" "$gpt2" bench -m "$m" -r 0
expect_error "bench unknown -o" "unknown output format" "$gpt2" bench -m "$m" -o xml
expect_error "bench missing model" "no such file" "$gpt2" bench -m "$work/nope" -p 1 -n 0
expect_error "profile past the context" "context" "$gpt2" profile -m "$m" -p 60 -n 10
expect_error "calibrate --show without a cache" "no calibration cached" env GPT2_HOME="$work/empty" "$gpt2" calibrate --show
expect_error "download offline, not cached" "not in the cache at .* and HF_HUB_OFFLINE is set" env HF_HUB_OFFLINE=1 HF_HUB_CACHE="$work/hub" "$gpt2" download org/x
expect_error "generate -hf offline (not read as -h -f)" "HF_HUB_OFFLINE is set" env HF_HUB_OFFLINE=1 HF_HUB_CACHE="$work/hub" "$gpt2" generate -hf org/x -p hi
expect_error "download, hub unreachable" "127.0.0.1" env HF_ENDPOINT=http://127.0.0.1:1 HF_HUB_CACHE="$work/hub" "$gpt2" download org/x
expect_error "-m ORG/NAME neither a path nor cached" "gpt2 download org/x" env HF_HUB_CACHE="$work/hub" "$gpt2" generate -m org/x -p hi

# Exit statuses: 64 for a wrong command line, 1 for an error while running; negative numbers
# reach the range checks.
expect_status "negative -t" 64 "--threads must be between 1 and 1024, got -1" "$gpt2" generate -m "$m" -p "x" -t -1
expect_status "negative bench -t" 64 "-t: '-2' is not a non-negative integer" "$gpt2" bench -m "$m" -t -2
expect_status "negative -r" 64 "-r must be at least 1, got -3" "$gpt2" bench -m "$m" -r -3
expect_status "unknown option" 64 "unknown option '--frob'" "$gpt2" generate -m "$m" -p "x" --frob
expect_status "missing model, status 1" 1 "no such file" "$gpt2" generate -m "$work/nope" -p "x"
expect_status "text file is a directory" 1 "cannot read .*: is a directory" "$gpt2" tokenize -f "$work"
expect_status "report into a missing directory" 1 "cannot write .*: no such file or directory" "$gpt2" profile -m "$m" -p 2 -n 1 --report "$work/nope/r.html"
expect_status "-t above the limit" 64 "between 1 and 1024" "$gpt2" generate -m "$m" -p "Hi" -n 2 -t 9999
"$gpt2" generate -m "$m" -p "Hi" -n 2 -t $(( $(nproc) + 1 )) >/dev/null 2>"$work/err"
check "-t above the CPUs warns why it is slow" grep -q "^warning: -t $(( $(nproc) + 1 )) is more than the .* slower" "$work/err"

# quantize never writes over its input; replacing an output keeps its mode and says so.
cp -r "$m" "$work/input"
( cd "$work/input" && sha256sum * ) > "$work/input.sha256"
for target in "$work/input/model.safetensors" "$work/input/config.json" "$work/input/./vocab.json" "$work/input/merges.txt"; do
    expect_status "quantize onto $(basename "$target")" 64 "refusing to write" "$gpt2" quantize "$work/input" "$target"
done
ln -s "$work/input/config.json" "$work/link.gguf"
expect_status "quantize onto a symlink to the input" 64 "refusing to write" "$gpt2" quantize "$work/input" "$work/link.gguf"
check "input unchanged after the refusals" sh -c "cd '$work/input' && sha256sum --quiet -c '$work/input.sha256'"
printf 'old' > "$work/replaced.gguf" && chmod 640 "$work/replaced.gguf"
expect_ok "quantize over an existing file" "$gpt2" quantize "$m" "$work/replaced.gguf"
check "quantize says it replaced the file" grep -q "replaced the existing file" "$work/err"
check "the replaced file keeps its mode" test "$(stat -c %a "$work/replaced.gguf")" = 640

# Signals: Ctrl-C in generate and bench reports and exits 130; a signal during a write leaves
# neither a temporary file nor a damaged output.
if env --default-signal=INT true 2>/dev/null; then
    long="$work/long"
    "$gpt2" init-random --n-layer 2 --n-embd 64 --n-head 4 --n-positions 4096 --out "$long" 2>/dev/null
    started_with_default_signals "$gpt2" generate -m "$long" -p "Hello" -n 4000 --ignore-eos -t 1
    wait_for eval 'test "$(wc -c <"$work/out")" -gt 200 || ! kill -0 $pid 2>/dev/null'
    kill -INT $pid; wait $pid; rc=$?
    check "Ctrl-C in generate exits 130 (got $rc)" test $rc = 130
    check "Ctrl-C in generate prints the statistics" grep -q "stopped: interrupted" "$work/err"
    check "Ctrl-C in generate ends stdout with a newline" test "$(tail -c 1 "$work/out" | od -An -c | tr -d ' ')" = '\n'

    started_with_default_signals "$gpt2" bench -m "$long" -p 4 -n 4000 -r 50 -t 1 -o csv
    wait_for eval 'grep -q "bench: \[1/2\]" "$work/err" || ! kill -0 $pid 2>/dev/null'
    kill -INT $pid; wait $pid; rc=$?
    check "Ctrl-C in bench exits 130 (got $rc)" test $rc = 130
    check "Ctrl-C in bench prints the rows so far" test "$(grep -c . "$work/out")" = 2

    larger="$work/larger"
    "$gpt2" init-random --n-layer 2 --n-embd 256 --n-head 4 --n-positions 64 --out "$larger" 2>/dev/null
    for signal in INT TERM; do
        printf 'old' > "$work/q.gguf"
        started_with_default_signals "$gpt2" quantize "$larger" "$work/q.gguf" --type f32
        wait_for eval 'compgen -G "$work/q.gguf.tmp-*" >/dev/null || ! kill -0 $pid 2>/dev/null'
        kill -$signal $pid 2>/dev/null; wait $pid
        check "SIG$signal during quantize leaves no temporary file" test -z "$(compgen -G "$work/q.gguf.tmp-*")"
        check "SIG$signal during quantize leaves the old output or the whole new one" \
            sh -c "[ \"\$(cat '$work/q.gguf')\" = old ] || '$gpt2' inspect '$work/q.gguf' >/dev/null 2>&1"
    done
else
    echo "cli-smoke: env --default-signal is missing (coreutils < 9): signal checks skipped"
fi

echo "cli-smoke: $passed passed, $failures failed"
[ $failures -eq 0 ]
