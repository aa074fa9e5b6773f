#include "compiler/Optimizer.h"

#include "dsl/Error.h"

namespace netc {

using namespace Halide;

int optimizer_state_slots(const Choice &optimizer) {
    const std::string &n = optimizer.name;
    if (n == "sgd") return 0;
    if (n == "momentum" || n == "nesterov" || n == "adagrad" || n == "rmsprop") return 1;
    if (n == "adam" || n == "adamw") return 2;
    internal_error("optimizer without a lowering: " + n);
}

std::vector<std::string> optimizer_slot_names(const Choice &optimizer) {
    const std::string &n = optimizer.name;
    std::vector<std::string> names;
    if (n == "momentum" || n == "nesterov")
        names = {"momentum_buffer"};
    else if (n == "adagrad")
        names = {"sum"};
    else if (n == "rmsprop")
        names = {"square_avg"};
    else if (n == "adam" || n == "adamw")
        names = {"exp_avg", "exp_avg_sq"};
    // Whatever a new optimizer keeps, its slots get numbered names rather than none.
    for (int k = (int)names.size(); k < optimizer_state_slots(optimizer); k++) {
        names.push_back("slot" + std::to_string(k));
    }
    return names;
}

OptimizerUpdate optimizer_update(const Choice &optimizer, const Expr &w, const Expr &g,
                                 const std::vector<Expr> &state, const Expr &lr, const Expr &step) {
    const std::string &n = optimizer.name;
    const Attrs &a = optimizer.attrs;
    auto f = [&](const char *name) { return (float)a.get_float(name); };
    if (n == "sgd") return {w - lr * g, {}};
    if (n == "momentum" || n == "nesterov") {
        Expr v = f("rho") * state[0] + g;
        Expr direction = n == "momentum" ? v : g + f("rho") * v;
        return {w - lr * direction, {v}};
    }
    if (n == "adagrad") {
        Expr c = state[0] + g * g;
        return {w - lr * g / (sqrt(c) + f("eps")), {c}};
    }
    if (n == "rmsprop") {
        Expr c = f("decay") * state[0] + (1.0f - f("decay")) * g * g;
        return {w - lr * g / (sqrt(c) + f("eps")), {c}};
    }
    internal_assert(n == "adam" || n == "adamw");
    float b1 = f("beta1"), b2 = f("beta2");
    Expr m = b1 * state[0] + (1.0f - b1) * g;
    Expr v = b2 * state[1] + (1.0f - b2) * g * g;
    // Bias corrections in double: b2^t stays distinguishable from 1 for large t.
    // Not cast(step + 1): Halide 14's autoschedulers mistype the int64 add.
    Expr t = cast<double>(step) + Expr(1.0);
    Expr c1 = cast<float>(Expr(1.0) - pow(Expr((double)b1), t));
    Expr c2 = cast<float>(Expr(1.0) - pow(Expr((double)b2), t));
    Expr updated = w - lr * (m / c1) / (sqrt(v / c2) + f("eps"));
    if (n == "adamw") updated -= lr * f("weight_decay") * w;
    return {updated, {m, v}};
}

}  // namespace netc
