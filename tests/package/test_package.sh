#!/usr/bin/env bash
# Installs netc from BUILD_DIR into a scratch prefix, then configures, builds and runs a consumer
# project that uses find_package(netc) and netc_add_model, as a user's project would.
set -euo pipefail
build_dir=$1
source_dir=$2
scratch=$(mktemp -d)
trap 'rm -rf "$scratch"' EXIT
cmake --install "$build_dir" --prefix "$scratch/prefix" >/dev/null
cmake -S "$source_dir/tests/package/consumer" -B "$scratch/build" \
      -DCMAKE_PREFIX_PATH="$scratch/prefix" \
      -DNETC_EXAMPLE_MODEL="$source_dir/examples/fashion_linear.net" >/dev/null
cmake --build "$scratch/build" >/dev/null
"$scratch/build/app"
