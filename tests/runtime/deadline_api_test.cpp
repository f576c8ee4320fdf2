// Deadlines through the public API, on the real cpu device: a model's latency SLO and a job's own
// deadline reach the scheduler; a frame predicted to miss completes at once with
// DEADLINE_EXCEEDED (callback and wait() alike); the counters and predicted_latency() say so;
// bad values are refused with the reason.
#include <gtest/gtest.h>

#include <chrono>
#include <thread>
#include <vector>

#include "corun/corun.hpp"
#include "test_support.hpp"

namespace corun {
namespace {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;
using test::unique_group;

constexpr size_t kWidth = 512;  // slow_matmul: x [1, 512] -> y [1, 512], 24 MatMul + Tanh

struct SlowMatmul {
    explicit SlowMatmul(SchedulingAlgorithm algorithm = SchedulingAlgorithm::ROUND_ROBIN,
                        uint16_t batch = 1) {
        VDeviceParams params;
        params.group_id = unique_group("deadline");
        params.scheduling_algorithm = algorithm;
        params.cpu.intra_op_threads = 1;
        auto made = VDevice::create(params);
        EXPECT_TRUE(made.has_value());
        vdevice = made.release();
        model = test::load_test_model(*vdevice, "slow_matmul.onnx");
        EXPECT_TRUE(model->set_batch_size(batch).is_ok());
        auto configured_made = model->configure();
        EXPECT_TRUE(configured_made.has_value()) << configured_made.status();
        configured.emplace(configured_made.release());
        inputs.assign(batch, std::vector<float>(kWidth, 0.5f));
        outputs.assign(batch, std::vector<float>(kWidth, 0.0f));
        for (size_t f = 0; f < batch; ++f) {
            auto bound = configured->create_bindings(
                {{"x", MemoryView::of(inputs[f])}, {"y", MemoryView::of(outputs[f])}});
            EXPECT_TRUE(bound.has_value()) << bound.status();
            bindings.push_back(bound.release());
        }
    }
    ScheduledModelStats stats() const {
        for (const auto& stats : vdevice->get_scheduler_stats()) {
            if (stats.model_id == configured->scheduler_model_id()) return stats;
        }
        ADD_FAILURE() << "the model is not in the scheduler's stats";
        return {};
    }

