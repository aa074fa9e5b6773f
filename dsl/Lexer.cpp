#include "dsl/Lexer.h"

#include <cctype>
#include <cstdlib>

namespace netc {

const char *token_kind_name(TokenKind kind) {
    switch (kind) {
    case TokenKind::End: return "end of file";
    case TokenKind::Ident: return "name";
    case TokenKind::Int: return "integer";
    case TokenKind::Float: return "number";
    case TokenKind::Dims: return "shape";
    case TokenKind::String: return "string";
    case TokenKind::LParen: return "'('";
    case TokenKind::RParen: return "')'";
    case TokenKind::LBrace: return "'{'";
    case TokenKind::RBrace: return "'}'";
    case TokenKind::LBracket: return "'['";
    case TokenKind::RBracket: return "']'";
    case TokenKind::Comma: return "','";
    case TokenKind::Colon: return "':'";
    case TokenKind::Equals: return "'='";
    case TokenKind::Semicolon: return "';'";
    case TokenKind::Minus: return "'-'";
    case TokenKind::Invalid: return "invalid character";
    }
    return "token";
}

namespace {

class Lexer {
public:
    Lexer(const SourceFile &file, Diagnostics &diags) : text_(file.text()), diags_(diags) {}

    std::vector<Token> run() {
        std::vector<Token> tokens;
        bool line_start = true;
        while (true) {
            line_start |= skip_space_and_comments();
            Token t = next();
            t.starts_line = line_start;
            line_start = false;
            bool end = t.kind == TokenKind::End;
            tokens.push_back(std::move(t));
            if (end) break;
        }
        return tokens;
    }

private:
    char peek(size_t ahead = 0) const {
        return pos_ + ahead < text_.size() ? text_[pos_ + ahead] : '\0';
    }

    void advance() {
        if (text_[pos_] == '\n') {
            line_++;
            col_ = 1;
        } else {
            col_++;
        }
        pos_++;
    }

    /// Returns true when a line break was crossed.
    bool skip_space_and_comments() {
        bool newline = false;
        while (pos_ < text_.size()) {
            char c = peek();
            if (c == '\n') {
                newline = true;
                advance();
            } else if (std::isspace((unsigned char)c)) {
                advance();
            } else if (c == '#') {
                while (pos_ < text_.size() && peek() != '\n') advance();
            } else {
                break;
            }
        }
        return newline;
    }

    Token make(TokenKind kind, SourceLoc loc, std::string text) {
        Token t;
        t.kind = kind;
        t.loc = loc;
        t.text = std::move(text);
        return t;
    }

    Token next() {
        SourceLoc loc{line_, col_};
        if (pos_ >= text_.size()) return make(TokenKind::End, loc, "");
        char c = peek();
        if (std::isalpha((unsigned char)c) || c == '_') return identifier(loc);
        if (std::isdigit((unsigned char)c) || (c == '.' && std::isdigit((unsigned char)peek(1)))) {
            return number(loc);
        }
        if (c == '"') return string(loc);
        advance();
        switch (c) {
        case '(': return make(TokenKind::LParen, loc, "(");
        case ')': return make(TokenKind::RParen, loc, ")");
        case '{': return make(TokenKind::LBrace, loc, "{");
        case '}': return make(TokenKind::RBrace, loc, "}");
        case '[': return make(TokenKind::LBracket, loc, "[");
        case ']': return make(TokenKind::RBracket, loc, "]");
        case ',': return make(TokenKind::Comma, loc, ",");
        case ':': return make(TokenKind::Colon, loc, ":");
        case '=': return make(TokenKind::Equals, loc, "=");
        case ';': return make(TokenKind::Semicolon, loc, ";");
        case '-': return make(TokenKind::Minus, loc, "-");
        default: break;
        }
        std::string shown = std::isprint((unsigned char)c) ? std::string("'") + c + "'"
                                                           : "byte 0x" + hex_byte((unsigned char)c);
        diags_.error(loc, "unexpected character " + shown);
        return make(TokenKind::Invalid, loc, std::string(1, c));
    }

