// The .net front end on arbitrary text: lexer, parser, graph building, shape inference, parameter
// layout, and, for a valid model, what `netc check`, `summary` and `--emit` go on to do with it
// (the dumps, the backward graph and the program, the FLOP count). Nothing here may crash, hang
// or fail an assertion; a rejected model must come with at least one diagnostic.

#include "compiler/Flops.h"
#include "compiler/Frontend.h"
#include "compiler/Program.h"
#include "compiler/Summary.h"
#include "tests/fuzz/FuzzInput.h"

#include <sstream>

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    netc::Frontend f = netc::run_frontend("fuzz.net", std::string((const char *)data, size));
    std::ostringstream printed;
    f.diags->print(printed);
    (void)netc::ast::dump(f.ast);
    netc::fuzz::expect_message(f.ok(), printed.str());
    if (!f.ok()) return 0;
    (void)netc::dump(*f.graph);
    (void)netc::dump(f.layout);
    (void)netc::summary_table(*f.graph, f.layout);
    (void)netc::count_flops(*f.graph, 1);
    netc::Program program = netc::build_program(*f.graph, {netc::Strategy::Netc, false});
    (void)netc::dump(program, f.layout);
    if (program.trainable) {
        (void)netc::dump(program.train_graph);
        (void)netc::count_train_step_flops(*f.graph, 1);
    }
    return 0;
}
