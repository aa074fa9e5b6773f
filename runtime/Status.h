#pragma once
// Errors the runtime returns instead of printing or exiting: a Status is success or a message
// that names the file and what is wrong ("t10k-images-idx3-ubyte.gz: wrong magic ..."); a
// Result<T> is a value or such a message. The caller decides how to report it.

#include <optional>
#include <string>
#include <utility>

namespace netc::runtime {

class [[nodiscard]] Status {
public:
    Status() = default;
    static Status error(std::string message) { return Status(std::move(message)); }

    bool ok() const { return !failed_; }
    explicit operator bool() const { return ok(); }
    /// The message; empty when ok().
    const std::string &message() const { return message_; }

private:
    explicit Status(std::string message) : message_(std::move(message)), failed_(true) {}
    std::string message_;
    bool failed_ = false;
};

template <typename T> class [[nodiscard]] Result {
public:
    Result(T value) : value_(std::move(value)) {}
    /// From a failed Status; an ok Status here is a bug and becomes an error saying so.
    Result(Status status)
        : status_(status.ok() ? Status::error("internal: Result built from an ok Status")
                              : std::move(status)) {}
    static Result error(std::string message) { return Result(Status::error(std::move(message))); }

    bool ok() const { return value_.has_value(); }
    explicit operator bool() const { return ok(); }
    /// The message; empty when ok().
    const std::string &message() const { return status_.message(); }
    const Status &status() const { return status_; }

    T &value() & { return *value_; }
    const T &value() const & { return *value_; }
    T &&value() && { return std::move(*value_); }
    T *operator->() { return &*value_; }
    const T *operator->() const { return &*value_; }
    T &operator*() & { return *value_; }
    const T &operator*() const & { return *value_; }

private:
    std::optional<T> value_;
    Status status_;
};

}  // namespace netc::runtime
