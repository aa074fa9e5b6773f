#include "compiler/EntryPoints.h"

#include "compiler/LowerInit.h"

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
        }
    }
    e.pipeline = Pipeline(e.arena);
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
