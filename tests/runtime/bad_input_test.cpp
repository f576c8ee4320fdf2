// Bad input: every case must give a non-success Status that names the problem, never a crash.
// Files that are missing, not ONNX, truncated or empty; operators ONNX Runtime cannot run;
// dynamic dimensions left open; wrong buffers, names, shapes, batch sizes; use after shutdown.
#include <gtest/gtest.h>

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "corun/corun.hpp"
#include "test_support.hpp"

namespace corun {
namespace {

using test::contains;
using test::test_model;

constexpr auto kTimeout = std::chrono::milliseconds(10000);

class BadInputTest : public ::testing::Test {
protected:
    void SetUp() override {
        auto vdevice = VDevice::create();
        ASSERT_TRUE(vdevice.has_value()) << vdevice.status();
        vdevice_ = vdevice.release();
        const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
        scratch_ = std::filesystem::path(::testing::TempDir()) /
                   (std::string("corun_bad_input_") + info->name());
        std::filesystem::create_directories(scratch_);
    }
    void TearDown() override {
        std::error_code ignored;
        std::filesystem::remove_all(scratch_, ignored);
    }

    std::string write_file(const std::string& name, const std::vector<uint8_t>& bytes) {
        const std::string path = (scratch_ / name).string();
        std::ofstream out(path, std::ios::binary);
        out.write(reinterpret_cast<const char*>(bytes.data()),
                  static_cast<std::streamsize>(bytes.size()));
        return path;
    }

