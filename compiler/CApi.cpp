#include "compiler/CApi.h"

#include "compiler/Knn.h"

#include "compiler/LrSchedule.h"
#include "compiler/Optimizer.h"
#include "compiler/Settings.h"
#include "dsl/Error.h"

#include <fmt/format.h>

#include <algorithm>
#include <cctype>
#include <set>

namespace netc {

namespace {

std::string upper(std::string s) {
    std::transform(s.begin(), s.end(), s.begin(), [](unsigned char c) { return std::toupper(c); });
    return s;
}

/// What the generated C knows of a model: names and the macros' prefix.
struct Names {
    std::string m, M;  // "fashion_mlp", "FASHION_MLP"
    int slots = 0;
    const Graph &graph;
};

/// The C parameter declaration of a role in a pipeline's plain signature.
std::string c_param(const PipelineSpec &p, Role r) {
    switch (r) {
    case Role::Seed: return "uint64_t seed";
    case Role::Params: return p.has_output(r) ? "float *params" : "const float *params";
    case Role::OptState: return "float *opt_state";
    case Role::Images: return "const float *images";
    case Role::Labels: return "const int32_t *labels";
    case Role::Batch: return "int32_t batch";
    case Role::Step: return "int64_t step";
    case Role::SampleOffset: return "int32_t sample_offset";
    case Role::Gradient: return p.has_output(r) ? "float *grad" : "const float *grad";
    case Role::Losses: return "float losses[3]";
    case Role::Probs: return "float *probs";
    case Role::Features: return "float *features";
    case Role::Reference: return "const float *reference";
    case Role::ReferenceLabels: return "const int32_t *reference_labels";
    case Role::ReferenceCount: return "int32_t reference_count";
    case Role::Neighbors: return "int32_t *neighbors";
    case Role::Distances: return "float *distances";
    default: return "";  // not a C parameter
    }
}

bool is_pointer(Role r) {
    return r == Role::Params || r == Role::OptState || r == Role::Images || r == Role::Labels ||
           r == Role::Gradient || r == Role::Losses || r == Role::Probs || r == Role::Features ||
           r == Role::Reference || r == Role::ReferenceLabels || r == Role::Neighbors ||
           r == Role::Distances;
}

std::string signature(const Names &n, const PipelineSpec &p) {
    std::string params;
    for (Role r : p.c_params) params += (params.empty() ? "" : ", ") + c_param(p, r);
    return fmt::format("int32_t {}_{}({})", n.m, p.name, params);
}

/// The header's comment on a pipeline: its summary, then what each of its arguments means.
std::string documentation(const Names &n, const PipelineSpec &p) {
    std::vector<std::string> lines = {p.summary + "."};
    const std::string &M = n.M;
    auto has = [&](Role r) { return p.has_input(r) || p.has_output(r); };
    if (p.has_output(Role::Params) && p.has_input(Role::Params)) {
        lines.push_back(p.has_input(Role::OptState)
                            ? "params and opt_state (" + M +
                                  "_OPT_STATE_COUNT floats, zeroed before the first step) are "
                                  "updated in place."
                            : "params is updated in place.");
    } else if (p.has_output(Role::Params)) {
        lines.push_back("params receives " + M + "_PARAM_COUNT floats.");
    }
    if (has(Role::Images)) {
        lines.push_back(
            "images: batch x " + M + "_INPUT_SIZE floats, NCHW" +
            (p.name == "predict_embedded" ? ", raw in [0, 1] (normalized inside)" : "") + ".");
    }
    if (has(Role::Labels)) {
        lines.push_back("labels outside [0, " + M +
                        "_CLASSES) give NETC_ERROR_BAD_LABEL and change nothing.");
    }
    if (has(Role::Step)) {
        lines.push_back("step counts from 0 and drives the learning-rate schedule and the dropout "
                        "masks; a negative step gives NETC_ERROR_BAD_STEP.");
    }
    if (has(Role::SampleOffset)) {
        lines.push_back("sample_offset is the index of the batch's first sample in the step's "
                        "global batch: 0 in one process; under data parallelism, the rank's "
                        "shard offset (dropout masks are keyed by the global sample index); a "
                        "negative one gives NETC_ERROR_BAD_SAMPLE_OFFSET.");
    }
    if (p.has_output(Role::Gradient)) {
        lines.push_back("grad receives " + M +
                        "_PARAM_COUNT floats: dL/dparams at each trained "
                        "tensor, the batch statistic at each batchnorm buffer.");
    } else if (p.has_input(Role::Gradient)) {
        lines.push_back("grad: a gradient arena as <model>_gradient writes it (summed or averaged "
                        "across processes first, if you like).");
    }
    if (p.has_output(Role::Losses)) {
        lines.push_back("losses receives the data loss (batch mean), the regularization and the "
                        "learning rate.");
    }
    if (p.has_output(Role::Probs)) {
        lines.push_back("probs receives batch x " + M + "_CLASSES" +
                        (has(Role::Reference) ? ": each class's share of the k votes." : "."));
    }
    if (has(Role::Features)) {
        lines.push_back("features receives batch x " + M +
                        "_FEATURES floats: a row of the reference set per image.");
    }
    if (has(Role::Reference)) {
        lines.push_back("reference: reference_count x " + M +
                        "_FEATURES floats, the features of the stored training samples (as "
                        "<model>_features gives them, or the checkpoint's reference.features); "
                        "fewer than " +
                        M + "_K samples give NETC_ERROR_BAD_REFERENCE.");
    }
    if (has(Role::ReferenceLabels)) {
        lines.push_back("reference_labels: the class of each reference sample; one outside [0, " +
                        M + "_CLASSES) gives NETC_ERROR_BAD_LABEL.");
    }
    if (has(Role::Neighbors)) {
        lines.push_back("neighbors and distances receive batch x " + M +
                        "_K: the reference indices of the nearest samples, nearest first, and "
                        "their distances.");
    }
    std::string out = "/* ";
    size_t column = 3;
    for (const std::string &line : lines) {
        size_t start = 0;
        while (start < line.size()) {  // word-wrap at 96 columns
            size_t end = line.find(' ', start);
            if (end == std::string::npos) end = line.size();
            std::string word = line.substr(start, end - start);
            if (column + word.size() + 1 > 96) {
                out += "\n * ";
                column = 3;
            } else if (column > 3) {
                out += " ";
                column++;
            }
            out += word;
            column += word.size();
            start = end + 1;
        }
    }
    return out + " */\n";
}

std::vector<const PipelineSpec *> object_pipelines(const Program &program) {
    std::vector<const PipelineSpec *> out;
    for (const PipelineSpec &p : program.pipelines) {
        if (p.in_object) out.push_back(&p);
    }
    return out;
}

/// The wrapper of a pipeline with a raw entry point of its own.
std::string lowered_wrapper(const Names &n, const PipelineSpec &p, bool needs_length) {
    std::string decls, checks, setup, args;
    auto buffer = [&](const std::string &b, const std::string &data, const char *type, int dims,
                      const std::string &extents) {
        decls += fmt::format("    halide_buffer_t {0};\n    halide_dimension_t {0}_dims[{1}];\n", b,
                             dims);
        setup += fmt::format("    {{\n        const int32_t extents[{0}] = {{{1}}};\n        "
                             "netc_buffer(&{2}, {2}_dims, {3}, {4}, {0}, extents);\n    }}\n",
                             dims, extents, b, data, type);
    };
    auto arg = [&](const std::string &a) { args += (args.empty() ? "" : ", ") + a; };
    std::string arena = n.M + "_PARAM_COUNT";
    for (Role r : p.c_params) {
        if (!is_pointer(r)) continue;
        std::string name = role_name(r);
        checks +=
            r == Role::OptState
                ? fmt::format("    if ({} > 0 && !opt_state) return NETC_ERROR_NULL_POINTER;\n",
                              n.slots)
                : fmt::format("    if (!{}) return NETC_ERROR_NULL_POINTER;\n", name);
    }
    if (p.has_input(Role::Images)) {
        checks += fmt::format(
            "    if (!netc_batch_ok(batch, {}_INPUT_SIZE)) return NETC_ERROR_BAD_BATCH;\n", n.M);
    }
    if (p.has_input(Role::Labels)) {
        checks +=
            fmt::format("    for (int32_t n = 0; n < batch; n++) {{\n        if (labels[n] < "
                        "0 || labels[n] >= {}_CLASSES) return NETC_ERROR_BAD_LABEL;\n    }}\n",
                        n.M);
    }
    if (p.has_input(Role::Reference)) {
        checks += fmt::format("    if (reference_count < {0}_K || !netc_batch_ok(reference_count, "
                              "{0}_FEATURES)) return NETC_ERROR_BAD_REFERENCE;\n",
                              n.M);
    }
    if (p.has_input(Role::ReferenceLabels)) {
        checks +=
            fmt::format("    for (int32_t r = 0; r < reference_count; r++) {{\n        if "
                        "(reference_labels[r] < 0 || reference_labels[r] >= {}_CLASSES) return "
                        "NETC_ERROR_BAD_LABEL;\n    }}\n",
                        n.M);
    }
    if (p.has_input(Role::Step)) checks += "    if (step < 0) return NETC_ERROR_BAD_STEP;\n";
    if (p.has_input(Role::SampleOffset)) {
        checks += "    if (sample_offset < 0) return NETC_ERROR_BAD_SAMPLE_OFFSET;\n";
    }
    if (p.has_input(Role::TotalSteps) && needs_length) {
        checks += "    if (netc_total_steps < 1) return NETC_ERROR_NO_SCHEDULE_LENGTH;\n";
    }
    // Each buffer role gets one halide_buffer_t, made the first time it appears: an output that is
    // also an input (params, opt_state) is the same memory, read and written in place.
    std::set<Role> made;
    auto address = [](const std::string &b) {
        std::string out = "&";  // not "&" + b: GCC 12 warns falsely (-Wrestrict)
        return out += b;
    };
    auto buffers_of = [&](Role r) -> std::vector<std::string> {
        bool make = made.insert(r).second;
        auto one = [&](const std::string &b, const std::string &data, const char *type, int dims,
                       const std::string &extents) {
            if (make) buffer(b, data, type, dims, extents);
            return std::vector<std::string>{address(b)};
        };
        switch (r) {
        case Role::Params: return one("b_params", "params", "halide_type_float", 1, arena);
        case Role::OptState: {
            std::vector<std::string> out;
            for (int k = 0; k < n.slots; k++) {
                std::string b = "b_opt_state" + std::to_string(k);
                if (make) {
                    buffer(b, fmt::format("opt_state + (size_t){} * {}", k, arena),
                           "halide_type_float", 1, arena);
                }
                out.push_back(address(b));
            }
            return out;
        }
        case Role::Images:  // one row of C*H*W floats (NCHW) per sample
            return one("b_images", "images", "halide_type_float", 2, n.M + "_INPUT_SIZE, batch");
        case Role::Labels: return one("b_labels", "labels", "halide_type_int", 1, "batch");
        case Role::Gradient: return one("b_grad", "grad", "halide_type_float", 1, arena);
        case Role::Losses: return one("b_losses", "losses", "halide_type_float", 1, "3");
        case Role::Probs:
            return one("b_probs", "probs", "halide_type_float", 2, n.M + "_CLASSES, batch");
        case Role::Features:
            return one("b_features", "features", "halide_type_float", 2, n.M + "_FEATURES, batch");
        case Role::Reference:
            return one("b_reference", "reference", "halide_type_float", 2,
                       n.M + "_FEATURES, reference_count");
        case Role::ReferenceLabels:
            return one("b_reference_labels", "reference_labels", "halide_type_int", 1,
                       "reference_count");
        case Role::Neighbors:
            return one("b_neighbors", "neighbors", "halide_type_int", 2, n.M + "_K, batch");
        case Role::Distances:
            return one("b_distances", "distances", "halide_type_float", 2, n.M + "_K, batch");
        default: internal_error(std::string("role ") + role_name(r) + " has no buffer");
        }
    };
    for (Role r : p.inputs) {
        if (r == Role::Seed || r == Role::Step || r == Role::SampleOffset) {
            arg(role_name(r));
        } else if (r == Role::TotalSteps) {
            arg("netc_total_steps");
        } else {
            for (const std::string &b : buffers_of(r)) arg(b);
        }
    }
    for (Role r : p.outputs) {
        for (const std::string &b : buffers_of(r)) arg(b);
    }
    return fmt::format("{} {{\n{}    netc_install_runtime();\n{}{}    return "
                       "netc_status({}_{}_raw({}));\n}}\n",
                       signature(n, p), decls, checks, setup, n.m, p.name, args);
}

/// The wrapper of a pipeline composed of others: each part in turn, the gradient arena between
/// them in the workspace.
std::string composed_wrapper(const Names &n, const Program &program, const PipelineSpec &p) {
    std::string body;
    for (const std::string &part : p.composed_of) {
        const PipelineSpec *q = program.find(part);
        std::string args;
        for (Role r : q->c_params) {
            // A one-process step: its batch is the whole global batch, from sample 0.
            const bool own = r != Role::SampleOffset ||
                             std::find(p.c_params.begin(), p.c_params.end(), r) != p.c_params.end();
            args += (args.empty() ? "" : ", ") + std::string(own ? role_name(r) : "0");
        }
        body += fmt::format("    if (status == NETC_OK) status = {}_{}({});\n", n.m, part, args);
    }
    return fmt::format(
        "{} {{\n    int32_t status = NETC_OK;\n    float *grad;\n    netc_install_runtime();\n"
        "    grad = (float *)netc_workspace_malloc(NULL, sizeof(float) * {}_PARAM_COUNT);\n"
        "    if (!grad) return NETC_ERROR_RUNTIME;\n{}    netc_workspace_free(NULL, grad);\n"
        "    return status;\n}}\n",
        signature(n, p), n.M, body);
}

/// netc_model's entry fields, in ModelApi.h's order: the object's function, or NULL.
std::string model_entries(const Names &n, const Program &program) {
    std::string out;
    for (const char *entry : {"init", "predict", "gradient", "apply_update", "train_step"}) {
        const PipelineSpec *p = program.find(entry);
        out += fmt::format("    {},\n", p && p->in_object ? n.m + "_" + entry : "NULL");
    }
    out += program.trainable ? fmt::format("    {}_set_total_steps,\n", n.m) : "    NULL,\n";
    const PipelineSpec *embedded = program.find("predict_embedded");
    out += fmt::format("    {},\n", embedded ? n.m + "_predict_embedded" : "NULL");
    const bool knn = n.graph.is_knn();
    out += fmt::format("    {}, {},\n", knn ? knn_feature_count(n.graph) : 0,
                       knn ? knn_k(n.graph) : 0);
    for (const char *entry : {"features", "classify", "neighbors"}) {
        out += fmt::format("    {},\n", program.find(entry) ? n.m + "_" + entry : "NULL");
    }
    return out;
}

/// The train block's augment list as netc_augment arrays (ModelApi.h): `definitions` go before
/// `<model>_model`, `fields` (augment_count, augment) into it.
struct AugmentTable {
    std::string definitions, fields;
};
AugmentTable augment_table(const TrainSettings &t) {
    AugmentTable table;
    std::string list;
    for (size_t i = 0; i < t.augment.size(); i++) {
        const Choice &choice = t.augment[i];
        const std::vector<std::pair<std::string, double>> numbers =
            choice_numbers(ChoiceKind::Augmentation, choice);
        std::string params;
        for (const auto &[name, value] : numbers) {
            params += fmt::format("{}{{\"{}\", {}}}", params.empty() ? "" : ", ", name, value);
        }
        std::string params_name = "NULL";
        const size_t count = numbers.size();
        if (count > 0) {
            params_name = fmt::format("netc_augment_params{}", i);
            table.definitions += fmt::format("static const netc_augment_param {}[] = {{{}}};\n",
                                             params_name, params);
        }
        list += fmt::format("    {{\"{}\", {}, {}}},\n", choice.name, count, params_name);
    }
    if (t.augment.empty()) {
        table.fields = "0, NULL";
    } else {
        table.definitions += "static const netc_augment netc_augment_list[] = {\n" + list + "};\n";
        table.fields = fmt::format("{}, netc_augment_list", t.augment.size());
    }
    return table;
}

}  // namespace

std::string raw_entry_name(const Graph &graph, const std::string &entry) {
    return graph.model + "_" + entry + "_raw";
}

std::vector<std::string> raw_argument_names(const PipelineSpec &spec, Role role, bool output,
                                            int slots) {
    std::string suffix = output && spec.has_input(role) ? "_out" : "";
    if (role != Role::OptState) return {role_name(role) + suffix};
    std::vector<std::string> names;
    for (int k = 0; k < slots; k++) names.push_back("opt_state" + std::to_string(k) + suffix);
    return names;
}

namespace {

/// A kNN model's sizes: features per sample and k.
std::string knn_macros(const Graph &graph) {
    if (!graph.is_knn()) return "";
    const std::string M = upper(graph.model);
    return fmt::format("#define {0}_FEATURES      {1}  /* floats of features per sample */\n"
                       "#define {0}_K             {2}  /* neighbours that vote */\n",
                       M, knn_feature_count(graph), knn_k(graph));
}

}  // namespace

std::string c_header(const Graph &graph, const ParamLayout &layout, const Program &program,
                     const std::string &raw_declarations, int64_t total_steps) {
    const std::string m = graph.model, M = upper(graph.model);
    Names n{m, M, optimizer_state_slots(graph.train.optimizer), graph};
    std::string default_length =
        !schedule_needs_total_steps(graph.train) ? "this model's schedule does not need it"
        : total_steps > 0 ? "compiled in: " + std::to_string(total_steps) + " (netc --total-steps)"
                          : "this model's schedule needs it: the training entry points return "
                            "NETC_ERROR_NO_SCHEDULE_LENGTH until it is set";
    std::string api;
    for (const PipelineSpec *p : object_pipelines(program)) {
        api += documentation(n, *p) + signature(n, *p) + ";\n\n";
    }
    if (program.trainable) {
        api += fmt::format("/* The run's length in steps, for a schedule (such as cosine) that has "
                           "no `steps` of its own;\n * {}. */\nvoid {}_set_total_steps(int64_t "
                           "steps);\n\n",
                           default_length, m);
    }
    const Shape &in = graph.input;
    std::string out = fmt::format(
        R"(/* {m}.h: generated by netc from the model '{m}'. Do not edit.
 *
 * Link: cc app.c {m}.o -lpthread -ldl -lm
 *
 * Layouts: images are NCHW floats (batch, {c}, {h}, {w}), as PyTorch's; probabilities are
 * (batch, {classes}); the parameter arena is {M}_PARAM_COUNT floats laid out as the table below
 * says, each tensor named and shaped as torch.nn names and shapes it.
 *
 * Every entry point returns NETC_OK or a NETC_ERROR_* code (below) and may be called from several
 * threads at once on different buffers. Intermediate buffers come from the workspace (see
 * netc_workspace_release below): after the first call of a batch size, a call allocates nothing.
 * Parallel loops run on netc's thread pool: HL_NUM_THREADS threads, else one per processor.
 */
#ifndef NETC_MODEL_{M}_H
#define NETC_MODEL_{M}_H

#include <stdint.h>

#define {M}_PARAM_COUNT   {total}  /* floats in the parameter arena (including batchnorm buffers) */
#define {M}_TRAINABLE_COUNT {trainable}  /* of which trained parameters */
#define {M}_INPUT_CHANNELS {c}
#define {M}_INPUT_HEIGHT  {h}
#define {M}_INPUT_WIDTH   {w}
#define {M}_INPUT_SIZE    {size}  /* floats per sample, NCHW */
#define {M}_CLASSES       {classes}
#define {M}_PARAM_TENSORS {tensors}
#define {M}_OPT_STATE_COUNT {state}  /* floats of optimizer state ({slots} x {M}_PARAM_COUNT) */
#define {M}_HAS_TRAIN_STEP {has_train}  /* 0 when an op of the model has no backward rule yet */
{knn_macros}
{model_api}
{workspace}
#ifdef __cplusplus
extern "C" {{
#endif

/* The arena's tensors, in order. */
extern const netc_param_info {m}_params[{M}_PARAM_TENSORS];

/* This model as data (see netc_model above), for drivers that run any model. */
extern const netc_model {m}_model;

{api}/* The raw entry points, over halide_buffer_t (see HalideRuntime.h), for callers who want them.
 * They return 0 or a Halide error code (halide_error_code_t); they check buffer shapes, the step
 * and the run's length themselves, but not the labels. Images are a 2-D buffer of extents
 * ({M}_INPUT_SIZE, batch), one NCHW sample per row; the arena, state and gradient 1-D; the
 * probabilities ({M}_CLASSES, batch). */
struct halide_buffer_t;
{raw}
#ifdef __cplusplus
}}
#endif
)",
        fmt::arg("m", m), fmt::arg("M", M), fmt::arg("c", in.dims[0]), fmt::arg("h", in.dims[1]),
        fmt::arg("w", in.dims[2]), fmt::arg("size", in.elements()),
        fmt::arg("classes", graph.classes), fmt::arg("total", layout.total),
        fmt::arg("trainable", layout.trainable),
        fmt::arg("tensors", std::max<size_t>(1, layout.entries.size())),
        fmt::arg("raw", raw_declarations), fmt::arg("has_train", program.trainable ? 1 : 0),
        fmt::arg("state", n.slots * layout.total), fmt::arg("slots", n.slots),
        fmt::arg("model_api", model_api_text), fmt::arg("workspace", workspace_header_text),
        fmt::arg("api", api), fmt::arg("knn_macros", knn_macros(graph)));
    out += fmt::format("\n#endif /* NETC_MODEL_{}_H */\n", M);
    return out;
}

