#include "dsl/Error.h"

namespace netc {

void internal_error_at(const char *file, int line, const std::string &message) {
    throw InternalError(std::string(file) + ":" + std::to_string(line) + ": " + message);
}

}  // namespace netc
