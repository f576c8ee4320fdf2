// The multi-process service end to end: the real corund (CORUN_CORUND_PATH) on a temporary
// socket, used through the public API with multi_process_service = true exactly as in-process,
// and giving the same bytes. Client behaviours (full queue, shutdown, settings, a daemon that
// dies, limits) are in service_client_test. Every wait is bounded.
#include <unistd.h>

#include <chrono>
#include <cmath>
#include <filesystem>

#include "corund_process.hpp"
#include "test_support.hpp"

namespace corun::test {
namespace {

using namespace std::chrono_literals;

using ServiceEndToEndTest = CorundTest;

std::vector<std::string> leftover_regions() {
    std::vector<std::string> names;
    const std::string prefix = "corun." + std::to_string(getpid()) + ".";
    for (const auto& entry : std::filesystem::directory_iterator("/dev/shm")) {
        const std::string name = entry.path().filename();
        if (name.rfind(prefix, 0) == 0) names.push_back(name);
    }
    return names;
}

Expected<ConfiguredInferModel::Bindings> bind_add_one(ConfiguredInferModel& configured,
                                                      std::vector<float>& input,
                                                      std::vector<float>& output) {
    return configured.create_bindings(
        {{"x", MemoryView::of(input)}, {"y", MemoryView::of(output)}});
}

// Runs one frame of `file` on `vdevice` with deterministic input bytes (floats in [0, 1) for
// FLOAT32 inputs) and the model's own formats, or uint8 NHWC user buffers; the outputs' bytes,
// one vector per output.
Expected<std::vector<std::vector<uint8_t>>> run_once(VDevice& vdevice, const std::string& file,
                                                     bool uint8_user) {
    CORUN_TRY(auto model, vdevice.create_infer_model(file));
    if (uint8_user) {
        model->inputs()[0].set_format_type(FormatType::UINT8);
        model->inputs()[0].set_format_order(FormatOrder::NHWC);
        model->outputs()[0].set_format_type(FormatType::UINT8);
    }
    CORUN_TRY(auto configured, model->configure());
    CORUN_TRY(auto bindings, configured.create_bindings());
    std::vector<std::vector<uint8_t>> inputs;
    for (const auto& name : configured.get_input_names()) {
        CORUN_TRY(auto stream, bindings.input(name));
        auto& input = inputs.emplace_back(stream.get_frame_size());
        if (model->input(name).value().format().type == FormatType::FLOAT32) {
            auto* values = reinterpret_cast<float*>(input.data());
            for (size_t i = 0; i < input.size() / 4; ++i)
                values[i] = static_cast<float>((i * 37) % 101) / 101.0f;
        } else {
            for (size_t i = 0; i < input.size(); ++i) input[i] = static_cast<uint8_t>(i * 7);
        }
        CORUN_RETURN_IF_ERROR(stream.set_buffer(MemoryView::of(input)));
    }
    std::vector<std::vector<uint8_t>> outputs;
    outputs.reserve(configured.get_output_names().size());
    for (const auto& name : configured.get_output_names()) {
        CORUN_TRY(auto stream, bindings.output(name));
        auto& output = outputs.emplace_back(stream.get_frame_size(), 0);
        CORUN_RETURN_IF_ERROR(stream.set_buffer(MemoryView::of(output)));
    }
    CORUN_RETURN_IF_ERROR(configured.run(bindings, std::chrono::milliseconds(30000)));
    return outputs;
}

VDeviceParams in_process_params() {
    VDeviceParams params;
    params.group_id = unique_group("local");
    return params;
}

TEST_F(ServiceEndToEndTest, RunAddsOneAndLeavesNoRegionBehind) {
    ASSERT_OK_AND_ASSIGN(auto vdevice, VDevice::create(params()));
    EXPECT_FALSE(vdevice->physical_devices().empty());
    ASSERT_OK_AND_ASSIGN(auto model, vdevice->create_infer_model(test_model("add_one.onnx")));
    ASSERT_OK_AND_ASSIGN(auto configured, model->configure());
    // The frame region was registered with corund and its name unlinked at once.
    EXPECT_TRUE(leftover_regions().empty());
    std::vector<float> input(48), output(48);
    for (size_t i = 0; i < input.size(); ++i) input[i] = static_cast<float>(i) * 0.5f;
    ASSERT_OK_AND_ASSIGN(auto bindings, bind_add_one(configured, input, output));
    ASSERT_OK(configured.run(bindings, 5000ms));
    for (size_t i = 0; i < input.size(); ++i) ASSERT_EQ(output[i], input[i] + 1.0f) << i;
    EXPECT_EQ(configured.get_frames_in_flight().value(), 0u);
}

TEST_F(ServiceEndToEndTest, RunAsyncCompletesEveryJobWithItsOwnOutputs) {
    ASSERT_OK_AND_ASSIGN(auto vdevice, VDevice::create(params()));
    ASSERT_OK_AND_ASSIGN(auto model, vdevice->create_infer_model(test_model("add_one.onnx")));
    ASSERT_OK(model->set_batch_size(2));
    ASSERT_OK_AND_ASSIGN(auto configured, model->configure());
    ASSERT_OK_AND_ASSIGN(size_t queue_size, configured.get_async_queue_size());
    constexpr size_t jobs = 20;
    std::vector<std::vector<float>> inputs(jobs, std::vector<float>(48));
    std::vector<std::vector<float>> outputs(jobs, std::vector<float>(48));
    std::atomic<int> callbacks{0};
    std::vector<AsyncInferJob> pending;
    for (size_t j = 0; j < jobs; ++j) {
        for (auto& value : inputs[j]) value = static_cast<float>(j);
        ASSERT_OK_AND_ASSIGN(auto bindings, bind_add_one(configured, inputs[j], outputs[j]));
        ASSERT_OK(configured.wait_for_async_ready(5000ms));
        ASSERT_LE(configured.get_frames_in_flight().value(), queue_size);
        ASSERT_OK_AND_ASSIGN(
            auto job, configured.run_async(bindings, [&](const AsyncInferCompletionInfo& info) {
                EXPECT_OK(info.status);
                EXPECT_EQ(info.frames, 1u);
                EXPECT_GT(info.timing.device_ns, 0);
                ++callbacks;
            }));
        pending.push_back(std::move(job));
    }
    for (auto& job : pending) ASSERT_OK(job.wait(5000ms));
    EXPECT_EQ(callbacks.load(), static_cast<int>(jobs));
    for (size_t j = 0; j < jobs; ++j) {
        for (float value : outputs[j]) ASSERT_EQ(value, static_cast<float>(j) + 1.0f) << j;
    }
    // corund sends a frame's completion before its scheduler charges the frame to the stats, so
    // the last job done is no sign that frames_done counts it yet: asked until it does (it
    // reads 19 of 20 when read at once on a busy machine).
    uint64_t frames_done = 0;
    EXPECT_TRUE(test::wait_until([&] {
        for (const auto& stats : vdevice->get_scheduler_stats()) {
            if (stats.model_id == configured.scheduler_model_id()) frames_done = stats.frames_done;
        }
        return frames_done >= jobs;
    }));
    EXPECT_EQ(frames_done, jobs);
}

// uint8 NHWC buffers on the float add_one, and the quantized model: the client converts, and
// the bytes equal those of the in-process path.
TEST_F(ServiceEndToEndTest, FormatConversionMatchesInProcess) {
    ASSERT_OK_AND_ASSIGN(auto remote, VDevice::create(params()));
    ASSERT_OK_AND_ASSIGN(auto local, VDevice::create(in_process_params()));
    for (const auto& [file, uint8_user] : std::vector<std::pair<std::string, bool>>{
             {"add_one.onnx", true}, {"quantized.onnx", false}}) {
        ASSERT_OK_AND_ASSIGN(auto remote_outputs, run_once(*remote, test_model(file), uint8_user));
        ASSERT_OK_AND_ASSIGN(auto local_outputs, run_once(*local, test_model(file), uint8_user));
        EXPECT_EQ(remote_outputs, local_outputs) << file;
    }
}

// A real zoo model of 15 MB, above gRPC's default 4 MB message limit, travels in LoadModel and
// gives the outputs of the in-process path for the same input.
TEST_F(ServiceEndToEndTest, LargeZooModelLoadsAndMatchesInProcess) {
    const std::string file = std::string(CORUN_CACHE_DIR) + "/models/nanodet/nanodet.onnx";
    if (!std::filesystem::exists(file)) GTEST_SKIP() << file << " is not fetched";
    ASSERT_GT(std::filesystem::file_size(file), 4u << 20);
    ASSERT_OK_AND_ASSIGN(auto remote, VDevice::create(params()));
    ASSERT_OK_AND_ASSIGN(auto local, VDevice::create(in_process_params()));
    ASSERT_OK_AND_ASSIGN(auto remote_outputs, run_once(*remote, file, false));
    ASSERT_OK_AND_ASSIGN(auto local_outputs, run_once(*local, file, false));
    ASSERT_EQ(remote_outputs.size(), local_outputs.size());
    for (size_t o = 0; o < remote_outputs.size(); ++o) {
        ASSERT_EQ(remote_outputs[o].size(), local_outputs[o].size()) << o;
        ASSERT_GT(remote_outputs[o].size(), 0u) << o;
        EXPECT_EQ(remote_outputs[o], local_outputs[o]) << "output " << o;
    }
}

}  // namespace
}  // namespace corun::test
