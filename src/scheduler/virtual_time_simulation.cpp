#include "scheduler/virtual_time_simulation.hpp"

#include <algorithm>
#include <deque>
#include <limits>
#include <optional>

namespace corun::scheduler {
namespace {

using Nanoseconds = std::chrono::nanoseconds;
constexpr Nanoseconds NEVER{std::numeric_limits<int64_t>::max()};
constexpr size_t NO_MODEL = std::numeric_limits<size_t>::max();

struct ClientState {
    std::deque<Nanoseconds> queued;  // arrival times of frames waiting for the device
    uint32_t running = 0;
    size_t next_listed = 0;        // LIST: the next arrival to deliver
    Nanoseconds next_periodic{0};  // PERIODIC: the next arrival time
    int64_t ledger_ns = 0;
    Nanoseconds last_dispatched{0};
};

}  // namespace

SimulationResult simulate(const std::vector<SimulatedModel>& models, Nanoseconds context_switch,
                          PolicyOptions options, Nanoseconds duration) {
    SchedulingPolicy policy(options);
    SimulationResult result;
    result.models.resize(models.size());
    std::vector<ClientState> clients(models.size());
    for (size_t i = 0; i < models.size(); ++i) clients[i].next_periodic = models[i].arrivals.start;

    auto in_system = [&](size_t i) {
        return static_cast<uint32_t>(clients[i].queued.size()) + clients[i].running;
    };
    // Same rule as the threaded scheduler: a waking model starts level with the least-served
    // busy model.
    auto catch_up = [&](size_t i) {
        std::optional<int64_t> least;
        for (size_t j = 0; j < models.size(); ++j) {
            if (j == i || in_system(j) == 0) continue;
            least = least ? std::min(*least, clients[j].ledger_ns) : clients[j].ledger_ns;
        }
        if (least) clients[i].ledger_ns = std::max(clients[i].ledger_ns, *least);
    };
    auto arrive = [&](size_t i, Nanoseconds when) {
        if (in_system(i) >= models[i].queue_capacity) {
            ++result.models[i].frames_dropped;
            return;
        }
        if (in_system(i) == 0) catch_up(i);
        clients[i].queued.push_back(when);
    };

    Nanoseconds now{0};
    size_t active = NO_MODEL;
    // The burst on the device: which model, its frames' arrival times, and when it ends.
    size_t busy_model = NO_MODEL;
    std::vector<Nanoseconds> busy_frames;
    Nanoseconds busy_until = NEVER;

    for (size_t i = 0; i < models.size(); ++i) {
        if (models[i].arrivals.kind == ArrivalPattern::Kind::SATURATE) {
            while (in_system(i) < models[i].queue_capacity) arrive(i, now);
        }
    }
    while (true) {
        // Deliver arrivals due now.
        for (size_t i = 0; i < models.size(); ++i) {
            const ArrivalPattern& pattern = models[i].arrivals;
            if (pattern.kind == ArrivalPattern::Kind::PERIODIC && pattern.period.count() > 0) {
                while (clients[i].next_periodic <= now) {
                    arrive(i, clients[i].next_periodic);
                    clients[i].next_periodic += pattern.period;
                }
            } else if (pattern.kind == ArrivalPattern::Kind::LIST) {
                while (clients[i].next_listed < pattern.times.size() &&
                       pattern.times[clients[i].next_listed] <= now) {
                    arrive(i, pattern.times[clients[i].next_listed++]);
                }
            }
        }
        // Complete the burst that ends now.
        if (busy_model != NO_MODEL && busy_until <= now) {
            const size_t i = busy_model;
            for (Nanoseconds arrived : busy_frames) {
                result.models[i].latency_ms.push_back(
                    std::chrono::duration<double, std::milli>(now - arrived).count());
            }
            result.models[i].frames_done += busy_frames.size();
            clients[i].running = 0;
            busy_model = NO_MODEL;
            busy_frames.clear();
            busy_until = NEVER;
            if (models[i].arrivals.kind == ArrivalPattern::Kind::SATURATE) {
                while (in_system(i) < models[i].queue_capacity) arrive(i, now);
            }
        }
        if (now >= duration) break;  // frames completing exactly at the end still count
        // Decide when the device is free.
        std::optional<Nanoseconds> wake_at;
        if (busy_model == NO_MODEL) {
            std::vector<ModelQueueState> view;
            for (size_t i = 0; i < models.size(); ++i) {
                if (clients[i].queued.empty()) continue;
                view.push_back({i + 1, models[i].params,
                                static_cast<uint32_t>(clients[i].queued.size()),
                                clients[i].queued.front(), clients[i].ledger_ns, 0,
                                clients[i].last_dispatched});
            }
            const PolicyResult decided =
                policy.decide(now, view, active == NO_MODEL ? 0 : active + 1);
            wake_at = decided.wake_at;
            if (decided.decision) {
                const Decision& decision = *decided.decision;
                const size_t i = decision.model_id - 1;
                policy.record_dispatch(decision.model_id);
                const bool switched = active != NO_MODEL && active != i;
                if (active != i) ++result.models[i].switches_in;
                for (uint32_t f = 0; f < decision.frames; ++f) {
                    busy_frames.push_back(clients[i].queued.front());
                    clients[i].queued.pop_front();
                }
                clients[i].running = decision.frames;
                clients[i].last_dispatched = now;
                const Nanoseconds device = models[i].timing.burst(decision.frames);
                const Nanoseconds switching = switched ? context_switch : Nanoseconds(0);
                busy_model = i;
                busy_until = now + switching + device;
                clients[i].ledger_ns += device.count();
                result.models[i].device_time += device;
                result.switch_time += switching;
                result.busy_time += switching + device;
                result.dispatches.push_back({now, busy_until, i, decision.frames, switched,
                                             decision.reason, decision.ready});
                active = i;
                continue;  // a zero-length burst may end at once
            }
        }
        // Advance to the next event.
        Nanoseconds next = busy_until;
        if (wake_at) next = std::min(next, *wake_at);
        for (size_t i = 0; i < models.size(); ++i) {
            const ArrivalPattern& pattern = models[i].arrivals;
            if (pattern.kind == ArrivalPattern::Kind::PERIODIC && pattern.period.count() > 0) {
                next = std::min(next, clients[i].next_periodic);
            } else if (pattern.kind == ArrivalPattern::Kind::LIST &&
                       clients[i].next_listed < pattern.times.size()) {
                next = std::min(next, pattern.times[clients[i].next_listed]);
            }
        }
        if (next == NEVER) break;  // nothing will ever happen again
        // Aging changes the order only at a decision, and decisions happen at these events.
        now = std::min(std::max(now, next), duration);
    }
    result.duration = std::min(now, duration);
    return result;
}

}  // namespace corun::scheduler
