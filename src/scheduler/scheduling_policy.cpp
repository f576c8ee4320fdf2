#include "scheduler/scheduling_policy.hpp"

#include <algorithm>
#include <cassert>

namespace corun::scheduler {

const char* decision_reason_name(DecisionReason reason) {
    switch (reason) {
        case DecisionReason::KEEP_ACTIVE:
            return "keep-active";
        case DecisionReason::HIGHER_PRIORITY:
            return "higher-priority";
        case DecisionReason::ROUND_ROBIN:
            return "round-robin";
        case DecisionReason::FAIR_DEVICE_TIME:
            return "fair-device-time";
        case DecisionReason::ARRIVAL_ORDER:
            return "arrival-order";
        case DecisionReason::EARLIEST_DEADLINE:
            return "earliest-deadline";
    }
    return "unknown";
}

Status check_priority(uint32_t priority) {
    if (priority > PRIORITY_MAX) {
        return Status(StatusCode::INVALID_ARGUMENT,
                      "scheduler priority " + std::to_string(priority) + " is out of range; use " +
                          std::to_string(PRIORITY_MIN) + ".." + std::to_string(PRIORITY_MAX) +
                          " (normal " + std::to_string(PRIORITY_NORMAL) + ", higher wins)");
    }
    return Status::ok();
}

Status check_threshold(uint32_t threshold, uint32_t queue_size) {
    if (threshold == 0 || threshold > queue_size) {
        return Status(StatusCode::INVALID_ARGUMENT,
                      "scheduler threshold " + std::to_string(threshold) +
                          " is out of range; use 1.." + std::to_string(queue_size) +
                          " (the async queue size; raise the batch size for a larger queue)");
    }
    return Status::ok();
}

ReadyReason SchedulingPolicy::readiness(const ModelQueueState& model, TimePoint now) const {
    if (model.frames_queued == 0) return ReadyReason::NOT_READY;
    if (model.frames_queued >= model.params.threshold) return ReadyReason::THRESHOLD;
    if (model.params.timeout.count() > 0 && now - model.oldest_enqueued >= model.params.timeout) {
        return ReadyReason::TIMEOUT;
    }
    return ReadyReason::NOT_READY;
}

std::optional<TimePoint> SchedulingPolicy::anticipate(TimePoint now,
                                                      const std::vector<ModelQueueState>& models,
                                                      const std::vector<ReturningModel>& returning,
                                                      uint32_t free_slots) const {
    if (options_.anticipation <= std::chrono::nanoseconds(0) || options_.arrival_order ||
        returning.empty()) {
        return std::nullopt;
    }
    // The highest effective priority of a waiting model, and the least ledger at that level
    // (with fairness by device time, a returning model of that level that has used more would
    // not get the slot).
    int top = -1;
    int64_t least_ledger = 0;
    for (const ModelQueueState& model : models) {
        if (model.frames_queued == 0) continue;
        // Holding a slot from a frame with a deadline would spend its slack on a guess.
        if (model.deadline != NO_DEADLINE) return std::nullopt;
        const int priority = effective_priority(model, now);
        if (priority > top || (priority == top && model.device_time_ns < least_ledger)) {
            least_ledger = model.device_time_ns;
        }
        top = std::max(top, priority);
    }
    if (top < 0) return std::nullopt;  // nothing waits: there is nothing to decide
    std::optional<TimePoint> until;
    uint32_t awaited = 0;
    for (const ReturningModel& model : returning) {
        const TimePoint window_end = model.finished + options_.anticipation;
        if (window_end <= now || int{model.priority} < top) continue;
        if (options_.fair_device_time && int{model.priority} == top &&
            model.device_time_ns >= least_ledger) {
            continue;  // its frame would lose to a waiting one: no use waiting for it
        }
        ++awaited;
        until = until ? std::min(*until, window_end) : window_end;
    }
    if (free_slots > awaited) return std::nullopt;  // a slot beyond those kept for them
    return until;
}

uint8_t SchedulingPolicy::effective_priority(const ModelQueueState& model, TimePoint now) const {
    uint32_t priority = model.params.priority;
    // A model ages while it waits unserved: from its oldest frame, or from its last dispatch
    // if that came later. Counting from the oldest frame alone would age a model that is served
    // regularly but keeps a deep queue, and let it jump priority levels it should not.
    const TimePoint waiting_since = std::max(model.oldest_enqueued, model.last_dispatched);
    if (options_.aging_step.count() > 0 && model.frames_queued > 0 && now > waiting_since) {
        priority += static_cast<uint32_t>((now - waiting_since) / options_.aging_step);
    }
    return static_cast<uint8_t>(std::min<uint32_t>(priority, PRIORITY_MAX));
}

PolicyResult SchedulingPolicy::decide(TimePoint now, const std::vector<ModelQueueState>& models,
                                      uint64_t active_model) const {
    PolicyResult result;
    if (options_.arrival_order) {
        const ModelQueueState* oldest = nullptr;
        for (const auto& model : models) {
            if (model.frames_queued > 0 &&
                (oldest == nullptr || model.oldest_enqueued < oldest->oldest_enqueued)) {
                oldest = &model;
            }
        }
        if (oldest != nullptr) {
            result.decision = Decision{oldest->model_id, 1, DecisionReason::ARRIVAL_ORDER,
                                       ReadyReason::THRESHOLD, oldest->params.priority};
        }
        return result;
    }
    struct Candidate {
        const ModelQueueState* model;
        uint8_t priority;
        ReadyReason ready;
    };
    std::vector<Candidate> ready;
    for (const auto& model : models) {
        const ReadyReason reason = readiness(model, now);
        if (reason != ReadyReason::NOT_READY) {
            ready.push_back({&model, effective_priority(model, now), reason});
        } else if (model.frames_queued > 0 && model.params.timeout.count() > 0) {
            const TimePoint expiry = model.oldest_enqueued + model.params.timeout;
            if (!result.wake_at || expiry < *result.wake_at) result.wake_at = expiry;
        }
    }
    if (ready.empty()) return result;

    auto decision_for = [](const Candidate& candidate, DecisionReason reason) {
        Decision decision;
        decision.model_id = candidate.model->model_id;
        decision.frames = std::min(candidate.model->frames_queued,
                                   std::max<uint32_t>(1, candidate.model->params.burst));
        decision.reason = reason;
        decision.ready = candidate.ready;
        decision.effective_priority = candidate.priority;
        return decision;
    };

    uint8_t top = 0;
    for (const auto& candidate : ready) top = std::max(top, candidate.priority);

    // The active model keeps the device while no other ready model of equal or higher
    // priority waits.
    auto active = std::find_if(ready.begin(), ready.end(), [&](const Candidate& c) {
        return c.model->model_id == active_model;
    });
    if (active != ready.end()) {
        const bool contender = std::any_of(ready.begin(), ready.end(), [&](const Candidate& c) {
            return c.model->model_id != active_model && c.priority >= active->priority;
        });
        if (!contender) {
            result.decision = decision_for(*active, DecisionReason::KEEP_ACTIVE);
            return result;
        }
    }

    std::vector<Candidate> level;
    for (const auto& candidate : ready) {
        if (candidate.priority == top) level.push_back(candidate);
    }
    // `models` come in ascending id order (the precondition of decide()), so `level` is too:
    // round robin needs no sort on this hot path.
    assert(std::is_sorted(level.begin(), level.end(), [](const Candidate& a, const Candidate& b) {
        return a.model->model_id < b.model->model_id;
    }));
    if (level.size() == 1) {
        result.decision = decision_for(level.front(), DecisionReason::HIGHER_PRIORITY);
        return result;
    }
    // Earliest deadline first within the level: a frame that has a deadline goes before one
    // that has none (aging still lifts those to a higher level in time), and the nearer
    // deadline first. Ties fall through to fairness or turns.
    const auto earliest =
        std::min_element(level.begin(), level.end(), [](const Candidate& a, const Candidate& b) {
            return a.model->deadline < b.model->deadline;
        });
    if (earliest->model->deadline != NO_DEADLINE) {
        const TimePoint deadline = earliest->model->deadline;
        const auto tied = std::count_if(level.begin(), level.end(), [&](const Candidate& c) {
            return c.model->deadline == deadline;
        });
        if (tied == 1) {
            result.decision = decision_for(*earliest, DecisionReason::EARLIEST_DEADLINE);
            return result;
        }
        std::erase_if(level, [&](const Candidate& c) { return c.model->deadline != deadline; });
    }
    if (options_.fair_device_time) {
        // Least device time first; ties go round robin from the last dispatched model.
        const Candidate* best = nullptr;
        for (const auto& candidate : level) {
            if (best == nullptr || candidate.model->device_time_ns < best->model->device_time_ns) {
                best = &candidate;
            }
        }
        std::vector<Candidate> tied;
        for (const auto& candidate : level) {
            if (candidate.model->device_time_ns == best->model->device_time_ns)
                tied.push_back(candidate);
        }
        level.swap(tied);
        if (level.size() == 1) {
            result.decision = decision_for(level.front(), DecisionReason::FAIR_DEVICE_TIME);
            return result;
        }
    }
    // Round robin: the first model after the last one dispatched, in id order.
    auto next = std::find_if(level.begin(), level.end(), [&](const Candidate& c) {
        return c.model->model_id > last_dispatched_;
    });
    if (next == level.end()) next = level.begin();
    result.decision =
        decision_for(*next, options_.fair_device_time ? DecisionReason::FAIR_DEVICE_TIME
                                                      : DecisionReason::ROUND_ROBIN);
    return result;
}

}  // namespace corun::scheduler
