// Deadlines in virtual time: a model with a latency SLO has its frames admitted, refused or
// dropped exactly as the threaded scheduler's admission decides (scheduler/admission.hpp), and
// its frames run earliest deadline first. Every schedule below is worked out by hand in the
// comments.
#include <gtest/gtest.h>

#include "scheduler/virtual_time_simulation.hpp"
#include "simulated_model_support.hpp"

namespace corun::scheduler {
namespace {

using std::chrono::milliseconds;
using std::chrono::nanoseconds;

SimulatedModel model(const std::string& name, uint8_t priority, nanoseconds frame,
                     ArrivalPattern arrivals, nanoseconds slo, uint32_t capacity = 8) {
    SimulatedModel simulated =
        simulated_model(name, priority, frame, std::move(arrivals), capacity);
    simulated.params.latency_slo = slo;
    return simulated;
}

ArrivalPattern at_ms(std::initializer_list<int> times) {
    std::vector<nanoseconds> list;
    for (int time : times) list.push_back(milliseconds(time));
    return ArrivalPattern::at(std::move(list));
}

TEST(VirtualTimeAdmissionTest, FramesPredictedToMissTheirDeadlineAreRefusedWhenQueued) {
    // 10 ms frames, SLO 25 ms, arrivals at 0, 1, 2, 3 and 15 ms on one slot:
    //   0: nothing ahead, finishes at 10 <= 25: admitted (runs 0-10);
    //   1: 9 ms left of frame 0, then its own 10: 20 <= 26: admitted (runs 10-20);
    //   2: 8 left + frame 1's 10 + 10 = 30 > 27: refused;  3: 30 > 28: refused;
    //  15: 5 left of frame 1 + 10 = 30 <= 40: admitted (runs 20-30, latency 15).
    const auto frames = at_ms({0, 1, 2, 3, 15});
    auto admitted = simulate({model("cam", 16, milliseconds(10), frames, milliseconds(25))},
                             nanoseconds(0), strict(), milliseconds(100));
    const SimulatedModelResult& cam = admitted.models[0];
    EXPECT_EQ(cam.frames_refused, 2u);
    EXPECT_EQ(cam.frames_dropped_late, 0u);
    EXPECT_EQ(cam.frames_late, 0u);
    EXPECT_EQ(cam.frames_done, 3u);
    EXPECT_EQ(cam.latency_ms, (std::vector<double>{10, 19, 15}));

    // Without the SLO every frame runs, however late: 10, 19, 28, 37 and 35 ms.
    auto unchecked = simulate({model("cam", 16, milliseconds(10), frames, nanoseconds(0))},
                              nanoseconds(0), strict(), milliseconds(100));
    EXPECT_EQ(unchecked.models[0].frames_refused, 0u);
    EXPECT_EQ(unchecked.models[0].latency_ms, (std::vector<double>{10, 19, 28, 37, 35}));
}

TEST(VirtualTimeAdmissionTest, AFrameOvertakenAfterItsAdmissionIsDroppedBeforeItRuns) {
    // low (16, SLO 22 ms): frames at 0 and 1 ms, both admitted (finishing at 10 and 20).
    // urgent (24, no SLO): a frame at 2 ms, which outranks low's second frame at the decision
    // at 10 and runs 10-20. At 20 low's frame would end at 30, after its deadline of 23: dropped.
    auto result = simulate({model("low", 16, milliseconds(10), at_ms({0, 1}), milliseconds(22)),
                            model("urgent", 24, milliseconds(10), at_ms({2}), nanoseconds(0))},
                           nanoseconds(0), strict(), milliseconds(100));
    EXPECT_EQ(result.models[0].frames_refused, 0u);
    EXPECT_EQ(result.models[0].frames_dropped_late, 1u);
    EXPECT_EQ(result.models[0].latency_ms, (std::vector<double>{10}));
    EXPECT_EQ(result.models[1].latency_ms, (std::vector<double>{18}));
    ASSERT_EQ(result.dispatches.size(), 2u);  // the dropped frame never got the device
}

TEST(VirtualTimeAdmissionTest, WithinAPriorityLevelTheEarliestDeadlineRunsFirst) {
    // busy holds the slot 0-10; relaxed (SLO 100) queues at 1 ms, tight (SLO 30) at 2 ms. At 10
    // tight's deadline (32) is earlier than relaxed's (101): tight runs first, though it came
    // later.
    auto result = simulate({model("busy", 16, milliseconds(10), at_ms({0}), nanoseconds(0)),
                            model("relaxed", 16, milliseconds(10), at_ms({1}), milliseconds(100)),
                            model("tight", 16, milliseconds(10), at_ms({2}), milliseconds(30))},
                           nanoseconds(0), strict(), milliseconds(100));
    ASSERT_EQ(result.dispatches.size(), 3u);
    EXPECT_EQ(result.dispatches[1].model, 2u);
    EXPECT_EQ(result.dispatches[1].start, milliseconds(10));
    EXPECT_EQ(result.dispatches[1].reason, DecisionReason::EARLIEST_DEADLINE);
    EXPECT_EQ(result.dispatches[2].model, 1u);
    EXPECT_EQ(result.models[2].latency_ms, (std::vector<double>{18}));
    EXPECT_EQ(result.models[1].latency_ms, (std::vector<double>{29}));
}

TEST(VirtualTimeAdmissionTest, AClientWhoseFramesAreRefusedRetriesAfterTheGapInsteadOfSpinning) {
    // Frames of 10 ms can never meet 5 ms: each of the two clients of a saturating model is
    // refused at 0, 1, 2, ... 20 ms (REFUSED_RETRY_GAP apart): 42 refusals, nothing runs.
    ASSERT_EQ(REFUSED_RETRY_GAP, milliseconds(1));
    auto result = simulate(
        {model("never", 16, milliseconds(10), ArrivalPattern::saturate(), milliseconds(5), 2)},
        nanoseconds(0), strict(), milliseconds(20));
    EXPECT_EQ(result.models[0].frames_refused, 42u);
    EXPECT_EQ(result.models[0].frames_done, 0u);
    EXPECT_TRUE(result.dispatches.empty());
}

TEST(VirtualTimeAdmissionTest, AnUrgentModelOnItsLatencySlotSeesOnlyUrgentWorkAhead) {
    // A shared slot busy 0-10 with a normal frame; an urgent model (24, SLO 3 ms, 2 ms frames)
    // on the device's latency slot is admitted at 1 ms: nothing urgent is ahead of it, so it
    // finishes at 3, within its SLO, instead of being refused behind the busy slot.
    SimulatedDevice device;
    device.slots = 1;
    device.latency_slots = 1;
    auto result = simulate({model("busy", 16, milliseconds(10), at_ms({0}), nanoseconds(0)),
                            model("urgent", 24, milliseconds(2), at_ms({1}), milliseconds(3))},
                           device, strict(), milliseconds(50));
    EXPECT_EQ(result.models[1].frames_refused, 0u);
    EXPECT_EQ(result.models[1].latency_ms, (std::vector<double>{2}));
    // Without the latency slot the same frame would wait for the busy one: refused.
    device.latency_slots = 0;
    auto shared = simulate({model("busy", 16, milliseconds(10), at_ms({0}), nanoseconds(0)),
                            model("urgent", 24, milliseconds(2), at_ms({1}), milliseconds(3))},
                           device, strict(), milliseconds(50));
    EXPECT_EQ(shared.models[1].frames_refused, 1u);
}

}  // namespace
}  // namespace corun::scheduler