    std::unique_ptr<VDevice> vdevice;
    std::shared_ptr<InferModel> model;
    std::optional<ConfiguredInferModel> configured;
    std::vector<std::vector<float>> inputs;
    std::vector<std::vector<float>> outputs;
    std::vector<ConfiguredInferModel::Bindings> bindings;
};

TEST(DeadlineApiTest, AJobPastItsDeadlineCompletesAtOnceWithDeadlineExceeded) {
    SlowMatmul slow;
    std::optional<Status> seen;
    ASSERT_OK_AND_ASSIGN(auto job,
                         slow.configured->run_async(
                             slow.bindings[0], Clock::now() - 1ms,
                             [&](const AsyncInferCompletionInfo& info) { seen = info.status; }));
    EXPECT_TRUE(job.is_done());  // refused inside run_async
    const Status status = job.wait(1s);
    EXPECT_EQ(status.code(), StatusCode::DEADLINE_EXCEEDED);
    ASSERT_TRUE(seen);
    EXPECT_EQ(seen->code(), StatusCode::DEADLINE_EXCEEDED);
    EXPECT_TRUE(test::contains(status.message(), "refused at admission (predicted-late)"))
        << status;
    EXPECT_TRUE(test::contains(status.message(), "'slow_matmul'")) << status;
    const ScheduledModelStats stats = slow.stats();
    EXPECT_EQ(stats.deadline_refused, 1u);
    EXPECT_EQ(stats.deadline_admitted, 0u);
    EXPECT_EQ(stats.frames_done, 0u);
    // The queue slot went back: the next frame fits.
    EXPECT_OK(slow.configured->run(slow.bindings[0], 10s));
}

TEST(DeadlineApiTest, ASloRefusesABurstItsMeasuredTimeCannotFitAndRunReturnsIt) {
    SlowMatmul slow(SchedulingAlgorithm::ROUND_ROBIN, 32);
    EXPECT_STATUS(slow.configured->predicted_latency(), StatusCode::UNINITIALIZED);
    // 32 frames of 24 MatMuls of 512 x 512 in one job: far more than 1 ms on any CPU.
    ASSERT_OK_AND_ASSIGN(auto first, slow.configured->run_async(slow.bindings));
    ASSERT_OK(first.wait(60s));
    // The job completes before the scheduler books its burst: wait for the booking, which
    // is the measurement admission plans with.
    while (slow.stats().frames_done < 32) std::this_thread::sleep_for(1ms);
    ASSERT_OK(slow.configured->set_latency_slo(1ms));
    ASSERT_OK_AND_ASSIGN(auto refused, slow.configured->run_async(slow.bindings));
    EXPECT_EQ(refused.wait(1s).code(), StatusCode::DEADLINE_EXCEEDED);
    const ScheduledModelStats stats = slow.stats();
    EXPECT_EQ(stats.latency_slo_ms, 1.0);
    EXPECT_EQ(stats.deadline_refused, 1u);
    EXPECT_EQ(stats.frames_done, 32u);
    ASSERT_OK_AND_ASSIGN(auto predicted, slow.configured->predicted_latency());
    EXPECT_GT(predicted, 0ns);
    EXPECT_GT(stats.predicted_latency_ms, 0);
    // Without the SLO the same burst runs again.
    ASSERT_OK(slow.configured->set_latency_slo(0ms));
    ASSERT_OK_AND_ASSIGN(auto again, slow.configured->run_async(slow.bindings));
    EXPECT_OK(again.wait(60s));
}

TEST(DeadlineApiTest, AnSloLongEnoughIsMetAndCounted) {
    SlowMatmul slow;
    ASSERT_OK(slow.configured->set_latency_slo(std::chrono::hours(1)));
    for (int i = 0; i < 3; ++i) ASSERT_OK(slow.configured->run(slow.bindings[0], 60s));
    const ScheduledModelStats stats = slow.stats();
    EXPECT_EQ(stats.deadline_admitted, 3u);
    EXPECT_EQ(stats.deadline_met, 3u);
    EXPECT_EQ(stats.deadline_refused + stats.deadline_dropped + stats.deadline_finished_late, 0u);
}

// run() with a deadline is admitted as run_async's: refused at once when predicted late, run
// and counted as met otherwise.
TEST(DeadlineApiTest, RunWithADeadlineIsAdmittedAsRunAsyncIs) {
    SlowMatmul slow;
    const Status refused = slow.configured->run(slow.bindings[0], Clock::now() - 1ms, 10s);
    EXPECT_EQ(refused.code(), StatusCode::DEADLINE_EXCEEDED) << refused;
    EXPECT_TRUE(test::contains(refused.message(), "refused at admission (predicted-late)"))
        << refused;
    EXPECT_OK(slow.configured->run(slow.bindings[0], Clock::now() + std::chrono::hours(1), 60s));
    ASSERT_TRUE(test::wait_until([&] { return slow.stats().frames_done >= 1; }));
    // Measured now: the timing it is given says what the scheduler predicted and what it took.
    InferTiming timing;
    EXPECT_OK(
        slow.configured->run(slow.bindings[0], Clock::now() + std::chrono::hours(1), 60s, &timing));
    EXPECT_GT(timing.predicted_ns, 0);
    EXPECT_GT(timing.total_ns, 0);
    EXPECT_GT(timing.device_ns, 0);
    ASSERT_TRUE(test::wait_until([&] { return slow.stats().frames_done >= 2; }));
    const ScheduledModelStats stats = slow.stats();
    EXPECT_EQ(stats.deadline_refused, 1u);
    EXPECT_EQ(stats.deadline_admitted, 2u);
    EXPECT_EQ(stats.deadline_met, 2u);
    const Status epoch = slow.configured->run(slow.bindings[0], Clock::time_point{}, 10s);
    EXPECT_EQ(epoch.code(), StatusCode::INVALID_ARGUMENT) << epoch;
    EXPECT_TRUE(test::contains(epoch.message(), "epoch")) << epoch;
}

// A job with a deadline reports the latency the scheduler predicted at admission, refused or
// run; one without a deadline reports none. (Refused first: a frame that runs adds its time to
// what later predictions are made from.)
TEST(DeadlineApiTest, TheTimingCarriesThePredictionTheDeadlineWasCheckedAgainst) {
    SlowMatmul slow;
    std::vector<InferTiming> timings;
    auto record = [&](const AsyncInferCompletionInfo& info) { timings.push_back(info.timing); };
    ASSERT_OK_AND_ASSIGN(auto first, slow.configured->run_async(slow.bindings[0], record));
    ASSERT_OK(first.wait(60s));
    ASSERT_TRUE(test::wait_until([&] { return slow.stats().frames_done >= 1; }));
    // Nothing queued or running: the prediction is the model's own execution, the same at
    // admission as asked just before.
    ASSERT_OK_AND_ASSIGN(const auto predicted, slow.configured->predicted_latency());
    ASSERT_OK_AND_ASSIGN(auto refused,
                         slow.configured->run_async(slow.bindings[0], Clock::now(), record));
    EXPECT_EQ(refused.wait(1s).code(), StatusCode::DEADLINE_EXCEEDED);
    ASSERT_OK_AND_ASSIGN(
        auto admitted,
        slow.configured->run_async(slow.bindings[0], Clock::now() + std::chrono::hours(1), record));
    ASSERT_OK(admitted.wait(60s));
    ASSERT_EQ(timings.size(), 3u);
    EXPECT_EQ(timings[0].predicted_ns, 0);
    EXPECT_GT(predicted.count(), 0);
    EXPECT_EQ(timings[1].predicted_ns, predicted.count());
    EXPECT_EQ(timings[2].predicted_ns, predicted.count());
}

TEST(DeadlineApiTest, BadValuesAreRefusedWithTheReason) {
    SlowMatmul slow;
    EXPECT_STATUS(slow.configured->set_latency_slo(-1ms), StatusCode::INVALID_ARGUMENT);
    auto epoch = slow.configured->run_async(slow.bindings[0], Clock::time_point{});
    EXPECT_STATUS(epoch, StatusCode::INVALID_ARGUMENT);
    EXPECT_TRUE(test::contains(epoch.status().message(), "epoch")) << epoch.status();
    SlowMatmul unscheduled(SchedulingAlgorithm::NONE);
    EXPECT_STATUS(unscheduled.configured->set_latency_slo(10ms), StatusCode::INVALID_OPERATION);
}

}  // namespace
}  // namespace corun
