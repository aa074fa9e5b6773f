#include "compiler/BuildGraph.h"

#include "compiler/Settings.h"
#include "compiler/ops/OpTable.h"
#include "dsl/Error.h"

#include <map>
#include <set>

namespace netc {

namespace {

bool is_c_identifier(const std::string &s) {
    if (s.empty() || std::isdigit((unsigned char)s[0])) return false;
    for (char c : s) {
        if (!std::isalnum((unsigned char)c) && c != '_') return false;
    }
    return true;
}

class GraphBuilder {
public:
    GraphBuilder(Diagnostics &diags) : diags_(diags) {}

    std::optional<Graph> run(const ast::File &file) {
        const ast::Block *model = nullptr;
        const ast::Block *train = nullptr;
        for (const ast::Block &block : file.blocks) {
            const ast::Block *&slot = block.kind == "model" ? model : train;
            if (slot) {
                diags_.error(block.loc, "a file describes one model; a second '" + block.kind +
                                            "' block is not allowed");
                diags_.note(slot->loc, "the first '" + block.kind + "' block is here");
                continue;
            }
            slot = &block;
        }
        if (!model) {
            if (!diags_.has_errors()) {
                diags_.error({1, 1}, "expected a 'model NAME { ... }' block; the file has none");
            }
            return std::nullopt;
        }
        read_model(*model);
        if (train) {
            read_train(*train);
        } else {
            graph_.train.optimizer = default_choice(ChoiceKind::Optimizer, "sgd");
            graph_.train.schedule = default_choice(ChoiceKind::Schedule, "constant");
        }
        if (diags_.has_errors()) return std::nullopt;
        graph_.forward_count = (int)graph_.nodes.size();
        return std::move(graph_);
    }

private:
    // ---- the model block ----

    void read_model(const ast::Block &block) {
        graph_.model = block.name;
        graph_.loc = block.loc;
        if (!is_c_identifier(block.name)) {
            diags_.error(block.name_loc, "model name '" + block.name + "' must be a C identifier");
        }
        bool have_input = false, have_classes = false, have_loss = false;
        for (const ast::Stmt &s : block.stmts) {
            if (!s.label.empty()) labels_ahead_.insert(s.label);
        }
        for (const ast::Stmt &s : block.stmts) {
            if (s.malformed) {
                // The parser reported it: count the setting as given and the label as defined,
                // so the one mistake is not reported again as a missing line or unknown value.
                if (!s.label.empty()) {
                    broken_values_.insert(s.label);
                } else if (s.head == "input") {
                    have_input = true;
                    add_placeholder_input();
                } else if (s.head == "classes") {
                    have_classes = true;
                } else if (s.head == "loss") {
                    have_loss = true;
                }
                continue;
            }
            if (s.head == "input" && s.label.empty()) {
                if (once(s, have_input)) read_input(s);
            } else if (s.head == "classes" && s.label.empty()) {
                int64_t classes = 0;
                if (once(s, have_classes) && read_int_setting(s, 1, 1 << 20, classes)) {
                    graph_.classes = classes;
                }
            } else if (s.head == "loss" && s.label.empty()) {
                if (once(s, have_loss) && one_operand(s, "a loss such as softmax_cross_entropy")) {
                    bind_choice(ChoiceKind::Loss, s.operands[0], diags_, graph_.loss);
                }
            } else if (s.head == "classify" && s.label.empty()) {
                bool seen = graph_.classifier.has_value();
                if (once(s, seen) && one_operand(s, "a classifier such as knn(k=5)")) {
                    Choice classifier;
                    if (bind_choice(ChoiceKind::Classifier, s.operands[0], diags_, classifier)) {
                        graph_.classifier = std::move(classifier);
                    }
                }
            } else if (s.head == "regularize" && s.label.empty()) {
                bool seen = graph_.regularizer.has_value();
                if (once(s, seen) && one_operand(s, "a regularizer such as l2(5e-4)")) {
                    Choice reg;
                    if (bind_choice(ChoiceKind::Regularizer, s.operands[0], diags_, reg)) {
                        graph_.regularizer = std::move(reg);
                    }
                }
            } else {
                if (!have_input && graph_.nodes.empty()) {  // report once
                    diags_.error(s.loc, "layers must follow the model's 'input' line, such as "
                                        "'input 1x28x28'");
                    add_placeholder_input();
                }
                read_layer(s);
            }
        }
        if (!have_input && !diags_.has_errors()) {
            diags_.error(block.loc, "model '" + block.name +
                                        "' has no input; add a line such as 'input 1x28x28'");
        }
        if (!have_classes) {
            diags_.error(block.loc,
                         "model '" + block.name +
                             "' does not say how many classes it has; add a line such as "
                             "'classes 10'");
        }
        if (graph_.classifier) {
            refuse_training_of_knn(have_loss);
        } else if (!have_loss) {
            graph_.loss = default_choice(ChoiceKind::Loss, "softmax_cross_entropy");
        }
        // A kNN model may compare the (normalized) images themselves.
        if (graph_.nodes.size() <= 1 && have_input && !graph_.classifier && !diags_.has_errors()) {
            diags_.error(block.loc, "model '" + block.name + "' has no layers");
        }
        warn_unused_values();
        warn_lone_layer_regularize();
    }

