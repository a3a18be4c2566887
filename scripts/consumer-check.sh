#!/usr/bin/env bash
# Builds Examples/Consumer, a separate package that depends on this checkout by path as the
# README's "Library" section says, and runs its example (the README's) on a tiny random model.
# Checks that it printed generated text and logits, and that a missing model is a one-line error.
#   scripts/consumer-check.sh [GPT2_BINARY]   (default .build/release/gpt2, built if missing)
set -euo pipefail
cd "$(dirname "$0")/.."
gpt2=${1:-.build/release/gpt2}
[ -x "$gpt2" ] || swift build -c release --product gpt2

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
"$gpt2" init-random --seed 1 --n-layer 1 --n-embd 64 --n-head 2 --n-positions 64 --out "$work/tiny" >/dev/null

# Debug is enough to show that it builds and links; the scratch folder keeps the consumer's
# copy of this package apart from .build/.
swift build --package-path Examples/Consumer --scratch-path .build-consumer
consumer=.build-consumer/debug/Consumer

"$consumer" "$work/tiny" >"$work/out" 2>"$work/err" || { cat "$work/out" "$work/err"; exit 1; }
cat "$work/out"
grep -q ' tokens/s$' "$work/out" || { echo "consumer-check: no generation stats" >&2; exit 1; }
grep -q '^50257 logits for the next token$' "$work/out" || { echo "consumer-check: no logits" >&2; exit 1; }
[ "$(head -c 200 "$work/out" | tr -d '[:space:]')" != "" ] || { echo "consumer-check: no text" >&2; exit 1; }

# A missing model: the example's catch prints one line and exits 1, no crash.
if "$consumer" "$work/missing" >"$work/out" 2>"$work/err"; then
    echo "consumer-check: a missing model did not fail" >&2; exit 1
fi
[ "$(wc -l <"$work/err")" -eq 1 ] && grep -q '^error: ' "$work/err" \
    || { echo "consumer-check: a missing model should print one error line:" >&2; cat "$work/err" >&2; exit 1; }
echo "consumer-check: ok ($(cat "$work/err"))"
