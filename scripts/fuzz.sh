#!/usr/bin/env bash
# Builds the libFuzzer harnesses of tests/fuzz under ASan and UBSan (build-sanitize/) and runs
# each in turn, growing its corpus in build-sanitize/tests/fuzz/corpus_<harness>. A crash, a leak,
# a UBSan report, a timeout or an input over the memory limit is a finding: its input is kept in
# build-sanitize/tests/fuzz/findings/ and the script exits 1. The last lines are a table of
# executions per harness.
#
#   scripts/fuzz.sh [--seconds N] [--runs N] [HARNESS...]
#     --seconds N   stop each harness after N seconds (default 60)
#     --runs N      ... or after N executions, whichever comes first (default: no limit)
#     HARNESS       frontend safetensors idx cifar image metrics (default: all)
set -euo pipefail
cd "$(dirname "$0")/.."
all=(frontend safetensors idx cifar image metrics)
seconds=60
runs=-1
harnesses=()
while (($#)); do
  case "$1" in
    --seconds) seconds="$2"; shift 2 ;;
    --runs) runs="$2"; shift 2 ;;
    -h|--help) sed -n '2,12p' "$0"; exit 0 ;;
    *)
      if [[ " ${all[*]} " != *" $1 "* ]]; then
        echo "fuzz.sh: unknown harness '$1' (expected one of: ${all[*]})" >&2
        exit 2
      fi
      harnesses+=("$1"); shift ;;
  esac
done
((${#harnesses[@]})) || harnesses=("${all[@]}")

targets=()
for h in "${harnesses[@]}"; do targets+=("fuzz_$h"); done
bash scripts/build.sh --sanitize "${targets[@]}" fuzz_seeds
source scripts/sanitize.env

dir=build-sanitize/tests/fuzz
mkdir -p "$dir/findings"
summary=()
status=0
for h in "${harnesses[@]}"; do
  mkdir -p "$dir/corpus_$h"
  options=(-max_total_time="$seconds" -runs="$runs" -print_final_stats=1
           -artifact_prefix="$dir/findings/$h-")
  [ "$h" = frontend ] && options+=(-dict="$dir/seeds/frontend.dict")
  log="$dir/fuzz_$h.log"
  echo "fuzz.sh: $h for up to ${seconds}s (log: $log)"
  if "$dir/fuzz_$h" "${options[@]}" "$dir/corpus_$h" "$dir/seeds/$h" >"$log" 2>&1; then
    result=clean
  else
    result="FINDING (see $log)"
    status=1
  fi
  execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
  corpus=$(find "$dir/corpus_$h" -type f | wc -l)
  summary+=("$(printf '%-12s %12s executions  %6s corpus files  %s' "$h" "${execs:-?}" "$corpus" "$result")")
done
printf '%s\n' "${summary[@]}"
exit "$status"
