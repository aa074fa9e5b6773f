#include "runtime/Checkpoint.h"

#include "runtime/Safetensors.h"

#include <nlohmann/json.hpp>

#include <cstdio>
#include <map>
#include <utility>

namespace netc::runtime {

namespace {

constexpr const char *checkpoint_format = "netc-checkpoint";
constexpr const char *checkpoint_version = "1";

std::string optimizer_tensor(const std::string &slot, const std::string &name) {
    return "optimizer." + slot + "." + name;
}

std::string format_double(double x) {
    char buf[64];
    std::snprintf(buf, sizeof buf, "%.17g", x);
    return buf;
}

/// The metadata value `key` of `file`, or an error naming the file and the key.
Result<std::string> metadata(const SafetensorsFile &file, const std::string &key) {
    auto it = file.metadata.find(key);
    if (it == file.metadata.end()) {
        return Result<std::string>::error(
            file.path + ": not a netc checkpoint: __metadata__ has no '" + key + "'");
    }
    return it->second;
}

Result<int64_t> metadata_int(const SafetensorsFile &file, const std::string &key) {
    Result<std::string> text = metadata(file, key);
    if (!text) return text.status();
    try {
        size_t used = 0;
        long long value = std::stoll(*text, &used);
        if (used == text->size()) return (int64_t)value;
    } catch (const std::exception &) {
    }
    return Result<int64_t>::error(file.path + ": __metadata__ '" + key + "' is '" + *text +
                                  "', not an integer");
}

Result<double> metadata_double(const SafetensorsFile &file, const std::string &key) {
    Result<std::string> text = metadata(file, key);
    if (!text) return text.status();
    try {
        size_t used = 0;
        double value = std::stod(*text, &used);
        if (used == text->size()) return value;
    } catch (const std::exception &) {
    }
    return Result<double>::error(file.path + ": __metadata__ '" + key + "' is '" + *text +
                                 "', not a number");
}

/// The RunShape of `file`: all of it or, from a checkpoint written before it was recorded, none.
/// data_source and data_limit are optional (the caller may not have said them).
Result<RunShape> parse_run_shape(const SafetensorsFile &file) {
    RunShape run;
    if (!file.metadata.count("epochs")) return run;
    std::pair<const char *, int64_t *> fields[] = {
        {"epochs", &run.epochs},           {"steps_per_epoch", &run.steps_per_epoch},
        {"total_steps", &run.total_steps}, {"batch", &run.batch},
        {"samples", &run.samples},         {"validation_samples", &run.validation_samples}};
    for (auto [key, field] : fields) {
        Result<int64_t> value = metadata_int(file, key);
        if (!value) return value.status();
        if (*value < 0 || (*value == 0 && field != &run.validation_samples)) {
            return Result<RunShape>::error(file.path + ": __metadata__ '" + key + "' is " +
                                           std::to_string(*value) + ", which must be > 0");
        }
        *field = *value;
    }
    Result<std::string> fingerprint = metadata(file, "data_fingerprint");
    if (!fingerprint) return fingerprint.status();
    run.data_fingerprint = *fingerprint;
    if (auto it = file.metadata.find("data_source"); it != file.metadata.end()) {
        run.data_source = it->second;
    }
    if (file.metadata.count("data_limit")) {
        Result<int64_t> limit = metadata_int(file, "data_limit");
        if (!limit) return limit.status();
        if (*limit <= 0) {
            return Result<RunShape>::error(file.path + ": __metadata__ 'data_limit' is " +
                                           std::to_string(*limit) + ", which must be > 0");
        }
        run.data_limit = *limit;
    }
    return run;
}

}  // namespace

Status save_checkpoint(const std::string &path, const TrainableModel &model, const float *params,
                       const float *opt_state, const std::vector<std::string> &class_names,
                       const Normalization &normalization, const TrainingProgress &progress,
                       uint64_t seed, const RunShape &run) {
    const ModelInfo &info = model.info();
    std::vector<TensorView> views;
    for (const ArenaTensor &t : info.tensors) {
        views.push_back({t.name, DType::F32, t.shape, params + t.offset});
    }
    if (opt_state) {
        for (size_t k = 0; k < info.optimizer_slots.size(); k++) {
            const float *slot = opt_state + (int64_t)k * model.param_count();
            for (const ArenaTensor &t : info.tensors) {
                views.push_back({optimizer_tensor(info.optimizer_slots[k], t.name), DType::F32,
                                 t.shape, slot + t.offset});
            }
        }
    }
    std::map<std::string, std::string> meta = identity_metadata(info, class_names, normalization);
    meta.insert({
        {"optimizer", info.optimizer},
        {"step", std::to_string(progress.step)},
        {"epoch", std::to_string(progress.epoch)},
        {"best_accuracy", format_double(progress.best_accuracy)},
        {"best_epoch", std::to_string(progress.best_epoch)},
        {"stale_epochs", std::to_string(progress.stale_epochs)},
        {"seed", std::to_string(seed)},
    });
    if (run.recorded()) {
        meta["epochs"] = std::to_string(run.epochs);
        meta["steps_per_epoch"] = std::to_string(run.steps_per_epoch);
        meta["total_steps"] = std::to_string(run.total_steps);
        meta["batch"] = std::to_string(run.batch);
        meta["samples"] = std::to_string(run.samples);
        meta["validation_samples"] = std::to_string(run.validation_samples);
        meta["data_fingerprint"] = run.data_fingerprint;
        if (!run.data_source.empty()) meta["data_source"] = run.data_source;
        if (run.data_limit > 0) meta["data_limit"] = std::to_string(run.data_limit);
    }
    return write_safetensors(path, views, meta);
}

Result<RunShape> read_run_shape(const std::string &path) {
    Result<SafetensorsFile> read = read_safetensors(path);
    if (!read) return read.status();
    return parse_run_shape(*read);
}

std::vector<std::string> torch_only_tensors(const std::vector<std::string> &names) {
    const std::string running_mean = ".running_mean";
    std::vector<std::string> extra;
    for (const std::string &name : names) {
        if (name.size() > running_mean.size() &&
            name.compare(name.size() - running_mean.size(), running_mean.size(), running_mean) == 0)
            extra.push_back(name.substr(0, name.size() - running_mean.size()) +
                            ".num_batches_tracked");
    }
    return extra;
}

namespace {

/// A safetensors file of the model's tensors under their torch names and nothing of netc's
/// metadata: a PyTorch state_dict.
Result<Checkpoint> load_foreign(const SafetensorsFile &file, const TrainableModel &model,
                                bool allow_nonfinite) {
    const ModelInfo &info = model.info();
    std::vector<ExpectedTensor> expected;
    std::vector<std::string> names;
    for (const ArenaTensor &t : info.tensors) {
        expected.push_back({t.name, t.shape, DType::F32});
        names.push_back(t.name);
    }
    Status tensors = check_tensors(file, expected, torch_only_tensors(names));
    if (!tensors) {
        return Result<Checkpoint>::error(tensors.message() + "\n" + file.path +
                                         ": the weights (a file without netc's metadata, read as "
                                         "a PyTorch state_dict) do not fit model '" +
                                         info.name + "'");
    }
    if (!allow_nonfinite) {
        if (Status finite = check_finite(file); !finite) {
            return Result<Checkpoint>::error(
                finite.message() + "; refused (netc's --allow-nonfinite loads it anyway)");
        }
    }
    Checkpoint ckpt;
    ckpt.foreign = true;
    ckpt.model = info.name;
    for (int c = 0; c < info.data.classes; c++) ckpt.class_names.push_back(std::to_string(c));
    ckpt.normalization.mean.assign((size_t)info.data.channels, 0.0f);
    ckpt.normalization.stddev.assign((size_t)info.data.channels, 1.0f);
    ckpt.params.assign((size_t)model.param_count(), 0.0f);
    for (const ArenaTensor &t : info.tensors) {
        std::vector<float> values = file.find(t.name)->floats();
        std::copy(values.begin(), values.end(), ckpt.params.begin() + t.offset);
    }
    return ckpt;
}

}  // namespace

Status check_format(const SafetensorsFile &file) {
    Result<std::string> format = metadata(file, "format");
    if (!format) return format.status();
    if (*format != checkpoint_format) {
        return Status::error(file.path + ": not a netc checkpoint (format '" + *format + "')");
    }
    Result<std::string> version = metadata(file, "format_version");
    if (!version) return version.status();
    if (*version != checkpoint_version) {
        return Status::error(file.path + ": checkpoint format version " + *version +
                             " is not supported (this netc reads version " + checkpoint_version +
                             ")");
    }
    return {};
}

Result<CheckpointIdentity> read_identity(const SafetensorsFile &file, const ModelInfo &info) {
    CheckpointIdentity id;
    Result<std::string> model_name = metadata(file, "model");
    if (!model_name) return model_name.status();
    id.model = *model_name;
    if (id.model != info.name) {
        return Result<CheckpointIdentity>::error(file.path + ": the checkpoint is of model '" +
                                                 id.model + "', not '" + info.name + "'");
    }
    Result<std::string> classes = metadata(file, "class_names");
    if (!classes) return classes.status();
    try {
        id.class_names = nlohmann::json::parse(*classes).get<std::vector<std::string>>();
    } catch (const std::exception &) {
        return Result<CheckpointIdentity>::error(
            file.path +
            ": __metadata__ 'class_names' is not a JSON array of "
            "strings: " +
            *classes);
    }
    if ((int)id.class_names.size() != info.data.classes) {
        return Result<CheckpointIdentity>::error(
            file.path + ": the checkpoint names " + std::to_string(id.class_names.size()) +
            " classes but the model has " + std::to_string(info.data.classes));
    }
    for (const char *key : {"normalization_mean", "normalization_std"}) {
        Result<std::string> text = metadata(file, key);
        if (!text) return text.status();
        Result<std::vector<float>> values =
            parse_floats(*text, file.path + ": __metadata__ " + key);
        if (!values) return values.status();
        if ((int)values->size() != info.data.channels) {
            return Result<CheckpointIdentity>::error(
                file.path + ": __metadata__ " + key + " has " + std::to_string(values->size()) +
                " values but the model's input has " + std::to_string(info.data.channels) +
                " channels");
        }
        (std::string(key) == "normalization_mean" ? id.normalization.mean
                                                  : id.normalization.stddev) = std::move(*values);
    }
    for (float s : id.normalization.stddev) {
        if (!(s > 0)) {
            return Result<CheckpointIdentity>::error(file.path +
                                                     ": __metadata__ normalization_std holds " +
                                                     std::to_string(s) + ", which must be > 0");
        }
    }
    return id;
}

std::map<std::string, std::string> identity_metadata(const ModelInfo &info,
                                                     const std::vector<std::string> &class_names,
                                                     const Normalization &normalization) {
    return {
        {"format", checkpoint_format},
        {"format_version", checkpoint_version},
        {"model", info.name},
        {"class_names", nlohmann::json(class_names).dump()},
        {"normalization_mean", format_floats(normalization.mean)},
        {"normalization_std", format_floats(normalization.stddev)},
    };
}

Result<Checkpoint> load_checkpoint(const std::string &path, const TrainableModel &model,
                                   bool with_optimizer, bool allow_nonfinite) {
    Result<SafetensorsFile> read = read_safetensors(path);
    if (!read) return read.status();
    const SafetensorsFile &file = *read;
    const ModelInfo &info = model.info();
    if (file.metadata.count("format") == 0) {
        if (with_optimizer) {
            return Result<Checkpoint>::error(
                path + ": not a netc checkpoint (no 'format' in __metadata__): weights from "
                       "elsewhere, such as a PyTorch state_dict, can be evaluated, predicted "
                       "with and compiled in, but hold no optimizer state or step to resume");
        }
        return load_foreign(file, model, allow_nonfinite);
    }

    if (Status format = check_format(file); !format) return format;

    std::vector<ExpectedTensor> expected;
    for (const ArenaTensor &t : info.tensors) expected.push_back({t.name, t.shape, DType::F32});
    if (with_optimizer) {
        for (const std::string &slot : info.optimizer_slots) {
            for (const ArenaTensor &t : info.tensors) {
                expected.push_back({optimizer_tensor(slot, t.name), t.shape, DType::F32});
            }
        }
    }
    Status tensors = check_tensors(file, expected, {"optimizer."});
    if (!tensors) {
        return Result<Checkpoint>::error(tensors.message() + "\n" + path +
                                         ": the checkpoint does not fit model '" + info.name + "'");
    }

    if (!allow_nonfinite) {
        if (Status finite = check_finite(file); !finite) {
            return Result<Checkpoint>::error(
                finite.message() + "; refused (netc's --allow-nonfinite loads it anyway)");
        }
    }

    Checkpoint ckpt;
    Result<CheckpointIdentity> identity = read_identity(file, info);
    if (!identity) return identity.status();
    ckpt.model = identity->model;
    ckpt.class_names = std::move(identity->class_names);
    ckpt.normalization = std::move(identity->normalization);

    Result<int64_t> step = metadata_int(file, "step");
    Result<int64_t> epoch = metadata_int(file, "epoch");
    Result<double> best = metadata_double(file, "best_accuracy");
    Result<int64_t> best_epoch = metadata_int(file, "best_epoch");
    Result<int64_t> stale = metadata_int(file, "stale_epochs");
    Result<int64_t> seed = metadata_int(file, "seed");
    for (const Status *s : {&step.status(), &epoch.status(), &best.status(), &best_epoch.status(),
                            &stale.status(), &seed.status()}) {
        if (!s->ok()) return *s;
    }
    if (*step < 0 || *epoch < 0) {
        return Result<Checkpoint>::error(path + ": negative step or epoch in __metadata__");
    }
    ckpt.progress = {*step, *epoch, *best, *best_epoch, *stale};
    ckpt.seed = (uint64_t)*seed;

    Result<RunShape> run = parse_run_shape(file);
    if (!run) return run.status();
    ckpt.run = std::move(*run);

    ckpt.params.assign((size_t)model.param_count(), 0.0f);
    for (const ArenaTensor &t : info.tensors) {
        std::vector<float> values = file.find(t.name)->floats();
        std::copy(values.begin(), values.end(), ckpt.params.begin() + t.offset);
    }
    if (with_optimizer) {
        ckpt.opt_state.assign((size_t)model.opt_state_count(), 0.0f);
        for (size_t k = 0; k < info.optimizer_slots.size(); k++) {
            for (const ArenaTensor &t : info.tensors) {
                std::vector<float> values =
                    file.find(optimizer_tensor(info.optimizer_slots[k], t.name))->floats();
                std::copy(values.begin(), values.end(),
                          ckpt.opt_state.begin() + (int64_t)k * model.param_count() + t.offset);
            }
        }
    }
    return ckpt;
}

}  // namespace netc::runtime
