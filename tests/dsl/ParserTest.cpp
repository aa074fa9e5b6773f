// The parser on its own: the generic statement shape, values, statement boundaries, and
// recovery that reports several errors in one run while keeping the good statements.
#include "dsl/Parser.h"

#include <doctest/doctest.h>

#include <algorithm>
#include <string>
#include <vector>

namespace {

struct Parsed {
    netc::ast::File file;
    std::string errors;  // "line:col: message\n" each
};

Parsed parse_text(const std::string &text) {
    netc::SourceFile source("t.net", text);
    netc::Diagnostics diags(source);
    Parsed out;
    out.file = netc::parse(source, diags);
    for (const netc::Diagnostic &d : diags.all()) {
        out.errors +=
            std::to_string(d.loc.line) + ":" + std::to_string(d.loc.col) + ": " + d.message + "\n";
    }
    return out;
}

/// The statements of the only block of `text`, which must parse cleanly.
std::vector<netc::ast::Stmt> stmts_of(const std::string &text) {
    Parsed p = parse_text(text);
    CAPTURE(text);
    CHECK(p.errors == "");
    REQUIRE(p.file.blocks.size() == 1);
    return p.file.blocks[0].stmts;
}

using Kind = netc::ast::Expr::Kind;

}  // namespace

TEST_CASE("blocks: a named model and an unnamed train block") {
    Parsed p = parse_text("model net1 {\n}\ntrain {\n  batch 32\n}\n");
    CHECK(p.errors == "");
    REQUIRE(p.file.blocks.size() == 2);
    const netc::ast::Block &model = p.file.blocks[0];
    CHECK(model.kind == "model");
    CHECK(model.name == "net1");
    CHECK(model.loc.line == 1);
    CHECK(model.name_loc.col == 7);
    CHECK(model.stmts.empty());
    const netc::ast::Block &train = p.file.blocks[1];
    CHECK(train.kind == "train");
    CHECK(train.name == "");
    CHECK(train.loc.line == 3);
    REQUIRE(train.stmts.size() == 1);
    CHECK(train.stmts[0].head == "batch");
}

TEST_CASE("a statement: label, head, positional and keyword arguments") {
    auto s = stmts_of("model m {\n  b2: conv2d(b1, filters=32, bias=false)\n}");
    REQUIRE(s.size() == 1);
    CHECK(s[0].label == "b2");
    CHECK(s[0].label_loc.line == 2);
    CHECK(s[0].label_loc.col == 3);
    CHECK(s[0].head == "conv2d");
    CHECK(s[0].head_loc.col == 7);
    CHECK(s[0].has_parens);
    CHECK(s[0].operands.empty());
    REQUIRE(s[0].args.size() == 3);
    CHECK(s[0].args[0].key == "");
    CHECK(s[0].args[0].value.kind == Kind::Name);
    CHECK(s[0].args[0].value.text == "b1");
    CHECK(s[0].args[1].key == "filters");
    CHECK(s[0].args[1].key_loc.col == 18);
    CHECK(s[0].args[1].value.number == 32);
    CHECK(s[0].args[1].value.is_integer);
    CHECK(s[0].args[2].key == "bias");
    CHECK(s[0].args[2].value.text == "false");
}

TEST_CASE("a setting: a head and operands up to the end of the line") {
    auto s = stmts_of("model m {\n  input 3x32x32 f32\n  augment hflip, random_crop(pad=4)\n}");
    REQUIRE(s.size() == 2);
    CHECK(s[0].head == "input");
    CHECK(!s[0].has_parens);
    REQUIRE(s[0].operands.size() == 2);
    CHECK(s[0].operands[0].kind == Kind::Dims);
    CHECK(s[0].operands[0].dims == std::vector<int64_t>{3, 32, 32});
    CHECK(s[0].operands[1].kind == Kind::Name);
    REQUIRE(s[1].operands.size() == 2);
    CHECK(s[1].operands[0].text == "hflip");
    CHECK(s[1].operands[1].kind == Kind::Call);
    CHECK(s[1].operands[1].text == "random_crop");
    REQUIRE(s[1].operands[1].args.size() == 1);
    CHECK(s[1].operands[1].args[0].key == "pad");
}

