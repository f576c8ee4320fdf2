// Exact schedules of the model scheduler's policy in virtual time on the npu-sim timing model.
#include <gtest/gtest.h>

#include "scheduler/virtual_time_simulation.hpp"

namespace corun::scheduler {
namespace {

using std::chrono::microseconds;
using std::chrono::milliseconds;
using std::chrono::nanoseconds;
using std::chrono::seconds;

SimulatedModel model(const std::string& name, uint8_t priority, nanoseconds frame,
                     ArrivalPattern arrivals, uint32_t burst = 1, uint32_t capacity = 2) {
    SimulatedModel simulated;
    simulated.name = name;
    simulated.params.priority = priority;
    simulated.params.burst = burst;
    simulated.timing.frame = frame;
    simulated.arrivals = std::move(arrivals);
    simulated.queue_capacity = capacity;
    return simulated;
}

PolicyOptions strict(bool fair = false) {
    PolicyOptions options;
    options.fair_device_time = fair;
    options.aging_step = nanoseconds(0);
    return options;
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

}  // namespace
}  // namespace corun::scheduler
