// InferModel, ConfiguredInferModel and Bindings: stream descriptions, formats, batch size,
// configure(), bindings, synchronous runs, and the format conversions seen through real
// models (quantization, NHWC <-> NCHW, int64 inputs, dynamic dimensions).
#include "corun/infer_model.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "corun/corun.hpp"
#include "test_support.hpp"

namespace corun {
namespace {

using test::contains;
using test::test_model;
using namespace std::chrono_literals;

constexpr auto kTimeout = std::chrono::milliseconds(10000);

class InferModelTest : public ::testing::Test {
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

std::vector<float> iota_floats(size_t count, float start, float step) {
    std::vector<float> values(count);
    for (size_t i = 0; i < count; ++i) values[i] = start + step * static_cast<float>(i);
    return values;
}

// ---- stream descriptions ----

TEST_F(InferModelTest, AddOneStreams) {
    auto model = load("add_one.onnx");
    ASSERT_NE(model, nullptr);
    ASSERT_EQ(model->inputs().size(), 1u);
    ASSERT_EQ(model->outputs().size(), 1u);
    EXPECT_EQ(model->get_input_names(), std::vector<std::string>{"x"});
    EXPECT_EQ(model->get_output_names(), std::vector<std::string>{"y"});

    const InferModel::InferStream& x = model->inputs()[0];
    EXPECT_EQ(x.name(), "x");
    EXPECT_TRUE(x.is_input());
    EXPECT_EQ(x.shape(), (std::vector<int64_t>{1, 3, 4, 4}));
    EXPECT_EQ(x.native_shape(), (std::vector<int64_t>{1, 3, 4, 4}));
    EXPECT_EQ(x.format().type, FormatType::FLOAT32);
    EXPECT_EQ(x.format().order, FormatOrder::NCHW);
    EXPECT_EQ(x.native_format().type, FormatType::FLOAT32);
    EXPECT_EQ(x.native_format().order, FormatOrder::NCHW);
    EXPECT_EQ(x.get_frame_size(), 48u * 4u);
    EXPECT_EQ(x.get_frame_size(), 48u * 4u);
    EXPECT_EQ(x.dimension_names(), (std::vector<std::string>{"", "", "", ""}));
    ASSERT_EQ(x.get_quant_infos().size(), 1u);
    EXPECT_TRUE(x.get_quant_infos()[0].is_identity());
    ASSERT_EQ(x.get_quant_infos().size(), 1u);
    EXPECT_TRUE(x.get_quant_infos()[0].is_identity());
    EXPECT_EQ(x.quant_source(), "none (float stream)");

    const InferModel::InferStream& y = model->outputs()[0];
    EXPECT_EQ(y.name(), "y");
    EXPECT_FALSE(y.is_input());
    EXPECT_EQ(y.shape(), (std::vector<int64_t>{1, 3, 4, 4}));
    EXPECT_EQ(y.get_frame_size(), 192u);
}

TEST_F(InferModelTest, InputAndOutputLookups) {
    auto model = load("add_one.onnx");
    ASSERT_NE(model, nullptr);
    ASSERT_OK_AND_ASSIGN(auto x, model->input());
    EXPECT_EQ(x.name(), "x");
    ASSERT_OK_AND_ASSIGN(auto y, model->output());
    EXPECT_EQ(y.name(), "y");
    ASSERT_OK_AND_ASSIGN(auto x_by_name, model->input("x"));
    EXPECT_EQ(x_by_name.name(), "x");
    ASSERT_OK_AND_ASSIGN(auto y_by_name, model->output("y"));
    EXPECT_EQ(y_by_name.name(), "y");

    auto missing = model->input("nope");
    ASSERT_FALSE(missing.has_value());
    EXPECT_EQ(missing.status().code(), StatusCode::NOT_FOUND);
    EXPECT_TRUE(contains(missing.status().message(), "'nope'")) << missing.status();
    EXPECT_TRUE(contains(missing.status().message(), "'x'")) << missing.status();
    // An input is not an output, and the other way round.
    EXPECT_STATUS(model->output("x"), StatusCode::NOT_FOUND);
    EXPECT_STATUS(model->input("y"), StatusCode::NOT_FOUND);
}

TEST_F(InferModelTest, StreamHandlesShareState) {
    auto model = load("add_one.onnx");
    ASSERT_NE(model, nullptr);
    ASSERT_OK_AND_ASSIGN(auto first, model->input("x"));
    ASSERT_OK_AND_ASSIGN(auto second, model->input());
    first.set_format_type(FormatType::UINT8);
    EXPECT_EQ(second.format().type, FormatType::UINT8);
    EXPECT_EQ(model->inputs()[0].format().type, FormatType::UINT8);
}

TEST_F(InferModelTest, NoNameLookupsFailWithSeveralStreams) {
    auto model = load("two_in_two_out.onnx");
    ASSERT_NE(model, nullptr);
    EXPECT_EQ(model->get_input_names(), (std::vector<std::string>{"a", "b"}));
    EXPECT_EQ(model->get_output_names(), (std::vector<std::string>{"sum", "product"}));
    auto input = model->input();
    ASSERT_FALSE(input.has_value());
    EXPECT_EQ(input.status().code(), StatusCode::INVALID_OPERATION);
    EXPECT_TRUE(contains(input.status().message(), "'a', 'b'")) << input.status();
    auto output = model->output();
    ASSERT_FALSE(output.has_value());
    EXPECT_EQ(output.status().code(), StatusCode::INVALID_OPERATION);
    EXPECT_TRUE(contains(output.status().message(), "'sum', 'product'")) << output.status();
    ASSERT_OK_AND_ASSIGN(auto b, model->input("b"));
    EXPECT_EQ(b.shape(), (std::vector<int64_t>{1, 8}));
    EXPECT_EQ(b.format().order, FormatOrder::NC);
    ASSERT_OK_AND_ASSIGN(auto product, model->output("product"));
    EXPECT_FALSE(product.is_input());
}

TEST_F(InferModelTest, FormatSettersChangeTheUserSideOnly) {
    auto model = load("add_one.onnx");
    ASSERT_NE(model, nullptr);
    ASSERT_OK_AND_ASSIGN(auto x, model->input());
    x.set_format_type(FormatType::UINT8);
    EXPECT_EQ(x.format().type, FormatType::UINT8);
    EXPECT_EQ(x.get_frame_size(), 48u);
    x.set_format_type(FormatType::UINT16);
    EXPECT_EQ(x.get_frame_size(), 96u);
    x.set_format_order(FormatOrder::NHWC);
    EXPECT_EQ(x.format().order, FormatOrder::NHWC);
    EXPECT_EQ(x.shape(), (std::vector<int64_t>{1, 4, 4, 3}));
    // The model's side does not change.
    EXPECT_EQ(x.native_format().type, FormatType::FLOAT32);
    EXPECT_EQ(x.native_format().order, FormatOrder::NCHW);
    EXPECT_EQ(x.native_shape(), (std::vector<int64_t>{1, 3, 4, 4}));
    x.set_format_type(FormatType::AUTO);
    x.set_format_order(FormatOrder::AUTO);
    EXPECT_EQ(x.format().type, FormatType::FLOAT32);
    EXPECT_EQ(x.format().order, FormatOrder::NCHW);
    EXPECT_EQ(x.get_frame_size(), 192u);
}

TEST_F(InferModelTest, NhwcImageIsDetectedAsNhwc) {
    auto model = load("nhwc_image.onnx");
    ASSERT_NE(model, nullptr);
    ASSERT_OK_AND_ASSIGN(auto image, model->input());
    EXPECT_EQ(image.native_format().order, FormatOrder::NHWC);
    EXPECT_EQ(image.format().order, FormatOrder::NHWC);
    EXPECT_EQ(image.shape(), (std::vector<int64_t>{1, 8, 8, 3}));
    image.set_format_order(FormatOrder::NCHW);
    EXPECT_EQ(image.shape(), (std::vector<int64_t>{1, 3, 8, 8}));
    EXPECT_EQ(image.native_shape(), (std::vector<int64_t>{1, 8, 8, 3}));
    ASSERT_OK_AND_ASSIGN(auto conv, load("conv_nchw.onnx")->input());
    EXPECT_EQ(conv.native_format().order, FormatOrder::NCHW);
}

// ---- batch size ----

TEST_F(InferModelTest, SetBatchSize) {
    auto model = load("add_one.onnx");
    ASSERT_NE(model, nullptr);
    EXPECT_EQ(model->batch_size(), 1);
    ASSERT_OK(model->set_batch_size(4));
    EXPECT_EQ(model->batch_size(), 4);
    ASSERT_OK(model->set_batch_size(InferModel::MAX_BATCH_SIZE));
    EXPECT_EQ(model->batch_size(), 256);
    ASSERT_OK(model->set_batch_size(0));  // corun picks: 1
    EXPECT_EQ(model->batch_size(), 1);

    ASSERT_OK(model->set_batch_size(3));
    const Status too_big = model->set_batch_size(InferModel::MAX_BATCH_SIZE + 1);
    EXPECT_EQ(too_big.code(), StatusCode::INVALID_ARGUMENT);
    EXPECT_TRUE(contains(too_big.message(), "257")) << too_big;
    EXPECT_STATUS(model->set_batch_size(60000), StatusCode::INVALID_ARGUMENT);
    EXPECT_EQ(model->batch_size(), 3);  // unchanged by the refused calls
}

TEST_F(InferModelTest, AsyncQueueSizeFollowsTheBatchSize) {
    auto model = load("add_one.onnx");
    ASSERT_NE(model, nullptr);
    ASSERT_OK_AND_ASSIGN(auto default_batch, model->configure());
    ASSERT_OK_AND_ASSIGN(size_t default_queue, default_batch.get_async_queue_size());
    EXPECT_EQ(default_queue, 2u);
    ASSERT_OK(model->set_batch_size(3));
    ASSERT_OK_AND_ASSIGN(auto batch_three, model->configure());
    ASSERT_OK_AND_ASSIGN(size_t queue_three, batch_three.get_async_queue_size());
    EXPECT_EQ(queue_three, 6u);
    EXPECT_EQ(batch_three.get_frames_in_flight().value(), 0u);
}

// ---- configure and bindings ----

TEST_F(InferModelTest, EachConfigureKeepsItsFormats) {
    auto model = load("add_one.onnx");
    ASSERT_NE(model, nullptr);
    ASSERT_OK_AND_ASSIGN(auto as_float, model->configure());
    ASSERT_OK_AND_ASSIGN(auto x, model->input());
    x.set_format_type(FormatType::UINT8);
    ASSERT_OK_AND_ASSIGN(auto as_bytes, model->configure());

    ASSERT_OK_AND_ASSIGN(auto float_bindings, as_float.create_bindings());
    ASSERT_OK_AND_ASSIGN(auto byte_bindings, as_bytes.create_bindings());
    ASSERT_OK_AND_ASSIGN(auto float_x, float_bindings.input());
    ASSERT_OK_AND_ASSIGN(auto byte_x, byte_bindings.input());
    EXPECT_EQ(float_x.get_frame_size(), 192u);
    EXPECT_EQ(byte_x.get_frame_size(), 48u);

    // Both run, each with its own input format.
    std::vector<float> float_in = iota_floats(48, 0.0f, 1.0f), float_out(48, -1.0f);
    std::vector<uint8_t> byte_in(48);
    std::vector<float> byte_out(48, -1.0f);
    for (size_t i = 0; i < 48; ++i) byte_in[i] = static_cast<uint8_t>(200 + i);
    ASSERT_OK(float_x.set_buffer(MemoryView::of(float_in)));
    ASSERT_OK(float_bindings.output()->set_buffer(MemoryView::of(float_out)));
    ASSERT_OK(byte_x.set_buffer(MemoryView::of(byte_in)));
    ASSERT_OK(byte_bindings.output()->set_buffer(MemoryView::of(byte_out)));
    ASSERT_OK(as_float.run(float_bindings, kTimeout));
    ASSERT_OK(as_bytes.run(byte_bindings, kTimeout));
    for (size_t i = 0; i < 48; ++i) {
        EXPECT_EQ(float_out[i], static_cast<float>(i) + 1.0f) << i;
        EXPECT_EQ(byte_out[i], static_cast<float>(200 + i) + 1.0f) << i;
    }
}

TEST_F(InferModelTest, ConfiguredModelNamesItsStreams) {
    auto model = load("two_in_two_out.onnx");
    ASSERT_NE(model, nullptr);
    ASSERT_OK_AND_ASSIGN(auto configured, model->configure());
    EXPECT_EQ(configured.get_input_names(), (std::vector<std::string>{"a", "b"}));
    EXPECT_EQ(configured.get_output_names(), (std::vector<std::string>{"sum", "product"}));
}

TEST_F(InferModelTest, BindingsStreamsAndBufferSizes) {
    auto model = load("add_one.onnx");
    ASSERT_NE(model, nullptr);
    ASSERT_OK_AND_ASSIGN(auto configured, model->configure());
    ASSERT_OK_AND_ASSIGN(auto bindings, configured.create_bindings());
    ASSERT_OK_AND_ASSIGN(auto x, bindings.input());
    ASSERT_OK_AND_ASSIGN(auto y, bindings.output());
    EXPECT_EQ(x.name(), "x");
    EXPECT_EQ(y.name(), "y");
    EXPECT_EQ(x.get_frame_size(), 192u);
    EXPECT_EQ(y.get_frame_size(), 192u);
    ASSERT_OK_AND_ASSIGN(auto x_by_name, bindings.input("x"));
    EXPECT_EQ(x_by_name.name(), "x");
    EXPECT_STATUS(bindings.input("y"), StatusCode::NOT_FOUND);
    EXPECT_STATUS(bindings.output("x"), StatusCode::NOT_FOUND);

    // No buffer yet.
    auto none = x.get_buffer();
    ASSERT_FALSE(none.has_value());
    EXPECT_EQ(none.status().code(), StatusCode::NOT_FOUND);
    EXPECT_TRUE(contains(none.status().message(), "input 'x'")) << none.status();

    // A buffer of the wrong size is refused, naming both sizes, and leaves no buffer set.
    std::vector<uint8_t> wrong(100);
    const Status refused = x.set_buffer(MemoryView::of(wrong));
    EXPECT_EQ(refused.code(), StatusCode::INVALID_ARGUMENT);
    EXPECT_TRUE(contains(refused.message(), "192 bytes")) << refused;
    EXPECT_TRUE(contains(refused.message(), "100 bytes")) << refused;
    EXPECT_STATUS(x.get_buffer(), StatusCode::NOT_FOUND);

    std::vector<float> input(48);
    ASSERT_OK(x.set_buffer(MemoryView::of(input)));
    ASSERT_OK_AND_ASSIGN(MemoryView view, x.get_buffer());
    EXPECT_EQ(view.data, input.data());
    EXPECT_EQ(view.size, 192u);

    // A null view unbinds the stream, whatever its size.
    ASSERT_OK(x.set_buffer(MemoryView(nullptr, 7)));
    EXPECT_STATUS(x.get_buffer(), StatusCode::NOT_FOUND);
}

TEST_F(InferModelTest, BindingsOfSeveralStreamsNeedNames) {
    auto model = load("two_in_two_out.onnx");
    ASSERT_NE(model, nullptr);
    ASSERT_OK_AND_ASSIGN(auto configured, model->configure());
    ASSERT_OK_AND_ASSIGN(auto bindings, configured.create_bindings());
    EXPECT_STATUS(bindings.input(), StatusCode::INVALID_OPERATION);
    EXPECT_STATUS(bindings.output(), StatusCode::INVALID_OPERATION);
    ASSERT_OK_AND_ASSIGN(auto b, bindings.input("b"));
    EXPECT_EQ(b.get_frame_size(), 32u);
    ASSERT_OK_AND_ASSIGN(auto product, bindings.output("product"));
    EXPECT_EQ(product.name(), "product");
    EXPECT_STATUS(bindings.input("sum"), StatusCode::NOT_FOUND);
}

TEST_F(InferModelTest, CreateBindingsFromAMap) {
    auto model = load("two_in_two_out.onnx");
    ASSERT_NE(model, nullptr);
    ASSERT_OK_AND_ASSIGN(auto configured, model->configure());
    std::vector<float> a = iota_floats(8, 1.0f, 1.0f), b = iota_floats(8, -2.0f, 0.5f);
    std::vector<float> sum(8, -99.0f), product(8, -99.0f);
    ASSERT_OK_AND_ASSIGN(auto bindings,
                         configured.create_bindings({{"a", MemoryView::of(a)},
                                                     {"b", MemoryView::of(b)},
                                                     {"sum", MemoryView::of(sum)},
                                                     {"product", MemoryView::of(product)}}));
    ASSERT_OK_AND_ASSIGN(MemoryView bound_sum, bindings.output("sum")->get_buffer());
    EXPECT_EQ(bound_sum.data, sum.data());
    ASSERT_OK(configured.run(bindings, kTimeout));
    for (size_t i = 0; i < 8; ++i) {
        EXPECT_EQ(sum[i], a[i] + b[i]) << i;
        EXPECT_EQ(product[i], a[i] * b[i]) << i;
    }

    auto unknown = configured.create_bindings({{"c", MemoryView::of(a)}});
    ASSERT_FALSE(unknown.has_value());
    EXPECT_EQ(unknown.status().code(), StatusCode::NOT_FOUND);
    EXPECT_TRUE(contains(unknown.status().message(), "'c'")) << unknown.status();

    std::vector<float> short_buffer(7);
    auto wrong_size = configured.create_bindings({{"sum", MemoryView::of(short_buffer)}});
    ASSERT_FALSE(wrong_size.has_value());
    EXPECT_EQ(wrong_size.status().code(), StatusCode::INVALID_ARGUMENT);
    EXPECT_TRUE(contains(wrong_size.status().message(), "'sum'")) << wrong_size.status();
    EXPECT_TRUE(contains(wrong_size.status().message(), "28 bytes")) << wrong_size.status();

    // A partial map is fine; the rest is bound later.
    ASSERT_OK_AND_ASSIGN(auto partial, configured.create_bindings({{"a", MemoryView::of(a)}}));
    EXPECT_STATUS(partial.input("b")->get_buffer(), StatusCode::NOT_FOUND);
}

// ---- running ----

TEST_F(InferModelTest, RunAddsOne) {
    auto model = load("add_one.onnx");
    ASSERT_NE(model, nullptr);
    ASSERT_OK_AND_ASSIGN(auto configured, model->configure());
    std::vector<float> input = iota_floats(48, -10.5f, 0.75f), output(48, -1.0f);
    ASSERT_OK_AND_ASSIGN(auto bindings, configured.create_bindings());
    ASSERT_OK(bindings.input()->set_buffer(MemoryView::of(input)));
    ASSERT_OK(bindings.output()->set_buffer(MemoryView::of(output)));
    ASSERT_OK(configured.run(bindings, kTimeout));
    for (size_t i = 0; i < 48; ++i) EXPECT_EQ(output[i], input[i] + 1.0f) << i;

    // The same bindings run again over new input values.
    for (auto& value : input) value *= 2.0f;
    ASSERT_OK(configured.run(bindings, kTimeout));
    for (size_t i = 0; i < 48; ++i) EXPECT_EQ(output[i], input[i] + 1.0f) << i;
    EXPECT_EQ(configured.get_frames_in_flight().value(), 0u);
}

TEST_F(InferModelTest, RunWithoutAllBuffersFails) {
    auto model = load("two_in_two_out.onnx");
    ASSERT_NE(model, nullptr);
    ASSERT_OK_AND_ASSIGN(auto configured, model->configure());
    std::vector<float> a(8), b(8), sum(8);
    ASSERT_OK_AND_ASSIGN(auto bindings, configured.create_bindings({{"a", MemoryView::of(a)},
                                                                    {"b", MemoryView::of(b)},
                                                                    {"sum", MemoryView::of(sum)}}));
    const Status missing = configured.run(bindings, kTimeout);
    EXPECT_EQ(missing.code(), StatusCode::INVALID_ARGUMENT);
    EXPECT_TRUE(contains(missing.message(), "output 'product'")) << missing;
    EXPECT_EQ(configured.get_frames_in_flight().value(), 0u);
}

TEST_F(InferModelTest, BindingsOfAnotherConfiguredModelAreRefused) {
    auto model = load("add_one.onnx");
    ASSERT_NE(model, nullptr);
    ASSERT_OK_AND_ASSIGN(auto first, model->configure());
    ASSERT_OK_AND_ASSIGN(auto second, model->configure());
    std::vector<float> input(48), output(48);
    ASSERT_OK_AND_ASSIGN(auto bindings, first.create_bindings({{"x", MemoryView::of(input)},
                                                               {"y", MemoryView::of(output)}}));
    EXPECT_STATUS(second.run(bindings, kTimeout), StatusCode::INVALID_ARGUMENT);
    EXPECT_STATUS(second.run_async(bindings), StatusCode::INVALID_ARGUMENT);
    EXPECT_STATUS(second.run_async(std::vector<ConfiguredInferModel::Bindings>{}),
                  StatusCode::INVALID_ARGUMENT);
    ASSERT_OK(first.run(bindings, kTimeout));
}

TEST_F(InferModelTest, ConfiguredHandlesShareOnePipeline) {
    auto model = load("add_one.onnx");
    ASSERT_NE(model, nullptr);
    ASSERT_OK_AND_ASSIGN(auto configured, model->configure());
    ConfiguredInferModel copy = configured;
    std::vector<float> input(48, 2.0f), output(48);
    ASSERT_OK_AND_ASSIGN(
        auto bindings,
        configured.create_bindings({{"x", MemoryView::of(input)}, {"y", MemoryView::of(output)}}));
    ASSERT_OK(copy.run(bindings, kTimeout));  // bindings of `configured` run on its copy
    EXPECT_EQ(output[0], 3.0f);
    ASSERT_OK(copy.shutdown());
    EXPECT_STATUS(configured.run(bindings, kTimeout), StatusCode::SHUTDOWN);
}

// ---- quantization through the models ----

TEST_F(InferModelTest, QuantizedModelReportsItsQuantization) {
    auto model = load("quantized.onnx");
    ASSERT_NE(model, nullptr);
    ASSERT_OK_AND_ASSIGN(auto q_in, model->input());
    ASSERT_OK_AND_ASSIGN(auto q_out, model->output());
    EXPECT_EQ(q_in.native_format().type, FormatType::UINT8);
    EXPECT_EQ(q_in.format().type, FormatType::UINT8);
    EXPECT_EQ(q_in.get_frame_size(), 4u);
    ASSERT_EQ(q_in.get_quant_infos().size(), 1u);
    const QuantInfo in_quant = q_in.get_quant_infos()[0];
    EXPECT_EQ(in_quant.scale, 0.5f);
    EXPECT_EQ(in_quant.zero_point, 10.0f);
    EXPECT_EQ(in_quant.limvals_min, -5.0f);   // (0 - 10) * 0.5
    EXPECT_EQ(in_quant.limvals_max, 122.5f);  // (255 - 10) * 0.5
    EXPECT_EQ(q_in.quant_source(), "DequantizeLinear 'dequantize' at the input");

    const QuantInfo out_quant = q_out.get_quant_infos()[0];
    EXPECT_EQ(out_quant.scale, 0.25f);
    EXPECT_EQ(out_quant.zero_point, 3.0f);
    EXPECT_EQ(out_quant.limvals_min, -0.75f);
    EXPECT_EQ(out_quant.limvals_max, 63.0f);
    EXPECT_EQ(q_out.quant_source(), "QuantizeLinear 'quantize' at the output");
}

// quantized.onnx: q_out = Q(2 * DQ(q_in, 0.5, 10), 0.25, 3), all uint8.
TEST_F(InferModelTest, QuantizedModelWithNativeBytes) {
    auto model = load("quantized.onnx");
    ASSERT_NE(model, nullptr);
    ASSERT_OK_AND_ASSIGN(auto configured, model->configure());
    // q_in 10: 0 -> 0 -> 3.  12: 1 -> 2 -> 8 + 3 = 11.  0: -5 -> -10 -> -40 + 3 -> 0.
    // 200: 95 -> 190 -> 760 + 3 -> 255.
    std::vector<uint8_t> input = {10, 12, 0, 200}, output(4, 0xAA);
    ASSERT_OK_AND_ASSIGN(auto bindings,
                         configured.create_bindings(
                             {{"q_in", MemoryView::of(input)}, {"q_out", MemoryView::of(output)}}));
    ASSERT_OK(configured.run(bindings, kTimeout));
    EXPECT_EQ(output, (std::vector<uint8_t>{3, 11, 0, 255}));

    // 11: 0.5 -> 1 -> 4 + 3 = 7.  13: 1.5 -> 3 -> 12 + 3 = 15.
    // 9: -0.5 -> -1 -> -4 + 3 = -1, saturates to 0.  14: 2 -> 4 -> 16 + 3 = 19.
    input = {11, 13, 9, 14};
    ASSERT_OK(configured.run(bindings, kTimeout));
    EXPECT_EQ(output, (std::vector<uint8_t>{7, 15, 0, 19}));
}

TEST_F(InferModelTest, QuantizedModelWithFloatBuffers) {
    auto model = load("quantized.onnx");
    ASSERT_NE(model, nullptr);
    model->input()->set_format_type(FormatType::FLOAT32);
    model->output()->set_format_type(FormatType::FLOAT32);
    EXPECT_EQ(model->inputs()[0].get_frame_size(), 16u);
    ASSERT_OK_AND_ASSIGN(auto configured, model->configure());

    // corun quantizes each real with 0.5 / 10, the model doubles, corun dequantizes with 0.25 / 3:
    //   -1.0 -> q 8 -> -1.0 -> -2.0 -> q -5 -> 0 (saturated) -> -0.75
    //    0.3 -> 0.6 rounds to 1 -> q 11 -> 0.5 -> 1.0 -> q 7 -> 1.0
    //   1.25 -> 2.5 rounds (half to even) to 2 -> q 12 -> 1.0 -> 2.0 -> q 11 -> 2.0
    //  100.0 -> q 210 -> 100.0 -> 200.0 -> q 803 -> 255 (saturated) -> 63.0
    std::vector<float> input = {-1.0f, 0.3f, 1.25f, 100.0f}, output(4, -99.0f);
    ASSERT_OK_AND_ASSIGN(auto bindings,
                         configured.create_bindings(
                             {{"q_in", MemoryView::of(input)}, {"q_out", MemoryView::of(output)}}));
    ASSERT_OK(configured.run(bindings, kTimeout));
    EXPECT_EQ(output, (std::vector<float>{-0.75f, 1.0f, 2.0f, 63.0f}));

    //    0.0 -> q 10 -> 0 -> 0 -> q 3 -> 0.0
    //    3.0 -> q 16 -> 3.0 -> 6.0 -> q 27 -> 6.0
    //   -6.0 -> q -2 -> 0 (saturated) -> -5.0 -> -10.0 -> q -37 -> 0 -> -0.75
    //   1.75 -> 3.5 rounds to 4 -> q 14 -> 2.0 -> 4.0 -> q 19 -> 4.0
    input = {0.0f, 3.0f, -6.0f, 1.75f};
    ASSERT_OK(configured.run(bindings, kTimeout));
    EXPECT_EQ(output, (std::vector<float>{0.0f, 6.0f, -0.75f, 4.0f}));
}

TEST_F(InferModelTest, QuantizedModelMixedFormats) {
    auto model = load("quantized.onnx");
    ASSERT_NE(model, nullptr);
    model->input()->set_format_type(FormatType::FLOAT32);  // output stays uint8
    ASSERT_OK_AND_ASSIGN(auto configured, model->configure());
    std::vector<float> input = {-1.0f, 0.3f, 1.25f, 100.0f};
    std::vector<uint8_t> output(4, 0xAA);
    ASSERT_OK_AND_ASSIGN(auto bindings,
                         configured.create_bindings(
                             {{"q_in", MemoryView::of(input)}, {"q_out", MemoryView::of(output)}}));
    ASSERT_OK(configured.run(bindings, kTimeout));
    EXPECT_EQ(output, (std::vector<uint8_t>{0, 7, 11, 255}));
}

TEST_F(InferModelTest, MetadataQuantization) {
    auto model = load("metadata_quant.onnx");
    ASSERT_NE(model, nullptr);
    for (const auto* stream : {&model->inputs()[0], &model->outputs()[0]}) {
        ASSERT_EQ(stream->get_quant_infos().size(), 1u);
        EXPECT_EQ(stream->get_quant_infos()[0].scale, 0.1f) << stream->name();
        EXPECT_EQ(stream->get_quant_infos()[0].zero_point, 128.0f) << stream->name();
        EXPECT_EQ(stream->quant_source(), "metadata corun.quant." + stream->name());
    }
    EXPECT_FLOAT_EQ(model->inputs()[0].get_quant_infos()[0].limvals_min, -12.8f);
    EXPECT_FLOAT_EQ(model->inputs()[0].get_quant_infos()[0].limvals_max, 12.7f);

    // Raw bytes pass the identity model unchanged.
    ASSERT_OK_AND_ASSIGN(auto raw, model->configure());
    std::vector<uint8_t> bytes_in = {0, 1, 127, 128, 129, 255}, bytes_out(6, 7);
    ASSERT_OK_AND_ASSIGN(auto raw_bindings,
                         raw.create_bindings({{"raw_in", MemoryView::of(bytes_in)},
                                              {"raw_out", MemoryView::of(bytes_out)}}));
    ASSERT_OK(raw.run(raw_bindings, kTimeout));
    EXPECT_EQ(bytes_out, bytes_in);

    // Reals are quantized with 0.1 / 128 and dequantized the same way.
    model->input()->set_format_type(FormatType::FLOAT32);
    model->output()->set_format_type(FormatType::FLOAT32);
    ASSERT_OK_AND_ASSIGN(auto reals, model->configure());
    std::vector<float> input = {0.0f, 1.0f, -1.0f, 0.26f, -12.8f, 20.0f}, output(6, -99.0f);
    const std::vector<int> quantized = {128, 138, 118, 131, 0, 255};  // 20.0 saturates
    ASSERT_OK_AND_ASSIGN(auto bindings,
                         reals.create_bindings({{"raw_in", MemoryView::of(input)},
                                                {"raw_out", MemoryView::of(output)}}));
    ASSERT_OK(reals.run(bindings, kTimeout));
    for (size_t i = 0; i < 6; ++i) {
        const float expected = static_cast<float>((quantized[i] - 128) * static_cast<double>(0.1f));
        EXPECT_EQ(output[i], expected) << i;
        EXPECT_NEAR(output[i], (quantized[i] - 128) * 0.1, 1e-6) << i;
    }
}

// ---- other element types and shapes ----

TEST_F(InferModelTest, Int64TokensPassThrough) {
    auto model = load("int64_tokens.onnx");
    ASSERT_NE(model, nullptr);
    ASSERT_OK_AND_ASSIGN(auto ids, model->input());
    EXPECT_EQ(ids.native_format().type, FormatType::INT64);
    EXPECT_EQ(ids.format().type, FormatType::INT64);
    EXPECT_EQ(ids.get_frame_size(), 40u);
    EXPECT_TRUE(ids.get_quant_infos()[0].is_identity());
    EXPECT_EQ(ids.quant_source(), "none (int64 stream)");
    ASSERT_OK_AND_ASSIGN(auto configured, model->configure());
    std::vector<int64_t> tokens = {0, 1, 101, 50256, -7};
    std::vector<float> as_float(5, -1.0f);
    ASSERT_OK_AND_ASSIGN(auto bindings,
                         configured.create_bindings({{"ids", MemoryView::of(tokens)},
                                                     {"as_float", MemoryView::of(as_float)}}));
    ASSERT_OK(configured.run(bindings, kTimeout));
    for (size_t i = 0; i < 5; ++i) EXPECT_EQ(as_float[i], static_cast<float>(tokens[i])) << i;
}

TEST_F(InferModelTest, DynamicBatchDimensionIsOneFrame) {
    auto model = load("batch_dynamic.onnx");
    ASSERT_NE(model, nullptr);
    ASSERT_OK_AND_ASSIGN(auto x, model->input());
    EXPECT_EQ(x.native_shape(), (std::vector<int64_t>{1, 4}));
    EXPECT_EQ(x.dimension_names(), (std::vector<std::string>{"N", ""}));
    EXPECT_EQ(x.get_frame_size(), 16u);
    ASSERT_OK_AND_ASSIGN(auto configured, model->configure());
    std::vector<float> input = {1.5f, -2.0f, 0.0f, 1e6f}, output(4, 0.0f);
    ASSERT_OK_AND_ASSIGN(
        auto bindings,
        configured.create_bindings({{"x", MemoryView::of(input)}, {"y", MemoryView::of(output)}}));
    ASSERT_OK_AND_ASSIGN(auto y, bindings.output());
    EXPECT_EQ(y.get_frame_size(), 16u);
    ASSERT_OK(configured.run(bindings, kTimeout));
    EXPECT_EQ(output, (std::vector<float>{3.0f, -4.0f, 0.0f, 2e6f}));
}

TEST_F(InferModelTest, DynamicSpatialDimensionsAfterSetShape) {
    auto model = load("dynamic_dims.onnx");
    ASSERT_NE(model, nullptr);
    ASSERT_OK_AND_ASSIGN(auto x, model->input());
    EXPECT_EQ(x.native_shape(), (std::vector<int64_t>{1, 3, -1, -1}));
    EXPECT_EQ(x.dimension_names(), (std::vector<std::string>{"batch", "", "height", "width"}));
    EXPECT_EQ(x.get_frame_size(), 0u);  // not known yet
    ASSERT_OK(x.set_shape({1, 3, 5, 6}));
    EXPECT_EQ(x.native_shape(), (std::vector<int64_t>{1, 3, 5, 6}));
    EXPECT_EQ(x.get_frame_size(), 90u * 4u);
    ASSERT_OK_AND_ASSIGN(auto configured, model->configure());
    std::vector<float> input = iota_floats(90, -45.0f, 1.0f), output(90, -1.0f);
    ASSERT_OK_AND_ASSIGN(
        auto bindings,
        configured.create_bindings({{"x", MemoryView::of(input)}, {"y", MemoryView::of(output)}}));
    ASSERT_OK_AND_ASSIGN(auto y, bindings.output());
    EXPECT_EQ(y.get_frame_size(), 360u);  // found from the input shape
    ASSERT_OK(configured.run(bindings, kTimeout));
    for (size_t i = 0; i < 90; ++i) EXPECT_EQ(output[i], std::max(input[i], 0.0f)) << i;
}

// ---- NHWC <-> NCHW through the models ----

std::vector<float> nchw_to_nhwc(const std::vector<float>& nchw, int c, int h, int w) {
    std::vector<float> nhwc(nchw.size());
    for (int ci = 0; ci < c; ++ci) {
        for (int hi = 0; hi < h; ++hi) {
            for (int wi = 0; wi < w; ++wi) {
                nhwc[(hi * w + wi) * c + ci] = nchw[(ci * h + hi) * w + wi];
            }
        }
    }
    return nhwc;
}

TEST_F(InferModelTest, NhwcImageTakesNchwBuffers) {
    auto model = load("nhwc_image.onnx");
    ASSERT_NE(model, nullptr);
    // The input in NCHW, the output left in the model's NHWC: every element must move.
    model->input()->set_format_order(FormatOrder::NCHW);
    ASSERT_OK_AND_ASSIGN(auto configured, model->configure());
    std::vector<float> nchw = iota_floats(192, 0.0f, 1.0f), nhwc_out(192, -1.0f);
    ASSERT_OK_AND_ASSIGN(auto bindings,
                         configured.create_bindings({{"image", MemoryView::of(nchw)},
                                                     {"doubled", MemoryView::of(nhwc_out)}}));
    ASSERT_OK(configured.run(bindings, kTimeout));
    for (int c = 0; c < 3; ++c) {
        for (int h = 0; h < 8; ++h) {
            for (int w = 0; w < 8; ++w) {
                EXPECT_EQ(nhwc_out[(h * 8 + w) * 3 + c], 2.0f * nchw[(c * 8 + h) * 8 + w])
                    << "c=" << c << " h=" << h << " w=" << w;
            }
        }
    }
}

class ConvNchwTest : public InferModelTest {
protected:
    // The reference: the model run on NCHW floats, its native format.
    void SetUp() override {
        InferModelTest::SetUp();
        if (HasFatalFailure()) return;
        image_nchw_.resize(3 * 32 * 32);
        for (size_t i = 0; i < image_nchw_.size(); ++i) {
            image_nchw_[i] = static_cast<float>((i * 37) % 256);  // integral, fits uint8
        }
        auto model = load("conv_nchw.onnx");
        ASSERT_NE(model, nullptr);
        ASSERT_OK_AND_ASSIGN(auto configured, model->configure());
        reference_nchw_.assign(8 * 32 * 32, -1.0f);
        ASSERT_OK_AND_ASSIGN(auto bindings, configured.create_bindings(
                                                {{"image", MemoryView::of(image_nchw_)},
                                                 {"features", MemoryView::of(reference_nchw_)}}));
        ASSERT_OK(configured.run(bindings, kTimeout));
        const auto positive = std::count_if(reference_nchw_.begin(), reference_nchw_.end(),
                                            [](float v) { return v > 0.0f; });
        ASSERT_GT(positive, 100);  // a meaningful output, not all zeros
    }