TEST_CASE("relu and relu() are the same statement, apart from has_parens") {
    auto s = stmts_of("model m {\n  relu\n  relu()\n}");
    REQUIRE(s.size() == 2);
    CHECK(!s[0].has_parens);
    CHECK(s[1].has_parens);
    CHECK(s[1].args.empty());
}

TEST_CASE("values: numbers, negative numbers, names, strings, shapes, lists, calls") {
    auto t = stmts_of("model m {\n  x(a=1, b=-2.5, c=1e-3, d=.5, e=name, f=\"s\", g=2x3, "
                      "h=[1, -2], i=constant(-0.1), j=[])\n}");
    REQUIRE(t.size() == 1);
    const std::vector<netc::ast::Arg> &a = t[0].args;
    REQUIRE(a.size() == 10);
    CHECK(a[0].value.kind == Kind::Number);
    CHECK(a[0].value.is_integer);
    CHECK(a[1].value.number == -2.5);
    CHECK(!a[1].value.is_integer);
    CHECK(a[1].value.text == "-2.5");
    CHECK(a[1].value.loc.col == 12);  // the minus sign
    CHECK(a[2].value.number == doctest::Approx(1e-3));
    CHECK(a[3].value.number == 0.5);
    CHECK(a[4].value.kind == Kind::Name);
    CHECK(a[5].value.kind == Kind::String);
    CHECK(a[5].value.text == "s");
    CHECK(a[6].value.kind == Kind::Dims);
    CHECK(a[7].value.kind == Kind::List);
    REQUIRE(a[7].value.items.size() == 2);
    CHECK(a[7].value.items[1].number == -2);
    CHECK(a[8].value.kind == Kind::Call);
    CHECK(netc::ast::to_string(a[8].value) == "constant(-0.1)");
    CHECK(a[9].value.kind == Kind::List);
    CHECK(a[9].value.items.empty());
}

TEST_CASE("statements end at a line break or ';'") {
    auto s = stmts_of("model m {\n  relu; tanh ;sigmoid\n\n  ;; gelu\n}");
    REQUIRE(s.size() == 4);
    CHECK(s[0].head == "relu");
    CHECK(s[1].head == "tanh");
    CHECK(s[1].loc.col == 9);
    CHECK(s[2].head == "sigmoid");
    CHECK(s[3].head == "gelu");
    CHECK(s[3].loc.line == 4);
}

TEST_CASE("a parenthesized argument list may continue on the next lines") {
    auto s =
        stmts_of("model m {\n  conv2d(filters=32,\n         kernel=3,\n         pad=1)\n  relu\n}");
    REQUIRE(s.size() == 2);
    CHECK(s[0].args.size() == 3);
    CHECK(s[1].head == "relu");
}

TEST_CASE("a '(' on the next line starts a new statement, not an argument list") {
    Parsed p = parse_text("model m {\n  relu\n  (x)\n}");
    CHECK(p.errors == "3:3: expected a statement (a layer such as 'relu', or a setting such as "
                      "'classes 10'), found '('\n");
}

TEST_CASE("the parser does not know ops: any head with any arguments parses") {
    auto s = stmts_of("model m {\n  frobnicate(x, y=[1, 2])\n  some setting here\n}");
    REQUIRE(s.size() == 2);
    CHECK(s[0].head == "frobnicate");
    CHECK(s[1].operands.size() == 2);
}

