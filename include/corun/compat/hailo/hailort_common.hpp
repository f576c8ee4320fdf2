// corun's HailoRT compatibility layer: hailo_status <-> corun::StatusCode, and where a failure's
// message goes. hailo_status carries no message, so each failure the layer turns into a bare
// code is first logged to stderr as HailoRT logs its own ("[corun] [error] ..."), naming the
// cause and the fix as corun's Status does.
#pragma once

#include <iostream>
#include <string>

#include "corun/status.hpp"
#include "hailo/hailort.h"

// "HAILO_TIMEOUT(4)": the name and number, where HailoRT programs print a status.
inline const char* hailo_get_status_message(hailo_status status) {
    switch (status) {
#define CORUN_HAILO_STATUS_NAME(code) \
    case code:                        \
        return #code;
        CORUN_HAILO_STATUS_NAME(HAILO_SUCCESS)
        CORUN_HAILO_STATUS_NAME(HAILO_UNINITIALIZED)
        CORUN_HAILO_STATUS_NAME(HAILO_INVALID_ARGUMENT)
        CORUN_HAILO_STATUS_NAME(HAILO_OUT_OF_HOST_MEMORY)
        CORUN_HAILO_STATUS_NAME(HAILO_TIMEOUT)
        CORUN_HAILO_STATUS_NAME(HAILO_INSUFFICIENT_BUFFER)
        CORUN_HAILO_STATUS_NAME(HAILO_INVALID_OPERATION)
        CORUN_HAILO_STATUS_NAME(HAILO_NOT_IMPLEMENTED)
        CORUN_HAILO_STATUS_NAME(HAILO_INTERNAL_FAILURE)
        CORUN_HAILO_STATUS_NAME(HAILO_DATA_ALIGNMENT_FAILURE)
        CORUN_HAILO_STATUS_NAME(HAILO_OPEN_FILE_FAILURE)
        CORUN_HAILO_STATUS_NAME(HAILO_FILE_OPERATION_FAILURE)
        CORUN_HAILO_STATUS_NAME(HAILO_INVALID_FRAME)
        CORUN_HAILO_STATUS_NAME(HAILO_INVALID_HEF)
        CORUN_HAILO_STATUS_NAME(HAILO_DRIVER_OPERATION_FAILED)
        CORUN_HAILO_STATUS_NAME(HAILO_SHUTDOWN_EVENT_SIGNALED)
        CORUN_HAILO_STATUS_NAME(HAILO_NOT_FOUND)
        CORUN_HAILO_STATUS_NAME(HAILO_COMMUNICATION_CLOSED)
        CORUN_HAILO_STATUS_NAME(HAILO_STREAM_ABORT)
        CORUN_HAILO_STATUS_NAME(HAILO_NOT_AVAILABLE)
        CORUN_HAILO_STATUS_NAME(HAILO_DEVICE_IN_USE)
        CORUN_HAILO_STATUS_NAME(HAILO_OUT_OF_PHYSICAL_DEVICES)
        CORUN_HAILO_STATUS_NAME(HAILO_RPC_FAILED)
        CORUN_HAILO_STATUS_NAME(HAILO_INVALID_SERVICE_VERSION)
        CORUN_HAILO_STATUS_NAME(HAILO_NOT_SUPPORTED)
        CORUN_HAILO_STATUS_NAME(HAILO_QUEUE_IS_FULL)
        CORUN_HAILO_STATUS_NAME(HAILO_DMA_MAPPING_ALREADY_EXISTS)
        CORUN_HAILO_STATUS_NAME(HAILO_CONNECTION_REFUSED)
        CORUN_HAILO_STATUS_NAME(HAILO_HEF_FILE_CORRUPTED)
        CORUN_HAILO_STATUS_NAME(HAILO_HEF_NOT_SUPPORTED)
        CORUN_HAILO_STATUS_NAME(HAILO_STATUS_COUNT)
#undef CORUN_HAILO_STATUS_NAME
    }
    return "HAILO_UNKNOWN_STATUS";
}

inline std::ostream& operator<<(std::ostream& out, hailo_status status) {
    return out << hailo_get_status_message(status) << "(" << static_cast<int>(status) << ")";
}

namespace hailort {

// One HailoRT code per corun code, so that the mapping goes both ways without loss.
inline hailo_status to_hailo_status(corun::StatusCode code) {
    using corun::StatusCode;
    switch (code) {
        case StatusCode::SUCCESS:
            return HAILO_SUCCESS;
        case StatusCode::UNINITIALIZED:
            return HAILO_UNINITIALIZED;
        case StatusCode::INVALID_ARGUMENT:
            return HAILO_INVALID_ARGUMENT;
        case StatusCode::OUT_OF_HOST_MEMORY:
            return HAILO_OUT_OF_HOST_MEMORY;
        case StatusCode::TIMEOUT:
            return HAILO_TIMEOUT;
        case StatusCode::NOT_FOUND:
            return HAILO_NOT_FOUND;
        case StatusCode::INVALID_OPERATION:
            return HAILO_INVALID_OPERATION;
        case StatusCode::OUT_OF_PHYSICAL_DEVICES:
            return HAILO_OUT_OF_PHYSICAL_DEVICES;
        case StatusCode::NOT_SUPPORTED:
            return HAILO_NOT_SUPPORTED;
        case StatusCode::SHUTDOWN:
            return HAILO_SHUTDOWN_EVENT_SIGNALED;
        case StatusCode::INVALID_MODEL:
            return HAILO_INVALID_HEF;  // the model file is not a model corun can run
        case StatusCode::QUEUE_IS_FULL:
            return HAILO_QUEUE_IS_FULL;
        case StatusCode::OPEN_FILE_FAILURE:
            return HAILO_OPEN_FILE_FAILURE;
        case StatusCode::FILE_OPERATION_FAILURE:
            return HAILO_FILE_OPERATION_FAILURE;
        case StatusCode::INTERNAL_FAILURE:
            return HAILO_INTERNAL_FAILURE;
        case StatusCode::DEVICE_FAILURE:
            return HAILO_DRIVER_OPERATION_FAILED;  // the device failed to run the frame
        case StatusCode::ABORTED:
            return HAILO_STREAM_ABORT;
        case StatusCode::RPC_FAILED:
            return HAILO_RPC_FAILED;
        case StatusCode::PROTOCOL_MISMATCH:
            return HAILO_INVALID_SERVICE_VERSION;
        case StatusCode::RESOURCE_LIMIT:
            return HAILO_NOT_AVAILABLE;  // a per-client limit of corund
        case StatusCode::DEADLINE_EXCEEDED:
            return HAILO_INVALID_FRAME;  // refused or dropped: it would have finished too late
    }
    return HAILO_INTERNAL_FAILURE;
}

// The inverse of to_hailo_status; a HailoRT code corun never returns becomes INTERNAL_FAILURE.
inline corun::StatusCode to_corun_status_code(hailo_status status) {
    for (int code = 0; code <= static_cast<int>(corun::StatusCode::DEADLINE_EXCEEDED); ++code) {
        if (to_hailo_status(static_cast<corun::StatusCode>(code)) == status) {
            return static_cast<corun::StatusCode>(code);
        }
    }
    return corun::StatusCode::INTERNAL_FAILURE;
}

// The code of `status`, after logging its message when it is a failure.
inline hailo_status to_hailo_status(const corun::Status& status) {
    if (!status.is_ok()) std::cerr << "[corun] [error] " << status.to_string() << std::endl;
    return to_hailo_status(status.code());
}

}  // namespace hailort
