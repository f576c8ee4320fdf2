#include "scheduler/virtual_time_simulation.hpp"

#include <algorithm>
#include <cmath>
#include <deque>
#include <functional>
#include <limits>
#include <optional>
#include <queue>
#include <random>

#include "common/standard_normal.hpp"
#include "scheduler/admission.hpp"

namespace corun::scheduler {
namespace {

using Nanoseconds = std::chrono::nanoseconds;
constexpr Nanoseconds NEVER = DISPATCH_NEVER_ENDS;
constexpr size_t NO_MODEL = std::numeric_limits<size_t>::max();

double in_milliseconds(Nanoseconds value) {
    return std::chrono::duration<double, std::milli>(value).count();
}

// One frame of a vision model, or one job (a whole generation) of a generative model.
struct Job {
    Nanoseconds created{0};  // its arrival: latency counts from here
    uint32_t next_unit = 0;  // generative: the unit to queue next
    TimePoint deadline = NO_DEADLINE;
    int64_t frame = -1;  // index into the result's frames once it reached the scheduler
};

struct QueuedUnit {
    size_t job = 0;
    Nanoseconds enqueued{0};
};

// A (time, job) pair waiting for host work to end. Host times are constant per model and
// events arrive in time order, so a FIFO stays sorted.
using HostQueue = std::deque<std::pair<Nanoseconds, size_t>>;

struct ClientState {
    std::deque<QueuedUnit> queued;  // units waiting for the device
    uint32_t running = 0;           // units running
    uint32_t admitted = 0;          // jobs queued or running on the device
    std::deque<size_t> backlog;     // jobs waiting to be admitted
    HostQueue host_pre;             // jobs in pre-processing, with when it ends
    HostQueue host_post;            // jobs in post-processing, with when it ends
    // Closed-loop clients: when each sends its next frame.
    std::priority_queue<Nanoseconds, std::vector<Nanoseconds>, std::greater<>> sends;
    Nanoseconds next_arrival = NEVER;  // periodic, Poisson and listed arrivals
    Nanoseconds waiting_due = NEVER;   // a periodic frame waiting for room: when it was due
    size_t next_listed = 0;
    std::mt19937_64 random;
    std::mt19937_64 spread_random;  // frame_spread draws, apart from the arrivals' sequence
    int64_t ledger_ns = 0;
    Nanoseconds last_dispatched{0};
    Nanoseconds last_left = NEVER;  // when a job of it last left the device
    // Its latest job sent with nothing of it queued or running came within
    // PolicyOptions::anticipation of last_left (as the threaded scheduler's ScheduledModel).
    bool returns_promptly = false;
};

enum class SlotKind { SHARED, LATENCY, LENT };

struct Slot {
    SlotKind kind = SlotKind::SHARED;
    size_t last_model = NO_MODEL;
    // The burst running, if model != NO_MODEL.
    size_t model = NO_MODEL;
    std::vector<size_t> jobs;
    Nanoseconds started{0};
    Nanoseconds switching{0};
    double remaining_ns = 0;  // work left, at the speed of a burst running alone
    Nanoseconds end = NEVER;
    bool paused = false;
    Nanoseconds paused_for{0};       // lent to outranking bursts: not charged to its model
    double speed_factor = 1.0;       // how much longer its work takes than alone, now
    size_t dispatch = 0;             // index into the result's dispatches
    Nanoseconds idle_since = NEVER;  // when its last burst ended; NEVER: none yet
    bool busy() const { return model != NO_MODEL; }
};

// A uniform draw in [0, 1): the same on every platform (the standard distributions are not).
double uniform_draw(std::mt19937_64& random) {
    return static_cast<double>(random() >> 11) * 0x1.0p-53;
}

// An exponential gap of mean `mean` from a uniform draw.
Nanoseconds exponential_gap(std::mt19937_64& random, Nanoseconds mean) {
    const double gap = -std::log1p(-uniform_draw(random)) * static_cast<double>(mean.count());
    return Nanoseconds(std::max<int64_t>(1, std::llround(gap)));
}

double number_of(double value) {
    return value;
}
double number_of(Nanoseconds value) {
    return static_cast<double>(value.count());
}

// The value at `draw` (in [0, 1)) of a distribution given at evenly spaced quantiles
// (ascending: a model's frame spread, a client's return gaps), linear between the points.
template <typename Value>
double quantile_at(const std::vector<Value>& points, double draw) {
    if (points.size() == 1) return number_of(points.front());
    const double position = draw * static_cast<double>(points.size() - 1);
    const size_t below = static_cast<size_t>(position);
    const double above_share = position - static_cast<double>(below);
    const double low = number_of(points[below]);
    return low + above_share * (number_of(points[below + 1]) - low);
}

// One draw of it from `random`; a single point takes no draw, so that a one-point spread leaves
// the model's sequence (and every later draw) as it was.
template <typename Value>
double quantile_draw(std::mt19937_64& random, const std::vector<Value>& points) {
    if (points.size() == 1) return number_of(points.front());
    return quantile_at(points, uniform_draw(random));
}

// The standard normal score of a uniform draw in [0, 1) (kept off its ends, whose scores are
// infinite).
double normal_score(double uniform) {
    return StandardNormal::inv_cdf(std::clamp(uniform, 1e-9, 1.0 - 1e-9));
}

// Each model's spread draws its own sequence, the same in every run.
constexpr uint64_t SPREAD_SEED = 0x5eed'f4a3e;
// The device's speed (SimulatedDevice::speed_share): one sequence, the same in every run.
constexpr uint64_t SPEED_SEED = 0x5eed'5bee;
// The closed-loop race's draws: one sequence for the device, the same in every run.
constexpr uint64_t RACE_SEED = 0x5eed'7ace;

class Simulation {
public:
    Simulation(const std::vector<SimulatedModel>& models, const SimulatedDevice& device,
               PolicyOptions options, bool record_frames)
        : models_(models),
          device_(device),
          policy_(options),
          clients_(models.size()),
          record_frames_(record_frames) {
        result_.models.resize(models.size());
        const uint32_t shared = std::max<uint32_t>(1, device.slots);
        slots_.resize(shared + device.latency_slots + 1);
        for (uint32_t s = shared; s < shared + device.latency_slots; ++s) {
            slots_[s].kind = SlotKind::LATENCY;
        }
        slots_.back().kind = SlotKind::LENT;
        for (size_t i = 0; i < models.size(); ++i) start_client(i);
    }

