#pragma once
// The optimizers' per-element updates, as Halide expressions over one parameter w, its
// gradient g (regularization included) and its state slots (arenas of the parameter layout).
//   sgd       w -= lr g
//   momentum  v = rho v + g;  w -= lr v                      (PyTorch's form)
//   nesterov  v = rho v + g;  w -= lr (g + rho v)
//   adagrad   c += g^2;  w -= lr g / (sqrt(c) + eps)
//   rmsprop   c = decay c + (1 - decay) g^2;  w -= lr g / (sqrt(c) + eps)
//   adam      m = b1 m + (1 - b1) g;  v = b2 v + (1 - b2) g^2;
//             w -= lr (m / (1 - b1^t)) / (sqrt(v / (1 - b2^t)) + eps),  t = step + 1
//   adamw     adam, then w -= lr * weight_decay * w (decoupled; the old w)

#include "compiler/Graph.h"

#include <Halide.h>

#include <string>
#include <vector>

namespace netc {

/// Floats of state per parameter: 0 (sgd), 1 (momentum, nesterov, adagrad, rmsprop), 2 (adam).
int optimizer_state_slots(const Choice &optimizer);

/// The names of an optimizer's state slots, as torch.optim names them ("exp_avg", ...): the
/// checkpoint's tensor names and the AOT model's description.
std::vector<std::string> optimizer_slot_names(const Choice &optimizer);

struct OptimizerUpdate {
    Halide::Expr w;                   // the new parameter
    std::vector<Halide::Expr> state;  // the new state slots
};

OptimizerUpdate optimizer_update(const Choice &optimizer, const Halide::Expr &w,
                                 const Halide::Expr &g, const std::vector<Halide::Expr> &state,
                                 const Halide::Expr &lr, const Halide::Expr &step);

}  // namespace netc
