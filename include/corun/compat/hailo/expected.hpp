// corun's HailoRT compatibility layer: hailort::Expected<T>, a value or the hailo_status that says
// why there is none, as HailoRT's; expect() throws hailort_error with corun's full message.
#pragma once

#include <cassert>
#include <optional>
#include <stdexcept>
#include <string>
#include <utility>

#include "corun/expected.hpp"
#include "hailo/hailort_common.hpp"

namespace hailort {

class hailort_error : public std::runtime_error {
public:
    hailort_error(hailo_status status, const std::string& what)
        : std::runtime_error(what), status_(status) {}
    hailo_status status() const { return status_; }

private:
    hailo_status status_;
};

// A failure to return as any Expected<T>: `return make_unexpected(HAILO_INVALID_ARGUMENT);`.
class Unexpected {
public:
    explicit Unexpected(hailo_status status, std::string message = "")
        : status(status), message(std::move(message)) {}
    hailo_status status;
    std::string message;  // corun's, when the failure came from corun
};

inline Unexpected make_unexpected(hailo_status status) {
    return Unexpected(status);
}

template <typename T>
class Expected {
public:
    Expected(T value) : value_(std::move(value)) {}  // NOLINT: implicit as HailoRT's
    Expected(const Unexpected& unexpected)           // NOLINT: implicit as HailoRT's
        : status_(unexpected.status), message_(unexpected.message) {
        assert(status_ != HAILO_SUCCESS);
    }
    // A bare status is not a value: return make_unexpected(status) (as in HailoRT).
    Expected(hailo_status status) = delete;
    // From corun's Expected<U> (the compatibility layer's own calls); logs a failure's message.
    template <typename U>
    static Expected from(corun::Expected<U>&& result) {
        if (result.has_value()) return Expected(T(std::move(result).value()));
        return Unexpected(to_hailo_status(result.status()), result.status().to_string());
    }

    Expected(Expected&&) = default;
    Expected(const Expected&) = default;
    Expected& operator=(const Expected&) = delete;
    Expected& operator=(Expected&&) = delete;

    bool has_value() const { return value_.has_value(); }
    explicit operator bool() const { return has_value(); }
    hailo_status status() const { return status_; }

    T& value() & {
        assert(has_value());
        return *value_;
    }
    const T& value() const& {
        assert(has_value());
        return *value_;
    }
    // The value, moved out; the Expected is then empty (HAILO_UNINITIALIZED).
    T release() {
        assert(has_value());
        T value = std::move(*value_);
        value_.reset();
        status_ = HAILO_UNINITIALIZED;
        return value;
    }
    // The value (moved out, as release()), or throws hailort_error(status, msg + the cause).
    T expect(const std::string& msg) {
        if (!has_value()) {
            throw hailort_error(status_, msg + (message_.empty() ? "" : ": " + message_));
        }
        return release();
    }

    T* operator->() { return &value(); }
    const T* operator->() const { return &value(); }
    T& operator*() & { return value(); }
    const T& operator*() const& { return value(); }

private:
    std::optional<T> value_;
    hailo_status status_ = HAILO_SUCCESS;
    std::string message_;
};

}  // namespace hailort
