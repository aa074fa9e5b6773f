#!/usr/bin/env bash
# netc's kNN classifier against scikit-learn and FAISS on Fashion-MNIST, in one run, on a fresh
# machine: sets up (scikit-learn and FAISS included), builds netc, then runs bench/knn.py with
# any further options.
#
#   bash bench/knn.sh
#
# Each library gets the machine's cores its own way: scikit-learn's brute force through its
# n_jobs and OpenBLAS's threads, FAISS through OpenMP and OpenBLAS, netc through Halide's pool.
# OpenBLAS chooses its own kernel (DESIGN.md: the OPENBLAS_CORETYPE and OPENBLAS_L2_SIZE this
# environment sets would hold it back).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh bench
bash scripts/build.sh
exec env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE /usr/bin/python3 bench/knn.py "$@"
