// The front end's time per MB of source (lexer, parser, graph building, shape inference,
// parameter layout: compiler/Frontend.h run_frontend) on valid models of repeated
// `dense(units=10)` / `relu` pairs, from 10 KB to 10 MB. A linear front end prints a flat
// column; issue 12 found 1.7 s at 0.5 MB and 16.5 s at 1 MB before the quadratic steps went.
// The models are generated in memory, so nothing is written to disk. CPU time of the thread is
// the figure to trust on a shared machine; wall time is printed beside it.
//
//   bench_frontend [max_mb]      (default 10; sizes 0.01, 0.1, 1, 10 MB up to max_mb)

#include "compiler/Frontend.h"

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <string>

namespace {

double thread_cpu_seconds() {
    timespec t;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

/// A valid model of about `bytes` bytes: input, flatten, dense/relu pairs, the classifier.
std::string model_of_size(size_t bytes) {
    std::string text = "model big {\n  input 1x4x4\n  classes 10\n  flatten\n";
    const std::string pair = "  dense(units=10)\n  relu\n";
    const std::string end = "  dense(units=10)\n}\n";
    while (text.size() + pair.size() + end.size() <= bytes) text += pair;
    return text + end;
}

}  // namespace

int main(int argc, char **argv) {
    double max_mb = argc > 1 ? std::atof(argv[1]) : 10;
    std::printf("%10s %10s %10s %12s %12s\n", "size", "layers", "cpu s", "cpu s/MB", "wall s/MB");
    for (double mb : {0.01, 0.1, 1.0, 10.0}) {
        if (mb > max_mb * 1.0001) break;
        std::string text = model_of_size((size_t)(mb * 1e6));
        double megabytes = (double)text.size() / 1e6;
        // Small files run several times so the figure is not a timer's resolution.
        int repeats = mb < 1 ? (int)(1 / mb) : 1;
        double cpu0 = thread_cpu_seconds();
        auto wall0 = std::chrono::steady_clock::now();
        size_t layers = 0;
        for (int r = 0; r < repeats; r++) {
            netc::Frontend f = netc::run_frontend("big.net", text);
            if (!f.ok()) {
                std::fprintf(stderr, "the generated model does not pass the front end:\n%s",
                             f.diags->render().c_str());
                return 1;
            }
            layers = f.graph->nodes.size();
        }
        double cpu = (thread_cpu_seconds() - cpu0) / repeats;
        double wall =
            std::chrono::duration<double>(std::chrono::steady_clock::now() - wall0).count() /
            repeats;
        std::printf("%8.2fMB %10zu %10.4f %12.4f %12.4f\n", megabytes, layers, cpu, cpu / megabytes,
                    wall / megabytes);
        std::fflush(stdout);
    }
    return 0;
}
