#!/usr/bin/env bash
# Fresh machine to the main job: set up and build, train the MLP on Fashion-MNIST, evaluate it,
# plot its curves, compile it with its trained weights into one object, and classify the test
# set from plain C.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/build.sh

model=examples/fashion_mlp.net
run=runs/fashion_mlp-$(date +%Y%m%d-%H%M%S)  # a fresh run each time; train never overwrites one
data=/usr/share/datasets/fashion-mnist

./build/netc check "$model"
./build/netc summary "$model"
./build/netc train "$model" --data "$data" --out "$run"
./build/netc eval "$model" --weights "$run/best.safetensors" --data "$data"
./build/netc plot "$run/metrics.jsonl" -o "$run/curves.png"

mkdir -p out
./build/netc "$model" --weights "$run/best.safetensors" -o out/fashion_mlp.o
cc -O2 -std=c99 -DMODEL=fashion_mlp -DMODEL_UPPER=FASHION_MLP -DEMBEDDED \
   -include out/fashion_mlp.h examples/fashion_classify.c out/fashion_mlp.o \
   -lz -lpthread -ldl -lm -o out/fashion_classify
./out/fashion_classify "$data" 10000
