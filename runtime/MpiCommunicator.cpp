#include "runtime/MpiCommunicator.h"

#include <mpi.h>

#include <chrono>
#include <climits>
#include <cstdio>
#include <cstdlib>
#include <string>

namespace netc::runtime {

namespace {

int64_t now_ms() {
    return std::chrono::duration_cast<std::chrono::milliseconds>(
               std::chrono::steady_clock::now().time_since_epoch())
        .count();
}

std::string mpi_error(int code) {
    char text[MPI_MAX_ERROR_STRING];
    int length = 0;
    if (MPI_Error_string(code, text, &length) != MPI_SUCCESS)
        return "MPI error " + std::to_string(code);
    return std::string(text, (size_t)length);
}

}  // namespace

Result<std::unique_ptr<MpiCommunicator>> MpiCommunicator::init(double timeout_seconds) {
    int initialized = 0;
    MPI_Initialized(&initialized);
    if (!initialized) {
        int code = MPI_Init(nullptr, nullptr);
        if (code != MPI_SUCCESS) {
            return Result<std::unique_ptr<MpiCommunicator>>::error("MPI_Init failed: " +
                                                                   mpi_error(code));
        }
    }
    MPI_Comm_set_errhandler(MPI_COMM_WORLD, MPI_ERRORS_RETURN);
    int rank = 0, size = 1;
    MPI_Comm_rank(MPI_COMM_WORLD, &rank);
    MPI_Comm_size(MPI_COMM_WORLD, &size);
    return std::unique_ptr<MpiCommunicator>(new MpiCommunicator(rank, size, timeout_seconds));
}

MpiCommunicator::MpiCommunicator(int rank, int size, double timeout_seconds)
    : rank_(rank), size_(size), timeout_seconds_(timeout_seconds) {
    if (timeout_seconds_ > 0) watchdog_ = std::thread([this] { watch(); });
}

MpiCommunicator::~MpiCommunicator() {
    stop_ = true;
    if (watchdog_.joinable()) watchdog_.join();
    int finalized = 0;
    MPI_Finalized(&finalized);
    if (!finalized) MPI_Finalize();
}

void MpiCommunicator::watch() {
    while (!stop_) {
        std::this_thread::sleep_for(std::chrono::milliseconds(200));
        const int64_t since = waiting_since_ms_.load();
        if (since == 0 || (double)(now_ms() - since) < timeout_seconds_ * 1000.0) continue;
        // The other ranks did not answer: one hangs, or the network between them does. Ending
        // this process makes mpirun end the rest; MPI_Abort from this thread is not allowed
        // under MPI_THREAD_SINGLE.
        std::fprintf(stderr,
                     "netc: error: rank %d: no answer from the other processes of the run for "
                     "%.0f s (in %s); giving up (set NETC_MPI_TIMEOUT to wait longer)\n",
                     rank_, timeout_seconds_, waiting_for_.load());
        std::fflush(stderr);
        std::_Exit(1);
    }
}

template <typename Call> Status MpiCommunicator::collective(const char *what, Call call) {
    waiting_for_ = what;
    waiting_since_ms_ = now_ms();
    const int code = call();
    waiting_since_ms_ = 0;
    if (code == MPI_SUCCESS) return {};
    return Status::error(std::string(what) + " across the processes failed: " + mpi_error(code));
}

Status MpiCommunicator::all_reduce_sum(float *values, int64_t count) {
    if (count > INT_MAX) return Status::error("all-reduce of more than 2^31 floats");
    return collective("the all-reduce", [&] {
        return MPI_Allreduce(MPI_IN_PLACE, values, (int)count, MPI_FLOAT, MPI_SUM, MPI_COMM_WORLD);
    });
}

Status MpiCommunicator::all_reduce_sum(double *values, int64_t count) {
    if (count > INT_MAX) return Status::error("all-reduce of more than 2^31 doubles");
    return collective("the all-reduce", [&] {
        return MPI_Allreduce(MPI_IN_PLACE, values, (int)count, MPI_DOUBLE, MPI_SUM, MPI_COMM_WORLD);
    });
}

Status MpiCommunicator::broadcast(void *data, int64_t bytes, int root) {
    if (bytes > INT_MAX) return Status::error("broadcast of more than 2 GiB");
    return collective("the broadcast",
                      [&] { return MPI_Bcast(data, (int)bytes, MPI_BYTE, root, MPI_COMM_WORLD); });
}

void MpiCommunicator::abort(int code) {
    MPI_Abort(MPI_COMM_WORLD, code);
    std::_Exit(code);
}

}  // namespace netc::runtime
