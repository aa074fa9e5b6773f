#include "tools/netc/Command.h"

#include <iostream>

namespace netc::cli {

std::optional<Frontend> load_model(const std::string &path, std::ostream &err) {
    std::string read_error;
    Frontend f = load_model_file(path, read_error);
    if (!read_error.empty()) {
        err << read_error << "\n";
        return std::nullopt;
    }
    f.diags->print(err);
    if (!f.ok()) {
        const int n = f.diags->error_count();
        err << n << " error" << (n == 1 ? "" : "s") << " in " << path << "\n";
        return std::nullopt;
    }
    return f;
}

int user_error(const std::string &message) {
    std::cerr << "netc: error: " << message << "\n";
    return exit_user_error;
}

}  // namespace netc::cli
