// What the scheduler moves around: one job of one configured model, opaque apart from its
// identity and size. The runtime fills in how to run it and how to cancel it.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>

#include "corun/status.hpp"

namespace corun::scheduler {

struct InferRequest {
    uint64_t model_id = 0;  // the configured model the frames belong to
    uint32_t frames = 1;
    // A long request that has preemption points (a generative model's prefill chunk or decode
    // step): while it runs, frames of models of a higher priority do not wait for its slot but
    // run beside it, on the device's lent-slot worker (docs/GENAI.md).
    bool preemptible = false;
    // When the request must be complete (a job's own deadline, on the monotonic clock that every
    // process of the machine shares); the epoch = none. A model's latency SLO gives one too; the
    // earlier of the two holds.
    std::chrono::steady_clock::time_point deadline{};
    // Executes the job on device `device_index` of the group and completes it; returns the
    // nanoseconds the device itself was busy (the scheduler charges them to the model).
    std::function<int64_t(size_t device_index)> run;
    // Completes the job without running it (shutdown, timeout). Called at most once, and
    // only instead of run.
    std::function<void(Status reason)> cancel;
    // For a request with a deadline: told the latency the scheduler predicted when it checked
    // the deadline at admission, before run or cancel (refused or not). Called with the
    // scheduler's lock held: keep it to storing the value. May be empty.
    std::function<void(std::chrono::nanoseconds predicted)> predicted;
};

}  // namespace corun::scheduler