std::string c_wrappers(const Graph &graph, const ParamLayout &layout, const Program &program,
                       int64_t total_steps) {
    const std::string m = graph.model, M = upper(graph.model);
    Names n{m, M, optimizer_state_slots(graph.train.optimizer), graph};
    const Shape &in = graph.input;
    const TrainSettings &t = graph.train;
    std::string slot_names;
    for (const std::string &name : optimizer_slot_names(t.optimizer)) {
        slot_names += (slot_names.empty() ? "\"" : ", \"") + name + "\"";
    }
    if (slot_names.empty()) slot_names = "NULL";  // C has no empty arrays
    std::string table;
    for (const ParamEntry &e : layout.entries) {
        std::string shape;
        for (int i = 0; i < 4; i++) {
            shape += (i ? ", " : "") + std::to_string(i < e.shape.rank() ? e.shape.dims[i] : 0);
        }
        table += fmt::format("    {{\"{}\", {}, {}, {{{}}}, {}}},\n", e.name, e.offset,
                             e.shape.rank(), shape, e.trainable() ? 1 : 0);
    }
    if (layout.entries.empty()) table = "    {\"\", 0, 0, {0, 0, 0, 0}, 0},\n";
    const AugmentTable augment = augment_table(t);
    bool needs_length = schedule_needs_total_steps(t);
    std::string wrappers;
    for (const PipelineSpec *p : object_pipelines(program)) {
        wrappers += "\n";  // not "\n" + ...: GCC 12 warns falsely (-Wrestrict)
        wrappers +=
            p->lowered() ? lowered_wrapper(n, *p, needs_length) : composed_wrapper(n, program, *p);
    }
    if (program.trainable) {
        wrappers += fmt::format("\nvoid {}_set_total_steps(int64_t steps) {{ netc_total_steps = "
                                "steps; }}\n",
                                m);
    }
    return fmt::format(
        R"(/* Generated by netc: the plain C API of model '{m}'. */
#define _POSIX_C_SOURCE 200809L /* pthread_once, posix_memalign under -std=c99 */
#include "{m}.h"

#include <HalideRuntime.h>
#include <stddef.h>
#include <string.h>

/* ---- the workspace (runtime/Workspace.c), shared by every model object of a program ---- */
#define NETC_WORKSPACE_WEAK __attribute__((weak))
{workspace}
/* ---- the thread pool (runtime/ThreadPool.c), shared likewise ---- */
#define NETC_THREAD_POOL_WEAK __attribute__((weak))
{thread_pool}
/* ---- the model ---- */
#include <pthread.h>

static pthread_once_t netc_runtime_once = PTHREAD_ONCE_INIT;

static void netc_runtime_set(void) {{
    halide_set_custom_malloc(netc_workspace_malloc);
    halide_set_custom_free(netc_workspace_free);
    halide_set_custom_do_par_for(netc_do_par_for);
}}

static void netc_install_runtime(void) {{ pthread_once(&netc_runtime_once, netc_runtime_set); }}

const netc_param_info {m}_params[{M}_PARAM_TENSORS] = {{
{table}}};

static int64_t netc_total_steps = {total_steps};

static void netc_buffer(halide_buffer_t *b, halide_dimension_t *dims, const void *data,
                        halide_type_code_t code, int dimensions, const int32_t *extents) {{
    int32_t stride = 1;
    memset(b, 0, sizeof *b);
    b->host = (uint8_t *)data;
    b->type.code = (uint8_t)code;
    b->type.bits = 32;
    b->type.lanes = 1;
    b->dimensions = dimensions;
    b->dim = dims;
    for (int i = 0; i < dimensions; i++) {{
        dims[i].min = 0;
        dims[i].extent = extents[i];
        dims[i].stride = stride;
        dims[i].flags = 0;
        stride *= extents[i];
    }}
}}

static int32_t netc_status(int halide_result) {{
    return halide_result == 0 ? NETC_OK : NETC_ERROR_RUNTIME;
}}

static int netc_batch_ok(int32_t batch, int64_t per_sample) {{
    return batch >= 1 && (int64_t)batch * per_sample <= INT32_MAX;
}}
{wrappers}
static const char *const netc_optimizer_slots[] = {{{slot_names}}};
{augment_definitions}
const netc_model {m}_model = {{
    "{m}", {c}, {h}, {w}, {M}_CLASSES,
    {M}_PARAM_COUNT, {tensor_count}, {m}_params,
    "{optimizer}", {M}_OPT_STATE_COUNT, {slots}, netc_optimizer_slots,
    {batch}, {epochs}, {seed}ull, {validation},
    {augment_fields}, {patience}, {min_delta},
{entries}}};
)",
        fmt::arg("m", m), fmt::arg("M", M), fmt::arg("table", table), fmt::arg("c", in.dims[0]),
        fmt::arg("h", in.dims[1]), fmt::arg("w", in.dims[2]), fmt::arg("slots", n.slots),
        fmt::arg("total_steps", total_steps), fmt::arg("wrappers", wrappers),
        fmt::arg("workspace", workspace_source_text), fmt::arg("thread_pool", thread_pool_text),
        fmt::arg("slot_names", slot_names), fmt::arg("optimizer", t.optimizer.name),
        fmt::arg("tensor_count", layout.entries.size()),  // the table pads an empty one
        fmt::arg("batch", t.batch), fmt::arg("epochs", t.epochs), fmt::arg("seed", t.seed),
        fmt::arg("validation", t.validation), fmt::arg("augment_definitions", augment.definitions),
        fmt::arg("augment_fields", augment.fields),
        fmt::arg("patience", t.early_stopping ? t.early_stopping->attrs.get_int("patience") : 0),
        fmt::arg("min_delta",
                 t.early_stopping ? t.early_stopping->attrs.get_float("min_delta") : 0.0),
        fmt::arg("entries", model_entries(n, program)));
}

}  // namespace netc
