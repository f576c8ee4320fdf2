#include "corun/status.hpp"

namespace corun {

const char* status_code_name(StatusCode code) {
    switch (code) {
        case StatusCode::SUCCESS:
            return "SUCCESS";
        case StatusCode::UNINITIALIZED:
            return "UNINITIALIZED";
        case StatusCode::INVALID_ARGUMENT:
            return "INVALID_ARGUMENT";
        case StatusCode::OUT_OF_HOST_MEMORY:
            return "OUT_OF_HOST_MEMORY";
        case StatusCode::TIMEOUT:
            return "TIMEOUT";
        case StatusCode::NOT_FOUND:
            return "NOT_FOUND";
        case StatusCode::INVALID_OPERATION:
            return "INVALID_OPERATION";
        case StatusCode::OUT_OF_PHYSICAL_DEVICES:
            return "OUT_OF_PHYSICAL_DEVICES";
        case StatusCode::NOT_SUPPORTED:
            return "NOT_SUPPORTED";
        case StatusCode::SHUTDOWN:
            return "SHUTDOWN";
        case StatusCode::INVALID_MODEL:
            return "INVALID_MODEL";
        case StatusCode::QUEUE_IS_FULL:
            return "QUEUE_IS_FULL";
        case StatusCode::OPEN_FILE_FAILURE:
            return "OPEN_FILE_FAILURE";
        case StatusCode::FILE_OPERATION_FAILURE:
            return "FILE_OPERATION_FAILURE";
        case StatusCode::INTERNAL_FAILURE:
            return "INTERNAL_FAILURE";
        case StatusCode::DEVICE_FAILURE:
            return "DEVICE_FAILURE";
        case StatusCode::ABORTED:
            return "ABORTED";
        case StatusCode::RPC_FAILED:
            return "RPC_FAILED";
        case StatusCode::PROTOCOL_MISMATCH:
            return "PROTOCOL_MISMATCH";
        case StatusCode::RESOURCE_LIMIT:
            return "RESOURCE_LIMIT";
        case StatusCode::DEADLINE_EXCEEDED:
            return "DEADLINE_EXCEEDED";
    }
    return "UNKNOWN_STATUS";
}

std::string Status::to_string() const {
    if (is_ok()) return "SUCCESS";
    return std::string(status_code_name(code_)) + ": " + message_;
}

Status Status::with_context(std::string_view context) const {
    if (is_ok()) return *this;
    return Status(code_, std::string(context) + ": " + message_);
}

std::ostream& operator<<(std::ostream& out, const Status& status) {
    return out << status.to_string();
}

std::ostream& operator<<(std::ostream& out, StatusCode code) {
    return out << status_code_name(code);
}

}  // namespace corun
