#!/usr/bin/env bash
# Installs every Debian package that building, testing and running the examples need.
# Idempotent: when everything is present it only asks dpkg and returns within a second.
#
#   scripts/setup.sh          what netc, its tests and the main job need
#   scripts/setup.sh bench    ... and PyTorch for /usr/bin/python3, the benchmarks' baseline
set -euo pipefail

packages=(
  cmake g++ ninja-build
  libhalide14-0-dev   # Halide 14 with LLVM 14 and the autoscheduler plugins
  libfmt-dev
  libcli11-dev        # command-line parsing
  doctest-dev
  zlib1g-dev          # gzip'd IDX data sets
  libstb-dev          # PNG/JPEG decoding
  nlohmann-json3-dev  # safetensors headers, metrics
  dataset-fashion-mnist
)
if [ "${1:-}" = bench ]; then
  # Without an optimized BLAS, Debian's torch falls back to the reference BLAS (measured here:
  # a 128x784x256 matmul at 3 GFLOP/s instead of OpenBLAS's 100): no baseline worth the name.
  packages+=(python3-torch python3-numpy libopenblas0-pthread)
fi

missing=()
for p in "${packages[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done

if ((${#missing[@]})); then
  echo "setup: installing ${missing[*]}"
  sudo_cmd=()
  [ "$(id -u)" -eq 0 ] || sudo_cmd=(sudo)
  "${sudo_cmd[@]}" apt-get update -qq
  DEBIAN_FRONTEND=noninteractive "${sudo_cmd[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi
