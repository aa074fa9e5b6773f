#pragma once
// Looks ops up by name; built from NETC_FOR_EACH_OP.

#include "compiler/ops/Op.h"
#include "compiler/ops/OpList.h"

#include <string>
#include <vector>

namespace netc {

#define NETC_DECLARE_OP(name) const OpDef &op_##name();
NETC_FOR_EACH_OP(NETC_DECLARE_OP)
#undef NETC_DECLARE_OP

/// Every op, in table order (the input pseudo-op included).
const std::vector<const OpDef *> &all_ops();
/// The op a user may write under this name, or null.
const OpDef *find_op(const std::string &name);
/// Names a user may write, for "did you mean".
std::vector<std::string> user_op_names();

}  // namespace netc
