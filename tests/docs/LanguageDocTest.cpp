// The documentation cannot fall behind the code:
// - every ```net example in docs/*.md passes the front end without a diagnostic. Three fences:
//     ```net            a complete file;
//     ```net-fragment   lines of a model block, wrapped as
//                         model fragment { input 3x32x32; classes 10; <lines>; flatten;
//                         dense(units=10) }
//     ```net-train      lines of a train block, wrapped after a minimal model as train { <lines> };
// - docs/language.md has a `### \`name\`` section for every op of the op table and every entry of
//   every settings table, in table order, under its chapter; each section's attribute table lists
//   every attribute with the type, default and valid range the code gives it, mentions every
//   alias, and shows a checked example; every op section keeps a place for its backward rule.
#include "Golden.h"
#include "compiler/Frontend.h"
#include "compiler/Settings.h"
#include "compiler/ops/OpTable.h"

#include <doctest/doctest.h>

#include <map>
#include <string>
#include <vector>

namespace {

std::string read_doc(const std::string &name) {
    std::filesystem::path path = std::string(NETC_SOURCE_DIR) + "/docs/" + name;
    REQUIRE(std::filesystem::exists(path));
    return netc::testing::read_text_file(path);
}

std::string trim(const std::string &s) {
    size_t b = s.find_first_not_of(" \t"), e = s.find_last_not_of(" \t");
    return b == std::string::npos ? "" : s.substr(b, e - b + 1);
}

struct Example {
    int line = 0;      // of the opening fence, 1-based
    std::string kind;  // net, net-fragment, net-train
    std::string text;
};

std::vector<Example> net_examples(const std::string &doc) {
    std::vector<Example> out;
    std::vector<std::string> lines = netc::testing::split_lines(doc);
    for (size_t i = 0; i < lines.size(); i++) {
        std::string fence = trim(lines[i]);
        if (fence.rfind("```net", 0) != 0) continue;
        Example e;
        e.line = (int)i + 1;
        e.kind = fence.substr(3);
        CAPTURE(e.line);
        CHECK_MESSAGE((e.kind == "net" || e.kind == "net-fragment" || e.kind == "net-train"),
                      "unknown fence ```" << e.kind);
        for (i++; i < lines.size() && trim(lines[i]) != "```"; i++) e.text += lines[i] + "\n";
        out.push_back(e);
    }
    return out;
}

std::string wrap(const Example &e) {
    if (e.kind == "net-fragment") {
        return "model fragment {\n  input 3x32x32\n  classes 10\n" + e.text +
               "  flatten\n  dense(units=10)\n}\n";
    }
    if (e.kind == "net-train") {
        return "model fragment {\n  input 3x32x32\n  classes 10\n  flatten\n  dense(units=10)\n}\n"
               "train {\n" +
               e.text + "}\n";
    }
    return e.text;
}

int check_examples(const std::string &doc_name) {
    std::vector<Example> examples = net_examples(read_doc(doc_name));
    for (const Example &e : examples) {
        std::string text = wrap(e);
        netc::Frontend f = netc::run_frontend(doc_name, text);
        INFO("```" << e.kind << " example at docs/" << doc_name << ":" << e.line << ", as run:\n"
                   << text << f.diags->render());
        CHECK(f.ok());
        CHECK(f.diags->all().empty());
    }
    return (int)examples.size();
}

/// The doc split into `## chapter` -> `### \`name\`` -> section text.
using Sections = std::vector<std::pair<std::string, std::string>>;

std::map<std::string, Sections> entry_sections(const std::string &doc) {
    std::map<std::string, Sections> out;
    std::string chapter;
    std::string *section = nullptr;
    for (const std::string &line : netc::testing::split_lines(doc)) {
        if (line.rfind("## ", 0) == 0) {
            chapter = trim(line.substr(3));
            section = nullptr;
        } else if (line.rfind("### ", 0) == 0) {
            std::string title = trim(line.substr(4));
            section = nullptr;
            if (title.size() > 2 && title.front() == '`' && title.back() == '`') {
                out[chapter].push_back({title.substr(1, title.size() - 2), ""});
                section = &out[chapter].back().second;
            }
        } else if (section) {
            *section += line + "\n";
        }
    }
    return out;
}

/// Cells of a markdown table row, with `\|` kept inside its cell.
std::vector<std::string> cells(const std::string &row) {
    std::vector<std::string> out;
    std::string cell;
    for (size_t i = 1; i < row.size(); i++) {
        if (row[i] == '\\' && i + 1 < row.size() && row[i + 1] == '|') {
            cell += '|';
            i++;
        } else if (row[i] == '|') {
            out.push_back(trim(cell));
            cell.clear();
        } else {
            cell += row[i];
        }
    }
    return out;
}

/// Drops backticks and spaces, so "`none` | `tanh`" compares equal to "none|tanh".
std::string normalize(const std::string &s) {
    std::string out;
    for (char c : s) {
        if (c != '`' && c != ' ') out += c;
    }
    return out;
}

/// Checks one entry's section against its attribute specs.
void check_section(const std::string &name, const std::string &text,
                   const std::vector<netc::AttrSpec> &attrs,
                   const std::vector<std::string> &aliases) {
    CAPTURE(name);
    std::map<std::string, std::vector<std::string>> rows;
    std::string order;
    for (const std::string &line : netc::testing::split_lines(text)) {
        if (line.rfind("| `", 0) != 0) continue;
        std::vector<std::string> c = cells(line);
        if (c.size() != 5) continue;
        std::string attr = normalize(c[0]);
        rows[attr] = c;
        order += attr + " ";
    }
    std::string expected_order;
    for (const netc::AttrSpec &a : attrs) {
        CAPTURE(a.name);
        expected_order += a.name + " ";
        auto it = rows.find(a.name);
        if (it == rows.end()) {
            FAIL_CHECK("attribute `" << a.name << "` of " << name << " has no row in its table");
            continue;
        }
        bool numeric = a.type == netc::AttrType::Int || a.type == netc::AttrType::Float ||
                       a.type == netc::AttrType::IntList;
        CHECK(normalize(it->second[1]) == normalize(netc::attr_type_name(a)));
        CHECK(normalize(it->second[2]) == normalize(netc::default_string(a)));
        CHECK(normalize(it->second[3]) == normalize(numeric ? a.range.str() : "-"));
    }
    CHECK(order == expected_order);  // no extra rows, in the code's order
    if (attrs.empty()) CHECK(text.find("(no attributes)") != std::string::npos);
    for (const std::string &alias : aliases) {
        CAPTURE(alias);
        CHECK(text.find("`" + alias + "`") != std::string::npos);
    }
    CHECK((text.find("```net") != std::string::npos));  // a checked example
}

std::string names_of(const Sections &sections) {
    std::string out;
    for (const auto &s : sections) out += s.first + " ";
    return out;
}

}  // namespace

