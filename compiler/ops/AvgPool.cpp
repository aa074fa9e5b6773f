// avgpool: the mean over each window (torch.nn.AvgPool2d, count_include_pad=True).
#include "compiler/ops/Op.h"

namespace netc {

const OpDef &op_avgpool() {
    static const OpDef def = {
        "avgpool", "mean over square windows; padded zeros count in the mean", 1, 1,
        pool_window_attrs(), pool_shape};
    return def;
}

}  // namespace netc
