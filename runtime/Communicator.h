#pragma once
// The processes of a data-parallel run, as the training loop (runtime/Trainer.h) sees them:
// ranks 0 .. size - 1, an element-wise sum across all of them and a broadcast from one. The
// loop needs nothing else: every rank holds the same parameters, computes the gradient of its
// shard of the global batch, and one all-reduce of the flat gradient arena per step gives every
// rank the same update.
//
// runtime/MpiCommunicator.h implements it over MPI (built where CMake finds MPI); without a
// communicator the loop runs as one process, exactly as it always has.

#include "runtime/Status.h"

#include <cstdint>
#include <cstdlib>
#include <string>

namespace netc::runtime {

class Communicator {
public:
    virtual ~Communicator() = default;

    virtual int rank() const = 0;
    virtual int size() const = 0;

    /// Sums `values` element-wise over all ranks, in place: every rank receives the same sums.
    /// Every rank must call it with the same count. An error means the run cannot go on.
    virtual Status all_reduce_sum(float *values, int64_t count) = 0;
    virtual Status all_reduce_sum(double *values, int64_t count) = 0;
    /// Copies `bytes` bytes at `data` from rank `root` to every other rank.
    virtual Status broadcast(void *data, int64_t bytes, int root) = 0;
};

/// A rank's part of `total` items split over `size` ranks: contiguous, the first total % size
/// ranks one item more, so the shards of ranks 0, 1, ... follow each other in order.
struct Shard {
    int64_t begin = 0;  // the index of the shard's first item
    int64_t count = 0;  // items in the shard (0 when total < size, for the last ranks)
};

inline Shard shard_of(int64_t total, int rank, int size) {
    const int64_t base = total / size, extra = total % size;
    Shard s;
    s.begin = rank * base + (rank < extra ? rank : extra);
    s.count = base + (rank < extra ? 1 : 0);
    return s;
}

/// The number of ranks the environment says this process was started as one of (mpirun's
/// OMPI_COMM_WORLD_SIZE, or PMIx's and PMI's, as srun sets them), 0 when none: a plain run.
inline int launched_ranks() {
    for (const char *name : {"OMPI_COMM_WORLD_SIZE", "PMIX_SIZE", "PMI_SIZE"}) {
        if (const char *value = std::getenv(name)) {
            const int n = std::atoi(value);
            if (n > 0) return n;
        }
    }
    return 0;
}

/// Every rank's `local` status, once all have one (a collective: every rank calls it): `local`
/// where it failed; where only another rank failed, an error saying so (that rank prints its
/// own); ok only when every rank is. Without a communicator, `local`. `what` says where the run
/// was ("at step 12", "while starting").
inline Status agree(Communicator *comm, const Status &local, const std::string &what) {
    if (!comm || comm->size() <= 1) return local;
    double failed = local ? 0.0 : 1.0;
    if (Status s = comm->all_reduce_sum(&failed, 1); !s) return s;
    if (!local) return local;
    if (failed > 0) {
        return Status::error("another process of the run failed " + what +
                             " (its error is printed above); this one stops too");
    }
    return {};
}

}  // namespace netc::runtime
