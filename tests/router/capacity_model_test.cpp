// The capacity model on cases that can be checked by hand, through the public API
// (corun::CapacityPlanner): a periodic model on an idle device has exactly its frame time as
// latency and rate x frame time as utilisation; saturating models split the device as fairness
// says; the headroom is where the SLO or the device gives out; bad workloads are refused with
// the fix.
#include <gtest/gtest.h>

#include <cmath>

#include "corun/capacity_plan.hpp"

namespace corun {
namespace {

using std::chrono::milliseconds;

const char* PROFILE = R"({"device": {"context_switch_us": 0},
  "models": {"cam": {"frame_us": 4000}, "small": {"frame_us": 2000},
             "large": {"frame_us": 6000}},
  "cpu": {"device": {"cores": 2, "execution_slots": 2, "intra_op_threads": 1,
                     "interference": [1.0, 1.5]},
          "models": {"cam": {"frame_us": 4000, "host_pre_us": 1000, "host_post_us": 500},
                     "small": {"frame_us": 2000}, "large": {"frame_us": 6000}},
          "generative": {"llm": {"prefill_chunk_tokens": 64, "prefill_chunk_us": 100000,
                                 "decode_step_us": 20000}}}})";

CapacityPlanner planner() {
    auto made = CapacityPlanner::from_json(PROFILE);
    EXPECT_TRUE(made) << made.status();
    return made.release();
}

CapacityWorkload on(const std::string& device, std::vector<PlannedModel> models,
                    uint32_t slots = 0) {
    CapacityWorkload workload;
    workload.device = device;
    workload.slots = slots;
    workload.horizon = std::chrono::seconds(20);
    workload.models = std::move(models);
    return workload;
}

TEST(CapacityModelTest, APeriodicModelOnAnIdleDeviceTakesExactlyItsFrameTime) {
    PlannedModel cam = PlannedModel::at_rate("cam", 50);
    cam.slo = milliseconds(5);
    auto prediction = planner().predict(on("npu-sim", {cam}));
    ASSERT_TRUE(prediction) << prediction.status();
    const ModelPrediction& model = prediction->models.at(0);
    EXPECT_DOUBLE_EQ(model.latency_p50_ms, 4.0);
    EXPECT_DOUBLE_EQ(model.latency_p95_ms, 4.0);
    EXPECT_DOUBLE_EQ(model.latency_p99_ms, 4.0);
    EXPECT_NEAR(model.utilisation, 50 * 0.004, 1e-3);  // rate x frame time
    EXPECT_NEAR(prediction->utilisation, 0.2, 1e-3);
    EXPECT_NEAR(model.throughput, 50.0, 0.1);
    EXPECT_DOUBLE_EQ(model.offered_rate, 50.0);
    EXPECT_TRUE(model.has_slo);
    EXPECT_TRUE(model.slo_holds);
    EXPECT_TRUE(prediction->all_slos_hold);
    // Frames keep their 4 ms until they come every 4 ms (250 a second): five times the rate.
    ASSERT_TRUE(model.headroom);
    EXPECT_DOUBLE_EQ(*model.headroom, 5.0);
    ASSERT_TRUE(prediction->headroom);
    EXPECT_DOUBLE_EQ(*prediction->headroom, 5.0);

    cam.slo = milliseconds(3);  // shorter than a frame: never holds
    auto missed = planner().predict(on("npu-sim", {cam}));
    ASSERT_TRUE(missed) << missed.status();
    EXPECT_FALSE(missed->models[0].slo_holds);
    EXPECT_FALSE(missed->all_slos_hold);
    EXPECT_DOUBLE_EQ(*missed->models[0].headroom, 0.0);
}

