#include "compiler/Overrides.h"

#include "compiler/Settings.h"
#include "compiler/ops/Op.h"
#include "compiler/ops/OpTable.h"

#include <cctype>
#include <cstdlib>
#include <set>

namespace netc {

namespace {

const std::set<std::string> &train_settings() {
    static const std::set<std::string> names = {"batch", "epochs", "seed", "validation"};
    return names;
}

/// The settings whose value is a choice with attributes, and the table each binds against.
const std::vector<std::pair<std::string, ChoiceKind>> &choice_settings() {
    static const std::vector<std::pair<std::string, ChoiceKind>> settings = {
        {"classify", ChoiceKind::Classifier},    {"optimizer", ChoiceKind::Optimizer},
        {"schedule", ChoiceKind::Schedule},      {"loss", ChoiceKind::Loss},
        {"regularize", ChoiceKind::Regularizer},
    };
    return settings;
}

ast::Block *find_block(ast::File &file, const std::string &kind) {
    for (ast::Block &b : file.blocks) {
        if (b.kind == kind) return &b;
    }
    return nullptr;
}

/// The statement `head ...` (unlabelled) of the model or train block, or null. `File` is
/// ast::File, const or not.
template <typename File> auto find_setting(File &file, const std::string &head) {
    decltype(&file.blocks[0].stmts[0]) found = nullptr;
    for (auto &b : file.blocks) {
        for (auto &s : b.stmts) {
            if (s.label.empty() && s.head == head) found = &s;
        }
    }
    return found;
}

/// The model block's statement labelled `label`, or null.
template <typename File> auto find_layer(File &file, const std::string &label) {
    decltype(&file.blocks[0].stmts[0]) found = nullptr;
    for (auto &b : file.blocks) {
        if (b.kind != "model") continue;
        for (auto &s : b.stmts) {
            if (s.label == label) found = &s;
        }
    }
    return found;
}

/// The attributes a setting's statement binds its choice against, or null (an unknown choice:
/// the front end reports it).
const std::vector<AttrSpec> *setting_attrs(const ast::Stmt &s, ChoiceKind kind) {
    if (s.operands.size() != 1) return nullptr;
    const std::string &name = s.operands[0].text;
    for (const ChoiceSpec &spec : choice_table(kind)) {
        bool match = spec.name == name;
        for (const std::string &alias : spec.aliases) match |= alias == name;
        if (match) return &spec.attrs;
    }
    return nullptr;
}

bool has_attr(const std::vector<AttrSpec> &attrs, const std::string &name) {
    for (const AttrSpec &a : attrs) {
        if (a.name == name) return true;
    }
    return false;
}

std::string attr_names(const std::vector<AttrSpec> &attrs) {
    std::string out;
    for (const AttrSpec &a : attrs) out += (out.empty() ? "" : ", ") + a.name;
    return out.empty() ? "none" : out;
}

/// The attributes of a statement `head.attr` names: a setting's choice, or a layer's op.
const std::vector<AttrSpec> *attrs_of(const ast::File &file, const std::string &head,
                                      std::string &error) {
    for (const auto &[setting, kind] : choice_settings()) {
        if (setting != head) continue;
        const ast::Stmt *s = find_setting(file, head);
        if (!s) {
            error = "the file has no '" + head + "' line whose attributes could be set";
            return nullptr;
        }
        const std::vector<AttrSpec> *attrs = setting_attrs(*s, kind);
        if (!attrs) error = "the file's '" + head + "' line does not name a known choice";
        return attrs;
    }
    const ast::Stmt *layer = find_layer(file, head);
    if (!layer) {
        error = "no setting or layer is called '" + head +
                "' (layers are named by their labels, as 'drop1' in 'drop1: dropout(p=0.5)')";
        return nullptr;
    }
    const OpDef *op = find_op(layer->head);
    if (!op) {
        error = "layer '" + head + "' has no known op";
        return nullptr;
    }
    return &op->attrs;
}

/// A value as the parser would have read it: a number, or a word (an enum choice, true/false).
bool parse_value(const std::string &text, SourceLoc loc, ast::Expr &out, std::string &error) {
    out = {};
    out.loc = loc;
    out.text = text;
    char *end = nullptr;
    double number = std::strtod(text.c_str(), &end);
    if (!text.empty() && end == text.c_str() + text.size()) {
        out.kind = ast::Expr::Kind::Number;
        out.number = number;
        out.is_integer = text.find_first_of(".eE") == std::string::npos;
        return true;
    }
    bool word = !text.empty() && (std::isalpha((unsigned char)text[0]) || text[0] == '_');
    for (char c : text) word &= std::isalnum((unsigned char)c) || c == '_';
    if (!word) {
        error = "'" + text + "' is neither a number nor a word";
        return false;
    }
    out.kind = ast::Expr::Kind::Name;
    return true;
}

/// Sets `attr` in the arguments of a call, replacing a keyword or positional one that binds it.
void set_arg(std::vector<ast::Arg> &args, const std::vector<AttrSpec> &attrs,
             const std::string &attr, const ast::Expr &value) {
    size_t position = 0;
    for (ast::Arg &a : args) {
        const bool binds =
            a.key.empty() ? position < attrs.size() && attrs[position].name == attr : a.key == attr;
        if (a.key.empty()) position++;
        if (binds) {
            a.value = value;
            return;
        }
    }
    ast::Arg added;
    added.key = attr;
    added.key_loc = value.loc;
    added.value = value;
    args.push_back(std::move(added));
}

}  // namespace

std::optional<std::string> resolve_override(const ast::File &file, const std::string &name,
                                            std::string &error) {
    if (train_settings().count(name)) return name;
    const size_t dot = name.find('.');
    if (dot != std::string::npos) {
        const std::string head = name.substr(0, dot), attr = name.substr(dot + 1);
        const std::vector<AttrSpec> *attrs = attrs_of(file, head, error);
        if (!attrs) return std::nullopt;
        if (!has_attr(*attrs, attr)) {
            error = "'" + head + "' has no attribute '" + attr + "' (it has " + attr_names(*attrs) +
                    ")";
            return std::nullopt;
        }
        return name;
    }
    std::vector<std::string> found;
    for (const auto &[setting, kind] : choice_settings()) {
        const ast::Stmt *s = find_setting(file, setting);
        const std::vector<AttrSpec> *attrs = s ? setting_attrs(*s, kind) : nullptr;
        if (attrs && has_attr(*attrs, name)) found.push_back(setting + "." + name);
    }
    if (found.size() == 1) return found[0];
    if (found.empty()) {
        error = "no setting of the file has an attribute '" + name + "': name a layer's as LAYER." +
                name + ", or one of batch, epochs, seed, validation";
    } else {
        error = "'" + name + "' is ambiguous: " + found[0] + " or " + found[1];
    }
    return std::nullopt;
}

bool apply_override(ast::File &file, const Override &o, std::string &error) {
    std::optional<std::string> name = resolve_override(file, o.name, error);
    if (!name) return false;
    const size_t dot = name->find('.');
    if (dot == std::string::npos) {
        // A train setting: its statement's operand, the statement added when absent.
        ast::Block *train = find_block(file, "train");
        if (!train) {
            ast::Block block;
            block.kind = "train";
            file.blocks.push_back(block);
            train = &file.blocks.back();
        }
        ast::Stmt *s = nullptr;
        for (ast::Stmt &stmt : train->stmts) {
            if (stmt.label.empty() && stmt.head == *name) s = &stmt;
        }
        if (!s) {
            ast::Stmt added;
            added.head = *name;
            added.loc = added.head_loc = train->loc;
            train->stmts.push_back(added);
            s = &train->stmts.back();
        }
        ast::Expr value;
        if (!parse_value(o.value, s->head_loc, value, error)) return false;
        s->operands = {value};
        return true;
    }
    const std::string head = name->substr(0, dot), attr = name->substr(dot + 1);
    const std::vector<AttrSpec> *attrs = attrs_of(file, head, error);
    ast::Stmt *layer = find_layer(file, head);
    ast::Stmt *s = layer ? layer : find_setting(file, head);
    ast::Expr value;
    if (!parse_value(o.value, s->head_loc, value, error)) return false;
    if (layer) {
        s->has_parens = true;
        set_arg(s->args, *attrs, attr, value);
        return true;
    }
    ast::Expr &choice = s->operands[0];
    choice.kind = ast::Expr::Kind::Call;  // `optimizer sgd` becomes `optimizer sgd(lr=...)`
    set_arg(choice.args, *attrs, attr, value);
    return true;
}

Frontend run_frontend_with(const Frontend &base, const std::vector<Override> &overrides,
                           std::string &error) {
    Frontend f;
    f.source = std::make_unique<SourceFile>(base.source->path(), base.source->text());
    f.diags = std::make_unique<Diagnostics>(*f.source);
    f.ast = base.ast;
    for (const Override &o : overrides) {
        if (!apply_override(f.ast, o, error)) {
            error = o.name + "=" + o.value + ": " + error;
            return f;
        }
    }
    check_ast(f);
    return f;
}

}  // namespace netc
