#include "compiler/Program.h"

#include "compiler/DeriveBackward.h"
#include "compiler/Optimizer.h"
#include "compiler/TrainPasses.h"

#include <algorithm>

namespace netc {

const char *role_name(Role role) {
    switch (role) {
    case Role::Seed: return "seed";
    case Role::Params: return "params";
    case Role::OptState: return "opt_state";
    case Role::Images: return "images";
    case Role::Labels: return "labels";
    case Role::Batch: return "batch";
    case Role::Step: return "step";
    case Role::SampleOffset: return "sample_offset";
    case Role::TotalSteps: return "total_steps";
    case Role::Gradient: return "grad";
    case Role::Losses: return "losses";
    case Role::Probs: return "probs";
    case Role::ImageGradient: return "image_grad";
    case Role::Features: return "features";
    case Role::Reference: return "reference";
    case Role::ReferenceLabels: return "reference_labels";
    case Role::ReferenceCount: return "reference_count";
    case Role::Neighbors: return "neighbors";
    case Role::Distances: return "distances";
    }
    return "?";
}

bool PipelineSpec::has_input(Role r) const {
    return std::find(inputs.begin(), inputs.end(), r) != inputs.end();
}

bool PipelineSpec::has_output(Role r) const {
    return std::find(outputs.begin(), outputs.end(), r) != outputs.end();
}

const PipelineSpec *Program::find(const std::string &name) const {
    for (const PipelineSpec &p : pipelines) {
        if (p.name == name) return &p;
    }
    return nullptr;
}

namespace {

void add_knn_pipelines(Program &p) {
    using R = Role;
    p.pipelines.push_back({"features",
                           "the features neighbours are compared by: the layers' value",
                           {R::Images},
                           {R::Features},
                           {R::Images, R::Batch, R::Features}});
    p.pipelines.push_back(
        {"classify",
         "the vote of the k nearest reference samples: probs are vote shares",
         {R::Reference, R::ReferenceLabels, R::Images},
         {R::Probs},
         {R::Reference, R::ReferenceLabels, R::ReferenceCount, R::Images, R::Batch, R::Probs}});
    p.pipelines.push_back(
        {"neighbors",
         "the k nearest reference samples and their distances, nearest first",
         {R::Reference, R::Images},
         {R::Neighbors, R::Distances},
         {R::Reference, R::ReferenceCount, R::Images, R::Batch, R::Neighbors, R::Distances}});
}

}  // namespace

Program build_program(const Graph &forward, const ProgramOptions &options) {
    using R = Role;
    Program p;
    p.model = forward.model;
    if (forward.is_knn()) {
        add_knn_pipelines(p);
        return p;
    }
    p.trainable = op_without_backward(forward) == nullptr;
    p.pipelines.push_back({"init",
                           "fills the parameter arena from the declared initializers",
                           {R::Seed},
                           {R::Params},
                           {R::Params, R::Seed}});
    p.pipelines.push_back({"predict",
                           "inference: batchnorm's running statistics, no dropout",
                           {R::Params, R::Images},
                           {R::Probs},
                           {R::Params, R::Images, R::Batch, R::Probs}});
    if (p.trainable) {
        p.train_graph = derive_training(forward);
        std::vector<Role> data = {R::Params, R::Images, R::Labels, R::Step, R::TotalSteps};
        std::vector<Role> shard = {R::Params,       R::Images, R::Labels,
                                   R::SampleOffset, R::Step,   R::TotalSteps};
        p.pipelines.push_back({"gradient",
                               "dL/dparams of a batch (regularization included) and its losses",
                               shard,
                               {R::Gradient, R::Losses},
                               {R::Params, R::Images, R::Labels, R::Batch, R::SampleOffset, R::Step,
                                R::Gradient, R::Losses}});
        p.pipelines.push_back({"apply_update",
                               "the optimizer's step from a gradient arena, in place",
                               {R::Params, R::OptState, R::Gradient, R::Step, R::TotalSteps},
                               {R::Params, R::OptState},
                               {R::Params, R::OptState, R::Gradient, R::Step}});
        PipelineSpec step = {
            "train_step",
            "one training step: gradient, then apply_update, in place",
            {R::Params, R::OptState, R::Images, R::Labels, R::Step, R::TotalSteps},
            {R::Params, R::OptState, R::Losses},
            {R::Params, R::OptState, R::Images, R::Labels, R::Batch, R::Step, R::Losses}};
        // Only the hand schedules are known to finish every read of the parameters before the
        // in-place update writes them; other strategies run the two pipelines in turn.
        if (options.strategy != Strategy::Netc) step.composed_of = {"gradient", "apply_update"};
        p.pipelines.push_back(step);
        p.pipelines.push_back(
            {"loss", "the losses of a training-mode forward pass", data, {R::Losses}, {}, false});
        p.pipelines.push_back({"gradient_check",
                               "dL/dparams and dL/dimages, for gradient checks",
                               data,
                               {R::Gradient, R::Losses, R::ImageGradient},
                               {},
                               false});
    }
    if (options.embedded_weights) {
        p.pipelines.push_back({"predict_embedded",
                               "inference with the trained weights and normalization compiled in",
                               {R::Images},
                               {R::Probs},
                               {R::Images, R::Batch, R::Probs}});
    }
    return p;
}

namespace {

std::string role_list(const std::vector<Role> &roles, const ParamLayout &layout, int slots) {
    std::string out;
    for (Role r : roles) {
        out += out.empty() ? "" : ", ";
        out += role_name(r);
        if (r == Role::OptState) out += "[" + std::to_string(slots) + "]";
        if (r == Role::Params || r == Role::Gradient)
            out += "(" + std::to_string(layout.total) + ")";
    }
    return out.empty() ? "-" : out;
}

}  // namespace

std::string dump(const Program &program, const ParamLayout &layout) {
    int slots = program.trainable ? optimizer_state_slots(program.train_graph.train.optimizer) : 0;
    std::string out = "program " + program.model + "\n";
    for (const PipelineSpec &p : program.pipelines) {
        out += "  " + p.name + (p.in_object ? "" : " (jit only)") + ": " + p.summary + "\n";
        if (!p.lowered()) {
            std::string parts;
            for (const std::string &c : p.composed_of) parts += (parts.empty() ? "" : ", ") + c;
            out += "    composed of: " + parts + "\n";
        }
        out += "    in:  " + role_list(p.inputs, layout, slots) + "\n";
        out += "    out: " + role_list(p.outputs, layout, slots) + "\n";
    }
    return out;
}

}  // namespace netc
