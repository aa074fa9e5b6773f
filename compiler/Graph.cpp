#include "compiler/Graph.h"

#include "compiler/Settings.h"
#include "compiler/ops/Op.h"

#include <sstream>

namespace netc {

std::vector<int> Graph::users(int id) const {
    std::vector<int> out;
    for (const Node &n : nodes) {
        for (int i : n.inputs) {
            if (i == id) {
                out.push_back(n.id);
                break;
            }
        }
    }
    return out;
}

std::string dump(const Graph &graph) {
    std::ostringstream out;
    out << "graph " << graph.model << " input " << graph.input.str() << " classes " << graph.classes
        << "\n";
    for (const Node &n : graph.nodes) {
        if (n.id == graph.forward_count) out << "backward\n";
        if (n.id == graph.sample_loss) out << "loss\n";
        if (n.id == graph.learning_rate) out << "update\n";
        out << "  %" << n.id << " " << n.name << " = " << n.op->name;
        if (n.id > 0) {  // the input node reads nothing; others, their inputs or the arena
            out << "(";
            for (size_t i = 0; i < n.inputs.size(); i++) out << (i ? ", %" : "%") << n.inputs[i];
            out << ")";
        }
        // A backward node carries its forward node's attributes; the forward line shows them. A
        // training node shows the setting it applies.
        std::string attrs = n.forward < 0 ? n.attrs.str(n.op->attrs) : "";
        if (!attrs.empty()) out << " " << attrs;
        if (!n.setting.empty()) out << " " << n.setting;
        if (n.op->updates_arena) out << " -> " << n.param;
        out << " : " << n.shape.str() << (n.batched ? "" : " (no batch)") << "\n";
    }
    for (const auto &[tensor, id] : graph.param_grads) {
        out << "  grad " << tensor << " = %" << id << "\n";
    }
    // The settings the training nodes apply are on their lines.
    const bool applied = graph.has_training();
    if (graph.is_knn()) {
        out << "  classify " << choice_string(ChoiceKind::Classifier, *graph.classifier) << "\n";
    } else if (!applied) {
        out << "  loss " << choice_string(ChoiceKind::Loss, graph.loss) << "\n";
    }
    if (graph.regularizer && !applied) {
        out << "  regularize " << choice_string(ChoiceKind::Regularizer, *graph.regularizer)
            << "\n";
    }
    const TrainSettings &t = graph.train;
    out << "train\n";
    if (graph.is_knn()) {
        out << "  batch " << t.batch << " seed " << t.seed << " validation "
            << format_number(t.validation) << "\n";
        return out.str();
    }
    if (!applied) {
        out << "  optimizer " << choice_string(ChoiceKind::Optimizer, t.optimizer) << "\n";
        out << "  schedule " << choice_string(ChoiceKind::Schedule, t.schedule) << "\n";
    }
    out << "  batch " << t.batch << " epochs " << t.epochs << " seed " << t.seed << " validation "
        << format_number(t.validation) << "\n";
    for (const Choice &a : t.augment) {
        out << "  augment " << choice_string(ChoiceKind::Augmentation, a) << "\n";
    }
    if (t.early_stopping) {
        out << "  " << choice_string(ChoiceKind::EarlyStopping, *t.early_stopping) << "\n";
    }
    return out.str();
}

}  // namespace netc
