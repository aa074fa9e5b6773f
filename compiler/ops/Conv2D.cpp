// conv2d: 2-D cross-correlation over [C, H, W] images (torch.nn.Conv2d), square kernels.
#include "compiler/ops/Op.h"

namespace netc {

const OpDef &op_conv2d() {
    static const OpDef def = {
        "conv2d",
        "2-D convolution (cross-correlation) with a square kernel",
        1, 1,
        with_weight_attrs({
            required_int_attr("filters", Range::at_least(1), "number of output channels"),
            int_attr("kernel", 3, Range::at_least(1), "kernel size (square)"),
            int_attr("stride", 1, Range::at_least(1), "step between output pixels"),
            int_attr("pad", 0, Range::at_least(0), "zero padding on each side"),
            int_attr("dilation", 1, Range::at_least(1), "spacing between kernel taps"),
            bool_attr("bias", true, "add a learned bias per output channel"),
        }),
        [](const Node &node, const std::vector<Shape> &in, std::string &error)
            -> std::optional<Shape> {
            if (!expect_image(in[0], "conv2d", error)) return std::nullopt;
            int64_t k = node.attrs.get_int("kernel"), s = node.attrs.get_int("stride");
            int64_t p = node.attrs.get_int("pad"), d = node.attrs.get_int("dilation");
            int64_t h = window_output_size(in[0].dims[1], k, s, p, d);
            int64_t w = window_output_size(in[0].dims[2], k, s, p, d);
            if (h < 1 || w < 1) {
                error = "kernel " + std::to_string(k) + " with dilation " + std::to_string(d) +
                        " and pad " + std::to_string(p) + " spans " +
                        std::to_string(d * (k - 1) + 1) + " pixels, more than the padded input " +
                        in[0].str() + " allows";
                return std::nullopt;
            }
            return Shape{{node.attrs.get_int("filters"), h, w}};
        },
        [](const Node &node, const std::vector<Shape> &in) {
            int64_t f = node.attrs.get_int("filters"), k = node.attrs.get_int("kernel");
            std::vector<ParamSpec> p = {{"weight", Shape{{f, in[0].dims[0], k, k}},
                                         node.attrs.get_init("init"), ParamRole::Weight}};
            if (node.attrs.get_bool("bias")) {
                p.push_back({"bias", Shape{{f}}, node.attrs.get_init("bias_init"),
                             ParamRole::Bias});
            }
            return p;
        },
    };
    return def;
}

}  // namespace netc