    /// A kNN model has nothing to train: a loss or a regularizer is a mistake, not a no-op.
    void refuse_training_of_knn(bool have_loss) {
        const std::string why = ", but a kNN model trains nothing: 'classify " +
                                graph_.classifier->name +
                                "' compares features with the stored training set's";
        if (have_loss) diags_.error(graph_.loss.loc, "the model has a loss" + why);
        if (graph_.regularizer) {
            diags_.error(graph_.regularizer->loc, "the model has a regularizer" + why);
        }
    }

    /// A per-layer `regularize=` scales the model's regularizer; without one it does nothing.
    void warn_lone_layer_regularize() {
        if (graph_.regularizer) return;
        for (const Node &n : graph_.nodes) {
            if (!n.attrs.has("regularize") || n.attrs.get_float("regularize") == 0) continue;
            diags_.warning(n.loc, "regularize=" + format_number(n.attrs.get_float("regularize")) +
                                      " on layer '" + n.name +
                                      "' has no effect: the model has "
                                      "no 'regularize' line, such as 'regularize l2(5e-4)'");
        }
    }

    /// Reports a repeated setting; returns true the first time.
    bool once(const ast::Stmt &s, bool &seen) {
        if (seen) {
            diags_.error(s.head_loc, "'" + s.head + "' is given twice");
            return false;
        }
        seen = true;
        return true;
    }

    bool no_parens(const ast::Stmt &s) {
        if (!s.has_parens) return true;
        diags_.error(s.head_loc,
                     "'" + s.head + "' is a setting, written '" + s.head + " VALUE', not a call");
        return false;
    }

    bool one_operand(const ast::Stmt &s, const std::string &what) {
        if (!no_parens(s)) return false;
        if (s.operands.size() == 1) return true;
        SourceLoc loc = s.operands.empty() ? s.head_loc : s.operands[1].loc;
        diags_.error(loc, "'" + s.head + "' expects " + what);
        return false;
    }

    bool read_int_setting(const ast::Stmt &s, int64_t lo, int64_t hi, int64_t &out) {
        if (!one_operand(s, "an integer")) return false;
        const ast::Expr &e = s.operands[0];
        if (e.kind != ast::Expr::Kind::Number || !e.is_integer) {
            diags_.error(e.loc, "'" + s.head + "' expects an integer, found " + ast::to_string(e));
            return false;
        }
        if (e.number < lo || e.number > hi) {
            diags_.error(e.loc, "'" + s.head + "' must be in [" + std::to_string(lo) + ", " +
                                    std::to_string(hi) + "], found " + e.text);
            return false;
        }
        out = (int64_t)e.number;
        return true;
    }

