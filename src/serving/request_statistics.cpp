#include "serving/request_statistics.hpp"

namespace corun::serving {

const char* failure_reason_name(FailureReason reason) {
    switch (reason) {
        case FailureReason::REJECTED:
            return "REJECTED";
        case FailureReason::CANCELED:
            return "CANCELED";
        case FailureReason::BACKEND:
            return "BACKEND";
        case FailureReason::OTHER:
            return "OTHER";
    }
    return "OTHER";
}

FailureReason failure_reason_of(StatusCode code) {
    switch (code) {
        case StatusCode::QUEUE_IS_FULL:
        case StatusCode::DEADLINE_EXCEEDED:
        case StatusCode::RESOURCE_LIMIT:
            return FailureReason::REJECTED;
        case StatusCode::SHUTDOWN:
        case StatusCode::ABORTED:
            return FailureReason::CANCELED;
        case StatusCode::INVALID_ARGUMENT:
        case StatusCode::NOT_FOUND:
        case StatusCode::NOT_SUPPORTED:
        case StatusCode::INVALID_OPERATION:
            return FailureReason::OTHER;
        default:
            return FailureReason::BACKEND;
    }
}

void RequestStatistics::add_duration(uint64_t duration_us) {
    size_t bucket = 0;
    while (bucket < REQUEST_DURATION_BUCKETS_US.size() &&
           duration_us > REQUEST_DURATION_BUCKETS_US[bucket]) {
        ++bucket;
    }
    ++counts_.duration_buckets[bucket];
    counts_.duration_sum_us += duration_us;
}

void RequestStatistics::record_success(uint64_t frames, uint64_t jobs, uint64_t queue_us,
                                       uint64_t compute_us, uint64_t duration_us) {
    std::lock_guard lock(mutex_);
    ++counts_.success;
    counts_.inference_count += frames;
    counts_.exec_count += jobs;
    counts_.queue_us += queue_us;
    counts_.compute_us += compute_us;
    add_duration(duration_us);
}

void RequestStatistics::record_failure(FailureReason reason, uint64_t duration_us) {
    std::lock_guard lock(mutex_);
    ++counts_.failures[reason];
    add_duration(duration_us);
}

uint64_t RequestStatistics::enter() {
    std::lock_guard lock(mutex_);
    return ++counts_.pending;
}

void RequestStatistics::leave() {
    std::lock_guard lock(mutex_);
    --counts_.pending;
}

RequestStatisticsSnapshot RequestStatistics::snapshot() const {
    std::lock_guard lock(mutex_);
    return counts_;
}

}  // namespace corun::serving
