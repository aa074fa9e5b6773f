// Golden AST dumps (`netc --emit=ast`) of the files in tests/dsl/golden: each NAME.net is parsed
// and its dump, followed by any diagnostics, must equal NAME.ast exactly.
#include "Golden.h"
#include "dsl/Parser.h"

#include <doctest/doctest.h>

namespace {

std::string ast_and_diagnostics(const std::filesystem::path &path) {
    netc::SourceFile source(path.filename().string(), netc::testing::read_text_file(path));
    netc::Diagnostics diags(source);
    std::string out = netc::ast::dump(netc::parse(source, diags));
    if (!diags.all().empty()) out += "--- diagnostics\n" + diags.render();
    return out;
}

}  // namespace

TEST_CASE("golden AST dumps") {
    auto inputs = netc::testing::golden_inputs(std::string(NETC_SOURCE_DIR) + "/tests/dsl/golden");
    CHECK(inputs.size() >= 3);
    for (const auto &path : inputs) {
        CAPTURE(path.string());
        std::filesystem::path expected = path;
        netc::testing::check_golden(expected.replace_extension(".ast"), ast_and_diagnostics(path));
    }
}
