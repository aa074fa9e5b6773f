#include "dsl/Parser.h"

#include <algorithm>
#include <optional>

namespace netc {

namespace {

/// How deeply values may nest (lists in lists, calls in call arguments). The parser, the AST's
/// destructor and the passes that walk values recurse once per level, so a bound keeps a hostile
/// file from overflowing the stack; real models nest two or three levels. docs/language.md says it.
constexpr int max_value_depth = 64;

class Parser {
public:
    Parser(std::vector<Token> tokens, Diagnostics &diags)
        : tokens_(std::move(tokens)), diags_(diags) {}

    /// file := { block }
    ast::File parse_file() {
        ast::File file;
        while (!at(TokenKind::End)) {
            if (auto block = parse_block()) {
                file.blocks.push_back(std::move(*block));
            } else {
                skip_to_next_block();
            }
        }
        return file;
    }

private:
    const Token &tok() const { return tokens_[pos_]; }
    const Token &peek_token(size_t ahead) const {
        return tokens_[std::min(pos_ + ahead, tokens_.size() - 1)];
    }
    bool at(TokenKind kind) const { return tok().kind == kind; }
    const Token &take() {
        const Token &t = tokens_[pos_];
        if (t.kind != TokenKind::End) pos_++;
        return t;
    }
    bool accept(TokenKind kind) {
        if (!at(kind)) return false;
        take();
        return true;
    }

    static std::string describe(const Token &t) {
        switch (t.kind) {
        case TokenKind::Ident: return "'" + t.text + "'";
        case TokenKind::Int:
        case TokenKind::Float:
        case TokenKind::Dims: return "'" + t.text + "'";
        case TokenKind::String: return "string \"" + t.text + "\"";
        default: return token_kind_name(t.kind);
        }
    }

    /// Reports "expected X, found Y" unless the current token is already a reported lexer error.
    void expected(const std::string &what) {
        if (!at(TokenKind::Invalid)) {
            diags_.error(tok().loc, "expected " + what + ", found " + describe(tok()));
        }
    }

    bool expect(TokenKind kind, const std::string &what) {
        if (accept(kind)) return true;
        expected(what);
        return false;
    }

    /// Statement boundary: a new line, ';', '}' or the end of the file.
    bool at_statement_end() const {
        return tok().starts_line || at(TokenKind::Semicolon) || at(TokenKind::RBrace) ||
               at(TokenKind::End);
    }

    /// `train {` or `model NAME {` at the start of a line.
    bool at_block_start() const {
        if (!tok().starts_line || !at(TokenKind::Ident)) return false;
        if (tok().text == "train") return peek_token(1).kind == TokenKind::LBrace;
        return tok().text == "model" && peek_token(1).kind == TokenKind::Ident &&
               peek_token(2).kind == TokenKind::LBrace;
    }

    void skip_to_next_block() {
        take();
        while (!at(TokenKind::End)) {
            if (tok().starts_line && at(TokenKind::Ident) &&
                (tok().text == "model" || tok().text == "train")) {
                return;
            }
            take();
        }
    }

    /// After an error inside a block: skip to the next line (or ';'), staying inside the block.
    void skip_rest_of_statement() {
        if (!at_statement_end()) take();
        int depth = 0;
        while (!at(TokenKind::End)) {
            if (depth == 0 && at_statement_end()) break;
            if (at(TokenKind::LParen) || at(TokenKind::LBracket)) depth++;
            if ((at(TokenKind::RParen) || at(TokenKind::RBracket)) && depth > 0) depth--;
            if (tok().starts_line) depth = 0;  // never carry an unclosed '(' past a line
            take();
        }
        accept(TokenKind::Semicolon);
    }