    /// input CxHxW [f32]
    void read_input(const ast::Stmt &s) {
        if (!no_parens(s)) return;
        add_placeholder_input();
        graph_.nodes[0].loc = s.loc;
        if (s.operands.empty() || s.operands[0].kind != ast::Expr::Kind::Dims ||
            s.operands[0].dims.size() != 3) {
            SourceLoc loc = s.operands.empty() ? s.head_loc : s.operands[0].loc;
            diags_.error(loc, "'input' expects a per-sample image shape CxHxW such as 1x28x28 or "
                              "3x32x32");
            return;
        }
        for (int64_t d : s.operands[0].dims) {
            if (d < 1 || d > 65536) {
                diags_.error(s.operands[0].loc,
                             "input sizes must be in [1, 65536], found " + std::to_string(d));
                return;
            }
        }
        graph_.input.dims = s.operands[0].dims;
        if (s.operands.size() >= 2) {
            const ast::Expr &type = s.operands[1];
            if (type.kind != ast::Expr::Kind::Name || type.text != "f32") {
                diags_.error(type.loc, "element type must be f32, found " + ast::to_string(type));
            }
        }
        if (s.operands.size() > 2) {
            diags_.error(s.operands[2].loc, "'input' takes a shape and an element type, such as "
                                            "'input 3x32x32 f32'");
        }
    }

    void add_placeholder_input() {
        if (!graph_.nodes.empty()) return;
        Node input;
        input.id = 0;
        input.op = &op_input();
        input.name = "input";
        input.user_named = true;
        graph_.nodes.push_back(std::move(input));
        values_["input"] = 0;
        prev_ = 0;
    }

    /// [label ':'] op ['(' inputs and attributes ')']
    void read_layer(const ast::Stmt &s) {
        const OpDef *op = find_op(s.head);
        if (!op) {
            std::string hint = did_you_mean(s.head, user_op_names());
            if (hint.empty() && settings_in_train_block().count(s.head)) {
                hint = "; '" + s.head + "' belongs in the 'train { ... }' block";
            }
            diags_.error(s.head_loc, "unknown op '" + s.head + "'" + hint);
            return;
        }
        if (!s.operands.empty()) {
            diags_.error(s.operands[0].loc, "unexpected " + ast::to_string(s.operands[0]) +
                                                " after " + s.head +
                                                "; attributes go inside the parentheses, as in " +
                                                s.head + "(name=value)");
            return;
        }
        Node node;
        node.op = op;
        node.loc = s.loc;
        bool ok = true;
        // Positional arguments name the layer's inputs; keyword arguments are attributes.
        std::vector<int> inputs;
        for (const ast::Arg &arg : s.args) {
            if (!arg.key.empty()) continue;
            if (arg.value.kind != ast::Expr::Kind::Name) {
                // dense(10): show the Keras habit in this language's spelling.
                std::string example;
                if (!op->attrs.empty() && arg.value.kind == ast::Expr::Kind::Number) {
                    example =
                        ", as in " + s.head + "(" + op->attrs[0].name + "=" + arg.value.text + ")";
                }
                diags_.error(arg.value.loc, "positional arguments of " + s.head +
                                                " name its input values, found " +
                                                ast::to_string(arg.value) +
                                                "; attributes are written name=value" + example);
                ok = false;
                continue;
            }
            int id = resolve(arg.value);
            if (id < 0) ok = false;
            inputs.push_back(id);
        }
        // The previous layer feeds the op unless its inputs were all named.
        if ((int)inputs.size() < std::max(op->min_inputs, 1)) inputs.insert(inputs.begin(), prev_);
        int max = op->max_inputs;
        if ((int)inputs.size() < op->min_inputs || (max >= 0 && (int)inputs.size() > max)) {
            diags_.error(s.head_loc, arity_message(*op, (int)inputs.size()));
            ok = false;
        }
        ok &= bind_attrs(op->attrs, s.args, s.head, s.head_loc, /*allow_positional=*/false, diags_,
                         node.attrs);
        ok &= name_node(s, node);
        if (!ok) {
            if (!s.label.empty()) broken_values_.insert(s.label);
            return;
        }
        node.inputs = inputs;
        node.id = (int)graph_.nodes.size();
        values_[node.name] = node.id;
        prev_ = node.id;
        graph_.nodes.push_back(std::move(node));
    }

    static std::string arity_message(const OpDef &op, int given) {
        std::string want =
            op.max_inputs < 0 ? "at least " + std::to_string(op.min_inputs)
            : op.min_inputs == op.max_inputs
                ? std::to_string(op.min_inputs)
                : std::to_string(op.min_inputs) + " to " + std::to_string(op.max_inputs);
        std::string out = std::string(op.name) + " takes " + want + " input" +
                          (want == "1" ? "" : "s") + ", got " + std::to_string(given);
        if (op.max_inputs < 0 || op.max_inputs > 1) {
            out += std::string("; name the others, as in ") + op.name + "(skip)";
        }
        return out;
    }

