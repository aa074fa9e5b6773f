#include "compiler/Aot.h"

#include "compiler/CApi.h"
#include "compiler/LowerProgram.h"
#include "compiler/Optimizer.h"
#include "compiler/Program.h"
#include "compiler/Schedule.h"
#include "compiler/Target.h"

#include <Halide.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>

namespace netc {

namespace fs = std::filesystem;

namespace {

std::string shell_quote(const std::string &s) {
    std::string out = "'";
    for (char c : s) {
        if (c == '\'') {
            out.append("'\\''");
        } else {
            out.push_back(c);
        }
    }
    out.push_back('\'');
    return out;
}

/// Runs a command; on failure fills `error` with the command and what it printed.
bool run_tool(const std::vector<std::string> &argv, std::string &error) {
    std::string command;
    for (const std::string &a : argv) {
        if (!command.empty()) command.push_back(' ');
        command.append(shell_quote(a));
    }
    FILE *pipe = popen((command + " 2>&1").c_str(), "r");
    if (!pipe) {
        error = "cannot run " + argv[0];
        return false;
    }
    std::string output;
    char buf[4096];
    while (size_t n = fread(buf, 1, sizeof buf, pipe)) output.append(buf, n);
    int status = pclose(pipe);
    if (status == 0) return true;
    error = "'" + command + "' failed";
    if (!output.empty()) error += ":\n" + output;
    return false;
}

bool write_text(const fs::path &path, const std::string &text, std::string &error) {
    std::ofstream out(path, std::ios::binary);
    out << text;
    out.close();
    if (!out) {
        error = path.string() + ": cannot write";
        return false;
    }
    return true;
}

/// Moves a finished file from the scratch directory to its destination: copy next to the
/// destination, then rename over it, so the destination is either the old or the new file.
bool install(const fs::path &from, const fs::path &to, std::string &error) {
    std::error_code ec;
    fs::path partial = to;
    partial += ".partial";
    fs::copy_file(from, partial, fs::copy_options::overwrite_existing, ec);
    if (!ec) fs::rename(partial, to, ec);
    if (ec) {
        fs::remove(partial);
        error = to.string() + ": cannot write: " + ec.message();
        return false;
    }
    return true;
}

const char *env_or(const char *name, const char *fallback) {
    const char *v = std::getenv(name);
    return v && *v ? v : fallback;
}

struct ScratchDir {
    fs::path path;
    ScratchDir() {
        std::string tmpl = (fs::temp_directory_path() / "netc-XXXXXX").string();
        if (mkdtemp(tmpl.data())) path = tmpl;
    }
    ~ScratchDir() {
        std::error_code ec;
        if (!path.empty()) fs::remove_all(path, ec);
    }
};

std::string c_type(const Halide::Type &t) {
    if (t.is_float()) return t.bits() == 64 ? "double" : "float";
    if (t.is_bool()) return "bool";
    return std::string(t.is_uint() ? "uint" : "int") + std::to_string(t.bits()) + "_t";
}

/// The C prototype of a raw entry point: its arguments, then one buffer per output. (Halide's
/// own c_header of a module with the runtime would also carry a copy of HalideRuntime.h.)
std::string raw_declaration(const std::string &name, const std::vector<Halide::Argument> &args,
                            const std::vector<std::string> &outputs) {
    std::string params;
    for (const Halide::Argument &a : args) {
        params +=
            (params.empty() ? "" : ", ") +
            (a.is_buffer() ? "struct halide_buffer_t *" + a.name : c_type(a.type) + " " + a.name);
    }
    for (const std::string &o : outputs) {
        params += (params.empty() ? "" : ", ") + std::string("struct halide_buffer_t *") + o;
    }
    return "int " + name + "(" + params + ");\n";
}

}  // namespace

const std::vector<std::pair<std::string, std::string>> &aot_output_kinds() {
    static const std::vector<std::pair<std::string, std::string>> kinds = {
        {"object", ".o"},
        {"header", ".h"},
        {"static-library", ".a"},
        {"assembly", ".s"},
        {"stmt-html", ".stmt.html"},
    };
    return kinds;
}

bool compile_aot(const Graph &graph, const ParamLayout &layout, const AotOptions &options,
                 std::string &error) {
    using namespace Halide;
    if (options.target != "host" && !Target::validate_target_string(options.target)) {
        error = "invalid --target '" + options.target +
                "'; expected a Halide target such as host or x86-64-linux-avx2";
        return false;
    }
    Target target = resolve_target(options.target, error).value();  // validated above
    fs::path output(options.output);
    fs::path stem = output;
    stem.replace_extension();
    if (!output.parent_path().empty() && !fs::is_directory(output.parent_path())) {
        error = output.parent_path().string() + ": no such directory";
        return false;
    }
    ScratchDir scratch;
    if (scratch.path.empty()) {
        error = "cannot create a temporary directory";
        return false;
    }
    const fs::path &tmp = scratch.path;

    // Every pipeline of the program in the object, each scheduled by the chosen strategy.
    Program program = build_program(graph, {options.strategy, options.weights.has_value()});
    LowerOptions lower;
    lower.batch_estimate = (int)graph.train.batch;
    lower.weights = options.weights ? &*options.weights : nullptr;
    int slots = optimizer_state_slots(graph.train.optimizer);
    std::vector<Module> modules;
    std::string raw_declarations;
    for (const PipelineSpec &spec : program.pipelines) try {
            if (!spec.in_object || !spec.lowered()) continue;
            LoweredPipeline p = lower_pipeline(program, graph, layout, spec, lower);
            schedule_pipeline(p, options.strategy, target);
            std::string name = raw_entry_name(graph, spec.name);
            compile_reporting(options.strategy, spec.name, [&] {
                modules.push_back(p.pipeline.compile_to_module(p.arguments, name, target));
            });
            std::vector<std::string> outputs;
            for (Role r : spec.outputs) {
                for (const std::string &o : raw_argument_names(spec, r, true, slots)) {
                    outputs.push_back(o);
                }
            }
            raw_declarations += raw_declaration(name, p.arguments, outputs);
        } catch (const StrategyError &e) {
            error = e.what();
            return false;
        }
    Module linked = link_modules(graph.model, modules);

    std::map<OutputFileType, std::string> halide_outputs = {
        {OutputFileType::object, (tmp / "halide.o").string()},
    };
    auto wants = [&](const std::string &kind) {
        return std::find(options.emit.begin(), options.emit.end(), kind) != options.emit.end();
    };
    if (wants("assembly")) halide_outputs[OutputFileType::assembly] = (tmp / "model.s").string();
    if (wants("stmt-html"))
        halide_outputs[OutputFileType::stmt_html] = (tmp / "model.html").string();
    linked.compile(halide_outputs);

    fs::path header = tmp / (graph.model + ".h");
    if (!write_text(header, c_header(graph, layout, program, raw_declarations, options.total_steps),
                    error))
        return false;
    fs::path api_c = tmp / (graph.model + "_api.c");
    if (!write_text(api_c, c_wrappers(graph, layout, program, options.total_steps), error))
        return false;
    if (!run_tool({env_or("CC", "cc"), "-std=c99", "-O2", "-fPIC", "-c", "-I", tmp.string(), "-I",
                   NETC_HALIDE_RUNTIME_INCLUDE, api_c.string(), "-o", (tmp / "api.o").string()},
                  error)) {
        return false;
    }
    fs::path object = tmp / "model.o";
    if (!run_tool({env_or("LD", "ld"), "-r", "-o", object.string(), (tmp / "halide.o").string(),
                   (tmp / "api.o").string()},
                  error)) {
        return false;
    }
    if (wants("static-library") &&
        !run_tool({env_or("AR", "ar"), "rcs", (tmp / "model.a").string(), object.string()},
                  error)) {
        return false;
    }

    std::map<std::string, fs::path> produced = {
        {"object", object},
        {"header", header},
        {"static-library", tmp / "model.a"},
        {"assembly", tmp / "model.s"},
        {"stmt-html", tmp / "model.html"},
    };
    for (const auto &[kind, suffix] : aot_output_kinds()) {
        if (!wants(kind)) continue;
        fs::path destination = kind == "object" ? output : fs::path(stem.string() + suffix);
        if (!install(produced.at(kind), destination, error)) return false;
    }
    return true;
}

}  // namespace netc