    /// block := 'model' IDENT '{' { stmt } '}'  |  'train' '{' { stmt } '}'
    std::optional<ast::Block> parse_block() {
        ast::Block block;
        block.loc = tok().loc;
        if (!at(TokenKind::Ident) || (tok().text != "model" && tok().text != "train")) {
            expected("'model NAME {' or 'train {'");
            return std::nullopt;
        }
        block.kind = take().text;
        if (block.kind == "model") {
            if (!at(TokenKind::Ident)) {
                expected("the model's name after 'model'");
                return std::nullopt;
            }
            block.name_loc = tok().loc;
            block.name = take().text;
        }
        if (!expect(TokenKind::LBrace, "'{' to open the " + block.kind + " block")) {
            return std::nullopt;
        }
        SourceLoc open = tokens_[pos_ - 1].loc;
        while (!at(TokenKind::RBrace)) {
            if (at(TokenKind::End) || at_block_start()) {
                // A forgotten '}' before the next block: close this one there.
                diags_.error(tok().loc, "expected '}' to close the " + block.kind +
                                            " block opened at line " + std::to_string(open.line));
                return block;
            }
            if (accept(TokenKind::Semicolon)) continue;
            size_t start = pos_;
            if (auto stmt = parse_stmt()) {
                block.stmts.push_back(std::move(*stmt));
            } else {
                block.stmts.push_back(malformed_stmt(start));
                // A line that cannot start a statement ('(x)', '5'): step over its first token
                // so recovery always moves forward.
                if (pos_ == start) take();
                skip_rest_of_statement();
            }
        }
        take();  // '}'
        return block;
    }

    /// What is known of a statement that failed to parse from token `start` on: its label and
    /// head, when they were written.
    ast::Stmt malformed_stmt(size_t start) const {
        ast::Stmt s;
        s.malformed = true;
        s.loc = tokens_[start].loc;
        size_t i = start;
        auto at_index = [&](size_t k) -> const Token & {
            return tokens_[std::min(k, tokens_.size() - 1)];
        };
        if (at_index(i).kind == TokenKind::Ident && at_index(i + 1).kind == TokenKind::Colon) {
            s.label = at_index(i).text;
            s.label_loc = at_index(i).loc;
            i += 2;
        }
        if (at_index(i).kind == TokenKind::Ident && (i == start || !at_index(i).starts_line)) {
            s.head = at_index(i).text;
            s.head_loc = at_index(i).loc;
        }
        return s;
    }

    /// stmt := [IDENT ':'] IDENT ['(' [arg {',' arg}] ')'] { expr [','] }   (ends at a new line)
    std::optional<ast::Stmt> parse_stmt() {
        ast::Stmt stmt;
        stmt.loc = tok().loc;
        if (!at(TokenKind::Ident)) {
            expected("a statement (a layer such as 'relu', or a setting such as 'classes 10')");
            return std::nullopt;
        }
        if (peek_token(1).kind == TokenKind::Colon) {
            stmt.label_loc = tok().loc;
            stmt.label = take().text;
            take();  // ':'
            if (!at(TokenKind::Ident) || tok().starts_line) {
                expected("an op after '" + stmt.label + ":'");
                return std::nullopt;
            }
        }
        stmt.head_loc = tok().loc;
        stmt.head = take().text;
        if (at(TokenKind::Colon) && !tok().starts_line) {
            diags_.error(stmt.head_loc, "'" + stmt.head + ":' is a second label; a layer has one");
            return std::nullopt;
        }
        if (at(TokenKind::LParen) && !tok().starts_line) {
            stmt.has_parens = true;
            if (!parse_args(stmt.args)) return std::nullopt;
        }
        while (!at_statement_end()) {
            auto expr = parse_expr();
            if (!expr) return std::nullopt;
            stmt.operands.push_back(std::move(*expr));
            if (at(TokenKind::Comma) && !tok().starts_line) take();
        }
        accept(TokenKind::Semicolon);
        return stmt;
    }

