#include "compiler/Settings.h"

#include "dsl/Error.h"

namespace netc {

namespace {

AttrSpec lr_attr(double def) {
    return float_attr("lr", def, Range::above(0), "base learning rate");
}
AttrSpec eps_attr(double def) {
    return float_attr("eps", def, Range::above(0), "added to the denominator");
}
AttrSpec warmup_attr() {
    return int_attr("warmup", 0, Range::at_least(0),
                    "steps of linear warmup from 0 to the scheduled rate");
}
AttrSpec steps_attr() {
    return optional_int_attr("steps", Range::at_least(1),
                             "length of the schedule in steps; default: the whole run");
}
std::vector<AttrSpec> regularizer_attrs(std::vector<AttrSpec> own) {
    own.push_back(bool_attr("biases", false, "also regularize bias vectors"));
    own.push_back(bool_attr("norms", false,
                            "also regularize normalization scales and shifts and prelu slopes"));
    return own;
}

std::vector<ChoiceSpec> make_losses() {
    return {
        {"softmax_cross_entropy",
         {"softmax", "cross_entropy"},
         {float_attr("label_smoothing", 0, Range::closed_open(0, 1),
                     "mass spread uniformly over all classes")},
         "softmax of the logits, then the negative log-likelihood of the true class"},
        {"svm",
         {"hinge", "multiclass_svm"},
         {float_attr("margin", 1.0, Range::above(0),
                     "required gap between the true class' score "
                     "and every other class' score")},
         "multiclass SVM (Weston-Watkins) hinge loss: sum over j != y of max(0, s_j - s_y + "
         "margin)"},
    };
}

std::vector<ChoiceSpec> make_regularizers() {
    return {
        {"l2",
         {},
         regularizer_attrs(
             {float_attr("strength", 1e-4, Range::at_least(0), "lambda in lambda * sum(w^2)")}),
         "L2 penalty lambda * sum(w^2) (weight decay)"},
        {"l1",
         {},
         regularizer_attrs(
             {float_attr("strength", 1e-5, Range::at_least(0), "lambda in lambda * sum(|w|)")}),
         "L1 penalty lambda * sum(|w|)"},
        {"elastic_net",
         {"elastic"},
         regularizer_attrs({
             float_attr("strength", 1e-4, Range::at_least(0), "overall lambda"),
             float_attr("l1_ratio", 0.5, Range::closed(0, 1), "share of the L1 term"),
         }),
         "lambda * (l1_ratio * sum(|w|) + (1 - l1_ratio) * sum(w^2))"},
    };
}

std::vector<ChoiceSpec> make_optimizers() {
    return {
        {"sgd", {}, {lr_attr(0.01)}, "w -= lr * g"},
        {"momentum",
         {},
         {lr_attr(0.01), float_attr("rho", 0.9, Range::closed_open(0, 1), "momentum coefficient")},
         "v = rho * v + g; w -= lr * v"},
        {"nesterov",
         {},
         {lr_attr(0.01), float_attr("rho", 0.9, Range::closed_open(0, 1), "momentum coefficient")},
         "v = rho * v + g; w -= lr * (g + rho * v)"},
        {"adagrad",
         {},
         {lr_attr(0.01), eps_attr(1e-10)},
         "c += g^2; w -= lr * g / (sqrt(c) + eps)"},
        {"rmsprop",
         {},
         {lr_attr(0.001),
          float_attr("decay", 0.99, Range::closed_open(0, 1),
                     "decay of the squared-gradient average"),
          eps_attr(1e-8)},
         "c = decay * c + (1 - decay) * g^2; w -= lr * g / (sqrt(c) + eps)"},
        {"adam",
         {},
         {lr_attr(0.001), float_attr("beta1", 0.9, Range::closed_open(0, 1), "first-moment decay"),
          float_attr("beta2", 0.999, Range::closed_open(0, 1), "second-moment decay"),
          eps_attr(1e-8)},
         "Adam with bias correction (Kingma & Ba 2015)"},
        {"adamw",
         {},
         {lr_attr(0.001), float_attr("beta1", 0.9, Range::closed_open(0, 1), "first-moment decay"),
          float_attr("beta2", 0.999, Range::closed_open(0, 1), "second-moment decay"),
          eps_attr(1e-8),
          float_attr("weight_decay", 0.01, Range::at_least(0),
                     "decoupled decay: w -= lr * weight_decay * w")},
         "Adam with decoupled weight decay (Loshchilov & Hutter 2019)"},
    };
}

std::vector<ChoiceSpec> make_schedules() {
    return {
        {"constant", {}, {warmup_attr()}, "lr stays at its base value"},
        {"step",
         {},
         {int_attr("step_size", 1000, Range::at_least(1), "steps between decays"),
          float_attr("gamma", 0.1, Range::open_closed(0, 1), "factor applied at each decay"),
          warmup_attr()},
         "lr * gamma^floor(step / step_size)"},
        {"multistep",
         {},
         {int_list_attr("milestones", {}, Range::at_least(1), "steps at which lr decays"),
          float_attr("gamma", 0.1, Range::open_closed(0, 1), "factor applied at each milestone"),
          warmup_attr()},
         "lr * gamma^(number of milestones passed)"},
        {"exponential",
         {},
         {float_attr("gamma", 0.999, Range::open_closed(0, 1), "factor per step"), warmup_attr()},
         "lr * gamma^step"},
        {"polynomial",
         {"poly"},
         {float_attr("power", 1.0, Range::above(0), "exponent"),
          float_attr("end_lr", 0, Range::at_least(0), "rate at the end"), steps_attr(),
          warmup_attr()},
         "(lr - end_lr) * (1 - step / steps)^power + end_lr"},
        {"cosine",
         {},
         {float_attr("min_lr", 0, Range::at_least(0), "rate at the bottom of the cosine"),
          steps_attr(),
          optional_int_attr(
              "restart_period", Range::at_least(1),
              "steps of the first cycle of cosine restarts (SGDR); none: no restarts"),
          int_attr("restart_mult", 1, Range::at_least(1), "each cycle is this many times longer"),
          warmup_attr()},
         "min_lr + (lr - min_lr) * (1 + cos(pi * t / T)) / 2, optionally restarting"},
        {"linear",
         {},
         {float_attr("end_factor", 0, Range::closed(0, 1), "fraction of lr reached at the end"),
          steps_attr(), warmup_attr()},
         "lr falls linearly to end_factor * lr"},
        {"inverse_sqrt",
         {"rsqrt"},
         {warmup_attr()},
         "lr * sqrt(max(warmup, 1) / (step + 1)) after warmup"},
    };
}

std::vector<ChoiceSpec> make_augmentations() {
    return {
        {"random_crop",
         {"crop"},
         {int_attr("pad", 4, Range::at_least(0), "zero padding before cropping back to size")},
         "pad each side, then crop a random window of the original size"},
        {"hflip",
         {"horizontal_flip"},
         {float_attr("p", 0.5, Range::closed(0, 1), "probability of flipping")},
         "mirror the image left to right"},
        {"cutout",
         {},
         {int_attr("size", 8, Range::at_least(1), "side of the square that is zeroed"),
          float_attr("p", 1.0, Range::closed(0, 1), "probability of applying it")},
         "zero a random square (DeVries & Taylor 2017)"},
        {"color_jitter",
         {"colour_jitter"},
         {float_attr("brightness", 0.2, Range::closed(0, 1), "max relative brightness change"),
          float_attr("contrast", 0.2, Range::closed(0, 1), "max relative contrast change")},
         "random brightness and contrast"},
        {"rotation",
         {"rotate"},
         {float_attr("degrees", 10, Range::closed(0, 180), "max rotation either way")},
         "rotate by a random angle, bilinear, zero fill"},
    };
}

std::vector<ChoiceSpec> make_early_stopping() {
    return {
        {"early_stopping",
         {},
         {int_attr("patience", 5, Range::at_least(1),
                   "epochs without a better validation accuracy before stopping"),
          float_attr("min_delta", 0, Range::at_least(0), "smallest improvement that counts")},
         "stop when validation accuracy stops improving"},
    };
}

std::vector<ChoiceSpec> make_classifiers() {
    return {
        {"knn",
         {"nearest_neighbors", "nearest_neighbours"},
         {int_attr("k", 5, Range::at_least(1), "neighbours that vote"),
          enum_attr("distance", "l2", {"l1", "l2", "cosine"},
                    "sum of |x - y|, Euclidean, or 1 - cos(x, y)"),
          enum_attr("vote", "majority", {"majority", "distance"},
                    "one vote per neighbour, or votes weighted by 1 / distance")},
         "k nearest neighbours: the training set's features are stored; a query takes the "
         "class most of its k nearest training samples have"},
    };
}

}  // namespace

const char *choice_kind_name(ChoiceKind kind) {
    switch (kind) {
    case ChoiceKind::Loss: return "loss";
    case ChoiceKind::Regularizer: return "regularizer";
    case ChoiceKind::Optimizer: return "optimizer";
    case ChoiceKind::Schedule: return "schedule";
    case ChoiceKind::Augmentation: return "augmentation";
    case ChoiceKind::EarlyStopping: return "early stopping";
    case ChoiceKind::Classifier: return "classifier";
    }
    internal_error("unhandled choice kind");
}

const std::vector<ChoiceSpec> &choice_table(ChoiceKind kind) {
    static const std::vector<ChoiceSpec> losses = make_losses();
    static const std::vector<ChoiceSpec> regularizers = make_regularizers();
    static const std::vector<ChoiceSpec> optimizers = make_optimizers();
    static const std::vector<ChoiceSpec> schedules = make_schedules();
    static const std::vector<ChoiceSpec> augmentations = make_augmentations();
    static const std::vector<ChoiceSpec> early = make_early_stopping();
    static const std::vector<ChoiceSpec> classifiers = make_classifiers();
    switch (kind) {
    case ChoiceKind::Loss: return losses;
    case ChoiceKind::Regularizer: return regularizers;
    case ChoiceKind::Optimizer: return optimizers;
    case ChoiceKind::Schedule: return schedules;
    case ChoiceKind::Augmentation: return augmentations;
    case ChoiceKind::EarlyStopping: return early;
    case ChoiceKind::Classifier: return classifiers;
    }
    internal_error("unhandled choice kind");
}

const ChoiceSpec &choice_spec(ChoiceKind kind, const std::string &name) {
    for (const ChoiceSpec &spec : choice_table(kind)) {
        if (spec.name == name) return spec;
    }
    internal_error(std::string("no ") + choice_kind_name(kind) + " named " + name);
}

std::string choice_string(ChoiceKind kind, const Choice &choice) {
    std::string attrs = choice.attrs.str(choice_spec(kind, choice.name).attrs);
    return choice.name + (attrs.empty() ? "" : "(" + attrs + ")");
}

std::vector<std::pair<std::string, double>> choice_numbers(ChoiceKind kind, const Choice &choice) {
    std::vector<std::pair<std::string, double>> numbers;
    for (const AttrSpec &a : choice_spec(kind, choice.name).attrs) {
        if (choice.attrs.has(a.name)) numbers.push_back({a.name, choice.attrs.get_float(a.name)});
    }
    return numbers;
}

bool bind_choice(ChoiceKind kind, const ast::Expr &expr, Diagnostics &diags, Choice &out) {
    const char *what = choice_kind_name(kind);
    if (expr.kind != ast::Expr::Kind::Name && expr.kind != ast::Expr::Kind::Call) {
        diags.error(expr.loc, std::string("expected a ") + what + " such as '" +
                                  choice_table(kind)[0].name + "', found " + ast::to_string(expr));
        return false;
    }
    std::vector<std::string> names;
    for (const ChoiceSpec &spec : choice_table(kind)) {
        bool match = spec.name == expr.text;
        for (const std::string &alias : spec.aliases) match |= alias == expr.text;
        names.push_back(spec.name);
        names.insert(names.end(), spec.aliases.begin(), spec.aliases.end());  // "softmx": softmax
        if (!match) continue;
        out.name = spec.name;
        out.loc = expr.loc;
        // "optimizer adam", but plain "early_stopping" rather than "early stopping early_stopping".
        std::string owner =
            kind == ChoiceKind::EarlyStopping ? spec.name : std::string(what) + " " + spec.name;
        return bind_attrs(spec.attrs, expr.args, owner, expr.loc, /*allow_positional=*/true, diags,
                          out.attrs);
    }
    diags.error(expr.loc, std::string("unknown ") + what + " '" + expr.text + "'" +
                              did_you_mean(expr.text, names));
    return false;
}

Choice default_choice(ChoiceKind kind, const std::string &name) {
    const ChoiceSpec &spec = choice_spec(kind, name);
    Choice out;
    out.name = spec.name;
    for (const AttrSpec &a : spec.attrs) {
        if (a.default_value) out.attrs.set(a.name, *a.default_value);
    }
    return out;
}

}  // namespace netc
