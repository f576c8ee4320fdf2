// What one served model has done for its clients, in the units of Triton's metrics
// (nv_inference_*): requests that succeeded and failed (by reason), inferences (frames) and
// executions (jobs), queue and compute time, and a histogram of request durations. Device time,
// switches and max_overtaken_by come from the scheduler's own statistics instead (metrics.cpp).
#pragma once

#include <array>
#include <cstdint>
#include <map>
#include <mutex>
#include <string>

#include "corun/status.hpp"

namespace corun::serving {

// Triton's failure reasons (nv_inference_request_failure{reason}).
enum class FailureReason { REJECTED, CANCELED, BACKEND, OTHER };
const char* failure_reason_name(FailureReason reason);
// REJECTED: queue full, deadline, limits; CANCELED: shut down or aborted; OTHER: the request
// itself was wrong; BACKEND: the model failed to run (a frame stopped at its time limit too).
FailureReason failure_reason_of(StatusCode code);

// Upper bounds (microseconds) of the request duration histogram's buckets, +Inf beyond.
constexpr std::array<uint64_t, 14> REQUEST_DURATION_BUCKETS_US{
    100,    250,    500,     1'000,   2'500,   5'000,     10'000,
    25'000, 50'000, 100'000, 250'000, 500'000, 1'000'000, 5'000'000};

struct RequestStatisticsSnapshot {
    uint64_t success = 0;
    std::map<FailureReason, uint64_t> failures;
    uint64_t inference_count = 0;  // frames of successful requests
    uint64_t exec_count = 0;       // jobs those frames ran in
    uint64_t queue_us = 0;         // summed over successful jobs
    uint64_t compute_us = 0;       // device time, summed over successful jobs
    uint64_t pending = 0;          // requests inside the service now
    // Per bucket of REQUEST_DURATION_BUCKETS_US, then +Inf; not cumulative.
    std::array<uint64_t, REQUEST_DURATION_BUCKETS_US.size() + 1> duration_buckets{};
    uint64_t duration_sum_us = 0;
};

class RequestStatistics {
public:
    void record_success(uint64_t frames, uint64_t jobs, uint64_t queue_us, uint64_t compute_us,
                        uint64_t duration_us);
    void record_failure(FailureReason reason, uint64_t duration_us);
    // A request entered the service; returns how many are inside it now, itself included.
    uint64_t enter();
    void leave();
    RequestStatisticsSnapshot snapshot() const;

private:
    void add_duration(uint64_t duration_us);  // with mutex_ held

    mutable std::mutex mutex_;
    RequestStatisticsSnapshot counts_;
};

// A request inside the service from construction to destruction, on every return path.
class PendingRequest {
public:
    explicit PendingRequest(RequestStatistics& statistics)
        : statistics_(statistics), inside_(statistics.enter()) {}
    ~PendingRequest() { statistics_.leave(); }
    PendingRequest(const PendingRequest&) = delete;
    PendingRequest& operator=(const PendingRequest&) = delete;
    // How many requests were inside when it entered, itself included.
    uint64_t inside() const { return inside_; }

private:
    RequestStatistics& statistics_;
    uint64_t inside_;
};

}  // namespace corun::serving
