#include "router/routing_outcome.hpp"

namespace corun::router {

AttemptOutcome classify_attempt(StatusCode code) {
    switch (code) {
        case StatusCode::SUCCESS:
            return AttemptOutcome::RAN;
        // The placement works but will not take this frame now: a full queue, a finish predicted
        // after the frame's deadline, a configured model shut down under the frame
        // (remove_placement), a corund per-client limit.
        case StatusCode::QUEUE_IS_FULL:
        case StatusCode::DEADLINE_EXCEEDED:
        case StatusCode::SHUTDOWN:
        case StatusCode::RESOURCE_LIMIT:
            return AttemptOutcome::REJECTED;
        // The placement could not run a frame that is fine in itself.
        case StatusCode::DEVICE_FAILURE:
        case StatusCode::INTERNAL_FAILURE:
        case StatusCode::TIMEOUT:
        case StatusCode::ABORTED:
        case StatusCode::RPC_FAILED:
        case StatusCode::PROTOCOL_MISMATCH:
        case StatusCode::OUT_OF_HOST_MEMORY:
        case StatusCode::OUT_OF_PHYSICAL_DEVICES:
            return AttemptOutcome::FAILED;
        default:
            return AttemptOutcome::CALLER_ERROR;
    }
}

}  // namespace corun::router