    /// Names the node by its label or a generated "<op>_<k>"; reports duplicate labels.
    bool name_node(const ast::Stmt &s, Node &node) {
        if (!s.label.empty()) {
            auto it = values_.find(s.label);
            if (it != values_.end()) {
                diags_.error(s.label_loc, "'" + s.label + "' is already defined");
                diags_.note(graph_.nodes[it->second].loc, "'" + s.label + "' was defined here");
                return false;
            }
            if (reserved_names().count(s.label)) {
                diags_.error(s.label_loc, "'" + s.label +
                                              "' is a reserved word and cannot name a "
                                              "layer");
                return false;
            }
            node.name = s.label;
            node.user_named = true;
            return true;
        }
        // Generated names count per op and skip over names the user took.
        int &counter = generated_[node.op->name];
        std::string name;
        do {
            name = std::string(node.op->name) + "_" + std::to_string(++counter);
        } while (values_.count(name) || labels_ahead_.count(name));
        node.name = name;
        return true;
    }

    int resolve(const ast::Expr &ref) {
        auto it = values_.find(ref.text);
        if (it != values_.end()) return it->second;
        if (broken_values_.count(ref.text)) return -1;  // its own error was reported
        if (labels_ahead_.count(ref.text)) {
            diags_.error(ref.loc, "'" + ref.text +
                                      "' is used before it is defined; values must "
                                      "be defined before they are used");
            return -1;
        }
        std::vector<std::string> names;
        for (const auto &kv : values_) names.push_back(kv.first);
        diags_.error(ref.loc, "unknown value '" + ref.text + "'" + did_you_mean(ref.text, names));
        return -1;
    }

    void warn_unused_values() {
        if (graph_.nodes.size() < 2) return;
        std::vector<bool> used(graph_.nodes.size(), false);
        for (const Node &n : graph_.nodes) {
            for (int i : n.inputs) {
                if (i >= 0) used[i] = true;
            }
        }
        for (size_t i = 0; i + 1 < graph_.nodes.size(); i++) {
            if (!used[i]) {
                diags_.warning(graph_.nodes[i].loc,
                               "the value of '" + graph_.nodes[i].name + "' is never used");
            }
        }
    }

    static const std::set<std::string> &reserved_names() {
        static const std::set<std::string> names = {"input", "classes", "loss",    "regularize",
                                                    "model", "train",   "classify"};
        return names;
    }

    /// The first optimizer with an attribute of this name, or "".
    static std::string optimizer_with_attr(const std::string &name) {
        for (const ChoiceSpec &spec : choice_table(ChoiceKind::Optimizer)) {
            for (const AttrSpec &a : spec.attrs) {
                if (a.name == name) return spec.name;
            }
        }
        return "";
    }

    static const std::set<std::string> &settings_in_train_block() {
        static const std::set<std::string> names = {"optimizer", "schedule",      "batch",
                                                    "epochs",    "seed",          "validation",
                                                    "augment",   "early_stopping"};
        return names;
    }

    /// The train settings a kNN model uses: `batch` is the queries per pipeline call.
    static const std::set<std::string> &settings_of_knn() {
        static const std::set<std::string> names = {"batch", "seed", "validation"};
        return names;
    }

    // ---- the train block ----

