// The lexer on its own: token kinds and spellings, numbers, shapes, strings, comments, line starts
// and lexical errors with their positions.
#include "dsl/Lexer.h"

#include <doctest/doctest.h>

#include <string>
#include <vector>

using netc::TokenKind;

namespace {

struct Lexed {
    std::vector<netc::Token> tokens;
    std::vector<std::string> errors;  // "line:col: message"
};

Lexed lex_text(const std::string &text) {
    netc::SourceFile file("t.net", text);
    netc::Diagnostics diags(file);
    Lexed out;
    out.tokens = netc::lex(file, diags);
    for (const netc::Diagnostic &d : diags.all()) {
        out.errors.push_back(std::to_string(d.loc.line) + ":" + std::to_string(d.loc.col) + ": " +
                             d.message);
    }
    return out;
}

/// The token kinds, spelled as in messages but shorter: "name '(' integer ')' end".
std::string kinds(const Lexed &l) {
    std::string out;
    for (const netc::Token &t : l.tokens) {
        std::string name = t.kind == TokenKind::End       ? "end"
                           : t.kind == TokenKind::Invalid ? "invalid"
                                                          : netc::token_kind_name(t.kind);
        out += (out.empty() ? "" : " ") + name;
    }
    return out;
}

std::string join(const std::vector<std::string> &lines) {
    std::string out;
    for (const std::string &l : lines) out += l + "\n";
    return out;
}

/// The single token of `text` (followed by End), with no errors.
netc::Token one_token(const std::string &text) {
    Lexed l = lex_text(text);
    CAPTURE(text);
    REQUIRE(l.errors.empty());
    REQUIRE(l.tokens.size() == 2);
    CHECK(l.tokens[1].kind == TokenKind::End);
    return l.tokens[0];
}

}  // namespace

TEST_CASE("punctuation and names") {
    Lexed l = lex_text("a_1: conv2d(x, k=3) { } [ ] ; -");
    CHECK(l.errors.empty());
    CHECK(kinds(l) ==
          "name ':' name '(' name ',' name '=' integer ')' '{' '}' '[' ']' ';' '-' end");
    CHECK(l.tokens[0].text == "a_1");
    CHECK(l.tokens[2].text == "conv2d");
    CHECK(one_token("_private").kind == TokenKind::Ident);
    CHECK(one_token("he_normal").text == "he_normal");
}

TEST_CASE("every token keeps its line and column") {
    Lexed l = lex_text("model m {\n  input 1x28x28\n\tclasses 10\n}");
    REQUIRE(l.errors.empty());
    struct Expect {
        const char *text;
        int line, col;
        bool starts_line;
    };
    std::vector<Expect> expected = {
        {"model", 1, 1, true}, {"m", 1, 7, false},       {"{", 1, 9, false},
        {"input", 2, 3, true}, {"1x28x28", 2, 9, false}, {"classes", 3, 2, true},
        {"10", 3, 10, false},  {"}", 4, 1, true},        {"", 4, 2, false}};
    REQUIRE(l.tokens.size() == expected.size());
    for (size_t i = 0; i < expected.size(); i++) {
        CAPTURE(i);
        CHECK(l.tokens[i].text == expected[i].text);
        CHECK(l.tokens[i].loc.line == expected[i].line);
        CHECK(l.tokens[i].loc.col == expected[i].col);
        CHECK(l.tokens[i].starts_line == expected[i].starts_line);
    }
}

TEST_CASE("integers and floats") {
    struct Case {
        const char *text;
        TokenKind kind;
        double value;
    };
    for (const Case &c : std::vector<Case>{
             {"0", TokenKind::Int, 0},
             {"32", TokenKind::Int, 32},
             {"007", TokenKind::Int, 7},
             {"0.5", TokenKind::Float, 0.5},
             {".5", TokenKind::Float, 0.5},
             {"1.", TokenKind::Float, 1.0},
             {"1e-3", TokenKind::Float, 1e-3},
             {"1e3", TokenKind::Float, 1e3},
             {"2.5E+2", TokenKind::Float, 250},
             {"5e-4", TokenKind::Float, 5e-4},
             {".25e1", TokenKind::Float, 2.5},
         }) {
        CAPTURE(c.text);
        netc::Token t = one_token(c.text);
        CHECK(t.kind == c.kind);
        CHECK(t.text == c.text);
        CHECK(t.number == doctest::Approx(c.value).epsilon(1e-12));
    }
}

