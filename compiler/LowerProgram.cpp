#include "compiler/LowerProgram.h"

#include "compiler/LowerInit.h"
#include "compiler/LowerTrain.h"
#include "compiler/LrSchedule.h"
#include "compiler/Optimizer.h"
#include "compiler/TrainPasses.h"
#include "dsl/Error.h"

namespace netc {

using namespace Halide;

void constrain_inputs(const Graph &graph, const ParamLayout &layout, ImageParam &params,
                      ImageParam &images, int batch_estimate) {
    params.dim(0).set_bounds(0, (int)layout.total);
    params.set_estimates({{0, (int)layout.total}});
    const Shape &in = graph.input;  // [C, H, W]
    int c = (int)in.dims[0], h = (int)in.dims[1], w = (int)in.dims[2];
    images.dim(0).set_bounds(0, c * h * w);
    images.dim(1).set_min(0).set_stride(c * h * w);
    images.set_estimates({{0, c * h * w}, {0, batch_estimate}});
}

namespace {

void constrain_arena(ImageParam &p, const ParamLayout &layout) {
    p.dim(0).set_bounds(0, (int)layout.total);
    p.set_estimates({{0, (int)layout.total}});
}

/// Makes the Halide arguments of spec.inputs, in order, with their bounds and estimates.
void make_arguments(LoweredPipeline &p, const Graph &graph, const ParamLayout &layout,
                    int batch_estimate) {
    int slots = optimizer_state_slots(graph.train.optimizer);
    constrain_inputs(graph, layout, p.params, p.images, batch_estimate);
    p.labels.dim(0).set_min(0);
    p.labels.set_estimates({{0, batch_estimate}});
    constrain_arena(p.grad, layout);
    p.seed.set_estimate(0);
    p.step.set_estimate(0);
    p.sample_offset.set_estimate(0);
    p.total_steps.set_estimate(1000);
    for (Role r : p.spec->inputs) {
        switch (r) {
        case Role::Seed: p.arguments.push_back(p.seed); break;
        case Role::Params: p.arguments.push_back(p.params); break;
        case Role::OptState:
            for (int k = 0; k < slots; k++) {
                p.state.emplace_back(Float(32), 1, "opt_state" + std::to_string(k));
                constrain_arena(p.state.back(), layout);
                p.arguments.push_back(p.state.back());
            }
            break;
        case Role::Images: p.arguments.push_back(p.images); break;
        case Role::Labels: p.arguments.push_back(p.labels); break;
        case Role::Step: p.arguments.push_back(p.step); break;
        case Role::SampleOffset: p.arguments.push_back(p.sample_offset); break;
        case Role::TotalSteps: p.arguments.push_back(p.total_steps); break;
        case Role::Gradient: p.arguments.push_back(p.grad); break;
        case Role::Reference: p.arguments.push_back(p.reference); break;
        case Role::ReferenceLabels: p.arguments.push_back(p.reference_labels); break;
        default: internal_error(std::string("role ") + role_name(r) + " is no pipeline input");
        }
    }
}

/// The reference set: rows of the model's features, a label for each, at least k of them.
void constrain_reference(LoweredPipeline &p, const Graph &graph) {
    const int features = (int)knn_feature_count(graph);
    p.reference.dim(0).set_bounds(0, features);
    p.reference.dim(1).set_min(0).set_stride(features);
    p.reference.set_estimates({{0, features}, {0, 60000}});
    p.reference_labels.dim(0).set_bounds(0, p.reference.dim(1).extent());
    p.reference_labels.set_estimates({{0, 60000}});
}

/// The requirements on scalar arguments, checked by the generated code itself, so a raw entry
/// point called directly refuses them as the C wrappers do.
void add_requirements(LoweredPipeline &p, const Graph &graph) {
    if (p.spec->has_input(Role::Reference)) {
        p.pipeline.add_requirement(
            p.reference.dim(1).extent() >= knn_k(graph),
            "the reference set must hold at least k samples, k =", knn_k(graph));
    }
    if (p.spec->has_input(Role::Step)) {
        p.pipeline.add_requirement(p.step >= 0, "step must be >= 0, got", p.step);
    }
    if (p.spec->has_input(Role::SampleOffset)) {
        p.pipeline.add_requirement(p.sample_offset >= 0, "sample_offset must be >= 0, got",
                                   p.sample_offset);
    }
    if (p.spec->has_input(Role::TotalSteps) && schedule_needs_total_steps(graph.train)) {
        p.pipeline.add_requirement(p.total_steps >= 1,
                                   "the schedule needs the run's length (total_steps >= 1), got",
                                   p.total_steps);
    }
}

Func output_probs(LoweredPipeline &p, const Graph &graph, int batch_estimate) {
    Func probs = p.forward.probs;
    probs.output_buffer().dim(0).set_bounds(0, (int)graph.classes);
    probs.output_buffer().dim(1).set_min(0).set_stride((int)graph.classes);
    probs.set_estimates({{0, (int)graph.classes}, {0, batch_estimate}});
    p.stages["probs"] = probs;
    return probs;
}

Func output_losses(LoweredPipeline &p, Func losses) {
    losses.output_buffer().dim(0).set_bounds(0, 3);
    losses.set_estimates({{0, 3}});
    p.stages["losses"] = losses;
    return losses;
}

/// The arena-sized output `f` (a Tuple's buffers share its bounds).
Func output_arena(Func f, const ParamLayout &layout) {
    f.output_buffers()[0].dim(0).set_bounds(0, (int)layout.total);
    f.set_estimates({{0, (int)layout.total}});
    return f;
}

void lower_init_pipeline(LoweredPipeline &p, const ParamLayout &layout) {
    Expr lo = cast<uint32_t>(p.seed), hi = cast<uint32_t>(p.seed >> 32);
    InitFunc init = lower_init(layout, lo, hi);
    p.stages["init"] = init.arena;
    p.ranges["init"] = init.ranges;
    p.outputs = {output_arena(init.arena, layout)};
}

void lower_predict(LoweredPipeline &p, const Graph &graph, const ParamLayout &layout,
                   const LowerOptions &options) {
    Func params = p.params, images = p.images;
    if (p.spec->name == "predict_embedded") {
        internal_assert(options.weights);
        const EmbeddedWeights &weights = *options.weights;
        const Dims &d = dims();
        Buffer<float> arena((int)layout.total, "weights");
        std::copy(weights.arena.begin(), weights.arena.end(), arena.data());
        params = Func("embedded_params");
        params(d.c) = arena(d.c);
        images = Func("normalized_images");
        if (weights.mean.empty()) {
            images(d.c, d.n) = p.images(d.c, d.n);
        } else {
            int channels = (int)weights.mean.size();
            Buffer<float> mean(channels, "mean"), inv_std(channels, "inv_std");
            for (int c = 0; c < channels; c++) {
                mean(c) = weights.mean[c];
                inv_std(c) = 1.0f / weights.stddev[c];
            }
            Expr channel = d.c / (int)(graph.input.dims[1] * graph.input.dims[2]);
            images(d.c, d.n) = (p.images(d.c, d.n) - mean(channel)) * inv_std(channel);
        }
    }
    p.graph = &graph;
    p.forward = lower_forward(graph, layout, Mode::Infer, params, images, p.images.dim(1).extent(),
                              Expr(0u));
    p.stages["input"] = p.forward.values[0].out;
    p.outputs = {output_probs(p, graph, options.batch_estimate)};
}

/// gradient, train_step, loss and gradient_check: the training-mode forward pass and what the
/// spec asks of it.
void lower_training(LoweredPipeline &p, const Program &program, const Graph &forward,
                    const ParamLayout &layout) {
    const PipelineSpec &spec = *p.spec;
    const Graph *train = &program.train_graph;
    if (spec.has_output(Role::ImageGradient)) {
        // The image's gradient is derived only where it is asked for.
        p.own_graph = std::make_shared<const Graph>(derive_training(forward, true));
        train = p.own_graph.get();
    }
    p.graph = train;
    Expr offset = spec.has_input(Role::SampleOffset) ? Expr(p.sample_offset) : Expr(0);
    GradientFuncs g = lower_gradient(*train, layout, p.params, p.images, p.labels,
                                     p.images.dim(1).extent(), offset, p.step, p.total_steps);
    p.forward = g.graph;
    p.stages["input"] = g.graph.values[0].out;
    p.ranges["gradient"] = g.ranges;
    for (Role r : spec.outputs) {
        switch (r) {
        case Role::Losses: p.outputs.push_back(output_losses(p, g.losses)); break;
        case Role::Gradient:
            p.stages["gradient"] = g.gradient;
            p.outputs.push_back(output_arena(g.gradient, layout));
            break;
        case Role::ImageGradient: {
            const Dims &d = dims();
            Func image_grad("image_grad");  // NCHW, like the images
            // Where a feature op reads the image no gradient reaches it (has_image_gradient):
            // the output is defined as 0 and gradient checks skip it.
            image_grad(d.x, d.y, d.c, d.n) =
                train->input_grad >= 0 ? g.graph.values[train->input_grad].out(d.c, d.x, d.y, d.n)
                                       : Expr(0.0f);
            const Shape &in = forward.input;
            image_grad.set_estimates({{0, (int)in.dims[2]},
                                      {0, (int)in.dims[1]},
                                      {0, (int)in.dims[0]},
                                      {0, (int)forward.train.batch}});
            p.stages["image_grad"] = image_grad;
            p.outputs.push_back(image_grad);
            break;
        }
        case Role::Params: {
            // train_step: the update reads the gradient Funcs directly, and its rate from
            // `losses`, so the losses (the regularization of the weights the step started from)
            // are computed before the update overwrites the arena in place.
            std::vector<Func> state(p.state.begin(), p.state.end());
            GradientAt at = [&](const ParamEntry &e, const std::vector<Expr> &idx) {
                return g.at(*train, e, idx);
            };
            UpdateFuncs u = lower_update(*train, layout, p.params, state, at, g.losses(2), p.step);
            p.stages["update"] = u.update;
            p.ranges["update"] = u.ranges;
            p.outputs.insert(p.outputs.begin(), output_arena(u.update, layout));
            break;
        }
        case Role::OptState: break;  // the update's Tuple holds the slots
        default: internal_error(std::string("role ") + role_name(r) + " is no training output");
        }
    }
}

void lower_apply_update(LoweredPipeline &p, const Program &program, const ParamLayout &layout) {
    const Graph &train = program.train_graph;
    Func grad = p.grad;
    GradientAt at = [&](const ParamEntry &e, const std::vector<Expr> &idx) {
        return grad(arena_index(e, idx));
    };
    Func lr("learning_rate");  // the learning_rate node's value, without the graph's other nodes
    lr() = learning_rate(train.train, p.step, p.total_steps);
    p.stages["learning_rate"] = lr;
    std::vector<Func> state(p.state.begin(), p.state.end());
    UpdateFuncs u = lower_update(train, layout, p.params, state, at, lr(), p.step);
    p.stages["update"] = u.update;
    p.ranges["update"] = u.ranges;
    p.outputs = {output_arena(u.update, layout)};
}

/// An output of `rows` values per sample, (rows, batch) as C has it (batch, rows).
Func output_rows(Func f, int rows, int batch_estimate) {
    f.output_buffer().dim(0).set_bounds(0, rows);
    f.output_buffer().dim(1).set_min(0).set_stride(rows);
    f.set_estimates({{0, rows}, {0, batch_estimate}});
    return f;
}

/// features, classify and neighbors of a kNN model (compiler/Knn.h).
void lower_knn_pipeline(LoweredPipeline &p, const Graph &graph, const ParamLayout &layout,
                        const LowerOptions &options) {
    const PipelineSpec &spec = *p.spec;
    KnnInputs in;
    in.images = p.images;
    in.batch = p.images.dim(1).extent();
    if (spec.has_input(Role::Reference)) {
        constrain_reference(p, graph);
        in.reference = p.reference;
        in.reference_count = p.reference.dim(1).extent();
    }
    if (spec.has_input(Role::ReferenceLabels)) in.reference_labels = p.reference_labels;
    p.graph = &graph;
    p.knn = std::make_shared<KnnFuncs>(lower_knn(graph, layout, in));
    p.forward = p.knn->forward;
    const int k = knn_k(graph), batch = options.batch_estimate;
    for (Role r : spec.outputs) {
        switch (r) {
        case Role::Features:
            p.outputs.push_back(
                output_rows(p.knn->stages.at("features"), (int)knn_feature_count(graph), batch));
            break;
        case Role::Probs:
            p.outputs.push_back(output_rows(p.knn->stages.at("probs"), (int)graph.classes, batch));
            break;
        case Role::Neighbors:
            p.outputs.push_back(output_rows(p.knn->stages.at("neighbors"), k, batch));
            break;
        case Role::Distances:
            p.outputs.push_back(output_rows(p.knn->stages.at("distances"), k, batch));
            break;
        default: internal_error(std::string("role ") + role_name(r) + " is no kNN output");
        }
    }
}

}  // namespace

LoweredPipeline lower_pipeline(const Program &program, const Graph &forward,
                               const ParamLayout &layout, const PipelineSpec &spec,
                               const LowerOptions &options) {
    internal_assert(spec.lowered());
    LoweredPipeline p;
    p.spec = &spec;
    p.layout = &layout;
    make_arguments(p, forward, layout, options.batch_estimate);
    const std::string &name = spec.name;
    if (forward.is_knn()) {
        lower_knn_pipeline(p, forward, layout, options);
    } else if (name == "init") {
        lower_init_pipeline(p, layout);
    } else if (name == "predict" || name == "predict_embedded") {
        lower_predict(p, forward, layout, options);
    } else if (name == "apply_update") {
        lower_apply_update(p, program, layout);
    } else if (spec.has_input(Role::Labels)) {
        lower_training(p, program, forward, layout);
    } else {
        internal_error("pipeline " + name + " has no lowering");
    }
    p.pipeline = Pipeline(p.outputs);
    add_requirements(p, forward);
    return p;
}

}  // namespace netc
