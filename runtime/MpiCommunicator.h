#pragma once
// runtime/Communicator.h over MPI (MPI_COMM_WORLD), for `mpirun -np N netc train` and for
// applications that link netc's runtime and MPI. Built only where CMake finds MPI (the
// netc_runtime_mpi library, NETC_HAVE_MPI); nothing else in the runtime depends on it.
//
// A process that is not started by a launcher (mpirun, srun) never initializes MPI: see
// launched_ranks(). A rank that stops answering is not waited for forever: a watchdog ends this
// process with a message once one collective has waited longer than the timeout, and mpirun
// then ends the others (it also does when a rank dies).

#include "runtime/Communicator.h"
#include "runtime/Status.h"

#include <atomic>
#include <memory>
#include <thread>

namespace netc::runtime {

class MpiCommunicator final : public Communicator {
public:
    /// Initializes MPI (MPI_Init) and returns MPI_COMM_WORLD, with errors returned rather than
    /// aborting. `timeout_seconds` bounds the wait of any one collective (0: none).
    static Result<std::unique_ptr<MpiCommunicator>> init(double timeout_seconds);
    /// Finalizes MPI.
    ~MpiCommunicator() override;
    MpiCommunicator(const MpiCommunicator &) = delete;
    MpiCommunicator &operator=(const MpiCommunicator &) = delete;

    int rank() const override { return rank_; }
    int size() const override { return size_; }
    Status all_reduce_sum(float *values, int64_t count) override;
    Status all_reduce_sum(double *values, int64_t count) override;
    Status broadcast(void *data, int64_t bytes, int root) override;
    /// Ends every rank of the run now (MPI_Abort), for an error after which the others would
    /// wait for this one forever.
    [[noreturn]] void abort(int code);

private:
    MpiCommunicator(int rank, int size, double timeout_seconds);
    /// Runs `call` (an MPI collective) under the watchdog; `what` names it in errors.
    template <typename Call> Status collective(const char *what, Call call);
    void watch();

    int rank_ = 0, size_ = 1;
    double timeout_seconds_ = 0;
    std::atomic<int64_t> waiting_since_ms_{0};  // steady clock; 0: no collective in flight
    std::atomic<const char *> waiting_for_{""};
    std::atomic<bool> stop_{false};
    std::thread watchdog_;
};

}  // namespace netc::runtime
