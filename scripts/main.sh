#!/usr/bin/env bash
# Fresh machine to the main job: set up, build, and check and summarize every example model.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/build.sh
for model in examples/*.net; do
  ./build/netc check "$model"
done
./build/netc summary examples/fashion_cnn.net
./build/netc summary examples/cifar_resnet.net
