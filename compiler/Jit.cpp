#include "compiler/Jit.h"

#include "compiler/Knn.h"
#include "compiler/Optimizer.h"
#include "dsl/Error.h"
#include "runtime/ThreadPool.h"
#include "runtime/Workspace.h"

#include <stdexcept>

namespace netc {

using namespace Halide;

Buffer<float> wrap(const float *data, std::vector<int> extents) {
    // Inputs are never written; Halide's Buffer has no const-element constructor for host data.
    return Buffer<float>(const_cast<float *>(data), extents);
}

struct JitModel::Evaluator {
    ImageParam params{Float(32), 1, "params"};
    ImageParam images{Float(32), 2, "images"};
    Param<uint32_t> rng_key{"rng_key"};
    Pipeline pipeline;
};

struct JitModel::Compiled {
    LoweredPipeline lowered;
};

JitModel::JitModel(Graph graph, ParamLayout layout, Target target, Strategy strategy)
    : graph_(std::move(graph)), layout_(std::move(layout)), target_(target), strategy_(strategy),
      program_(build_program(graph_, {strategy, false})) {}

JitModel::~JitModel() = default;

namespace {

/// The images as the pipelines take them: one row of C*H*W floats (NCHW) per sample.
std::vector<int> image_rows(const Shape &s, int batch) { return {(int)s.elements(), batch}; }

/// The image gradient's extents, (x, y, c, n): NCHW as well.
std::vector<int> image_extents(const Shape &s, int batch) {
    return {(int)s.dims[2], (int)s.dims[1], (int)s.dims[0], batch};
}

void *jit_malloc(JITUserContext *, size_t size) { return netc_workspace_malloc(nullptr, size); }
void jit_free(JITUserContext *, void *p) { netc_workspace_free(nullptr, p); }
int jit_do_par_for(JITUserContext *context, int (*task)(JITUserContext *, int, uint8_t *), int min,
                   int size, uint8_t *closure) {
    return netc_do_par_for(context, reinterpret_cast<int (*)(void *, int, uint8_t *)>(task), min,
                           size, closure);
}

}  // namespace

JitModel::Compiled &JitModel::compiled(const PipelineSpec &spec) {
    std::unique_ptr<Compiled> &c = compiled_[spec.name];
    if (c) return *c;
    auto fresh = std::make_unique<Compiled>();
    LowerOptions options;
    options.batch_estimate = (int)graph_.train.batch;
    fresh->lowered = lower_pipeline(program_, graph_, layout_, spec, options);
    schedule_pipeline(fresh->lowered, strategy_, target_);
    Pipeline &pipeline = fresh->lowered.pipeline;
    // Intermediates come from the workspace, so a step allocates nothing once it has run; the
    // parallel loops run on netc's pool.
    pipeline.jit_handlers().custom_malloc = jit_malloc;
    pipeline.jit_handlers().custom_free = jit_free;
    pipeline.jit_handlers().custom_do_par_for = jit_do_par_for;
    compile_reporting(strategy_, spec.name, [&] { pipeline.compile_jit(target_); });
    c = std::move(fresh);
    return *c;
}

void JitModel::compile(const std::vector<std::string> &names) {
    for (const std::string &name : names) {
        const PipelineSpec *spec = program_.find(name);
        internal_assert(spec);
        if (spec->lowered()) {
            compiled(*spec);
        } else {
            compile(spec->composed_of);
        }
    }
}

void JitModel::run(const std::string &name, const Call &call) {
    const PipelineSpec *spec = program_.find(name);
    if (!spec) internal_error("model " + graph_.model + " has no pipeline " + name);
    if (spec->has_input(Role::Images)) internal_assert(call.batch >= 1);
    if (spec->has_input(Role::Labels)) {
        for (int n = 0; n < call.batch; n++) {
            if (call.labels[n] < 0 || call.labels[n] >= graph_.classes) {
                throw std::invalid_argument("label " + std::to_string(call.labels[n]) +
                                            " of sample " + std::to_string(n) + " is outside [0, " +
                                            std::to_string(graph_.classes) + ")");
            }
        }
    }
    if (spec->has_input(Role::ReferenceLabels)) {
        for (int r = 0; r < call.reference_count; r++) {
            if (call.reference_labels[r] < 0 || call.reference_labels[r] >= graph_.classes) {
                throw std::invalid_argument(
                    "label " + std::to_string(call.reference_labels[r]) + " of reference sample " +
                    std::to_string(r) + " is outside [0, " + std::to_string(graph_.classes) + ")");
            }
        }
    }
    if (spec->has_input(Role::Reference) && call.reference_count < knn_k(graph_)) {
        throw std::invalid_argument("the reference set holds " +
                                    std::to_string(call.reference_count) +
                                    " samples, fewer than k = " + std::to_string(knn_k(graph_)));
    }
    if (spec->has_input(Role::Step) && call.step < 0) {
        throw std::invalid_argument("step " + std::to_string(call.step) + " is negative");
    }
    if (spec->has_input(Role::SampleOffset) && call.sample_offset < 0) {
        throw std::invalid_argument("sample_offset " + std::to_string(call.sample_offset) +
                                    " is negative");
    }
    if (!spec->lowered()) {
        // Composed: each part in turn, the gradient arena in between from the workspace.
        Call part = call;
        if (!part.grad) {
            grad_workspace_.resize((size_t)layout_.total);
            part.grad = grad_workspace_.data();
        }
        for (const std::string &p : spec->composed_of) run(p, part);
        return;
    }
    LoweredPipeline &p = compiled(*spec).lowered;
    int total = (int)layout_.total;
    int slots = (int)p.state.size();
    const int features = graph_.is_knn() ? (int)knn_feature_count(graph_) : 0;
    const int k = graph_.is_knn() ? knn_k(graph_) : 0;
    // In place: the update reads each parameter only at its own index, after every other stage.
    for (Role r : spec->inputs) {
        switch (r) {
        case Role::Seed: p.seed.set(call.seed); break;
        case Role::Params: p.params.set(wrap(call.params, {total})); break;
        case Role::OptState:
            for (int k = 0; k < slots; k++) {
                p.state[k].set(Buffer<float>(call.opt_state + (size_t)k * total, total));
            }
            break;
        case Role::Images:
            p.images.set(wrap(call.images, image_rows(graph_.input, call.batch)));
            break;
        case Role::Labels:
            p.labels.set(Buffer<int32_t>(const_cast<int32_t *>(call.labels), call.batch));
            break;
        case Role::Step: p.step.set(call.step); break;
        case Role::SampleOffset: p.sample_offset.set(call.sample_offset); break;
        case Role::TotalSteps: p.total_steps.set(total_steps_); break;
        case Role::Gradient: p.grad.set(wrap(call.grad, {total})); break;
        case Role::Reference:
            p.reference.set(wrap(call.reference, {features, call.reference_count}));
            break;
        case Role::ReferenceLabels:
            p.reference_labels.set(Buffer<int32_t>(const_cast<int32_t *>(call.reference_labels),
                                                   call.reference_count));
            break;
        default: internal_error(std::string("unexpected input ") + role_name(r));
        }
    }
    std::vector<Buffer<>> outputs;
    for (Role r : spec->outputs) {
        switch (r) {
        case Role::Params: outputs.push_back(Buffer<float>(call.params, total)); break;
        case Role::OptState:
            for (int k = 0; k < slots; k++) {
                outputs.push_back(Buffer<float>(call.opt_state + (size_t)k * total, total));
            }
            break;
        case Role::Gradient: outputs.push_back(Buffer<float>(call.grad, total)); break;
        case Role::Losses: outputs.push_back(Buffer<float>(call.losses, 3)); break;
        case Role::Probs:
            outputs.push_back(Buffer<float>(call.probs, (int)graph_.classes, call.batch));
            break;
        case Role::ImageGradient:
            outputs.push_back(
                Buffer<float>(call.image_grad, image_extents(graph_.input, call.batch)));
            break;
        case Role::Features:
            outputs.push_back(Buffer<float>(call.features, features, call.batch));
            break;
        case Role::Neighbors:
            outputs.push_back(Buffer<int32_t>(call.neighbors, k, call.batch));
            break;
        case Role::Distances:
            outputs.push_back(Buffer<float>(call.distances, k, call.batch));
            break;
        default: internal_error(std::string("unexpected output ") + role_name(r));
        }
    }
    p.pipeline.realize(Realization(outputs), target_);
}

void JitModel::init(uint64_t seed, float *params) {
    Call c;
    c.seed = seed;
    c.params = params;
    run("init", c);
}

void JitModel::predict(const float *params, const float *images, int batch, float *probs) {
    Call c;
    c.params = const_cast<float *>(params);  // read only: predict has no Params output
    c.images = images;
    c.batch = batch;
    c.probs = probs;
    run("predict", c);
}

int64_t JitModel::opt_state_count() const {
    return optimizer_state_slots(graph_.train.optimizer) * layout_.total;
}

namespace {

JitModel::StepResult step_result(const float losses[3]) {
    return {losses[0], losses[1], losses[2]};
}

JitModel::Call training_call(const float *params, const float *images, const int32_t *labels,
                             int batch, int64_t step, float *losses) {
    JitModel::Call c;
    c.params = const_cast<float *>(params);  // written only by pipelines that output Params
    c.images = images;
    c.labels = labels;
    c.batch = batch;
    c.step = step;
    c.losses = losses;
    return c;
}

}  // namespace

JitModel::StepResult JitModel::train_step(float *params, float *opt_state, const float *images,
                                          const int32_t *labels, int batch, int64_t step) {
    float losses[3] = {0, 0, 0};
    Call c = training_call(params, images, labels, batch, step, losses);
    c.opt_state = opt_state;
    run("train_step", c);
    return step_result(losses);
}

JitModel::StepResult JitModel::gradient(const float *params, const float *images,
                                        const int32_t *labels, int batch, int64_t step, float *grad,
                                        int32_t sample_offset) {
    float losses[3] = {0, 0, 0};
    Call c = training_call(params, images, labels, batch, step, losses);
    c.grad = grad;
    c.sample_offset = sample_offset;
    run("gradient", c);
    return step_result(losses);
}

void JitModel::apply_update(float *params, float *opt_state, const float *grad, int64_t step) {
    Call c;
    c.params = params;
    c.opt_state = opt_state;
    c.grad = const_cast<float *>(grad);  // read only: apply_update has no Gradient output
    c.step = step;
    run("apply_update", c);
}

JitModel::Gradient JitModel::gradient_check(const float *params, const float *images,
                                            const int32_t *labels, int batch, int64_t step) {
    float losses[3] = {0, 0, 0};
    Gradient g;
    g.params.resize(layout_.total);
    g.images.resize((size_t)graph_.input.elements() * batch);
    Call c = training_call(params, images, labels, batch, step, losses);
    c.grad = g.params.data();
    c.image_grad = g.images.data();
    run("gradient_check", c);
    // The check compares trained tensors only; buffer slots hold batch statistics.
    for (const ParamEntry &e : layout_.entries) {
        if (!e.trainable()) std::fill_n(g.params.begin() + e.offset, e.size, 0.0f);
    }
    g.losses = step_result(losses);
    return g;
}

JitModel::StepResult JitModel::loss(const float *params, const float *images, const int32_t *labels,
                                    int batch, int64_t step) {
    float losses[3] = {0, 0, 0};
    run("loss", training_call(params, images, labels, batch, step, losses));
    return step_result(losses);
}

std::vector<float> JitModel::evaluate(int node, Mode mode, const float *params, const float *images,
                                      int batch, uint32_t rng_key) {
    internal_assert(node >= 0 && node < (int)graph_.nodes.size());
    auto key = std::make_pair(node, (int)mode);
    std::shared_ptr<Evaluator> &ev = evaluators_[key];
    if (!ev) {
        ev = std::make_shared<Evaluator>();
        constrain_inputs(graph_, layout_, ev->params, ev->images, (int)graph_.train.batch);
        Forward fwd = lower_forward(graph_, layout_, mode, ev->params, ev->images,
                                    ev->images.dim(1).extent(), ev->rng_key);
        schedule_nodes(graph_, fwd, target_, {node});
        Func value = fwd.values[node].out;
        if (node == 0) value.compute_root();
        ev->pipeline = Pipeline(value);
        ev->pipeline.compile_jit(target_);
    }
    ev->params.set(wrap(params, {(int)layout_.total}));
    ev->images.set(wrap(images, image_rows(graph_.input, batch)));
    ev->rng_key.set(rng_key);
    const Shape &s = graph_.nodes[node].shape;
    std::vector<float> out((size_t)s.elements() * batch);
    if (s.rank() == 3) {
        int c = (int)s.dims[0], h = (int)s.dims[1], w = (int)s.dims[2];
        Buffer<float> channels_last(c, w, h, batch);
        ev->pipeline.realize(channels_last, target_);
        for (int n = 0; n < batch; n++)
            for (int k = 0; k < c; k++)
                for (int y = 0; y < h; y++)
                    for (int x = 0; x < w; x++)
                        out[(((size_t)n * c + k) * h + y) * w + x] = channels_last(k, x, y, n);
    } else {
        Buffer<float> flat(out.data(), (int)s.dims[0], batch);
        ev->pipeline.realize(flat, target_);
    }
    return out;
}

}  // namespace netc