TEST(CapacityModelTest, ACameraThatWaitsForRoomDropsNothingAndKeepsUpOnlyAtItsRate) {
    // 4 ms frames at 300 a second: more than npu-sim's 250. Dropping, a sixth of the frames
    // find the queue full; waiting, the camera sends 250 a second and skips the schedule's
    // frames it fell behind by, which count as dropped: it does not keep up. At 200 a second
    // it keeps up, and its headroom is 1.25x (250 a second).
    PlannedModel dropping = PlannedModel::at_rate("cam", 300);
    PlannedModel waiting = dropping;
    waiting.waits_when_full = true;
    auto dropped = planner().predict(on("npu-sim", {dropping}));
    auto waited = planner().predict(on("npu-sim", {waiting}));
    ASSERT_TRUE(dropped && waited);
    EXPECT_GT(dropped->models[0].dropped_share, 0.15);
    EXPECT_FALSE(dropped->models[0].slo_holds);
    EXPECT_GT(waited->models[0].dropped_share, 0.1);
    EXPECT_NEAR(waited->models[0].throughput, 250.0, 1.0);
    EXPECT_FALSE(waited->models[0].slo_holds);
    waiting.rate = 200;
    auto light = planner().predict(on("npu-sim", {waiting}));
    ASSERT_TRUE(light);
    EXPECT_TRUE(light->models[0].slo_holds);
    ASSERT_TRUE(light->models[0].headroom);
    EXPECT_NEAR(*light->models[0].headroom, 1.25, 0.02);
}

TEST(CapacityModelTest, HostTimeAddsToLatencyButNotToTheDevice) {
    auto prediction = planner().predict(on("cpu", {PlannedModel::at_rate("cam", 50)}, 1));
    ASSERT_TRUE(prediction) << prediction.status();
    EXPECT_DOUBLE_EQ(prediction->models[0].latency_p50_ms, 5.5);  // 1 + 4 + 0.5
    EXPECT_NEAR(prediction->models[0].utilisation, 0.2, 1e-3);
}

TEST(CapacityModelTest, SaturatingModelsSplitTheDeviceByDeviceTime) {
    // Two clients keeping their queues full on one slot: fairness by device time gives each
    // half the device, so the 2 ms model runs three times the frames of the 6 ms one.
    CapacityWorkload workload = on(
        "npu-sim", {PlannedModel::closed_loop("small", 0), PlannedModel::closed_loop("large", 0)});
    workload.headroom = false;
    auto prediction = planner().predict(workload);
    ASSERT_TRUE(prediction) << prediction.status();
    EXPECT_NEAR(prediction->utilisation, 1.0, 1e-3);
    EXPECT_NEAR(prediction->models[0].utilisation, 0.5, 0.01);
    EXPECT_NEAR(prediction->models[1].utilisation, 0.5, 0.01);
    EXPECT_NEAR(prediction->models[0].throughput, 250.0, 3.0);
    EXPECT_NEAR(prediction->models[1].throughput, 83.3, 1.0);
    EXPECT_FALSE(prediction->models[0].headroom);  // closed loop: its rate follows the device
    EXPECT_FALSE(prediction->headroom);
}

// A 2 ms and a 6 ms model, one closed-loop client each, on npu-sim's one slot, planned for a
// scheduler without anticipation: every completion's race share decides whether its frame
// competes (with it, a frame that would win is waited for whatever the share).
CapacityWorkload small_and_large_closed_loop() {
    CapacityWorkload two = on(
        "npu-sim", {PlannedModel::closed_loop("small", 1), PlannedModel::closed_loop("large", 1)});
    two.headroom = false;
    two.anticipation = std::chrono::microseconds(0);
    return two;
}

// Both at 125 frames/s: they alternate frame by frame.
void expect_alternating(const CapacityPlanner& planner, const CapacityWorkload& workload) {
    auto alternating = planner.predict(workload);
    ASSERT_TRUE(alternating) << alternating.status();
    EXPECT_NEAR(alternating->models[0].throughput, 125.0, 1.0);
    EXPECT_NEAR(alternating->models[1].throughput, 125.0, 1.0);
}

