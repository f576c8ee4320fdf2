// The shapes in force, as a program sizing its buffers the HailoRT way sees them (issue 11):
// a dynamic batch set to 4 sizes the outputs through the model's own get_frame_size() before
// configure, and the bindings report the configured shapes; an empty (zero-size) input; an
// optional input left unbound.
#include <gtest/gtest.h>

#include <cstdint>
#include <cstring>
#include <vector>

#include "corun/corun.hpp"
#include "test_support.hpp"

namespace corun {
namespace {

using test::contains;
using test::test_model;

constexpr auto kTimeout = std::chrono::milliseconds(10000);

class StreamShapesTest : public ::testing::Test {
protected:
    void SetUp() override {
        auto vdevice = VDevice::create();
        ASSERT_TRUE(vdevice.has_value()) << vdevice.status();
        vdevice_ = vdevice.release();
    }
    std::shared_ptr<InferModel> load(const std::string& name) {
        return test::load_test_model(*vdevice_, name);
    }
    std::unique_ptr<VDevice> vdevice_;
};

TEST_F(StreamShapesTest, DynamicBatchOfFourSizesOutputsFromTheModelsOwnFrameSize) {
    auto model = load("batch_dynamic.onnx");  // y[N,4] = 2 * x[N,4]
    ASSERT_TRUE(model);
    ASSERT_OK_AND_ASSIGN(auto input, model->input());
    ASSERT_OK_AND_ASSIGN(auto output, model->output());
    EXPECT_EQ(output.shape(), (std::vector<int64_t>{1, 4}));
    EXPECT_EQ(output.get_frame_size(), 16u);
    ASSERT_OK(input.set_shape({4, 4}));
    // Before configure: the output follows the batch now in force.
    EXPECT_EQ(input.shape(), (std::vector<int64_t>{4, 4}));
    EXPECT_EQ(output.shape(), (std::vector<int64_t>{4, 4}));
    EXPECT_EQ(input.get_frame_size(), 64u);
    EXPECT_EQ(output.get_frame_size(), 64u);
    EXPECT_EQ(output.get_quant_infos().size(), 1u);
    EXPECT_TRUE(output.get_quant_infos()[0].is_identity());

    // A program that sizes its buffers from the model's streams, before configure.
    std::vector<float> x(input.get_frame_size() / sizeof(float));
    for (size_t i = 0; i < x.size(); ++i) x[i] = static_cast<float>(i);
    std::vector<float> y(output.get_frame_size() / sizeof(float), -1.0f);

    ASSERT_OK_AND_ASSIGN(auto configured, model->configure());
    ASSERT_OK_AND_ASSIGN(auto bindings, configured.create_bindings());
    ASSERT_OK_AND_ASSIGN(auto bound_input, bindings.input());
    ASSERT_OK_AND_ASSIGN(auto bound_output, bindings.output());
    EXPECT_EQ(bound_input.shape(), (std::vector<int64_t>{4, 4}));
    EXPECT_EQ(bound_output.shape(), (std::vector<int64_t>{4, 4}));
    EXPECT_EQ(bound_output.format().type, FormatType::FLOAT32);
    EXPECT_EQ(bound_output.get_frame_size(), output.get_frame_size());
    EXPECT_TRUE(bound_output.get_quant_infos()[0].is_identity());
    ASSERT_OK(bound_input.set_buffer(MemoryView(x.data(), x.size() * sizeof(float))));
    ASSERT_OK(bound_output.set_buffer(MemoryView(y.data(), y.size() * sizeof(float))));
    ASSERT_OK(configured.run(bindings, kTimeout));
    for (size_t i = 0; i < y.size(); ++i) EXPECT_EQ(y[i], 2.0f * static_cast<float>(i)) << i;

    // After configure the InferModel's streams still say what is in force.
    EXPECT_EQ(output.shape(), (std::vector<int64_t>{4, 4}));
    ASSERT_OK(input.set_shape({2, 4}));
    EXPECT_EQ(output.get_frame_size(), 32u);
}

TEST_F(StreamShapesTest, OutputShapeNotFollowingTheBatchIsFoundByRunningTheModel) {
    auto model = load("concat_rows.onnx");  // all_rows[M,3] = concat(rows[N,3], fixed[2,3])
    ASSERT_TRUE(model);
    ASSERT_OK(model->input("rows")->set_shape({5, 3}));
    EXPECT_EQ(model->output()->shape(), (std::vector<int64_t>{7, 3}));
    EXPECT_EQ(model->output()->get_frame_size(), 7u * 3 * 4);
}

TEST_F(StreamShapesTest, ZeroSizeInputIsAnEmptyTensorNotAMissingBuffer) {
    auto model = load("concat_rows.onnx");
    ASSERT_TRUE(model);
    ASSERT_OK(model->input("rows")->set_shape({0, 3}));
    EXPECT_EQ(model->input("rows")->get_frame_size(), 0u);
    EXPECT_EQ(model->output()->shape(), (std::vector<int64_t>{2, 3}));
    ASSERT_OK_AND_ASSIGN(auto configured, model->configure());
    ASSERT_OK_AND_ASSIGN(auto bindings, configured.create_bindings());
    std::vector<float> fixed = {1, 2, 3, 4, 5, 6};
    std::vector<float> all_rows(6, -1.0f);
    ASSERT_OK(bindings.input("rows")->set_buffer(MemoryView(nullptr, 0)));  // legal: empty
    ASSERT_OK(bindings.input("fixed")->set_buffer(MemoryView(fixed.data(), 24)));
    ASSERT_OK(bindings.output()->set_buffer(MemoryView(all_rows.data(), 24)));
    ASSERT_OK(configured.run(bindings, kTimeout));
    EXPECT_EQ(all_rows, fixed);
    // A size that is not 0 is still refused for the empty stream, naming the size it takes.
    std::vector<float> wrong(3);
    auto refused = bindings.input("rows")->set_buffer(MemoryView(wrong.data(), 12));
    EXPECT_STATUS(refused, StatusCode::INVALID_ARGUMENT);
    EXPECT_TRUE(contains(refused.message(), "0 bytes per frame")) << refused;
}

TEST_F(StreamShapesTest, SetShapeRefusesNegativeDimensionsAndAcceptsZero) {
    auto model = load("concat_rows.onnx");
    ASSERT_TRUE(model);
    EXPECT_OK(model->input("rows")->set_shape({0, 3}));
    auto negative = model->input("rows")->set_shape({-2, 3});
    EXPECT_STATUS(negative, StatusCode::INVALID_ARGUMENT);
    EXPECT_TRUE(contains(negative.message(), "dimension 0 of input 'rows' is -2")) << negative;
}

std::vector<float> run_optional_bias(ConfiguredInferModel& configured, const float* bias) {
    auto bindings = configured.create_bindings();
    EXPECT_TRUE(bindings.has_value()) << bindings.status();
    std::vector<float> x = {1, 2, 3};
    std::vector<float> y(3, -1.0f);
    EXPECT_OK(bindings->input("x")->set_buffer(MemoryView(x.data(), 12)));
    if (bias != nullptr) {
        EXPECT_OK(bindings->input("bias")->set_buffer(MemoryView(const_cast<float*>(bias), 12)));
    }
    EXPECT_OK(bindings->output()->set_buffer(MemoryView(y.data(), 12)));
    EXPECT_OK(configured.run(*bindings, kTimeout));
    return y;
}

TEST_F(StreamShapesTest, OptionalInputLeftUnboundIsOmitted) {
    auto model = load("optional_bias.onnx");  // y = bias given ? x + bias : x
    ASSERT_TRUE(model);
    ASSERT_OK_AND_ASSIGN(auto bias, model->input("bias"));
    EXPECT_EQ(bias.native_format().type, FormatType::FLOAT32);
    EXPECT_EQ(bias.shape(), (std::vector<int64_t>{3}));
    ASSERT_OK_AND_ASSIGN(auto configured, model->configure());
    const float given[3] = {10, 20, 30};
    EXPECT_EQ(run_optional_bias(configured, given), (std::vector<float>{11, 22, 33}));
    EXPECT_EQ(run_optional_bias(configured, nullptr), (std::vector<float>{1, 2, 3}));
}

TEST_F(StreamShapesTest, RequiredInputLeftUnboundIsStillAnError) {
    auto model = load("optional_bias.onnx");
    ASSERT_TRUE(model);
    ASSERT_OK_AND_ASSIGN(auto configured, model->configure());
    ASSERT_OK_AND_ASSIGN(auto bindings, configured.create_bindings());
    std::vector<float> y(3);
    ASSERT_OK(bindings.output()->set_buffer(MemoryView(y.data(), 12)));
    auto status = configured.run(bindings, kTimeout);
    EXPECT_STATUS(status, StatusCode::INVALID_ARGUMENT);
    EXPECT_TRUE(contains(status.message(), "input 'x'")) << status;
}

}  // namespace
}  // namespace corun
