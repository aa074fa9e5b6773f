#!/usr/bin/env bash
# Data-parallel training on this machine (docs/mpi.md): `netc train` throughput in samples/s with
# 1 process and with 2 under mpirun, for the MLP and CNN examples, and the gradient all-reduce's
# share of the step as the trainer reports it; then examples/mpi_train.c, the object's gradient,
# MPI_Allreduce and apply_update from C, likewise. Each figure is the median of 3 runs; the
# whole is measured twice, and the ratios compare figures of the same pass.
#
#   bash bench/mpi_scaling.sh [BUILD_DIR]   BUILD_DIR: a build with MPI (default build/, built first)
#
# Columns: 1 process (1p) on all cores' threads; 1 process on cores/2 threads; 2 processes of
# cores/2 threads each, bound to their cores. On one machine the 2 processes share the cores 1
# process had, so "2p/1p" says what data parallelism costs here, and "2p/half" how close the
# split comes to twice the rate of one process with the same share of the machine. The
# all-reduce's time on rank 0 includes waiting for the other rank to finish its gradient.
set -euo pipefail
cd "$(dirname "$0")/.."
build=${1:-build}
[ $# -gt 0 ] || bash scripts/build.sh >/dev/null
netc=$build/netc
data=/usr/share/datasets/fashion-mnist
command -v mpirun >/dev/null || { echo "mpirun not found (scripts/setup.sh installs Open MPI)"; exit 1; }
[ -x "$build/examples/mpi_train_mlp" ] || { echo "$build was built without MPI"; exit 1; }
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1  # Open MPI refuses root otherwise
cores=$(nproc)
half=$((cores / 2 > 0 ? cores / 2 : 1))
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

median() { sort -g | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'; }

# launch NP THREADS COMMAND...: COMMAND as NP processes of THREADS Halide threads each.
launch() {
  local np=$1 threads=$2
  shift 2
  if [ "$np" = 1 ]; then
    HL_NUM_THREADS=$threads "$@"
  else
    mpirun -np "$np" --bind-to core -x HL_NUM_THREADS="$threads" "$@"
  fi
}

# netc_rate NP THREADS MODEL LIMIT: "samples/s all-reduce-%" of one epoch of `netc train`.
netc_rate() {
  rm -rf "$work/run"
  launch "$1" "$2" "$netc" train "$3" --data "$data" --limit "$4" --epochs 1 --out "$work/run" \
    >"$work/log" 2>&1 || { cat "$work/log"; exit 1; }
  local rate share
  rate=$(sed -n 's/^done: .* steps, \([0-9]*\) img\/s.*/\1/p' "$work/log")
  share=$(sed -n 's/^data parallel: .* took \([0-9.]*\) % of the step time.*/\1/p' "$work/log")
  echo "$rate ${share:-0}"
}

# aot_rate NP THREADS PROGRAM STEPS BATCH: the same of examples/mpi_train.c.
aot_rate() {
  launch "$1" "$2" "$3" "$data" "$4" "$5" >"$work/log" 2>&1 || { cat "$work/log"; exit 1; }
  sed -n 's/^[0-9]* process[es]*: \([0-9]*\) samples\/s; the all-reduce \([0-9.]*\) %.*/\1 \2/p' \
    "$work/log"
}

# row NAME KIND ARGS...: the medians of 3 runs for 1 process (all cores, then half of them) and
# 2 processes, and their ratios.
row() {
  local name=$1 kind=$2
  shift 2
  local -a rates=() shares=()
  for config in "1 $cores" "1 $half" "2 $half"; do
    for _ in 1 2 3; do $kind $config "$@"; done >"$work/runs"
    rates+=("$(cut -d' ' -f1 <"$work/runs" | median)")
    shares+=("$(cut -d' ' -f2 <"$work/runs" | median)")
  done
  awk -v n="$name" -v a="${rates[0]}" -v h="${rates[1]}" -v b="${rates[2]}" -v s="${shares[2]}" \
    'BEGIN { printf "%-22s %9.0f %9.0f %9.0f %11.1f %%  %8.2fx %8.2fx\n", n, a, h, b, s, b / a, b / h }'
}

for pass in 1 2; do
  echo "pass $pass: samples/s (median of 3) of 1 or 2 processes (p) of t threads on $cores cores;"
  echo "all-reduce: its share of a 2-process step, on rank 0; load average before: $(cut -d' ' -f1 /proc/loadavg)"
  printf "%-22s %9s %9s %9s %13s  %9s %9s\n" "" "1p ${cores}t" "1p ${half}t" "2p ${half}t" \
    "all-reduce" "2p/1p" "2p/half"
  row "netc train MLP" netc_rate examples/fashion_mlp.net 30000
  row "netc train CNN" netc_rate examples/fashion_cnn.net 6000
  row "mpi_train.c MLP" aot_rate "$build/examples/mpi_train_mlp" 200 128
  row "mpi_train.c CNN" aot_rate "$build/examples/mpi_train_cnn" 60 64
done
