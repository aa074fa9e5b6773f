#pragma once
// Splits .net source into tokens. Comments run from '#' to the end of the line.
// Every token keeps its line:column and whether it is the first on its line: statements end at
// a line break, so the parser needs to know where lines begin.

#include "dsl/Diagnostics.h"
#include "dsl/Source.h"

#include <cstdint>
#include <string>
#include <vector>

namespace netc {

enum class TokenKind {
    End,
    Ident,      // conv2d, he_normal, f32
    Int,        // 32
    Float,      // 0.5, 1e-3
    Dims,       // 1x28x28
    String,     // "airplane"
    LParen,     // (
    RParen,     // )
    LBrace,     // {
    RBrace,     // }
    LBracket,   // [
    RBracket,   // ]
    Comma,      // ,
    Colon,      // :
    Equals,     // =
    Semicolon,  // ;
    Minus,      // -
    Invalid,    // a character the language does not use; already reported
};

const char *token_kind_name(TokenKind kind);

struct Token {
    TokenKind kind = TokenKind::End;
    std::string text;  // the source spelling (string contents without quotes)
    SourceLoc loc;
    bool starts_line = false;   // first token on its line
    double number = 0;          // Int and Float
    std::vector<int64_t> dims;  // Dims
};

/// Tokenizes the whole file; the last token is End. Lexical errors go to `diags`.
std::vector<Token> lex(const SourceFile &file, Diagnostics &diags);

}  // namespace netc
