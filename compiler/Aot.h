#pragma once
// Ahead-of-time compilation: every entry point of a model into one object file that carries the
// Halide runtime and the plain C API, plus its C header. The object links with
// `cc app.c model.o -lpthread -ldl -lm`; no libHalide and no C++ runtime.
//
// The C wrappers are compiled with the system C compiler ($CC, default cc) and merged with
// Halide's object by a relocatable link ($LD, default ld), so the result is one ordinary .o.

#include "compiler/Graph.h"
#include "compiler/LowerProgram.h"
#include "compiler/ParamLayout.h"
#include "compiler/Schedule.h"

#include <optional>
#include <string>
#include <vector>

namespace netc {

struct AotOptions {
    std::string output;           // "out/name.o": the other outputs take its stem ("out/name.h")
    std::string target = "host";  // a Halide target string
    std::vector<std::string> emit = {"object", "header"};  // see aot_output_kinds()
    int64_t total_steps = 0;  // the run's length for schedules without `steps`; 0: unknown
    std::optional<EmbeddedWeights> weights;  // adds <model>_predict_embedded
    Strategy strategy = Strategy::Netc;      // how every pipeline is scheduled
};

/// The kinds --emit accepts for AOT, with the file suffix each writes.
const std::vector<std::pair<std::string, std::string>> &aot_output_kinds();

/// Compiles and writes the requested outputs. Each file is written to a temporary name and
/// renamed into place, so a failure never leaves a half-written output. Returns false with
/// `error` set (naming the file or the tool that failed) on failure.
bool compile_aot(const Graph &graph, const ParamLayout &layout, const AotOptions &options,
                 std::string &error);

}  // namespace netc
