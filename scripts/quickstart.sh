#!/usr/bin/env bash
# Builds the release binary for this CPU and generates text. Without a model argument it uses a
# random-weight GPT-2 124M (written once to ~/.cache/swift-gpt2); pass a Hugging Face GPT-2
# checkpoint directory to use real weights:  scripts/quickstart.sh path/to/gpt2 "Your prompt"
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
swift build -c release --product gpt2
model_args=()
[ $# -ge 1 ] && [ -n "$1" ] && model_args=(--model "$1")
prompt=${2:-"The quick brown fox"}
.build/release/gpt2 generate "${model_args[@]}" --prompt "$prompt" -n 64 --seed 42
