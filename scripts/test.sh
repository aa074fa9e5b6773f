#!/usr/bin/env bash
# Fresh machine to tested build: set up, build, run every test. The last lines are ctest's summary.
#
#   scripts/test.sh              the suite, in build/ (the README's test command)
#   scripts/test.sh --sanitize   the same suite built with clang under ASan and UBSan, plus a short
#                                run of each libFuzzer harness (tests/fuzz), in build-sanitize/
set -euo pipefail
cd "$(dirname "$0")/.."
if [ "${1:-}" != --sanitize ]; then
  bash scripts/build.sh
  cd build
  exec ctest --output-on-failure -j "$(nproc)"
fi
bash scripts/build.sh --sanitize
source scripts/sanitize.env
cd build-sanitize
exec ctest --output-on-failure -j "$(nproc)"
