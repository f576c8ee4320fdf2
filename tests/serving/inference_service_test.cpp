// InferenceService, the protocol-neutral core of the serving fronts, in process on the generated
// test models: a repository in Triton's layout with a broken model beside good ones, requests
// checked against the model (naming model, input, expected and given), outputs equal to the C++
// API's, N frames in one request, the wire's priority reaching the scheduler, timeouts as
// deadlines, unload and reload.
#include <cstring>
#include <filesystem>
#include <fstream>
#include <thread>

#include "serving/inference_service.hpp"
#include "test_support.hpp"

namespace corun::serving {
namespace {

namespace fs = std::filesystem;

class InferenceServiceTest : public ::testing::Test {
protected:
    void SetUp() override {
        root_ = fs::temp_directory_path() /
                ("corun_repository_" + std::to_string(getpid()) + "_" +
                 ::testing::UnitTest::GetInstance()->current_test_info()->name());
        fs::remove_all(root_);
        add_model("add_one", "1", "add_one.onnx");
        add_model("pair", "1", "two_in_two_out.onnx");
        add_model("pair", "3", "two_in_two_out.onnx");
        add_model("tokens", "1", "int64_tokens.onnx");
        add_model("broken", "1", "unsupported_op.onnx");  // fails to load: unknown operator
        VDeviceParams params;
        params.group_id = test::unique_group("serving");
        vdevice_ = VDevice::create_shared(params).release();
        service_ = std::make_unique<InferenceService>(vdevice_, ModelRepository(root_.string()));
    }
    void TearDown() override {
        service_.reset();
        fs::remove_all(root_);
    }

    void add_model(const std::string& name, const std::string& version, const std::string& file) {
        fs::create_directories(root_ / name / version);
        fs::copy_file(test::test_model(file), root_ / name / version / "model.onnx");
    }
    void write_config(const std::string& name, const std::string& json) {
        std::ofstream(root_ / name / "config.json") << json;
    }

    static InferTensor floats(const std::string& name, std::vector<int64_t> shape,
                              std::vector<float> values) {
        InferTensor tensor{name, FormatType::FLOAT32, std::move(shape), {}};
        tensor.data.resize(values.size() * sizeof(float));
        std::memcpy(tensor.data.data(), values.data(), tensor.data.size());
        return tensor;
    }
    static std::vector<float> values_of(const InferTensor& tensor) {
        std::vector<float> values(tensor.data.size() / sizeof(float));
        std::memcpy(values.data(), tensor.data.data(), tensor.data.size());
        return values;
    }