TEST(CapacityModelTest, TheClosedLoopRaceShareIsTheOneMeasuredForThatManyClosedLoopModels) {
    // One client each on one slot. Measured with two closed-loop models, the client's next
    // frame was never queued before the decision (0): the two alternate frame by frame, 125
    // frames/s each. With three, always (1): fairness by device time, as above.
    auto made = CapacityPlanner::from_json(R"({"device": {"context_switch_us": 0,
        "closed_loop_in_time": 1, "closed_loop_in_time_by_clients": [0, 1]},
      "models": {"small": {"frame_us": 2000}, "large": {"frame_us": 6000},
                 "other": {"frame_us": 6000}}})");
    ASSERT_TRUE(made) << made.status();
    const CapacityWorkload two = small_and_large_closed_loop();
    expect_alternating(*made, two);
    // A camera beside them is not a closed-loop model: the share stays the one for two.
    CapacityWorkload with_camera = two;
    with_camera.models.push_back(PlannedModel::at_rate("other", 1));
    auto still = made->predict(with_camera);
    ASSERT_TRUE(still) << still.status();
    EXPECT_NEAR(still->models[0].throughput, still->models[1].throughput, 2.0);
    CapacityWorkload three = two;
    three.models.push_back(PlannedModel::closed_loop("other", 1));
    auto fair = made->predict(three);
    ASSERT_TRUE(fair) << fair.status();
    EXPECT_NEAR(fair->models[0].throughput, 3 * fair->models[1].throughput, 3.0);
}

TEST(CapacityModelTest, AModelsOwnClosedLoopShareOverridesTheDevices) {
    // The device's share says always in time (fair by device time: the 2 ms model runs three
    // frames for each of the 6 ms one's); both models' own shares say never: they alternate,
    // 125 frames/s each, as with the device's share at 0.
    auto made = CapacityPlanner::from_json(R"({"device": {"context_switch_us": 0,
        "closed_loop_in_time": 1},
      "models": {"small": {"frame_us": 2000, "closed_loop_in_time_by_clients": [0]},
                 "large": {"frame_us": 6000, "closed_loop_in_time_by_clients": [0]}}})");
    ASSERT_TRUE(made) << made.status();
    expect_alternating(*made, small_and_large_closed_loop());
}

TEST(CapacityModelTest, ConcurrentSlotsSlowEachOtherByTheMeasuredInterference) {
    // One client each, two slots, 1.5x while both run: every 6 ms frame takes 9 ms.
    CapacityWorkload workload =
        on("cpu", {PlannedModel::closed_loop("small", 1), PlannedModel::closed_loop("small", 1)});
    workload.models[0].name = "large";
    workload.models[1].name = "large";
    auto prediction = planner().predict(workload);
    ASSERT_TRUE(prediction) << prediction.status();
    EXPECT_EQ(prediction->slots, 2u);  // as the profile was measured
    for (const auto& model : prediction->models) {
        EXPECT_DOUBLE_EQ(model.latency_p50_ms, 9.0);
        EXPECT_NEAR(model.throughput, 1000.0 / 9.0, 0.1);
    }
    EXPECT_NEAR(prediction->utilisation, 1.0, 1e-3);
}

TEST(CapacityModelTest, AMeasuredFrameSpreadGivesTheTailItsJitter) {
    // 10 ms at the median, the frame times spread evenly from 1x to 2x: alone in a closed
    // loop, a frame's latency is its device time, so p50 is 15 ms and p95 19.5 ms (without the
    // spread every percentile would be 10 ms).
    auto made = CapacityPlanner::from_json(R"({"models": {"jittery": {"frame_us": 10000,
        "frame_spread": [1.0, 1.1, 1.2, 1.3, 1.4, 1.5, 1.6, 1.7, 1.8, 1.9, 2.0]}}})");
    ASSERT_TRUE(made) << made.status();
    CapacityWorkload workload = on("npu-sim", {PlannedModel::closed_loop("jittery", 1)});
    workload.headroom = false;
    auto prediction = made->predict(workload);
    ASSERT_TRUE(prediction) << prediction.status();
    EXPECT_NEAR(prediction->models[0].latency_p50_ms, 15.0, 0.3);
    EXPECT_NEAR(prediction->models[0].latency_p95_ms, 19.5, 0.3);
    EXPECT_NEAR(prediction->models[0].throughput, 1000.0 / 15.0, 1.0);
}

