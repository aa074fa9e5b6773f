// An AOT object's train block against the JIT's: tests/runtime/augmented_mlp.net, compiled ahead
// of time (its netc_model) and read through the front end (its graph), gives the same
// TrainConfig: the augment list with its parameters, and early stopping.

#include "augmented_mlp.h"
#include "runtime/AotModel.h"
#include "tools/netc/Command.h"
#include "tools/netc/JitTrainable.h"

#include <doctest/doctest.h>

#include <sstream>
#include <string>

using namespace netc;

TEST_CASE("an object's TrainConfig has the augmentation and early stopping of the JIT's") {
    std::ostringstream diagnostics;
    std::optional<Frontend> f = cli::load_model(
        std::string(NETC_SOURCE_DIR) + "/tests/runtime/augmented_mlp.net", diagnostics);
    REQUIRE_MESSAGE(f.has_value(), diagnostics.str());
    const runtime::TrainConfig jit = train_config(*f->graph);
    const runtime::TrainConfig aot = runtime::train_config(augmented_mlp_model);

    CHECK(aot.batch == jit.batch);
    CHECK(aot.epochs == jit.epochs);
    CHECK(aot.seed == jit.seed);
    CHECK(aot.validation == jit.validation);
    CHECK(aot.patience == 4);
    CHECK(aot.patience == jit.patience);
    CHECK(aot.min_delta == 0.0015);
    CHECK(aot.min_delta == jit.min_delta);
    REQUIRE(jit.augment.size() == 5);
    REQUIRE(aot.augment.size() == jit.augment.size());
    for (size_t i = 0; i < jit.augment.size(); i++) {
        CAPTURE(jit.augment[i].name);
        CHECK(aot.augment[i].name == jit.augment[i].name);
        CHECK(aot.augment[i].params == jit.augment[i].params);
    }
    CHECK(aot.augment[0].name == "random_crop");
    CHECK(aot.augment[1].params == std::vector<std::pair<std::string, double>>{{"p", 0.25}});
    // Both make the same pipeline.
    runtime::Result<std::vector<runtime::AugmentStep>> steps =
        runtime::make_augment_pipeline(aot.augment);
    REQUIRE_MESSAGE(steps.ok(), steps.message());
    CHECK((*steps)[3].brightness == 0.125f);
}
