#include "scheduler/model_scheduler.hpp"

#include <algorithm>
#include <array>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <deque>
#include <map>
#include <mutex>
#include <optional>

#include "scheduler/admission.hpp"
#include "scheduler/execution_time_window.hpp"
#include "scheduler/trace_recorder.hpp"

namespace corun::scheduler {
namespace {

using Clock = std::chrono::steady_clock;

int64_t nanoseconds_since(Clock::time_point start) {
    return std::chrono::duration_cast<std::chrono::nanoseconds>(Clock::now() - start).count();
}

struct QueuedRequest {
    InferRequest request;
    TimePoint enqueued{0};
    TimePoint deadline = NO_DEADLINE;  // the job's own or the model's SLO, the earlier
    // Bursts dispatched so far, in all and of this request's model, when it was queued.
    uint64_t dispatches_at_enqueue = 0;
    uint64_t own_dispatches_at_enqueue = 0;
    uint64_t recorded_id = 0;  // TraceRecorder's frame id; 0 = not recorded
};

struct ScheduledModel {
    std::string name;
    ModelSchedulingParams params;
    std::deque<QueuedRequest> queue;
    uint32_t frames_queued = 0;
    uint32_t running = 0;
    int64_t ledger_ns = 0;  // device time for fairness, caught up when the model wakes
    uint64_t frames_done = 0;
    int64_t device_time_ns = 0;
    uint64_t switches_in = 0;
    uint64_t dispatches = 0;
    // The most bursts of other models dispatched while one of its frames waited: 0 means no
    // frame of this model was ever overtaken (what priority promises a top-priority model).
    uint64_t max_overtaken_by = 0;
    uint64_t preemptions = 0;
    DeadlineCounters deadlines;
    ExecutionTimeWindow execution;  // wall time of its recent bursts, for admission
    TimePoint last_dispatched{0};
    // When its last burst was charged; nullopt: never (its first frame wakes it from idle).
    std::optional<TimePoint> last_finished;
    // Its latest frame sent with nothing of it queued or running came within
    // PolicyOptions::anticipation of its last burst's end (a client sending from completions).
    bool returns_promptly = false;
    // Queue + execution time of the latest requests, for the monitor.
    std::array<int64_t, 128> recent_latency_ns{};
    size_t recent_latency_count = 0;

    void record_latency(int64_t nanoseconds) {
        recent_latency_ns[recent_latency_count++ % recent_latency_ns.size()] = nanoseconds;
    }
};

// What a recording keeps of a burst until it finishes: where the burst was recorded, its
// requests' recorder ids, and when each ran (filled by whoever runs it, outside the lock).
struct BurstRecording {
    RecordedBurstRef ref;
    std::vector<uint64_t> frame_ids;
    std::vector<std::pair<TimePoint, TimePoint>> run_times;
};

// A burst taken off a queue: its requests and when each was enqueued.
struct Burst {
    std::vector<InferRequest> requests;
    std::vector<TimePoint> enqueued;
    std::vector<TimePoint> deadlines;
    uint64_t id = 0;  // in State::running_bursts while it runs
    uint32_t frames = 0;
    bool lends_slot = false;  // preemptible: outranking frames run beside it while it runs
    // Set only while recording (one null pointer otherwise, so that a burst costs what it did
    // before the recorder existed).
    std::unique_ptr<BurstRecording> recording;
};

}  // namespace

struct ModelScheduler::State {
    explicit State(PolicyOptions options) : policy(options) {}

    TimePoint now() const { return std::chrono::duration_cast<TimePoint>(Clock::now() - origin); }

    // A model that had nothing to do starts level with the least-served busy model, so idle
    // time is not banked as a claim on the device; with no model busy, level with the ledger
    // floor, so that device time other models used while it idled is not held against them.
    void catch_up(uint64_t model_id, ScheduledModel& model) {
        bool found = false;
        int64_t least = 0;
        for (const auto& [id, other] : models) {
            if (id == model_id || (other.frames_queued == 0 && other.running == 0)) continue;
            least = found ? std::min(least, other.ledger_ns) : other.ledger_ns;
            found = true;
        }
        model.ledger_ns = std::max(model.ledger_ns, found ? least : ledger_floor_ns);
    }

    // After `charged` was charged: the floor rises to the least ledger of the models that were
    // busy (the charged one and any with frames queued or running). It never falls.
    void raise_ledger_floor(const ScheduledModel& charged) {
        int64_t least = charged.ledger_ns;
        for (const auto& [id, other] : models) {
            if (other.frames_queued == 0 && other.running == 0) continue;
            least = std::min(least, other.ledger_ns);
        }
        ledger_floor_ns = std::max(ledger_floor_ns, least);
    }

