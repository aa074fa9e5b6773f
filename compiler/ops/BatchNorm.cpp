// batchnorm: normalizes each channel over the batch (and pixels), then scales and shifts
// (torch.nn.BatchNorm2d on CxHxW, BatchNorm1d on F). Running statistics follow
// running = (1 - momentum) * running + momentum * batch_statistic, as PyTorch does.
#include "compiler/ops/Op.h"

namespace netc {

const OpDef &op_batchnorm() {
    static const OpDef def = {
        "batchnorm", "per-channel normalization with batch statistics", 1, 1,
        {
            float_attr("momentum", 0.1, Range::closed(0, 1),
                       "weight of the batch statistic in the running average"),
            float_attr("eps", 1e-5, Range::above(0), "added to the variance"),
            bool_attr("affine", true, "learn a per-channel scale (weight) and shift (bias)"),
        },
        [](const Node &, const std::vector<Shape> &in, std::string &error)
            -> std::optional<Shape> {
            if (in[0].rank() != 1 && in[0].rank() != 3) {
                error = "batchnorm expects CxHxW or F, got " + in[0].str();
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
            p.push_back({"running_mean", c, {Initializer::Kind::Zeros, 0}, ParamRole::Buffer});
            p.push_back({"running_var", c, {Initializer::Kind::Ones, 0}, ParamRole::Buffer});
            return p;
        },
    };
    return def;
}

}  // namespace netc
