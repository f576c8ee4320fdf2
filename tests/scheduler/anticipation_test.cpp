// Anticipation: a shared slot that frees with frames waiting holds its decision, for a short
// window, for the next frame of a model whose client sends it from the completion of its last
// (PolicyOptions::anticipation). The policy's rule is pure and tested exactly; the threaded
// scheduler's is made exact by holding the slot with a blocking request and by a window of an
// hour, so that whether the held frame waits never depends on how fast a thread runs.
#include <gtest/gtest.h>

#include <chrono>
#include <mutex>
#include <vector>

#include "blocker.hpp"
#include "scheduler/model_scheduler.hpp"
#include "scheduler/scheduling_policy.hpp"
#include "test_support.hpp"

namespace corun::scheduler {
namespace {

using namespace std::chrono_literals;
using test::Counter;

// A model with a frame queued that has used 5 ms of the device (the returning models below have
// used none unless said: with fairness by device time their frames would win).
ModelQueueState waiting(uint64_t id, uint8_t priority, TimePoint deadline = NO_DEADLINE) {
    ModelQueueState state;
    state.model_id = id;
    state.params.priority = priority;
    state.frames_queued = 1;
    state.deadline = deadline;
    state.device_time_ns = 5'000'000;
    return state;
}

PolicyOptions with_window(std::chrono::nanoseconds window) {
    PolicyOptions options;
    options.aging_step = 0ns;
    options.anticipation = window;
    return options;
}

TEST(AnticipationPolicyTest, TheSlotWaitsUntilTheReturningModelsWindowEnds) {
    const SchedulingPolicy policy(with_window(250us));
    // Model 1 ended at 10 ms; at 10.1 ms model 2 waits: hold until 10.25 ms.
    EXPECT_EQ(policy.anticipate(10100us, {waiting(2, 16)}, {{1, 16, 10ms}}), 10250us);
    // Two returning models: until the earlier window ends (the slot decides again then).
    EXPECT_EQ(policy.anticipate(10100us, {waiting(3, 16)}, {{1, 16, 10ms}, {2, 16, 9900us}}),
              10150us);
    // A returning model of a higher priority than every waiting one is waited for too.
    EXPECT_EQ(policy.anticipate(10ms, {waiting(2, 16)}, {{1, 24, 10ms}}), 10250us);
}

TEST(AnticipationPolicyTest, OneSlotIsKeptPerReturningModel) {
    const SchedulingPolicy policy(with_window(250us));
    // Two slots free, one model returning: the first slot to decide runs the waiting frame,
    // the last one free holds.
    EXPECT_FALSE(policy.anticipate(10ms, {waiting(3, 16)}, {{1, 16, 10ms}}, 2));
    EXPECT_EQ(policy.anticipate(10ms, {waiting(3, 16)}, {{1, 16, 10ms}}, 1), 10250us);
    // Two returning: both free slots hold, until the earlier window ends.
    EXPECT_EQ(policy.anticipate(10ms, {waiting(3, 16)}, {{1, 16, 10ms}, {2, 16, 9900us}}, 2),
              10150us);
    // Only returning models that could win count: the one outranked keeps no slot.
    EXPECT_FALSE(policy.anticipate(10ms, {waiting(3, 20)}, {{1, 24, 10ms}, {2, 16, 10ms}}, 2));
    EXPECT_EQ(policy.anticipate(10ms, {waiting(3, 20)}, {{1, 24, 10ms}, {2, 16, 10ms}}, 1),
              10250us);
}

TEST(AnticipationPolicyTest, NothingIsHeldWhereWaitingCouldNotChangeTheDecision) {
    const SchedulingPolicy policy(with_window(250us));
    // The window has ended.
    EXPECT_FALSE(policy.anticipate(10250us, {waiting(2, 16)}, {{1, 16, 10ms}}));
    // Nothing waits: the slot has nothing to decide.
    EXPECT_FALSE(policy.anticipate(10ms, {}, {{1, 16, 10ms}}));
    // A waiting model outranks the returning one: it runs whether or not that frame comes.
    EXPECT_FALSE(policy.anticipate(10ms, {waiting(2, 24)}, {{1, 16, 10ms}}));
    // A waiting frame has a deadline: its slack is not spent on a guess.
    EXPECT_FALSE(policy.anticipate(10ms, {waiting(2, 16, 50ms)}, {{1, 24, 10ms}}));
    // No returning model.
    EXPECT_FALSE(policy.anticipate(10ms, {waiting(2, 16)}, {}));
    // Switched off, and without a scheduler (frames in arrival order).
    EXPECT_FALSE(
        SchedulingPolicy(with_window(0ns)).anticipate(10ms, {waiting(2, 16)}, {{1, 16, 10ms}}));
    PolicyOptions arrival_order = with_window(250us);
    arrival_order.arrival_order = true;
    EXPECT_FALSE(
        SchedulingPolicy(arrival_order).anticipate(10ms, {waiting(2, 16)}, {{1, 16, 10ms}}));
}

TEST(AnticipationPolicyTest, AReturningModelThatWouldLoseTheSlotIsNotWaitedFor) {
    const SchedulingPolicy policy(with_window(250us));
    // Fairness by device time: a returning model that has used as much as the least-served
    // waiting model of its level (5 ms) or more would lose the slot to it.
    EXPECT_FALSE(policy.anticipate(10ms, {waiting(2, 16)}, {{1, 16, 10ms, 5'000'000}}));
    EXPECT_FALSE(policy.anticipate(10ms, {waiting(2, 16)}, {{1, 16, 10ms, 9'000'000}}));
    EXPECT_EQ(policy.anticipate(10ms, {waiting(2, 16)}, {{1, 16, 10ms, 4'999'999}}), 10250us);
    // Only the waiting models of the top level count: a lower one's ledger does not.
    ModelQueueState low = waiting(3, 8);
    low.device_time_ns = 0;
    EXPECT_EQ(policy.anticipate(10ms, {waiting(2, 16), low}, {{1, 16, 10ms, 1'000'000}}), 10250us);
    // Above the waiting models' level, the ledger does not matter.
    EXPECT_EQ(policy.anticipate(10ms, {waiting(2, 16)}, {{1, 24, 10ms, 9'000'000}}), 10250us);
    // Round robin by turns: the slot waits (whose turn it is, the decision says).
    PolicyOptions turns = with_window(250us);
    turns.fair_device_time = false;
    EXPECT_EQ(
        SchedulingPolicy(turns).anticipate(10ms, {waiting(2, 16)}, {{1, 16, 10ms, 9'000'000}}),
        10250us);
}

TEST(AnticipationPolicyTest, AgingCountsForTheWaitingModelsPriority) {
    // One level per 10 ms of waiting: after 80 ms a priority-16 frame counts as 24, and a
    // returning priority-20 model no longer holds the slot from it.
    PolicyOptions options = with_window(250us);
    options.aging_step = 10ms;
    const SchedulingPolicy policy(options);
    ModelQueueState aged = waiting(2, 16);
    aged.oldest_enqueued = 0ms;
    EXPECT_TRUE(policy.anticipate(5ms, {aged}, {{1, 20, 5ms}}));
    EXPECT_FALSE(policy.anticipate(80ms, {aged}, {{1, 20, 80ms}}));
}

struct Recorder {
    std::mutex mutex;
    std::vector<uint64_t> order;
    Counter finished;

