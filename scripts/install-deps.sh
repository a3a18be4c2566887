#!/usr/bin/env bash
# Installs what building swift-gpt2 needs beyond the Swift toolchain: libnuma's headers
# (Debian: libnuma-dev) and pkg-config. Safe to run again; does nothing when they are present.
set -euo pipefail

missing=()
[ -f /usr/include/numa.h ] || missing+=(libnuma-dev)
command -v pkg-config >/dev/null 2>&1 || missing+=(pkg-config)
[ ${#missing[@]} -eq 0 ] && exit 0

echo "installing: ${missing[*]}" >&2
sudo=""
if [ "$(id -u)" -ne 0 ]; then
    command -v sudo >/dev/null 2>&1 || { echo "error: need root (or sudo) to apt-get install ${missing[*]}" >&2; exit 1; }
    sudo="sudo"
fi
export DEBIAN_FRONTEND=noninteractive
$sudo apt-get update -qq
$sudo apt-get install -y -qq "${missing[@]}" >/dev/null
