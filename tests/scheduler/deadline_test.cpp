// Deadlines: earliest deadline first within a priority level, admission that refuses exactly
// the frames predicted to finish late, frames dropped once their wait outgrew their deadline,
// and predictions that follow a change of execution time. The policy and the prediction are
// pure, so their tests are exact; the threaded scheduler's are made exact by holding its slot
// with a blocking request and by waiting for conditions (a deadline passed), never for a time.
#include <gtest/gtest.h>

#include <chrono>
#include <mutex>
#include <thread>
#include <vector>

#include "blocker.hpp"
#include "scheduler/admission.hpp"
#include "scheduler/execution_time_window.hpp"
#include "scheduler/model_scheduler.hpp"
#include "test_support.hpp"

namespace corun::scheduler {
namespace {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;
using test::Counter;

ModelQueueState queued(uint64_t id, uint8_t priority, TimePoint deadline) {
    ModelQueueState state;
    state.model_id = id;
    state.params.priority = priority;
    state.frames_queued = 1;
    state.deadline = deadline;
    return state;
}

TEST(DeadlinePolicyTest, TheEarliestDeadlineRunsFirstWithinALevel) {
    SchedulingPolicy policy;
    const std::vector<ModelQueueState> models{queued(1, 16, 30ms), queued(2, 16, 10ms),
                                              queued(3, 16, 20ms)};
    const PolicyResult result = policy.decide(0ms, models, 0);
    ASSERT_TRUE(result.decision);
    EXPECT_EQ(result.decision->model_id, 2u);
    EXPECT_EQ(result.decision->reason, DecisionReason::EARLIEST_DEADLINE);
    EXPECT_STREQ(decision_reason_name(result.decision->reason), "earliest-deadline");
}

TEST(DeadlinePolicyTest, AFrameWithADeadlineGoesBeforeOneWithoutButPriorityComesFirst) {
    SchedulingPolicy policy;
    // Same level: the one with a deadline first.
    EXPECT_EQ(
        policy.decide(0ms, {queued(1, 16, NO_DEADLINE), queued(2, 16, 50ms)}, 0).decision->model_id,
        2u);
    // A higher priority without a deadline still goes before a lower one with a deadline.
    EXPECT_EQ(
        policy.decide(0ms, {queued(1, 20, NO_DEADLINE), queued(2, 16, 1ms)}, 0).decision->model_id,
        1u);
    // Equal deadlines fall through to fair device time.
    auto first = queued(1, 16, 5ms);
    auto second = queued(2, 16, 5ms);
    first.device_time_ns = 10;
    const auto tied = policy.decide(0ms, {first, second}, 0).decision;
    EXPECT_EQ(tied->model_id, 2u);
    EXPECT_EQ(tied->reason, DecisionReason::FAIR_DEVICE_TIME);
}

TEST(AdmissionTest, PredictionCountsExactlyWhatRunsAhead) {
    AdmissionView view;
    view.now = 100ms;
    view.running_left_ns = {5'000'000};  // a burst with 5 ms left
    const uint64_t self = 7;
    view.queued = {
        {self, 16, 140ms, 1'000'000},     // own model's earlier frame: ahead (FIFO)
        {2, 20, NO_DEADLINE, 2'000'000},  // higher priority: ahead
        {3, 16, 120ms, 3'000'000},        // same level, earlier deadline: ahead
        {4, 16, 150ms, 4'000'000},        // same level, later deadline: behind
        {5, 16, NO_DEADLINE, 8'000'000},  // same level, no deadline: behind
        {6, 10, 110ms, 10'000'000},       // lower priority: behind
    };
    const FramePrediction prediction = predict_frame(view, self, 16, 140ms, 6'000'000);
    EXPECT_EQ(prediction.work_ahead_ns, 11'000'000);
    EXPECT_EQ(prediction.start, 111ms);
    EXPECT_EQ(prediction.finish, 117ms);
    // Two slots drain what is ahead in parallel.
    view.slots = 2;
    EXPECT_EQ(predict_frame(view, self, 16, 140ms, 6'000'000).finish, 111500us);
    // Without a deadline, every frame of its level counts (turns are not promised).
    view.slots = 1;
    EXPECT_EQ(predict_frame(view, self, 16, NO_DEADLINE, 0).work_ahead_ns, 23'000'000);
}

TEST(AdmissionTest, TheRefusalNamesModelReasonPredictionAndFix) {
    const Status refused =
        deadline_exceeded("blazeface", DeadlineRefusal::PREDICTED_LATE, 10ms, 30ms, 45ms);
    EXPECT_EQ(refused.code(), StatusCode::DEADLINE_EXCEEDED);
    EXPECT_EQ(refused.message(),
              "a frame of 'blazeface' was refused at admission (predicted-late): predicted to "
              "finish 35.00 ms after it was queued, 15.00 ms after its deadline (20.00 ms from "
              "queueing); skip the frame, send it to another device, or raise the SLO or lower "
              "the load");
}

TEST(ExecutionTimeWindowTest, PlansWithTheLargestOfTheLastTenAndFollowsAChange) {
    ExecutionTimeWindow window;
    EXPECT_FALSE(window.predict(1));
    for (int64_t ns : {3, 9, 4, 5, 2, 6, 7, 1, 8, 5}) window.record(1, ns * 1000);
    EXPECT_EQ(window.predict(1), 9000);
    // The execution time halves (another model stopped sharing the cores): after ten bursts
    // the slow ones have left the window, and the plan follows exactly.
    for (int i = 0; i < 9; ++i) window.record(1, 2000);
    EXPECT_EQ(window.predict(1), 5000);  // the oldest kept sample, 5 us, is still in it
    window.record(1, 2000);
    EXPECT_EQ(window.predict(1), 2000);
    // A burst size never measured: the slowest per-frame time scaled.
    window.record(4, 12000);  // 3 us a frame
    EXPECT_EQ(window.predict(2), 6000);
    EXPECT_EQ(window.predict(4), 12000);
}

struct Outcomes {
    std::mutex mutex;
    std::vector<uint64_t> ran;
    std::vector<Status> cancelled;
    Counter done;

