// corund's limits against hostile clients (issue 9), through the public API and the real
// daemon: a model that constant folding inflates at load, threads asked beyond the per-user
// limit, an npu-sim profile path that is a FIFO (corund opens no path a client names; the
// client reads it without blocking), and external data sent by the client. Every wait is
// bounded; no test measures time.
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <filesystem>

#include "corund_process.hpp"
#include "test_support.hpp"

namespace corun::test {
namespace {

std::string hostile(const std::string& name) {
    return test_model("hostile/" + name);
}

// One frame of add_one.onnx (x = 1.0 everywhere) on `vdevice`: its output.
Expected<std::vector<float>> run_add_one(VDevice& vdevice) {
    CORUN_TRY(auto model, vdevice.create_infer_model(test_model("add_one.onnx")));
    CORUN_TRY(auto configured, model->configure());
    std::vector<float> input(48, 1.0f);
    std::vector<float> output(48, 0.0f);
    CORUN_TRY(auto bindings, configured.create_bindings(
                                 {{"x", MemoryView::of(input)}, {"y", MemoryView::of(output)}}));
    CORUN_RETURN_IF_ERROR(configured.run(bindings, std::chrono::seconds(30)));
    return output;
}

class ServiceLimitsTest : public CorundTest {
protected:
    std::vector<std::string> daemon_args() const override {
        return {"--max-model-memory-per-client", "128M", "--max-threads-per-client", "8"};
    }
};

TEST_F(ServiceLimitsTest, AModelThatConstantFoldingInflatesIsRefusedWithTheLimitNamed) {
    ASSERT_OK_AND_ASSIGN(auto vdevice, VDevice::create(params()));
    // Four folded 64 MiB tensors kept as initializers: 256 MiB from a 529-byte file.
    auto model = vdevice->create_infer_model(hostile("folding_bomb_retained.onnx"));
    EXPECT_STATUS(model, StatusCode::RESOURCE_LIMIT);
    EXPECT_TRUE(contains(model.status().message(), "max_model_memory_per_client"))
        << model.status();
    EXPECT_TRUE(contains(model.status().message(), "--max-model-memory-per-client"))
        << model.status();
    // The refused model left nothing charged: a small model still loads and runs.
    ASSERT_OK_AND_ASSIGN(auto output, run_add_one(*vdevice));
    EXPECT_EQ(output, std::vector<float>(48, 2.0f));
}

TEST_F(ServiceLimitsTest, ASingleHugeFoldIsNotMaterialisedAtLoad) {
    // One 1 GiB tensor, larger than the user's whole budget: constant folding may not build it
    // (ONNX Runtime's per-node cap is set to what the user has left), so loading takes little
    // and the model computes the value per frame instead.
    ASSERT_OK_AND_ASSIGN(auto vdevice, VDevice::create(params()));
    ASSERT_OK_AND_ASSIGN(auto model,
                         vdevice->create_infer_model(hostile("folding_bomb_single.onnx")));
    EXPECT_EQ(model->get_input_names().size(), 1u);
}

TEST_F(ServiceLimitsTest, IntraOpThreadsOverTheLimitAreRefusedAtHello) {
    VDeviceParams asking = params();
    asking.cpu.intra_op_threads = 1024;
    auto vdevice = VDevice::create(asking);
    EXPECT_STATUS(vdevice, StatusCode::RESOURCE_LIMIT);
    EXPECT_TRUE(contains(vdevice.status().message(), "max_threads_per_client")) << vdevice.status();
}

TEST_F(ServiceLimitsTest, ThreadsAreCountedOverEverySessionOfAUser) {
    // 4 intra-op threads per model: the first model takes 1 worker + 4, the second would
    // make 9 of the 8 allowed, across two sessions (two group ids) of the same user.
    VDeviceParams first = params();
    first.cpu.intra_op_threads = 4;
    first.cpu.execution_slots = 1;
    ASSERT_OK_AND_ASSIGN(auto vdevice, VDevice::create(first));
    ASSERT_OK_AND_ASSIGN(auto model, vdevice->create_infer_model(test_model("add_one.onnx")));
    VDeviceParams second = params();
    second.cpu.intra_op_threads = 4;
    second.cpu.execution_slots = 1;
    ASSERT_OK_AND_ASSIGN(auto other, VDevice::create(second));
    auto refused = other->create_infer_model(test_model("add_one.onnx"));
    EXPECT_STATUS(refused, StatusCode::RESOURCE_LIMIT);
    EXPECT_TRUE(contains(refused.status().message(), "max_threads_per_client")) << refused.status();
    // Released, the threads are given back.
    model.reset();
    vdevice.reset();
    // corund gives them back once it has released the first session, which nothing announces
    // to this client: asked until it holds.
    std::shared_ptr<InferModel> loaded;
    EXPECT_TRUE(test::wait_until([&] {
        auto again = other->create_infer_model(test_model("add_one.onnx"));
        if (again) loaded = again.release();
        return loaded != nullptr;
    })) << "the first session's threads were never given back";
}

TEST_F(ServiceLimitsTest, AFifoAsTheNpuSimProfileFailsAtOnceAndBlocksNoOne) {
    const std::string fifo = "/tmp/corun-profile-fifo-" + std::to_string(getpid());
    unlink(fifo.c_str());
    ASSERT_EQ(mkfifo(fifo.c_str(), 0600), 0);
    VDeviceParams asking = params();
    asking.device_ids = {"npu-sim:0"};
    asking.npu_sim.profile_path = fifo;
    auto vdevice = VDevice::create(asking);  // before: corund blocked opening the FIFO
    unlink(fifo.c_str());
    EXPECT_STATUS(vdevice, StatusCode::INVALID_ARGUMENT);
    EXPECT_TRUE(contains(vdevice.status().message(), "not a regular file")) << vdevice.status();
    // Others are served.
    ASSERT_OK_AND_ASSIGN(auto other, VDevice::create(params()));
    EXPECT_OK(other->create_infer_model(test_model("add_one.onnx")));
}

TEST_F(ServiceLimitsTest, AnNpuSimProfileTravelsAsText) {
    const std::string profile = "/tmp/corun-profile-" + std::to_string(getpid()) + ".json";
    std::ofstream(profile) << R"({"device": {"context_switch_us": 100},
                                  "models": {"add_one": {"frame_us": 200}}})";
    VDeviceParams asking = params();
    asking.device_ids = {"npu-sim:0"};
    asking.npu_sim.profile_path = profile;
    auto vdevice = VDevice::create(asking);
    unlink(profile.c_str());
    ASSERT_OK(vdevice);
    EXPECT_OK(vdevice.value()->create_infer_model(test_model("add_one.onnx")));
}

