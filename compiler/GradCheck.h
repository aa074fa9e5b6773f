#pragma once
// `netc gradcheck`: the derived gradients against central finite differences of the loss, on
// random data, for every parameter tensor (a sample of entries in large ones) and the input.
// As Caffe's GradientChecker does, entries whose loss is not smooth within the step (relu at 0,
// maxpool switches, the hinge at its margin) are skipped; they are detected generically: the
// one-sided slopes on either side of the point disagree there, at every step tried.

#include "compiler/Graph.h"
#include "compiler/ParamLayout.h"

#include <cstdint>
#include <string>
#include <vector>

namespace netc {

struct GradCheckOptions {
    int batch = 2;            // small batches cross fewer relu and maxpool kinks per step
    int samples = 12;         // entries checked per tensor (all, when the tensor is smaller)
    double step = 1e-1;       // the widest finite-difference step (narrower ones near kinks)
    double threshold = 1e-2;  // max relative error allowed
    uint64_t seed = 1;
};

struct TensorCheck {
    std::string name;  // "conv1.weight", or "input"
    int checked = 0;
    int skipped = 0;           // at a kink
    double max_error = 0;      // |analytic - numeric| / max(|analytic|, |numeric|, 1e-2)
    int64_t worst_index = -1;  // within the tensor
    double worst_analytic = 0, worst_numeric = 0;
};

struct GradCheckReport {
    std::vector<TensorCheck> tensors;
    float data_loss = 0, regularization = 0;
    bool passed(double threshold) const;
};

GradCheckReport gradcheck(const Graph &graph, const ParamLayout &layout,
                          const GradCheckOptions &options);

/// The report as a table with a verdict line.
std::string format_report(const Graph &graph, const GradCheckReport &report,
                          const GradCheckOptions &options);

}  // namespace netc
