#pragma once
// The tables of choices a model file configures outside its layers: losses, regularizers,
// optimizers, learning-rate schedules, augmentations, early stopping and classifiers other than
// trained scores (kNN). Each entry names its
// attributes with defaults and ranges, exactly as ops do, so the parser, the diagnostics and
// docs/language.md treat them alike.

#include "compiler/Attr.h"
#include "compiler/Graph.h"

#include <string>
#include <vector>

namespace netc {

struct ChoiceSpec {
    std::string name;                  // canonical name
    std::vector<std::string> aliases;  // other accepted spellings
    std::vector<AttrSpec> attrs;
    std::string summary;
};

/// One table per setting kind.
enum class ChoiceKind {
    Loss,
    Regularizer,
    Optimizer,
    Schedule,
    Augmentation,
    EarlyStopping,
    Classifier,  // `classify knn(k=5)`: a model that classifies without a loss
};

const std::vector<ChoiceSpec> &choice_table(ChoiceKind kind);
const char *choice_kind_name(ChoiceKind kind);  // "loss", "optimizer", ...

/// Binds `expr` (a name such as `sgd` or a call such as `adam(lr=1e-3)`) against the table.
/// Positional arguments bind in attribute order: `l2(5e-4)`. Reports errors; false on failure.
bool bind_choice(ChoiceKind kind, const ast::Expr &expr, Diagnostics &diags, Choice &out);

/// The defaults of an entry, as if written with no arguments (used when a setting is absent).
Choice default_choice(ChoiceKind kind, const std::string &name);

const ChoiceSpec &choice_spec(ChoiceKind kind, const std::string &name);

/// A bound choice as the dumps print it: "adam(lr=0.001 beta1=0.9 ...)", "hflip(p=0.5)".
std::string choice_string(ChoiceKind kind, const Choice &choice);

/// The attributes `choice` holds (given or default; an optional one not given is left out), in
/// its entry's order, as numbers: an augmentation as the runtime takes it (runtime/Augment.h
/// AugmentSpec) and as an AOT object describes it (runtime/ModelApi.h netc_augment).
std::vector<std::pair<std::string, double>> choice_numbers(ChoiceKind kind, const Choice &choice);

}  // namespace netc
