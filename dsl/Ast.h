#pragma once
// The syntax tree of a .net file. It is deliberately generic: a file is blocks of statements,
// a statement is `[label:] head [(args)] operands...`. What the heads and names mean (ops,
// optimizers, ...) is decided by the compiler's tables, so adding an op never touches the parser.

#include "dsl/Source.h"

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace netc::ast {

struct Arg;

/// A value written in the source: 32, 1e-3, -0.5, relu, "cat", 3x32x32, [1, 2], constant(0.1).
struct Expr {
    enum class Kind { Number, Name, String, Dims, List, Call };
    Kind kind = Kind::Number;
    SourceLoc loc;
    double number = 0;          // Number
    bool is_integer = false;    // Number written without '.' or exponent
    std::string text;           // Name, String, Call (the callee); Number (its spelling)
    std::vector<int64_t> dims;  // Dims
    std::vector<Expr> items;    // List
    std::vector<Arg> args;      // Call
};

/// `key=value` or a positional `value` inside parentheses.
struct Arg {
    std::string key;  // empty for a positional argument
    SourceLoc key_loc;
    Expr value;
};

/// One line of a block, e.g. `conv1: conv2d(filters=32, kernel=3)` or `input 1x28x28 f32`.
struct Stmt {
    SourceLoc loc;      // where the statement starts
    std::string label;  // "conv1" in `conv1: conv2d(...)`; empty when absent
    SourceLoc label_loc;
    std::string head;  // "conv2d", "input", "optimizer", ...
    SourceLoc head_loc;
    bool has_parens = false;     // `relu()` vs `relu`
    std::vector<Arg> args;       // inside the parentheses after the head
    std::vector<Expr> operands;  // after the head (and its parentheses), up to the end of line
    // The parser reported an error in this statement and kept only its label and head (when it
    // got that far), so later checks neither miss the setting nor call the label undefined.
    bool malformed = false;
};

/// `model NAME { ... }` or `train { ... }`.
struct Block {
    SourceLoc loc;
    std::string kind;  // "model" or "train"
    std::string name;  // the model's name; empty for train
    SourceLoc name_loc;
    std::vector<Stmt> stmts;
};

struct File {
    std::vector<Block> blocks;
};

/// A readable, stable dump used by `netc --emit=ast` and the golden tests.
std::string dump(const File &file);
std::string to_string(const Expr &expr);

}  // namespace netc::ast
