#!/usr/bin/env bash
# Installs what netc needs (scripts/setup.sh), then configures and builds it.
#
#   scripts/build.sh                         everything, in build/ (Release, the system compiler)
#   scripts/build.sh --sanitize [TARGET...]  everything or the targets named, in build-sanitize/:
#                                            clang 14, ASan + UBSan, the libFuzzer harnesses
# After --sanitize, source scripts/sanitize.env before running what was built.
set -euo pipefail
cd "$(dirname "$0")/.."
if [ "${1:-}" != --sanitize ]; then
  bash scripts/setup.sh
  cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=Release >/dev/null
  exec cmake --build build -j "$(nproc)"
fi
shift
bash scripts/setup.sh sanitize
source scripts/sanitize.env  # netc_add_model runs the instrumented netc during the build
cmake -S . -B build-sanitize -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo \
  -DCMAKE_C_COMPILER=clang-14 -DCMAKE_CXX_COMPILER=clang++-14 \
  -DNETC_SANITIZE=ON -DNETC_FUZZ=ON >/dev/null
targets=()
for t in "$@"; do targets+=(--target "$t"); done
exec cmake --build build-sanitize -j "$(nproc)" "${targets[@]}"