    SimulationResult run(Nanoseconds duration) {
        Nanoseconds now{0};
        while (true) {
            advance(now);
            process_events(now);
            if (now >= duration) break;  // frames completing exactly at the end still count
            const std::optional<Nanoseconds> wake_at = decide(now);
            retime(now);
            Nanoseconds next = next_event();
            if (wake_at) next = std::min(next, *wake_at);
            if (next == NEVER) break;  // nothing will ever happen again
            // Aging changes the order only at a decision, and decisions happen at these events.
            now = std::min(std::max(now, next), duration);
        }
        result_.duration = std::min(now, duration);
        return std::move(result_);
    }

private:
    bool generative(size_t i) const { return models_[i].generation.generative(); }
    bool closed_loop(size_t i) const {
        const auto kind = models_[i].arrivals.kind;
        return kind == ArrivalPattern::Kind::SATURATE || kind == ArrivalPattern::Kind::CLOSED_LOOP;
    }
    bool waits_when_full(size_t i) const {
        const ArrivalPattern& arrivals = models_[i].arrivals;
        return arrivals.kind == ArrivalPattern::Kind::PERIODIC && arrivals.waits_when_full &&
               !generative(i);
    }
    // Jobs on the device at once: a generative model runs one generation at a time.
    uint32_t admit_limit(size_t i) const {
        return generative(i) ? 1u : std::max<uint32_t>(1, models_[i].queue_capacity);
    }

    void start_client(size_t i) {
        const ArrivalPattern& arrivals = models_[i].arrivals;
        ClientState& client = clients_[i];
        client.random.seed(arrivals.seed);
        client.spread_random.seed(SPREAD_SEED + i);
        switch (arrivals.kind) {
            case ArrivalPattern::Kind::SATURATE:
                // A client per queue entry, none thinking: the queue stays full.
                for (uint32_t c = 0; c < models_[i].queue_capacity; ++c) client.sends.push({});
                break;
            case ArrivalPattern::Kind::CLOSED_LOOP:
                for (uint32_t c = 0; c < arrivals.clients; ++c) client.sends.push(arrivals.start);
                break;
            case ArrivalPattern::Kind::PERIODIC:
                if (arrivals.period.count() > 0) client.next_arrival = arrivals.start;
                break;
            case ArrivalPattern::Kind::POISSON:
                if (arrivals.period.count() > 0) {
                    client.next_arrival =
                        arrivals.start + exponential_gap(client.random, arrivals.period);
                }
                break;
            case ArrivalPattern::Kind::LIST:
                if (!arrivals.times.empty()) client.next_arrival = arrivals.times.front();
                break;
        }
    }

    // The arrival after the one just delivered.
    void schedule_next_arrival(size_t i) {
        const ArrivalPattern& arrivals = models_[i].arrivals;
        ClientState& client = clients_[i];
        switch (arrivals.kind) {
            case ArrivalPattern::Kind::PERIODIC:
                client.next_arrival += arrivals.period;
                break;
            case ArrivalPattern::Kind::POISSON:
                client.next_arrival += exponential_gap(client.random, arrivals.period);
                break;
            case ArrivalPattern::Kind::LIST:
                ++client.next_listed;
                client.next_arrival = client.next_listed < arrivals.times.size()
                                          ? arrivals.times[client.next_listed]
                                          : NEVER;
                break;
            default:
                client.next_arrival = NEVER;
        }
    }