    fs::path root_;
    std::shared_ptr<VDevice> vdevice_;
    std::unique_ptr<InferenceService> service_;
};

TEST_F(InferenceServiceTest, ServesTheRepositoryAndReportsTheBrokenModel) {
    EXPECT_FALSE(service_->ready());
    ASSERT_OK(service_->load_repository());
    EXPECT_TRUE(service_->ready());
    const auto index = service_->repository_index();
    ASSERT_EQ(index.size(), 4u);
    EXPECT_EQ(index[0].name, "add_one");
    EXPECT_EQ(index[0].state, "READY");
    EXPECT_EQ(index[1].name, "broken");
    EXPECT_EQ(index[1].state, "UNAVAILABLE");
    EXPECT_NE(index[1].reason.find("NoSuchOperator"), std::string::npos) << index[1].reason;
    EXPECT_EQ(index[2].name, "pair");
    EXPECT_EQ(index[2].version, "3");  // the highest version
    EXPECT_OK(service_->model_ready("add_one", ""));
    EXPECT_STATUS(service_->model_ready("broken", ""), StatusCode::SHUTDOWN);
    EXPECT_STATUS(service_->model_ready("nothing", ""), StatusCode::NOT_FOUND);
    EXPECT_STATUS(service_->model_ready("pair", "1"), StatusCode::NOT_FOUND);

    ASSERT_OK_AND_ASSIGN(auto metadata, service_->model_metadata("pair", ""));
    EXPECT_EQ(metadata.versions, (std::vector<std::string>{"3"}));
    EXPECT_EQ(metadata.platform, "onnxruntime_onnx");
    ASSERT_EQ(metadata.inputs.size(), 2u);
    EXPECT_EQ(metadata.inputs[0].name, "a");
    EXPECT_EQ(metadata.inputs[0].type, FormatType::FLOAT32);
    EXPECT_EQ(metadata.inputs[0].shape, (std::vector<int64_t>{1, 8}));
    EXPECT_EQ(metadata.outputs[1].name, "product");
}

TEST_F(InferenceServiceTest, OutputsEqualTheCppApis) {
    ASSERT_OK(service_->load_repository());
    std::vector<float> input(48);
    for (size_t i = 0; i < input.size(); ++i) input[i] = 0.37f * static_cast<float>(i) - 5.1f;

    InferRequest request;
    request.model_name = "add_one";
    request.id = "x1";
    request.inputs.push_back(floats("x", {1, 3, 4, 4}, input));
    ASSERT_OK_AND_ASSIGN(auto response, service_->infer(request));
    EXPECT_EQ(response.model_name, "add_one");
    EXPECT_EQ(response.model_version, "1");
    EXPECT_EQ(response.id, "x1");
    ASSERT_EQ(response.outputs.size(), 1u);
    EXPECT_EQ(response.outputs[0].name, "y");
    EXPECT_EQ(response.outputs[0].shape, (std::vector<int64_t>{1, 3, 4, 4}));

    // The same frame through the public API on the same VDevice.
    ASSERT_OK_AND_ASSIGN(auto model,
                         vdevice_->create_infer_model(test::test_model("add_one.onnx")));
    ASSERT_OK_AND_ASSIGN(auto configured, model->configure());
    std::vector<float> output(48);
    ASSERT_OK_AND_ASSIGN(
        auto bindings,
        configured.create_bindings({{"x", MemoryView::of(input)}, {"y", MemoryView::of(output)}}));
    ASSERT_OK(configured.run(bindings, std::chrono::seconds(10)));
    EXPECT_EQ(values_of(response.outputs[0]), output);
    for (size_t i = 0; i < input.size(); ++i) EXPECT_EQ(output[i], input[i] + 1.0f);
}

TEST_F(InferenceServiceTest, RunsNFramesAndTheOutputsAskedFor) {
    ASSERT_OK(service_->load_repository());
    InferRequest request;
    request.model_name = "pair";
    std::vector<float> a(24), b(24);  // 3 frames of [1,8]
    for (size_t i = 0; i < a.size(); ++i) {
        a[i] = static_cast<float>(i);
        b[i] = 2.0f;
    }
    request.inputs.push_back(floats("b", {3, 8}, b));  // any order
    request.inputs.push_back(floats("a", {3, 8}, a));
    request.outputs.push_back({"product", true});
    ASSERT_OK_AND_ASSIGN(auto response, service_->infer(request));
    ASSERT_EQ(response.outputs.size(), 1u);
    EXPECT_EQ(response.outputs[0].name, "product");
    EXPECT_EQ(response.outputs[0].shape, (std::vector<int64_t>{3, 8}));
    EXPECT_EQ(response.binary_outputs, std::vector<bool>{true});
    const auto product = values_of(response.outputs[0]);
    for (size_t i = 0; i < a.size(); ++i) EXPECT_EQ(product[i], a[i] * 2.0f);
    const auto statistics = service_->served_models();
    uint64_t frames = 0, jobs = 0;
    for (const auto& served : statistics) {
        if (served->name() == "pair") {
            frames = served->statistics().snapshot().inference_count;
            jobs = served->statistics().snapshot().exec_count;
        }
    }
    EXPECT_EQ(frames, 3u);
    EXPECT_EQ(jobs, 2u);  // a queue of 2 frames: a burst of 2, then 1
}

TEST_F(InferenceServiceTest, ServesBytesTensors) {
    add_model("words", "1", "string_upper.onnx");
    ASSERT_OK(service_->load_repository());
    ASSERT_OK_AND_ASSIGN(auto metadata, service_->model_metadata("words", ""));
    EXPECT_EQ(metadata.inputs[0].type, FormatType::STRING);
    EXPECT_EQ(metadata.outputs[0].type, FormatType::STRING);
    InferRequest request;
    request.model_name = "words";
    // "ab", "Cd", "" in the BYTES layout: a 4-byte little-endian length, then the bytes.
    request.inputs.push_back(InferTensor{"words",
                                         FormatType::STRING,
                                         {3},
                                         {2, 0, 0, 0, 'a', 'b', 2, 0, 0, 0, 'C', 'd', 0, 0, 0, 0}});
    ASSERT_OK_AND_ASSIGN(auto response, service_->infer(request));
    ASSERT_EQ(response.outputs.size(), 1u);
    EXPECT_EQ(response.outputs[0].type, FormatType::STRING);
    EXPECT_EQ(response.outputs[0].data,
              (std::vector<uint8_t>{2, 0, 0, 0, 'A', 'B', 2, 0, 0, 0, 'C', 'D', 0, 0, 0, 0}));
}

TEST_F(InferenceServiceTest, RefusesWhatTheModelDoesNotTakeNamingIt) {
    ASSERT_OK(service_->load_repository());
    auto refused = [&](InferRequest request, const std::string& expected) {
        auto response = service_->infer(request);
        ASSERT_FALSE(response.has_value()) << expected;
        EXPECT_EQ(response.status().code(), StatusCode::INVALID_ARGUMENT) << response.status();
        EXPECT_NE(response.status().message().find(expected), std::string::npos)
            << response.status().message();
    };
    InferRequest request;
    request.model_name = "tokens";
    request.inputs.push_back(floats("ids", {1, 5}, {1, 2, 3, 4, 5}));
    refused(request,
            "model 'tokens' input 'ids' takes INT64 of shape [1,5]; the request gives "
            "FP32 of shape [1,5]");
    request.inputs[0] = InferTensor{"ids", FormatType::INT64, {1, 4}, std::vector<uint8_t>(32)};
    refused(request,
            "model 'tokens' input 'ids' takes INT64 of shape [1,5] (or N frames as "
            "[N,...] where the first dimension is 1); the request gives INT64 of shape [1,4]");
    request.inputs[0] = InferTensor{"idz", FormatType::INT64, {1, 5}, std::vector<uint8_t>(40)};
    refused(request, "model 'tokens' has no input 'idz'; its inputs: 'ids'");
    request.inputs.clear();
    refused(request, "model 'tokens' input 'ids' (INT64 of shape [1,5]) is missing");
    request.inputs.push_back(
        InferTensor{"ids", FormatType::INT64, {1, 5}, std::vector<uint8_t>(40)});
    request.outputs.push_back({"nope", false});
    refused(request, "model 'tokens' has no output 'nope'; its outputs: 'as_float'");

    InferRequest unknown;
    unknown.model_name = "nothing";
    EXPECT_STATUS(service_->infer(unknown), StatusCode::NOT_FOUND);
    unknown.model_name = "broken";
    EXPECT_STATUS(service_->infer(unknown), StatusCode::SHUTDOWN);
    unknown.model_name = "pair";
    unknown.model_version = "1";
    EXPECT_STATUS(service_->infer(unknown), StatusCode::NOT_FOUND);
}

TEST_F(InferenceServiceTest, WirePriorityReachesTheScheduler) {
    EXPECT_EQ(scheduler_priority_for(std::nullopt, 16), 16u);
    EXPECT_EQ(scheduler_priority_for(0, 20), 20u);
    EXPECT_EQ(scheduler_priority_for(1, 16), 31u);
    EXPECT_EQ(scheduler_priority_for(2, 16), 30u);
    EXPECT_EQ(scheduler_priority_for(32, 16), 0u);
    EXPECT_EQ(scheduler_priority_for(1000, 16), 0u);

    ASSERT_OK(service_->load_repository());
    InferRequest request;
    request.model_name = "add_one";
    request.inputs.push_back(floats("x", {1, 3, 4, 4}, std::vector<float>(48, 1.0f)));
    request.priority = 1;
    ASSERT_OK(service_->infer(request));
    std::shared_ptr<ServedModel> served;
    for (const auto& model : service_->served_models()) {
        if (model->name() == "add_one") served = model;
    }
    ASSERT_NE(served, nullptr);
    const auto instances = served->instances();
    ASSERT_EQ(instances.size(), 2u);  // the model's own level (16), and 31 for this request
    const auto stats = vdevice_->get_scheduler_stats();
    for (const auto& instance : instances) {
        auto found = std::find_if(stats.begin(), stats.end(), [&](const ScheduledModelStats& s) {
            return s.model_id == instance.scheduler_model_id;
        });
        ASSERT_NE(found, stats.end());
        EXPECT_EQ(found->priority, instance.priority);
        EXPECT_EQ(found->frames_done, instance.priority == 31 ? 1u : 0u);
    }
}

TEST_F(InferenceServiceTest, TimeoutBecomesTheDeadline) {
    ASSERT_OK(service_->load_repository());
    InferRequest request;
    request.model_name = "add_one";
    request.inputs.push_back(floats("x", {1, 3, 4, 4}, std::vector<float>(48, 1.0f)));
    request.timeout_us = 0;  // due at once: refused at admission, never run
    auto response = service_->infer(request);
    EXPECT_STATUS(response, StatusCode::DEADLINE_EXCEEDED);
    request.timeout_us = 60'000'000;
    EXPECT_OK(service_->infer(request));
    for (const auto& model : service_->served_models()) {
        if (model->name() != "add_one") continue;
        const auto snapshot = model->statistics().snapshot();
        EXPECT_EQ(snapshot.success, 1u);
        EXPECT_EQ(snapshot.failures.at(FailureReason::REJECTED), 1u);
    }
}

TEST_F(InferenceServiceTest, UnloadsReloadsAndReadsConfig) {
    write_config("add_one", R"({"priority": 24, "batch_size": 2, "instance_count": 2})");
    write_config("pair", R"({"versions": [1, 3]})");
    write_config("tokens", R"({"priorty": 3})");  // a typo is an error, not ignored
    ASSERT_OK(service_->load_repository());
    for (const auto& entry : service_->repository_index()) {
        if (entry.name == "tokens") {
            EXPECT_EQ(entry.state, "UNAVAILABLE");
            EXPECT_NE(entry.reason.find("unknown key 'priorty'"), std::string::npos)
                << entry.reason;
        }
    }
    EXPECT_OK(service_->model_ready("pair", "1"));
    EXPECT_OK(service_->model_ready("pair", "3"));
    for (const auto& model : service_->served_models()) {
        if (model->name() != "add_one") continue;
        const auto instances = model->instances();
        ASSERT_EQ(instances.size(), 2u);
        for (const auto& instance : instances) EXPECT_EQ(instance.priority, 24u);
    }

    ASSERT_OK(service_->unload_model("add_one"));
    InferRequest request;
    request.model_name = "add_one";
    request.inputs.push_back(floats("x", {1, 3, 4, 4}, std::vector<float>(48, 1.0f)));
    EXPECT_STATUS(service_->infer(request), StatusCode::SHUTDOWN);
    EXPECT_STATUS(service_->unload_model("add_one"), StatusCode::NOT_FOUND);
    ASSERT_OK(service_->load_model("add_one"));
    EXPECT_OK(service_->infer(request));
    EXPECT_STATUS(service_->load_model("does_not_exist"), StatusCode::NOT_FOUND);
    EXPECT_STATUS(service_->load_model("../etc"), StatusCode::INVALID_ARGUMENT);

    // A broken reload leaves the loaded version serving, with the reason in the index.
    write_config("add_one", R"({"file": "missing.onnx"})");
    EXPECT_STATUS(service_->load_model("add_one"), StatusCode::INVALID_ARGUMENT);
    EXPECT_OK(service_->infer(request));
}

TEST_F(InferenceServiceTest, RefusesRequestsBeyondMaxQueuedAndStopsRunawayFrames) {
    // A frame of endless_loop runs until its time limit: the first request stays inside the
    // service while the second arrives, so the second is refused exactly.
    add_model("endless", "1", "endless_loop.onnx");
    write_config("endless", R"({"max_queued_requests": 1, "frame_time_limit_ms": 500})");
    ASSERT_OK(service_->load_repository());
    ASSERT_OK_AND_ASSIGN(auto metadata, service_->model_metadata("endless", ""));
    InferRequest request;
    request.model_name = "endless";
    for (const auto& input : metadata.inputs) {
        size_t bytes = format_type_size(input.type);
        for (int64_t dim : input.shape) bytes *= static_cast<size_t>(dim);
        request.inputs.push_back(
            InferTensor{input.name, input.type, input.shape, std::vector<uint8_t>(bytes)});
    }
    std::shared_ptr<ServedModel> served;
    for (const auto& model : service_->served_models()) {
        if (model->name() == "endless") served = model;
    }
    ASSERT_NE(served, nullptr);
    Status first_status;
    std::thread first([&] { first_status = service_->infer(request).status(); });
    ASSERT_TRUE(test::wait_until([&] { return served->statistics().snapshot().pending == 1; }));
    auto second = service_->infer(request);
    EXPECT_STATUS(second, StatusCode::QUEUE_IS_FULL);
    EXPECT_NE(second.status().message().find("already has 1 requests waiting or running"),
              std::string::npos)
        << second.status();
    first.join();
    EXPECT_EQ(first_status.code(), StatusCode::TIMEOUT) << first_status;
    const auto snapshot = served->statistics().snapshot();
    EXPECT_EQ(snapshot.failures.at(FailureReason::REJECTED), 1u);
    EXPECT_EQ(snapshot.failures.at(FailureReason::BACKEND), 1u);
    EXPECT_EQ(snapshot.pending, 0u);
}

TEST(ModelConfigTest, ParsesEveryKeyAndRefusesBadValues) {
    ASSERT_OK_AND_ASSIGN(
        auto config,
        parse_model_config(R"({"file":"m.onnx","priority":31,"batch_size":4,"latency_slo_ms":20,
                              "instance_count":3,"max_queued_requests":8,"frame_time_limit_ms":250,
                              "versions":["2",5]})",
                           "c"));
    EXPECT_EQ(config.file, "m.onnx");
    EXPECT_EQ(config.priority, 31u);
    EXPECT_EQ(config.batch_size, 4u);
    EXPECT_EQ(config.latency_slo_ms, 20u);
    EXPECT_EQ(config.instance_count, 3u);
    EXPECT_EQ(config.max_queued_requests, 8u);
    EXPECT_EQ(config.frame_time_limit_ms, 250u);
    EXPECT_EQ(config.versions, (std::vector<std::string>{"2", "5"}));
    ASSERT_OK_AND_ASSIGN(auto routed_and_llm,
                         parse_model_config(R"({"placements":["npu-sim","cpu"],"context_size":512,
                              "prefill_chunk_tokens":32,"threads":1})",
                                            "c"));
    EXPECT_EQ(routed_and_llm.placements, (std::vector<std::string>{"npu-sim", "cpu"}));
    EXPECT_EQ(routed_and_llm.context_size, 512u);
    EXPECT_EQ(routed_and_llm.prefill_chunk_tokens, 32u);
    EXPECT_EQ(routed_and_llm.threads, 1u);
    EXPECT_EQ(model_file_kind("/r/m/1/model.gguf"), ModelFileKind::GGUF);
    EXPECT_EQ(model_file_kind("/r/m/1/model.onnx"), ModelFileKind::ONNX);
    for (const char* bad : {R"({"priority":32})", R"({"file":"../x.onnx"})", R"({"file":"a/b"})",
                            R"({"versions":[]})", R"({"instance_count":0})", "[1]", "{",
                            R"({"placements":[]})", R"({"placements":["gpu"]})",
                            R"({"placements":["cpu","cpu"]})", R"({"prefill_chunk_tokens":0})"}) {
        EXPECT_STATUS(parse_model_config(bad, "c"), StatusCode::INVALID_ARGUMENT);
    }
}

}  // namespace
}  // namespace corun::serving
