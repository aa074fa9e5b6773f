#!/usr/bin/env bash
# Fresh machine to tested build: set up, build, run every test. The last lines are ctest's summary.
#
#   scripts/test.sh              the suite, in build/ (the README's test command)
#   scripts/test.sh --sanitize   the same suite built with clang under ASan and UBSan, plus a short
#                                run of each libFuzzer harness (tests/fuzz), in build-sanitize/
#                                (about 50 minutes on 2 cores)
#   scripts/test.sh --sanitize --skip-slow
#                                ... without the tests that JIT-compile pipelines by the hundred
#                                (each 3-10x slower under ASan, where LLVM allocates through its
#                                allocator): every reader, the front end, the CLI, the C API and
#                                the fuzz runs stay in. What CI runs.
set -euo pipefail
cd "$(dirname "$0")/.."
if [ "${1:-}" != --sanitize ]; then
  bash scripts/build.sh
  cd build
  exec ctest --output-on-failure -j "$(nproc)"
fi
skip=()
if [ "${2:-}" = --skip-slow ]; then
  slow='test_forward|test_forward_examples|test_program|test_aot|test_backward|test_train_commands'
  slow+='|torch_oracle_.*|mpi_.*|onnx_.*|mlir_.*|gradcheck_fashion_cnn|gradcheck_cifar_resnet'
  skip=(-E "^(${slow})$")
fi
bash scripts/build.sh --sanitize
source scripts/sanitize.env
cd build-sanitize
exec ctest --output-on-failure -j "$(nproc)" "${skip[@]}"
