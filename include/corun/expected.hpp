// Expected<T>: a value or the Status that explains why there is none (HailoRT's Expected).
#pragma once

#include <cassert>
#include <optional>
#include <type_traits>
#include <utility>

#include "corun/status.hpp"

namespace corun {

template <typename T>
class [[nodiscard]] Expected {
public:
    Expected(T value) : value_(std::move(value)) {}         // NOLINT: implicit by design
    Expected(Status status) : status_(std::move(status)) {  // NOLINT: implicit by design
        if (status_.is_ok()) {
            status_ = Status(StatusCode::INTERNAL_FAILURE,
                             "an Expected was built from a SUCCESS status without a value");
        }
    }
    Expected(StatusCode code, std::string message) : Expected(Status(code, std::move(message))) {}

    bool has_value() const { return value_.has_value(); }
    explicit operator bool() const { return has_value(); }
    const Status& status() const { return status_; }

    T& value() & {
        assert(has_value());
        return *value_;
    }
    const T& value() const& {
        assert(has_value());
        return *value_;
    }
    T&& value() && {
        assert(has_value());
        return std::move(*value_);
    }
    T release() { return std::move(value()); }

    T* operator->() { return &value(); }
    const T* operator->() const { return &value(); }
    T& operator*() & { return value(); }
    const T& operator*() const& { return value(); }

private:
    std::optional<T> value_;
    Status status_;  // SUCCESS exactly when value_ is set
};

}  // namespace corun

#define CORUN_CONCAT_INNER(a, b) a##b
#define CORUN_CONCAT(a, b) CORUN_CONCAT_INNER(a, b)

// CORUN_TRY(auto x, make_x()); binds the value or returns the Status from the enclosing function.
// CORUN_TRY(auto x, make_x(), "what was being done") adds that context to the Status first
// (HailoRT's TRY(..., message)): "loading 'a.onnx': model file 'a.onnx' does not exist".
#define CORUN_TRY(declaration, expression, ...)                                           \
    auto CORUN_CONCAT(corun_expected_, __LINE__) = (expression);                          \
    if (!CORUN_CONCAT(corun_expected_, __LINE__).has_value())                             \
        return ::corun::detail::failure(                                                  \
            CORUN_CONCAT(corun_expected_, __LINE__).status() __VA_OPT__(, ) __VA_ARGS__); \
    declaration = std::move(CORUN_CONCAT(corun_expected_, __LINE__)).value()