TEST_F(ServiceLimitsTest, ExternalDataTravelsWithTheModelAndGivesTheSameOutputs) {
    ASSERT_OK_AND_ASSIGN(auto vdevice, VDevice::create(params()));
    ASSERT_OK_AND_ASSIGN(auto model,
                         vdevice->create_infer_model(hostile("external_weights/model.onnx")));
    ASSERT_OK_AND_ASSIGN(auto configured, model->configure());
    std::vector<float> input(12, 100.0f);
    std::vector<float> output(12, 0.0f);
    ASSERT_OK_AND_ASSIGN(
        auto bindings,
        configured.create_bindings({{"x", MemoryView::of(input)}, {"y", MemoryView::of(output)}}));
    ASSERT_OK(configured.run(bindings, std::chrono::seconds(30)));
    for (size_t i = 0; i < output.size(); ++i) EXPECT_EQ(output[i], 100.0f + i) << i;
}

// One frame of endless_loop.onnx (x -> y, one float each) on `configured`.
Status run_endless_frame(ConfiguredInferModel& configured) {
    float input = 0.0f;
    float output = -1.0f;
    CORUN_TRY(auto bindings,
              configured.create_bindings({{"x", MemoryView(&input, sizeof input)},
                                          {"y", MemoryView(&output, sizeof output)}}));
    return configured.run(bindings, std::chrono::minutes(5));
}