TEST_CASE("recovery: several errors in one run, good statements kept") {
    Parsed p = parse_text("model m {\n"
                          "  input 1x28x28\n"
                          "  conv2d(filters=3,, kernel=3)\n"
                          "  relu\n"
                          "  c1: dense(units=10\n"
                          "  tanh\n"
                          "  pool: maxpool(kernel=2) )\n"
                          "  gelu\n"
                          "}\n");
    CHECK(p.errors ==
          "3:20: expected a value (a number, a name, a string, a shape or a list), found ','\n"
          "6:3: expected ')' to close the '(' at 5:12\n"
          "7:27: expected a value (a number, a name, a string, a shape or a list), found ')'\n");
    // Malformed statements stay in the tree with what is known of them (label, head), so later
    // checks do not report a missing setting or an unknown value for the same mistake.
    CHECK(netc::ast::dump(p.file) == "1:1 model m\n"
                                     "  2:3 input 1x28x28\n"
                                     "  3:3 conv2d <error>\n"
                                     "  4:3 relu\n"
                                     "  5:3 c1: dense <error>\n"
                                     "  6:3 tanh\n"
                                     "  7:3 pool: maxpool <error>\n"
                                     "  8:3 gelu\n");
}

TEST_CASE("recovery across blocks: junk before a block, an unclosed block") {
    Parsed p = parse_text("junk here\nmodel {\n  relu\n}\nmodel m {\n  relu\n"
                          "train {\n  batch 3\n");
    CHECK(p.errors == "1:1: expected 'model NAME {' or 'train {', found 'junk'\n"
                      "2:7: expected the model's name after 'model', found '{'\n"
                      "7:1: expected '}' to close the model block opened at line 5\n"
                      "9:1: expected '}' to close the train block opened at line 7\n");
    // The forgotten '}' closes the model block where the train block starts.
    REQUIRE(p.file.blocks.size() == 2);
    CHECK(p.file.blocks[0].stmts.size() == 1);
    CHECK(p.file.blocks[1].kind == "train");
    CHECK(p.file.blocks[1].stmts.size() == 1);
}

TEST_CASE("an unclosed block reports where it was opened") {
    Parsed p = parse_text("model m {\n  relu\n");
    CHECK(p.errors == "3:1: expected '}' to close the model block opened at line 1\n");
    REQUIRE(p.file.blocks.size() == 1);
    CHECK(p.file.blocks[0].stmts.size() == 1);
}

namespace {

/// `depth` calls nested in one attribute value: `dense(units=f(f(...f()...)))`.
std::string nested_calls(int depth) {
    std::string value;
    for (int i = 0; i < depth; i++) value += "f(";
    value += std::string(depth, ')');
    return "model m {\n  dense(units=" + value + ")\n  relu\n}\n";
}

/// `depth` lists nested in one operand: `classes [[...[]...]]`.
std::string nested_lists(int depth) {
    return "model m {\n  classes " + std::string(depth, '[') + std::string(depth, ']') +
           "\n  relu\n}\n";
}

}  // namespace

TEST_CASE("nesting: 64 levels of calls or lists parse, one more is a located error") {
    CHECK(parse_text(nested_calls(64)).errors == "");
    CHECK(parse_text(nested_lists(64)).errors == "");
    // The 65th call starts at column 15 + 2 * 64, the 65th list at column 11 + 64.
    CHECK(parse_text(nested_calls(65)).errors ==
          "2:143: values nest too deeply: more than 64 levels of lists and calls\n");
    CHECK(parse_text(nested_lists(65)).errors ==
          "2:75: values nest too deeply: more than 64 levels of lists and calls\n");
}

TEST_CASE("nesting: 10,000 calls or 20,000 lists report one error and keep the next statement") {
    // Unbounded, these overflowed the stack (exit 139).
    for (const std::string &text : {nested_calls(10000), nested_lists(20000)}) {
        Parsed p = parse_text(text);
        CHECK(p.errors.find("values nest too deeply") != std::string::npos);
        CHECK(std::count(p.errors.begin(), p.errors.end(), '\n') == 1);
        REQUIRE(p.file.blocks.size() == 1);
        REQUIRE(p.file.blocks[0].stmts.size() == 2);
        CHECK(p.file.blocks[0].stmts[0].malformed);
        CHECK(p.file.blocks[0].stmts[1].head == "relu");
    }
}
