// Exact schedules of the model scheduler's policy in virtual time on the npu-sim timing model.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <set>

#include "scheduler/virtual_time_simulation.hpp"
#include "simulated_model_support.hpp"

namespace corun::scheduler {
namespace {

using std::chrono::microseconds;
using std::chrono::milliseconds;
using std::chrono::nanoseconds;
using std::chrono::seconds;

SimulatedModel model(const std::string& name, uint8_t priority, nanoseconds frame,
                     ArrivalPattern arrivals, uint32_t burst = 1, uint32_t capacity = 2) {
    SimulatedModel simulated =
        simulated_model(name, priority, frame, std::move(arrivals), capacity);
    simulated.params.burst = burst;
    return simulated;
}

std::vector<size_t> model_sequence(const SimulationResult& result, size_t count) {
    std::vector<size_t> sequence;
    for (size_t i = 0; i < count && i < result.dispatches.size(); ++i) {
        sequence.push_back(result.dispatches[i].model);
    }
    return sequence;
}

TEST(VirtualTimeScheduleTest, StrictPriorityStarvesTheLowerLevelWithoutAging) {
    auto result = simulate({model("high", 20, milliseconds(1), ArrivalPattern::saturate()),
                            model("low", 16, milliseconds(1), ArrivalPattern::saturate())},
                           nanoseconds(0), strict(), milliseconds(100));
    EXPECT_EQ(result.models[0].frames_done, 100u);
    EXPECT_EQ(result.models[1].frames_done, 0u);
    ASSERT_EQ(result.dispatches.size(), 100u);
    EXPECT_EQ(result.dispatches[0].reason, DecisionReason::HIGHER_PRIORITY);
    for (size_t i = 1; i < result.dispatches.size(); ++i) {
        EXPECT_EQ(result.dispatches[i].model, 0u);
        EXPECT_EQ(result.dispatches[i].reason, DecisionReason::KEEP_ACTIVE) << i;
    }
}

TEST(VirtualTimeScheduleTest, RoundRobinInsideAPriorityLevel) {
    auto result = simulate({model("a", 16, milliseconds(1), ArrivalPattern::saturate()),
                            model("b", 16, milliseconds(1), ArrivalPattern::saturate()),
                            model("c", 16, milliseconds(1), ArrivalPattern::saturate())},
                           nanoseconds(0), strict(), milliseconds(9));
    EXPECT_EQ(model_sequence(result, 9), (std::vector<size_t>{0, 1, 2, 0, 1, 2, 0, 1, 2}));
    for (size_t i = 1; i < 9; ++i) {
        EXPECT_EQ(result.dispatches[i].reason, DecisionReason::ROUND_ROBIN);
        EXPECT_EQ(result.dispatches[i].start, milliseconds(i));
    }
}

TEST(VirtualTimeScheduleTest, ThresholdHoldsAModelUntilEnoughFrames) {
    auto held = model("batched", 16, microseconds(500), ArrivalPattern::periodic(milliseconds(1)),
                      /*burst=*/4, /*capacity=*/8);
    held.params.threshold = 4;
    auto result = simulate({held}, nanoseconds(0), strict(), milliseconds(10));
    ASSERT_GE(result.dispatches.size(), 2u);
    // Frames arrive at 0, 1, 2, 3 ms: the model is ready with the fourth.
    EXPECT_EQ(result.dispatches[0].start, milliseconds(3));
    EXPECT_EQ(result.dispatches[0].frames, 4u);
    EXPECT_EQ(result.dispatches[0].ready, ReadyReason::THRESHOLD);
    EXPECT_EQ(result.dispatches[1].start, milliseconds(7));
    EXPECT_EQ(result.dispatches[1].frames, 4u);
    // Latency of the first frame: it waited 3 ms, then 4 frames of 0.5 ms ran.
    EXPECT_DOUBLE_EQ(result.models[0].latency_ms.front(), 5.0);
}

TEST(VirtualTimeScheduleTest, TimeoutReleasesAModelBelowItsThreshold) {
    auto held = model("sparse", 16, microseconds(500), ArrivalPattern::periodic(milliseconds(10)),
                      /*burst=*/4, /*capacity=*/8);
    held.params.threshold = 4;
    held.params.timeout = milliseconds(2);
    auto result = simulate({held}, nanoseconds(0), strict(), milliseconds(25));
    ASSERT_EQ(result.dispatches.size(), 3u);
    for (size_t i = 0; i < 3; ++i) {
        EXPECT_EQ(result.dispatches[i].start, milliseconds(10 * i + 2));
        EXPECT_EQ(result.dispatches[i].frames, 1u);
        EXPECT_EQ(result.dispatches[i].ready, ReadyReason::TIMEOUT);
    }
}

TEST(VirtualTimeScheduleTest, BurstSizeIsTheRunBeforeASwitch) {
    auto result = simulate({model("burst4", 16, milliseconds(1), ArrivalPattern::saturate(),
                                  /*burst=*/4, /*capacity=*/8),
                            model("burst1", 16, milliseconds(1), ArrivalPattern::saturate())},
                           nanoseconds(0), strict(), milliseconds(20));
    ASSERT_GE(result.dispatches.size(), 6u);
    for (size_t i = 0; i < 6; ++i) {
        EXPECT_EQ(result.dispatches[i].model, i % 2);
        EXPECT_EQ(result.dispatches[i].frames, i % 2 == 0 ? 4u : 1u);
    }
    EXPECT_EQ(result.dispatches[1].start, milliseconds(4));
    EXPECT_EQ(result.dispatches[2].start, milliseconds(5));
}

TEST(VirtualTimeScheduleTest, ActiveModelKeepsTheDeviceUntilAnEqualPriorityModelIsReady) {
    auto result =
        simulate({model("active", 16, milliseconds(1), ArrivalPattern::saturate()),
                  model("peer", 16, milliseconds(1), ArrivalPattern::at({microseconds(10500)})),
                  model("lower", 10, milliseconds(1), ArrivalPattern::saturate())},
                 nanoseconds(0), strict(), milliseconds(14));
    ASSERT_GE(result.dispatches.size(), 13u);
    EXPECT_EQ(result.dispatches[0].model, 0u);
    EXPECT_EQ(result.dispatches[0].reason, DecisionReason::HIGHER_PRIORITY);
    for (size_t i = 1; i <= 10; ++i) {
        EXPECT_EQ(result.dispatches[i].model, 0u) << i;
        EXPECT_EQ(result.dispatches[i].reason, DecisionReason::KEEP_ACTIVE) << i;
    }
    // The peer's frame arrived at 10.5 ms; at the 11 ms decision it takes its turn.
    EXPECT_EQ(result.dispatches[11].model, 1u);
    EXPECT_EQ(result.dispatches[11].start, milliseconds(11));
    EXPECT_EQ(result.dispatches[11].reason, DecisionReason::ROUND_ROBIN);
    EXPECT_EQ(result.dispatches[12].model, 0u);
    EXPECT_EQ(result.models[2].frames_done, 0u);
}

TEST(VirtualTimeScheduleTest, AgingBoundsHowLongALowPriorityFrameWaits) {
    PolicyOptions options;
    options.fair_device_time = true;
    options.aging_step = milliseconds(10);
    auto result =
        simulate({model("urgent", 31, milliseconds(1), ArrivalPattern::saturate()),
                  model("background", 0, milliseconds(1), ArrivalPattern::at({nanoseconds(0)}))},
                 nanoseconds(0), options, milliseconds(400));
    ASSERT_EQ(result.models[1].frames_done, 1u);
    // Priority 0 gains a level each 10 ms and ties the top level (31) at 310 ms: the bound is
    // (31 - 0) x aging step, plus the burst running at that moment (here it ends exactly then).
    auto background = std::find_if(result.dispatches.begin(), result.dispatches.end(),
                                   [](const SimulatedDispatch& d) { return d.model == 1; });
    ASSERT_NE(background, result.dispatches.end());
    EXPECT_EQ(background->start, milliseconds(310));
    EXPECT_DOUBLE_EQ(result.models[1].latency_ms.front(), 311.0);
}

TEST(VirtualTimeScheduleTest, AgingCountsFromTheLastServiceSoADeepQueueDoesNotJumpALevel) {
    PolicyOptions options;
    options.aging_step = milliseconds(10);
    // "deep" has a queue of 8 that stays full, so its oldest frame has always waited long; it
    // still gains only one level per 10 ms since it was last served, and so gets exactly one
    // frame each 10 ms beside the saturating level above it.
    auto result = simulate({model("busy", 16, milliseconds(1), ArrivalPattern::saturate()),
                            model("deep", 15, milliseconds(1), ArrivalPattern::saturate(), 1, 8)},
                           nanoseconds(0), options, seconds(1));
    std::vector<nanoseconds> deep_starts;
    for (const auto& dispatch : result.dispatches) {
        if (dispatch.model == 1) deep_starts.push_back(dispatch.start);
    }
    ASSERT_GE(deep_starts.size(), 5u);
    for (size_t i = 0; i < 5; ++i) EXPECT_EQ(deep_starts[i], milliseconds(10 * (i + 1))) << i;
    EXPECT_EQ(result.models[1].frames_done, 99u);
}

TEST(VirtualTimeScheduleTest, DeviceTimeFairnessSplitsTimeNotFrames) {
    const std::vector<SimulatedModel> models = {
        model("fast", 16, milliseconds(1), ArrivalPattern::saturate()),
        model("slow", 16, milliseconds(5), ArrivalPattern::saturate())};
    PolicyOptions fair;
    fair.aging_step = nanoseconds(0);
    auto result = simulate(models, nanoseconds(0), fair, seconds(10));
    const double fast = result.models[0].device_time.count();
    const double slow = result.models[1].device_time.count();
    EXPECT_NEAR(fast / (fast + slow), 0.5, 0.01);  // half each, within 2% of a half

    // Round robin by frames gives the slow model five times the device.
    auto by_frames = simulate(models, nanoseconds(0), strict(false), seconds(10));
    const double fast_rr = by_frames.models[0].device_time.count();
    const double slow_rr = by_frames.models[1].device_time.count();
    EXPECT_NEAR(fast_rr / (fast_rr + slow_rr), 1.0 / 6.0, 0.001);
    EXPECT_NEAR(static_cast<double>(by_frames.models[0].frames_done),
                static_cast<double>(by_frames.models[1].frames_done), 1.0);
}

TEST(VirtualTimeScheduleTest, ContextSwitchCostIsChargedOnEveryModelChange) {
    auto result = simulate({model("a", 16, milliseconds(1), ArrivalPattern::saturate()),
                            model("b", 16, milliseconds(1), ArrivalPattern::saturate())},
                           microseconds(500), strict(), milliseconds(15));
    // a, switch+b, switch+a, ...: each dispatch after the first costs 1.5 ms.
    ASSERT_GE(result.dispatches.size(), 4u);
    EXPECT_FALSE(result.dispatches[0].switched);
    EXPECT_EQ(result.dispatches[1].start, milliseconds(1));
    EXPECT_EQ(result.dispatches[1].end, microseconds(2500));
    EXPECT_TRUE(result.dispatches[1].switched);
    size_t switches = 0;
    for (const auto& dispatch : result.dispatches) switches += dispatch.switched ? 1 : 0;
    EXPECT_EQ(result.switch_time, switches * microseconds(500));
}

TEST(VirtualTimeScheduleTest, IsExactlyRepeatable) {
    const std::vector<SimulatedModel> models = {
        model("a", 16, microseconds(700), ArrivalPattern::periodic(microseconds(1300))),
        model("b", 18, microseconds(2100), ArrivalPattern::saturate(), 2, 4),
        model("c", 12, microseconds(300), ArrivalPattern::periodic(microseconds(900)))};
    PolicyOptions options;
    auto first = simulate(models, microseconds(200), options, seconds(5));
    auto second = simulate(models, microseconds(200), options, seconds(5));
    ASSERT_EQ(first.dispatches.size(), second.dispatches.size());
    for (size_t i = 0; i < first.dispatches.size(); ++i) {
        EXPECT_EQ(first.dispatches[i].start, second.dispatches[i].start);
        EXPECT_EQ(first.dispatches[i].model, second.dispatches[i].model);
    }
    // Aging keeps the lowest level alive beside a saturating higher one.
    EXPECT_GT(first.models[2].frames_done, 0u);
}

// --- Arrival processes beyond saturating, periodic and listed ----------------------------------

std::vector<nanoseconds> dispatch_starts(const SimulationResult& result, size_t model_index) {
    std::vector<nanoseconds> starts;
    for (const auto& dispatch : result.dispatches) {
        if (dispatch.model == model_index) starts.push_back(dispatch.start);
    }
    return starts;
}

double mean(const std::vector<double>& values) {
    double sum = 0;
    for (double value : values) sum += value;
    return values.empty() ? 0 : sum / static_cast<double>(values.size());
}

TEST(VirtualTimeScheduleTest, PoissonArrivalsAreSeededAndRepeatable) {
    auto poisson = [](uint64_t seed) {
        return model("p", 16, microseconds(100), ArrivalPattern::poisson(milliseconds(1), seed), 1,
                     64);
    };
    auto first = simulate({poisson(7)}, nanoseconds(0), strict(), seconds(10));
    auto again = simulate({poisson(7)}, nanoseconds(0), strict(), seconds(10));
    auto other = simulate({poisson(8)}, nanoseconds(0), strict(), seconds(10));
    EXPECT_EQ(dispatch_starts(first, 0), dispatch_starts(again, 0));
    EXPECT_NE(dispatch_starts(first, 0), dispatch_starts(other, 0));
    // Gaps are not periodic: the first ten starts are not evenly spaced.
    const auto starts = dispatch_starts(first, 0);
    ASSERT_GT(starts.size(), 10u);
    std::set<int64_t> gaps;
    for (size_t i = 1; i < 10; ++i) gaps.insert((starts[i] - starts[i - 1]).count());
    EXPECT_GT(gaps.size(), 5u);
    // A mean gap of 1 ms over 10 s: about 10,000 frames (the seed fixes the count).
    EXPECT_NEAR(static_cast<double>(first.models[0].frames_done), 10000.0, 300.0);
    EXPECT_EQ(first.models[0].frames_dropped, 0u);
}

TEST(VirtualTimeScheduleTest, PoissonArrivalsOnOneSlotWaitAsQueueingTheorySays) {
    // M/D/1 at 50% load (Pollaczek-Khinchine): a 1 ms frame waits 0.5 ms on average, so the mean
    // latency is 1.5 ms.
    auto result = simulate(
        {model("md1", 16, milliseconds(1), ArrivalPattern::poisson(milliseconds(2), 3), 1, 1000)},
        nanoseconds(0), strict(), seconds(500));
    EXPECT_NEAR(mean(result.models[0].latency_ms), 1.5, 0.03);
    EXPECT_EQ(result.models[0].frames_dropped, 0u);
}

TEST(VirtualTimeScheduleTest, ClosedLoopClientsSendAfterTheirThinkTime) {
    // One client: 2 ms on the device, then 3 ms of thinking.
    auto one = simulate(
        {model("solo", 16, milliseconds(2), ArrivalPattern::closed_loop(1, milliseconds(3)))},
        nanoseconds(0), strict(), milliseconds(20));
    EXPECT_EQ(dispatch_starts(one, 0),
              (std::vector<nanoseconds>{milliseconds(0), milliseconds(5), milliseconds(10),
                                        milliseconds(15)}));
    EXPECT_EQ(one.models[0].latency_ms, (std::vector<double>{2.0, 2.0, 2.0, 2.0}));

    // Two clients, 1 ms of thinking: the second waits for the first at the start, then the
    // clients take turns and each frame waits 1 ms for the other's.
    auto two = simulate(
        {model("pair", 16, milliseconds(2), ArrivalPattern::closed_loop(2, milliseconds(1)))},
        nanoseconds(0), strict(), milliseconds(12));
    EXPECT_EQ(dispatch_starts(two, 0),
              (std::vector<nanoseconds>{milliseconds(0), milliseconds(2), milliseconds(4),
                                        milliseconds(6), milliseconds(8), milliseconds(10)}));
    // Sent at 0, 0, 3, 5, 7, 9; done at 2, 4, 6, 8, 10, 12.
    EXPECT_EQ(two.models[0].latency_ms, (std::vector<double>{2.0, 4.0, 3.0, 3.0, 3.0, 3.0}));
}

TEST(VirtualTimeScheduleTest, AClientSendingWithinTheWindowKeepsItsShareAndOneThatThinksLosesIt) {
    // One client each, 1 ms and 4 ms frames, fairness by device time. Sending the next frame the
    // moment the last completed is not waking from idle: the ledgers stay as they are and the
    // device splits half and half (four short frames per long one).
    auto share_of_short = [](nanoseconds think, nanoseconds anticipation) {
        PolicyOptions options;
        options.anticipation = anticipation;
        auto result = simulate(
            {model("short", 16, milliseconds(1), ArrivalPattern::closed_loop(1, think)),
             model("long", 16, milliseconds(4), ArrivalPattern::closed_loop(1, nanoseconds(0)))},
            nanoseconds(0), options, seconds(1));
        const double short_time = result.models[0].device_time.count();
        const double long_time = result.models[1].device_time.count();
        return short_time / (short_time + long_time);
    };
    const nanoseconds window = PolicyOptions{}.anticipation;
    ASSERT_EQ(window, microseconds(250));
    EXPECT_NEAR(share_of_short(nanoseconds(0), window), 0.5, 0.01);
    // A frame 1 us after the completion, within the anticipation window: the slot waits for it,
    // and the short model keeps its half.
    EXPECT_NEAR(share_of_short(microseconds(1), window), 0.5, 0.01);
    // Without the window, the long model takes the slot while the short one thinks: the two
    // alternate frame by frame (one short frame per long one, 1 ms of every 5).
    EXPECT_NEAR(share_of_short(microseconds(1), nanoseconds(0)), 0.2, 0.01);
    // A think time longer than the window: not waited for, they alternate.
    EXPECT_NEAR(share_of_short(microseconds(300), window), 0.2, 0.01);
}

TEST(VirtualTimeScheduleTest, AClientsReturnGapDecidesWhetherAHoldingSlotGetsItsFrame) {
    // As above, with no think time: where the short model's next frame comes is its measured
    // return gap after the decision (SimulatedModel::closed_loop_gaps), drawn per completion.
    auto share_of_short = [](std::vector<nanoseconds> gaps, nanoseconds anticipation) {
        PolicyOptions options;
        options.anticipation = anticipation;
        std::vector<SimulatedModel> models = {
            model("short", 16, milliseconds(1), ArrivalPattern::closed_loop(1, nanoseconds(0))),
            model("long", 16, milliseconds(4), ArrivalPattern::closed_loop(1, nanoseconds(0)))};
        models[0].closed_loop_gaps = std::move(gaps);
        models[0].closed_loop_in_time = 1;  // the gaps win over a share
        SimulatedDevice device;
        const auto result = simulate(models, device, options, seconds(1));
        const double short_time = result.models[0].device_time.count();
        const double long_time = result.models[1].device_time.count();
        return short_time / (short_time + long_time);
    };
    const nanoseconds window = microseconds(250);
    // Always in time: it competes at the decision and keeps its half, window or not.
    EXPECT_NEAR(share_of_short({nanoseconds(0)}, nanoseconds(0)), 0.5, 0.01);
    // Always 100 us late: within the window the slot waits for it; without a window, or 300 us
    // late (beyond the window), long takes the slot and they alternate.
    EXPECT_NEAR(share_of_short({microseconds(100)}, window), 0.5, 0.01);
    EXPECT_NEAR(share_of_short({microseconds(100)}, nanoseconds(0)), 0.2, 0.01);
    EXPECT_NEAR(share_of_short({microseconds(300)}, window), 0.2, 0.01);
    // Half of the frames within the window and half beyond it (gaps drawn between 100 and 400
    // us): strictly between the two.
    const double half = share_of_short({microseconds(100), microseconds(400)}, window);
    EXPECT_GT(half, 0.25);
    EXPECT_LT(half, 0.45);
    // The device's gaps stand for a model without its own gaps or share.
    std::vector<SimulatedModel> models = {
        model("short", 16, milliseconds(1), ArrivalPattern::closed_loop(1, nanoseconds(0))),
        model("long", 16, milliseconds(4), ArrivalPattern::closed_loop(1, nanoseconds(0)))};
    SimulatedDevice late_device;
    late_device.closed_loop_gaps = {microseconds(300)};
    const auto result = simulate(models, late_device, PolicyOptions{}, seconds(1));
    EXPECT_NEAR(static_cast<double>(result.models[0].frames_done) /
                    static_cast<double>(result.models[1].frames_done),
                1.0, 0.01);  // alternating frame by frame
}

TEST(VirtualTimeScheduleTest, ASlotWaitsForAReturningFrameOnlyUntilItComes) {
    // "short" (1 ms) sends its next frame 100 us after each completion, "long" (4 ms) the moment
    // its last completed. Short's first frame ends at 1 ms; it has not yet been seen to return
    // promptly, so long runs at once, 1-5. Short's frame (1.1) runs 5-6 (its ledger 1 ms against
    // long's 4); then the slot holds 100 us for short's next frame, which would win: 6.1-7.1,
    // 7.2-8.2. At 8.2 the ledgers tie at 4 ms: short's frame would lose, the slot does not wait,
    // and long runs 8.2-12.2; then short, 12.2-13.2, and after a hold 13.3.
    auto result = simulate(
        {model("short", 16, milliseconds(1), ArrivalPattern::closed_loop(1, microseconds(100))),
         model("long", 16, milliseconds(4), ArrivalPattern::closed_loop(1, nanoseconds(0)))},
        nanoseconds(0), PolicyOptions{}, milliseconds(14));
    std::vector<nanoseconds> starts;
    std::vector<size_t> models;
    for (const auto& dispatch : result.dispatches) {
        starts.push_back(dispatch.start);
        models.push_back(dispatch.model);
    }
    EXPECT_EQ(models, (std::vector<size_t>{0, 1, 0, 0, 0, 1, 0, 0}));
    EXPECT_EQ(starts,
              (std::vector<nanoseconds>{microseconds(0), microseconds(1000), microseconds(5000),
                                        microseconds(6100), microseconds(7200), microseconds(8200),
                                        microseconds(12200), microseconds(13300)}));
}

TEST(VirtualTimeScheduleTest, AModelCatchesUpOnlyAfterAGapLongerThanTheMargin) {
    // b (10 ms), c (5 ms) and a (1 ms) each send a frame at 0: b runs 0-10, c 10-15, a 15-16.
    // b's second frame (15.5) runs 16-26. c and a send again while it runs, `gap` (1.5 or 3 ms)
    // after their last frame left the device. At 26 the two wait: a kept as busy has 1 ms of device
    // time against c's 5 and goes first; both counted as waking catch up with b's 10 ms, tie, and c
    // goes first (turn order after b). PolicyOptions::idle_before_catch_up (2 ms) decides which,
    // as in the threaded scheduler (ModelSchedulerTest.OnlyAGapLongerThanTheMarginMakesAModel...).
    auto order = [](nanoseconds gap, nanoseconds margin) {
        PolicyOptions options;
        options.aging_step = nanoseconds(0);
        options.idle_before_catch_up = margin;
        auto result =
            simulate({model("b", 16, milliseconds(10),
                            ArrivalPattern::at({nanoseconds(0), microseconds(15500)})),
                      model("c", 16, milliseconds(5),
                            ArrivalPattern::at({nanoseconds(0), milliseconds(15) + gap})),
                      model("a", 16, milliseconds(1),
                            ArrivalPattern::at({nanoseconds(0), milliseconds(16) + gap}))},
                     nanoseconds(0), options, milliseconds(100));
        return model_sequence(result, 6);
    };
    const nanoseconds margin = PolicyOptions{}.idle_before_catch_up;
    ASSERT_EQ(margin, milliseconds(2));
    const std::vector<size_t> kept{0, 1, 2, 0, 2, 1}, caught_up{0, 1, 2, 0, 1, 2};
    EXPECT_EQ(order(microseconds(1500), margin), kept);
    EXPECT_EQ(order(microseconds(1500), std::chrono::hours(1)), kept);
    EXPECT_EQ(order(microseconds(1500), nanoseconds(0)), caught_up);
    EXPECT_EQ(order(milliseconds(3), margin), caught_up);
    EXPECT_EQ(order(milliseconds(3), std::chrono::hours(1)), kept);
}

TEST(VirtualTimeScheduleTest, AModelWakingOnAnIdleDeviceStartsAtTheLedgerFloor) {
    // "a" runs ten 1 ms frames alone (0-10 ms). "b" runs one frame alone at 15 ms, on an idle
    // device: it starts at the ledger floor (a's 10 ms), not at 0. At 20 ms b queues five more,
    // at 20.5 ms a queues five: a catches up to b's 11 ms and they take turns. Without the floor,
    // b (1 ms) would run all five before a (10 ms) got the device: the device time a used while
    // b idled held against it, as a 22 ms model starved for 270 ms at the start of a mix.
    std::vector<nanoseconds> a_times, b_times = {milliseconds(15)};
    for (int f = 0; f < 10; ++f) a_times.push_back(nanoseconds(0));
    for (int f = 0; f < 5; ++f) {
        a_times.push_back(microseconds(20500));
        b_times.push_back(milliseconds(20));
    }
    auto a = model("a", 16, milliseconds(1), ArrivalPattern::at(a_times), 1, 16);
    auto b = model("b", 16, milliseconds(1), ArrivalPattern::at(b_times), 1, 16);
    PolicyOptions options;
    options.aging_step = nanoseconds(0);
    const auto result = simulate({a, b}, nanoseconds(0), options, milliseconds(100));
    std::vector<size_t> from_20ms;
    for (const auto& dispatch : result.dispatches) {
        if (dispatch.start >= milliseconds(20)) from_20ms.push_back(dispatch.model);
    }
    ASSERT_EQ(from_20ms.size(), 10u);
    EXPECT_EQ(std::vector<size_t>(from_20ms.begin(), from_20ms.begin() + 4),
              (std::vector<size_t>{1, 0, 1, 0}));
}

// The closed-loop race as drawn, without the slot waiting for a returning frame
// (PolicyOptions::anticipation, which would catch every frame drawn late that could win).
PolicyOptions without_anticipation() {
    PolicyOptions options;
    options.anticipation = nanoseconds(0);
    return options;
}

TEST(VirtualTimeScheduleTest, ClosedLoopFramesAfterTheDecisionAlternateFrameByFrame) {
    // The same two clients, on a device where a client's next frame reaches the scheduler only
    // after the slot decided again (SimulatedDevice::closed_loop_in_time 0: a worker that runs
    // the frame itself and decides at once). At each completion the other model is the only
    // one ready: one frame each, in turn, although their device times differ fourfold.
    SimulatedDevice device;
    device.closed_loop_in_time = 0;
    auto result = simulate(
        {model("short", 16, milliseconds(1), ArrivalPattern::closed_loop(1, nanoseconds(0))),
         model("long", 16, milliseconds(4), ArrivalPattern::closed_loop(1, nanoseconds(0)))},
        device, without_anticipation(), seconds(1));
    EXPECT_EQ(model_sequence(result, 6), (std::vector<size_t>{0, 1, 0, 1, 0, 1}));
    EXPECT_EQ(result.models[0].frames_done, 200u);  // a 5 ms cycle, 200 in a second
    EXPECT_EQ(result.models[1].frames_done, 200u);
}

TEST(VirtualTimeScheduleTest, ClosedLoopFramesInTimeForAShareOfDecisionsFallBetween) {
    // The same two clients with closed_loop_in_time between 0 and 1: each completion draws
    // whether the client's next frame makes the decision. "short" (1 ms) gets the device for
    // more frames the more often it is in time: 200 frames never (alternating with "long"),
    // 500 always (fairness by device time: half the device each), a seeded draw between, the
    // same in every run.
    auto run = [](double in_time) {
        SimulatedDevice device;
        device.closed_loop_in_time = in_time;
        return simulate(
            {model("short", 16, milliseconds(1), ArrivalPattern::closed_loop(1, nanoseconds(0))),
             model("long", 16, milliseconds(4), ArrivalPattern::closed_loop(1, nanoseconds(0)))},
            device, without_anticipation(), seconds(1));
    };
    const uint64_t never = run(0).models[0].frames_done;
    const uint64_t always = run(1).models[0].frames_done;
    const auto half = run(0.5);
    EXPECT_EQ(never, 200u);
    EXPECT_EQ(always, 500u);
    EXPECT_GT(half.models[0].frames_done, never + 50);
    EXPECT_LT(half.models[0].frames_done, always - 50);
    const auto again = run(0.5);
    EXPECT_EQ(again.models[0].frames_done, half.models[0].frames_done);
    EXPECT_EQ(again.models[0].latency_ms, half.models[0].latency_ms);
}

TEST(VirtualTimeScheduleTest, ACameraThatWaitsForRoomSendsLateInsteadOfDropping) {
    // "big" holds the device from 0; "cam" (2 ms frames every 10 ms from 1 ms, a queue of one)
    // finds its queue full at 11 ms. Dropping, frames at 11 and 21 are lost and the camera runs
    // on its schedule (31, 41). Waiting, the frame of 11 is sent when the one of 1 leaves the
    // device; its latency counts from then, and the next is due a period after it if it went
    // out more than a period late (the schedule's frames in between counted as dropped), else
    // on the schedule.
    auto run = [](milliseconds big_frame, bool waits) {
        ArrivalPattern camera = ArrivalPattern::periodic(milliseconds(10), milliseconds(1));
        camera.waits_when_full = waits;
        return simulate({model("big", 16, big_frame, ArrivalPattern::at({nanoseconds(0)})),
                         model("cam", 16, milliseconds(2), camera, 1, 1)},
                        nanoseconds(0), strict(), milliseconds(50));
    };
    // big takes 25 ms: the frame of 1 runs 25-27; the frame of 11 is sent at 27, 16 ms late:
    // the next is due at 37, the one of 21 never sent.
    const auto waited = run(milliseconds(25), true);
    EXPECT_EQ(waited.models[1].frames_dropped, 1u);
    EXPECT_EQ(dispatch_starts(waited, 1),
              (std::vector<nanoseconds>{milliseconds(25), milliseconds(27), milliseconds(37),
                                        milliseconds(47)}));
    EXPECT_EQ(std::vector<double>(waited.models[1].latency_ms.begin(),
                                  waited.models[1].latency_ms.begin() + 2),
              (std::vector<double>{26, 2}));
    const auto dropped = run(milliseconds(25), false);
    EXPECT_EQ(dropped.models[1].frames_dropped, 2u);
    EXPECT_EQ(dispatch_starts(dropped, 1),
              (std::vector<nanoseconds>{milliseconds(25), milliseconds(31), milliseconds(41)}));
    // big takes 15 ms: the frame of 11 goes out at 17, 6 ms late: the schedule holds (21, 31),
    // nothing dropped.
    const auto on_schedule = run(milliseconds(15), true);
    EXPECT_EQ(dispatch_starts(on_schedule, 1),
              (std::vector<nanoseconds>{milliseconds(15), milliseconds(17), milliseconds(21),
                                        milliseconds(31), milliseconds(41)}));
    EXPECT_EQ(on_schedule.models[1].frames_dropped, 0u);
}

TEST(VirtualTimeScheduleTest, ClosedLoopClientsBeyondTheQueueWaitInsteadOfDropping) {
    // Four clients, a queue of two: two frames are admitted, two wait; none is dropped, and a
    // waiting frame's latency counts from when it was admitted (as run_async's does).
    auto result = simulate(
        {model("many", 16, milliseconds(1), ArrivalPattern::closed_loop(4, nanoseconds(0)), 1, 2)},
        nanoseconds(0), strict(), milliseconds(10));
    EXPECT_EQ(result.models[0].frames_dropped, 0u);
    EXPECT_EQ(result.models[0].frames_done, 10u);
}

// --- Several slots, interference, latency slots ------------------------------------------------

SimulatedDevice slots(uint32_t shared, std::vector<double> interference = {},
                      uint32_t latency = 0) {
    SimulatedDevice device;
    device.slots = shared;
    device.latency_slots = latency;
    device.interference = std::move(interference);
    return device;
}

TEST(VirtualTimeScheduleTest, OneBurstPerModelLeavesTheOtherSlotIdleForIt) {
    // Four frames of one model queued at once on two slots: it takes both slots at a time
    // (bursts start 0, 0, 2, 2 ms), unless the device runs one burst of a model at a time, as
    // the cpu device sharing its cores by itself does (0, 2, 4, 6 ms).
    auto starts = [](bool one_burst) {
        SimulatedDevice device = slots(2);
        device.one_burst_per_model = one_burst;
        const std::vector<nanoseconds> at(4, nanoseconds(0));
        const auto result =
            simulate({model("a", 16, milliseconds(2), ArrivalPattern::at(at), 1, 4)}, device,
                     strict(), milliseconds(20));
        std::vector<nanoseconds> started;
        for (const auto& dispatch : result.dispatches) started.push_back(dispatch.start);
        return started;
    };
    EXPECT_EQ(starts(false), (std::vector<nanoseconds>{milliseconds(0), milliseconds(0),
                                                       milliseconds(2), milliseconds(2)}));
    EXPECT_EQ(starts(true), (std::vector<nanoseconds>{milliseconds(0), milliseconds(2),
                                                      milliseconds(4), milliseconds(6)}));
}

TEST(VirtualTimeScheduleTest, AModelWithItsOwnInterferenceSlowsByIt) {
    // Two slots, the device's slowdown 1.5x with both busy; "own" slows 2x by its own factors
    // (a model that gains much from a second core loses it beside another). Both always run:
    // own's 2 ms frames take 4 ms, device's 3 ms.
    auto own = model("own", 16, milliseconds(2), ArrivalPattern::closed_loop(1, nanoseconds(0)));
    own.interference = {1.0, 2.0};
    const auto device =
        model("device", 16, milliseconds(2), ArrivalPattern::closed_loop(1, nanoseconds(0)));
    const auto result = simulate({own, device}, slots(2, {1.0, 1.5}), strict(), milliseconds(12));
    EXPECT_EQ(result.models[0].latency_ms, (std::vector<double>{4.0, 4.0, 4.0}));
    EXPECT_EQ(result.models[1].latency_ms, (std::vector<double>{3.0, 3.0, 3.0, 3.0}));
}

TEST(VirtualTimeScheduleTest, SlotsRunBurstsAtOnceEachSlowedByTheOthers) {
    // Two slots, a burst takes 1.5x as long while both run.
    auto result = simulate({model("a", 16, milliseconds(2), ArrivalPattern::saturate()),
                            model("b", 16, milliseconds(2), ArrivalPattern::saturate())},
                           slots(2, {1.0, 1.5}), strict(), milliseconds(9));
    ASSERT_GE(result.dispatches.size(), 4u);
    EXPECT_EQ(result.dispatches[0].slot, 0u);
    EXPECT_EQ(result.dispatches[1].slot, 1u);
    EXPECT_EQ(result.dispatches[0].start, milliseconds(0));
    EXPECT_EQ(result.dispatches[1].start, milliseconds(0));
    EXPECT_EQ(result.dispatches[0].end, milliseconds(3));
    EXPECT_EQ(result.dispatches[2].start, milliseconds(3));
    EXPECT_EQ(result.models[0].frames_done, 3u);
    EXPECT_EQ(result.models[0].device_time, milliseconds(9));  // 3 ms a frame, slowed
    EXPECT_EQ(result.busy_time, milliseconds(18));             // both slots all the time
}

TEST(VirtualTimeScheduleTest, ABurstIsRetimedWhenTheNumberOfRunningSlotsChanges) {
    // "long" (4 ms alone) starts at 0; "short" (1 ms alone) joins at 1 ms. Both run at 1.5x:
    // short needs 1.5 ms and ends at 2.5 ms; long did 1 ms of work alone and 1 ms beside short,
    // so 2 ms remain, run alone: it ends at 4.5 ms.
    auto result =
        simulate({model("long", 16, milliseconds(4), ArrivalPattern::at({nanoseconds(0)})),
                  model("short", 16, milliseconds(1), ArrivalPattern::at({milliseconds(1)}))},
                 slots(2, {1.0, 1.5}), strict(), milliseconds(10));
    ASSERT_EQ(result.dispatches.size(), 2u);
    EXPECT_EQ(result.dispatches[0].end, microseconds(4500));
    EXPECT_EQ(result.dispatches[1].end, microseconds(2500));
    EXPECT_DOUBLE_EQ(result.models[0].latency_ms.front(), 4.5);
    EXPECT_DOUBLE_EQ(result.models[1].latency_ms.front(), 1.5);
}

TEST(VirtualTimeScheduleTest, ALatencySlotServesOnlyModelsAboveNormalPriority) {
    // One shared slot busy with 10 ms frames; at 5 ms an urgent (24) and a peer (16) frame
    // arrive. The urgent one runs at once on the latency slot; the peer waits for the slot.
    auto result =
        simulate({model("busy", 16, milliseconds(10), ArrivalPattern::at({nanoseconds(0)})),
                  model("urgent", 24, milliseconds(1), ArrivalPattern::at({milliseconds(5)})),
                  model("peer", 16, milliseconds(1), ArrivalPattern::at({milliseconds(5)}))},
                 slots(1, {}, 1), strict(), milliseconds(20));
    ASSERT_EQ(result.dispatches.size(), 3u);
    EXPECT_EQ(result.dispatches[1].model, 1u);
    EXPECT_EQ(result.dispatches[1].slot, 1u);  // the latency slot
    EXPECT_EQ(result.dispatches[1].start, milliseconds(5));
    EXPECT_EQ(result.dispatches[2].model, 2u);
    EXPECT_EQ(result.dispatches[2].start, milliseconds(10));
    EXPECT_DOUBLE_EQ(result.models[1].latency_ms.front(), 1.0);
    EXPECT_DOUBLE_EQ(result.models[2].latency_ms.front(), 6.0);
}

// --- Host time ---------------------------------------------------------------------------------

TEST(VirtualTimeScheduleTest, HostPreAndPostTimeAddToLatencyButHoldNoSlot) {
    auto hosted = model("hosted", 16, milliseconds(1), ArrivalPattern::periodic(milliseconds(10)));
    hosted.timing.host_pre = milliseconds(2);
    hosted.timing.host_post = milliseconds(3);
    auto periodic = simulate({hosted}, nanoseconds(0), strict(), milliseconds(30));
    EXPECT_EQ(dispatch_starts(periodic, 0),
              (std::vector<nanoseconds>{milliseconds(2), milliseconds(12), milliseconds(22)}));
    EXPECT_EQ(periodic.models[0].latency_ms, (std::vector<double>{6.0, 6.0, 6.0}));

    // Three clients with 2 ms of pre-processing each: while one frame is on the device the
    // others are pre-processed, so from 5 ms on the device never idles.
    auto pipelined = model("pipelined", 16, milliseconds(1),
                           ArrivalPattern::closed_loop(3, nanoseconds(0)), 1, 3);
    pipelined.timing.host_pre = milliseconds(2);
    auto closed = simulate({pipelined}, nanoseconds(0), strict(), milliseconds(10));
    EXPECT_EQ(dispatch_starts(closed, 0),
              (std::vector<nanoseconds>{milliseconds(2), milliseconds(3), milliseconds(4),
                                        milliseconds(5), milliseconds(6), milliseconds(7),
                                        milliseconds(8), milliseconds(9)}));
    EXPECT_EQ(closed.models[0].latency_ms,
              (std::vector<double>{3.0, 4.0, 5.0, 3.0, 3.0, 3.0, 3.0, 3.0}));
}

TEST(VirtualTimeScheduleTest, AFrameOnAnIdleDeviceTakesItsColdTime) {
    // 2 ms warm, 4 ms after 10 ms or more of idling, in between by the share of the gap.
    SimulatedDevice device;
    device.cold_after = milliseconds(10);
    auto every = [&](nanoseconds period) {
        auto camera = model("camera", 16, milliseconds(2), ArrivalPattern::periodic(period));
        camera.cold_frame = milliseconds(4);
        return simulate({camera}, device, strict(), milliseconds(60));
    };
    // Every 20 ms: 16 ms idle before each frame (the first: idle since ever).
    EXPECT_EQ(every(milliseconds(20)).models[0].latency_ms, (std::vector<double>{4.0, 4.0, 4.0}));
    // Every 8 ms: the first frame is cold (4 ms), then 4 ms of idling: 2 + 2 x 0.4 = 2.8 ms.
    const auto frequent = every(milliseconds(8)).models[0].latency_ms;
    ASSERT_GE(frequent.size(), 3u);
    EXPECT_DOUBLE_EQ(frequent[0], 4.0);
    EXPECT_DOUBLE_EQ(frequent[1], 2.8);
    EXPECT_DOUBLE_EQ(frequent[2], 3.04);  // 5.2 ms of idling: 2 + 2 x 0.52
}

TEST(VirtualTimeScheduleTest, AFrameIsColdAfterItsSlotIdledWhateverTheOtherSlotRuns) {
    // Two slots: "busy" (a closed loop of 30 ms frames from 0) keeps slot 0 running; the camera
    // (2 ms warm, 4 ms cold, cold after 10 ms) sends at 1, 21, 41 and 61 ms and runs on slot 1,
    // idle before each of its frames (since ever, then 16-18 ms). By its slot every frame is
    // cold; by the whole device none is, the other slot always running.
    auto camera_times = [](bool by_slot) {
        SimulatedDevice device;
        device.slots = 2;
        device.cold_after = milliseconds(10);
        device.cold_by_slot = by_slot;
        auto busy =
            model("busy", 16, milliseconds(30), ArrivalPattern::closed_loop(1, nanoseconds(0)));
        auto camera = model("camera", 16, milliseconds(2),
                            ArrivalPattern::periodic(milliseconds(20), milliseconds(1)));
        camera.cold_frame = milliseconds(4);
        return simulate({busy, camera}, device, strict(), milliseconds(70)).models[1].latency_ms;
    };
    EXPECT_EQ(camera_times(true), (std::vector<double>{4.0, 4.0, 4.0, 4.0}));
    EXPECT_EQ(camera_times(false), (std::vector<double>{2.0, 2.0, 2.0, 2.0}));
}

TEST(VirtualTimeScheduleTest, ABurstBesideAnotherSlotsDrawsFromTheSpreadBesideOthers) {
    // Two slots: "busy" runs 0-30 ms on slot 0 (one frame); the camera's frames (2 ms, at 1, 21,
    // 41 ms) spread x1.0 alone and x2.0 beside others: the first two start beside busy's frame
    // (4 ms), the last alone (2 ms).
    SimulatedDevice device;
    device.slots = 2;
    auto busy = model("busy", 16, milliseconds(30), ArrivalPattern::at({nanoseconds(0)}));
    auto camera = model("camera", 16, milliseconds(2),
                        ArrivalPattern::periodic(milliseconds(20), milliseconds(1)));
    camera.frame_spread = {1.0};
    camera.beside_spread = {2.0};
    EXPECT_EQ(simulate({busy, camera}, device, strict(), milliseconds(50)).models[1].latency_ms,
              (std::vector<double>{4.0, 4.0, 2.0}));
}

TEST(VirtualTimeScheduleTest, AColdFrameTakesItsDrawFromTheColdSpread) {
    // 2 ms frames spread 1.0..1.2, cold ones 1.5..2.5 (ratios to 2 ms), cold after 10 ms: a
    // camera every 20 ms is always cold and draws 3..5 ms (4 on average); a closed loop never
    // idles and draws 2..2.4 ms after its first frame, which finds the device idle since ever.
    SimulatedDevice device;
    device.cold_after = milliseconds(10);
    auto with_spreads = [](SimulatedModel simulated) {
        simulated.frame_spread = {1.0, 1.2};
        simulated.cold_spread = {1.5, 2.5};
        simulated.cold_frame = milliseconds(100);  // unused beside a cold spread
        return simulated;
    };
    const auto camera = with_spreads(
        model("camera", 16, milliseconds(2), ArrivalPattern::periodic(milliseconds(20))));
    const auto cold = simulate({camera}, device, strict(), seconds(20)).models[0].latency_ms;
    ASSERT_EQ(cold.size(), 1000u);
    double cold_sum = 0;
    for (double ms : cold) {
        ASSERT_GE(ms, 3.0);
        ASSERT_LE(ms, 5.0);
        cold_sum += ms;
    }
    EXPECT_NEAR(cold_sum / 1000, 4.0, 0.1);
    const auto loop = with_spreads(
        model("loop", 16, milliseconds(2), ArrivalPattern::closed_loop(1, nanoseconds(0))));
    const auto warm = simulate({loop}, device, strict(), seconds(2)).models[0].latency_ms;
    ASSERT_GT(warm.size(), 500u);
    EXPECT_GE(warm[0], 3.0);  // cold: idle since ever
    for (size_t f = 1; f < warm.size(); ++f) {
        ASSERT_GE(warm[f], 2.0) << f;
        ASSERT_LE(warm[f], 2.4) << f;
    }
}

TEST(VirtualTimeScheduleTest, AOnePointFrameSpreadScalesEveryFrame) {
    auto camera = model("camera", 16, milliseconds(2), ArrivalPattern::periodic(milliseconds(10)));
    camera.frame_spread = {1.5};
    const auto result = simulate({camera}, SimulatedDevice{}, strict(), milliseconds(35));
    EXPECT_EQ(result.models[0].latency_ms, (std::vector<double>{3.0, 3.0, 3.0, 3.0}));
}

TEST(VirtualTimeScheduleTest, FrameTimesAreDrawnBetweenTheSpreadPointsTheSameInEveryRun) {
    // Ratios 1..3, linear between the two points: device times spread evenly over 2..6 ms; a
    // model without a spread beside it keeps its exact 1 ms.
    auto spread = model("spread", 16, milliseconds(2), ArrivalPattern::periodic(milliseconds(10)));
    spread.frame_spread = {1.0, 3.0};
    const auto steady = model("steady", 16, milliseconds(1),
                              ArrivalPattern::periodic(milliseconds(10), milliseconds(7)));
    const auto first = simulate({spread, steady}, SimulatedDevice{}, strict(), seconds(20));
    const auto again = simulate({spread, steady}, SimulatedDevice{}, strict(), seconds(20));
    EXPECT_EQ(first.models[0].latency_ms, again.models[0].latency_ms);
    const std::vector<double>& times = first.models[0].latency_ms;
    ASSERT_EQ(times.size(), 2000u);
    double sum = 0;
    size_t below_3ms = 0, above_5ms = 0;
    for (double ms : times) {
        ASSERT_GE(ms, 2.0);
        ASSERT_LT(ms, 6.0);
        sum += ms;
        below_3ms += ms < 3.0;
        above_5ms += ms > 5.0;
    }
    // A quarter of an even spread lies in each of 2..3 and 5..6 ms; the mean is 4 ms. With
    // 2000 draws the seeded sequence lands within a few percent (exactly the same every run).
    EXPECT_NEAR(sum / 2000.0, 4.0, 0.08);
    EXPECT_NEAR(static_cast<double>(below_3ms) / 2000.0, 0.25, 0.03);
    EXPECT_NEAR(static_cast<double>(above_5ms) / 2000.0, 0.25, 0.03);
    for (double ms : first.models[1].latency_ms) ASSERT_DOUBLE_EQ(ms, 1.0);
}

// Pearson's correlation of two equally long samples.
double correlation(const std::vector<double>& x, const std::vector<double>& y) {
    const double n = static_cast<double>(x.size());
    double sx = 0, sy = 0, sxx = 0, syy = 0, sxy = 0;
    for (size_t i = 0; i < x.size(); ++i) {
        sx += x[i], sy += y[i], sxx += x[i] * x[i], syy += y[i] * y[i], sxy += x[i] * y[i];
    }
    return (sxy - sx * sy / n) / std::sqrt((sxx - sx * sx / n) * (syy - sy * sy / n));
}

TEST(VirtualTimeScheduleTest, TheMachinesSpeedMakesFramesCloseInTimeAlikeAndKeepsEachSpread) {
    // Two cameras, 2 ms frames spread evenly over x1..x3, every 10 ms, the second 5 ms after the
    // first, on two slots (no queueing): with 80% of each draw the machine's speed, remembered
    // for 100 ms, a frame and the other camera's 5 ms later correlate by about
    // 0.8 x exp(-5/100) = 0.76 in normal scores (0.74 on the times); frames 1 s apart by
    // 0.8 x exp(-10), nothing; without it, nothing at all. Each camera keeps its spread.
    SimulatedDevice device;
    device.slots = 2;
    auto first = model("first", 16, milliseconds(2), ArrivalPattern::periodic(milliseconds(10)));
    auto second = model("second", 16, milliseconds(2),
                        ArrivalPattern::periodic(milliseconds(10), milliseconds(5)));
    first.frame_spread = second.frame_spread = {1.0, 3.0};
    // 4000 frames each, whatever the draws: the second camera's last, at 39.995 s, ends by
    // 40.001 s; the first camera's 4001st, at 40 s, not before 40.002 s.
    const auto run_for = seconds(40) + milliseconds(1);
    const auto independent = simulate({first, second}, device, strict(), run_for);
    device.speed_share = 0.8;
    device.speed_memory = milliseconds(100);
    const auto together = simulate({first, second}, device, strict(), run_for);
    const auto again = simulate({first, second}, device, strict(), run_for);
    EXPECT_EQ(together.models[0].latency_ms, again.models[0].latency_ms);  // seeded
    for (const auto* result : {&independent, &together}) {
        const std::vector<double>& a = result->models[0].latency_ms;
        const std::vector<double>& b = result->models[1].latency_ms;
        ASSERT_EQ(a.size(), 4000u);
        ASSERT_EQ(b.size(), 4000u);
        // Each spread kept: every time within 2..6 ms, the mean 4, a quarter below 3 ms. With
        // the speed remembered over 10 frames, 4000 draws vary about as 400 independent ones.
        double sum = 0;
        size_t below_3ms = 0;
        for (double ms : a) {
            ASSERT_GE(ms, 2.0);
            ASSERT_LT(ms, 6.0);
            sum += ms;
            below_3ms += ms < 3.0;
        }
        EXPECT_NEAR(sum / 4000.0, 4.0, 0.15);
        EXPECT_NEAR(static_cast<double>(below_3ms) / 4000.0, 0.25, 0.05);
    }
    const std::vector<double> a(together.models[0].latency_ms.begin(),
                                together.models[0].latency_ms.end() - 100);
    const std::vector<double> b_soon(together.models[1].latency_ms.begin(),
                                     together.models[1].latency_ms.end() - 100);
    const std::vector<double> b_late(together.models[1].latency_ms.begin() + 100,
                                     together.models[1].latency_ms.end());
    EXPECT_NEAR(correlation(a, b_soon), 0.74, 0.08);
    EXPECT_NEAR(correlation(a, b_late), 0.0, 0.08);
    const std::vector<double> a_alone(independent.models[0].latency_ms.begin(),
                                      independent.models[0].latency_ms.end() - 100);
    const std::vector<double> b_alone(independent.models[1].latency_ms.begin(),
                                      independent.models[1].latency_ms.end() - 100);
    EXPECT_NEAR(correlation(a_alone, b_alone), 0.0, 0.05);
}

TEST(VirtualTimeScheduleTest, SlowFramesComingTogetherLengthenTheQueueAndTheTail) {
    // One camera at 89% of the device (2 ms frames over x1..x3, 4 ms on average, every 4.5 ms):
    // independent draws let a slow frame be followed by fast ones that drain the queue; with the
    // machine's speed remembered for 200 ms, slow frames come in runs and the queue grows over
    // them. The median moves little, the p95 a lot.
    SimulatedDevice device;
    auto camera =
        model("camera", 16, milliseconds(2), ArrivalPattern::periodic(microseconds(4500)));
    camera.frame_spread = {1.0, 3.0};
    camera.queue_capacity = 64;
    const auto independent = simulate({camera}, device, strict(), seconds(60));
    device.speed_share = 0.8;
    device.speed_memory = milliseconds(200);
    const auto together = simulate({camera}, device, strict(), seconds(60));
    auto percentile = [](std::vector<double> values, double share) {
        std::sort(values.begin(), values.end());
        return values[static_cast<size_t>(share * static_cast<double>(values.size() - 1))];
    };
    const double p95_independent = percentile(independent.models[0].latency_ms, 0.95);
    const double p95_together = percentile(together.models[0].latency_ms, 0.95);
    EXPECT_GT(p95_together, 2 * p95_independent)
        << "independent p95 " << p95_independent << " ms, together " << p95_together << " ms";
}

// --- Generative models -------------------------------------------------------------------------

SimulatedModel llm(uint8_t priority, uint32_t prompt_tokens, uint32_t max_tokens, nanoseconds chunk,
                   nanoseconds step, ArrivalPattern arrivals) {
    SimulatedModel simulated = model("llm", priority, nanoseconds(0), std::move(arrivals));
    simulated.generation.prompt_tokens = prompt_tokens;
    simulated.generation.prefill_chunk_tokens = 64;
    simulated.generation.prefill_chunk = chunk;
    simulated.generation.max_tokens = max_tokens;
    simulated.generation.decode_step = step;
    return simulated;
}

TEST(VirtualTimeScheduleTest, AGenerationIsAChainOfPrefillChunksAndDecodeSteps) {
    // 100 prompt tokens in chunks of 64 (64 ms a full chunk: 64 ms, then 36 ms), the first
    // token when the prompt is in, then three decode steps of 10 ms for tokens 2..4.
    auto result = simulate({llm(16, 100, 4, milliseconds(64), milliseconds(10),
                                ArrivalPattern::closed_loop(1, nanoseconds(0)))},
                           nanoseconds(0), strict(), milliseconds(260));
    EXPECT_EQ(dispatch_starts(result, 0),
              (std::vector<nanoseconds>{milliseconds(0), milliseconds(64), milliseconds(100),
                                        milliseconds(110), milliseconds(120), milliseconds(130),
                                        milliseconds(194), milliseconds(230), milliseconds(240),
                                        milliseconds(250)}));
    EXPECT_EQ(result.models[0].ttft_ms, (std::vector<double>{100.0, 100.0}));
    EXPECT_EQ(result.models[0].latency_ms, (std::vector<double>{130.0, 130.0}));
    EXPECT_EQ(result.models[0].tokens, 8u);
    EXPECT_EQ(result.models[0].frames_done, 10u);  // units
}

TEST(VirtualTimeScheduleTest, AFrameOfAHigherPriorityRunsBesideAUnitThatPausesForIt) {
    // One 50 ms unit (the whole prompt in one chunk, one token). A priority-24 frame at 10 ms
    // runs at once on the lent slot, and the unit pauses for its 5 ms; a priority-16 frame at
    // 10 ms waits for the unit to end.
    auto with = simulate(
        {llm(16, 64, 1, milliseconds(50), milliseconds(0), ArrivalPattern::at({nanoseconds(0)})),
         model("urgent", 24, milliseconds(5), ArrivalPattern::at({milliseconds(10)})),
         model("peer", 16, milliseconds(5), ArrivalPattern::at({milliseconds(10)}))},
        slots(1, {1.0, 2.0}), strict(), milliseconds(100));
    ASSERT_EQ(with.dispatches.size(), 3u);
    EXPECT_EQ(with.dispatches[1].model, 1u);
    EXPECT_EQ(with.dispatches[1].slot, 1u);  // the lent slot
    EXPECT_EQ(with.dispatches[1].start, milliseconds(10));
    EXPECT_DOUBLE_EQ(with.models[1].latency_ms.front(), 5.0);  // alone: the unit paused
    EXPECT_DOUBLE_EQ(with.models[0].latency_ms.front(), 55.0);
    EXPECT_EQ(with.dispatches[2].model, 2u);
    EXPECT_EQ(with.dispatches[2].start, milliseconds(55));

    // Without preemption both run, each at half speed: the frame takes 10 ms, and the unit
    // does 5 ms of work meanwhile.
    auto no_preemption =
        llm(16, 64, 1, milliseconds(50), milliseconds(0), ArrivalPattern::at({nanoseconds(0)}));
    no_preemption.generation.preemption = false;
    auto without = simulate({no_preemption, model("urgent", 24, milliseconds(5),
                                                  ArrivalPattern::at({milliseconds(10)}))},
                            slots(1, {1.0, 2.0}), strict(), milliseconds(100));
    EXPECT_DOUBLE_EQ(without.models[1].latency_ms.front(), 10.0);
    EXPECT_DOUBLE_EQ(without.models[0].latency_ms.front(), 55.0);
}

TEST(VirtualTimeScheduleTest, NewArrivalProcessesAreExactlyRepeatable) {
    auto hosted =
        model("hosted", 16, microseconds(900), ArrivalPattern::poisson(milliseconds(3), 5));
    hosted.timing.host_pre = microseconds(300);
    const std::vector<SimulatedModel> models = {
        hosted,
        model("loop", 16, microseconds(1700), ArrivalPattern::closed_loop(3, microseconds(400))),
        llm(16, 200, 20, milliseconds(20), milliseconds(4),
            ArrivalPattern::closed_loop(1, milliseconds(50)))};
    auto first = simulate(models, slots(2, {1.0, 1.3}), PolicyOptions{}, seconds(5));
    auto second = simulate(models, slots(2, {1.0, 1.3}), PolicyOptions{}, seconds(5));
    ASSERT_EQ(first.dispatches.size(), second.dispatches.size());
    for (size_t i = 0; i < first.dispatches.size(); ++i) {
        EXPECT_EQ(first.dispatches[i].start, second.dispatches[i].start);
        EXPECT_EQ(first.dispatches[i].end, second.dispatches[i].end);
        EXPECT_EQ(first.dispatches[i].model, second.dispatches[i].model);
    }
    EXPECT_GT(first.models[2].tokens, 0u);
}

}  // namespace
}  // namespace corun::scheduler
