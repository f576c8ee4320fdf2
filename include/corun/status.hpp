// Status: the result of every fallible call in corun's public API. No exception crosses the API;
// a failure is a StatusCode plus a message that names the cause and what to do about it.
#pragma once

#include <ostream>
#include <string>
#include <string_view>
#include <utility>

namespace corun {

// Codes follow HailoRT's hailo_status names where one exists, so ported code reads the same.
enum class StatusCode {
    SUCCESS = 0,
    UNINITIALIZED,
    INVALID_ARGUMENT,
    OUT_OF_HOST_MEMORY,
    TIMEOUT,
    NOT_FOUND,
    INVALID_OPERATION,
    OUT_OF_PHYSICAL_DEVICES,
    NOT_SUPPORTED,
    SHUTDOWN,
    INVALID_MODEL,
    QUEUE_IS_FULL,
    OPEN_FILE_FAILURE,
    FILE_OPERATION_FAILURE,
    INTERNAL_FAILURE,
    DEVICE_FAILURE,
    ABORTED,
    RPC_FAILED,         // the multi-process service could not be reached or went away
    PROTOCOL_MISMATCH,  // client and service speak different protocol versions
    RESOURCE_LIMIT,     // a per-client limit of the service (models, frames, memory)
    // A frame with a deadline (a latency SLO or a job's deadline) that was refused at admission,
    // or dropped before it ran, because it was predicted to finish after its deadline; the
    // message names the reason and the predicted finish (docs/SCHEDULER.md, "Deadlines").
    DEADLINE_EXCEEDED,
};

// "SUCCESS", "INVALID_ARGUMENT", ... for logs and messages.
const char* status_code_name(StatusCode code);

class [[nodiscard]] Status {
public:
    Status() = default;  // SUCCESS
    Status(StatusCode code, std::string message) : code_(code), message_(std::move(message)) {}

    static Status ok() { return {}; }

    bool is_ok() const { return code_ == StatusCode::SUCCESS; }
    explicit operator bool() const { return is_ok(); }
    StatusCode code() const { return code_; }
    const std::string& message() const { return message_; }
    // "INVALID_ARGUMENT: input 'x' expects 602112 bytes, got 100; ..."
    std::string to_string() const;

    // Same code, with context put in front: "loading 'a.onnx': <message>".
    Status with_context(std::string_view context) const;

    // Callers that cannot act on an error (destructors, callbacks) say so explicitly.
    void ignore() const {}

private:
    StatusCode code_ = StatusCode::SUCCESS;
    std::string message_;
};

inline bool operator==(const Status& status, StatusCode code) {
    return status.code() == code;
}
std::ostream& operator<<(std::ostream& out, const Status& status);
std::ostream& operator<<(std::ostream& out, StatusCode code);

namespace detail {
// What CORUN_TRY and CORUN_RETURN_IF_ERROR return: the failure, with the caller's context.
inline Status failure(const Status& status) {
    return status;
}
inline Status failure(const Status& status, const std::string& context) {
    return status.with_context(context);
}
}  // namespace detail

}  // namespace corun

// Return the Status of `expression` from the enclosing function unless it succeeded; with a
// third argument, "what was being done" is added as context (see CORUN_TRY).
#define CORUN_RETURN_IF_ERROR(expression, ...)                                         \
    do {                                                                               \
        ::corun::Status corun_status_ = (expression);                                  \
        if (!corun_status_.is_ok())                                                    \
            return ::corun::detail::failure(corun_status_ __VA_OPT__(, ) __VA_ARGS__); \
    } while (false)

// Return Status(code, message) from the enclosing function unless `condition` holds.
#define CORUN_CHECK(condition, code, message)                        \
    do {                                                             \
        if (!(condition)) return ::corun::Status((code), (message)); \
    } while (false)