    // The models with frames queued, in id order, as the policy sees them; for a latency
    // slot, only those with a priority above normal.
    const std::vector<ModelQueueState>& refresh_view(TimePoint now, bool latency_slot = false) {
        return refresh_view_above(now, latency_slot ? int{PRIORITY_NORMAL} : -1);
    }
    // As refresh_view, only models whose priority is above `priority` (-1: all). Frames at the
    // front of a queue that can no longer meet their deadline are dropped first (flush_late).
    const std::vector<ModelQueueState>& refresh_view_above(TimePoint now, int priority) {
        drop_late_fronts(now);
        view.clear();
        for (const auto& [id, model] : models) {
            if (model.frames_queued == 0) continue;
            if (int{model.params.priority} <= priority) continue;
            if (one_burst_per_model && model.running > 0) continue;
            const QueuedRequest& front = model.queue.front();
            view.push_back({id, model.params, model.frames_queued, front.enqueued, model.ledger_ns,
                            model.running, model.last_dispatched, front.deadline});
        }
        return view;
    }

    // The deadline a request queued at `enqueued` must meet: its own or its model's SLO, the
    // earlier; NO_DEADLINE for neither.
    TimePoint deadline_of(const InferRequest& request, const ModelSchedulingParams& params,
                          TimePoint enqueued) const {
        TimePoint deadline = NO_DEADLINE;
        if (request.deadline != Clock::time_point{}) {
            deadline = std::chrono::duration_cast<TimePoint>(request.deadline - origin);
        }
        if (params.latency_slo.count() > 0) {
            deadline = std::min(deadline, enqueued + params.latency_slo);
        }
        return deadline;
    }

    // When a frame of `model_id` queued now would finish: what runs and what waits ahead of
    // it on the slots it may use, then its own execution.
    FramePrediction predict(uint64_t model_id, const ScheduledModel& model, TimePoint now,
                            TimePoint deadline, uint32_t frames) const {
        AdmissionView admission;
        admission.now = now;
        // A model above normal priority runs on a latency slot when the device has one: only
        // other such models' frames are ahead of it there.
        const bool on_latency_slot = latency_slots > 0 && model.params.priority > PRIORITY_NORMAL;
        const int lowest_ahead = on_latency_slot ? int{PRIORITY_NORMAL} : -1;
        admission.slots = on_latency_slot ? latency_slots : shared_slots;
        if (!on_latency_slot) {
            for (const auto& [id, running_burst] : running_bursts) {
                // A frame that outranks a unit lending its slot runs beside it, not after it.
                if (int{model.params.priority} > running_burst.lends_below_priority &&
                    running_burst.lends_below_priority >= 0) {
                    continue;
                }
                const TimePoint ends =
                    running_burst.started + TimePoint(running_burst.predicted_ns);
                admission.running_left_ns.push_back(std::max<int64_t>(0, (ends - now).count()));
            }
        }
        for (const auto& [id, other] : models) {
            if (int{other.params.priority} <= lowest_ahead) continue;
            for (const QueuedRequest& queued : other.queue) {
                admission.queued.push_back(
                    {id, other.params.priority, queued.deadline,
                     other.execution.predict(queued.request.frames).value_or(0)});
            }
        }
        return predict_frame(admission, model_id, model.params.priority, deadline,
                             model.execution.predict(frames).value_or(0));
    }

    // The latency of a frame of `model_id` queued now, with its SLO's deadline; nullopt before
    // a burst of it was measured.
    std::optional<std::chrono::nanoseconds> predicted_latency(uint64_t model_id,
                                                              const ScheduledModel& model) const {
        if (model.execution.empty()) return std::nullopt;
        const TimePoint at = now();
        const TimePoint deadline =
            model.params.latency_slo.count() > 0 ? at + model.params.latency_slo : NO_DEADLINE;
        return predict(model_id, model, at, deadline, 1).finish - at;
    }

    // Drops the front frames whose own execution, started now, would end after their deadline
    // (what is ahead of them changed since admission). They are cancelled by flush_late.
    void drop_late_fronts(TimePoint now) {
        bool dropped = false;
        for (auto& [id, model] : models) {
            while (!model.queue.empty() && model.queue.front().deadline != NO_DEADLINE) {
                QueuedRequest& front = model.queue.front();
                const TimePoint finish =
                    now + TimePoint(model.execution.predict(front.request.frames).value_or(0));
                if (finish <= front.deadline) break;
                model.frames_queued -= front.request.frames;
                ++model.deadlines.dropped_late_in_queue;
                if (recorder.on()) {
                    recorder.frame_cancelled(front.recorded_id, now, FrameOutcome::DROPPED);
                    recorder.queue_depth(now, id, model.frames_queued);
                }
                late.emplace_back(std::move(front.request),
                                  deadline_exceeded(model.name, DeadlineRefusal::LATE_IN_QUEUE,
                                                    front.enqueued, front.deadline, finish));
                model.queue.pop_front();
                dropped = true;
            }
        }
        if (dropped) refresh_priorities();
    }

