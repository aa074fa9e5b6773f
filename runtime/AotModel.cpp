#include "runtime/AotModel.h"

#include <limits>
#include <string>

namespace netc::runtime {

const char *return_code_meaning(int32_t code) {
    switch (code) {
    case NETC_OK: return "success";
    case NETC_ERROR_NULL_POINTER: return "a pointer argument is NULL";
    case NETC_ERROR_BAD_BATCH: return "the batch is < 1 or too large";
    case NETC_ERROR_BAD_LABEL: return "a label is outside [0, classes)";
    case NETC_ERROR_RUNTIME: return "the generated code failed (Halide printed why)";
    case NETC_ERROR_NO_SCHEDULE_LENGTH: return "the schedule needs the run's length";
    case NETC_ERROR_BAD_STEP: return "the step is negative";
    case NETC_ERROR_BAD_SAMPLE_OFFSET: return "the sample offset is negative";
    case NETC_ERROR_BAD_REFERENCE: return "the reference set holds fewer than k samples";
    default: return "an unknown return code";
    }
}

namespace {

Status check(int32_t code, const netc_model &model, const char *entry) {
    if (code == NETC_OK) return {};
    return Status::error(std::string(model.name) + "_" + entry + " returned " +
                         std::to_string(code) + ": " + return_code_meaning(code));
}

bool batch_fits(int64_t batch) {
    return batch >= 1 && batch <= std::numeric_limits<int32_t>::max();
}

/// What every model's object says of its data: name, input shape, classes.
ModelInfo data_info(const netc_model &model) {
    ModelInfo info;
    info.name = model.name;
    info.data.channels = model.input_channels;
    info.data.height = model.input_height;
    info.data.width = model.input_width;
    info.data.classes = model.classes;
    return info;
}

}  // namespace

AotModel::AotModel(const netc_model &model) : model_(model), info_(data_info(model)) {
    for (int32_t i = 0; i < model.param_tensor_count; i++) {
        const netc_param_info &p = model.params[i];
        info_.tensors.push_back(
            {p.name, std::vector<int64_t>(p.shape, p.shape + p.rank), p.offset, p.trainable != 0});
    }
    info_.optimizer = model.optimizer;
    for (int32_t k = 0; k < model.optimizer_slot_count; k++) {
        info_.optimizer_slots.push_back(model.optimizer_slots[k]);
    }
}

void AotModel::set_total_steps(int64_t steps) {
    if (model_.set_total_steps) model_.set_total_steps(steps);
}

void AotModel::init(uint64_t seed, float *params) { model_.init(params, seed); }

Status AotModel::predict(const float *params, const float *images, int64_t batch, float *probs) {
    if (!batch_fits(batch)) return check(NETC_ERROR_BAD_BATCH, model_, "predict");
    return check(model_.predict(params, images, (int32_t)batch, probs), model_, "predict");
}

namespace {

/// The object has no training entry points when an op of the model has no backward rule yet.
Status no_training(const netc_model &model) {
    return Status::error(std::string("the object of ") + model.name +
                         " has no train step: an op of the model has no backward rule yet");
}

Status at_step(int64_t step, Status s) {
    if (s) return s;
    return Status::error("step " + std::to_string(step) + ": " + s.message());
}

}  // namespace

Status AotModel::train_step(float *params, float *opt_state, const float *images,
                            const int32_t *labels, int64_t batch, int64_t step,
                            StepLosses &losses) {
    if (!model_.train_step) return no_training(model_);
    if (!batch_fits(batch)) return check(NETC_ERROR_BAD_BATCH, model_, "train_step");
    float out[3] = {0, 0, 0};
    int32_t code = model_.train_step(params, opt_state, images, labels, (int32_t)batch, step, out);
    if (Status s = at_step(step, check(code, model_, "train_step")); !s) return s;
    losses = {out[0], out[1], out[2]};
    return {};
}

Status AotModel::gradient(const float *params, const float *images, const int32_t *labels,
                          int64_t batch, int64_t sample_offset, int64_t step, float *grad,
                          StepLosses &losses) {
    if (!model_.gradient) return no_training(model_);
    if (!batch_fits(batch)) return check(NETC_ERROR_BAD_BATCH, model_, "gradient");
    if (sample_offset < 0 || !batch_fits(sample_offset + batch))
        return check(NETC_ERROR_BAD_SAMPLE_OFFSET, model_, "gradient");
    float out[3] = {0, 0, 0};
    int32_t code = model_.gradient(params, images, labels, (int32_t)batch, (int32_t)sample_offset,
                                   step, grad, out);
    if (Status s = at_step(step, check(code, model_, "gradient")); !s) return s;
    losses = {out[0], out[1], out[2]};
    return {};
}

Status AotModel::apply_update(float *params, float *opt_state, const float *grad, int64_t step) {
    if (!model_.apply_update) return no_training(model_);
    return at_step(
        step, check(model_.apply_update(params, opt_state, grad, step), model_, "apply_update"));
}

AotNeighbors::AotNeighbors(const netc_model &model) : model_(model), info_(data_info(model)) {}

namespace {

Status no_knn(const netc_model &model) {
    return Status::error(std::string("the object of ") + model.name + " is not a kNN model");
}

}  // namespace

Status AotNeighbors::features(const float *images, int64_t batch, float *features) {
    if (!model_.features) return no_knn(model_);
    if (!batch_fits(batch)) return check(NETC_ERROR_BAD_BATCH, model_, "features");
    return check(model_.features(images, (int32_t)batch, features), model_, "features");
}

Status AotNeighbors::classify(const ReferenceSet &reference, const float *images, int64_t batch,
                              float *probs) {
    if (!model_.classify) return no_knn(model_);
    if (!batch_fits(batch)) return check(NETC_ERROR_BAD_BATCH, model_, "classify");
    if (!batch_fits(reference.count)) return check(NETC_ERROR_BAD_REFERENCE, model_, "classify");
    return check(model_.classify(reference.values.data(), reference.labels.data(),
                                 (int32_t)reference.count, images, (int32_t)batch, probs),
                 model_, "classify");
}

Status AotNeighbors::neighbors(const ReferenceSet &reference, const float *images, int64_t batch,
                               int32_t *indices, float *distances) {
    if (!model_.neighbors) return no_knn(model_);
    if (!batch_fits(batch)) return check(NETC_ERROR_BAD_BATCH, model_, "neighbors");
    if (!batch_fits(reference.count)) return check(NETC_ERROR_BAD_REFERENCE, model_, "neighbors");
    return check(model_.neighbors(reference.values.data(), (int32_t)reference.count, images,
                                  (int32_t)batch, indices, distances),
                 model_, "neighbors");
}

KnnConfig knn_config(const netc_model &model) {
    KnnConfig c;
    c.batch = model.batch;
    c.seed = model.seed;
    c.validation = model.validation;
    return c;
}

TrainBlock train_block(const netc_model &model) {
    TrainBlock block;
    block.batch = model.batch;
    block.epochs = model.epochs;
    block.seed = model.seed;
    block.validation = model.validation;
    for (int32_t i = 0; i < model.augment_count; i++) {
        const netc_augment &a = model.augment[i];
        AugmentSpec spec{a.name, {}};
        for (int32_t j = 0; j < a.param_count; j++) {
            spec.params.push_back({a.params[j].name, a.params[j].value});
        }
        block.augment.push_back(std::move(spec));
    }
    block.patience = model.patience;
    block.min_delta = model.min_delta;
    return block;
}

TrainConfig train_config(const netc_model &model) { return train_config(train_block(model)); }

}  // namespace netc::runtime