    /// args := '(' [arg {',' arg}] ')'      arg := [IDENT '='] expr
    bool parse_args(std::vector<ast::Arg> &args) {
        SourceLoc open = tok().loc;
        take();  // '('
        if (accept(TokenKind::RParen)) return true;
        while (true) {
            ast::Arg arg;
            if (at(TokenKind::Ident) && peek_token(1).kind == TokenKind::Equals) {
                arg.key_loc = tok().loc;
                arg.key = take().text;
                take();  // '='
            }
            auto value = parse_expr();
            if (!value) return false;
            arg.value = std::move(*value);
            if (arg.key_loc.line == 0) arg.key_loc = arg.value.loc;
            args.push_back(std::move(arg));
            if (accept(TokenKind::Comma)) continue;
            if (accept(TokenKind::RParen)) return true;
            if (at(TokenKind::End) || tok().starts_line) {
                diags_.error(tok().loc, "expected ')' to close the '(' at " +
                                            std::to_string(open.line) + ":" +
                                            std::to_string(open.col));
            } else {
                expected("',' or ')' in the argument list");
            }
            return false;
        }
    }

    /// Counts one level of nesting (a list or a call's arguments) for as long as it lives.
    class Nesting {
    public:
        explicit Nesting(int &depth) : depth_(depth) { depth_++; }
        ~Nesting() { depth_--; }
        Nesting(const Nesting &) = delete;
        Nesting &operator=(const Nesting &) = delete;

    private:
        int &depth_;
    };

    /// False, with an error at the value starting at `loc` (a list or a call), when opening one
    /// more level would nest values deeper than `max_value_depth`.
    bool can_nest(SourceLoc loc) {
        if (depth_ < max_value_depth) return true;
        diags_.error(loc, "values nest too deeply: more than " + std::to_string(max_value_depth) +
                              " levels of lists and calls");
        return false;
    }

    /// expr := ['-'] NUMBER | IDENT [args] | STRING | DIMS | '[' [expr {',' expr}] ']'
    std::optional<ast::Expr> parse_expr() {
        ast::Expr e;
        e.loc = tok().loc;
        switch (tok().kind) {
        case TokenKind::Minus: {
            take();
            if (!at(TokenKind::Int) && !at(TokenKind::Float)) {
                expected("a number after '-'");
                return std::nullopt;
            }
            auto number = parse_expr();
            number->number = -number->number;
            number->text = "-" + number->text;
            number->loc = e.loc;
            return number;
        }
        case TokenKind::Int:
        case TokenKind::Float:
            e.kind = ast::Expr::Kind::Number;
            e.is_integer = at(TokenKind::Int);
            e.number = tok().number;
            e.text = take().text;
            return e;
        case TokenKind::String:
            e.kind = ast::Expr::Kind::String;
            e.text = take().text;
            return e;
        case TokenKind::Dims:
            e.kind = ast::Expr::Kind::Dims;
            e.dims = tok().dims;
            take();
            return e;
        case TokenKind::Ident:
            e.text = take().text;
            if (at(TokenKind::LParen) && !tok().starts_line) {
                e.kind = ast::Expr::Kind::Call;
                if (!can_nest(e.loc)) return std::nullopt;
                Nesting nested(depth_);
                if (!parse_args(e.args)) return std::nullopt;
            } else {
                e.kind = ast::Expr::Kind::Name;
            }
            return e;
        case TokenKind::LBracket: {
            if (!can_nest(e.loc)) return std::nullopt;
            Nesting nested(depth_);
            take();
            e.kind = ast::Expr::Kind::List;
            if (accept(TokenKind::RBracket)) return e;
            while (true) {
                auto item = parse_expr();
                if (!item) return std::nullopt;
                e.items.push_back(std::move(*item));
                if (accept(TokenKind::Comma)) continue;
                if (accept(TokenKind::RBracket)) return e;
                expected("',' or ']' in the list");
                return std::nullopt;
            }
        }
        default:
            expected("a value (a number, a name, a string, a shape or a list)");
            return std::nullopt;
        }
    }

    std::vector<Token> tokens_;
    size_t pos_ = 0;
    int depth_ = 0;  // lists and calls open around the value being parsed
    Diagnostics &diags_;
};

}  // namespace

ast::File parse(const SourceFile &file, Diagnostics &diags) {
    return Parser(lex(file, diags), diags).parse_file();
}

}  // namespace netc