TEST_CASE("a minus sign is its own token") {
    Lexed l = lex_text("-0.5 -3");
    CHECK(l.errors.empty());
    CHECK(kinds(l) == "'-' number '-' integer end");
}

TEST_CASE("shapes") {
    netc::Token t = one_token("3x32x32");
    CHECK(t.kind == TokenKind::Dims);
    CHECK(t.text == "3x32x32");
    CHECK(t.dims == std::vector<int64_t>{3, 32, 32});
    CHECK(one_token("1x28x28").dims == std::vector<int64_t>{1, 28, 28});
    CHECK(one_token("7x1").dims == std::vector<int64_t>{7, 1});
    CHECK(one_token("2x3x4x5").dims == std::vector<int64_t>{2, 3, 4, 5});
    // Sizes too large to mean anything saturate, for the shape check to reject.
    CHECK(one_token("1x99999999999999999999x2").dims[1] == INT64_MAX);
    // "3 x 32" is not a shape: a number, a name and a number.
    Lexed spaced = lex_text("3 x 32");
    CHECK(kinds(spaced) == "integer name integer end");
}

TEST_CASE("strings") {
    netc::Token t = one_token("\"airplane\"");
    CHECK(t.kind == TokenKind::String);
    CHECK(t.text == "airplane");
    CHECK(one_token("\"\"").text == "");
    CHECK(one_token("\"a # not a comment\"").text == "a # not a comment");
}

TEST_CASE("comments run to the end of the line") {
    Lexed l = lex_text("relu # a comment (with] odd \"tokens\n# a whole line\ntanh#x\n");
    CHECK(l.errors.empty());
    REQUIRE(kinds(l) == "name name end");
    CHECK(l.tokens[1].text == "tanh");
    CHECK(l.tokens[1].loc.line == 3);
    CHECK(l.tokens[1].starts_line);
}

TEST_CASE("statement boundaries: line starts, across blank lines, comments and CRLF") {
    Lexed l = lex_text("a b\r\n\r\n  # c\n\n c; d\n");
    CHECK(l.errors.empty());
    REQUIRE(l.tokens.size() == 6);
    CHECK(l.tokens[0].starts_line);   // a
    CHECK(!l.tokens[1].starts_line);  // b
    CHECK(l.tokens[2].starts_line);   // c
    CHECK(l.tokens[2].loc.line == 5);
    CHECK(l.tokens[2].loc.col == 2);
    CHECK(l.tokens[3].kind == TokenKind::Semicolon);
    CHECK(!l.tokens[4].starts_line);  // d: after ';' on the same line
    CHECK(l.tokens[5].kind == TokenKind::End);
    CHECK(l.tokens[5].starts_line);
}

TEST_CASE("lexical errors keep going and report each position") {
    Lexed l = lex_text("a @ b\n  $ \"open\n3abc 1x28y 1.5x3\n\x01");
    CHECK(join(l.errors) ==
          join({
              "1:3: unexpected character '@'",
              "2:3: unexpected character '$'",
              "2:5: unterminated string; expected a closing '\"' on the same line",
              "3:1: malformed number '3abc'",
              "3:6: malformed shape '1x28y'; expected sizes separated by 'x', such as "
              "3x32x32",
              "3:12: malformed number '1.5x3'",
              "4:1: unexpected character byte 0x01",
          }));
    // Each bad spot becomes one Invalid token; the good ones around it survive.
    CHECK(kinds(l) == "name invalid name invalid invalid invalid invalid invalid invalid end");
}

TEST_CASE("a number glued to a name is one malformed token") {
    Lexed l = lex_text("1e 2x");
    CHECK(join(l.errors) == "1:1: malformed number '1e'\n1:4: malformed number '2x'\n");
}

TEST_CASE("empty and blank files") {
    CHECK(kinds(lex_text("")) == "end");
    CHECK(kinds(lex_text("\n\n  # only a comment")) == "end");
}
