#!/usr/bin/env bash
# Reproduces a row of the README's results table on a fresh machine: sets up (PyTorch included),
# builds netc, then runs bench/fashion.py MODEL (linear, svm, mlp or cnn) with any further options.
#
#   bash bench/fashion.sh mlp
#
# PyTorch gets its fastest set-up on this machine: its own 2 OpenMP threads with a single-threaded
# OpenBLAS inside them, and OpenBLAS's own kernel choice (DESIGN.md: the OPENBLAS_CORETYPE and
# OPENBLAS_L2_SIZE this environment sets would hold it back). Measured: the MLP's step at
# 8,000 img/s with OpenBLAS's threads nested in PyTorch's, 20,000 without; the CNN's 750 and 1,000.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh bench
bash scripts/build.sh
exec env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE OMP_NUM_THREADS=2 OPENBLAS_NUM_THREADS=1 \
  /usr/bin/python3 bench/fashion.py "$@"
