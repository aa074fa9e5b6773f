#include "compiler/Attr.h"

#include "dsl/Error.h"

#include <cmath>
#include <cstdio>
#include <set>

namespace netc {

namespace {

struct InitName {
    const char *name;
    Initializer::Kind kind;
};

// Canonical names first; the aliases are the spellings Keras and PyTorch users know.
const InitName init_names[] = {
    {"xavier_uniform", Initializer::Kind::XavierUniform},
    {"xavier_normal", Initializer::Kind::XavierNormal},
    {"he_uniform", Initializer::Kind::HeUniform},
    {"he_normal", Initializer::Kind::HeNormal},
    {"zeros", Initializer::Kind::Zeros},
    {"ones", Initializer::Kind::Ones},
    {"constant", Initializer::Kind::Constant},
    {"glorot_uniform", Initializer::Kind::XavierUniform},
    {"glorot_normal", Initializer::Kind::XavierNormal},
    {"kaiming_uniform", Initializer::Kind::HeUniform},
    {"kaiming_normal", Initializer::Kind::HeNormal},
};

std::vector<std::string> init_spellings() {
    std::vector<std::string> out;
    for (const InitName &n : init_names) out.push_back(n.name);
    return out;
}

constexpr double max_int_attr = 2147483647;  // INT32_MAX

std::string describe(const ast::Expr &e) {
    switch (e.kind) {
    case ast::Expr::Kind::Number: return e.text;
    case ast::Expr::Kind::Name: return "'" + e.text + "'";
    case ast::Expr::Kind::String: return "string \"" + e.text + "\"";
    case ast::Expr::Kind::Dims: return "shape " + ast::to_string(e);
    case ast::Expr::Kind::List: return "list " + ast::to_string(e);
    case ast::Expr::Kind::Call: return "'" + ast::to_string(e) + "'";
    }
    return "value";
}

bool convert_initializer(const ast::Expr &e, const std::string &what, Diagnostics &diags,
                         Initializer &out) {
    if (e.kind != ast::Expr::Kind::Name && e.kind != ast::Expr::Kind::Call) {
        diags.error(e.loc,
                    what + " expects an initializer such as he_normal or constant(0.1), found " +
                        describe(e));
        return false;
    }
    for (const InitName &n : init_names) {
        if (e.text != n.name) continue;
        out.kind = n.kind;
        if (n.kind == Initializer::Kind::Constant) {
            if (e.kind != ast::Expr::Kind::Call || e.args.size() != 1 || !e.args[0].key.empty() ||
                e.args[0].value.kind != ast::Expr::Kind::Number) {
                diags.error(e.loc, "constant initializer expects one number, as in constant(0.1)");
                return false;
            }
            out.value = e.args[0].value.number;
        } else if (e.kind == ast::Expr::Kind::Call) {
            diags.error(e.loc, "initializer '" + e.text + "' takes no arguments");
            return false;
        }
        return true;
    }
    diags.error(e.loc,
                "unknown initializer '" + e.text + "'" + did_you_mean(e.text, init_spellings()));
    return false;
}

/// Converts one source value to the spec's type, checking its range.
bool convert(const AttrSpec &spec, const ast::Expr &e, const std::string &owner, Diagnostics &diags,
             AttrValue &out) {
    std::string what = "attribute '" + spec.name + "' of " + owner;
    auto check_range = [&](double x, SourceLoc loc) {
        if (spec.range.contains(x)) return true;
        diags.error(loc, what + " must be " + spec.range.str() + ", found " + format_number(x));
        return false;
    };
    // Integer attributes are sizes and counts: past 32 bits they would overflow shapes.
    auto check_int_size = [&](const ast::Expr &item) {
        if (std::fabs(item.number) <= max_int_attr) return true;
        diags.error(item.loc, what + " must be at most " + format_number(max_int_attr) +
                                  ", found " + item.text);
        return false;
    };
    switch (spec.type) {
    case AttrType::Int:
        if (e.kind != ast::Expr::Kind::Number || !e.is_integer) {
            diags.error(e.loc, what + " expects an integer, found " + describe(e));
            return false;
        }
        out.number = e.number;
        return check_range(e.number, e.loc) && check_int_size(e);
    case AttrType::Float:
        if (e.kind != ast::Expr::Kind::Number) {
            diags.error(e.loc, what + " expects a number, found " + describe(e));
            return false;
        }
        out.number = e.number;
        return check_range(e.number, e.loc);
    case AttrType::Bool:
        if (e.kind == ast::Expr::Kind::Name && (e.text == "true" || e.text == "false")) {
            out.number = e.text == "true";
            return true;
        }
        diags.error(e.loc, what + " expects true or false, found " + describe(e));
        return false;
    case AttrType::Enum:
        if (e.kind == ast::Expr::Kind::Name) {
            for (const std::string &c : spec.choices) {
                if (c == e.text) {
                    out.word = c;
                    return true;
                }
            }
            diags.error(e.loc, what + " has no choice '" + e.text + "'" +
                                   did_you_mean(e.text, spec.choices));
            return false;
        } else {
            std::string list;
            for (const std::string &c : spec.choices) list += (list.empty() ? "" : ", ") + c;
            diags.error(e.loc, what + " expects one of " + list + ", found " + describe(e));
            return false;
        }
    case AttrType::Init: return convert_initializer(e, what, diags, out.init);
    case AttrType::IntList: {
        std::vector<ast::Expr> items;
        if (e.kind == ast::Expr::Kind::List) {
            items = e.items;
        } else {
            items = {e};
        }
        for (const ast::Expr &item : items) {
            if (item.kind != ast::Expr::Kind::Number || !item.is_integer) {
                diags.error(item.loc,
                            what + " expects a list of integers, found " + describe(item));
                return false;
            }
            if (!check_range(item.number, item.loc) || !check_int_size(item)) return false;
            out.ints.push_back((int64_t)item.number);
        }
        return true;
    }
    }
    internal_error("unhandled attribute type");
}

}  // namespace

const char *initializer_name(Initializer::Kind kind) {
    for (const InitName &n : init_names) {
        if (n.kind == kind) return n.name;
    }
    internal_error("initializer without a name");
}

std::string to_string(const Initializer &init) {
    std::string name = initializer_name(init.kind);
    if (init.kind == Initializer::Kind::Constant) {
        name += '(';  // piece by piece: `"(" + ...` trips GCC 12's false -Wrestrict
        name += format_number(init.value);
        name += ')';
    }
    return name;
}

std::string format_number(double x) {
    char buf[64];
    if (x == std::floor(x) && std::fabs(x) < 1e15) {
        std::snprintf(buf, sizeof buf, "%.0f", x);
    } else {
        std::snprintf(buf, sizeof buf, "%g", x);
    }
    return buf;
}

bool Range::contains(double x) const {
    if (std::isnan(x)) return false;
    if (lo_open ? !(x > lo) : !(x >= lo)) return false;
    if (hi_open ? !(x < hi) : !(x <= hi)) return false;
    return true;
}

std::string Range::str() const {
    bool has_lo = lo > -1e299, has_hi = hi < 1e299;
    if (has_lo && has_hi) {
        return std::string("in ") + (lo_open ? "(" : "[") + format_number(lo) + ", " +
               format_number(hi) + (hi_open ? ")" : "]");
    }
    if (has_lo) return (lo_open ? "> " : ">= ") + format_number(lo);
    if (has_hi) return (hi_open ? "< " : "<= ") + format_number(hi);
    return "a finite number";
}

AttrSpec int_attr(std::string name, int64_t def, Range range, std::string doc) {
    AttrValue v;
    v.number = (double)def;
    return {std::move(name), AttrType::Int, v, false, range, {}, std::move(doc)};
}

AttrSpec required_int_attr(std::string name, Range range, std::string doc) {
    return {std::move(name), AttrType::Int, std::nullopt, false, range, {}, std::move(doc)};
}

AttrSpec float_attr(std::string name, double def, Range range, std::string doc) {
    AttrValue v;
    v.number = def;
    return {std::move(name), AttrType::Float, v, false, range, {}, std::move(doc)};
}

AttrSpec optional_float_attr(std::string name, Range range, std::string doc) {
    return {std::move(name), AttrType::Float, std::nullopt, true, range, {}, std::move(doc)};
}

AttrSpec optional_int_attr(std::string name, Range range, std::string doc) {
    return {std::move(name), AttrType::Int, std::nullopt, true, range, {}, std::move(doc)};
}

AttrSpec bool_attr(std::string name, bool def, std::string doc) {
    AttrValue v;
    v.number = def;
    return {std::move(name), AttrType::Bool, v, false, Range::any(), {}, std::move(doc)};
}

AttrSpec enum_attr(std::string name, std::string def, std::vector<std::string> choices,
                   std::string doc) {
    AttrValue v;
    v.word = std::move(def);
    return {std::move(name),    AttrType::Enum, v, false, Range::any(),
            std::move(choices), std::move(doc)};
}

AttrSpec init_attr(std::string name, Initializer def, std::string doc) {
    AttrValue v;
    v.init = def;
    return {std::move(name), AttrType::Init, v, false, Range::any(), {}, std::move(doc)};
}

AttrSpec int_list_attr(std::string name, std::vector<int64_t> def, Range item_range,
                       std::string doc) {
    AttrValue v;
    v.ints = std::move(def);
    return {std::move(name), AttrType::IntList, v, false, item_range, {}, std::move(doc)};
}

void Attrs::set(const std::string &name, AttrValue value) { values_[name] = std::move(value); }

bool Attrs::has(const std::string &name) const { return values_.count(name) > 0; }

const AttrValue &Attrs::at(const std::string &name) const {
    auto it = values_.find(name);
    if (it == values_.end()) internal_error("attribute '" + name + "' was not bound");
    return it->second;
}

int64_t Attrs::get_int(const std::string &name) const { return (int64_t)at(name).number; }
double Attrs::get_float(const std::string &name) const { return at(name).number; }
bool Attrs::get_bool(const std::string &name) const { return at(name).number != 0; }
const std::string &Attrs::get_enum(const std::string &name) const { return at(name).word; }
const Initializer &Attrs::get_init(const std::string &name) const { return at(name).init; }
const std::vector<int64_t> &Attrs::get_ints(const std::string &name) const { return at(name).ints; }

namespace {

std::string value_string(const AttrSpec &spec, const AttrValue &v) {
    switch (spec.type) {
    case AttrType::Int:
    case AttrType::Float: return format_number(v.number);
    case AttrType::Bool: return v.number != 0 ? "true" : "false";
    case AttrType::Enum: return v.word;
    case AttrType::Init: return to_string(v.init);
    case AttrType::IntList: {
        std::string out = "[";
        for (size_t i = 0; i < v.ints.size(); i++)
            out += (i ? ", " : "") + std::to_string(v.ints[i]);
        return out + "]";
    }
    }
    internal_error("unhandled attribute type");
}

}  // namespace

std::string Attrs::str(const std::vector<AttrSpec> &specs) const {
    std::string out;
    for (const AttrSpec &spec : specs) {
        if (!has(spec.name)) continue;
        out += (out.empty() ? "" : " ") + spec.name + "=" + value_string(spec, at(spec.name));
    }
    return out;
}

std::string default_string(const AttrSpec &spec) {
    if (spec.default_value) return value_string(spec, *spec.default_value);
    return spec.optional ? "none" : "required";
}

std::string attr_type_name(const AttrSpec &spec) {
    switch (spec.type) {
    case AttrType::Int: return "int";
    case AttrType::Float: return "float";
    case AttrType::Bool: return "bool";
    case AttrType::Enum: {
        std::string out;
        for (const std::string &c : spec.choices) out += (out.empty() ? "" : "|") + c;
        return out;
    }
    case AttrType::Init: return "initializer";
    case AttrType::IntList: return "list of int";
    }
    internal_error("unhandled attribute type");
}

bool bind_attrs(const std::vector<AttrSpec> &specs, const std::vector<ast::Arg> &args,
                const std::string &owner, SourceLoc owner_loc, bool allow_positional,
                Diagnostics &diags, Attrs &out) {
    bool ok = true;
    std::set<std::string> given;
    std::set<std::string> suggested;  // "did you mean" answers: not reported missing as well
    std::vector<std::string> names;
    for (const AttrSpec &s : specs) names.push_back(s.name);
    size_t next_positional = 0;
    for (const ast::Arg &arg : args) {
        const AttrSpec *spec = nullptr;
        if (arg.key.empty()) {
            if (!allow_positional) continue;
            if (next_positional >= specs.size()) {
                diags.error(arg.value.loc, owner + " takes at most " +
                                               std::to_string(specs.size()) + " argument" +
                                               (specs.size() == 1 ? "" : "s"));
                ok = false;
                continue;
            }
            spec = &specs[next_positional++];
        } else {
            for (const AttrSpec &s : specs) {
                if (s.name == arg.key) spec = &s;
            }
            if (!spec) {
                std::string hint = did_you_mean(arg.key, names);
                suggested.insert(nearest_name(arg.key, names));
                if (hint.empty() && names.empty()) hint = " (it takes no attributes)";
                diags.error(arg.key_loc, "unknown attribute '" + arg.key + "' for " + owner + hint);
                ok = false;
                continue;
            }
        }
        if (!given.insert(spec->name).second) {
            diags.error(arg.key_loc,
                        "attribute '" + spec->name + "' of " + owner + " is given twice");
            ok = false;
            continue;
        }
        AttrValue value;
        if (convert(*spec, arg.value, owner, diags, value)) {
            out.set(spec->name, std::move(value));
        } else {
            ok = false;
        }
    }
    for (const AttrSpec &spec : specs) {
        if (given.count(spec.name)) continue;
        if (spec.default_value) {
            out.set(spec.name, *spec.default_value);
        } else if (!spec.optional && !suggested.count(spec.name)) {
            diags.error(owner_loc,
                        owner + " needs attribute '" + spec.name + "' (" + spec.doc + ")");
            ok = false;
        }
    }
    return ok;
}

}  // namespace netc
