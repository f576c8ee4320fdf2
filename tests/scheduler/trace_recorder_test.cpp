// The scheduler's recorder (Scheduler::start_recording): what it records of frames that do not
// run (cancelled), of bursts still running when it stops, and of a blocked order that is made
// exact by holding the device slot (blocker.hpp). The trace it feeds is tested in
// tests/runtime/chrome_trace_test.cpp.
#include <gtest/gtest.h>

#include <vector>

#include "blocker.hpp"
#include "scheduler/model_scheduler.hpp"
#include "test_support.hpp"

namespace corun::scheduler {
namespace {

InferRequest counted(uint64_t model_id, test::Counter& finished) {
    InferRequest request;
    request.model_id = model_id;
    request.run = [&finished](size_t) {
        finished.add();
        return int64_t{1000};
    };
    request.cancel = [&finished](Status) { finished.add(); };
    return request;
}

TEST(TraceRecorderTest, RecordsCancelledFramesAndABurstStillRunningAtTheEnd) {
    ModelScheduler scheduler({DeviceSlots{1}}, PolicyOptions{});
    ASSERT_OK(scheduler.add_model(1, "blocker", {}));
    ASSERT_OK(scheduler.add_model(2, "waiting", {}));
    ASSERT_OK(scheduler.start_recording({}));
    Blocker blocker;
    test::Counter finished;
    ASSERT_OK(scheduler.enqueue(blocker.request(1)));
    ASSERT_TRUE(blocker.wait_until_entered());
    ASSERT_OK(scheduler.enqueue(counted(2, finished)));
    ASSERT_OK(scheduler.enqueue(counted(2, finished)));
    EXPECT_EQ(scheduler.cancel_queued(2, Status(StatusCode::SHUTDOWN, "test")), 2u);
    ASSERT_TRUE(finished.wait_for(2));
    const SchedulerRecording recording = scheduler.stop_recording();
    blocker.release();

    ASSERT_EQ(recording.bursts.size(), 1u);
    EXPECT_EQ(recording.bursts[0].model_id, 1u);
    EXPECT_EQ(recording.bursts[0].end, NOT_ENDED);  // the blocker still ran
    ASSERT_EQ(recording.frames.size(), 3u);
    EXPECT_EQ(recording.frames[0].outcome, FrameOutcome::PENDING);  // ran past the end
    EXPECT_EQ(recording.frames[1].outcome, FrameOutcome::CANCELLED);
    EXPECT_EQ(recording.frames[2].outcome, FrameOutcome::CANCELLED);
    EXPECT_EQ(recording.frames[1].id + 1, recording.frames[2].id);
    EXPECT_EQ(recording.model_names,
              (std::map<uint64_t, std::string>{{1, "blocker"}, {2, "waiting"}}));
    // Model 2's queue: 0 at the start, 1, 2, then 0 when cancelled.
    std::vector<uint32_t> depths;
    for (const auto& sample : recording.queue_depths) {
        if (sample.model_id == 2) depths.push_back(sample.frames_queued);
    }
    EXPECT_EQ(depths, (std::vector<uint32_t>{0, 1, 2, 0}));
    EXPECT_LE(recording.started, recording.stopped);
}

TEST(TraceRecorderTest, BurstsFollowTheDecisionsAndFramesTheirBursts) {
    PolicyOptions strict;
    strict.aging_step = std::chrono::nanoseconds(0);
    strict.fair_device_time = false;
    ModelScheduler scheduler({DeviceSlots{1}}, strict);
    ModelSchedulingParams low, high;
    low.priority = 10;
    high.priority = 24;
    ASSERT_OK(scheduler.add_model(1, "blocker", {}));
    ASSERT_OK(scheduler.add_model(2, "low", low));
    ASSERT_OK(scheduler.add_model(3, "high", high));
    Blocker blocker;
    test::Counter finished;
    ASSERT_OK(scheduler.enqueue(blocker.request(1)));
    ASSERT_TRUE(blocker.wait_until_entered());
    ASSERT_OK(scheduler.start_recording({}));  // the blocker's burst began before
    for (int i = 0; i < 2; ++i) ASSERT_OK(scheduler.enqueue(counted(2, finished)));
    for (int i = 0; i < 2; ++i) ASSERT_OK(scheduler.enqueue(counted(3, finished)));
    blocker.release();
    ASSERT_TRUE(finished.wait_for(4));
    ASSERT_TRUE(test::wait_until([&] { return scheduler.in_flight() == 0; }));
    const SchedulerRecording recording = scheduler.stop_recording();

    std::vector<uint64_t> models;
    for (const auto& burst : recording.bursts) {
        models.push_back(burst.model_id);
        EXPECT_NE(burst.end, NOT_ENDED);
    }
    EXPECT_EQ(models, (std::vector<uint64_t>{3, 3, 2, 2}));  // priority first
    EXPECT_EQ(recording.bursts[0].reason, DecisionReason::HIGHER_PRIORITY);
    EXPECT_EQ(recording.bursts[1].reason, DecisionReason::KEEP_ACTIVE);
    ASSERT_EQ(recording.frames.size(), 4u);  // the blocker was queued before
    for (const auto& frame : recording.frames) {
        EXPECT_EQ(frame.outcome, FrameOutcome::COMPLETED);
        ASSERT_GE(frame.burst, 0);
        EXPECT_EQ(recording.bursts[static_cast<size_t>(frame.burst)].model_id, frame.model_id);
    }
}

TEST(TraceRecorderTest, OneRecordingAtATimeWithinBounds) {
    ModelScheduler scheduler({DeviceSlots{1}}, PolicyOptions{});
    EXPECT_STATUS(scheduler.start_recording({.max_events = 0}), StatusCode::INVALID_ARGUMENT);
    EXPECT_STATUS(scheduler.start_recording({.max_events = MAX_RECORDING_EVENTS + 1}),
                  StatusCode::INVALID_ARGUMENT);
    ASSERT_OK(scheduler.start_recording({}));
    EXPECT_STATUS(scheduler.start_recording({}), StatusCode::INVALID_OPERATION);
    EXPECT_TRUE(scheduler.stop_recording().empty());
    EXPECT_TRUE(scheduler.stop_recording().empty());  // none runs
    ASSERT_OK(scheduler.start_recording({}));         // and a new one may start
}

}  // namespace
}  // namespace corun::scheduler
