#!/usr/bin/env bash
# Compares netc's schedule strategies with PyTorch on every example: sets up (PyTorch included),
# builds netc, then runs bench/schedules.py with any further options, e.g.
#
#   bash bench/schedules.sh --models fashion_cnn --strategies netc,mullapudi2016
#
# PyTorch gets the thread set-up bench/fashion.sh explains: 2 OpenMP threads, a single-threaded
# OpenBLAS inside them, and OpenBLAS's own kernel choice (OPENBLAS_CORETYPE, OPENBLAS_L2_SIZE
# unset). netc bench runs with the same environment; it uses Halide's thread pool, one thread per
# core.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh bench
bash scripts/build.sh
exec env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE OMP_NUM_THREADS=2 OPENBLAS_NUM_THREADS=1 \
  /usr/bin/python3 bench/schedules.py "$@"
