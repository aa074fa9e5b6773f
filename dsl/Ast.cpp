#include "dsl/Ast.h"

#include <cmath>
#include <sstream>

namespace netc::ast {

namespace {

std::string loc_string(SourceLoc loc) {
    return std::to_string(loc.line) + ":" + std::to_string(loc.col);
}

std::string args_string(const std::vector<Arg> &args) {
    std::string out = "(";
    for (size_t i = 0; i < args.size(); i++) {
        if (i) out += ", ";
        if (!args[i].key.empty()) out += args[i].key + "=";
        out += to_string(args[i].value);
    }
    return out + ")";
}

}  // namespace

std::string to_string(const Expr &expr) {
    switch (expr.kind) {
    case Expr::Kind::Number: return expr.text;
    case Expr::Kind::Name: return expr.text;
    case Expr::Kind::String: return "\"" + expr.text + "\"";
    case Expr::Kind::Dims: {
        std::string out;
        for (size_t i = 0; i < expr.dims.size(); i++) {
            if (i) out += 'x';  // not `(i ? "x" : "") + ...`: GCC 12 warns falsely (-Wrestrict)
            out += std::to_string(expr.dims[i]);
        }
        return out;
    }
    case Expr::Kind::List: {
        std::string out = "[";
        for (size_t i = 0; i < expr.items.size(); i++) {
            out += (i ? ", " : "") + to_string(expr.items[i]);
        }
        return out + "]";
    }
    case Expr::Kind::Call: return expr.text + args_string(expr.args);
    }
    return "?";
}

std::string dump(const File &file) {
    std::ostringstream out;
    for (const Block &block : file.blocks) {
        out << loc_string(block.loc) << " " << block.kind;
        if (!block.name.empty()) out << " " << block.name;
        out << "\n";
        for (const Stmt &s : block.stmts) {
            out << "  " << loc_string(s.loc) << " ";
            if (!s.label.empty()) out << s.label << ": ";
            out << s.head;
            if (s.malformed) out << (s.head.empty() ? "" : " ") << "<error>";
            if (s.has_parens) out << args_string(s.args);
            for (const Expr &e : s.operands) out << " " << to_string(e);
            out << "\n";
        }
    }
    return out.str();
}

}  // namespace netc::ast
