// A simulation as a scheduler recording (scheduler/simulation_recording.hpp), what
// `corun plan --trace` draws: every burst and every frame that reached the scheduler, with its
// outcome, and each queue's depth, for schedules worked out by hand in the comments; and the
// closed-loop race read back from such a recording (scheduler/closed_loop_race.hpp) as it was
// simulated.
#include <gtest/gtest.h>

#include <algorithm>

#include "runtime/monitor/chrome_trace_writer.hpp"
#include "scheduler/closed_loop_race.hpp"
#include "scheduler/simulation_recording.hpp"
#include "simulated_model_support.hpp"
#include "test_support.hpp"

namespace corun::scheduler {
namespace {

using std::chrono::milliseconds;
using std::chrono::nanoseconds;

ArrivalPattern at_ms(std::initializer_list<int> times) {
    std::vector<nanoseconds> list;
    for (int time : times) list.push_back(milliseconds(time));
    return ArrivalPattern::at(std::move(list));
}

std::vector<std::pair<TimePoint, uint32_t>> depths_of(const SchedulerRecording& recording,
                                                      uint64_t model_id) {
    std::vector<std::pair<TimePoint, uint32_t>> depths;
    for (const auto& sample : recording.queue_depths) {
        if (sample.model_id == model_id) depths.emplace_back(sample.time, sample.frames_queued);
    }
    return depths;
}

TEST(SimulationRecordingTest, EveryBurstAndFrameWithItsOutcome) {
    // cam: 10 ms frames, SLO 25 ms, arriving at 0, 1, 2, 3 and 15 ms on one slot (as
    // VirtualTimeAdmissionTest): runs 0-10 and 10-20; refused at 2 and 3 (predicted to finish at
    // 30 and 30, after 27 and 28); the frame of 15 runs 20-30.
    SimulatedModel cam = simulated_model("cam", 16, milliseconds(10), at_ms({0, 1, 2, 3, 15}), 8);
    cam.params.latency_slo = milliseconds(25);
    const std::vector<SimulatedModel> models = {cam};
    SimulatedDevice device;
    const SimulationResult result = simulate(models, device, strict(), milliseconds(100), true);
    const SchedulerRecording recording = recording_of_simulation(result, models, device);

    EXPECT_EQ(recording.model_names, (std::map<uint64_t, std::string>{{1, "cam"}}));
    ASSERT_EQ(recording.devices.size(), 1u);
    EXPECT_EQ(recording.devices[0].shared_slots, 1u);
    EXPECT_EQ(recording.stopped, milliseconds(30));  // nothing happens after the last frame
    ASSERT_EQ(recording.bursts.size(), 3u);
    const std::vector<std::pair<int, int>> burst_times = {{0, 10}, {10, 20}, {20, 30}};
    for (size_t b = 0; b < burst_times.size(); ++b) {
        EXPECT_EQ(recording.bursts[b].start, milliseconds(burst_times[b].first)) << b;
        EXPECT_EQ(recording.bursts[b].end, milliseconds(burst_times[b].second)) << b;
        EXPECT_EQ(recording.bursts[b].model_id, 1u);
        EXPECT_EQ(recording.bursts[b].frames, 1u);
    }
    ASSERT_EQ(recording.frames.size(), 5u);
    struct Expected {
        int queued, started, ended;
        FrameOutcome outcome;
        int64_t burst;
    };
    const std::vector<Expected> expected = {{0, 0, 10, FrameOutcome::COMPLETED, 0},
                                            {1, 10, 20, FrameOutcome::COMPLETED, 1},
                                            {2, -1, 2, FrameOutcome::REFUSED, -1},
                                            {3, -1, 3, FrameOutcome::REFUSED, -1},
                                            {15, 20, 30, FrameOutcome::COMPLETED, 2}};
    for (size_t f = 0; f < expected.size(); ++f) {
        const RecordedFrame& frame = recording.frames[f];
        EXPECT_EQ(frame.id, f + 1);
        EXPECT_EQ(frame.model_id, 1u);
        EXPECT_EQ(frame.submitted, milliseconds(expected[f].queued)) << f;
        EXPECT_EQ(frame.started,
                  expected[f].started < 0 ? NOT_ENDED : milliseconds(expected[f].started))
            << f;
        EXPECT_EQ(frame.ended, milliseconds(expected[f].ended)) << f;
        EXPECT_EQ(frame.outcome, expected[f].outcome) << f;
        EXPECT_EQ(frame.burst, expected[f].burst) << f;
    }
    // Refused frames were never queued: the queue held the frame of 1 from 1 to 10, that of
    // 15 from 15 to 20.
    const std::vector<std::pair<TimePoint, uint32_t>> depths = {
        {milliseconds(0), 1},  {milliseconds(0), 0},  {milliseconds(1), 1},
        {milliseconds(10), 0}, {milliseconds(15), 1}, {milliseconds(20), 0}};
    EXPECT_EQ(depths_of(recording, 1), depths);
}

TEST(SimulationRecordingTest, AFrameDroppedLateAndABurstRunningAtTheEnd) {
    // low (SLO 22 ms) at 0 and 1 ms, urgent at 2 ms (VirtualTimeAdmissionTest): low's second
    // frame is dropped at 20 (it would end at 30, after 23). A horizon of 25 ms ends with
    // nothing running; one of 15 ms ends with urgent's burst (10-20) still running.
    SimulatedModel low = simulated_model("low", 16, milliseconds(10), at_ms({0, 1}), 8);
    low.params.latency_slo = milliseconds(22);
    const SimulatedModel urgent = simulated_model("urgent", 24, milliseconds(10), at_ms({2}), 8);
    const std::vector<SimulatedModel> models = {low, urgent};
    SimulatedDevice device;
    const SchedulerRecording whole = recording_of_simulation(
        simulate(models, device, strict(), milliseconds(25), true), models, device);
    ASSERT_EQ(whole.frames.size(), 3u);
    EXPECT_EQ(whole.frames[1].model_id, 1u);
    EXPECT_EQ(whole.frames[1].outcome, FrameOutcome::DROPPED);
    EXPECT_EQ(whole.frames[1].ended, milliseconds(20));
    EXPECT_EQ(whole.frames[1].started, NOT_ENDED);
    EXPECT_EQ(whole.frames[2].model_id, 2u);
    EXPECT_EQ(whole.frames[2].started, milliseconds(10));
    EXPECT_EQ(whole.bursts[1].effective_priority, 24u);
    EXPECT_EQ(depths_of(whole, 1),
              (std::vector<std::pair<TimePoint, uint32_t>>{{milliseconds(0), 1},
                                                           {milliseconds(0), 0},
                                                           {milliseconds(1), 1},
                                                           {milliseconds(20), 0}}));

    const SchedulerRecording cut = recording_of_simulation(
        simulate(models, device, strict(), milliseconds(15), true), models, device);
    ASSERT_EQ(cut.bursts.size(), 2u);
    EXPECT_EQ(cut.bursts[1].end, NOT_ENDED);
    EXPECT_EQ(cut.frames[2].outcome, FrameOutcome::PENDING);
    EXPECT_EQ(cut.frames[2].ended, NOT_ENDED);
}

TEST(SimulationRecordingTest, TheChromeTraceWriterDrawsIt) {
    const std::vector<SimulatedModel> models = {
        simulated_model("cam", 16, milliseconds(10), at_ms({0, 30}), 8)};
    SimulatedDevice device;
    runtime::monitor::TracedGroup traced;
    traced.group_id = "plan";
    traced.device_names = {"npu-sim (predicted)"};
    traced.recording = recording_of_simulation(
        simulate(models, device, strict(), milliseconds(50), true), models, device);
    const std::string json = runtime::monitor::chrome_trace_json({traced});
    EXPECT_TRUE(test::contains(json, "npu-sim (predicted)")) << json;
    EXPECT_TRUE(test::contains(json, "\"name\":\"cam\"")) << json;
}

// The race as drawn: without the slot waiting for a returning frame (PolicyOptions::
// anticipation), every completion's draw decides whether its frame competes.
PolicyOptions without_anticipation() {
    PolicyOptions options;
    options.anticipation = std::chrono::nanoseconds(0);
    return options;
}

// One closed-loop client each: "short" (1 ms frames) and "long" (4 ms), on one slot.
std::vector<SimulatedModel> short_and_long_closed_loops() {
    return {simulated_model("short", 16, milliseconds(1),
                            ArrivalPattern::closed_loop(1, nanoseconds(0)), 1),
            simulated_model("long", 16, milliseconds(4),
                            ArrivalPattern::closed_loop(1, nanoseconds(0)), 1)};
}

TEST(SimulationRecordingTest, TheClosedLoopRaceReadsBackAsItWasSimulated) {
    // Two closed-loop clients on one slot: after each completion the other model is queued, so
    // the slot decides at once, and the client's next frame is in time exactly when the
    // simulation drew it so.
    auto race = [](double in_time) {
        const std::vector<SimulatedModel> models = short_and_long_closed_loops();
        SimulatedDevice device;
        device.closed_loop_in_time = in_time;
        return closed_loop_in_time_of(recording_of_simulation(
            simulate(models, device, without_anticipation(), std::chrono::seconds(2), true), models,
            device));
    };
    EXPECT_EQ(race(1.0), 1.0);
    EXPECT_EQ(race(0.0), 0.0);
    const double half = race(0.5);
    EXPECT_GT(half, 0.4);
    EXPECT_LT(half, 0.6);
    EXPECT_EQ(closed_loop_in_time_of(SchedulerRecording{}), 1.0);  // nothing raced
    EXPECT_TRUE(closed_loop_in_time_by_model(SchedulerRecording{}).empty());
    // One model alone: after each completion nothing else is queued, the slot waits for the
    // client whichever is first, and no completion counts.
    const std::vector<SimulatedModel> alone = {simulated_model(
        "short", 16, milliseconds(1), ArrivalPattern::closed_loop(1, nanoseconds(0)), 1)};
    SimulatedDevice never_first;
    never_first.closed_loop_in_time = 0;
    EXPECT_EQ(closed_loop_in_time_of(recording_of_simulation(
                  simulate(alone, never_first, without_anticipation(), milliseconds(100), true),
                  alone, never_first)),
              1.0);
}

TEST(SimulationRecordingTest, EachModelsRaceReadsBackAsItWasSimulated) {
    // The short model's client always in time, the long one's never: read back per model (ids
    // are the models' indexes + 1), and over both between the two.
    std::vector<SimulatedModel> models = short_and_long_closed_loops();
    models[0].closed_loop_in_time = 1;
    models[1].closed_loop_in_time = 0;
    SimulatedDevice device;
    device.closed_loop_in_time = 0.5;  // overridden by both
    const auto recording = recording_of_simulation(
        simulate(models, device, without_anticipation(), std::chrono::seconds(2), true), models,
        device);
    const auto shares = closed_loop_in_time_by_model(recording);
    ASSERT_EQ(shares.size(), 2u);
    EXPECT_EQ(shares.at(1), 1.0);
    EXPECT_EQ(shares.at(2), 0.0);
    const double both = closed_loop_in_time_of(recording);
    EXPECT_GT(both, 0.0);
    EXPECT_LT(both, 1.0);
}

TEST(SimulationRecordingTest, EachClientsReturnGapsReadBackAsTheyWereSimulated) {
    // The short model's client always in time, the long one's always 40 us after the decision
    // (no anticipation: nothing holds for it). Every completion races (the other model is
    // queued), and the gaps read back exactly: 0 and 40 us at every quantile.
    std::vector<SimulatedModel> models = short_and_long_closed_loops();
    models[0].closed_loop_gaps = {nanoseconds(0)};
    models[1].closed_loop_gaps = {std::chrono::microseconds(40)};
    SimulatedDevice device;
    const auto recording = recording_of_simulation(
        simulate(models, device, without_anticipation(), std::chrono::seconds(2), true), models,
        device);
    const auto gaps = closed_loop_gaps_by_model(recording, 4);
    ASSERT_EQ(gaps.size(), 2u);
    EXPECT_EQ(gaps.at(1), std::vector<nanoseconds>(4, nanoseconds(0)));
    EXPECT_EQ(gaps.at(2), std::vector<nanoseconds>(4, std::chrono::microseconds(40)));
    const auto shares = closed_loop_in_time_by_model(recording);
    EXPECT_EQ(shares.at(1), 1.0);
    EXPECT_EQ(shares.at(2), 0.0);
    // Together: as many zeros as short frames raced, then long's 40 us (fairness by device
    // time runs four short frames per long one: 80% and 20%).
    const auto both = closed_loop_gaps_of(recording, 10);
    ASSERT_EQ(both.size(), 10u);
    EXPECT_EQ(std::count(both.begin(), both.end(), nanoseconds(0)), 8);
    EXPECT_EQ(both.back(), std::chrono::microseconds(40));
    // Nothing raced: no gaps; fewer raced frames than points: one point per frame (every one
    // of long's bursts raced: each was followed by its client's next frame and a decision).
    EXPECT_TRUE(closed_loop_gaps_of(SchedulerRecording{}, 20).empty());
    const auto every_frame = closed_loop_gaps_by_model(recording, 100000);
    const auto long_bursts = std::count_if(recording.bursts.begin(), recording.bursts.end(),
                                           [](const RecordedBurst& b) { return b.model_id == 2; });
    EXPECT_EQ(every_frame.at(2).size(), static_cast<size_t>(long_bursts));
}

}  // namespace
}  // namespace corun::scheduler
