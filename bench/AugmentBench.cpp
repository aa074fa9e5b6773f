// Time per batch of each augmentation alone and of the whole pipeline, on a Fashion-MNIST-sized
// batch (64x1x28x28) and a CIFAR-sized one (128x3x32x32), single-threaded. Both the thread's CPU
// time and wall time are reported (medians): on a shared machine the CPU time is the figure to
// trust, as wall time also counts the time other processes held the core.
//
//   bench_augment [repeats]

#include "runtime/Augment.h"

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <string>
#include <vector>

using namespace netc::runtime;

namespace {

double thread_cpu_seconds() {
    timespec t;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

struct Timing {
    double cpu_ms, wall_ms;  // medians per batch
};

/// Augments a fresh copy of `source` `repeats` times.
Timing time_ms(const std::vector<AugmentStep> &pipeline, const std::vector<float> &source,
               int64_t n, int c, int h, int w, int repeats) {
    std::vector<float> batch(source.size());
    std::vector<double> cpu, wall;
    for (int r = 0; r < repeats; r++) {
        std::copy(source.begin(), source.end(), batch.begin());
        const double cpu_start = thread_cpu_seconds();
        const auto start = std::chrono::steady_clock::now();
        augment_batch(pipeline, batch.data(), n, c, h, w, /*seed=*/1, /*step=*/r);
        const auto end = std::chrono::steady_clock::now();
        cpu.push_back(1e3 * (thread_cpu_seconds() - cpu_start));
        wall.push_back(std::chrono::duration<double, std::milli>(end - start).count());
    }
    std::sort(cpu.begin(), cpu.end());
    std::sort(wall.begin(), wall.end());
    return {cpu[cpu.size() / 2], wall[wall.size() / 2]};
}

}  // namespace

int main(int argc, char **argv) {
    const int repeats = argc > 1 ? std::max(1, std::atoi(argv[1])) : 200;
    struct Shape {
        int64_t n;
        int c, h, w;
    };
    const std::vector<std::pair<std::string, std::vector<AugmentStep>>> pipelines = {
        {"random_crop(pad=4)", {AugmentStep::random_crop(4)}},
        {"hflip(p=0.5)", {AugmentStep::hflip(0.5f)}},
        {"cutout(size=8)", {AugmentStep::cutout(8)}},
        {"color_jitter(0.2, 0.2)", {AugmentStep::color_jitter(0.2f, 0.2f)}},
        {"rotation(degrees=10)", {AugmentStep::rotation(10.0f)}},
        {"all five",
         {AugmentStep::random_crop(4), AugmentStep::hflip(0.5f), AugmentStep::cutout(8),
          AugmentStep::color_jitter(0.2f, 0.2f), AugmentStep::rotation(10.0f)}},
    };
    std::printf("augmentation, median of %d runs, one thread\n", repeats);
    for (const Shape s : {Shape{64, 1, 28, 28}, Shape{128, 3, 32, 32}}) {
        std::vector<float> source((size_t)(s.n * s.c * s.h * s.w));
        for (size_t i = 0; i < source.size(); i++)
            source[i] = (float)((i * 2654435761u) % 256) / 255.0f;
        std::printf("batch %lldx%dx%dx%d\n", (long long)s.n, s.c, s.h, s.w);
        for (const auto &[name, pipeline] : pipelines) {
            const Timing t = time_ms(pipeline, source, s.n, s.c, s.h, s.w, repeats);
            std::printf("  %-24s cpu %7.3f ms/batch %7.2f us/image   wall %7.3f ms/batch\n",
                        name.c_str(), t.cpu_ms, 1000.0 * t.cpu_ms / (double)s.n, t.wall_ms);
        }
    }
    return 0;
}