    // A new frame (or job) of model i, created at `when`: pre-processing first, if any.
    void create(size_t i, Nanoseconds when) {
        jobs_.push_back({when, 0});
        const size_t job = jobs_.size() - 1;
        const Nanoseconds pre = models_[i].timing.host_pre;
        if (pre.count() > 0) {
            clients_[i].host_pre.emplace_back(when + pre, job);
        } else {
            offer(i, job, when);
        }
    }

    // A job ready for the device: admitted if the model has room, else it waits (closed-loop
    // clients block on the full queue; a generative model's jobs wait for the running one, up
    // to queue_capacity of them) or is dropped.
    void offer(size_t i, size_t job, Nanoseconds now) {
        ClientState& client = clients_[i];
        if (client.admitted < admit_limit(i)) {
            admit(i, job, now);
        } else if (waits_when_full(i)) {
            // The camera blocks: no further frame until this one is sent. (A frame already in
            // host pre-processing when it blocked waits behind it.)
            client.backlog.push_back(job);
            if (client.waiting_due == NEVER) client.waiting_due = jobs_[job].created;
            client.next_arrival = NEVER;
        } else if (closed_loop(i) ||
                   (generative(i) && client.backlog.size() < models_[i].queue_capacity)) {
            client.backlog.push_back(job);
        } else {
            ++result_.models[i].frames_dropped;
        }
    }

    // The deadline of a frame of model i queued now: now + its SLO (none for a generative
    // model, whose units the threaded scheduler queues without one either).
    TimePoint deadline_of(size_t i, Nanoseconds now) const {
        const Nanoseconds slo = models_[i].params.latency_slo;
        return slo.count() > 0 && !generative(i) ? now + slo : NO_DEADLINE;
    }

    // A frame's own predicted execution: its model's time for a burst of one.
    int64_t own_execution_ns(size_t i) const { return models_[i].timing.burst(1).count(); }

    // When a frame of model i queued now would finish, as the threaded scheduler's admission
    // sees it (ModelScheduler's predict): the bursts running on shared slots and everything
    // queued ahead of it on the slots it may use, then its own execution.
    FramePrediction predict(size_t i, Nanoseconds now, TimePoint deadline) const {
        AdmissionView view;
        view.now = now;
        const uint8_t priority = models_[i].params.priority;
        const bool on_latency_slot = device_.latency_slots > 0 && priority > PRIORITY_NORMAL;
        const int lowest_ahead = on_latency_slot ? int{PRIORITY_NORMAL} : -1;
        view.slots = on_latency_slot ? device_.latency_slots : std::max<uint32_t>(1, device_.slots);
        if (!on_latency_slot) {
            for (const Slot& slot : slots_) {
                if (slot.kind != SlotKind::SHARED || !slot.busy()) continue;
                // A frame that outranks a unit lending its slot runs beside it, not after it.
                if (generative(slot.model) && models_[slot.model].params.priority < priority) {
                    continue;
                }
                view.running_left_ns.push_back(std::llround(slot.remaining_ns * slot.speed_factor));
            }
        }
        for (size_t j = 0; j < models_.size(); ++j) {
            if (int{models_[j].params.priority} <= lowest_ahead) continue;
            for (const QueuedUnit& queued : clients_[j].queued) {
                const int64_t predicted =
                    generative(j)
                        ? models_[j].generation.unit_time(jobs_[queued.job].next_unit).count()
                        : own_execution_ns(j);
                view.queued.push_back(
                    {j + 1, models_[j].params.priority, jobs_[queued.job].deadline, predicted});
            }
        }
        return predict_frame(view, i + 1, priority, deadline, own_execution_ns(i));
    }

    // A frame that will not run (refused or dropped late): its client, if closed-loop, sends
    // the next after its think time, at least REFUSED_RETRY_GAP later.
    void abandon(size_t i, Nanoseconds now) {
        if (!closed_loop(i)) return;
        const ArrivalPattern& arrivals = models_[i].arrivals;
        const Nanoseconds think =
            arrivals.kind == ArrivalPattern::Kind::CLOSED_LOOP ? arrivals.think : Nanoseconds(0);
        clients_[i].sends.push(now + std::max(think, REFUSED_RETRY_GAP));
    }

    void admit(size_t i, size_t job, Nanoseconds now) {
        ClientState& client = clients_[i];
        if (record_frames_) {
            jobs_[job].frame = static_cast<int64_t>(result_.frames.size());
            result_.frames.push_back({i, now});
        }
        const TimePoint deadline = deadline_of(i, now);
        if (deadline != NO_DEADLINE && predict(i, now, deadline).finish > deadline) {
            ++result_.models[i].frames_refused;
            frame_ended(job, now, FrameOutcome::REFUSED);
            abandon(i, now);
            return;
        }
        jobs_[job].deadline = deadline;
        // Same rule as the threaded scheduler: a model waking from idle (nothing queued or
        // running for longer than PolicyOptions::idle_before_catch_up) starts level with the
        // least-served busy model; a client sending its next frame (or generation) sooner after
        // its last left the device keeps its ledger.
        if (client.queued.empty() && client.running == 0) {
            const PolicyOptions& options = policy_.options();
            if (client.last_left != NEVER) {
                client.returns_promptly = now - client.last_left <= options.anticipation;
            }
            if (client.last_left == NEVER ||
                now - client.last_left > options.idle_before_catch_up) {
                catch_up(i);
            }
        }
        ++client.admitted;
        client.queued.push_back({job, now});
    }