    InferRequest request(uint64_t model_id) {
        InferRequest request;
        request.model_id = model_id;
        request.run = [this, model_id](size_t) -> int64_t {
            {
                std::lock_guard lock(mutex);
                order.push_back(model_id);
            }
            finished.add();
            return 1000;
        };
        request.cancel = [this](Status) { finished.add(); };
        return request;
    }
};

ModelSchedulingParams with_priority(uint8_t priority) {
    ModelSchedulingParams params;
    params.priority = priority;
    return params;
}

// "returning" (priority `returning_priority`) runs a frame, sends its next the moment it
// completes (so its client counts as sending from completions), and that one holds the only
// slot while "waiting" (priority `waiting_priority`) queues a frame. The slot is then released.
// Constructed, "returning" has nothing queued and its last burst has been charged.
struct HeldSlot {
    ModelScheduler scheduler;
    Recorder recorder;
    HeldSlot(std::chrono::nanoseconds window, uint8_t returning_priority, uint8_t waiting_priority)
        : scheduler({DeviceSlots{1}}, with_window(window)) {
        EXPECT_TRUE(scheduler.add_model(1, "returning", with_priority(returning_priority)).is_ok());
        EXPECT_TRUE(scheduler.add_model(2, "waiting", with_priority(waiting_priority)).is_ok());
        Recorder first;
        EXPECT_TRUE(scheduler.enqueue(first.request(1)).is_ok());
        EXPECT_TRUE(first.finished.wait_for(1));
        EXPECT_TRUE(test::wait_until([&] { return scheduler.in_flight() == 0; }));
        Blocker holding;
        EXPECT_TRUE(scheduler.enqueue(holding.request(1)).is_ok());
        EXPECT_TRUE(holding.wait_until_entered());
        EXPECT_TRUE(scheduler.enqueue(recorder.request(2)).is_ok());
        holding.release();
        // Its burst charged, nothing of it queued.
        EXPECT_TRUE(test::wait_until([&] {
            const auto stats = scheduler.stats();
            return stats[0].frames_running == 0 && stats[0].frames_done == 2;
        }));
    }
};

TEST(AnticipationSchedulerTest, AFreedSlotWaitsForTheNextFrameOfAClientSendingFromItsCompletion) {
    // With a window of an hour the slot holds for "returning" (priority 24), whose next frame
    // then runs before the waiting priority-16 frame.
    HeldSlot held(std::chrono::hours(1), 24, 16);
    EXPECT_EQ(held.scheduler.stats()[1].frames_done, 0u);
    ASSERT_TRUE(held.scheduler.enqueue(held.recorder.request(1)).is_ok());
    ASSERT_TRUE(held.recorder.finished.wait_for(1));
    {
        std::lock_guard lock(held.recorder.mutex);
        EXPECT_EQ(held.recorder.order, (std::vector<uint64_t>{1}));
    }
    // "returning" sent its frame promptly again, and the slot holds for its next one (for an
    // hour here). Once it no longer outranks the waiting frame, that one runs.
    ASSERT_TRUE(held.scheduler.set_params(1, with_priority(8)).is_ok());
    ASSERT_TRUE(held.recorder.finished.wait_for(2));
    std::lock_guard lock(held.recorder.mutex);
    EXPECT_EQ(held.recorder.order, (std::vector<uint64_t>{1, 2}));
}

TEST(AnticipationSchedulerTest, WithoutAWindowTheWaitingFrameRunsAtOnce) {
    HeldSlot held(0ns, 24, 16);
    ASSERT_TRUE(held.recorder.finished.wait_for(1));  // nothing more is sent
    std::lock_guard lock(held.recorder.mutex);
    EXPECT_EQ(held.recorder.order, (std::vector<uint64_t>{2}));
}

TEST(AnticipationSchedulerTest, AWaitingFrameThatOutranksTheReturningModelIsNotHeld) {
    HeldSlot held(std::chrono::hours(1), 16, 24);
    ASSERT_TRUE(held.recorder.finished.wait_for(1));  // nothing more is sent
    std::lock_guard lock(held.recorder.mutex);
    EXPECT_EQ(held.recorder.order, (std::vector<uint64_t>{2}));
}

}  // namespace
}  // namespace corun::scheduler