    std::unique_ptr<VDevice> vdevice_;
    std::filesystem::path scratch_;
};

// ---- model files ----

TEST_F(BadInputTest, MissingFileIsNotFoundAndNamesThePath) {
    const std::string path = (scratch_ / "no_such_model.onnx").string();
    auto model = vdevice_->create_infer_model(path);
    ASSERT_FALSE(model.has_value());
    EXPECT_EQ(model.status().code(), StatusCode::NOT_FOUND) << model.status();
    EXPECT_TRUE(contains(model.status().message(), path)) << model.status();
}

TEST_F(BadInputTest, DirectoryIsRefused) {
    auto model = vdevice_->create_infer_model(scratch_.string());
    ASSERT_FALSE(model.has_value());
    EXPECT_EQ(model.status().code(), StatusCode::INVALID_ARGUMENT) << model.status();
    EXPECT_TRUE(contains(model.status().message(), "directory")) << model.status();
    EXPECT_TRUE(contains(model.status().message(), scratch_.string())) << model.status();
}

TEST_F(BadInputTest, TextFileIsNotAModel) {
    const std::string text = "This is not an ONNX model, just some text.\nsecond line\n";
    const std::string path =
        write_file("notes.onnx", std::vector<uint8_t>(text.begin(), text.end()));
    auto model = vdevice_->create_infer_model(path);
    ASSERT_FALSE(model.has_value());
    EXPECT_EQ(model.status().code(), StatusCode::INVALID_MODEL) << model.status();
    EXPECT_FALSE(model.status().message().empty());
}

TEST_F(BadInputTest, TruncatedModelIsInvalid) {
    const auto bytes = test::read_bytes(test_model("add_one.onnx"));
    ASSERT_GT(bytes.size(), 20u);
    const std::vector<uint8_t> half(bytes.begin(), bytes.begin() + bytes.size() / 2);
    const std::string path = write_file("half.onnx", half);
    auto from_file = vdevice_->create_infer_model(path);
    ASSERT_FALSE(from_file.has_value());
    EXPECT_EQ(from_file.status().code(), StatusCode::INVALID_MODEL) << from_file.status();

    auto from_bytes = vdevice_->create_infer_model(half, "half_add_one");
    ASSERT_FALSE(from_bytes.has_value());
    EXPECT_EQ(from_bytes.status().code(), StatusCode::INVALID_MODEL) << from_bytes.status();
    EXPECT_TRUE(contains(from_bytes.status().message(), "half_add_one")) << from_bytes.status();
}

TEST_F(BadInputTest, EveryTruncationFailsCleanly) {
    // Whatever prefix of a model is given, the answer is a Status, never a crash.
    const auto bytes = test::read_bytes(test_model("two_in_two_out.onnx"));
    ASSERT_GT(bytes.size(), 20u);
    for (size_t size = 1; size < bytes.size(); size += std::max<size_t>(1, bytes.size() / 23)) {
        const std::vector<uint8_t> prefix(bytes.begin(), bytes.begin() + size);
        auto model = vdevice_->create_infer_model(prefix, "prefix");
        if (model.has_value()) continue;  // a prefix may happen to be a (smaller) valid model
        EXPECT_NE(model.status().code(), StatusCode::SUCCESS);
        EXPECT_FALSE(model.status().message().empty()) << size;
    }
}

TEST_F(BadInputTest, RandomBytesAreInvalid) {
    std::mt19937 rng(1234);
    std::vector<uint8_t> noise(4096);
    for (auto& byte : noise) byte = static_cast<uint8_t>(rng());
    auto model = vdevice_->create_infer_model(noise, "noise");
    ASSERT_FALSE(model.has_value());
    EXPECT_EQ(model.status().code(), StatusCode::INVALID_MODEL) << model.status();
}

TEST_F(BadInputTest, EmptyInputsAreInvalid) {
    const std::string path = write_file("empty.onnx", {});
    auto from_file = vdevice_->create_infer_model(path);
    ASSERT_FALSE(from_file.has_value());
    EXPECT_EQ(from_file.status().code(), StatusCode::INVALID_MODEL) << from_file.status();
    EXPECT_TRUE(contains(from_file.status().message(), "empty")) << from_file.status();

    auto from_bytes = vdevice_->create_infer_model(std::span<const uint8_t>{}, "nothing");
    ASSERT_FALSE(from_bytes.has_value());
    EXPECT_EQ(from_bytes.status().code(), StatusCode::INVALID_MODEL) << from_bytes.status();
    EXPECT_TRUE(contains(from_bytes.status().message(), "'nothing'")) << from_bytes.status();
}

TEST_F(BadInputTest, OperatorOnnxRuntimeCannotRun) {
    auto model = vdevice_->create_infer_model(test_model("unsupported_op.onnx"));
    ASSERT_FALSE(model.has_value());
    const StatusCode code = model.status().code();
    EXPECT_TRUE(code == StatusCode::NOT_SUPPORTED || code == StatusCode::INVALID_MODEL)
        << model.status();
    EXPECT_TRUE(contains(model.status().message(), "NoSuchOperator")) << model.status();
    EXPECT_TRUE(contains(model.status().message(), "unsupported_op")) << model.status();
}

// ---- shapes ----

TEST_F(BadInputTest, DynamicDimensionsMustBeFixedBeforeConfigure) {
    ASSERT_OK_AND_ASSIGN(auto model, vdevice_->create_infer_model(test_model("dynamic_dims.onnx")));
    auto configured = model->configure();
    ASSERT_FALSE(configured.has_value());
    EXPECT_EQ(configured.status().code(), StatusCode::INVALID_ARGUMENT) << configured.status();
    EXPECT_TRUE(contains(configured.status().message(), "'height'")) << configured.status();
    EXPECT_TRUE(contains(configured.status().message(), "'width'")) << configured.status();
    EXPECT_TRUE(contains(configured.status().message(), "set_shape")) << configured.status();

    ASSERT_OK_AND_ASSIGN(auto x, model->input());
    ASSERT_OK(x.set_shape({1, 3, 8, 8}));
    ASSERT_OK_AND_ASSIGN(auto fixed, model->configure());
    std::vector<float> input(192), output(192, -1.0f);
    for (size_t i = 0; i < input.size(); ++i) input[i] = static_cast<float>(i % 7) - 3.0f;
    ASSERT_OK_AND_ASSIGN(auto bindings, fixed.create_bindings({{"x", MemoryView::of(input)},
                                                               {"y", MemoryView::of(output)}}));
    ASSERT_OK(fixed.run(bindings, kTimeout));
    for (size_t i = 0; i < input.size(); ++i) EXPECT_EQ(output[i], std::max(input[i], 0.0f)) << i;
}

TEST_F(BadInputTest, SetShapeChecksRankAndFixedDimensions) {
    ASSERT_OK_AND_ASSIGN(auto model, vdevice_->create_infer_model(test_model("dynamic_dims.onnx")));
    ASSERT_OK_AND_ASSIGN(auto x, model->input());

    const Status rank = x.set_shape({1, 3, 8});
    EXPECT_EQ(rank.code(), StatusCode::INVALID_ARGUMENT) << rank;
    EXPECT_TRUE(contains(rank.message(), "4 dimensions")) << rank;

    const Status fixed = x.set_shape({1, 4, 8, 8});  // the channel dim is fixed at 3
    EXPECT_EQ(fixed.code(), StatusCode::INVALID_ARGUMENT) << fixed;
    EXPECT_TRUE(contains(fixed.message(), "fixed at 3")) << fixed;

    EXPECT_STATUS(x.set_shape({1, 3, -5, 8}), StatusCode::INVALID_ARGUMENT);
    EXPECT_STATUS(x.set_shape({}), StatusCode::INVALID_ARGUMENT);
    // Refused calls leave the shape as it was.
    EXPECT_EQ(x.native_shape(), (std::vector<int64_t>{1, 3, -1, -1}));
    // 0 is an empty tensor, which ONNX allows (issue 11).
    EXPECT_OK(x.set_shape({1, 3, 0, 8}));
    EXPECT_EQ(x.native_shape(), (std::vector<int64_t>{1, 3, 0, 8}));

    ASSERT_OK_AND_ASSIGN(auto y, model->output());
    // Outputs take set_shape too (to declare what the model leaves dynamic), with the same checks.
    EXPECT_STATUS(y.set_shape({1, 4, 8, 8}), StatusCode::INVALID_ARGUMENT);
    EXPECT_STATUS(y.set_shape({1, 3, 8}), StatusCode::INVALID_ARGUMENT);
    EXPECT_OK(y.set_shape({1, 3, 8, 8}));

    // A fully fixed model accepts its own shape only.
    ASSERT_OK_AND_ASSIGN(auto add_one, vdevice_->create_infer_model(test_model("add_one.onnx")));
    ASSERT_OK_AND_ASSIGN(auto add_x, add_one->input());
    ASSERT_OK(add_x.set_shape({1, 3, 4, 4}));
    EXPECT_STATUS(add_x.set_shape({2, 3, 4, 4}), StatusCode::INVALID_ARGUMENT);
}

TEST_F(BadInputTest, UnsupportedFormatOrderIsRefusedAtConfigure) {
    ASSERT_OK_AND_ASSIGN(auto model,
                         vdevice_->create_infer_model(test_model("two_in_two_out.onnx")));
    ASSERT_OK_AND_ASSIGN(auto a, model->input("a"));
    a.set_format_order(FormatOrder::NHWC);  // a rank-2 stream cannot be transposed
    auto configured = model->configure();
    ASSERT_FALSE(configured.has_value());
    EXPECT_EQ(configured.status().code(), StatusCode::NOT_SUPPORTED) << configured.status();
    EXPECT_TRUE(contains(configured.status().message(), "'a'")) << configured.status();
    a.set_format_order(FormatOrder::AUTO);
    ASSERT_OK(model->configure());
}

// ---- buffers, names, batch sizes ----

TEST_F(BadInputTest, WrongBufferSizes) {
    ASSERT_OK_AND_ASSIGN(auto model, vdevice_->create_infer_model(test_model("add_one.onnx")));
    ASSERT_OK_AND_ASSIGN(auto configured, model->configure());
    ASSERT_OK_AND_ASSIGN(auto bindings, configured.create_bindings());
    std::vector<float> small(47), large(49), exact(48);
    for (auto* buffer : {&small, &large}) {
        const Status refused = bindings.input()->set_buffer(MemoryView::of(*buffer));
        EXPECT_EQ(refused.code(), StatusCode::INVALID_ARGUMENT) << refused;
        EXPECT_TRUE(contains(refused.message(), "input 'x'")) << refused;
        EXPECT_TRUE(contains(refused.message(), std::to_string(buffer->size() * 4) + " bytes"))
            << refused;
    }
    EXPECT_STATUS(bindings.output()->set_buffer(MemoryView(exact.data(), 0)),
                  StatusCode::INVALID_ARGUMENT);
    auto mapped =
        configured.create_bindings({{"x", MemoryView::of(exact)}, {"y", MemoryView::of(small)}});
    ASSERT_FALSE(mapped.has_value());
    EXPECT_EQ(mapped.status().code(), StatusCode::INVALID_ARGUMENT);
    EXPECT_TRUE(contains(mapped.status().message(), "output 'y'")) << mapped.status();

    // A user format changes the expected size: bytes for UINT8.
    ASSERT_OK_AND_ASSIGN(auto x, model->input());
    x.set_format_type(FormatType::UINT8);
    ASSERT_OK_AND_ASSIGN(auto bytes_model, model->configure());
    std::vector<uint8_t> bytes(48);
    EXPECT_STATUS(bytes_model.create_bindings({{"x", MemoryView::of(exact)}}),
                  StatusCode::INVALID_ARGUMENT);
    ASSERT_OK(bytes_model.create_bindings({{"x", MemoryView::of(bytes)}}));
}

TEST_F(BadInputTest, UnknownStreamNames) {
    ASSERT_OK_AND_ASSIGN(auto model,
                         vdevice_->create_infer_model(test_model("two_in_two_out.onnx")));
    auto input = model->input("c");
    ASSERT_FALSE(input.has_value());
    EXPECT_EQ(input.status().code(), StatusCode::NOT_FOUND);
    EXPECT_TRUE(contains(input.status().message(), "'c'")) << input.status();
    EXPECT_TRUE(contains(input.status().message(), "'a', 'b'")) << input.status();
    EXPECT_STATUS(model->output("difference"), StatusCode::NOT_FOUND);
    EXPECT_STATUS(model->input(""), StatusCode::NOT_FOUND);

    ASSERT_OK_AND_ASSIGN(auto configured, model->configure());
    ASSERT_OK_AND_ASSIGN(auto bindings, configured.create_bindings());
    auto bound = bindings.input("x");
    ASSERT_FALSE(bound.has_value());
    EXPECT_EQ(bound.status().code(), StatusCode::NOT_FOUND);
    EXPECT_TRUE(contains(bound.status().message(), "'x'")) << bound.status();
    std::vector<float> buffer(8);
    auto mapped = configured.create_bindings(
        {{"a", MemoryView::of(buffer)}, {"zzz", MemoryView::of(buffer)}});
    ASSERT_FALSE(mapped.has_value());
    EXPECT_EQ(mapped.status().code(), StatusCode::NOT_FOUND);
    EXPECT_TRUE(contains(mapped.status().message(), "'zzz'")) << mapped.status();
}

TEST_F(BadInputTest, InvalidBatchSize) {
    ASSERT_OK_AND_ASSIGN(auto model, vdevice_->create_infer_model(test_model("add_one.onnx")));
    const Status refused = model->set_batch_size(InferModel::MAX_BATCH_SIZE + 1);
    EXPECT_EQ(refused.code(), StatusCode::INVALID_ARGUMENT) << refused;
    EXPECT_TRUE(contains(refused.message(), "1..256")) << refused;
    EXPECT_STATUS(model->set_batch_size(UINT16_MAX), StatusCode::INVALID_ARGUMENT);
    EXPECT_EQ(model->batch_size(), 1);
}

TEST_F(BadInputTest, BurstLargerThanTheQueue) {
    ASSERT_OK_AND_ASSIGN(auto model, vdevice_->create_infer_model(test_model("add_one.onnx")));
    ASSERT_OK_AND_ASSIGN(auto configured, model->configure());  // queue of 2
    std::vector<float> input(48), output(48);
    ASSERT_OK_AND_ASSIGN(
        auto bindings,
        configured.create_bindings({{"x", MemoryView::of(input)}, {"y", MemoryView::of(output)}}));
    std::vector<ConfiguredInferModel::Bindings> burst(3, bindings);
    EXPECT_STATUS(configured.run_async(burst), StatusCode::QUEUE_IS_FULL);
    EXPECT_STATUS(configured.wait_for_async_ready(kTimeout, 3), StatusCode::INVALID_ARGUMENT);
    EXPECT_EQ(configured.get_frames_in_flight().value(), 0u);
}

TEST_F(BadInputTest, UseAfterShutdown) {
    ASSERT_OK_AND_ASSIGN(auto model, vdevice_->create_infer_model(test_model("add_one.onnx")));
    ASSERT_OK_AND_ASSIGN(auto configured, model->configure());
    std::vector<float> input(48), output(48, -7.0f);
    ASSERT_OK_AND_ASSIGN(
        auto bindings,
        configured.create_bindings({{"x", MemoryView::of(input)}, {"y", MemoryView::of(output)}}));
    ASSERT_OK(configured.shutdown());
    const Status run = configured.run(bindings, kTimeout);
    EXPECT_EQ(run.code(), StatusCode::SHUTDOWN) << run;
    EXPECT_TRUE(contains(run.message(), "shut down")) << run;
    EXPECT_STATUS(configured.run_async(bindings), StatusCode::SHUTDOWN);
    EXPECT_STATUS(configured.create_bindings(), StatusCode::SHUTDOWN);
    EXPECT_STATUS(configured.wait_for_async_ready(kTimeout), StatusCode::SHUTDOWN);
    EXPECT_EQ(output, std::vector<float>(48, -7.0f));
    ASSERT_OK(configured.shutdown());  // idempotent
    // The InferModel can be configured again.
    ASSERT_OK_AND_ASSIGN(auto again, model->configure());
    ASSERT_OK_AND_ASSIGN(auto fresh, again.create_bindings({{"x", MemoryView::of(input)},
                                                            {"y", MemoryView::of(output)}}));
    ASSERT_OK(again.run(fresh, kTimeout));
    EXPECT_EQ(output, std::vector<float>(48, 1.0f));
}

}  // namespace
}  // namespace corun