    // As the threaded scheduler: level with the least-served busy model, or with no model
    // busy, with the ledger floor.
    void catch_up(size_t i) {
        std::optional<int64_t> least;
        for (size_t j = 0; j < models_.size(); ++j) {
            if (j == i || (clients_[j].queued.empty() && clients_[j].running == 0)) continue;
            least = least ? std::min(*least, clients_[j].ledger_ns) : clients_[j].ledger_ns;
        }
        clients_[i].ledger_ns = std::max(clients_[i].ledger_ns, least.value_or(ledger_floor_ns_));
    }

    // After model `charged` was charged: the least ledger of the models that were busy.
    void raise_ledger_floor(size_t charged) {
        int64_t least = clients_[charged].ledger_ns;
        for (const ClientState& client : clients_) {
            if (client.queued.empty() && client.running == 0) continue;
            least = std::min(least, client.ledger_ns);
        }
        ledger_floor_ns_ = std::max(ledger_floor_ns_, least);
    }

    // A recorded frame's first burst begins now (the one about to be added to dispatches).
    void frame_started(size_t job, Nanoseconds now) {
        if (jobs_[job].frame < 0) return;  // not recorded
        SimulatedFrame& frame = result_.frames[static_cast<size_t>(jobs_[job].frame)];
        if (frame.dispatch >= 0) return;  // a generative job's later unit
        frame.started = now;
        frame.dispatch = static_cast<int64_t>(result_.dispatches.size());
    }

    void frame_ended(size_t job, Nanoseconds now, FrameOutcome outcome) {
        if (jobs_[job].frame < 0) return;  // not recorded
        SimulatedFrame& frame = result_.frames[static_cast<size_t>(jobs_[job].frame)];
        frame.ended = now;
        frame.outcome = outcome;
    }

    // The job left the device: post-processing, then it is complete.
    void leave_device(size_t i, size_t job, Nanoseconds now) {
        ClientState& client = clients_[i];
        frame_ended(job, now, FrameOutcome::COMPLETED);
        --client.admitted;
        client.last_left = now;
        if (now > jobs_[job].deadline) ++result_.models[i].frames_late;
        const Nanoseconds post = models_[i].timing.host_post;
        if (post.count() > 0) {
            client.host_post.emplace_back(now + post, job);
        } else {
            complete(i, job, now);
        }
        admit_backlog(i, now);
    }

    // Jobs that waited for room in the model's queue, while there is room.
    void admit_backlog(size_t i, Nanoseconds now) {
        ClientState& client = clients_[i];
        while (client.admitted < admit_limit(i) && !client.backlog.empty()) {
            const size_t next = client.backlog.front();
            client.backlog.pop_front();
            if (waits_when_full(i)) {
                // Sent now: its latency counts from here (its host pre-processing included, as
                // if done after the wait), and the camera's schedule goes on.
                jobs_[next].created = now - models_[i].timing.host_pre;
                if (client.waiting_due != NEVER) resume_schedule(i, now);
            }
            admit(i, next, now);
        }
    }

    // A waiting camera sent its blocked frame at `now`: as run2's frame pump, the next frame is
    // due a period after the blocked one was, or, if it went out more than a period late, a
    // period from now, the schedule's frames in between never sent (counted as dropped: the
    // camera fell behind its rate by them).
    void resume_schedule(size_t i, Nanoseconds now) {
        ClientState& client = clients_[i];
        const Nanoseconds period = models_[i].arrivals.period;
        const Nanoseconds late = now - client.waiting_due;
        if (late > period) {
            client.next_arrival = now + period;
            result_.models[i].frames_dropped += static_cast<uint64_t>(late / period);
        } else {
            client.next_arrival = client.waiting_due + period;
        }
        client.waiting_due = NEVER;
    }

    // Drops the front frames whose own execution, started now, would end after their deadline
    // (what ran ahead of them changed since admission), as the threaded scheduler does before
    // every decision.
    void drop_late_fronts(Nanoseconds now) {
        for (size_t i = 0; i < models_.size(); ++i) {
            ClientState& client = clients_[i];
            bool dropped = false;
            while (!client.queued.empty()) {
                const size_t job = client.queued.front().job;
                if (jobs_[job].deadline == NO_DEADLINE ||
                    now + Nanoseconds(own_execution_ns(i)) <= jobs_[job].deadline) {
                    break;
                }
                client.queued.pop_front();
                --client.admitted;
                ++result_.models[i].frames_dropped_late;
                frame_ended(job, now, FrameOutcome::DROPPED);
                abandon(i, now);
                dropped = true;
            }
            if (dropped) admit_backlog(i, now);
        }
    }

