#!/usr/bin/env bash
# Installs every Debian package that building, testing and running the examples need.
# Idempotent: when everything is present it only asks dpkg and returns within a second.
#
#   scripts/setup.sh            what netc, its tests and the main job need
#   scripts/setup.sh bench      ... and PyTorch for /usr/bin/python3: the benchmarks' baseline and
#                               the oracle of tests/torch; scikit-learn and FAISS for bench/knn.sh
#   scripts/setup.sh sanitize   ... and clang 14 with its sanitizer and libFuzzer runtimes
#                               (scripts/test.sh --sanitize, scripts/fuzz.sh)
# Modes combine: scripts/setup.sh bench sanitize.
set -euo pipefail

packages=(
  cmake g++ ninja-build
  libhalide14-0-dev   # Halide 14 with LLVM 14 and the autoscheduler plugins
  libfmt-dev
  libcli11-dev        # command-line parsing
  doctest-dev
  zlib1g-dev          # gzip'd IDX data sets
  libpng-dev libturbojpeg0-dev  # PNG/JPEG decoding
  libstb-dev          # PNG writing (netc plot)
  nlohmann-json3-dev  # safetensors headers, metrics
  libprotobuf-dev protobuf-compiler libonnx-dev  # ONNX export: protoc compiles libonnx-dev's onnx.proto
  python3-onnx python3-opencv  # tests only: the ONNX checker, and OpenCV's DNN running the exports
  mlir-14-tools libmlir-14  # tests only: mlir-opt-14 lowers the MLIR (TOSA) exports, mlir-cpu-runner-14 runs them
  dataset-fashion-mnist
  libopenmpi-dev openmpi-bin  # optional for netc itself: data-parallel training (mpirun -np N)
)
for mode in "$@"; do
  case "$mode" in
    bench)
      # Without an optimized BLAS, Debian's torch falls back to the reference BLAS (measured here:
      # a 128x784x256 matmul at 3 GFLOP/s instead of OpenBLAS's 100): no baseline worth the name.
      # scikit-learn and FAISS: bench/knn.sh's baselines for the kNN classifier.
      packages+=(python3-torch python3-numpy libopenblas0-pthread python3-sklearn python3-faiss) ;;
    sanitize)
      # llvm-14 for llvm-symbolizer: sanitizer reports with file:line.
      packages+=(clang-14 libclang-rt-14-dev llvm-14) ;;
    *)
      echo "setup: unknown mode '$mode' (expected bench or sanitize)" >&2
      exit 2 ;;
  esac
done

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
