#!/usr/bin/env bash
# One command: set up perf/.venv (llama-cpp-python built from source for this CPU, torch,
# transformers, gguf, ...), build our release binary if missing, then run perf/compare.py.
# All arguments go to compare.py (try --help). Environment:
#   PYTHON=python3.11     interpreter for the virtual environment (default python3)
#   LLAMA_CPP_PYTHON=0.3.36  pin a llama-cpp-python version (default: the latest sdist)
#   SKIP_SETUP=1          use perf/.venv as it is
set -euo pipefail
cd "$(dirname "$0")/.."
PERF=perf
VENV=$PERF/.venv
WORK=$PERF/work
PY=${PYTHON:-python3}
mkdir -p "$WORK"

log() { echo "[compare.sh $(date +%H:%M:%S)] $*" >&2; }

if [[ "${SKIP_SETUP:-0}" != 1 ]]; then
  [[ -x $VENV/bin/python ]] || { log "creating $VENV"; "$PY" -m venv "$VENV"; }
  PIP=("$VENV/bin/pip" install --disable-pip-version-check -q)
  # Build tools first, so llama-cpp-python can build without isolation (with isolation pip
  # would also try to build cmake and ninja themselves from source under --no-binary).
  "${PIP[@]}" cmake ninja scikit-build-core numpy typing-extensions diskcache jinja2

  # llama-cpp-python's sdist: it carries llama.cpp (vendor/llama.cpp), whose convert_hf_to_gguf.py
  # and gguf-py we use for the GGUF files, so the converter matches the library.
  SDIST=$(ls "$WORK"/sdist/llama_cpp_python-*.tar.gz 2>/dev/null | sort -V | tail -1 || true)
  if [[ -z "$SDIST" ]]; then
    log "downloading the llama-cpp-python source distribution"
    SPEC=llama-cpp-python${LLAMA_CPP_PYTHON:+==$LLAMA_CPP_PYTHON}
    "$VENV/bin/pip" download --disable-pip-version-check -q --no-deps --no-build-isolation \
      --no-binary llama-cpp-python "$SPEC" -d "$WORK/sdist"
    SDIST=$(ls "$WORK"/sdist/llama_cpp_python-*.tar.gz | sort -V | tail -1)
  fi
  SRC=$WORK/$(basename "$SDIST" .tar.gz)
  [[ -d $SRC ]] || tar -xzf "$SDIST" -C "$WORK"

  if ! "$VENV/bin/python" -c "import llama_cpp" 2>/dev/null; then
    log "building llama-cpp-python from $SDIST (GGML_NATIVE=ON; takes a while on 2 cores) ..."
    start=$(date +%s)
    CMAKE_ARGS="-DGGML_NATIVE=ON -DLLAVA_BUILD=OFF ${CMAKE_ARGS:-}" \
    CMAKE_BUILD_PARALLEL_LEVEL=${CMAKE_BUILD_PARALLEL_LEVEL:-$(nproc)} \
      "$VENV/bin/pip" install --disable-pip-version-check --no-build-isolation \
        --no-binary llama-cpp-python --config-settings=build-dir="$PWD/$WORK/llama-build" "$SDIST" \
        > "$WORK/llama-build.log" 2>&1 || { log "build failed: see $WORK/llama-build.log"; tail -30 "$WORK/llama-build.log"; exit 1; }
    log "llama-cpp-python built in $(( $(date +%s) - start )) s"
  fi
  # torch, CPU build. A plain `pip install torch` takes PyPI's newest, a CUDA build with ~5 GB
  # of nvidia-* packages, even when a CPU wheel sits in PIP_FIND_LINKS (here /opt/wheels): so
  # install a local CPU wheel by path when there is one, else use PyTorch's CPU index.
  if ! "$VENV/bin/python" -c "import torch" 2>/dev/null; then
    WHEEL=""
    for d in ${PIP_FIND_LINKS:-} /opt/wheels; do
      WHEEL=$(ls "$d"/torch-*+cpu-*.whl 2>/dev/null | sort -V | tail -1 || true)
      [[ -n "$WHEEL" ]] && break
    done
    if [[ -n "$WHEEL" ]]; then
      "${PIP[@]}" "$WHEEL"
    else
      "${PIP[@]}" torch --index-url https://download.pytorch.org/whl/cpu \
        || "${PIP[@]}" torch
    fi
  fi
  # gguf from the same llama.cpp tree as the converter.
  "${PIP[@]}" transformers safetensors "$SRC/vendor/llama.cpp/gguf-py"
fi

if [[ ! -x .build/release/gpt2 ]]; then
  log "building .build/release/gpt2"
  swift build -c release --product gpt2
fi

export CONVERT_HF_TO_GGUF=${CONVERT_HF_TO_GGUF:-$(ls "$WORK"/llama_cpp_python-*/vendor/llama.cpp/convert_hf_to_gguf.py 2>/dev/null | sort -V | tail -1)}
exec "$VENV/bin/python" "$PERF/compare.py" "$@"