    void complete(size_t i, size_t job, Nanoseconds now) {
        result_.models[i].latency_ms.push_back(
            in_milliseconds(now - jobs_[job].created + models_[i].latency_overhead));
        const ArrivalPattern& arrivals = models_[i].arrivals;
        if (closed_loop(i)) {
            const Nanoseconds think = arrivals.kind == ArrivalPattern::Kind::CLOSED_LOOP
                                          ? arrivals.think
                                          : Nanoseconds(0);
            clients_[i].sends.push(now + return_gap(i) + think);
        }
    }

    // How long after the decisions made as its last frame completes a closed-loop client's next
    // frame comes: 0, before them (in time); else after them, where a slot holding for it
    // (anticipation) gets it if it comes within the window. Its measured gaps
    // (SimulatedModel::closed_loop_gaps, else its share in time, else the device's gaps, else
    // its share); with a share alone, a late frame comes one nanosecond after the decisions,
    // as most late frames come 3-35 us after them (cpu and npu-sim, this machine).
    Nanoseconds return_gap(size_t i) {
        const SimulatedModel& model = models_[i];
        if (!model.closed_loop_gaps.empty()) return gap_draw(model.closed_loop_gaps);
        if (model.closed_loop_in_time < 0 && !device_.closed_loop_gaps.empty()) {
            return gap_draw(device_.closed_loop_gaps);
        }
        const double share = model.closed_loop_in_time >= 0 ? model.closed_loop_in_time
                                                            : device_.closed_loop_in_time;
        if (share >= 1) return Nanoseconds(0);
        if (share <= 0) return Nanoseconds(1);
        return Nanoseconds(uniform_draw(race_random_) < share ? 0 : 1);
    }

    Nanoseconds gap_draw(const std::vector<Nanoseconds>& gaps) {
        const double gap = quantile_draw(race_random_, gaps);
        // Any gap at all is after the decisions: a drawn 0.3 ns is not in time.
        return Nanoseconds(gap <= 0 ? 0 : std::max<int64_t>(1, std::llround(gap)));
    }

    // A unit of model i ended: a frame leaves the device; a generative job counts its token
    // and queues its next unit, or leaves the device after its last.
    void unit_done(size_t i, size_t job, Nanoseconds now) {
        SimulatedModelResult& counts = result_.models[i];
        ++counts.frames_done;
        if (!generative(i)) {
            leave_device(i, job, now);
            return;
        }
        const GenerationShape& shape = models_[i].generation;
        const uint32_t unit = jobs_[job].next_unit++;
        const uint32_t first_token_unit = std::max<uint32_t>(shape.prefill_units(), 1) - 1;
        if (unit >= first_token_unit && shape.max_tokens > 0) {
            ++counts.tokens;
            if (unit == first_token_unit) {
                counts.ttft_ms.push_back(
                    in_milliseconds(now - jobs_[job].created + models_[i].latency_overhead));
            }
        }
        if (jobs_[job].next_unit < shape.units()) {
            clients_[i].queued.push_back({job, now});
        } else {
            leave_device(i, job, now);
        }
    }

    // Brings every running burst's work up to `now` at the speed it ran since the last change.
    void advance(Nanoseconds now) {
        const double elapsed = static_cast<double>((now - last_update_).count());
        if (elapsed > 0) {
            for (Slot& slot : slots_) {
                if (!slot.busy()) continue;
                if (slot.paused) {
                    slot.paused_for += now - last_update_;
                } else {
                    slot.remaining_ns =
                        std::max(0.0, slot.remaining_ns - elapsed / slot.speed_factor);
                }
            }
        }
        last_update_ = now;
    }

    // Everything due at `now`, until nothing more is (a completion may free a client whose
    // next frame is due at once).
    void process_events(Nanoseconds now) {
        bool progress = true;
        while (progress) {
            progress = false;
            for (size_t i = 0; i < models_.size(); ++i) {
                ClientState& client = clients_[i];
                while (client.next_arrival <= now) {
                    const Nanoseconds when = client.next_arrival;
                    schedule_next_arrival(i);
                    create(i, when);
                    progress = true;
                }
                while (!client.sends.empty() && client.sends.top() <= now) {
                    const Nanoseconds when = client.sends.top();
                    client.sends.pop();
                    create(i, when);
                    progress = true;
                }
                while (!client.host_pre.empty() && client.host_pre.front().first <= now) {
                    const auto [when, job] = client.host_pre.front();
                    client.host_pre.pop_front();
                    offer(i, job, when);
                    progress = true;
                }
            }
            for (Slot& slot : slots_) {
                if (!slot.busy() || slot.end > now) continue;
                finish(slot, now);
                progress = true;
            }
            for (size_t i = 0; i < models_.size(); ++i) {
                ClientState& client = clients_[i];
                while (!client.host_post.empty() && client.host_post.front().first <= now) {
                    const auto [when, job] = client.host_post.front();
                    client.host_post.pop_front();
                    complete(i, job, when);
                    progress = true;
                }
            }
        }
    }