    void read_train(const ast::Block &block) {
        TrainSettings &t = graph_.train;
        t.loc = block.loc;
        std::set<std::string> seen;
        bool have_optimizer = false, have_schedule = false;
        for (const ast::Stmt &s : block.stmts) {
            if (s.malformed) {
                seen.insert(s.head);  // reported by the parser
                continue;
            }
            if (!s.label.empty()) {
                diags_.error(s.label_loc, "the train block holds settings, not named layers");
                continue;
            }
            if (!settings_in_train_block().count(s.head)) {
                std::vector<std::string> names(settings_in_train_block().begin(),
                                               settings_in_train_block().end());
                std::string hint = did_you_mean(s.head, names);
                if (hint.empty() && find_op(s.head)) hint = "; layers belong in the model block";
                std::string optimizer = optimizer_with_attr(s.head);
                if (hint.empty() && !optimizer.empty()) {
                    hint = "; '" + s.head +
                           "' is an attribute of the optimizer, as in 'optimizer " + optimizer +
                           "(" + s.head + "=...)'";
                }
                diags_.error(s.head_loc, "unknown train setting '" + s.head + "'" + hint);
                continue;
            }
            if (s.head != "augment" && !seen.insert(s.head).second) {
                diags_.error(s.head_loc, "'" + s.head + "' is given twice");
                continue;
            }
            if (graph_.is_knn() && !settings_of_knn().count(s.head)) {
                diags_.error(s.head_loc, "'" + s.head +
                                             "' does not apply: a kNN model trains nothing (its "
                                             "train block takes batch, seed and validation)");
                continue;
            }
            int64_t n = 0;
            if (s.head == "optimizer") {
                if (one_operand(s, "an optimizer such as adam(lr=1e-3)")) {
                    have_optimizer =
                        bind_choice(ChoiceKind::Optimizer, s.operands[0], diags_, t.optimizer);
                }
            } else if (s.head == "schedule") {
                if (one_operand(s, "a schedule such as cosine(warmup=500)")) {
                    have_schedule =
                        bind_choice(ChoiceKind::Schedule, s.operands[0], diags_, t.schedule);
                }
            } else if (s.head == "batch") {
                if (read_int_setting(s, 1, 1 << 20, n)) t.batch = n;
            } else if (s.head == "epochs") {
                if (read_int_setting(s, 1, 1 << 20, n)) t.epochs = n;
            } else if (s.head == "seed") {
                if (read_int_setting(s, 0, INT64_MAX / 2, n)) t.seed = (uint64_t)n;
            } else if (s.head == "validation") {
                read_validation(s);
            } else if (s.head == "augment") {
                if (!no_parens(s)) continue;
                if (s.operands.empty()) {
                    diags_.error(s.head_loc, "'augment' expects one or more augmentations, such "
                                             "as 'augment hflip, random_crop(pad=4)'");
                }
                for (const ast::Expr &e : s.operands) {
                    Choice aug;
                    if (bind_choice(ChoiceKind::Augmentation, e, diags_, aug)) {
                        t.augment.push_back(std::move(aug));
                    }
                }
            } else if (s.head == "early_stopping") {
                ast::Expr call;
                call.kind = ast::Expr::Kind::Call;
                call.text = "early_stopping";
                call.loc = s.head_loc;
                call.args = s.args;
                if (!s.operands.empty()) {
                    diags_.error(s.operands[0].loc, "write early_stopping(patience=N)");
                    continue;
                }
                Choice es;
                if (bind_choice(ChoiceKind::EarlyStopping, call, diags_, es)) {
                    t.early_stopping = std::move(es);
                }
            } else {
                internal_error("train setting without a reader: " + s.head);
            }
        }
        if (!have_optimizer && !seen.count("optimizer")) {
            t.optimizer = default_choice(ChoiceKind::Optimizer, "sgd");
        }
        if (!have_schedule && !seen.count("schedule")) {
            t.schedule = default_choice(ChoiceKind::Schedule, "constant");
        }
    }

    void read_validation(const ast::Stmt &s) {
        if (!one_operand(s, "a fraction of the training set, such as 0.1")) return;
        const ast::Expr &e = s.operands[0];
        if (e.kind != ast::Expr::Kind::Number || e.number < 0 || e.number >= 1) {
            diags_.error(e.loc,
                         "'validation' must be a fraction in [0, 1), found " + ast::to_string(e));
            return;
        }
        graph_.train.validation = e.number;
    }

    Diagnostics &diags_;
    Graph graph_;
    std::map<std::string, int> values_;     // value name -> node id
    std::map<std::string, int> generated_;  // op name -> last generated index
    std::set<std::string> labels_ahead_;    // every label in the model block, for generated names
    std::set<std::string> broken_values_;   // labels of layers already reported as erroneous
    int prev_ = -1;
};

}  // namespace

std::optional<Graph> build_graph(const ast::File &file, Diagnostics &diags) {
    return GraphBuilder(diags).run(file);
}

}  // namespace netc
