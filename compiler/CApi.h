#pragma once
// The plain C API of an AOT-compiled model, generated from the program's list of pipelines
// (compiler/Program.h): the text of `<model>.h` and of the small C file of wrappers that turn
// flat pointers into halide_buffer_t, check every argument, and call the raw entry points. Each
// argument's C parameter, checks and buffers come from its role, so a new pipeline in the list
// gets its wrapper, prototype and documentation without code of its own here.
//
// Return codes of every wrapper (runtime/ModelApi.h, also in the header):
//   0 success, 1 a null pointer, 2 batch < 1 or too large, 3 a label out of range,
//   4 the generated code failed (it prints Halide's message to stderr), 5 the schedule needs the
//   run's length and none was given, 6 a negative step.

#include "compiler/Graph.h"
#include "compiler/ParamLayout.h"
#include "compiler/Program.h"

#include <string>

namespace netc {

/// `<model>.h`: macros, the parameter table, the plain API of every pipeline in the object, and
/// `raw_declarations` (the prototypes of the raw `halide_buffer_t` entry points).
std::string c_header(const Graph &graph, const ParamLayout &layout, const Program &program,
                     const std::string &raw_declarations, int64_t total_steps);

/// The wrappers, the parameter table and `<model>_model`, as C99 compiled into the object.
std::string c_wrappers(const Graph &graph, const ParamLayout &layout, const Program &program,
                       int64_t total_steps);

/// runtime/ModelApi.h as text (embedded at build time): every header starts with it.
extern const char *const model_api_text;
/// runtime/Workspace.h and runtime/Workspace.c as text: every object carries the workspace.
extern const char *const workspace_header_text;
extern const char *const workspace_source_text;
/// runtime/ThreadPool.h and runtime/ThreadPool.c as one text: every object carries the pool.
extern const char *const thread_pool_text;

/// The names of the raw entry points: "<model>_init_raw", "<model>_predict_raw", ...
std::string raw_entry_name(const Graph &graph, const std::string &entry);

/// The C name of a raw entry point's argument or output buffer of role `role`: "params",
/// "opt_state0", "params_out" (an output that is also an input is updated in place).
std::vector<std::string> raw_argument_names(const PipelineSpec &spec, Role role, bool output,
                                            int slots);

}  // namespace netc
