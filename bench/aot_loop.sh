#!/usr/bin/env bash
# The train step of an example's object, called by a plain C program in a loop (bench/aot_loop.c),
# next to the same step in netc's own JIT (`netc bench --strategies netc`), in the same run: the
# ratio shows whether an application gets netc's rate (issue 9: no allocation per call).
#
#   bash bench/aot_loop.sh [MODEL] [STEPS]      MODEL: fashion_mlp (default), fashion_cnn, ...
set -euo pipefail
cd "$(dirname "$0")/.."
model=${1:-fashion_mlp}
steps=${2:-200}
bash scripts/build.sh >/dev/null
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
build/netc "examples/$model.net" -o "$work/$model.o"
batch=$(build/netc --emit=graph "examples/$model.net" | sed -n 's/^  batch \([0-9]*\).*/\1/p')
upper=$(echo "$model" | tr a-z A-Z)
cc -O2 -std=c99 -D_POSIX_C_SOURCE=200809L -DMODEL="$model" -DMODEL_UPPER="$upper" \
   -include "$work/$model.h" bench/aot_loop.c "$work/$model.o" -o "$work/loop" -lpthread -ldl -lm
for run in 1 2; do
  aot=$("$work/loop" "$steps" "$batch")
  jit=$(build/netc bench "examples/$model.net" --strategies netc --steps "$steps" --json)
  python3 - "$aot" "$jit" "$run" <<'PY'
import json, sys
aot = json.loads(sys.argv[1])
jit = json.loads(sys.argv[2])
row = [r for r in jit["strategies"] if r["strategy"] == "netc"][0] if "strategies" in jit else jit
ms = row.get("train_step_ms")
print(f"run {sys.argv[3]}: object in a C loop {aot['step_ms']:.3f} ms/step ({aot['img_per_s']:.0f} img/s), "
      f"netc's JIT {ms:.3f} ms/step: the object at {ms / aot['step_ms']:.2f}x the JIT's rate")
PY
done
