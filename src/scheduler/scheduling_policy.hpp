// Which model runs next: the policy ("oracle"), apart from the mechanism that queues requests
// and drives devices. Pure and deterministic, so the same decisions happen in real time (the
// threaded scheduler) and in virtual time (the discrete-event simulator).
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "scheduler/scheduling_params.hpp"

namespace corun::scheduler {

using TimePoint = std::chrono::nanoseconds;  // time since the clock's origin
constexpr TimePoint NO_DEADLINE = TimePoint::max();

// What the policy sees of one configured model.
struct ModelQueueState {
    uint64_t model_id = 0;
    ModelSchedulingParams params;
    uint32_t frames_queued = 0;
    TimePoint oldest_enqueued{0};      // enqueue time of the oldest queued frame
    int64_t device_time_ns = 0;        // device time this model has used (fairness)
    uint32_t running = 0;              // frames of it executing now (on any slot)
    TimePoint last_dispatched{0};      // when it last got a slot (aging counts from here or from
                                       // its oldest frame, whichever is later)
    TimePoint deadline = NO_DEADLINE;  // the oldest queued frame's deadline
};

enum class DecisionReason {
    KEEP_ACTIVE,        // the active model goes on: nothing of equal or higher priority waits
    HIGHER_PRIORITY,    // the chosen model is alone at the top priority level
    ROUND_ROBIN,        // turn-taking among ready models of the top level
    FAIR_DEVICE_TIME,   // least device time among ready models of the top level
    EARLIEST_DEADLINE,  // the earliest deadline among ready models of the top level (EDF)
    ARRIVAL_ORDER,      // no scheduler: the oldest frame first
};
const char* decision_reason_name(DecisionReason reason);

enum class ReadyReason { NOT_READY, THRESHOLD, TIMEOUT };

struct Decision {
    uint64_t model_id = 0;
    uint32_t frames = 0;  // up to the model's burst
    DecisionReason reason = DecisionReason::ROUND_ROBIN;
    ReadyReason ready = ReadyReason::THRESHOLD;
    uint8_t effective_priority = PRIORITY_NORMAL;  // priority plus aging
};

struct PolicyResult {
    std::optional<Decision> decision;
    // When nothing is ready: the earliest time a waiting model's timeout expires (to sleep
    // until then); nullopt = wait for the next frame.
    std::optional<TimePoint> wake_at;
};

// A model whose client may be about to send its next frame: nothing of it is queued or
// running, its last burst ended at `finished`, and last time its next frame came within
// PolicyOptions::anticipation of its completion.
struct ReturningModel {
    uint64_t model_id = 0;
    uint8_t priority = PRIORITY_NORMAL;
    TimePoint finished{0};
    int64_t device_time_ns = 0;  // its fairness ledger (as ModelQueueState::device_time_ns)
};

class SchedulingPolicy {
public:
    explicit SchedulingPolicy(PolicyOptions options = {}) : options_(options) {}

    // Chooses for one device slot. `models` must be in ascending model_id order (both
    // mechanisms build them so). `active_model` is the model this slot ran last (0 = none).
    PolicyResult decide(TimePoint now, const std::vector<ModelQueueState>& models,
                        uint64_t active_model) const;

    // Until when a free shared slot holds its decision for a returning model's next frame
    // rather than dispatching one of `models` now (PolicyOptions::anticipation): while the
    // windows of as many returning models as the device has shared slots free (`free_slots`,
    // this one included) are open, each of which would win the slot (no waiting model outranks
    // it, and with fairness by device time none of its level has used less), and no waiting
    // frame has a deadline. One slot is kept per returning model: a slot beyond them decides
    // at once. Nullopt: decide now.
    std::optional<TimePoint> anticipate(TimePoint now, const std::vector<ModelQueueState>& models,
                                        const std::vector<ReturningModel>& returning,
                                        uint32_t free_slots = 1) const;

    ReadyReason readiness(const ModelQueueState& model, TimePoint now) const;
    uint8_t effective_priority(const ModelQueueState& model, TimePoint now) const;
    const PolicyOptions& options() const { return options_; }

    // Round robin remembers whose turn it was; the mechanism reports each dispatch.
    void record_dispatch(uint64_t model_id) { last_dispatched_ = model_id; }

private:
    PolicyOptions options_;
    uint64_t last_dispatched_ = 0;
};

}  // namespace corun::scheduler
