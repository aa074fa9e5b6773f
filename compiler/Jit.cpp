#include "compiler/Jit.h"

#include "compiler/Optimizer.h"
#include "dsl/Error.h"

#include <stdexcept>

namespace netc {

using namespace Halide;

Buffer<float> wrap(const float *data, std::vector<int> extents) {
    // Inputs are never written; Halide's Buffer has no const-element constructor for host data.
    return Buffer<float>(const_cast<float *>(data), extents);
}

struct JitModel::Evaluator {
    ImageParam params{Float(32), 1, "params"};
    ImageParam images{Float(32), 4, "images"};
    Param<uint32_t> rng_key{"rng_key"};
    Pipeline pipeline;
};

JitModel::JitModel(Graph graph, ParamLayout layout, Target target)
    : graph_(std::move(graph)), layout_(std::move(layout)), target_(target) {}

namespace {

std::vector<int> image_extents(const Shape &s, int batch) {
    return {(int)s.dims[2], (int)s.dims[1], (int)s.dims[0], batch};
}

}  // namespace

void JitModel::init(uint64_t seed, float *params) {
    if (!init_) {
        init_ = std::make_unique<InitEntry>(build_init(layout_, target_));
        init_->pipeline.compile_jit(target_);
    }
    init_->seed.set(seed);
    Buffer<float> out(params, (int)layout_.total);
    init_->pipeline.realize(out, target_);
}

void JitModel::predict(const float *params, const float *images, int batch, float *probs) {
    internal_assert(batch >= 1);
    if (!predict_) {
        predict_ = std::make_unique<PredictEntry>(
            build_predict(graph_, layout_, target_, (int)graph_.train.batch));
        predict_->pipeline.compile_jit(target_);
    }
    predict_->params.set(wrap(params, {(int)layout_.total}));
    predict_->images.set(wrap(images, image_extents(graph_.input, batch)));
    Buffer<float> out(probs, (int)graph_.classes, batch);
    predict_->pipeline.realize(out, target_);
}

int64_t JitModel::opt_state_count() const {
    return optimizer_state_slots(graph_.train.optimizer) * layout_.total;
}

const Graph &JitModel::train_graph() {
    if (!train_) {
        train_ = build_train(graph_, layout_, target_, TrainOutputs::Update);
        train_->pipeline.compile_jit(target_);
    }
    return train_->graph;
}

void JitModel::bind_training(std::unique_ptr<TrainEntry> &entry, TrainOutputs outputs,
                             const float *params, float *opt_state, const float *images,
                             const int32_t *labels, int batch, int64_t step) {
    internal_assert(batch >= 1);
    for (int n = 0; n < batch; n++) {
        if (labels[n] < 0 || labels[n] >= graph_.classes) {
            throw std::invalid_argument("label " + std::to_string(labels[n]) + " of sample " +
                                        std::to_string(n) + " is outside [0, " +
                                        std::to_string(graph_.classes) + ")");
        }
    }
    if (!entry) {
        entry = build_train(graph_, layout_, target_, outputs);
        entry->pipeline.compile_jit(target_);
    }
    int total = (int)layout_.total;
    entry->params.set(wrap(params, {total}));
    for (size_t k = 0; opt_state && k < entry->state.size(); k++) {
        entry->state[k].set(Buffer<float>(opt_state + k * total, total));
    }
    entry->images.set(wrap(images, image_extents(graph_.input, batch)));
    entry->labels.set(Buffer<int32_t>(const_cast<int32_t *>(labels), batch));
    entry->step.set(step);
    entry->total_steps.set(total_steps_);
}

JitModel::StepResult JitModel::train_step(float *params, float *opt_state, const float *images,
                                          const int32_t *labels, int batch, int64_t step) {
    bind_training(train_, TrainOutputs::Update, params, opt_state, images, labels, batch, step);
    int total = (int)layout_.total;
    // In place: the update reads each parameter only at its own index, after every other stage.
    std::vector<Buffer<>> outputs = {Buffer<float>(params, total)};
    for (size_t k = 0; k < train_->state.size(); k++) {
        outputs.push_back(Buffer<float>(opt_state + k * total, total));
    }
    Buffer<float> losses(3);
    outputs.push_back(losses);
    train_->pipeline.realize(Realization(outputs), target_);
    return {losses(0), losses(1), losses(2)};
}

JitModel::Gradient JitModel::gradient(const float *params, const float *images,
                                      const int32_t *labels, int batch, int64_t step) {
    bind_training(gradient_, TrainOutputs::Gradient, params, nullptr, images, labels, batch, step);
    Gradient g;
    g.params.resize(layout_.total);
    g.images.resize((size_t)graph_.input.elements() * batch);
    Buffer<float> losses(3);
    Buffer<float> grad(g.params.data(), (int)layout_.total);
    Buffer<float> image_grad(g.images.data(), image_extents(graph_.input, batch));
    gradient_->pipeline.realize(Realization({grad, losses, image_grad}), target_);
    g.losses = {losses(0), losses(1), losses(2)};
    return g;
}

JitModel::StepResult JitModel::loss(const float *params, const float *images, const int32_t *labels,
                                    int batch, int64_t step) {
    bind_training(loss_, TrainOutputs::Loss, params, nullptr, images, labels, batch, step);
    Buffer<float> losses(3);
    loss_->pipeline.realize(losses, target_);
    return {losses(0), losses(1), losses(2)};
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
                                    ev->images.dim(3).extent(), ev->rng_key);
        schedule_forward(graph_, fwd, target_, {node});
        Func value = fwd.values[node].out;
        if (node == 0) value.compute_root();
        ev->pipeline = Pipeline(value);
        ev->pipeline.compile_jit(target_);
    }
    ev->params.set(wrap(params, {(int)layout_.total}));
    ev->images.set(wrap(images, image_extents(graph_.input, batch)));
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