    static std::string hex_byte(unsigned char c) {
        const char *digits = "0123456789abcdef";
        return std::string{digits[c >> 4], digits[c & 15]};
    }

    Token identifier(SourceLoc loc) {
        size_t begin = pos_;
        while (std::isalnum((unsigned char)peek()) || peek() == '_') advance();
        return make(TokenKind::Ident, loc, text_.substr(begin, pos_ - begin));
    }

    void digits() {
        while (std::isdigit((unsigned char)peek())) advance();
    }

    /// 32, 0.5, .5, 1e-3, 2.5E+2, and shapes such as 1x28x28.
    Token number(SourceLoc loc) {
        size_t begin = pos_;
        digits();
        bool is_float = false;
        if (peek() == 'x' && std::isdigit((unsigned char)peek(1)) && text_[begin] != '.') {
            return dims(loc, begin);
        }
        if (peek() == '.' && std::isdigit((unsigned char)peek(1))) {
            is_float = true;
            advance();
            digits();
        } else if (peek() == '.' && !std::isalpha((unsigned char)peek(1))) {
            is_float = true;  // "1." is a float
            advance();
        }
        if ((peek() == 'e' || peek() == 'E') &&
            (std::isdigit((unsigned char)peek(1)) ||
             ((peek(1) == '-' || peek(1) == '+') && std::isdigit((unsigned char)peek(2))))) {
            is_float = true;
            advance();
            if (peek() == '-' || peek() == '+') advance();
            digits();
        }
        std::string spelling = text_.substr(begin, pos_ - begin);
        Token t = make(is_float ? TokenKind::Float : TokenKind::Int, loc, spelling);
        t.number = std::strtod(spelling.c_str(), nullptr);
        if (std::isalpha((unsigned char)peek()) || peek() == '_') {
            // "3abc": report once and swallow the rest so the parser sees one bad token.
            size_t tail = pos_;
            while (std::isalnum((unsigned char)peek()) || peek() == '_') advance();
            diags_.error(loc,
                         "malformed number '" + spelling + text_.substr(tail, pos_ - tail) + "'");
            t.kind = TokenKind::Invalid;
        }
        return t;
    }

    /// 1x28x28: the first size is already scanned, from `begin` to the current position.
    Token dims(SourceLoc loc, size_t begin) {
        Token t = make(TokenKind::Dims, loc, "");
        size_t part_begin = begin;
        while (true) {
            std::string part = text_.substr(part_begin, pos_ - part_begin);
            // Sizes too large to mean anything saturate; the shape check rejects them.
            t.dims.push_back(part.size() > 12 ? INT64_MAX
                                              : std::strtoll(part.c_str(), nullptr, 10));
            if (!(peek() == 'x' && std::isdigit((unsigned char)peek(1)))) break;
            advance();
            part_begin = pos_;
            digits();
        }
        t.text = text_.substr(begin, pos_ - begin);
        if (std::isalpha((unsigned char)peek()) || peek() == '_') {
            size_t tail = pos_;
            while (std::isalnum((unsigned char)peek()) || peek() == '_') advance();
            diags_.error(loc, "malformed shape '" + t.text + text_.substr(tail, pos_ - tail) +
                                  "'; expected sizes separated by 'x', such as 3x32x32");
            t.kind = TokenKind::Invalid;
        }
        return t;
    }

    Token string(SourceLoc loc) {
        advance();  // opening quote
        std::string value;
        while (pos_ < text_.size() && peek() != '"' && peek() != '\n') {
            value += peek();
            advance();
        }
        if (peek() != '"') {
            diags_.error(loc, "unterminated string; expected a closing '\"' on the same line");
            return make(TokenKind::Invalid, loc, value);
        }
        advance();
        return make(TokenKind::String, loc, value);
    }

    const std::string &text_;
    Diagnostics &diags_;
    size_t pos_ = 0;
    int line_ = 1;
    int col_ = 1;
};

}  // namespace

std::vector<Token> lex(const SourceFile &file, Diagnostics &diags) {
    return Lexer(file, diags).run();
}

}  // namespace netc