    // Completes the requests drop_late_fronts took off their queues, outside the lock (their
    // completions run user callbacks). Returns whether there were any: the caller decides again.
    bool flush_late(std::unique_lock<std::mutex>& lock) {
        if (late.empty()) return false;
        std::vector<std::pair<InferRequest, Status>> dropped;
        dropped.swap(late);
        lock.unlock();
        for (auto& [request, reason] : dropped) request.cancel(reason);
        dropped.clear();
        lock.lock();
        return true;
    }

    // Takes the decided burst off its model's queue and counts it as running on `device_index`.
    Burst take_burst(const Decision& decision, TimePoint now, size_t device_index,
                     uint64_t previous_model, bool latency_slot = false,
                     uint64_t preempted_model = 0) {
        ScheduledModel& model = models.at(decision.model_id);
        Burst burst;
        uint32_t& frames = burst.frames;
        if (recorder.on()) burst.recording = std::make_unique<BurstRecording>();
        while (!model.queue.empty() &&
               (burst.requests.empty() ||
                frames + model.queue.front().request.frames <= decision.frames)) {
            const QueuedRequest& front = model.queue.front();
            const uint64_t overtaken_by = (dispatches - front.dispatches_at_enqueue) -
                                          (model.dispatches - front.own_dispatches_at_enqueue);
            model.max_overtaken_by = std::max(model.max_overtaken_by, overtaken_by);
            frames += front.request.frames;
            if (burst.recording) burst.recording->frame_ids.push_back(front.recorded_id);
            burst.requests.push_back(std::move(model.queue.front().request));
            burst.enqueued.push_back(model.queue.front().enqueued);
            burst.deadlines.push_back(model.queue.front().deadline);
            model.queue.pop_front();
        }
        model.frames_queued -= frames;
        model.running += frames;
        model.last_dispatched = now;
        ++model.dispatches;
        ++dispatches;
        if (previous_model != decision.model_id) ++model.switches_in;
        if (!latency_slot) last_model[device_index] = decision.model_id;
        policy.record_dispatch(decision.model_id);
        ++running;
        if (!latency_slot) {
            ++busy_slots[device_index];
            burst.id = next_burst_id++;
            running_bursts[burst.id] = {now, model.execution.predict(frames).value_or(0)};
        }
        if (!latency_slot && !burst.requests.empty() &&
            std::all_of(burst.requests.begin(), burst.requests.end(),
                        [](const InferRequest& request) { return request.preemptible; })) {
            burst.lends_slot = true;
            running_bursts[burst.id].lends_below_priority = model.params.priority;
            lending[device_index].emplace_back(decision.model_id, model.params.priority);
            lend_wake.notify_all();
        }
        if (burst.recording) {
            RecordedBurst recorded;
            recorded.start = now;
            recorded.device_index = device_index;
            recorded.latency_slot = latency_slot;
            recorded.lent_by = preempted_model;
            recorded.model_id = decision.model_id;
            recorded.frames = frames;
            recorded.reason = decision.reason;
            recorded.ready = decision.ready;
            recorded.effective_priority = decision.effective_priority;
            burst.recording->ref = recorder.burst_dispatched(recorded);
            recorder.queue_depth(now, decision.model_id, model.frames_queued);
        }
        if (sink) {
            DecisionRecord record{now,
                                  device_index,
                                  decision.model_id,
                                  frames,
                                  decision.reason,
                                  decision.ready,
                                  decision.effective_priority,
                                  {},
                                  preempted_model};
            for (const auto& queued : view) {
                record.queue_depths.emplace_back(queued.model_id, queued.frames_queued);
            }
            sink(record);
        }
        refresh_priorities();
        return burst;
    }

    // Charges a finished burst to its model and frees its slot. `wall_ns`: how long it ran.
    void finish_burst(uint64_t model_id, const Burst& burst, int64_t device_ns, int64_t wall_ns,
                      size_t device_index, bool latency_slot = false) {
        --running;
        running_bursts.erase(burst.id);
        if (!latency_slot) --busy_slots[device_index];
        if (burst.lends_slot) {
            auto& lenders = lending[device_index];
            auto found = std::find_if(lenders.begin(), lenders.end(),
                                      [&](const auto& lender) { return lender.first == model_id; });
            if (found != lenders.end()) lenders.erase(found);
        }
        if (burst.recording) {
            const BurstRecording& recording = *burst.recording;
            recorder.burst_ended(recording.ref, now());
            for (size_t i = 0; i < recording.frame_ids.size() && i < recording.run_times.size();
                 ++i) {
                recorder.frame_ran(recording.frame_ids[i], recording.run_times[i].first,
                                   recording.run_times[i].second, recording.ref);
            }
        }
        if (auto found = models.find(model_id); found != models.end()) {
            const uint32_t frames = burst.frames;
            const TimePoint finished = now();
            for (TimePoint enqueued : burst.enqueued) {
                found->second.record_latency((finished - enqueued).count());
            }
            DeadlineCounters& deadlines = found->second.deadlines;
            for (TimePoint deadline : burst.deadlines) {
                if (deadline == NO_DEADLINE) continue;
                ++(finished > deadline ? deadlines.finished_late : deadlines.finished_in_time);
            }
            found->second.execution.record(frames, wall_ns);
            found->second.running -= frames;
            found->second.last_finished = finished;
            found->second.ledger_ns += device_ns;
            raise_ledger_floor(found->second);
            found->second.device_time_ns += device_ns;
            found->second.frames_done += frames;
        }
        refresh_priorities();
    }

