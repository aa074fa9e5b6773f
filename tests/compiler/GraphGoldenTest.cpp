// Golden graph dumps (`netc --emit=graph`) of the files in tests/compiler/golden: each NAME.net
// must pass the front end and its graph dump must equal NAME.graph exactly; the graph with its
// derived backward nodes (`--emit=backward`) NAME.backward, and the program (`--emit=program`)
// NAME.program.
#include "Golden.h"
#include "compiler/Frontend.h"
#include "compiler/Program.h"

#include <doctest/doctest.h>

TEST_CASE("golden graph dumps") {
    auto inputs =
        netc::testing::golden_inputs(std::string(NETC_SOURCE_DIR) + "/tests/compiler/golden");
    CHECK(inputs.size() >= 4);
    for (const auto &path : inputs) {
        CAPTURE(path.string());
        netc::Frontend f =
            netc::run_frontend(path.filename().string(), netc::testing::read_text_file(path));
        INFO(f.diags->render());
        REQUIRE(f.ok());
        CHECK(f.diags->all().empty());  // no warnings either
        std::filesystem::path expected = path;
        netc::testing::check_golden(expected.replace_extension(".graph"), netc::dump(*f.graph));
        netc::Program program = netc::build_program(*f.graph, {});
        REQUIRE(program.trainable);
        netc::testing::check_golden(expected.replace_extension(".backward"),
                                    netc::dump(program.train_graph));
        netc::testing::check_golden(expected.replace_extension(".program"),
                                    netc::dump(program, f.layout));
    }
}
