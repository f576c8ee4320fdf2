// What an LLM and a Speech2Text share in this process: a place in the group's scheduler (its
// id, its knobs), how their units are queued (preemptible requests), and the preemption point
// a running unit calls after every graph node, with the device time it is charged.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <mutex>
#include <string>

#include "corun/expected.hpp"
#include "scheduler/scheduler.hpp"

namespace corun::runtime {
class LocalBackend;
}

namespace corun::genai::detail {

class ScheduledGenerativeModel {
public:
    // Adds the model (named after the file's stem) to the backend's scheduler under a new id.
    static Expected<ScheduledGenerativeModel> add(runtime::LocalBackend& backend,
                                                  const std::string& model_path, bool preemption);
    ScheduledGenerativeModel(ScheduledGenerativeModel&& other) noexcept;
    ~ScheduledGenerativeModel() { remove(); }

    uint64_t model_id() const { return model_id_; }
    scheduler::Scheduler& scheduler() const { return scheduler_; }
    corun::Status set_priority(uint8_t priority);
    corun::Status set_timeout(std::chrono::milliseconds timeout);
    // Queues one unit of the model: a preemptible request (outranking frames run beside it on
    // the lent slot).
    corun::Status enqueue(scheduler::InferRequest request);
    // Drops the model's queued units (their cancel gets `reason`).
    void cancel_queued(const corun::Status& reason);
    // Takes the model out of the scheduler (its queued units are cancelled). Once.
    void remove();

    // The device time of one running unit: the time it ran, less what it lent at its
    // preemption points.
    class UnitClock {
    public:
        UnitClock(ScheduledGenerativeModel& model, size_t device_index)
            : model_(model), device_index_(device_index) {}
        // A preemption point: with preemption on, while a model of a higher priority has frames
        // queued or running, runs or waits for them here.
        void preemption_point();
        int64_t device_ns() const;

    private:
        ScheduledGenerativeModel& model_;
        const size_t device_index_;
        const std::chrono::steady_clock::time_point started_ = std::chrono::steady_clock::now();
        int64_t lent_ns_ = 0;
    };

private:
    ScheduledGenerativeModel(scheduler::Scheduler& scheduler, uint64_t model_id, bool preemption)
        : scheduler_(scheduler), model_id_(model_id), preemption_(preemption) {}
    corun::Status update(scheduler::ModelSchedulingParams params);

    scheduler::Scheduler& scheduler_;
    const uint64_t model_id_;
    const bool preemption_;
    bool removed_ = false;
    // Read at every preemption point without a lock; the scheduler holds the same value.
    std::atomic<uint8_t> priority_{scheduler::PRIORITY_NORMAL};
    std::mutex mutex_;
    scheduler::ModelSchedulingParams params_;
};

}  // namespace corun::genai::detail
