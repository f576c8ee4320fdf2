// Bounds on one frame (issue 9): the frame time limit (a model with an endless Loop is stopped
// with TIMEOUT while the group's other models keep running), terminating a configured model's
// running frames (what corund does when a client dies), the frame size limit at configure(),
// and a process that exits while corun still works for it.
//
// The runaway model loops forever, so whether a frame of it is still running is exact: it ends
// only when corun stops it.
#include <gtest/gtest.h>

#include <sys/wait.h>

#include <array>
#include <chrono>
#include <cstdio>
#include <string>
#include <vector>

#include "corun/corun.hpp"
#include "runtime/api_access.hpp"
#include "test_support.hpp"

namespace corun {
namespace {

using test::contains;
using test::test_model;
using test::unique_group;
using namespace std::chrono_literals;

constexpr auto kTimeout = test::WAIT_LIMIT;

std::unique_ptr<VDevice> make_group(const std::string& prefix, uint32_t slots) {
    VDeviceParams params;
    params.group_id = unique_group(prefix);
    params.cpu.execution_slots = slots;
    params.cpu.intra_op_threads = 1;
    auto vdevice = VDevice::create(params);
    EXPECT_TRUE(vdevice.has_value()) << vdevice.status();
    return vdevice.has_value() ? vdevice.release() : nullptr;
}

// One frame of endless_loop.onnx (x -> y, one float each).
struct LoopFrame {
    float input = 0.0f;
    float output = -1.0f;
    Expected<ConfiguredInferModel::Bindings> bind(ConfiguredInferModel& configured) {
        return configured.create_bindings(
            {{"x", MemoryView(&input, sizeof input)}, {"y", MemoryView(&output, sizeof output)}});
    }
};

// One frame of add_one.onnx.
struct AddOneFrame {
    std::vector<float> input = std::vector<float>(48, 1.0f);
    std::vector<float> output = std::vector<float>(48, 0.0f);
    Expected<ConfiguredInferModel::Bindings> bind(ConfiguredInferModel& configured) {
        return configured.create_bindings(
            {{"x", MemoryView::of(input)}, {"y", MemoryView::of(output)}});
    }
    bool is_correct() const {
        for (size_t i = 0; i < input.size(); ++i) {
            if (output[i] != input[i] + 1.0f) return false;
        }
        return true;
    }
};

// Waits until the scheduler reports `frames` running for the configured model.
bool wait_until_running(const VDevice& vdevice, const ConfiguredInferModel& configured,
                        uint32_t frames) {
    return test::wait_until([&] {
        for (const auto& stats : vdevice.get_scheduler_stats()) {
            if (stats.model_id == configured.scheduler_model_id() &&
                stats.frames_running == frames) {
                return true;
            }
        }
        return false;
    });
}

TEST(FrameLimitsTest, SettingsHaveDefaultsAndRanges) {
    auto vdevice = make_group("limits-settings", 1);
    ASSERT_OK_AND_ASSIGN(auto model, vdevice->create_infer_model(test_model("add_one.onnx")));
    EXPECT_EQ(model->frame_time_limit(), InferModel::DEFAULT_FRAME_TIME_LIMIT);
    EXPECT_EQ(InferModel::DEFAULT_FRAME_TIME_LIMIT, 600s);
    EXPECT_EQ(model->frame_size_limit(), InferModel::DEFAULT_FRAME_SIZE_LIMIT);
    EXPECT_EQ(InferModel::DEFAULT_FRAME_SIZE_LIMIT, uint64_t{1} << 30);
    EXPECT_STATUS(model->set_frame_time_limit(0ms), StatusCode::INVALID_ARGUMENT);
    EXPECT_STATUS(model->set_frame_time_limit(-5ms), StatusCode::INVALID_ARGUMENT);
    EXPECT_STATUS(model->set_frame_time_limit(InferModel::MAX_FRAME_TIME_LIMIT + 1ms),
                  StatusCode::INVALID_ARGUMENT);
    EXPECT_STATUS(model->set_frame_size_limit(0), StatusCode::INVALID_ARGUMENT);
    EXPECT_EQ(model->frame_time_limit(), InferModel::DEFAULT_FRAME_TIME_LIMIT);

    ASSERT_OK_AND_ASSIGN(auto with_default, model->configure());
    EXPECT_EQ(with_default.get_frame_time_limit(), 600s);
    ASSERT_OK(model->set_frame_time_limit(1500ms));
    ASSERT_OK_AND_ASSIGN(auto with_limit, model->configure());
    EXPECT_EQ(with_limit.get_frame_time_limit(), 1500ms);
    // Each configured model keeps the limit it was configured with.
    EXPECT_EQ(with_default.get_frame_time_limit(), 600s);
}

TEST(FrameLimitsTest, RunawayFrameTimesOutAndFreesItsSlot) {
    auto vdevice = make_group("limits-timeout", 1);  // one slot: the runaway holds it
    ASSERT_OK_AND_ASSIGN(auto loop, vdevice->create_infer_model(test_model("endless_loop.onnx")));
    ASSERT_OK(loop->set_frame_time_limit(200ms));
    ASSERT_OK_AND_ASSIGN(auto runaway, loop->configure());
    ASSERT_OK_AND_ASSIGN(auto adder, vdevice->create_infer_model(test_model("add_one.onnx")));
    ASSERT_OK_AND_ASSIGN(auto neighbour, adder->configure());

    LoopFrame frame;
    ASSERT_OK_AND_ASSIGN(auto bindings, frame.bind(runaway));
    const Status status = runaway.run(bindings, kTimeout);
    EXPECT_EQ(status.code(), StatusCode::TIMEOUT) << status;
    EXPECT_TRUE(contains(status.message(), "'endless_loop'")) << status;
    EXPECT_TRUE(contains(status.message(), "frame time limit of 200 ms")) << status;
    EXPECT_TRUE(contains(status.message(), "InferModel::set_frame_time_limit")) << status;
    EXPECT_TRUE(contains(status.message(), "endless Loop")) << status;

    // The slot is free again, for the other model and for the runaway model's next frame.
    AddOneFrame added;
    ASSERT_OK_AND_ASSIGN(auto added_bindings, added.bind(neighbour));
    ASSERT_OK(neighbour.run(added_bindings, kTimeout));
    EXPECT_TRUE(added.is_correct());
    ASSERT_OK_AND_ASSIGN(auto job, runaway.run_async(bindings));
    EXPECT_EQ(job.wait(kTimeout).code(), StatusCode::TIMEOUT);
}

TEST(FrameLimitsTest, OtherModelsRunWhileAFrameRunsAwayAndTerminatingStopsIt) {
    auto vdevice = make_group("limits-terminate", 2);
    ASSERT_OK_AND_ASSIGN(auto loop, vdevice->create_infer_model(test_model("endless_loop.onnx")));
    ASSERT_OK(loop->set_frame_time_limit(InferModel::MAX_FRAME_TIME_LIMIT));
    ASSERT_OK_AND_ASSIGN(auto runaway, loop->configure());
    ASSERT_OK_AND_ASSIGN(auto adder, vdevice->create_infer_model(test_model("add_one.onnx")));
    ASSERT_OK_AND_ASSIGN(auto neighbour, adder->configure());

    LoopFrame frame;
    ASSERT_OK_AND_ASSIGN(auto bindings, frame.bind(runaway));
    test::Gate runaway_done;  // opened by the runaway frame's callback, after its status
    Status runaway_status(StatusCode::UNINITIALIZED, "the callback never ran");
    ASSERT_OK_AND_ASSIGN(auto job,
                         runaway.run_async(bindings, [&](const AsyncInferCompletionInfo& info) {
                             runaway_status = info.status;
                             runaway_done.open();
                         }));
    ASSERT_TRUE(wait_until_running(*vdevice, runaway, 1));

    // The other model of the group keeps its slot busy with frames while the runaway runs: it
    // cannot end on its own, so these all complete during it.
    constexpr int kFrames = 20;
    AddOneFrame added;
    ASSERT_OK_AND_ASSIGN(auto added_bindings, added.bind(neighbour));
    for (int f = 0; f < kFrames; ++f) ASSERT_OK(neighbour.run(added_bindings, kTimeout));
    EXPECT_TRUE(added.is_correct());
    EXPECT_FALSE(job.is_done());
    EXPECT_FALSE(runaway_done.is_open());

    runtime::terminate_running_frames(runaway);
    const Status stopped = job.wait(kTimeout);
    EXPECT_EQ(stopped.code(), StatusCode::ABORTED) << stopped;
    EXPECT_TRUE(contains(stopped.message(), "terminated")) << stopped;
    ASSERT_TRUE(runaway_done.wait());
    EXPECT_EQ(runaway_status.code(), StatusCode::ABORTED);
    // Terminated for good: a later frame is stopped as soon as it starts. The neighbour is not.
    ASSERT_OK_AND_ASSIGN(auto later, runaway.run_async(bindings));
    EXPECT_EQ(later.wait(kTimeout).code(), StatusCode::ABORTED);
    ASSERT_OK(neighbour.run(added_bindings, kTimeout));
    ASSERT_OK(runaway.shutdown());

    for (const auto& stats : vdevice->get_scheduler_stats()) {
        if (stats.model_id == neighbour.scheduler_model_id()) {
            EXPECT_EQ(stats.frames_done, static_cast<uint64_t>(kFrames + 1));
        }
    }
}

TEST(FrameLimitsTest, ConfigureBoundsTheFrameThatFindsOutputShapes) {
    auto vdevice = make_group("limits-configure", 1);
    ASSERT_OK_AND_ASSIGN(auto loop,
                         vdevice->create_infer_model(test_model("endless_loop_dynamic.onnx")));
    ASSERT_OK(loop->set_frame_time_limit(100ms));
    auto configured = loop->configure();
    ASSERT_FALSE(configured.has_value());
    EXPECT_EQ(configured.status().code(), StatusCode::TIMEOUT) << configured.status();
    EXPECT_TRUE(contains(configured.status().message(), "set_frame_time_limit"))
        << configured.status();
}

TEST(FrameLimitsTest, ConfigureRefusesAFrameAboveTheSizeLimit) {
    auto vdevice = make_group("limits-size", 1);
    ASSERT_OK_AND_ASSIGN(auto model, vdevice->create_infer_model(test_model("huge_frame.onnx")));
    // 1 x 100000 x 100000 x 3 floats in and out: 120 GB each.
    const uint64_t stream_bytes = uint64_t{100000} * 100000 * 3 * 4;
    auto refused = model->configure();
    ASSERT_FALSE(refused.has_value());
    const Status& status = refused.status();
    EXPECT_EQ(status.code(), StatusCode::RESOURCE_LIMIT) << status;
    EXPECT_TRUE(contains(status.message(), "'huge_frame'")) << status;
    EXPECT_TRUE(contains(status.message(), std::to_string(stream_bytes))) << status;
    EXPECT_TRUE(contains(status.message(), std::to_string(uint64_t{1} << 30))) << status;
    EXPECT_TRUE(contains(status.message(), "set_frame_size_limit")) << status;

    // Inputs alone above the limit; the outputs make it twice that.
    ASSERT_OK(model->set_frame_size_limit(stream_bytes));
    auto outputs_refused = model->configure();
    ASSERT_FALSE(outputs_refused.has_value());
    EXPECT_TRUE(contains(outputs_refused.status().message(), std::to_string(2 * stream_bytes)))
        << outputs_refused.status();

    // The limit is the user's to raise: configure() itself allocates no frame.
    ASSERT_OK(model->set_frame_size_limit(2 * stream_bytes));
    ASSERT_OK(model->configure());
}

// A program that returns from main while its last job, whose callback holds the last reference
// to the configured model and the device group, still runs (exit_with_pending_work.cpp). Under
// ASan, the last reference dropped on a worker after ONNX Runtime's statics were gone was a
// heap-use-after-free.
TEST(FrameLimitsTest, ProcessExitsCleanlyWhileWorkIsPending) {
    const std::string command =
        std::string(CORUN_EXIT_HELPER) + " " + CORUN_TEST_MODEL_DIR + " 2>&1";
    FILE* pipe = popen(command.c_str(), "r");
    ASSERT_NE(pipe, nullptr);
    std::string output;
    std::array<char, 4096> buffer{};
    while (fgets(buffer.data(), buffer.size(), pipe) != nullptr) output += buffer.data();
    const int status = pclose(pipe);
    ASSERT_TRUE(WIFEXITED(status)) << output;
    EXPECT_EQ(WEXITSTATUS(status), 0) << output;
    EXPECT_TRUE(contains(output, "pending work submitted")) << output;
    EXPECT_FALSE(contains(output, "Sanitizer")) << output;
    EXPECT_FALSE(contains(output, "runtime error")) << output;
}

}  // namespace
}  // namespace corun
