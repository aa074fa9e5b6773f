// global_avgpool: the mean of each channel over all pixels, [C, H, W] -> [C].
#include "compiler/ops/Op.h"

namespace netc {

const OpDef &op_global_avgpool() {
    static const OpDef def = {
        "global_avgpool", "mean of each channel over the whole image: CxHxW -> C", 1, 1, {},
        [](const Node &, const std::vector<Shape> &in, std::string &error)
            -> std::optional<Shape> {
            if (!expect_image(in[0], "global_avgpool", error)) return std::nullopt;
            return Shape{{in[0].dims[0]}};
        }};
    return def;
}

}  // namespace netc