    // Runs a taken burst on this thread, outside the lock, then charges it and frees its slot.
    // `lock` holds `mutex` before and after.
    void run_burst(std::unique_lock<std::mutex>& lock, uint64_t model_id, Burst& burst,
                   size_t device_index, bool latency_slot) {
        lock.unlock();
        const auto started = Clock::now();
        int64_t device_ns = 0;
        if (!burst.recording) {
            for (auto& request : burst.requests) device_ns += request.run(device_index);
        } else {
            device_ns = run_recorded(burst, device_index);
        }
        const int64_t wall_ns = nanoseconds_since(started);
        burst.requests.clear();  // release the jobs' references outside the lock
        lock.lock();
        finish_burst(model_id, burst, device_ns, wall_ns, device_index, latency_slot);
        wake.notify_all();  // stop() and paused requests may wait for running work to end
    }

    // Runs a recorded burst's requests (outside the lock), noting when each ran.
    int64_t run_recorded(Burst& burst, size_t device_index) {
        int64_t device_ns = 0;
        burst.recording->run_times.reserve(burst.requests.size());
        for (auto& request : burst.requests) {
            const TimePoint started = now();
            device_ns += request.run(device_index);
            burst.recording->run_times.emplace_back(started, now());
        }
        return device_ns;
    }

    // A frame was queued: the lent-slot workers look at it if a preemptible request runs.
    void notify_lent_slots() {
        for (const auto& lenders : lending) {
            if (!lenders.empty()) {
                lend_wake.notify_all();
                return;
            }
        }
    }

    // Until when a free shared slot of `device_index` holds its decision for a returning
    // model's next frame (SchedulingPolicy::anticipate over `view`, as refreshed for the
    // decision).
    std::optional<TimePoint> anticipation(TimePoint now, size_t device_index) {
        if (policy.options().anticipation <= std::chrono::nanoseconds(0)) return std::nullopt;
        returning.clear();
        for (const auto& [id, model] : models) {
            if (model.frames_queued > 0 || model.running > 0 || !model.returns_promptly ||
                !model.last_finished) {
                continue;
            }
            returning.push_back({id, model.params.priority, *model.last_finished, model.ledger_ns});
        }
        const uint32_t free_slots = slots[device_index] > busy_slots[device_index]
                                        ? slots[device_index] - busy_slots[device_index]
                                        : 0;
        return policy.anticipate(now, view, returning, free_slots);
    }

    // Nothing to dispatch: sleeps until the policy's next timeout, or until woken.
    void wait_for(std::unique_lock<std::mutex>& lock, const PolicyResult& result) {
        wait_for(lock, result, wake);
    }
    void wait_for(std::unique_lock<std::mutex>& lock, const PolicyResult& result,
                  std::condition_variable& on) {
        if (result.wake_at) {
            on.wait_until(lock, origin + *result.wake_at);
        } else {
            on.wait(lock);
        }
    }

    // Which priority levels have frames queued or running, for outranked(): a request at a
    // preemption point reads it without taking the lock. Called after every change of either.
    void refresh_priorities() {
        uint32_t mask = 0;
        for (const auto& [id, model] : models) {
            if (model.frames_queued > 0 || model.running > 0) mask |= 1u << model.params.priority;
        }
        active_priorities.store(mask, std::memory_order_relaxed);
    }
    // The running preemptible request of `device_index` with the highest priority, whose slot
    // outranking frames may use; nullopt when none runs.
    std::optional<std::pair<uint64_t, uint8_t>> lender(size_t device_index) const {
        std::optional<std::pair<uint64_t, uint8_t>> found;
        for (const auto& unit : lending[device_index]) {
            if (!found || unit.second > found->second) found = unit;
        }
        return found;
    }

    // Whether frames of a model of a priority above `priority` are running.
    bool outranking_running(uint8_t priority) const {
        return std::any_of(models.begin(), models.end(), [&](const auto& entry) {
            return entry.second.params.priority > priority && entry.second.running > 0;
        });
    }