    void finish(Slot& slot, Nanoseconds now) {
        const size_t i = slot.model;
        ClientState& client = clients_[i];
        // Charged as the threaded scheduler charges it: the time the burst took, less what a
        // paused unit lent to outranking bursts.
        const Nanoseconds slot_time = now - slot.started - slot.paused_for;
        const Nanoseconds device = slot_time - slot.switching;
        client.ledger_ns += device.count();
        raise_ledger_floor(i);
        result_.models[i].device_time += device;
        result_.busy_time += slot_time;
        result_.dispatches[slot.dispatch].end = now;
        client.running -= static_cast<uint32_t>(slot.jobs.size());
        const std::vector<size_t> jobs = std::move(slot.jobs);
        slot.jobs.clear();
        slot.model = NO_MODEL;
        slot.end = NEVER;
        slot.paused = false;
        slot.paused_for = Nanoseconds(0);
        slot.idle_since = now;
        if (std::none_of(slots_.begin(), slots_.end(),
                         [](const Slot& other) { return other.busy(); })) {
            idle_since_ = now;
        }
        for (size_t job : jobs) unit_done(i, job, now);
    }

    // The highest priority of a preemptible unit running on a shared slot: the lent slot runs
    // only bursts of models above it. Nullopt when no unit runs.
    std::optional<uint8_t> lender_priority() const {
        std::optional<uint8_t> lender;
        for (const Slot& slot : slots_) {
            if (slot.kind != SlotKind::SHARED || !slot.busy() || !generative(slot.model)) continue;
            const uint8_t priority = models_[slot.model].params.priority;
            lender = lender ? std::max(*lender, priority) : priority;
        }
        return lender;
    }

    uint32_t free_shared_slots() const {
        return static_cast<uint32_t>(std::count_if(
            slots_.begin(), slots_.end(),
            [](const Slot& slot) { return slot.kind == SlotKind::SHARED && !slot.busy(); }));
    }

    // The models a free shared slot may hold its decision for (SchedulingPolicy::anticipate).
    std::vector<ReturningModel> returning() const {
        std::vector<ReturningModel> models;
        for (size_t i = 0; i < models_.size(); ++i) {
            const ClientState& client = clients_[i];
            if (!client.queued.empty() || client.running > 0 || !client.returns_promptly ||
                client.last_left == NEVER) {
                continue;
            }
            models.push_back(
                {i + 1, models_[i].params.priority, client.last_left, client.ledger_ns});
        }
        return models;
    }

    // Every free slot decides, in order (shared, latency, lent), until none dispatches.
    // Returns the earliest timeout a waiting model's readiness depends on.
    std::optional<Nanoseconds> decide(Nanoseconds now) {
        std::optional<Nanoseconds> wake_at;
        bool dispatched = true;
        while (dispatched) {
            dispatched = false;
            for (size_t s = 0; s < slots_.size(); ++s) {
                Slot& slot = slots_[s];
                if (slot.busy()) continue;
                drop_late_fronts(now);
                int above = -1;  // only models whose priority is above this one (-1: all)
                if (slot.kind == SlotKind::LATENCY) above = PRIORITY_NORMAL;
                if (slot.kind == SlotKind::LENT) {
                    const auto lender = lender_priority();
                    if (!lender) continue;
                    above = *lender;
                }
                std::vector<ModelQueueState> view;
                for (size_t i = 0; i < models_.size(); ++i) {
                    const ClientState& client = clients_[i];
                    if (client.queued.empty() || int{models_[i].params.priority} <= above) continue;
                    if (device_.one_burst_per_model && client.running > 0) continue;
                    view.push_back(
                        {i + 1, models_[i].params, static_cast<uint32_t>(client.queued.size()),
                         client.queued.front().enqueued, client.ledger_ns, client.running,
                         client.last_dispatched, jobs_[client.queued.front().job].deadline});
                }
                const PolicyResult decided = policy_.decide(
                    now, view, slot.last_model == NO_MODEL ? 0 : slot.last_model + 1);
                if (decided.wake_at && (!wake_at || *decided.wake_at < *wake_at)) {
                    wake_at = decided.wake_at;
                }
                if (!decided.decision) continue;
                if (slot.kind == SlotKind::SHARED) {
                    if (const auto until =
                            policy_.anticipate(now, view, returning(), free_shared_slots())) {
                        wake_at = wake_at ? std::min(*wake_at, *until) : *until;
                        continue;  // or the returning model's frame comes first
                    }
                }
                dispatch(slot, s, *decided.decision, now);
                dispatched = true;
            }
        }
        return wake_at;
    }