TEST(CapacityModelTest, AnLlmIsPlannedByItsPrefillChunksAndDecodeSteps) {
    PlannedModel llm = PlannedModel::closed_loop("llm", 1);
    llm.prompt_tokens = 64;  // one 100 ms chunk
    llm.max_tokens = 4;      // the first token, then three 20 ms steps
    llm.slo = milliseconds(150);
    auto prediction = planner().predict(on("cpu", {llm}, 1));
    ASSERT_TRUE(prediction) << prediction.status();
    const ModelPrediction& model = prediction->models[0];
    EXPECT_TRUE(model.generative);
    EXPECT_DOUBLE_EQ(model.ttft_p50_ms, 100.0);
    EXPECT_DOUBLE_EQ(model.latency_p50_ms, 160.0);
    EXPECT_NEAR(model.throughput, 6.25, 0.01);
    EXPECT_NEAR(model.tokens_per_second, 25.0, 0.05);
    EXPECT_TRUE(model.slo_holds);  // checked against the time to first token
}

TEST(CapacityModelTest, AMeasuredPrefillSpreadGivesTheTimeToFirstTokenItsTail) {
    // Chunks spread evenly from 1x to 2x their 100 ms median: the TTFT is uniform over 100-200
    // ms (without the spread its p95 would be its p50, 100 ms).
    auto made = CapacityPlanner::from_json(R"({"cpu": {"device": {"execution_slots": 1},
      "models": {}, "generative": {"llm": {"prefill_chunk_tokens": 64,
        "prefill_chunk_us": 100000, "decode_step_us": 20000, "prefill_spread": [1.0, 2.0]}}}})");
    ASSERT_TRUE(made) << made.status();
    PlannedModel llm = PlannedModel::closed_loop("llm", 1);
    llm.prompt_tokens = 64;
    llm.max_tokens = 4;
    auto prediction = made->predict(on("cpu", {llm}, 1));
    ASSERT_TRUE(prediction) << prediction.status();
    EXPECT_NEAR(prediction->models[0].ttft_p50_ms, 150.0, 5.0);
    EXPECT_NEAR(prediction->models[0].ttft_p95_ms, 195.0, 3.0);
}

TEST(CapacityModelTest, AFrameAboveTheLlmsPriorityRunsBesideItsUnit) {
    PlannedModel llm = PlannedModel::closed_loop("llm", 1);
    PlannedModel cam = PlannedModel::at_rate("cam", 10);
    cam.priority = 24;
    CapacityWorkload workload = on("cpu", {llm, cam}, 1);
    workload.headroom = false;
    auto prediction = planner().predict(workload);
    ASSERT_TRUE(prediction) << prediction.status();
    // The unit pauses while the frame runs: the frame sees an idle device.
    EXPECT_DOUBLE_EQ(prediction->models[1].latency_p95_ms, 5.5);
}

TEST(CapacityModelTest, AnOverloadedModelWithAnSloIsPredictedToRefuseFramesNotToRunLate) {
    // 4 ms frames at 400 a second: 1.6x what the device runs. With admission (the default, as
    // the scheduler enforces an SLO) every frame that runs meets its 5.5 ms SLO and the excess
    // is refused or finds the queue full; the SLO does not hold, as more than 1% is refused.
    PlannedModel cam = PlannedModel::at_rate("cam", 400);
    cam.slo = std::chrono::microseconds(5500);
    cam.slo_percentile = 99;
    CapacityWorkload workload = on("npu-sim", {cam});
    workload.headroom = false;
    auto admitted = planner().predict(workload);
    ASSERT_TRUE(admitted) << admitted.status();
    const ModelPrediction& model = admitted->models[0];
    EXPECT_GT(model.refused_share, 0.1);
    EXPECT_NEAR(model.refused_share + model.dropped_share, 1 - model.throughput / 400, 0.005);
    EXPECT_DOUBLE_EQ(model.late_share, 0.0);
    EXPECT_LE(model.latency_p99_ms, 5.5);
    EXPECT_FALSE(model.slo_holds);

    // Planned as a target only, no frame is refused: they queue, run late and find the queue
    // full.
    workload.models[0].admission = false;
    auto unchecked = planner().predict(workload);
    ASSERT_TRUE(unchecked) << unchecked.status();
    EXPECT_DOUBLE_EQ(unchecked->models[0].refused_share, 0.0);
    EXPECT_GT(unchecked->models[0].latency_p99_ms, 5.5);
    EXPECT_FALSE(unchecked->models[0].slo_holds);

    // At 100 a second nothing waits: nothing refused, the SLO holds.
    workload.models[0] = cam;
    workload.models[0].rate = 100;
    auto light = planner().predict(workload);
    ASSERT_TRUE(light) << light.status();
    EXPECT_DOUBLE_EQ(light->models[0].refused_share, 0.0);
    EXPECT_DOUBLE_EQ(light->models[0].latency_p99_ms, 4.0);
    EXPECT_TRUE(light->models[0].slo_holds);
}