    const Clock::time_point origin = Clock::now();
    std::vector<uint32_t> slots;  // per device: shared slots (bursts of any model at once)
    uint32_t shared_slots = 0;    // all devices'
    uint32_t latency_slots = 0;   // all devices'
    std::vector<uint32_t> latency_slots_per_device;  // for recordings
    bool one_burst_per_model = false;  // any device's DeviceSlots::one_burst_per_model
    // Bursts running on shared slots, for admission: when each started and its prediction.
    struct RunningBurst {
        TimePoint started{0};
        int64_t predicted_ns = 0;
        // A preemptible burst (a generative model's unit) lends its slot: frames of models
        // above this priority run beside it and do not wait for it. -1: it does not lend.
        int lends_below_priority = -1;
    };
    std::map<uint64_t, RunningBurst> running_bursts;
    uint64_t next_burst_id = 1;
    // Requests dropped under the lock (late in the queue), completed by flush_late.
    std::vector<std::pair<InferRequest, Status>> late;
    std::vector<uint32_t> busy_slots;  // per device: shared slots busy (workers and callers)
    std::vector<uint64_t> last_model;  // per device: the model dispatched last
    // Per device: the preemptible requests running on its shared slots (model id, priority).
    std::vector<std::vector<std::pair<uint64_t, uint8_t>>> lending;
    mutable std::mutex mutex;
    std::condition_variable wake;
    SchedulingPolicy policy;
    std::map<uint64_t, ScheduledModel> models;
    // The fairness ledgers' floor (as a CFS run queue's min_vruntime): the least ledger of the
    // busy models, never falling. A model that wakes while no other is busy starts there: two
    // models that each ran alone in turn start level, not the later one owing the device
    // what the earlier one used while it was idle (measured: a 22 ms model starved for 270 ms
    // at the start of a mix of four after each had run alone; docs/PERFORMANCE.md, P5).
    int64_t ledger_floor_ns = 0;
    std::vector<ModelQueueState> view;      // reused for each decision
    std::vector<ReturningModel> returning;  // reused for each decision (anticipation)
    size_t running = 0;
    uint64_t dispatches = 0;  // bursts dispatched, all models
    bool stopping = false;
    DecisionSink sink;
    TraceRecorder recorder;                      // under `mutex`
    std::atomic<uint32_t> active_priorities{0};  // bit p: a model of priority p is busy
    // Preemptible requests paused in yield_to_outranking, waiting on `wake` for outranking
    // frames that run elsewhere (a caller's thread included) to end.
    uint32_t paused_requests = 0;
    // Wakes the lent-slot workers only: they have work only while a preemptible request runs,
    // and waking them at every frame of every model would cost a context switch per frame.
    std::condition_variable lend_wake;
};

namespace {

// The lent-slot worker of a device: while a preemptible request runs on one of its shared slots,
// runs the bursts of models that outrank it, beside it (the request pauses at its next
// preemption point if it was asked to, Scheduler::yield_to_outranking). A frame of a higher
// priority so never waits for a generative model's chunk or step to end.
void lend(const std::shared_ptr<ModelScheduler::State>& state, size_t device_index) {
    uint64_t active_model = 0;
    std::unique_lock lock(state->mutex);
    while (!state->stopping) {
        const auto lender = state->lender(device_index);
        if (!lender) {
            state->lend_wake.wait(lock);
            continue;
        }
        const TimePoint now = state->now();
        const PolicyResult result =
            state->policy.decide(now, state->refresh_view_above(now, lender->second), active_model);
        if (state->flush_late(lock)) continue;
        if (!result.decision) {
            state->wait_for(lock, result, state->lend_wake);
            continue;
        }
        const Decision decision = *result.decision;
        Burst burst = state->take_burst(decision, now, device_index, active_model,
                                        /*latency_slot=*/true, lender->first);
        active_model = decision.model_id;
        state->run_burst(lock, decision.model_id, burst, device_index, /*latency_slot=*/true);
    }
}

void work(const std::shared_ptr<ModelScheduler::State>& state, size_t device_index,
          bool latency_slot) {
    uint64_t active_model = 0;
    std::unique_lock lock(state->mutex);
    while (true) {
        if (state->stopping) return;
        if (!latency_slot && state->busy_slots[device_index] >= state->slots[device_index]) {
            state->wake.wait(lock);  // a caller runs a frame on this device's free slot
            continue;
        }
        const TimePoint now = state->now();
        const PolicyResult result =
            state->policy.decide(now, state->refresh_view(now, latency_slot), active_model);
        if (state->flush_late(lock)) continue;
        if (!result.decision) {
            state->wait_for(lock, result);
            continue;
        }
        if (!latency_slot) {
            if (const auto until = state->anticipation(now, device_index)) {
                state->wake.wait_until(lock, state->origin + *until);  // or its frame comes
                continue;
            }
        }
        const Decision decision = *result.decision;
        Burst burst = state->take_burst(decision, now, device_index, active_model, latency_slot);
        active_model = decision.model_id;
        state->run_burst(lock, decision.model_id, burst, device_index, latency_slot);
    }
}

}  // namespace

ModelScheduler::ModelScheduler(const std::vector<DeviceSlots>& slots_per_device,
                               PolicyOptions options)
    : state_(std::make_shared<State>(options)) {
    state_->busy_slots.assign(slots_per_device.size(), 0);
    state_->last_model.assign(slots_per_device.size(), 0);
    state_->lending.resize(slots_per_device.size());
    for (size_t device = 0; device < slots_per_device.size(); ++device) {
        const DeviceSlots& slots = slots_per_device[device];
        state_->slots.push_back(slots.shared);
        state_->shared_slots += slots.shared;
        state_->latency_slots += slots.latency;
        state_->latency_slots_per_device.push_back(slots.latency);
        state_->one_burst_per_model = state_->one_burst_per_model || slots.one_burst_per_model;
        for (uint32_t slot = 0; slot < slots.shared + slots.latency; ++slot) {
            const bool latency_slot = slot >= slots.shared;
            workers_.emplace_back(
                [state = state_, device, latency_slot] { work(state, device, latency_slot); });
        }
        workers_.emplace_back([state = state_, device] { lend(state, device); });
    }
}

ModelScheduler::~ModelScheduler() {
    stop();
}

Status ModelScheduler::add_model(uint64_t model_id, const std::string& name,
                                 const ModelSchedulingParams& params) {
    CORUN_RETURN_IF_ERROR(check_priority(params.priority));
    std::lock_guard lock(state_->mutex);
    auto [entry, added] = state_->models.try_emplace(model_id);
    if (!added) {
        return Status(StatusCode::INTERNAL_FAILURE,
                      "model id " + std::to_string(model_id) + " is already scheduled");
    }
    entry->second.name = name;
    entry->second.params = params;
    state_->recorder.name_model(model_id, name);
    return Status::ok();
}

Status ModelScheduler::set_params(uint64_t model_id, const ModelSchedulingParams& params) {
    CORUN_RETURN_IF_ERROR(check_priority(params.priority));
    {
        std::lock_guard lock(state_->mutex);
        auto found = state_->models.find(model_id);
        if (found == state_->models.end()) {
            return Status(StatusCode::NOT_FOUND,
                          "model id " + std::to_string(model_id) + " is not scheduled");
        }
        found->second.params = params;
        state_->refresh_priorities();
    }
    state_->wake.notify_all();
    state_->lend_wake.notify_all();  // a new priority may outrank a running unit
    return Status::ok();
}

void ModelScheduler::remove_model(uint64_t model_id) {
    cancel_queued(model_id, Status(StatusCode::SHUTDOWN, "the model was removed"));
    {
        std::lock_guard lock(state_->mutex);
        state_->models.erase(model_id);
        state_->refresh_priorities();
    }
    state_->wake.notify_all();  // a slot held for its next frame decides again
}

Status ModelScheduler::enqueue(InferRequest request) {
    std::optional<Refusal> refused;
    {
        std::lock_guard lock(state_->mutex);
        CORUN_RETURN_IF_ERROR(push_locked(std::move(request), refused));
    }
    if (refused) {
        refused->request.cancel(refused->reason);
        return Status::ok();
    }
    state_->wake.notify_all();
    return Status::ok();
}

Status ModelScheduler::push_locked(InferRequest request, std::optional<Refusal>& refused) {
    if (state_->stopping) return Status(StatusCode::SHUTDOWN, "the device group is shutting down");
    auto found = state_->models.find(request.model_id);
    if (found == state_->models.end()) {
        return Status(StatusCode::NOT_FOUND,
                      "model id " + std::to_string(request.model_id) + " is not scheduled");
    }
    ScheduledModel& model = found->second;
    const TimePoint now = state_->now();
    const TimePoint deadline = state_->deadline_of(request, model.params, now);
    if (deadline != NO_DEADLINE) {
        const FramePrediction prediction =
            state_->predict(request.model_id, model, now, deadline, request.frames);
        if (request.predicted) request.predicted(prediction.finish - now);
        if (prediction.finish > deadline) {
            ++model.deadlines.refused_predicted_late;
            if (state_->recorder.on()) {
                state_->recorder.frame_refused(now, request.model_id, request.frames);
            }
            refused.emplace(Refusal{std::move(request),
                                    deadline_exceeded(model.name, DeadlineRefusal::PREDICTED_LATE,
                                                      now, deadline, prediction.finish)});
            return Status::ok();
        }
        ++model.deadlines.admitted;
    }
    if (model.frames_queued == 0 && model.running == 0) {
        const PolicyOptions& options = state_->policy.options();
        if (model.last_finished) {
            model.returns_promptly = now - *model.last_finished <= options.anticipation;
        }
        if (!model.last_finished || now - *model.last_finished > options.idle_before_catch_up) {
            state_->catch_up(request.model_id, model);
        }
    }
    model.frames_queued += request.frames;
    uint64_t recorded_id = 0;
    if (state_->recorder.on()) {
        recorded_id = state_->recorder.frame_submitted(now, request.model_id, request.frames);
        state_->recorder.queue_depth(now, request.model_id, model.frames_queued);
    }
    model.queue.push_back(
        {std::move(request), now, deadline, state_->dispatches, model.dispatches, recorded_id});
    state_->refresh_priorities();
    state_->notify_lent_slots();
    return Status::ok();
}

Status ModelScheduler::run_or_enqueue(InferRequest request) {
    const uint64_t model_id = request.model_id;
    std::unique_lock lock(state_->mutex);
    std::optional<Refusal> refused;
    CORUN_RETURN_IF_ERROR(push_locked(std::move(request), refused));
    if (refused) {
        lock.unlock();
        refused->request.cancel(refused->reason);
        return Status::ok();
    }
    // Run on the caller's thread when a slot is free and the policy picks this request now:
    // the frame then skips a hand-off to a worker (a wake-up and a cold core; see
    // docs/PERFORMANCE.md). Otherwise it waits in the queue like any other.
    const ScheduledModel& model = state_->models.at(model_id);
    for (size_t device = 0; device < state_->slots.size(); ++device) {
        if (state_->busy_slots[device] >= state_->slots[device]) continue;
        const TimePoint now = state_->now();
        const PolicyResult result =
            state_->policy.decide(now, state_->refresh_view(now), state_->last_model[device]);
        // A slot held for a returning model's frame is held from callers too (a worker
        // decides once it comes or the window ends).
        if (!state_->late.empty() || !result.decision || result.decision->model_id != model_id ||
            model.queue.size() != 1 || state_->anticipation(now, device)) {
            break;
        }
        const Decision decision = *result.decision;
        Burst burst = state_->take_burst(decision, now, device, state_->last_model[device]);
        lock.unlock();
        const auto started = Clock::now();
        const int64_t device_ns = !burst.recording ? burst.requests.front().run(device)
                                                   : state_->run_recorded(burst, device);
        const int64_t wall_ns = nanoseconds_since(started);
        burst.requests.clear();
        lock.lock();
        state_->finish_burst(model_id, burst, device_ns, wall_ns, device);
        // The freed slot matters to a worker only if frames wait (or to stop_within(), waiting
        // for running work to end, or to a paused preemptible request waiting for this frame
        // to end); waking the workers for nothing would cost a context switch per frame.
        const bool frames_wait =
            state_->stopping || state_->paused_requests > 0 ||
            std::any_of(state_->models.begin(), state_->models.end(),
                        [](const auto& entry) { return entry.second.frames_queued > 0; });
        state_->flush_late(lock);
        lock.unlock();
        if (frames_wait) state_->wake.notify_all();
        return Status::ok();
    }
    state_->flush_late(lock);
    lock.unlock();
    state_->wake.notify_all();
    return Status::ok();
}

size_t ModelScheduler::cancel_queued(uint64_t model_id, const Status& reason) {
    std::deque<QueuedRequest> cancelled;
    {
        std::lock_guard lock(state_->mutex);
        auto found = state_->models.find(model_id);
        if (found == state_->models.end()) return 0;
        cancelled.swap(found->second.queue);
        found->second.frames_queued = 0;
        if (state_->recorder.on()) {
            const TimePoint now = state_->now();
            for (const auto& queued : cancelled) {
                state_->recorder.frame_cancelled(queued.recorded_id, now, FrameOutcome::CANCELLED);
            }
            state_->recorder.queue_depth(now, model_id, 0);
        }
        state_->refresh_priorities();
    }
    for (auto& queued : cancelled) queued.request.cancel(reason);
    return cancelled.size();
}

size_t ModelScheduler::in_flight() const {
    std::lock_guard lock(state_->mutex);
    size_t count = state_->running;
    for (const auto& [id, model] : state_->models) count += model.queue.size();
    return count;
}

std::vector<ModelSchedulingStats> ModelScheduler::stats() const {
    std::lock_guard lock(state_->mutex);
    std::vector<ModelSchedulingStats> all;
    for (const auto& [id, model] : state_->models) {
        ModelSchedulingStats stats{id,
                                   model.name,
                                   model.params,
                                   model.frames_done,
                                   model.device_time_ns,
                                   model.switches_in,
                                   model.frames_queued,
                                   model.running,
                                   model.max_overtaken_by,
                                   model.preemptions,
                                   {},
                                   model.deadlines,
                                   -1};
        const size_t kept = std::min(model.recent_latency_count, model.recent_latency_ns.size());
        stats.recent_latency_ns.assign(model.recent_latency_ns.begin(),
                                       model.recent_latency_ns.begin() + kept);
        if (const auto predicted = state_->predicted_latency(id, model)) {
            stats.predicted_latency_ns = predicted->count();
        }
        all.push_back(std::move(stats));
    }
    return all;
}

std::optional<std::chrono::nanoseconds> ModelScheduler::predicted_latency(uint64_t model_id) const {
    std::lock_guard lock(state_->mutex);
    auto found = state_->models.find(model_id);
    if (found == state_->models.end()) return std::nullopt;
    return state_->predicted_latency(model_id, found->second);
}

void ModelScheduler::set_decision_sink(DecisionSink sink) {
    std::lock_guard lock(state_->mutex);
    state_->sink = std::move(sink);
}

Status ModelScheduler::start_recording(const RecordingOptions& options) {
    std::lock_guard lock(state_->mutex);
    std::vector<RecordedDevice> devices;
    for (size_t device = 0; device < state_->slots.size(); ++device) {
        devices.push_back({state_->slots[device], state_->latency_slots_per_device[device]});
    }
    const TimePoint now = state_->now();
    const int64_t origin_steady_ns =
        std::chrono::duration_cast<std::chrono::nanoseconds>(state_->origin.time_since_epoch())
            .count();
    CORUN_RETURN_IF_ERROR(
        state_->recorder.start(options, now, origin_steady_ns, std::move(devices)));
    // Where every queue starts, so that the depth counters begin at the right level.
    for (const auto& [id, model] : state_->models) {
        state_->recorder.name_model(id, model.name);
        state_->recorder.queue_depth(now, id, model.frames_queued);
    }
    return Status::ok();
}

SchedulerRecording ModelScheduler::stop_recording() {
    std::lock_guard lock(state_->mutex);
    return state_->recorder.stop(state_->now());
}

bool ModelScheduler::outranked(uint8_t priority) const {
    if (priority >= PRIORITY_MAX) return false;
    return (state_->active_priorities.load(std::memory_order_relaxed) >> (priority + 1)) != 0;
}

int64_t ModelScheduler::yield_to_outranking(uint64_t model_id, size_t device_index) {
    const auto started = Clock::now();
    std::unique_lock lock(state_->mutex);
    auto self = state_->models.find(model_id);
    if (self == state_->models.end()) return 0;
    const uint8_t priority = self->second.params.priority;
    bool yielded = false;
    uint64_t active_model = model_id;
    while (!state_->stopping) {
        // The paused request keeps its slot and lends it: the outranking bursts run here, on
        // its thread, one after the other, as a worker of that slot would run them. No second
        // thread competes for the cores meanwhile (the paused request is blocked in this call).
        const TimePoint now = state_->now();
        const PolicyResult result =
            state_->policy.decide(now, state_->refresh_view_above(now, priority), active_model);
        if (state_->flush_late(lock)) continue;
        if (result.decision) {
            const Decision decision = *result.decision;
            Burst burst = state_->take_burst(decision, now, device_index, active_model,
                                             /*latency_slot=*/true, model_id);
            active_model = decision.model_id;
            yielded = true;
            state_->run_burst(lock, decision.model_id, burst, device_index,
                              /*latency_slot=*/true);
            continue;
        }
        // Outranking frames still run on other slots (latency slots, other callers): stay
        // paused so that they have the cores; wake when one finishes or another is queued. A
        // frame that waits for its threshold or timeout does not hold the request back.
        if (!state_->outranking_running(priority)) break;
        yielded = true;
        ++state_->paused_requests;
        state_->wait_for(lock, result);
        --state_->paused_requests;
    }
    if (!yielded) return 0;
    if (auto found = state_->models.find(model_id); found != state_->models.end()) {
        ++found->second.preemptions;
    }
    return std::chrono::duration_cast<std::chrono::nanoseconds>(Clock::now() - started).count();
}

void ModelScheduler::stop() {
    stop_within(std::chrono::nanoseconds::max());
}

void ModelScheduler::stop_within(std::chrono::nanoseconds limit) {
    std::vector<QueuedRequest> cancelled;
    {
        std::unique_lock lock(state_->mutex);
        if (state_->stopping && workers_.empty()) return;
        // Let running bursts finish, then stop the workers and cancel what is left.
        state_->stopping = true;
        const TimePoint now = state_->now();
        for (auto& [id, model] : state_->models) {
            for (auto& queued : model.queue) {
                state_->recorder.frame_cancelled(queued.recorded_id, now, FrameOutcome::CANCELLED);
                cancelled.push_back(std::move(queued));
            }
            if (model.frames_queued > 0) state_->recorder.queue_depth(now, id, 0);
            model.queue.clear();
            model.frames_queued = 0;
        }
    }
    state_->wake.notify_all();
    state_->lend_wake.notify_all();
    for (auto& queued : cancelled) {
        queued.request.cancel(Status(StatusCode::SHUTDOWN, "the device group was shut down"));
    }
    bool workers_idle = true;
    if (limit != std::chrono::nanoseconds::max()) {
        // Bursts running on callers' threads (run_or_enqueue) count too: `running` covers both.
        std::unique_lock lock(state_->mutex);
        workers_idle = state_->wake.wait_for(lock, limit, [&] { return state_->running == 0; });
    }
    for (auto& worker : workers_) {
        // The last reference to the group may be dropped by a job on a worker thread.
        if (worker.get_id() == std::this_thread::get_id() || !workers_idle) {
            worker.detach();
        } else if (worker.joinable()) {
            worker.join();
        }
    }
    workers_.clear();
}

}  // namespace corun::scheduler