    void dispatch(Slot& slot, size_t slot_index, const Decision& decision, Nanoseconds now) {
        const size_t i = decision.model_id - 1;
        ClientState& client = clients_[i];
        policy_.record_dispatch(decision.model_id);
        const bool switched = slot.last_model != NO_MODEL && slot.last_model != i;
        if (slot.last_model != i) ++result_.models[i].switches_in;
        Nanoseconds device{0};
        for (uint32_t f = 0; f < decision.frames && !client.queued.empty(); ++f) {
            const size_t job = client.queued.front().job;
            client.queued.pop_front();
            slot.jobs.push_back(job);
            frame_started(job, now);
            if (generative(i)) device += spread_unit(i, jobs_[job].next_unit, now);
        }
        const uint32_t frames = static_cast<uint32_t>(slot.jobs.size());
        if (!generative(i)) device = burst_time(i, frames, now, slot);
        client.running += frames;
        client.last_dispatched = now;
        slot.model = i;
        slot.last_model = i;
        slot.started = now;
        slot.switching = switched ? device_.context_switch : Nanoseconds(0);
        // At least a nanosecond, so that a model that takes no time cannot stall the clock.
        slot.remaining_ns =
            static_cast<double>(std::max<int64_t>(1, (slot.switching + device).count()));
        slot.dispatch = result_.dispatches.size();
        result_.switch_time += slot.switching;
        result_.dispatches.push_back(
            {now, NEVER, i, frames, switched, decision.reason, decision.ready, slot_index});
    }

    // A generative unit's device time: a prefill chunk with a draw from its spread.
    Nanoseconds spread_unit(size_t i, uint32_t unit, Nanoseconds now) {
        const GenerationShape& shape = models_[i].generation;
        const Nanoseconds time = shape.unit_time(unit);
        if (unit >= shape.prefill_units()) return time;
        return with_spread(i, time, shape.prefill_spread, now);
    }

    // `time` times a draw from `spread` (model i's own sequence); `time` without a spread.
    Nanoseconds with_spread(size_t i, Nanoseconds time, const std::vector<double>& spread,
                            Nanoseconds now) {
        if (spread.empty()) return time;
        const double ratio =
            spread.size() == 1 ? spread.front() : quantile_at(spread, spread_quantile(i, now));
        return Nanoseconds(std::llround(static_cast<double>(time.count()) * ratio));
    }

    // Where in its spread a burst of model i starting now falls, in [0, 1): a uniform draw of
    // its own sequence, or with SimulatedDevice::speed_share, that draw (as a normal score)
    // mixed with the device's speed now.
    double spread_quantile(size_t i, Nanoseconds now) {
        const double own = uniform_draw(clients_[i].spread_random);
        if (!(device_.speed_share > 0) || device_.speed_memory.count() <= 0) return own;
        const double share = std::min(1.0, device_.speed_share);
        const double own_score = normal_score(own);
        const double score = std::sqrt(share) * speed_at(now) + std::sqrt(1.0 - share) * own_score;
        return std::clamp(StandardNormal::cdf(score), 0.0, std::nextafter(1.0, 0.0));
    }

    // The device's speed at `now` as a standard normal score: an Ornstein-Uhlenbeck process
    // (its correlation falls as exp(-gap / speed_memory)), advanced exactly from its last value.
    double speed_at(Nanoseconds now) {
        if (speed_time_ != NEVER && now <= speed_time_) return speed_score_;
        const double fresh = normal_score(uniform_draw(speed_random_));
        if (speed_time_ == NEVER) {
            speed_score_ = fresh;
        } else {
            const double kept = std::exp(-static_cast<double>((now - speed_time_).count()) /
                                         static_cast<double>(device_.speed_memory.count()));
            speed_score_ = kept * speed_score_ + std::sqrt(1.0 - kept * kept) * fresh;
        }
        speed_time_ = now;
        return speed_score_;
    }

    // A burst's device time starting now on `slot`: a draw from its model's frame spread,
    // plus its cold share of what a cold frame takes more. With a cold spread, one draw places
    // the burst in both distributions (a slow warm frame is a slow cold one).
    Nanoseconds burst_time(size_t i, uint32_t frames, Nanoseconds now, const Slot& slot) {
        const SimulatedModel& model = models_[i];
        const Nanoseconds burst = model.timing.burst(frames);
        const bool beside_others = !model.beside_spread.empty() &&
                                   std::any_of(slots_.begin(), slots_.end(),
                                               [](const Slot& other) { return other.busy(); });
        const std::vector<double>& spread =
            beside_others ? model.beside_spread : model.frame_spread;
        if (model.cold_spread.empty()) {
            const Nanoseconds extra = model.cold_frame - model.timing.frame;
            const double share = extra.count() > 0 ? cold_share(now, slot) : 0.0;
            return with_spread(i, burst, spread, now) +
                   Nanoseconds(static_cast<int64_t>(static_cast<double>(extra.count()) * share));
        }
        const double draw = spread_quantile(i, now);
        const double warm = spread.empty() ? 1.0 : quantile_at(spread, draw);
        const double cold = quantile_at(model.cold_spread, draw);
        const double extra = std::max(0.0, cold - warm) * cold_share(now, slot);
        return Nanoseconds(std::llround(static_cast<double>(burst.count()) * warm +
                                        static_cast<double>(model.timing.frame.count()) * extra));
    }

