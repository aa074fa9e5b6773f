#pragma once
// The plain C API of an AOT-compiled model: the text of `<model>.h` and of the small C file of
// wrappers that turn flat pointers into halide_buffer_t and call the raw entry points.
//
// Return codes of every wrapper (also in the header):
//   0 success, 1 a null pointer, 2 batch < 1 or too large, 3 a label out of range,
//   4 the generated code failed (it prints Halide's message to stderr), 5 the schedule needs the
//   run's length and none was given.

#include "compiler/Graph.h"
#include "compiler/ParamLayout.h"

#include <string>

namespace netc {

/// `<model>.h`: macros, the parameter table, the plain API and `raw_declarations` (the
/// prototypes of the raw `halide_buffer_t` entry points).
/// `embedded`: the object carries trained weights and <model>_predict_embedded; `train`: it
/// carries <model>_train_step (every op of the model has a backward rule).
std::string c_header(const Graph &graph, const ParamLayout &layout,
                     const std::string &raw_declarations, int64_t total_steps, bool embedded,
                     bool train);

/// The wrappers and the parameter table, as C99 compiled into the model's object.
std::string c_wrappers(const Graph &graph, const ParamLayout &layout, int64_t total_steps,
                       bool embedded, bool train);

/// runtime/ModelApi.h as text (embedded at build time): every header starts with it.
extern const char *const model_api_text;

/// The names of the raw entry points: "<model>_init_raw", "<model>_predict_raw", ...
std::string raw_entry_name(const Graph &graph, const std::string &entry);

}  // namespace netc
