#pragma once
// How much memory this process may still take, so that a data set or a training run that cannot
// fit is refused up front with the figure it needs, instead of being killed by the OOM killer
// half-way (or swapping the machine to a halt).

#include "runtime/Status.h"

#include <cstdint>
#include <string>

namespace netc::runtime {

/// Bytes this process can still allocate: the least of the kernel's MemAvailable
/// (/proc/meminfo), the cgroup's memory.max less its memory.current (a container's limit), and
/// the address-space limit (`ulimit -v`) less what is mapped already. INT64_MAX when none of these
/// can be read.
int64_t available_memory();

/// "1.5 GiB", "640.0 MiB", "12 KiB", "300 B".
std::string format_bytes(int64_t bytes);

/// ok when `bytes` fits in available_memory(); otherwise "<what> needs <bytes> of memory
/// (<detail>), but <available> is available; <advice>", e.g. "data/train-images-idx3-ubyte: the
/// data set needs 31.2 GiB of memory (8000000 images of 28x28 as floats, and the file's bytes),
/// but 19.8 GiB is available".
Status check_memory(const std::string &what, int64_t bytes, const std::string &detail = "",
                    const std::string &advice = "");

}  // namespace netc::runtime
