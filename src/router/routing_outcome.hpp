// How the router reads a placement's answer for one frame: whether it was a rejection (the
// placement is healthy but would not take the frame now), a failure (counts against its
// health), or an error of the caller's that every placement would give alike (no fallback).
#pragma once

#include "corun/status.hpp"

namespace corun::router {

enum class AttemptOutcome {
    RAN,           // SUCCESS
    REJECTED,      // QUEUE_IS_FULL, DEADLINE_EXCEEDED, SHUTDOWN (removed), RESOURCE_LIMIT: try
                   // the next placement
    FAILED,        // DEVICE_FAILURE, TIMEOUT, RPC_FAILED, ...: try the next; counts for health
    CALLER_ERROR,  // INVALID_ARGUMENT and the like: the frame itself is wrong; no fallback
};

AttemptOutcome classify_attempt(StatusCode code);

// Whether a frame with this outcome goes on to the next placement.
inline bool falls_back(AttemptOutcome outcome) {
    return outcome == AttemptOutcome::REJECTED || outcome == AttemptOutcome::FAILED;
}

}  // namespace corun::router
