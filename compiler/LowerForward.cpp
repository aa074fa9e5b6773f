#include "compiler/LowerForward.h"

#include "compiler/ops/Op.h"
#include "dsl/Error.h"

#include <algorithm>

namespace netc {

using namespace Halide;

Forward lower_forward(const Graph &graph, const ParamLayout &layout, Mode mode, const Func &params,
                      const Func &images, const Expr &batch, const Expr &rng_key,
                      const TrainInputs &train) {
    const Dims &d = dims();
    Forward fwd;
    fwd.values.reserve(graph.nodes.size());  // backward nodes point at their forward node's entry
    // The edge: NCHW rows become the channels-innermost layout once (where an op needs it; a
    // flatten of the input reads the rows in place).
    const int h = (int)graph.input.dims[1], w = (int)graph.input.dims[2];
    Func input("input");
    input(d.c, d.x, d.y, d.n) = images((d.c * h + d.y) * w + d.x, d.n);
    fwd.values.push_back({input, {}, {}, {}});
    for (size_t i = 1; i < graph.nodes.size(); i++) {
        const Node &node = graph.nodes[i];
        if (node.op->updates_arena) {
            fwd.values.emplace_back();  // no value: lower_update writes it into the arena
            continue;
        }
        if (!node.op->lower)
            internal_error(std::string("op ") + node.op->name + " has no lowering");
        std::vector<Func> inputs;
        for (int id : node.inputs) inputs.push_back(fwd.values[id].out);
        LowerCtx ctx(graph, node, layout, mode, inputs, params, batch, rng_key);
        ctx.labels = train.labels;
        ctx.images = images;
        if (train.sample_offset.defined()) ctx.sample_offset = train.sample_offset;
        ctx.step = train.step;
        ctx.total_steps = train.total_steps;
        if (node.forward >= 0) ctx.forward = &fwd.values[node.forward];
        fwd.values.push_back(node.op->lower(ctx));
    }
    fwd.logits = fwd.values[graph.forward_count - 1].out;
    if (graph.is_knn()) return fwd;  // features, not scores: no softmax (compiler/Knn.h)
    Var c = d.c, n = d.n;
    RDom k(0, (int)graph.classes, "k");
    Func max_logit("max_logit"), exps("exps"), total("total");
    max_logit(n) = maximum(fwd.logits(k, n));
    exps(c, n) = exp(fwd.logits(c, n) - max_logit(n));
    total(n) = sum(exps(k, n));
    fwd.probs = Func("probs");
    fwd.probs(c, n) = exps(c, n) / total(n);
    return fwd;
}

}  // namespace netc