TEST_CASE("every net example in docs/language.md passes the front end cleanly") {
    CHECK(check_examples("language.md") >= 40);
}

TEST_CASE("every net example in docs/cli.md passes the front end cleanly") {
    check_examples("cli.md");
}

TEST_CASE("docs/language.md documents every op with its attributes") {
    auto chapters = entry_sections(read_doc("language.md"));
    const Sections &ops = chapters["Ops"];
    std::string expected;
    for (const netc::OpDef *op : netc::all_ops()) {
        if (op->user_visible) expected += std::string(op->name) + " ";
    }
    CHECK(names_of(ops) == expected);
    for (const auto &[name, text] : ops) {
        const netc::OpDef *op = netc::find_op(name);
        if (!op) continue;
        check_section(name, text, op->attrs, {});
        const std::string op_name = name;  // clang 14 cannot capture a structured binding
        CAPTURE(op_name);
        CHECK(text.find("Shape:") != std::string::npos);
        CHECK(text.find("Parameters:") != std::string::npos);
        // Each op keeps its place for the backward rule.
        CHECK(text.find("\nBackward: ") != std::string::npos);
    }
}

TEST_CASE("docs/language.md documents every loss, regularizer, optimizer, schedule, "
          "augmentation, early stopping and classifier") {
    auto chapters = entry_sections(read_doc("language.md"));
    const std::pair<netc::ChoiceKind, const char *> kinds[] = {
        {netc::ChoiceKind::Loss, "Losses"},
        {netc::ChoiceKind::Regularizer, "Regularizers"},
        {netc::ChoiceKind::Optimizer, "Optimizers"},
        {netc::ChoiceKind::Schedule, "Learning-rate schedules"},
        {netc::ChoiceKind::Augmentation, "Augmentations"},
        {netc::ChoiceKind::EarlyStopping, "Early stopping"},
        {netc::ChoiceKind::Classifier, "Classifiers"},
    };
    for (const auto &[kind, chapter_name] : kinds) {
        const std::string chapter = chapter_name;  // clang 14 cannot capture a structured binding
        CAPTURE(chapter);
        const Sections &sections = chapters[chapter];
        std::string expected;
        for (const netc::ChoiceSpec &spec : netc::choice_table(kind)) expected += spec.name + " ";
        CHECK(names_of(sections) == expected);
        for (const auto &[name, text] : sections) {
            for (const netc::ChoiceSpec &spec : netc::choice_table(kind)) {
                if (spec.name == name) check_section(name, text, spec.attrs, spec.aliases);
            }
        }
    }
}

TEST_CASE("docs/language.md lists every initializer") {
    std::string doc = read_doc("language.md");
    size_t chapter = doc.find("\n## Initializers\n");
    REQUIRE(chapter != std::string::npos);
    std::string text = doc.substr(chapter, doc.find("\n## ", chapter + 1) - chapter);
    using Kind = netc::Initializer::Kind;
    for (Kind k : {Kind::XavierUniform, Kind::XavierNormal, Kind::HeUniform, Kind::HeNormal,
                   Kind::Zeros, Kind::Ones, Kind::Constant}) {
        CAPTURE(netc::initializer_name(k));
        CHECK(text.find(std::string("| `") + netc::initializer_name(k)) != std::string::npos);
    }
}
