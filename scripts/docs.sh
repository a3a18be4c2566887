#!/usr/bin/env bash
# Builds the DocC archives of the public API with swift-docc-plugin, from the separate package
# in Docs/ (so that the plugin is no dependency of swift-gpt2 itself):
#   scripts/docs.sh [OUTPUT_DIR]     (default .build-docs/archives: GPT2.doccarchive, Tokenizer.doccarchive)
# Browse one with `docc preview`, or pass --transform-for-static-hosting options through
# DOCC_OPTIONS (e.g. DOCC_OPTIONS="--transform-for-static-hosting --hosting-base-path gpt2").
set -euo pipefail
cd "$(dirname "$0")/.."
out=${1:-.build-docs/archives}
mkdir -p "$out"
out=$(cd "$out" && pwd)
for module in GPT2 Tokenizer; do
    # --allow-writing-to-directory: the plugin writes only into the scratch folder unless told.
    swift package --package-path Docs --scratch-path .build-docs \
        --allow-writing-to-directory "$out" \
        generate-documentation --target "$module" --output-path "$out/$module.doccarchive" \
        ${DOCC_OPTIONS:-}
done
echo "docs: $out/GPT2.doccarchive $out/Tokenizer.doccarchive"
