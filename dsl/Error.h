#pragma once
// Bugs in netc, as opposed to user errors (which are Diagnostics with a location).
// An InternalError propagates to the command line, which reports it as a bug and exits with
// a status different from a user error's.

#include <stdexcept>
#include <string>

namespace netc {

class InternalError : public std::logic_error {
public:
    using std::logic_error::logic_error;
};

[[noreturn]] void internal_error_at(const char *file, int line, const std::string &message);

}  // namespace netc

#define internal_error(message) ::netc::internal_error_at(__FILE__, __LINE__, (message))
#define internal_assert(cond)                                                                      \
    do {                                                                                           \
        if (!(cond)) internal_error("assertion failed: " #cond);                                   \
    } while (0)