    // How cold a burst starting now on `slot` is, 0..1: idle for SimulatedDevice::cold_after
    // or longer, 1; less, that share. Idle: the slot itself (SimulatedDevice::cold_by_slot),
    // else the whole device (0 while another slot runs).
    double cold_share(Nanoseconds now, const Slot& slot) const {
        if (device_.cold_after.count() <= 0) return 0;
        Nanoseconds since = slot.idle_since;
        if (!device_.cold_by_slot) {
            for (const Slot& other : slots_) {
                if (other.busy()) return 0;
            }
            since = idle_since_;
        }
        if (since == NEVER || now - since >= device_.cold_after) return 1;
        return static_cast<double>((now - since).count()) /
               static_cast<double>(device_.cold_after.count());
    }

    // After any change of what runs: which units pause, how fast the rest run, when each ends.
    void retime(Nanoseconds now) {
        size_t running = 0;
        for (Slot& slot : slots_) {
            if (!slot.busy()) continue;
            slot.paused = false;
            if (generative(slot.model) && models_[slot.model].generation.preemption) {
                const uint8_t own = models_[slot.model].params.priority;
                for (const Slot& other : slots_) {
                    if (other.busy() && models_[other.model].params.priority > own) {
                        slot.paused = true;
                    }
                }
            }
            if (!slot.paused) ++running;
        }
        for (Slot& slot : slots_) {
            if (!slot.busy()) continue;
            slot.speed_factor = device_.slowdown(models_[slot.model], running);
            slot.end = slot.paused
                           ? NEVER
                           : now + Nanoseconds(std::llround(slot.remaining_ns * slot.speed_factor));
            result_.dispatches[slot.dispatch].end = slot.end;
        }
        last_update_ = now;
    }

    Nanoseconds next_event() const {
        Nanoseconds next = NEVER;
        for (const Slot& slot : slots_) next = std::min(next, slot.end);
        for (const ClientState& client : clients_) {
            next = std::min(next, client.next_arrival);
            if (!client.sends.empty()) next = std::min(next, client.sends.top());
            if (!client.host_pre.empty()) next = std::min(next, client.host_pre.front().first);
            if (!client.host_post.empty()) next = std::min(next, client.host_post.front().first);
        }
        return next;
    }

    const std::vector<SimulatedModel>& models_;
    const SimulatedDevice& device_;
    SchedulingPolicy policy_;
    std::vector<ClientState> clients_;
    int64_t ledger_floor_ns_ = 0;               // ModelScheduler's ledger floor, the same rule
    std::mt19937_64 race_random_{RACE_SEED};    // closed_loop_in_time's draws
    std::mt19937_64 speed_random_{SPEED_SEED};  // the device's speed (speed_share)
    double speed_score_ = 0;                    // the device's speed when last asked
    Nanoseconds speed_time_ = NEVER;            // when that was; NEVER: not yet
    bool record_frames_ = false;                // SimulationResult::frames
    std::vector<Slot> slots_;
    std::vector<Job> jobs_;
    SimulationResult result_;
    Nanoseconds last_update_{0};
    Nanoseconds idle_since_ = NEVER;  // when the last burst ended with no other running; NEVER:
                                      // never busy yet (idle since ever)
};

}  // namespace

Nanoseconds GenerationShape::unit_time(uint32_t unit) const {
    if (unit < prefill_units()) {
        const uint32_t chunk = std::max<uint32_t>(1, prefill_chunk_tokens);
        const uint32_t tokens = std::min(chunk, prompt_tokens - unit * chunk);
        return prefill_chunk * tokens / chunk;
    }
    return decode_step;
}

double SimulatedDevice::slowdown(const SimulatedModel& model, size_t running) const {
    const std::vector<double>& factors =
        model.interference.empty() ? interference : model.interference;
    if (factors.empty() || running == 0) return 1.0;
    return factors[std::min(running, factors.size()) - 1];
}

SimulationResult simulate(const std::vector<SimulatedModel>& models, Nanoseconds context_switch,
                          PolicyOptions options, Nanoseconds duration) {
    SimulatedDevice device;
    device.context_switch = context_switch;
    return simulate(models, device, options, duration);
}

SimulationResult simulate(const std::vector<SimulatedModel>& models, const SimulatedDevice& device,
                          PolicyOptions options, Nanoseconds duration, bool record_frames) {
    return Simulation(models, device, options, record_frames).run(duration);
}

}  // namespace corun::scheduler
