// The threaded model scheduler: decisions in real time follow the policy. Orders are made
// exact by holding the device slot with a blocking request while the others queue up; what has
// not run yet is read from the decision sink and the stats, never inferred from a pause.
#include <gtest/gtest.h>

#include <atomic>
#include <map>
#include <mutex>
#include <thread>
#include <vector>

#include "blocker.hpp"
#include "scheduler/model_scheduler.hpp"
#include "test_support.hpp"

namespace corun::scheduler {
namespace {

using test::Counter;
using test::Gate;

struct Recorder {
    std::mutex mutex;
    std::vector<uint64_t> order;
    std::vector<Status> cancelled;
    Counter finished;

    InferRequest request(uint64_t model_id, int64_t device_ns = 1000) {
        InferRequest request;
        request.model_id = model_id;
        request.run = [this, model_id, device_ns](size_t) {
            {
                std::lock_guard lock(mutex);
                order.push_back(model_id);
            }
            finished.add();
            return device_ns;
        };
        request.cancel = [this](Status reason) {
            {
                std::lock_guard lock(mutex);
                cancelled.push_back(reason);
            }
            finished.add();
        };
        return request;
    }
    void wait_for(int count) {
        ASSERT_TRUE(finished.wait_for(count));
        ASSERT_EQ(finished.count(), count);
    }
};

ModelSchedulingParams with_priority(uint8_t priority) {
    ModelSchedulingParams params;
    params.priority = priority;
    return params;
}

PolicyOptions strict() {
    PolicyOptions options;
    options.aging_step = std::chrono::nanoseconds(0);
    options.fair_device_time = false;
    return options;
}

TEST(ModelSchedulerTest, HigherPriorityQueuedLaterRunsFirst) {
    ModelScheduler scheduler({DeviceSlots{1}}, strict());
    ASSERT_TRUE(scheduler.add_model(1, "blocker", with_priority(16)).is_ok());
    ASSERT_TRUE(scheduler.add_model(2, "low", with_priority(10)).is_ok());
    ASSERT_TRUE(scheduler.add_model(3, "high", with_priority(24)).is_ok());
    Blocker blocker;
    Recorder recorder;
    ASSERT_TRUE(scheduler.enqueue(blocker.request(1)).is_ok());
    ASSERT_TRUE(blocker.wait_until_entered());
    for (int i = 0; i < 3; ++i) ASSERT_TRUE(scheduler.enqueue(recorder.request(2)).is_ok());
    for (int i = 0; i < 3; ++i) ASSERT_TRUE(scheduler.enqueue(recorder.request(3)).is_ok());
    blocker.release();
    recorder.wait_for(6);
    EXPECT_EQ(recorder.order, (std::vector<uint64_t>{3, 3, 3, 2, 2, 2}));
}

// The cpu device sharing its cores by itself: two slots, but one burst of a model at a time, so
// that a model's jobs complete in order. Model 1's second frame, queued first, waits for its
// first; model 2's frame takes the free slot meanwhile.
TEST(ModelSchedulerTest, OneBurstPerModelKeepsAModelsFramesInOrder) {
    ModelScheduler scheduler({DeviceSlots{2, 0, true}}, strict());
    ASSERT_TRUE(scheduler.add_model(1, "m1", with_priority(16)).is_ok());
    ASSERT_TRUE(scheduler.add_model(2, "m2", with_priority(16)).is_ok());
    Blocker blocker;
    Recorder recorder;
    ASSERT_TRUE(scheduler.enqueue(blocker.request(1)).is_ok());
    ASSERT_TRUE(blocker.wait_until_entered());
    ASSERT_TRUE(scheduler.enqueue(recorder.request(1)).is_ok());
    ASSERT_TRUE(scheduler.enqueue(recorder.request(2)).is_ok());
    recorder.wait_for(1);
    EXPECT_EQ(recorder.order, (std::vector<uint64_t>{2}));
    blocker.release();
    recorder.wait_for(2);
    EXPECT_EQ(recorder.order, (std::vector<uint64_t>{2, 1}));
}

TEST(ModelSchedulerTest, EqualPrioritiesTakeTurns) {
    ModelScheduler scheduler({DeviceSlots{1}}, strict());
    for (uint64_t id = 1; id <= 3; ++id) {
        ASSERT_TRUE(scheduler.add_model(id, "m" + std::to_string(id), with_priority(16)).is_ok());
    }
    Blocker blocker;
    Recorder recorder;
    ASSERT_TRUE(scheduler.enqueue(blocker.request(1)).is_ok());
    ASSERT_TRUE(blocker.wait_until_entered());
    for (int i = 0; i < 2; ++i) {
        ASSERT_TRUE(scheduler.enqueue(recorder.request(2)).is_ok());
        ASSERT_TRUE(scheduler.enqueue(recorder.request(3)).is_ok());
    }
    blocker.release();
    recorder.wait_for(4);
    EXPECT_EQ(recorder.order, (std::vector<uint64_t>{2, 3, 2, 3}));
}

// max_overtaken_by counts the bursts of other models dispatched while one frame waited: what
// the monitor and the cross-process priority test read to see that priority held.
TEST(ModelSchedulerTest, StatsCountTheMostBurstsThatOvertookAWaitingFrame) {
    ModelScheduler scheduler({DeviceSlots{1}}, strict());
    ASSERT_TRUE(scheduler.add_model(1, "blocker", with_priority(16)).is_ok());
    ASSERT_TRUE(scheduler.add_model(2, "low", with_priority(10)).is_ok());
    ASSERT_TRUE(scheduler.add_model(3, "high", with_priority(24)).is_ok());
    ASSERT_TRUE(scheduler.add_model(4, "equal", with_priority(16)).is_ok());
    Blocker blocker;
    Recorder recorder;
    ASSERT_TRUE(scheduler.enqueue(blocker.request(1)).is_ok());
    ASSERT_TRUE(blocker.wait_until_entered());
    for (int i = 0; i < 2; ++i) ASSERT_TRUE(scheduler.enqueue(recorder.request(2)).is_ok());
    for (int i = 0; i < 2; ++i) ASSERT_TRUE(scheduler.enqueue(recorder.request(4)).is_ok());
    for (int i = 0; i < 3; ++i) ASSERT_TRUE(scheduler.enqueue(recorder.request(3)).is_ok());
    blocker.release();
    recorder.wait_for(7);
    ASSERT_EQ(recorder.order, (std::vector<uint64_t>{3, 3, 3, 4, 4, 2, 2}));
    std::map<uint64_t, uint64_t> overtaken;
    for (const auto& stats : scheduler.stats()) overtaken[stats.model_id] = stats.max_overtaken_by;
    // The top priority was queued last and still never overtaken; the equal one waited for the
    // three high bursts; the low one for those and the two equal ones.
    EXPECT_EQ(overtaken, (std::map<uint64_t, uint64_t>{{1, 0}, {2, 5}, {3, 0}, {4, 3}}));
}

TEST(ModelSchedulerTest, SetParamsTakesEffectOnTheNextDecision) {
    ModelScheduler scheduler({DeviceSlots{1}}, strict());
    ASSERT_TRUE(scheduler.add_model(1, "blocker", with_priority(16)).is_ok());
    ASSERT_TRUE(scheduler.add_model(2, "a", with_priority(16)).is_ok());
    ASSERT_TRUE(scheduler.add_model(3, "b", with_priority(16)).is_ok());
    Blocker blocker;
    Recorder recorder;
    ASSERT_TRUE(scheduler.enqueue(blocker.request(1)).is_ok());
    ASSERT_TRUE(blocker.wait_until_entered());
    for (int i = 0; i < 2; ++i) {
        ASSERT_TRUE(scheduler.enqueue(recorder.request(2)).is_ok());
        ASSERT_TRUE(scheduler.enqueue(recorder.request(3)).is_ok());
    }
    ASSERT_TRUE(scheduler.set_params(3, with_priority(30)).is_ok());
    EXPECT_EQ(scheduler.set_params(3, with_priority(32)).code(), StatusCode::INVALID_ARGUMENT);
    EXPECT_EQ(scheduler.set_params(99, with_priority(1)).code(), StatusCode::NOT_FOUND);
    blocker.release();
    recorder.wait_for(4);
    EXPECT_EQ(recorder.order, (std::vector<uint64_t>{3, 3, 2, 2}));
}

// Below its threshold a model is not ready, however long it waits (no timeout set). Shown
// exactly, without waiting to see that nothing happens: a lower-priority probe queued after the
// two frames runs first, so the decision that ran it saw the two frames queued and found them not
// ready (a ready model of higher priority would have been chosen instead).
TEST(ModelSchedulerTest, ThresholdHoldsFramesUntilReached) {
    ModelScheduler scheduler({DeviceSlots{1}}, strict());
    ModelSchedulingParams params;
    params.threshold = 3;
    params.burst = 3;
    ASSERT_TRUE(scheduler.add_model(1, "batched", params).is_ok());
    ASSERT_TRUE(scheduler.add_model(2, "probe", with_priority(10)).is_ok());
    std::vector<DecisionRecord> decisions;
    std::mutex decisions_mutex;
    scheduler.set_decision_sink([&](const DecisionRecord& record) {
        std::lock_guard lock(decisions_mutex);
        decisions.push_back(record);
    });
    Recorder recorder;
    ASSERT_TRUE(scheduler.enqueue(recorder.request(1)).is_ok());
    ASSERT_TRUE(scheduler.enqueue(recorder.request(1)).is_ok());
    ASSERT_TRUE(scheduler.enqueue(recorder.request(2)).is_ok());
    recorder.wait_for(1);
    {
        std::lock_guard lock(decisions_mutex);
        ASSERT_EQ(decisions.size(), 1u);
        EXPECT_EQ(decisions[0].model_id, 2u);
        EXPECT_EQ(decisions[0].queue_depths,
                  (std::vector<std::pair<uint64_t, uint32_t>>{{1, 2}, {2, 1}}));
    }
    EXPECT_EQ(recorder.order, (std::vector<uint64_t>{2}));  // two frames are below the threshold
    ASSERT_TRUE(scheduler.enqueue(recorder.request(1)).is_ok());
    recorder.wait_for(4);
    std::lock_guard lock(decisions_mutex);
    ASSERT_EQ(decisions.size(), 2u);
    EXPECT_EQ(decisions[1].model_id, 1u);
    EXPECT_EQ(decisions[1].frames, 3u);
    EXPECT_EQ(decisions[1].ready, ReadyReason::THRESHOLD);
}

TEST(ModelSchedulerTest, StopCancelsQueuedRequestsWithShutdownAndCountsEveryOne) {
    Recorder recorder;
    Blocker blocker;
    {
        ModelScheduler scheduler({DeviceSlots{1}}, strict());
        ASSERT_TRUE(scheduler.add_model(1, "m", with_priority(16)).is_ok());
        ASSERT_TRUE(scheduler.enqueue(blocker.request(1)).is_ok());
        ASSERT_TRUE(blocker.wait_until_entered());
        for (int i = 0; i < 5; ++i) ASSERT_TRUE(scheduler.enqueue(recorder.request(1)).is_ok());
        // Released only once stop() has cancelled the queue (the cancellations come from
        // stop()), so stop() then has a running request to wait for, and none of the queued
        // ones can have run.
        std::thread opener([&] {
            EXPECT_TRUE(recorder.finished.wait_for(5));
            blocker.release();
        });
        scheduler.stop();
        opener.join();
        EXPECT_EQ(scheduler.enqueue(recorder.request(1)).code(), StatusCode::SHUTDOWN);
    }
    EXPECT_EQ(recorder.finished.count(), 5);
    EXPECT_TRUE(recorder.order.empty());
    ASSERT_EQ(recorder.cancelled.size(), 5u);
    for (const auto& status : recorder.cancelled) EXPECT_EQ(status.code(), StatusCode::SHUTDOWN);
}

// What the process's exit handler relies on: a request that never finishes (a callback that
// blocks) does not hang stop_within(); its worker is left to finish on its own.
TEST(ModelSchedulerTest, StopWithinReturnsWhileARequestNeverFinishes) {
    Recorder recorder;
    static Blocker blocker;  // static: the worker left behind touches it after the test returns
    {
        ModelScheduler scheduler({DeviceSlots{1}}, strict());
        ASSERT_TRUE(scheduler.add_model(1, "m", with_priority(16)).is_ok());
        ASSERT_TRUE(scheduler.enqueue(blocker.request(1)).is_ok());
        ASSERT_TRUE(blocker.wait_until_entered());
        for (int i = 0; i < 3; ++i) ASSERT_TRUE(scheduler.enqueue(recorder.request(1)).is_ok());
        scheduler.stop_within(std::chrono::milliseconds(50));
        EXPECT_EQ(scheduler.enqueue(recorder.request(1)).code(), StatusCode::SHUTDOWN);
    }
    EXPECT_TRUE(recorder.order.empty());
    ASSERT_EQ(recorder.cancelled.size(), 3u);
    for (const auto& status : recorder.cancelled) EXPECT_EQ(status.code(), StatusCode::SHUTDOWN);
    blocker.release();  // the worker left behind returns and ends
}

TEST(ModelSchedulerTest, ManyClientsManyModelsEveryRequestRunsExactlyOnce) {
    ModelScheduler scheduler({DeviceSlots{2}}, PolicyOptions{});
    constexpr int models = 6, per_thread = 300;
    for (uint64_t id = 1; id <= models; ++id) {
        ASSERT_TRUE(
            scheduler.add_model(id, "m", with_priority(static_cast<uint8_t>(10 + id))).is_ok());
    }
    std::vector<std::atomic<int>> runs(models + 1);
    std::vector<std::thread> clients;
    for (int client = 0; client < models; ++client) {
        clients.emplace_back([&, client] {
            for (int i = 0; i < per_thread; ++i) {
                InferRequest request;
                request.model_id = static_cast<uint64_t>(client + 1);
                request.run = [&runs, client](size_t) {
                    ++runs[client + 1];
                    return int64_t{100};
                };
                request.cancel = [](Status) { ADD_FAILURE() << "nothing should be cancelled"; };
                while (!scheduler.enqueue(std::move(request)).is_ok()) {
                }
            }
        });
    }
    for (auto& client : clients) client.join();
    // in_flight() counts a request until its run is charged to the stats.
    ASSERT_TRUE(test::wait_until([&] { return scheduler.in_flight() == 0; }));
    for (int id = 1; id <= models; ++id) EXPECT_EQ(runs[id].load(), per_thread) << id;
    uint64_t frames = 0;
    for (const auto& stats : scheduler.stats()) frames += stats.frames_done;
    EXPECT_EQ(frames, static_cast<uint64_t>(models * per_thread));
}

TEST(ModelSchedulerTest, RunOrEnqueueRunsOnTheCallersThreadWhenASlotIsFree) {
    ModelScheduler scheduler({DeviceSlots{1}}, strict());
    ASSERT_TRUE(scheduler.add_model(1, "m", with_priority(16)).is_ok());
    std::thread::id ran_on;
    InferRequest request;
    request.run = [&](size_t) {
        ran_on = std::this_thread::get_id();
        return int64_t{500};
    };
    request.model_id = 1;
    request.cancel = [](Status) { ADD_FAILURE() << "nothing should be cancelled"; };
    ASSERT_TRUE(scheduler.run_or_enqueue(std::move(request)).is_ok());
    EXPECT_EQ(ran_on, std::this_thread::get_id());  // done when run_or_enqueue returned
    ASSERT_EQ(scheduler.stats().size(), 1u);
    EXPECT_EQ(scheduler.stats()[0].frames_done, 1u);
    EXPECT_EQ(scheduler.stats()[0].device_time_ns, 500);
    EXPECT_EQ(scheduler.in_flight(), 0u);
}

TEST(ModelSchedulerTest, RunOrEnqueueQueuesBehindHigherPriorityWorkAndTheBusySlot) {
    ModelScheduler scheduler({DeviceSlots{1}}, strict());
    ASSERT_TRUE(scheduler.add_model(1, "blocker", with_priority(16)).is_ok());
    ASSERT_TRUE(scheduler.add_model(2, "low", with_priority(10)).is_ok());
    ASSERT_TRUE(scheduler.add_model(3, "high", with_priority(24)).is_ok());
    Blocker blocker;
    Recorder recorder;
    ASSERT_TRUE(scheduler.enqueue(blocker.request(1)).is_ok());
    ASSERT_TRUE(blocker.wait_until_entered());
    // The slot is busy: the caller's request must queue, not run beside the blocker.
    ASSERT_TRUE(scheduler.run_or_enqueue(recorder.request(2)).is_ok());
    EXPECT_EQ(recorder.finished.count(), 0);
    ASSERT_TRUE(scheduler.enqueue(recorder.request(3)).is_ok());
    blocker.release();
    recorder.wait_for(2);
    EXPECT_EQ(recorder.order, (std::vector<uint64_t>{3, 2}));
}

TEST(ModelSchedulerTest, CallersAndWorkersNeverExceedTheSlots) {
    ModelScheduler scheduler({DeviceSlots{1}}, PolicyOptions{});
    constexpr int clients = 4, per_client = 200;
    for (uint64_t id = 1; id <= clients; ++id) {
        ASSERT_TRUE(scheduler.add_model(id, "m", with_priority(16)).is_ok());
    }
    std::atomic<int> running{0}, most{0}, runs{0};
    auto request_for = [&](uint64_t id) {
        InferRequest request;
        request.model_id = id;
        request.run = [&](size_t) {
            const int now = ++running;
            int seen = most.load();
            while (now > seen && !most.compare_exchange_weak(seen, now)) {
            }
            ++runs;
            --running;
            return int64_t{100};
        };
        request.cancel = [](Status) { ADD_FAILURE() << "nothing should be cancelled"; };
        return request;
    };
    std::vector<std::thread> threads;
    for (int client = 0; client < clients; ++client) {
        threads.emplace_back([&, client] {
            const auto id = static_cast<uint64_t>(client + 1);
            for (int i = 0; i < per_client; ++i) {
                // Half the clients call synchronously, half queue for the worker.
                Status status = client % 2 == 0 ? scheduler.run_or_enqueue(request_for(id))
                                                : scheduler.enqueue(request_for(id));
                ASSERT_TRUE(status.is_ok()) << status;
            }
        });
    }
    for (auto& thread : threads) thread.join();
    ASSERT_TRUE(test::wait_until([&] { return scheduler.in_flight() == 0; }));
    EXPECT_EQ(runs.load(), clients * per_client);
    EXPECT_EQ(most.load(), 1);
}

TEST(ModelSchedulerTest, LatencySlotRunsOnlyModelsAboveNormalPriority) {
    ModelScheduler scheduler({DeviceSlots{1, 1}}, strict());
    ASSERT_TRUE(scheduler.add_model(1, "blocker", with_priority(16)).is_ok());
    ASSERT_TRUE(scheduler.add_model(2, "normal", with_priority(16)).is_ok());
    ASSERT_TRUE(scheduler.add_model(3, "urgent", with_priority(24)).is_ok());
    Blocker blocker;
    Recorder recorder;
    ASSERT_TRUE(scheduler.enqueue(blocker.request(1)).is_ok());
    ASSERT_TRUE(blocker.wait_until_entered());
    // The shared slot is held: a normal model waits, the urgent one runs on the latency slot.
    ASSERT_TRUE(scheduler.enqueue(recorder.request(2)).is_ok());
    ASSERT_TRUE(scheduler.enqueue(recorder.request(3)).is_ok());
    recorder.wait_for(1);
    {
        std::lock_guard lock(recorder.mutex);
        EXPECT_EQ(recorder.order, (std::vector<uint64_t>{3}));
    }
    blocker.release();
    recorder.wait_for(2);
    EXPECT_EQ(recorder.order, (std::vector<uint64_t>{3, 2}));
}

TEST(ModelSchedulerTest, StatsKeepTheLatencyOfRecentRequests) {
    ModelScheduler scheduler({DeviceSlots{1}}, strict());
    ASSERT_TRUE(scheduler.add_model(1, "m", with_priority(16)).is_ok());
    for (int i = 0; i < 3; ++i) {
        InferRequest request;
        request.model_id = 1;
        // A slow frame on purpose: its latency (queue + execution, measured by the scheduler)
        // is then at least the 2 ms it ran, whatever the machine; a latency that left the
        // execution out would be far below.
        request.run = [](size_t) {
            std::this_thread::sleep_for(std::chrono::milliseconds(2));
            return int64_t{2'000'000};
        };
        request.cancel = [](Status) {};
        ASSERT_TRUE(scheduler.run_or_enqueue(std::move(request)).is_ok());
    }
    ASSERT_TRUE(test::wait_until([&] { return scheduler.in_flight() == 0; }));
    const auto stats = scheduler.stats();
    ASSERT_EQ(stats.size(), 1u);
    ASSERT_EQ(stats[0].recent_latency_ns.size(), 3u);
    for (int64_t latency : stats[0].recent_latency_ns) EXPECT_GE(latency, 2'000'000);
}

// With two slots a synchronous frame runs on its caller's thread beside the unit (run_or_enqueue:
// no worker in between, as corund's fast lane runs a camera frame). The unit, paused for it at a
// preemption point, must be woken when that frame ends: nothing else is queued that would wake it.
TEST(ModelSchedulerTest, APausedRequestResumesWhenAnOutrankingFrameOnItsCallersThreadEnds) {
    ModelScheduler scheduler({DeviceSlots{2}}, strict());
    ASSERT_TRUE(scheduler.add_model(1, "llm", with_priority(16)).is_ok());
    ASSERT_TRUE(scheduler.add_model(3, "vision", with_priority(24)).is_ok());
    Gate unit_entered, vision_running, vision_release, about_to_yield;
    std::atomic<pid_t> unit_thread{0};
    std::atomic<int64_t> lent_ns{-1};
    std::atomic<bool> vision_done{false}, vision_done_before_resume{false};
    std::atomic<bool> vision_on_caller{false};
    InferRequest unit;
    unit.model_id = 1;
    unit.preemptible = true;
    unit.run = [&](size_t device) {
        unit_entered.open();
        vision_running.wait();
        unit_thread = test::this_thread_id();
        about_to_yield.open();
        lent_ns = scheduler.yield_to_outranking(1, device);
        vision_done_before_resume = vision_done.load();
        return int64_t{1000};
    };
    unit.cancel = [](Status) {};
    ASSERT_TRUE(scheduler.enqueue(std::move(unit)).is_ok());
    ASSERT_TRUE(unit_entered.wait());
    std::thread camera([&] {
        InferRequest vision;
        vision.model_id = 3;
        const auto caller = std::this_thread::get_id();
        vision.run = [&, caller](size_t) {
            vision_on_caller = std::this_thread::get_id() == caller;
            vision_running.open();
            vision_release.wait();
            vision_done = true;
            return int64_t{500};
        };
        vision.cancel = [](Status) {};
        EXPECT_TRUE(scheduler.run_or_enqueue(std::move(vision)).is_ok());
    });
    ASSERT_TRUE(vision_running.wait());
    ASSERT_TRUE(about_to_yield.wait());
    ASSERT_TRUE(test::wait_until_blocked(unit_thread));
    vision_release.open();
    camera.join();
    EXPECT_TRUE(vision_on_caller) << "the frame was to run on its caller's thread (a free slot)";
    ASSERT_TRUE(test::wait_until([&] { return lent_ns.load() >= 0; }))
        << "the paused unit was never woken after the frame on its caller's thread ended";
    EXPECT_TRUE(vision_done_before_resume) << "the unit went on while the vision frame ran";
    EXPECT_GT(lent_ns.load(), 0);
}

}  // namespace
}  // namespace corun::scheduler

