#!/usr/bin/env bash
# Fresh machine to tested build: set up, build, run every test. The last lines are ctest's summary.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/build.sh
cd build
ctest --output-on-failure -j "$(nproc)"
