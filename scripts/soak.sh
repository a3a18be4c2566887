#!/usr/bin/env bash
# Soak test: one `gpt2 generate` process produces TOKENS tokens (default 100000) on a small random
# model, sliding its context (--context-shift) whenever the window is full, while its resident
# memory (VmRSS) is sampled every half second. Passes when RSS is flat after warm-up: after the
# first fifth of the run it may vary by at most 2 MB or 1%, whichever is larger.
#
#   scripts/soak.sh [TOKENS] [GPT2_BINARY]     (default binary: .build/release/gpt2)
set -euo pipefail
cd "$(dirname "$0")/.."
tokens=${1:-100000}
gpt2=${2:-.build/release/gpt2}
[ -x "$gpt2" ] || { echo "error: no gpt2 binary at $gpt2 (swift build -c release first)" >&2; exit 1; }

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
"$gpt2" init-random --n-layer 2 --n-embd 128 --n-head 4 --n-positions 256 --seed 1 --out "$work/model" 2>/dev/null

"$gpt2" generate -m "$work/model" -p "Once upon a time" -n "$tokens" --ignore-eos --context-shift \
    --seed 1 -t 2 >"$work/out.txt" 2>"$work/log.txt" &
pid=$!
rss=()
while kill -0 "$pid" 2>/dev/null; do
    kb=$(awk '/^VmRSS/ {print $2}' "/proc/$pid/status" 2>/dev/null || true)
    [ -n "$kb" ] && rss+=("$kb")
    sleep 0.5
done
status=0
wait "$pid" || status=$?
cat "$work/log.txt" >&2
[ "$status" -eq 0 ] || { echo "soak: gpt2 generate exited with $status" >&2; exit 1; }
grep -q "generation: $tokens tokens" "$work/log.txt" || { echo "soak: fewer than $tokens tokens were generated" >&2; exit 1; }

n=${#rss[@]}
[ "$n" -ge 5 ] || { echo "soak: only $n RSS samples; the run was too short to judge" >&2; exit 1; }
warm=$((n / 5))
printf '%s\n' "${rss[@]:$warm}" | awk -v n="$n" -v warm="$warm" -v first="${rss[0]}" -v tokens="$tokens" '
    NR == 1 { min = $1; max = $1 }
    { if ($1 < min) min = $1; if ($1 > max) max = $1; last = $1 }
    END {
        allowed = max > 200000 ? max / 100 : 2048
        printf "soak: %d tokens, %d RSS samples; first %d kB, after warm-up (%d samples) min %d kB, max %d kB, last %d kB; spread %d kB (allowed %d kB)\n", \
            tokens, n, first, n - warm, min, max, last, max - min, allowed
        exit (max - min > allowed) ? 1 : 0
    }' || { echo "soak: RSS grew after warm-up" >&2; exit 1; }
echo "soak: RSS flat"