namespace corun::scheduler {
namespace {

// ---- preemptible requests (generative models' units) ----

// Which of two frames queued behind a running burst goes first, when model "a" (ledger 1 us)
// sends after its last burst was charged and "c" (6 us) and "b" (16 us, running) are busy;
// `idle_before_catch_up` decides whether "a" counts as waking from idle. The history: a, c, b
// each alone in turn (1, 5 and 10 us), each new model starting at the ledger floor.
// Runs one frame of each model alone, in turn, charging it `device_ns`.
void run_alone_in_turn(ModelScheduler& scheduler,
                       const std::vector<std::pair<uint64_t, int64_t>>& frames) {
    Recorder history;
    int done = 0;
    for (const auto& [model_id, device_ns] : frames) {
        EXPECT_TRUE(scheduler.enqueue(history.request(model_id, device_ns)).is_ok());
        history.wait_for(++done);
        EXPECT_TRUE(test::wait_until([&] { return scheduler.in_flight() == 0; }));
    }
}

std::vector<uint64_t> order_after_a_gap(std::chrono::nanoseconds idle_before_catch_up) {
    PolicyOptions options;
    options.aging_step = std::chrono::nanoseconds(0);
    options.idle_before_catch_up = idle_before_catch_up;
    ModelScheduler scheduler({DeviceSlots{1}}, options);
    EXPECT_TRUE(scheduler.add_model(1, "c", with_priority(16)).is_ok());
    EXPECT_TRUE(scheduler.add_model(2, "a", with_priority(16)).is_ok());
    EXPECT_TRUE(scheduler.add_model(3, "b", with_priority(16)).is_ok());
    run_alone_in_turn(scheduler, {{2, 1000}, {1, 5000}, {3, 10000}});
    Blocker b;
    EXPECT_TRUE(scheduler.enqueue(b.request(3)).is_ok());
    EXPECT_TRUE(b.wait_until_entered());
    Recorder recorder;
    EXPECT_TRUE(scheduler.enqueue(recorder.request(1)).is_ok());
    EXPECT_TRUE(scheduler.enqueue(recorder.request(2)).is_ok());
    b.release();
    recorder.wait_for(2);
    return recorder.order;
}

TEST(ModelSchedulerTest, OnlyAGapLongerThanTheMarginMakesAModelCatchUp) {
    // Kept as a short gap: "a" keeps its ledger (1 us, below c's 6 us) and goes first.
    EXPECT_EQ(order_after_a_gap(std::chrono::hours(1)), (std::vector<uint64_t>{2, 1}));
    // Counted as idle: "c" (idle too) catches up to b's 16 us, and "a" to the least busy model's
    // 16 us: tied, turn order after b gives c first.
    EXPECT_EQ(order_after_a_gap(std::chrono::nanoseconds(0)), (std::vector<uint64_t>{1, 2}));
}

TEST(ModelSchedulerTest, AModelWakingWithNoOtherBusyStartsAtTheLedgerFloor) {
    // "a" runs alone (10 us), then "b" alone (1 us): b starts at the floor a left (10 us), so
    // its ledger is 11 us, not 1. Queued behind a running "c", a (10 us, kept: the margin is an
    // hour) goes before b. Without the floor b (1 us) would go first, and would keep the device
    // until it had used what a used while b idled (VirtualTimeScheduleTest.AModelWakingOnAn...).
    PolicyOptions options;
    options.aging_step = std::chrono::nanoseconds(0);
    options.idle_before_catch_up = std::chrono::hours(1);
    ModelScheduler scheduler({DeviceSlots{1}}, options);
    ASSERT_TRUE(scheduler.add_model(1, "a", with_priority(16)).is_ok());
    ASSERT_TRUE(scheduler.add_model(2, "b", with_priority(16)).is_ok());
    ASSERT_TRUE(scheduler.add_model(3, "c", with_priority(16)).is_ok());
    run_alone_in_turn(scheduler, {{1, 10000}, {2, 1000}});
    Blocker c;
    ASSERT_TRUE(scheduler.enqueue(c.request(3)).is_ok());
    ASSERT_TRUE(c.wait_until_entered());
    Recorder recorder;
    ASSERT_TRUE(scheduler.enqueue(recorder.request(2)).is_ok());
    ASSERT_TRUE(scheduler.enqueue(recorder.request(1)).is_ok());
    c.release();
    recorder.wait_for(2);
    EXPECT_EQ(recorder.order, (std::vector<uint64_t>{1, 2}));
}

TEST(ModelSchedulerTest, OutrankingFramesRunBesideARunningPreemptibleRequest) {
    ModelScheduler scheduler({DeviceSlots{1}}, strict());
    ASSERT_TRUE(scheduler.add_model(1, "llm", with_priority(16)).is_ok());
    ASSERT_TRUE(scheduler.add_model(2, "equal", with_priority(16)).is_ok());
    ASSERT_TRUE(scheduler.add_model(3, "vision", with_priority(24)).is_ok());
    std::mutex trace_mutex;
    std::vector<DecisionRecord> trace;
    scheduler.set_decision_sink([&](const DecisionRecord& record) {
        std::lock_guard lock(trace_mutex);
        trace.push_back(record);
    });
    Blocker unit;
    InferRequest request = unit.request(1);
    request.preemptible = true;
    ASSERT_TRUE(scheduler.enqueue(std::move(request)).is_ok());
    ASSERT_TRUE(unit.wait_until_entered());
    Recorder recorder;
    ASSERT_TRUE(scheduler.enqueue(recorder.request(2)).is_ok());
    for (int i = 0; i < 3; ++i) ASSERT_TRUE(scheduler.enqueue(recorder.request(3)).is_ok());
    // The three vision frames complete while the unit still holds the only slot; the frame of
    // equal priority waits for it.
    ASSERT_TRUE(recorder.finished.wait_for(3));
    EXPECT_EQ(recorder.order, (std::vector<uint64_t>{3, 3, 3}));
    // Once their bursts are accounted for, nothing above 16 is queued or running.
    EXPECT_TRUE(test::wait_until([&] { return !scheduler.outranked(16); }));
    unit.release();
    recorder.wait_for(4);
    EXPECT_EQ(recorder.order, (std::vector<uint64_t>{3, 3, 3, 2}));
    scheduler.set_decision_sink(nullptr);
    std::lock_guard lock(trace_mutex);
    ASSERT_EQ(trace.size(), 5u);
    for (size_t i = 1; i < 4; ++i) {
        EXPECT_EQ(trace[i].model_id, 3u);
        EXPECT_EQ(trace[i].preempted_model, 1u) << "decision " << i;
    }
    EXPECT_EQ(trace[4].model_id, 2u);
    EXPECT_EQ(trace[4].preempted_model, 0u);
}

TEST(ModelSchedulerTest, AnOrdinaryRequestLendsNothing) {
    ModelScheduler scheduler({DeviceSlots{1}}, strict());
    ASSERT_TRUE(scheduler.add_model(1, "ordinary", with_priority(16)).is_ok());
    ASSERT_TRUE(scheduler.add_model(3, "vision", with_priority(24)).is_ok());
    Blocker blocker;
    ASSERT_TRUE(scheduler.enqueue(blocker.request(1)).is_ok());
    ASSERT_TRUE(blocker.wait_until_entered());
    Recorder recorder;
    ASSERT_TRUE(scheduler.enqueue(recorder.request(3)).is_ok());
    EXPECT_TRUE(scheduler.outranked(16));
    EXPECT_FALSE(scheduler.outranked(24));
    EXPECT_EQ(recorder.finished.count(), 0);
    blocker.release();
    recorder.wait_for(1);
}

TEST(ModelSchedulerTest, APreemptibleRequestPausesWhileOutrankingFramesRun) {
    ModelScheduler scheduler({DeviceSlots{1}}, strict());
    ASSERT_TRUE(scheduler.add_model(1, "llm", with_priority(16)).is_ok());
    ASSERT_TRUE(scheduler.add_model(3, "vision", with_priority(24)).is_ok());
    Gate unit_entered, vision_running, vision_release, about_to_yield;
    std::atomic<pid_t> unit_thread{0};
    std::atomic<int64_t> lent_ns{-1};
    std::atomic<bool> vision_done_before_resume{false};
    std::atomic<bool> vision_done{false};
    InferRequest unit;
    unit.model_id = 1;
    unit.preemptible = true;
    unit.run = [&](size_t device) {
        unit_entered.open();
        // A preemption point, reached while the vision frame runs beside the unit.
        vision_running.wait();
        EXPECT_TRUE(scheduler.outranked(16));
        unit_thread = test::this_thread_id();
        about_to_yield.open();
        lent_ns = scheduler.yield_to_outranking(1, device);
        vision_done_before_resume = vision_done.load();
        return int64_t{1000};
    };
    unit.cancel = [](Status) {};
    ASSERT_TRUE(scheduler.enqueue(std::move(unit)).is_ok());
    ASSERT_TRUE(unit_entered.wait());
    InferRequest vision;
    vision.model_id = 3;
    vision.run = [&](size_t) {
        vision_running.open();
        vision_release.wait();
        vision_done = true;
        return int64_t{500};
    };
    vision.cancel = [](Status) {};
    ASSERT_TRUE(scheduler.enqueue(std::move(vision)).is_ok());
    ASSERT_TRUE(vision_running.wait());
    // The unit pauses in yield_to_outranking until the vision frame is done.
    ASSERT_TRUE(about_to_yield.wait());
    ASSERT_TRUE(test::wait_until_blocked(unit_thread));
    vision_release.open();
    ASSERT_TRUE(test::wait_until([&] { return lent_ns.load() >= 0; }));
    EXPECT_TRUE(vision_done_before_resume) << "the unit went on while the vision frame ran";
    EXPECT_GT(lent_ns.load(), 0);
    for (const auto& stats : scheduler.stats()) {
        if (stats.model_id == 1) {
            EXPECT_EQ(stats.preemptions, 1u);
        }
    }
}

}  // namespace
}  // namespace corun::scheduler
