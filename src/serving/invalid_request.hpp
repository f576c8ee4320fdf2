// The status of a request the fronts' decoders refuse: INVALID_ARGUMENT with the message that
// names what was wrong (HTTP 400, gRPC INVALID_ARGUMENT).
#pragma once

#include <string>
#include <utility>

#include "corun/status.hpp"

namespace corun::serving {

inline Status invalid_request(std::string message) {
    return Status(StatusCode::INVALID_ARGUMENT, std::move(message));
}

}  // namespace corun::serving
