#!/bin/bash
# Data-parallel `mpirun -np N netc train` against the single process, on this machine over
# loopback (runtime/Trainer.h, runtime/MpiCommunicator.h).
#
#   mpi_train.sh NETC MPIRUN DATA equal MODEL STEPS NP...  params (and optimizer state) after STEPS
#                                                        steps of NP processes equal one
#                                                        process's to 1e-5 of each tensor's scale;
#                                                        the printed and recorded figures agree
#   mpi_train.sh NETC MPIRUN DATA indivisible MODEL NP   a batch NP does not divide: the error
#   mpi_train.sh NETC MPIRUN DATA resume MODEL           stopped and resumed with 2, then 1, then
#                                                        2 processes equals one straight run
#   mpi_train.sh NETC MPIRUN DATA killed MODEL           rank 1 killed mid-run: the run ends
#                                                        within 60 s, non-zero, saying so, and
#                                                        last.safetensors is whole
#   mpi_train.sh NETC MPIRUN DATA batchnorm MODEL        a model whose first batchnorm is
#                                                        `bn1`: 2 processes average the shards'
#                                                        statistics into the running ones, and
#                                                        train on, rank 0 alone writing
set -u
netc=$1 mpirun=$2 data=$3 what=$4 model=$5
shift 5
here=$(cd "$(dirname "$0")" && pwd)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
# Open MPI refuses root unless told; the machine may have fewer cores than ranks.
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
export OMPI_MCA_rmaps_base_oversubscribe=1
limit=1000

fail() {
    echo "FAIL: $*"
    exit 1
}

# train NP OUT ARGS...: `netc train` under mpirun -np NP (NP 0: without mpirun).
train() {
    local np=$1 out=$2
    shift 2
    if [ "$np" = 0 ]; then
        "$netc" train "$model" --data "$data" --limit $limit --out "$work/$out" "$@" \
            >"$work/$out.log" 2>&1
    else
        "$mpirun" -np "$np" "$netc" train "$model" --data "$data" --limit $limit \
            --out "$work/$out" "$@" >"$work/$out.log" 2>&1
    fi
    local rc=$?
    sed 's/^/  | /' "$work/$out.log" | grep -v '^  | epoch [0-9]*/[0-9]* step' | tail -n 8
    return $rc
}

compare() {
    /usr/bin/python3 "$here/compare_checkpoints.py" "$@" --same step --same epoch \
        --same best_accuracy --same best_epoch || fail "the checkpoints differ: $*"
}

# The figures a run prints at each epoch's end (the rate aside) and the metrics' fields.
epoch_lines() { grep -o '^epoch [0-9]*/[0-9]*: loss [0-9.]*, train acc [0-9.]*, val acc [0-9.]*' "$1"; }
# metrics_fields FILE [brief]: brief leaves out the running figures, which a resumed run
# counts from where it resumed.
metrics_fields() {
    /usr/bin/python3 -c '
import json, sys
for line in open(sys.argv[1]):
    j = json.loads(line)
    running = () if len(sys.argv) > 2 else (round(j["loss"], 4), j.get("accuracy"))
    print(j["step"], j["epoch"], *running, j.get("val_accuracy"))
' "$@"
}

case $what in
equal)
    steps=$1
    shift
    train 0 one --steps "$steps" || fail "the single process failed"
    for np in "$@"; do
        echo "== $np processes"
        train "$np" np$np --steps "$steps" || fail "$np processes failed"
        grep -q "data parallel: $np processes" "$work/np$np.log" || fail "not $np processes"
        compare "$work/one/last.safetensors" "$work/np$np/last.safetensors" --rtol 1e-5
        diff <(epoch_lines "$work/one.log") <(epoch_lines "$work/np$np.log") ||
            fail "$np processes printed other figures"
        diff <(metrics_fields "$work/one/metrics.jsonl") \
            <(metrics_fields "$work/np$np/metrics.jsonl") ||
            fail "$np processes recorded other metrics (or a rank other than 0 wrote them)"
        [ "$(ls "$work/np$np")" = "$(ls "$work/one")" ] || fail "other files were written"
    done
    ;;
indivisible)
    np=$1
    train "$np" odd --steps 2 && fail "a batch that $np processes do not divide was accepted"
    grep -q "cannot be split evenly over $np processes" "$work/odd.log" || fail "no clear error"
    [ ! -e "$work/odd/last.safetensors" ] || fail "a checkpoint was written"
    ;;