TEST_F(ServiceLimitsTest, AFrameOverTheClientsTimeLimitIsStoppedInCorund) {
    ASSERT_OK_AND_ASSIGN(auto vdevice, VDevice::create(params()));
    ASSERT_OK_AND_ASSIGN(auto loop, vdevice->create_infer_model(test_model("endless_loop.onnx")));
    ASSERT_OK(loop->set_frame_time_limit(std::chrono::milliseconds(300)));
    ASSERT_OK_AND_ASSIGN(auto configured, loop->configure());
    const Status status = run_endless_frame(configured);
    EXPECT_EQ(status.code(), StatusCode::TIMEOUT) << status;
    EXPECT_TRUE(contains(status.message(), "frame time limit of 300 ms")) << status;
    // The slot is free again: another model of the same client runs.
    ASSERT_OK_AND_ASSIGN(auto output, run_add_one(*vdevice));
    EXPECT_EQ(output, std::vector<float>(48, 2.0f));
}

class ServiceFrameTimeLimitTest : public CorundTest {
protected:
    std::vector<std::string> daemon_args() const override {
        return {"--max-frame-time-limit", "300"};
    }
};

TEST_F(ServiceFrameTimeLimitTest, CorundsMaximumBoundsAClientThatAsksForMore) {
    ASSERT_OK_AND_ASSIGN(auto vdevice, VDevice::create(params()));
    ASSERT_OK_AND_ASSIGN(auto loop, vdevice->create_infer_model(test_model("endless_loop.onnx")));
    ASSERT_OK(loop->set_frame_time_limit(std::chrono::hours(1)));
    ASSERT_OK_AND_ASSIGN(auto configured, loop->configure());
    const Status status = run_endless_frame(configured);
    EXPECT_EQ(status.code(), StatusCode::TIMEOUT) << status;
    EXPECT_TRUE(contains(status.message(), "frame time limit of 300 ms")) << status;
}

TEST_F(ServiceLimitsTest, ShutdownFromACompletionCallbackReturnsThroughCorund) {
    ASSERT_OK_AND_ASSIGN(auto vdevice, VDevice::create(params()));
    ASSERT_OK_AND_ASSIGN(auto model, vdevice->create_infer_model(test_model("add_one.onnx")));
    ASSERT_OK_AND_ASSIGN(auto configured, model->configure());
    std::vector<float> input(48, 1.0f);
    std::vector<float> output(48, 0.0f);
    ASSERT_OK_AND_ASSIGN(
        auto bindings,
        configured.create_bindings({{"x", MemoryView::of(input)}, {"y", MemoryView::of(output)}}));
    std::atomic<bool> shutdown_returned{false};
    ASSERT_OK_AND_ASSIGN(auto job,
                         configured.run_async({bindings}, [&](const AsyncInferCompletionInfo&) {
                             configured.shutdown().ignore();
                             shutdown_returned = true;
                         }));
    ASSERT_OK(job.wait(std::chrono::seconds(60)));
    EXPECT_TRUE(shutdown_returned.load());
    EXPECT_EQ(output[0], 2.0f);
}

TEST_F(ServiceLimitsTest, ACorruptModelsErrorSaysItsExplanationOnce) {
    ASSERT_OK_AND_ASSIGN(auto vdevice, VDevice::create(params()));
    auto bytes = read_bytes(test_model("add_one.onnx"));
    bytes.resize(100);  // cut inside the graph
    auto model = vdevice->create_infer_model(bytes, "corrupt");
    EXPECT_STATUS(model, StatusCode::INVALID_MODEL);
    const std::string& message = model.status().message();
    const std::string own_reading = "corun's own reading of the file";
    ASSERT_NE(message.find(own_reading), std::string::npos) << message;
    EXPECT_EQ(message.find(own_reading, message.find(own_reading) + 1), std::string::npos)
        << message;
}

}  // namespace
}  // namespace corun::test
