// groupnorm: normalizes each sample over groups of channels (and their pixels), then scales and
// shifts per channel (torch.nn.GroupNorm).
#include "compiler/ops/Op.h"

namespace netc {

const OpDef &op_groupnorm() {
    static const OpDef def = {
        "groupnorm", "per-sample normalization over groups of channels", 1, 1,
        {
            required_int_attr("groups", Range::at_least(1), "number of channel groups"),
            float_attr("eps", 1e-5, Range::above(0), "added to the variance"),
            bool_attr("affine", true, "learn a per-channel scale (weight) and shift (bias)"),
        },
        [](const Node &node, const std::vector<Shape> &in, std::string &error)
            -> std::optional<Shape> {
            int64_t groups = node.attrs.get_int("groups");
            if (channels_of(in[0]) % groups != 0) {
                error = "groups=" + std::to_string(groups) + " does not divide the " +
                        std::to_string(channels_of(in[0])) + " channels of the input " +
                        in[0].str();
                return std::nullopt;
            }
            return in[0];
        },
        [](const Node &node, const std::vector<Shape> &in) {
            Shape c{{channels_of(in[0])}};
            std::vector<ParamSpec> p;
            if (node.attrs.get_bool("affine")) {
                p.push_back({"weight", c, {Initializer::Kind::Ones, 0}, ParamRole::Norm});
                p.push_back({"bias", c, {Initializer::Kind::Zeros, 0}, ParamRole::Norm});
            }
            return p;
        },
    };
    return def;
}

}  // namespace netc
