// dense: y = x W^T + b, a fully connected layer (torch.nn.Linear).
#include "compiler/ops/Op.h"

namespace netc {

const OpDef &op_dense() {
    static const OpDef def = {
        "dense",
        "fully connected layer: y = x W^T + b",
        1, 1,
        with_weight_attrs({
            required_int_attr("units", Range::at_least(1), "number of outputs"),
            bool_attr("bias", true, "add a learned bias"),
        }),
        [](const Node &node, const std::vector<Shape> &in, std::string &error)
            -> std::optional<Shape> {
            if (in[0].rank() != 1) {
                error = "dense expects a flat input F, got " + in[0].str() +
                        "; insert 'flatten' (or 'global_avgpool') before it";
                return std::nullopt;
            }
            return Shape{{node.attrs.get_int("units")}};
        },
        [](const Node &node, const std::vector<Shape> &in) {
            int64_t units = node.attrs.get_int("units");
            std::vector<ParamSpec> p = {
                {"weight", Shape{{units, in[0].dims[0]}}, node.attrs.get_init("init"),
                 ParamRole::Weight}};
            if (node.attrs.get_bool("bias")) {
                p.push_back({"bias", Shape{{units}}, node.attrs.get_init("bias_init"),
                             ParamRole::Bias});
            }
            return p;
        },
    };
    return def;
}

}  // namespace netc
