#!/usr/bin/env bash
# Runs the whole test suite (debug build): kernels against scalar references, the loader's
# error paths, tokenizer and model parity with Hugging Face (committed fixtures, no Python needed).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
swift build --build-tests
swift test --skip-build "$@"
