#include "compiler/EntryPoints.h"

#include "compiler/DeriveBackward.h"
#include "compiler/LowerInit.h"
#include "compiler/LowerTrain.h"
#include "compiler/Optimizer.h"

namespace netc {

using namespace Halide;

void constrain_inputs(const Graph &graph, const ParamLayout &layout, ImageParam &params,
                      ImageParam &images, int batch_estimate) {
    params.dim(0).set_bounds(0, (int)layout.total);
    const Shape &in = graph.input;  // [C, H, W]
    int c = (int)in.dims[0], h = (int)in.dims[1], w = (int)in.dims[2];
    images.dim(0).set_bounds(0, w);
    images.dim(1).set_bounds(0, h).set_stride(w);
    images.dim(2).set_bounds(0, c).set_stride(w * h);
    images.dim(3).set_min(0).set_stride(w * h * c);
    images.set_estimates({{0, w}, {0, h}, {0, c}, {0, batch_estimate}});
    params.set_estimates({{0, (int)layout.total}});
}

InitEntry build_init(const ParamLayout &layout, const Target &target) {
    InitEntry e;
    Expr lo = cast<uint32_t>(e.seed), hi = cast<uint32_t>(e.seed >> 32);
    InitFunc init = lower_init(layout, lo, hi);
    e.arena = init.arena;
    e.arena.output_buffer().dim(0).set_bounds(0, (int)layout.total);
    e.arena.set_estimates({{0, (int)layout.total}});
    e.seed.set_estimate(0);
    e.arena.compute_root();
    int width = vector_width(target);
    for (int k = 0; k < (int)layout.entries.size(); k++) {
        if (layout.entries[k].size >= width) {
            e.arena.update(k).vectorize(init.ranges[k].x, width, TailStrategy::GuardWithIf);
        } else {
            e.arena.update(k).unscheduled();  // a handful of floats: a plain loop
        }
    }
    e.pipeline = Pipeline(e.arena);
    return e;
}

EmbeddedPredictEntry build_predict_embedded(const Graph &graph, const ParamLayout &layout,
                                            const Target &target, int batch_estimate,
                                            const EmbeddedWeights &weights) {
    EmbeddedPredictEntry e;
    ImageParam unused_params(Float(32), 1, "params");
    constrain_inputs(graph, layout, unused_params, e.images, batch_estimate);
    const Dims &d = dims();
    Buffer<float> arena((int)layout.total, "weights");
    std::copy(weights.arena.begin(), weights.arena.end(), arena.data());
    Func params("embedded_params");
    params(d.c) = arena(d.c);
    Func images("normalized_images");
    if (weights.mean.empty()) {
        images(d.x, d.y, d.c, d.n) = e.images(d.x, d.y, d.c, d.n);
    } else {
        int channels = (int)weights.mean.size();
        Buffer<float> mean(channels, "mean"), inv_std(channels, "inv_std");
        for (int c = 0; c < channels; c++) {
            mean(c) = weights.mean[c];
            inv_std(c) = 1.0f / weights.stddev[c];
        }
        images(d.x, d.y, d.c, d.n) = (e.images(d.x, d.y, d.c, d.n) - mean(d.c)) * inv_std(d.c);
    }
    Forward forward = lower_forward(graph, layout, Mode::Infer, params, images,
                                    e.images.dim(3).extent(), Expr(0u));
    schedule_forward(graph, forward, target, {});
    Func probs = forward.probs;
    probs.output_buffer().dim(0).set_bounds(0, (int)graph.classes);
    probs.output_buffer().dim(1).set_min(0).set_stride((int)graph.classes);
    probs.set_estimates({{0, (int)graph.classes}, {0, batch_estimate}});
    probs.compute_root().parallel(d.n);
    e.pipeline = Pipeline(probs);
    return e;
}

PredictEntry build_predict(const Graph &graph, const ParamLayout &layout, const Target &target,
                           int batch_estimate) {
    PredictEntry e;
    constrain_inputs(graph, layout, e.params, e.images, batch_estimate);
    Expr batch = e.images.dim(3).extent();
    e.forward = lower_forward(graph, layout, Mode::Infer, e.params, e.images, batch, Expr(0u));
    schedule_forward(graph, e.forward, target, {});
    Func probs = e.forward.probs;
    probs.output_buffer().dim(0).set_bounds(0, (int)graph.classes);
    probs.output_buffer().dim(1).set_min(0).set_stride((int)graph.classes);
    probs.set_estimates({{0, (int)graph.classes}, {0, batch_estimate}});
    probs.compute_root().parallel(dims().n);
    e.pipeline = Pipeline(probs);
    return e;
}

}  // namespace netc

namespace netc {

std::vector<Argument> TrainEntry::arguments() const {
    std::vector<Argument> args = {params};
    for (const ImageParam &s : state) args.push_back(s);
    args.push_back(images);
    args.push_back(labels);
    args.push_back(step);
    args.push_back(total_steps);
    return args;
}

std::unique_ptr<TrainEntry> build_train(const Graph &forward_graph, const ParamLayout &layout,
                                        const Target &target, TrainOutputs outputs) {
    auto e = std::make_unique<TrainEntry>();
    e->graph = derive_backward(forward_graph, outputs == TrainOutputs::Gradient);
    int batch_estimate = (int)forward_graph.train.batch;
    constrain_inputs(forward_graph, layout, e->params, e->images, batch_estimate);
    int slots = optimizer_state_slots(forward_graph.train.optimizer);
    std::vector<Func> state;
    for (int k = 0; k < slots; k++) {
        e->state.emplace_back(Float(32), 1, "opt_state" + std::to_string(k));
        e->state.back().dim(0).set_bounds(0, (int)layout.total);
        e->state.back().set_estimates({{0, (int)layout.total}});
        state.push_back(e->state.back());
    }
    e->labels.dim(0).set_min(0);
    e->labels.set_estimates({{0, batch_estimate}});
    e->step.set_estimate(0);
    e->total_steps.set_estimate(1000);
    Expr batch = e->images.dim(3).extent();
    // Labels come one per image.
    TrainStepFuncs f = lower_train_step(e->graph, layout, e->params, state, e->images, e->labels,
                                        batch, e->step, e->total_steps);
    schedule_train_step(e->graph, layout, f, target);
    f.losses.output_buffer().dim(0).set_bounds(0, 3);
    f.losses.set_estimates({{0, 3}});
    if (outputs == TrainOutputs::Loss) {
        e->pipeline = Pipeline(f.losses);
        return e;
    }
    if (outputs == TrainOutputs::Gradient) {
        const Dims &d = dims();
        Func input_grad("input_grad");  // NCHW, like the images
        input_grad(d.x, d.y, d.c, d.n) =
            f.graph.values[e->graph.input_grad].out(d.c, d.x, d.y, d.n);
        input_grad.compute_root();
        f.gradient.compute_root();
        e->pipeline = Pipeline({f.gradient, f.losses, input_grad});
        return e;
    }
    // The other Tuple outputs share the first one's bounds.
    f.update.output_buffers()[0].dim(0).set_bounds(0, (int)layout.total);
    f.update.set_estimates({{0, (int)layout.total}});
    e->pipeline = Pipeline({f.update, f.losses});
    return e;
}

}  // namespace netc
