// Status and Result<T>: how sinan reports expected failures (bad file, bad request, I/O,
// unsupported type). Programmer errors use SINAN_CHECK (check.h) instead; running out of room is
// a std::optional. No exceptions cross a module's public functions.
//
// A Status is ok or carries one line of text that names the thing that failed and says what to
// do next; callers add context with `annotate` ("model.gguf: " + inner message) as it rises.
// Thread-safety: plain values, copy freely.
#pragma once

#include <cstdlib>
#include <string>
#include <utility>
#include <variant>

#include "base/check.h"

namespace sinan {

class [[nodiscard]] Status {
public:
    Status() = default;  // ok
    static Status ok() { return Status(); }
    static Status error(std::string message) { return Status(std::move(message), true); }

    bool is_ok() const { return !failed_; }
    explicit operator bool() const { return !failed_; }
    const std::string& message() const { return message_; }

    // Prefixes the message with context ("file.gguf: "); no-op on ok.
    Status annotate(const std::string& prefix) const {
        return failed_ ? Status(prefix + message_, true) : *this;
    }

private:
    Status(std::string message, bool failed) : message_(std::move(message)), failed_(failed) {}
    std::string message_;
    bool failed_ = false;
};

// Either a T or a failed Status. Access the value only after checking ok().
template <typename T>
class [[nodiscard]] Result {
public:
    Result(T value) : v_(std::move(value)) {}  // NOLINT: implicit by design
    Result(Status status) : v_(std::move(status)) {  // NOLINT
        SINAN_CHECK(!std::get<Status>(v_).is_ok(), "Result constructed from an ok Status");
    }

    bool ok() const { return std::holds_alternative<T>(v_); }
    explicit operator bool() const { return ok(); }

    Status status() const { return ok() ? Status::ok() : std::get<Status>(v_); }
    const std::string& message() const { return std::get<Status>(v_).message(); }

    T& value() & {
        SINAN_CHECK(ok(), "Result::value() on an error: " + message());
        return std::get<T>(v_);
    }
    const T& value() const& {
        SINAN_CHECK(ok(), "Result::value() on an error: " + message());
        return std::get<T>(v_);
    }
    T&& value() && {
        SINAN_CHECK(ok(), "Result::value() on an error: " + message());
        return std::get<T>(std::move(v_));
    }
    T* operator->() { return &value(); }
    const T* operator->() const { return &value(); }
    T& operator*() & { return value(); }
    const T& operator*() const& { return value(); }

private:
    std::variant<T, Status> v_;
};

}  // namespace sinan

// Returns early from a function returning Status or Result<T> when `expr` (a Status) failed.
#define SINAN_RETURN_IF_ERROR(expr)                \
    do {                                           \
        ::sinan::Status sinan_status_ = (expr);    \
        if (!sinan_status_.is_ok()) return sinan_status_; \
    } while (0)
