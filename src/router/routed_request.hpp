// One routed frame on its way through the placements: its buffers, the placements tried so far,
// and its completion, which happens exactly once (the callback, then every waiter). Only one
// attempt of a request is in flight at a time, so the trail needs no lock of its own; the
// completion does, as waiters read it from other threads.
#pragma once

#include <chrono>
#include <condition_variable>
#include <map>
#include <mutex>
#include <optional>
#include <string>

#include "corun/routed_model.hpp"

namespace corun::router {

struct RoutedRequest {
    using Clock = std::chrono::steady_clock;

    std::map<std::string, MemoryView> buffers;
    RoutedCallback callback;
    Clock::time_point submitted;
    // When the frame must be complete: run_async's deadline, or the latency SLO's (the earlier).
    std::optional<Clock::time_point> deadline;
    // The deadline is the caller's own (earlier than the SLO's), not the routed model's SLO.
    bool own_deadline = false;

    // The trail, touched only by the thread that routes the current attempt.
    size_t next_placement = 0;  // placements before it were tried or skipped already
    uint32_t attempts = 0;
    std::vector<RoutingAttempt> refused;
    // The placement that refused the frame last, until the frame is sent to the next one.
    std::optional<size_t> left_placement;
    // Entries of `refused` already written to the log.
    size_t refusals_logged = 0;
    // The latency the placement of the attempt in flight predicted for it, if it could.
    std::optional<std::chrono::nanoseconds> predicted;

    // A synchronous run(): each placement is tried with its own run() on the caller's thread
    // (which keeps the runtime's caller-thread path), until `run_deadline`.
    bool synchronous = false;
    Clock::time_point run_deadline = Clock::time_point::max();

    // Runs the callback and wakes the waiters; a second call is a bug, reported and ignored.
    void complete(RoutedCompletionInfo info);
    Status wait(std::chrono::milliseconds timeout);
    bool is_done() const;
    // The completion once done; INVALID_OPERATION before.
    Expected<RoutedCompletionInfo> completion() const;

private:
    mutable std::mutex mutex_;
    std::condition_variable finished_;
    bool done_ = false;
    std::optional<RoutedCompletionInfo> completion_;
};

}  // namespace corun::router
