#pragma once
// `netc FILE -o out/name.o`, the command line without a subcommand: compiles a model to an object
// and its C header (compiler/Aot.h), optionally with trained weights compiled in; prints an
// intermediate form (`--emit=ast|graph|params|backward|program`); or exports the inference graph
// with its weights (`--emit=onnx`, compiler/ExportOnnx.h; `--emit=mlir`, compiler/ExportMlir.h).

#include "tools/netc/Command.h"

#include <cstdint>
#include <string>
#include <vector>

namespace netc::cli {

class CompileCommand : public Command {
public:
    /// Adds FILE and the compile options to `app` itself.
    explicit CompileCommand(CLI::App &app);
    /// After parsing: the exit status when no subcommand was chosen (the help and 1 without
    /// FILE), nullopt otherwise.
    std::optional<int> run() override;

private:
    int run_compile();
    /// --emit=onnx or mlir (`format`): the inference graph and its --weights written to -o.
    int run_export(const Frontend &f, const std::string &format);

    CLI::App &app_;
    std::string file_, output_, target_ = "host", weights_;
    std::vector<std::string> emit_;
    bool allow_nonfinite_ = false;
    int64_t total_steps_ = 0;
    std::string schedule_ = "netc";
    int64_t batch_ = 0;  // 0: not given
};

}  // namespace netc::cli
