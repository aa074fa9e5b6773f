// Hyperparameters set from outside the file (compiler/Overrides.h, what `netc tune` searches):
// how names resolve, what a rewritten file says, and the errors of names and values.
#include "compiler/Overrides.h"
#include "compiler/Frontend.h"

#include <doctest/doctest.h>

#include <string>
#include <vector>

using netc::Frontend;
using netc::Override;

namespace {

const char *const mlp = R"(model m {
  input 1x28x28
  classes 10
  flatten
  fc1: dense(units=32)
  relu
  drop1: dropout(p=0.5)
  fc2: dense(units=10)
  loss svm(margin=1)
  regularize l2(strength=1e-4)
}
train {
  optimizer momentum(lr=0.1, rho=0.9)
  batch 64
}
)";

const char *const knn = R"(model k {
  input 1x28x28
  classes 10
  classify knn(k=5, distance=l1)
}
)";

Frontend parsed(const char *text) {
    Frontend f = netc::run_frontend("t.net", text);
    REQUIRE_MESSAGE(f.ok(), f.diags->render());
    return f;
}

/// The canonical name `name` resolves to in `text`, or "error: ..." with the message.
std::string resolved(const char *text, const std::string &name) {
    Frontend f = parsed(text);
    std::string error;
    std::optional<std::string> r = netc::resolve_override(f.ast, name, error);
    return r ? *r : "error: " + error;
}

}  // namespace

TEST_CASE("override names: train settings, SETTING.ATTR, LAYER.ATTR and bare attributes") {
    CHECK(resolved(mlp, "batch") == "batch");
    CHECK(resolved(mlp, "epochs") == "epochs");  // absent from the file: added when applied
    CHECK(resolved(mlp, "optimizer.lr") == "optimizer.lr");
    CHECK(resolved(mlp, "lr") == "optimizer.lr");
    CHECK(resolved(mlp, "rho") == "optimizer.rho");
    CHECK(resolved(mlp, "strength") == "regularize.strength");
    CHECK(resolved(mlp, "margin") == "loss.margin");
    CHECK(resolved(mlp, "drop1.p") == "drop1.p");
    CHECK(resolved(mlp, "fc1.units") == "fc1.units");
    CHECK(resolved(knn, "k") == "classify.k");
    CHECK(resolved(knn, "classify.distance") == "classify.distance");

    CHECK(resolved(mlp, "drop2.p") ==
          "error: no setting or layer is called 'drop2' (layers are named by their labels, as "
          "'drop1' in 'drop1: dropout(p=0.5)')");
    CHECK(resolved(mlp, "fc1.rate") == "error: 'fc1' has no attribute 'rate' (it has units, bias, "
                                       "dropconnect, init, bias_init, regularize)");
    CHECK(resolved(mlp, "k") ==
          "error: no setting of the file has an attribute 'k': name a layer's as LAYER.k, or one "
          "of batch, epochs, seed, validation");
    CHECK(resolved(mlp, "schedule.warmup") ==
          "error: the file has no 'schedule' line whose attributes could be set");
}

TEST_CASE("overrides rewrite the file as if it said so, and the front end checks the result") {
    Frontend base = parsed(mlp);
    std::string error;
    Frontend f = netc::run_frontend_with(base,
                                         {{"lr", "0.01"},
                                          {"drop1.p", "0.25"},
                                          {"batch", "32"},
                                          {"epochs", "3"},
                                          {"fc1.units", "16"}},
                                         error);
    REQUIRE(error.empty());
    REQUIRE_MESSAGE(f.ok(), f.diags->render());
    CHECK(f.graph->train.optimizer.attrs.get_float("lr") == doctest::Approx(0.01));
    CHECK(f.graph->train.optimizer.attrs.get_float("rho") == doctest::Approx(0.9));
    CHECK(f.graph->train.batch == 32);
    CHECK(f.graph->train.epochs == 3);
    bool saw_drop = false, saw_fc1 = false;
    for (const netc::Node &n : f.graph->nodes) {
        if (n.name == "drop1") {
            saw_drop = true;
            CHECK(n.attrs.get_float("p") == doctest::Approx(0.25));
        }
        if (n.name == "fc1") {
            saw_fc1 = true;
            CHECK(n.attrs.get_int("units") == 16);
        }
    }
    CHECK((saw_drop && saw_fc1));
    // The base is untouched.
    CHECK(base.graph->train.optimizer.attrs.get_float("lr") == doctest::Approx(0.1));
    CHECK(base.graph->train.batch == 64);

    // A file with no train block gets one.
    Frontend k = netc::run_frontend_with(parsed(knn), {{"k", "3"}, {"batch", "100"}}, error);
    REQUIRE(error.empty());
    REQUIRE_MESSAGE(k.ok(), k.diags->render());
    CHECK(k.graph->classifier->attrs.get_int("k") == 3);
    CHECK(k.graph->train.batch == 100);
}

TEST_CASE("an override's bad value is a located error of the statement it rewrote") {
    Frontend base = parsed(mlp);
    std::string error;
    Frontend f = netc::run_frontend_with(base, {{"drop1.p", "1.5"}}, error);
    REQUIRE(error.empty());
    CHECK_FALSE(f.ok());
    const std::string rendered = f.diags->render();
    CHECK_MESSAGE(rendered.find("t.net:7:") != std::string::npos, rendered);
    CHECK_MESSAGE(rendered.find("'p'") != std::string::npos, rendered);

    netc::run_frontend_with(base, {{"lr", "0.1;"}}, error);
    CHECK(error == "lr=0.1;: '0.1;' is neither a number nor a word");
    error.clear();
    netc::run_frontend_with(base, {{"nope", "1"}}, error);
    CHECK(error.rfind("nope=1: no setting of the file has an attribute 'nope'", 0) == 0);
}
