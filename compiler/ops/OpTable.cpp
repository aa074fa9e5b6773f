#include "compiler/ops/OpTable.h"

namespace netc {

const std::vector<const OpDef *> &all_ops() {
#define NETC_OP_ENTRY(name) &op_##name(),
    static const std::vector<const OpDef *> ops = {NETC_FOR_EACH_OP(NETC_OP_ENTRY)};
#undef NETC_OP_ENTRY
    return ops;
}

const OpDef *find_op(const std::string &name) {
    for (const OpDef *op : all_ops()) {
        if (op->user_visible && name == op->name) return op;
    }
    return nullptr;
}

std::vector<std::string> user_op_names() {
    std::vector<std::string> names;
    for (const OpDef *op : all_ops()) {
        if (op->user_visible) names.push_back(op->name);
    }
    return names;
}

}  // namespace netc