    std::vector<float> image_nchw_;
    std::vector<float> reference_nchw_;
};

TEST_F(ConvNchwTest, NhwcInputGivesTheSameOutput) {
    auto model = load("conv_nchw.onnx");
    ASSERT_NE(model, nullptr);
    model->input()->set_format_order(FormatOrder::NHWC);
    EXPECT_EQ(model->inputs()[0].shape(), (std::vector<int64_t>{1, 32, 32, 3}));
    ASSERT_OK_AND_ASSIGN(auto configured, model->configure());
    std::vector<float> image_nhwc = nchw_to_nhwc(image_nchw_, 3, 32, 32);
    std::vector<float> output(8 * 32 * 32, -1.0f);
    ASSERT_OK_AND_ASSIGN(auto bindings,
                         configured.create_bindings({{"image", MemoryView::of(image_nhwc)},
                                                     {"features", MemoryView::of(output)}}));
    ASSERT_OK(configured.run(bindings, kTimeout));
    for (size_t i = 0; i < output.size(); ++i) {
        ASSERT_NEAR(output[i], reference_nchw_[i], 1e-5) << i;
    }
}

TEST_F(ConvNchwTest, NhwcOutputIsTheTransposedReference) {
    auto model = load("conv_nchw.onnx");
    ASSERT_NE(model, nullptr);
    model->output()->set_format_order(FormatOrder::NHWC);
    EXPECT_EQ(model->outputs()[0].shape(), (std::vector<int64_t>{1, 32, 32, 8}));
    ASSERT_OK_AND_ASSIGN(auto configured, model->configure());
    std::vector<float> output(8 * 32 * 32, -1.0f);
    ASSERT_OK_AND_ASSIGN(auto bindings,
                         configured.create_bindings({{"image", MemoryView::of(image_nchw_)},
                                                     {"features", MemoryView::of(output)}}));
    ASSERT_OK(configured.run(bindings, kTimeout));
    const std::vector<float> expected = nchw_to_nhwc(reference_nchw_, 8, 32, 32);
    for (size_t i = 0; i < output.size(); ++i) ASSERT_NEAR(output[i], expected[i], 1e-5) << i;
}

TEST_F(ConvNchwTest, Uint8NhwcInputIsConvertedAndTransposed) {
    auto model = load("conv_nchw.onnx");
    ASSERT_NE(model, nullptr);
    ASSERT_OK_AND_ASSIGN(auto image, model->input());
    image.set_format_type(FormatType::UINT8);  // identity quantization: bytes become floats
    image.set_format_order(FormatOrder::NHWC);
    EXPECT_EQ(image.get_frame_size(), 3u * 32u * 32u);
    ASSERT_OK_AND_ASSIGN(auto configured, model->configure());
    const std::vector<float> float_nhwc = nchw_to_nhwc(image_nchw_, 3, 32, 32);
    std::vector<uint8_t> bytes_nhwc(float_nhwc.size());
    for (size_t i = 0; i < bytes_nhwc.size(); ++i)
        bytes_nhwc[i] = static_cast<uint8_t>(float_nhwc[i]);
    std::vector<float> output(8 * 32 * 32, -1.0f);
    ASSERT_OK_AND_ASSIGN(auto bindings,
                         configured.create_bindings({{"image", MemoryView::of(bytes_nhwc)},
                                                     {"features", MemoryView::of(output)}}));
    ASSERT_OK(configured.run(bindings, kTimeout));
    for (size_t i = 0; i < output.size(); ++i) {
        ASSERT_NEAR(output[i], reference_nchw_[i], 1e-5) << i;
    }
}

}  // namespace
}  // namespace corun