void expect_refused(const CapacityWorkload& workload, StatusCode code,
                    const std::string& expected) {
    auto prediction = planner().predict(workload);
    ASSERT_FALSE(prediction);
    EXPECT_EQ(prediction.status().code(), code);
    EXPECT_NE(prediction.status().message().find(expected), std::string::npos)
        << prediction.status().message();
}

TEST(CapacityModelTest, AWorkloadThatCannotBePlannedIsRefusedWithTheFix) {
    expect_refused(on("cpu", {PlannedModel::at_rate("yolo", 10)}), StatusCode::NOT_FOUND,
                   "model 'yolo' is not in the profile's cpu section (it has: cam, large, "
                   "small, llm); measure it with `corun benchmark yolo.onnx... --profile FILE`");
    expect_refused(on("cpu", {PlannedModel::at_rate("cam", 0)}), StatusCode::INVALID_ARGUMENT,
                   "model #1 (cam): the rate must be more than 0");
    expect_refused(on("cpu", {PlannedModel::at_rate("cam", NAN)}), StatusCode::INVALID_ARGUMENT,
                   "the rate must be more than 0");
    expect_refused(on("cpu", {PlannedModel::at_rate("cam", 10)}, 4), StatusCode::INVALID_ARGUMENT,
                   "with 2 slot(s) busy at most, not 4; measure it with `corun benchmark "
                   "MODEL.onnx... --slots 4 --profile FILE`");
    expect_refused(on("npu-sim", {PlannedModel::at_rate("cam", 10)}, 2),
                   StatusCode::INVALID_ARGUMENT, "single-context");
    expect_refused(on("npu-sim", {PlannedModel::closed_loop("llm", 1)}), StatusCode::NOT_FOUND,
                   "model 'llm' is not in the profile's npu-sim section");
    expect_refused(on("cpu", {}), StatusCode::INVALID_ARGUMENT, "no models");
    PlannedModel high = PlannedModel::at_rate("cam", 10);
    high.priority = 40;
    expect_refused(on("cpu", {high}), StatusCode::INVALID_ARGUMENT, "priority 40 is out of range");
    PlannedModel held = PlannedModel::at_rate("cam", 10);
    held.threshold = 5;
    expect_refused(on("cpu", {held}), StatusCode::INVALID_ARGUMENT, "threshold 5 is out of range");

    auto old = CapacityPlanner::from_json(R"({"models": {"cam": {"frame_us": 4000}}})");
    ASSERT_TRUE(old) << old.status();
    auto prediction = old->predict(on("cpu", {PlannedModel::at_rate("cam", 10)}));
    ASSERT_FALSE(prediction);
    EXPECT_EQ(prediction.status().code(), StatusCode::NOT_FOUND);
    EXPECT_NE(prediction.status().message().find("no cpu section"), std::string::npos);
    EXPECT_EQ(old->model_names("npu-sim"), std::vector<std::string>{"cam"});
    EXPECT_TRUE(old->model_names("cpu").empty());
}

}  // namespace
}  // namespace corun