resume)
    train 0 straight --steps 50 || fail "the straight run failed"
    train 2 parts --steps 20 || fail "2 processes, steps 0-20"
    train 0 parts --steps 35 --resume || fail "1 process, resumed at 20"
    train 2 parts --steps 50 --resume || fail "2 processes, resumed at 35"
    compare "$work/straight/last.safetensors" "$work/parts/last.safetensors" --rtol 1e-5
    diff <(metrics_fields "$work/straight/metrics.jsonl" brief) \
        <(metrics_fields "$work/parts/metrics.jsonl" brief) || fail "the resumed run's metrics differ"
    ;;
killed)
    # Long enough that rank 1 is killed mid-run, after the first epoch's checkpoint.
    "$mpirun" -np 2 "$netc" train "$model" --data "$data" --limit $limit --out "$work/run" \
        --epochs 200 >"$work/run.log" 2>&1 &
    launcher=$!
    for _ in $(seq 600); do
        [ -e "$work/run/last.safetensors" ] && break
        sleep 0.1
    done
    [ -e "$work/run/last.safetensors" ] || fail "no checkpoint after 60 s"
    # Rank 1: the netc child of mpirun whose environment says so.
    victim=
    for pid in $(pgrep -P $launcher); do
        if tr '\0' '\n' <"/proc/$pid/environ" 2>/dev/null | grep -qx OMPI_COMM_WORLD_RANK=1; then
            victim=$pid
        fi
    done
    [ -n "$victim" ] || fail "rank 1 not found among the children of mpirun $launcher"
    sleep 0.5
    kill -KILL "$victim"
    start=$(date +%s)
    for _ in $(seq 600); do
        kill -0 $launcher 2>/dev/null || break
        sleep 0.1
    done
    if kill -0 $launcher 2>/dev/null; then
        kill -KILL $launcher
        fail "the run had not ended 60 s after rank 1 died"
    fi
    wait $launcher
    rc=$?
    echo "the run ended $(($(date +%s) - start)) s after rank 1 was killed, status $rc"
    sed 's/^/  | /' "$work/run.log" | grep -v '^  | epoch [0-9]*/[0-9]* step' | tail -n 12
    [ $rc -ne 0 ] || fail "the run exited 0"
    grep -q "exited on signal 9" "$work/run.log" || fail "no message naming the dead rank"
    ls "$work/run"
    # The checkpoint is whole: a run resumes from it (temporaries removed), in one process.
    train 0 run --resume --steps $(($(/usr/bin/python3 -c '
import json, struct, sys
d = open(sys.argv[1], "rb").read()
n = struct.unpack("<Q", d[:8])[0]
print(json.loads(d[8:8 + n])["__metadata__"]["step"])' "$work/run/last.safetensors") + 1)) ||
        fail "the checkpoint left behind does not resume"
    ! ls "$work/run" | grep -q '\.tmp\.' || fail "temporary files were left"
    ;;
batchnorm)
    # Each rank normalizes its shard by the shard's own statistics, so the trained parameters
    # are not one process's (tests/mpi/mpi_aot.sh shows what they equal). The running
    # statistics average the shards': after one step, bn1's running mean (a tenth of the mean
    # of the shards' means: the global batch's) is one process's to float32 rounding of a mean
    # over 64 x 28 x 28 values (seen: 1.2e-6; rank 0's shard alone is 8.9e-3 off). Its running
    # variance is not: the shards' variances leave out the spread between their means.
    train 0 one --steps 1 || fail "the single process failed"
    train 2 np2 --steps 1 || fail "2 processes failed"
    compare "$work/one/last.safetensors" "$work/np2/last.safetensors" \
        --prefix bn1.running_mean --rtol 0 --atol 1e-5
    # Training goes on past an epoch's end and its validation (on the running statistics), rank
    # 0 alone writing; a non-finite loss would have stopped it with an error.
    train 2 np2 --steps 16 --resume || fail "2 processes did not train on"
    grep -q "data parallel: 2 processes" "$work/np2.log" || fail "not 2 processes"
    epoch_lines "$work/np2.log" | grep -q '^epoch 1/' || fail "no figures for the first epoch"
    [ "$(ls "$work/np2" | tr '\n' ' ')" = "best.safetensors last.safetensors metrics.jsonl " ] ||
        fail "other files were written: $(ls "$work/np2")"
    ;;
*)
    fail "unknown test $what"
    ;;
esac
echo PASS
