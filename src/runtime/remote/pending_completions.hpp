// The jobs a path to corund (the Session stream, the lane ring) has sent and not yet seen
// completed, each with what to call when its completion arrives. Every job leaves exactly once:
// taken by its completion, abandoned by its owner, or failed with the rest when the path breaks.
#pragma once

#include <cstdint>
#include <functional>
#include <mutex>
#include <optional>
#include <unordered_map>

#include "corun/status.hpp"

namespace corun::service {

struct JobCompletion {
    Status status;
    int64_t queue_ns = 0;
    int64_t device_ns = 0;
    int64_t predicted_ns = 0;  // InferTiming::predicted_ns, from the service
};
using CompletionHandler = std::function<void(JobCompletion)>;

class PendingCompletions {
public:
    // Before the job is sent: its completion may arrive at once.
    void add(uint64_t job_id, CompletionHandler handler) {
        std::lock_guard lock(mutex_);
        pending_[job_id] = std::move(handler);
    }
    // The handler of a completion that arrived; none when its owner abandoned the job.
    std::optional<CompletionHandler> take(uint64_t job_id) {
        std::lock_guard lock(mutex_);
        auto found = pending_.find(job_id);
        if (found == pending_.end()) return std::nullopt;
        CompletionHandler handler = std::move(found->second);
        pending_.erase(found);
        return handler;
    }
    // False when the job already left (its handler runs or ran).
    bool abandon(uint64_t job_id) {
        std::lock_guard lock(mutex_);
        return pending_.erase(job_id) > 0;
    }
    // Completes every job still here with `reason` (outside the lock: handlers may call back).
    void fail_all(const Status& reason) {
        std::unordered_map<uint64_t, CompletionHandler> failed;
        {
            std::lock_guard lock(mutex_);
            failed.swap(pending_);
        }
        for (auto& [job_id, handler] : failed) handler({reason, 0, 0});
    }

private:
    std::mutex mutex_;
    std::unordered_map<uint64_t, CompletionHandler> pending_;
};

}  // namespace corun::service
