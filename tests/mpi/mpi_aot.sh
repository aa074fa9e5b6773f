#!/bin/bash
# examples/mpi_train.c, an application doing data-parallel training with the object's
# <model>_gradient, MPI_Allreduce and <model>_apply_update, under mpirun on this machine over
# loopback, against one process.
#
#   mpi_aot.sh PROGRAM MPIRUN DATA STEPS BATCH whole NP...   the parameters after STEPS steps of NP
#                                                            processes equal one process's taking
#                                                            the gradient of each whole global
#                                                            batch in one call, to 1e-5 of each
#                                                            tensor's scale
#   mpi_aot.sh PROGRAM MPIRUN DATA STEPS BATCH shards NP...  they equal one process's cutting each
#                                                            global batch into NP shards itself,
#                                                            and differ from the whole batch's:
#                                                            batchnorm normalizes each shard by its
#                                                            own statistics
set -u
program=$1 mpirun=$2 data=$3 steps=$4 batch=$5 reference=$6
shift 6
here=$(cd "$(dirname "$0")" && pwd)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
# Open MPI refuses root unless told; the machine may have fewer cores than ranks.
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
export OMPI_MCA_rmaps_base_oversubscribe=1

fail() {
    echo "FAIL: $*"
    exit 1
}

# run NP SHARDS OUT: the program under mpirun -np NP, each global batch cut into SHARDS shards.
run() {
    "$mpirun" -np "$1" "$program" "$data" "$steps" "$batch" "$work/$3.safetensors" "$2" \
        >"$work/$3.log" 2>&1
    local rc=$?
    sed 's/^/  | /' "$work/$3.log" | tail -n 4
    return $rc
}

compare() { /usr/bin/python3 "$here/compare_checkpoints.py" "$work/$1.safetensors" "$work/$2.safetensors" --rtol 1e-5; }

case $reference in
whole | shards) ;;
*) fail "unknown reference $reference" ;;
esac
for np in "$@"; do
    echo "== $np processes"
    run "$np" "$np" np$np || fail "$np processes failed"
    grep -q "^$np processes: " "$work/np$np.log" || fail "not $np processes"
    shards=$([ "$reference" = whole ] && echo 1 || echo "$np")
    [ -e "$work/one$shards.safetensors" ] || run 1 "$shards" one$shards ||
        fail "one process, $shards shards"
    compare one$shards np$np || fail "$np processes differ from one process with $shards shards"
    if [ "$reference" = shards ]; then
        # Summed in another order, the losses printed could differ in the last digit.
        diff <(grep '^step' "$work/one$shards.log") <(grep '^step' "$work/np$np.log") ||
            fail "$np processes printed other losses"
        # Were the statistics those of the whole batch, the shards would not matter.
        [ -e "$work/one1.safetensors" ] || run 1 1 one1 || fail "one process, whole batches"
        ! compare one1 np$np >/dev/null || fail "$np shards trained as the whole batch does"
    fi
done
echo PASS
