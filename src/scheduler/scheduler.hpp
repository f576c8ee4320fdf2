// The scheduler interface (after Triton's): the runtime enqueues requests, the scheduler
// decides which runs next on which device slot. Policies live in their own files.
#pragma once

#include <cstddef>
#include <memory>

#include "scheduler/infer_request.hpp"

namespace corun::scheduler {

class Scheduler {
public:
    virtual ~Scheduler() = default;
    // Takes the request; it will be run or cancelled exactly once. SHUTDOWN after stop().
    virtual Status enqueue(InferRequest request) = 0;
    // Cancels (with `reason`) every queued, not yet running request of `model_id`.
    virtual size_t cancel_queued(uint64_t model_id, const Status& reason) = 0;
    // Requests queued or running.
    virtual size_t in_flight() const = 0;
    // Cancels what is queued with SHUTDOWN, waits for what runs, stops the workers.
    virtual void stop() = 0;
};

}  // namespace corun::scheduler