    // A request of `model_id` that runs at least `runs_for` (a sleep: only a lower bound
    // matters to the assertions).
    InferRequest request(uint64_t model_id, Clock::time_point deadline = {},
                         std::chrono::nanoseconds runs_for = 0ns) {
        InferRequest request;
        request.model_id = model_id;
        request.deadline = deadline;
        request.run = [this, model_id, runs_for](size_t) {
            if (runs_for > 0ns) std::this_thread::sleep_for(runs_for);
            {
                std::lock_guard lock(mutex);
                ran.push_back(model_id);
            }
            done.add();
            return int64_t{1000};
        };
        request.cancel = [this](Status reason) {
            {
                std::lock_guard lock(mutex);
                cancelled.push_back(std::move(reason));
            }
            done.add();
        };
        return request;
    }
};

// Until every request left the scheduler: a request's completion (which the test waits for)
// runs before the scheduler charges its burst and counts its deadline.
void wait_idle(const Scheduler& scheduler) {
    while (scheduler.in_flight() != 0) std::this_thread::sleep_for(1ms);
}

DeadlineCounters counters_of(const Scheduler& scheduler, uint64_t model_id) {
    wait_idle(scheduler);
    for (const auto& stats : scheduler.stats()) {
        if (stats.model_id == model_id) return stats.deadlines;
    }
    ADD_FAILURE() << "no model " << model_id;
    return {};
}

TEST(DeadlineSchedulerTest, AFrameAlreadyPastItsDeadlineIsRefusedAtOnce) {
    ModelScheduler scheduler({DeviceSlots{1, 0}}, PolicyOptions{});
    ASSERT_TRUE(scheduler.add_model(1, "late", {}).is_ok());
    Outcomes outcomes;
    ASSERT_TRUE(scheduler.enqueue(outcomes.request(1, Clock::now() - 1ms)).is_ok());
    // Refused inside enqueue: completed before it returned.
    ASSERT_EQ(outcomes.done.count(), 1);
    ASSERT_EQ(outcomes.cancelled.size(), 1u);
    EXPECT_EQ(outcomes.cancelled[0].code(), StatusCode::DEADLINE_EXCEEDED);
    EXPECT_NE(outcomes.cancelled[0].message().find("refused at admission (predicted-late)"),
              std::string::npos);
    const DeadlineCounters counters = counters_of(scheduler, 1);
    EXPECT_EQ(counters.refused_predicted_late, 1u);
    EXPECT_EQ(counters.admitted, 0u);
    EXPECT_TRUE(outcomes.ran.empty());
}

TEST(DeadlineSchedulerTest, AdmissionRefusesExactlyTheFramesPredictedToFinishLate) {
    ModelScheduler scheduler({DeviceSlots{1, 0}}, PolicyOptions{});
    ASSERT_TRUE(scheduler.add_model(1, "slow", {}).is_ok());
    ASSERT_TRUE(scheduler.add_model(2, "holder", {}).is_ok());
    Outcomes outcomes;
    EXPECT_FALSE(scheduler.predicted_latency(1));  // nothing measured yet
    // One measured frame of at least 20 ms.
    ASSERT_TRUE(scheduler.enqueue(outcomes.request(1, {}, 20ms)).is_ok());
    ASSERT_TRUE(outcomes.done.wait_for(1));
    wait_idle(scheduler);
    ASSERT_TRUE(scheduler.predicted_latency(1));
    EXPECT_GE(*scheduler.predicted_latency(1), 20ms);

    Blocker holder;
    ASSERT_TRUE(scheduler.enqueue(holder.request(2)).is_ok());
    ASSERT_TRUE(holder.wait_until_entered());
    // Its own 20 ms cannot fit in 10 ms: refused at once, whatever else is going on.
    ASSERT_TRUE(scheduler.enqueue(outcomes.request(1, Clock::now() + 10ms)).is_ok());
    ASSERT_EQ(outcomes.done.count(), 2);
    ASSERT_EQ(outcomes.cancelled.size(), 1u);
    EXPECT_EQ(outcomes.cancelled[0].code(), StatusCode::DEADLINE_EXCEEDED);
    // A deadline an hour away is admitted and runs.
    ASSERT_TRUE(scheduler.enqueue(outcomes.request(1, Clock::now() + 1h)).is_ok());
    EXPECT_EQ(outcomes.done.count(), 2);
    holder.release();
    ASSERT_TRUE(outcomes.done.wait_for(3));
    const DeadlineCounters counters = counters_of(scheduler, 1);
    EXPECT_EQ(counters.refused_predicted_late, 1u);
    EXPECT_EQ(counters.admitted, 1u);
    EXPECT_EQ(counters.finished_in_time, 1u);
    EXPECT_EQ(counters.finished_late, 0u);
    EXPECT_EQ(outcomes.ran, (std::vector<uint64_t>{1, 1}));
}

TEST(DeadlineSchedulerTest, AFrameWhoseWaitOutgrewItsDeadlineIsDroppedBeforeItRuns) {
    ModelScheduler scheduler({DeviceSlots{1, 0}}, PolicyOptions{});
    ASSERT_TRUE(scheduler.add_model(1, "camera", {}).is_ok());
    ASSERT_TRUE(scheduler.add_model(2, "holder", {}).is_ok());
    Outcomes outcomes;
    Blocker holder;
    ASSERT_TRUE(scheduler.enqueue(holder.request(2)).is_ok());
    ASSERT_TRUE(holder.wait_until_entered());
    // Admitted (nothing measured predicts it late), then the slot stays taken past its deadline.
    // 500 ms: far more than a loaded machine takes from here to the enqueue, which would
    // otherwise refuse it as predicted late instead.
    const Clock::time_point deadline = Clock::now() + 500ms;
    ASSERT_TRUE(scheduler.enqueue(outcomes.request(1, deadline)).is_ok());
    ASSERT_TRUE(scheduler.enqueue(outcomes.request(1)).is_ok());  // no deadline: runs anyway
    while (Clock::now() <= deadline) std::this_thread::sleep_for(5ms);
    holder.release();
    ASSERT_TRUE(outcomes.done.wait_for(2));
    ASSERT_EQ(outcomes.cancelled.size(), 1u);
    EXPECT_EQ(outcomes.cancelled[0].code(), StatusCode::DEADLINE_EXCEEDED);
    EXPECT_NE(outcomes.cancelled[0].message().find("dropped before it ran (late-in-queue)"),
              std::string::npos);
    EXPECT_EQ(outcomes.ran, (std::vector<uint64_t>{1}));
    const DeadlineCounters counters = counters_of(scheduler, 1);
    EXPECT_EQ(counters.admitted, 1u);
    EXPECT_EQ(counters.dropped_late_in_queue, 1u);
    EXPECT_EQ(counters.finished_late + counters.finished_in_time, 0u);
}

TEST(DeadlineSchedulerTest, QueuedFramesOfOneLevelRunEarliestDeadlineFirst) {
    ModelScheduler scheduler({DeviceSlots{1, 0}}, PolicyOptions{});
    for (uint64_t id = 1; id <= 4; ++id) ASSERT_TRUE(scheduler.add_model(id, "m", {}).is_ok());
    Outcomes outcomes;
    Blocker holder;
    ASSERT_TRUE(scheduler.enqueue(holder.request(4)).is_ok());
    ASSERT_TRUE(holder.wait_until_entered());
    const Clock::time_point now = Clock::now();
    ASSERT_TRUE(scheduler.enqueue(outcomes.request(1, now + 3h)).is_ok());
    ASSERT_TRUE(scheduler.enqueue(outcomes.request(2)).is_ok());
    ASSERT_TRUE(scheduler.enqueue(outcomes.request(3, now + 1h)).is_ok());
    holder.release();
    ASSERT_TRUE(outcomes.done.wait_for(3));
    EXPECT_EQ(outcomes.ran, (std::vector<uint64_t>{3, 1, 2}));
}

TEST(DeadlineSchedulerTest, ALatencySloGivesEveryFrameADeadlineAndCountsLateFinishes) {
    ModelScheduler scheduler({DeviceSlots{1, 0}}, PolicyOptions{});
    ModelSchedulingParams params;
    params.latency_slo = 30ms;
    ASSERT_TRUE(scheduler.add_model(1, "slo", params).is_ok());
    Outcomes outcomes;
    // Never measured, so admitted; it then runs past its 30 ms.
    ASSERT_TRUE(scheduler.enqueue(outcomes.request(1, {}, 40ms)).is_ok());
    ASSERT_TRUE(outcomes.done.wait_for(1));
    DeadlineCounters counters = counters_of(scheduler, 1);
    EXPECT_EQ(counters.admitted, 1u);
    EXPECT_EQ(counters.finished_late, 1u);
    // Now the model is known to take >= 40 ms: a frame under the 30 ms SLO is refused.
    ASSERT_TRUE(scheduler.enqueue(outcomes.request(1)).is_ok());
    ASSERT_EQ(outcomes.done.count(), 2);
    ASSERT_EQ(outcomes.cancelled.size(), 1u);
    EXPECT_EQ(outcomes.cancelled[0].code(), StatusCode::DEADLINE_EXCEEDED);
    counters = counters_of(scheduler, 1);
    EXPECT_EQ(counters.refused_predicted_late, 1u);
    // Raising the SLO admits it again.
    params.latency_slo = 1h;
    ASSERT_TRUE(scheduler.set_params(1, params).is_ok());
    ASSERT_TRUE(scheduler.enqueue(outcomes.request(1)).is_ok());
    ASSERT_TRUE(outcomes.done.wait_for(3));
    EXPECT_EQ(counters_of(scheduler, 1).finished_in_time, 1u);
}

TEST(DeadlineSchedulerTest, AFrameThatOutranksAUnitLendingItsSlotIsNotPredictedToWaitForIt) {
    // An LLM's unit (preemptible) measured at >= 3 s holds the only slot; a vision frame of a
    // higher priority with a 1 s deadline runs beside it on the lent slot, so admission must
    // not count the unit's time as ahead of it (it did, and refused every such frame). The
    // margins are wide so that a loaded machine's slow threads change nothing: the lent slot
    // has 1 s to run the frame, the test 2 s to ask for the peer's frame while the unit's
    // remaining time is still predicted past that frame's deadline.
    ModelScheduler scheduler({DeviceSlots{1, 0}}, PolicyOptions{});
    ModelSchedulingParams llm, vision;
    llm.priority = 16;
    vision.priority = 24;
    ASSERT_TRUE(scheduler.add_model(1, "llm", llm).is_ok());
    ASSERT_TRUE(scheduler.add_model(2, "vision", vision).is_ok());
    ASSERT_TRUE(scheduler.add_model(3, "peer", llm).is_ok());
    Outcomes outcomes;
    InferRequest measured = outcomes.request(1, {}, 3s);
    measured.preemptible = true;
    ASSERT_TRUE(scheduler.enqueue(std::move(measured)).is_ok());
    ASSERT_TRUE(outcomes.done.wait_for(1));
    wait_idle(scheduler);

    Blocker unit;
    InferRequest held = unit.request(1);
    held.preemptible = true;
    ASSERT_TRUE(scheduler.enqueue(std::move(held)).is_ok());
    ASSERT_TRUE(unit.wait_until_entered());
    ASSERT_TRUE(scheduler.enqueue(outcomes.request(2, Clock::now() + 1s)).is_ok());
    ASSERT_TRUE(outcomes.done.wait_for(2));  // ran beside the unit, which still holds the slot
    EXPECT_TRUE(outcomes.cancelled.empty());
    // A frame of the unit's own level does wait for it: refused.
    ASSERT_TRUE(scheduler.enqueue(outcomes.request(3, Clock::now() + 1s)).is_ok());
    ASSERT_EQ(outcomes.done.count(), 3);
    ASSERT_EQ(outcomes.cancelled.size(), 1u);
    EXPECT_EQ(outcomes.cancelled[0].code(), StatusCode::DEADLINE_EXCEEDED);
    unit.release();
    const DeadlineCounters counters = counters_of(scheduler, 2);
    EXPECT_EQ(counters.admitted, 1u);
    EXPECT_EQ(counters.refused_predicted_late, 0u);
    EXPECT_EQ(outcomes.ran, (std::vector<uint64_t>{1, 2}));
}

}  // namespace
}  // namespace corun::scheduler
