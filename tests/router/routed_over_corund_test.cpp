// A routed model whose first placement is an npu-sim in corund (the remote backend) and whose
// second is the cpu in this process. corund killed mid-run (kill -9, a real fault: no test
// double) fails the frames sent there with RPC_FAILED; each falls back to the cpu, and after
// three the corund placement is taken out. Every frame completes once, outputs equal a cpu-only
// run byte for byte, and the counters match the frames. A frame with a deadline is not
// checked against corund by a call per frame: it carries its deadline there, corund's own
// admission refuses it when predicted late, and it falls back.
#include <algorithm>
#include <filesystem>
#include <mutex>

#include "corun/routed_model.hpp"
#include "service/corund_process.hpp"
#include "test_support.hpp"

namespace corun {
namespace {

const std::string BLAZEFACE = std::string(CORUN_CACHE_DIR) +
                              "/models/blazeface-128/face_detection_front_128x128_barracuda.onnx";

class RoutedOverCorundTest : public test::CorundTest {
protected:
    void SetUp() override {
        if (!std::filesystem::exists(BLAZEFACE)) {
            GTEST_SKIP() << BLAZEFACE << " is missing; run scripts/fetch_models.sh";
        }
        test::CorundTest::SetUp();
    }
    // The two placements: corund's npu-sim, taking `frame_us` a frame, then the cpu here (none,
    // with the failure reported, if a VDevice cannot be created: RoutedModel::create then
    // refuses the params).
    RoutedModelParams corund_then_cpu(int frame_us) {
        VDeviceParams service = params();
        service.device_ids = {"npu-sim:0"};
        service.npu_sim.profile_json =
            R"({"device": {"context_switch_us": 0}, "models":
                {"face_detection_front_128x128_barracuda": {"frame_us": )" +
            std::to_string(frame_us) + "}}}";
        auto corund = VDevice::create_shared(service);
        VDeviceParams local;
        local.device_ids = {"cpu:0"};
        local.group_id = test::unique_group("router-local-cpu");
        auto here = VDevice::create_shared(local);
        RoutedModelParams routed;
        if (!corund.has_value() || !here.has_value()) {
            ADD_FAILURE() << "corund: " << corund.status() << "; cpu: " << here.status();
            return routed;
        }
        in_corund_ = *corund;
        in_process_ = *here;
        routed.placements = {{"corund", in_corund_}, {"cpu", in_process_}};
        routed.formats = {{"input:0", FormatType::UINT8, std::nullopt, {}}};
        return routed;
    }
    std::shared_ptr<VDevice> in_corund_, in_process_;
};

TEST_F(RoutedOverCorundTest, FramesFallBackToTheCpuInProcessWhenCorundDies) {
    RoutedModelParams params = corund_then_cpu(1000);
    params.health.failures_to_take_out = 3;
    params.health.probe_interval = std::chrono::hours(1);  // no probe in this test
    ASSERT_OK_AND_ASSIGN(auto routed, RoutedModel::create(BLAZEFACE, params));

    // The cpu-only reference, with the same user format.
    ASSERT_OK_AND_ASSIGN(auto reference_model, in_process_->create_infer_model(BLAZEFACE));
    reference_model->inputs()[0].set_format_type(FormatType::UINT8);
    ASSERT_OK_AND_ASSIGN(auto reference, reference_model->configure());

    constexpr size_t FRAMES = 9;
    std::vector<uint8_t> pixels(routed->get_frame_size("input:0").value());
    for (size_t f = 0; f < FRAMES; ++f) {
        if (f == 3) daemon_->kill_now();  // kill -9
        for (size_t i = 0; i < pixels.size(); ++i) {
            pixels[i] = static_cast<uint8_t>((i * 5 + f * 29) & 0xff);
        }
        std::map<std::string, std::vector<uint8_t>> outputs, expected;
        std::map<std::string, MemoryView> routed_buffers, reference_buffers;
        routed_buffers["input:0"] = reference_buffers["input:0"] = MemoryView::of(pixels);
        for (const auto& name : routed->get_output_names()) {
            outputs[name].assign(routed->get_frame_size(name).value(), 0xee);
            expected[name].assign(outputs[name].size(), 0);
            routed_buffers[name] = MemoryView::of(outputs[name]);
            reference_buffers[name] = MemoryView::of(expected[name]);
        }
        ASSERT_OK_AND_ASSIGN(auto bindings, routed->create_bindings(routed_buffers));
        ASSERT_OK_AND_ASSIGN(auto info, routed->run(bindings, test::WAIT_LIMIT));
        if (f < 3) {
            EXPECT_EQ(info.placement, "corund") << "frame " << f;
            EXPECT_EQ(info.attempts, 1u);
        } else if (f < 6) {  // sent to corund, failed there, ran here
            EXPECT_EQ(info.placement, "cpu") << "frame " << f;
            EXPECT_EQ(info.attempts, 2u);
            ASSERT_EQ(info.refused.size(), 1u);
            EXPECT_EQ(info.refused[0].status.code(), StatusCode::RPC_FAILED)
                << info.refused[0].status;
        } else {  // taken out: not tried
            EXPECT_EQ(info.placement, "cpu") << "frame " << f;
            EXPECT_EQ(info.attempts, 1u);
        }
        ASSERT_OK_AND_ASSIGN(auto reference_bindings, reference.create_bindings(reference_buffers));
        ASSERT_OK(reference.run(reference_bindings, test::WAIT_LIMIT));
        for (const auto& [name, bytes] : outputs) {
            EXPECT_TRUE(bytes == expected[name]) << "frame " << f << ", output " << name;
        }
    }

    const auto stats = routed->get_stats();
    EXPECT_EQ(stats.requests, FRAMES);
    EXPECT_EQ(stats.completed, FRAMES);
    const PlacementStats& corund = stats.placements[0];
    const PlacementStats& cpu = stats.placements[1];
    EXPECT_EQ(corund.frames_run, 3u);
    EXPECT_EQ(corund.failures, 3u);
    EXPECT_EQ(corund.fallbacks_away, 3u);
    EXPECT_EQ(corund.times_taken_out, 1u);
    EXPECT_EQ(corund.condition, PlacementCondition::TAKEN_OUT);
    EXPECT_TRUE(test::contains(corund.condition_reason, "RPC_FAILED")) << corund.condition_reason;
    EXPECT_EQ(cpu.frames_run, 6u);
}

// corund's npu-sim takes 1 s a frame. Once it has run one, a frame with an 800 ms deadline is
// refused by corund's own admission (its message, not the router's: the router asked corund
// nothing before sending it), falls back to the cpu here, and a frame an hour from its deadline
// runs in corund, its prediction coming back with its completion. run() with the model's SLO
// goes the same way.
TEST_F(RoutedOverCorundTest, CorundsOwnAdmissionRefusesAFramePredictedLateAndItFallsBack) {
    RoutedModelParams params = corund_then_cpu(1000000);
    ASSERT_OK_AND_ASSIGN(auto routed, RoutedModel::create(BLAZEFACE, params));

    std::vector<uint8_t> pixels(routed->get_frame_size("input:0").value(), 7);
    std::map<std::string, std::vector<uint8_t>> outputs;
    std::map<std::string, MemoryView> buffers;
    buffers["input:0"] = MemoryView::of(pixels);
    for (const auto& name : routed->get_output_names()) {
        outputs[name].assign(routed->get_frame_size(name).value(), 0);
        buffers[name] = MemoryView::of(outputs[name]);
    }
    ASSERT_OK_AND_ASSIGN(auto bindings, routed->create_bindings(buffers));
    ASSERT_OK_AND_ASSIGN(auto measured, routed->run(bindings, test::WAIT_LIMIT));
    EXPECT_EQ(measured.placement, "corund");
    // corund books the frame's time just after completing it.
    ASSERT_TRUE(test::wait_until([&] {
        const auto stats = in_corund_->get_scheduler_stats();
        return !stats.empty() && stats.front().predicted_latency_ms >= 1000.0;
    }));

    std::mutex mutex;
    std::vector<RoutedCompletionInfo> infos;
    auto send = [&](std::chrono::milliseconds budget) {
        auto job = routed->run_async(bindings, std::chrono::steady_clock::now() + budget,
                                     [&](const RoutedCompletionInfo& info) {
                                         std::lock_guard lock(mutex);
                                         infos.push_back(info);
                                     });
        ASSERT_TRUE(job.has_value()) << job.status();
        ASSERT_OK(job->wait(test::WAIT_LIMIT));
    };
    send(std::chrono::milliseconds(800));
    send(std::chrono::hours(1));
    ASSERT_EQ(infos.size(), 2u);
    const RoutedCompletionInfo& fell_back = infos[0];
    EXPECT_TRUE(fell_back.status.is_ok()) << fell_back.status;
    EXPECT_EQ(fell_back.placement, "cpu");
    EXPECT_EQ(fell_back.attempts, 2u);  // sent to corund, refused there, run here
    ASSERT_EQ(fell_back.refused.size(), 1u);
    EXPECT_EQ(fell_back.refused[0].placement, "corund");
    EXPECT_EQ(fell_back.refused[0].status.code(), StatusCode::DEADLINE_EXCEEDED);
    EXPECT_TRUE(test::contains(fell_back.refused[0].status.message(),
                               "refused at admission (predicted-late)"))
        << fell_back.refused[0].status;
    EXPECT_EQ(infos[1].placement, "corund");
    EXPECT_EQ(infos[1].attempts, 1u);
    const PlacementStats corund = routed->get_stats().placements[0];
    EXPECT_EQ(corund.frames_run, 2u);
    EXPECT_EQ(corund.rejections,
              (std::map<StatusCode, uint64_t>{{StatusCode::DEADLINE_EXCEEDED, 1}}));
    // Only the frame with a deadline has a prediction: corund's, from its completion.
    EXPECT_EQ(corund.predicted_frames, 1u);
    EXPECT_GE(corund.predicted_latency_mean_ms, 1000.0);

    // run() with a routed model's SLO, on a second routed model beside the first (a model
    // configured anew in corund): its first frame has nothing to be predicted from and runs in
    // corund; the next is refused there.
    params.latency_slo = std::chrono::milliseconds(800);
    ASSERT_OK_AND_ASSIGN(auto with_slo, RoutedModel::create(BLAZEFACE, params));
    ASSERT_OK_AND_ASSIGN(auto slo_bindings, with_slo->create_bindings(buffers));
    ASSERT_OK_AND_ASSIGN(auto first, with_slo->run(slo_bindings, test::WAIT_LIMIT));
    EXPECT_EQ(first.placement, "corund");
    ASSERT_TRUE(test::wait_until([&] {
        // The second routed model's: the newest configured model, with the highest id.
        const auto stats = in_corund_->get_scheduler_stats();
        const auto newest = std::max_element(
            stats.begin(), stats.end(), [](auto& a, auto& b) { return a.model_id < b.model_id; });
        return newest != stats.end() && newest->predicted_latency_ms >= 1000.0;
    }));
    ASSERT_OK_AND_ASSIGN(auto ran, with_slo->run(slo_bindings, test::WAIT_LIMIT));
    EXPECT_EQ(ran.placement, "cpu");
    EXPECT_EQ(ran.attempts, 2u);
    ASSERT_EQ(ran.refused.size(), 1u);
    EXPECT_EQ(ran.refused[0].status.code(), StatusCode::DEADLINE_EXCEEDED) << ran.refused[0].status;
}

}  // namespace
}  // namespace corun
