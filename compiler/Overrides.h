#pragma once
// Hyperparameters set from outside the file (`netc tune --grid k=1,3,5`): each override rewrites
// the syntax tree as if the file said it, and the front end then checks the result as it checks
// any file, so a value out of range or a shape that no longer fits is the same located error.
//
// Names:
//   batch, epochs, seed, validation   the train block's settings (a missing one is added)
//   SETTING.ATTR                       an attribute of optimizer, schedule, loss, regularize or
//                                      classify: optimizer.lr, regularize.strength, classify.k
//   LAYER.ATTR                         an attribute of the layer labelled LAYER: drop1.p, fc.units
//   ATTR                               the one setting above whose choice has an attribute ATTR:
//                                      lr, strength, k, margin (ambiguous or unknown: an error)

#include "compiler/Frontend.h"
#include "dsl/Ast.h"

#include <optional>
#include <string>
#include <vector>

namespace netc {

struct Override {
    std::string name;   // as the user wrote it: "lr", "optimizer.lr", "drop1.p", "batch"
    std::string value;  // "1e-3", "5", "l1"
};

/// `name` resolved against the file's syntax tree to its canonical form ("optimizer.lr",
/// "batch", "drop1.p"), or an error saying what names exist.
std::optional<std::string> resolve_override(const ast::File &file, const std::string &name,
                                            std::string &error);

/// Rewrites `file` so that it says `o.name = o.value` (`name` resolved). False, with `error`,
/// when the name does not resolve or the value is not a number or a word.
bool apply_override(ast::File &file, const Override &o, std::string &error);

/// The front end on `base`'s source with `overrides` applied to its syntax tree: a checked
/// graph, or diagnostics located in the file (the statements the overrides rewrote).
Frontend run_frontend_with(const Frontend &base, const std::vector<Override> &overrides,
                           std::string &error);

}  // namespace netc
