// Every element type ONNX Runtime runs, bound natively or converted (issue 11): a float16
// model run with FLOAT32 buffers against its float32 twin, bool streams, double and the wide
// integer types, the half-precision conversions themselves, and the messages for what corun
// cannot bind (a sequence) or ONNX Runtime cannot run (a standard operator in a type its CPU
// kernel lacks).
#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <cstring>
#include <vector>

#include "common/half_precision.hpp"
#include "corun/corun.hpp"
#include "runtime/format_conversion.hpp"
#include "test_support.hpp"

namespace corun {
namespace {

using test::contains;
using test::test_model;

constexpr auto kTimeout = std::chrono::milliseconds(10000);

std::shared_ptr<InferModel> load(VDevice& vdevice, const std::string& name) {
    return test::load_test_model(vdevice, name);
}

// Runs `model` configured as it is on one frame of `inputs`, each stream's bytes in the
// stream's configured format; returns the outputs by name.
std::map<std::string, std::vector<uint8_t>> run_once(
    InferModel& model, const std::map<std::string, std::vector<uint8_t>>& inputs) {
    std::map<std::string, std::vector<uint8_t>> outputs;
    auto configured = model.configure();
    EXPECT_TRUE(configured.has_value()) << configured.status();
    if (!configured) return outputs;
    auto bindings = configured->create_bindings();
    EXPECT_TRUE(bindings.has_value()) << bindings.status();
    std::map<std::string, std::vector<uint8_t>> input_copies = inputs;
    for (auto& [name, bytes] : input_copies) {
        auto stream = bindings->input(name);
        EXPECT_TRUE(stream.has_value()) << stream.status();
        EXPECT_OK(stream->set_buffer(MemoryView(bytes.data(), bytes.size())));
    }
    for (const auto& name : model.get_output_names()) {
        auto stream = bindings->output(name);
        outputs[name].resize(stream->get_frame_size());
        EXPECT_OK(stream->set_buffer(MemoryView(outputs[name].data(), outputs[name].size())));
    }
    EXPECT_OK(configured->run(*bindings, kTimeout));
    return outputs;
}

template <typename T>
std::vector<uint8_t> bytes_of(const std::vector<T>& values) {
    std::vector<uint8_t> bytes(values.size() * sizeof(T));
    std::memcpy(bytes.data(), values.data(), bytes.size());
    return bytes;
}

template <typename T>
std::vector<T> values_of(const std::vector<uint8_t>& bytes) {
    std::vector<T> values(bytes.size() / sizeof(T));
    std::memcpy(values.data(), bytes.data(), values.size() * sizeof(T));
    return values;
}

TEST(HalfPrecisionTest, KnownValuesRoundToNearestEven) {
    EXPECT_EQ(common::float_to_half(1.0f), 0x3C00);
    EXPECT_EQ(common::float_to_half(-2.0f), 0xC000);
    EXPECT_EQ(common::float_to_half(65504.0f), 0x7BFF);               // the largest half
    EXPECT_EQ(common::float_to_half(65520.0f), 0x7C00);               // rounds up to infinity
    EXPECT_EQ(common::float_to_half(65519.0f), 0x7BFF);               // rounds down to the largest
    EXPECT_EQ(common::float_to_half(std::ldexp(1.0f, -24)), 0x0001);  // smallest subnormal
    EXPECT_EQ(common::float_to_half(std::ldexp(1.0f, -26)), 0x0000);  // below half of it
    // 1 + 2^-11 is halfway between 1 and the next half: ties to even (1.0).
    EXPECT_EQ(common::float_to_half(1.0f + std::ldexp(1.0f, -11)), 0x3C00);
    // 1 + 3 * 2^-11 is halfway between 1+2^-10 and 1+2^-9: ties to even (1+2^-9).
    EXPECT_EQ(common::float_to_half(1.0f + 3 * std::ldexp(1.0f, -11)), 0x3C02);
    EXPECT_EQ(common::float_to_half(INFINITY), 0x7C00);
    EXPECT_EQ(common::float_to_half(NAN) & 0x7E00, 0x7E00);
    EXPECT_EQ(common::float_to_bfloat16(1.0f), 0x3F80);
    // 1 + 2^-8 is halfway between two bfloat16 values: ties to even (1.0).
    EXPECT_EQ(common::float_to_bfloat16(1.0f + std::ldexp(1.0f, -8)), 0x3F80);
    EXPECT_EQ(common::bfloat16_to_float(0xC040), -3.0f);
}

TEST(HalfPrecisionTest, BulkConversionEqualsScalarForEveryHalf) {
    std::vector<uint16_t> halves(65536);
    for (size_t i = 0; i < halves.size(); ++i) halves[i] = static_cast<uint16_t>(i);
    std::vector<float> floats(halves.size());
    common::halves_to_floats(halves.data(), floats.data(), halves.size());
    std::vector<uint16_t> back(halves.size());
    common::floats_to_halves(floats.data(), back.data(), floats.size());
    for (size_t i = 0; i < halves.size(); ++i) {
        const float scalar = common::half_to_float(halves[i]);
        if (std::isnan(scalar)) {
            ASSERT_TRUE(std::isnan(floats[i])) << i;
            continue;
        }
        ASSERT_EQ(std::memcmp(&scalar, &floats[i], 4), 0) << "half " << i;
        ASSERT_EQ(back[i], halves[i]) << "half " << i << " did not survive the round trip";
        ASSERT_EQ(common::float_to_half(floats[i]), halves[i]) << i;
    }
}

TEST(ElementTypesTest, Float16ModelRunsWithFloat32BuffersWithinHalfTolerance) {
    ASSERT_OK_AND_ASSIGN(auto vdevice, VDevice::create());
    auto half = load(*vdevice, "half_dense.onnx");
    auto reference = load(*vdevice, "dense_reference.onnx");
    ASSERT_TRUE(half && reference);
    ASSERT_OK_AND_ASSIGN(auto half_input, half->input());
    EXPECT_EQ(half_input.native_format().type, FormatType::FLOAT16);
    EXPECT_EQ(half_input.format().type, FormatType::FLOAT16);  // AUTO resolves to native
    EXPECT_EQ(half_input.get_frame_size(), 64u * 2);
    half_input.set_format_type(FormatType::FLOAT32);
    ASSERT_OK_AND_ASSIGN(auto half_output, half->output());
    half_output.set_format_type(FormatType::FLOAT32);
    EXPECT_EQ(half_input.get_frame_size(), 64u * 4);
    EXPECT_EQ(half_output.get_frame_size(), 32u * 4);

    std::vector<float> x(64);
    for (size_t i = 0; i < x.size(); ++i) x[i] = std::sin(0.37f * static_cast<float>(i)) * 2.0f;
    auto got = values_of<float>(run_once(*half, {{"x", bytes_of(x)}})["y"]);
    auto want = values_of<float>(run_once(*reference, {{"x", bytes_of(x)}})["y"]);
    ASSERT_EQ(got.size(), 32u);
    ASSERT_EQ(want.size(), 32u);
    for (size_t i = 0; i < got.size(); ++i) {
        // Input and output each rounded to half: a relative error of 2^-11 each, plus the
        // rounding of x spread over 64 products.
        EXPECT_NEAR(got[i], want[i], 4e-3f + 2e-3f * std::fabs(want[i])) << i;
        // And the result is a half, converted exactly.
        EXPECT_EQ(common::half_to_float(common::float_to_half(got[i])), got[i]) << i;
    }
}

TEST(ElementTypesTest, Float16ModelRunsWithItsNativeHalfBuffers) {
    ASSERT_OK_AND_ASSIGN(auto vdevice, VDevice::create());
    auto half = load(*vdevice, "half_dense.onnx");
    ASSERT_TRUE(half);
    std::vector<float> x(64, 0.5f);
    std::vector<uint16_t> x_half(64);
    common::floats_to_halves(x.data(), x_half.data(), x.size());
    auto native = values_of<uint16_t>(run_once(*half, {{"x", bytes_of(x_half)}})["y"]);
    half->input()->set_format_type(FormatType::FLOAT32);
    half->output()->set_format_type(FormatType::FLOAT32);
    auto converted = values_of<float>(run_once(*half, {{"x", bytes_of(x)}})["y"]);
    ASSERT_EQ(native.size(), converted.size());
    for (size_t i = 0; i < native.size(); ++i) {
        EXPECT_EQ(common::half_to_float(native[i]), converted[i]) << i;
    }
}

TEST(ElementTypesTest, BoolInputAndOutput) {
    ASSERT_OK_AND_ASSIGN(auto vdevice, VDevice::create());
    auto model = load(*vdevice, "bool_mask.onnx");
    ASSERT_TRUE(model);
    EXPECT_EQ(model->input("mask")->native_format().type, FormatType::BOOL);
    EXPECT_EQ(model->input("mask")->get_frame_size(), 6u);
    std::vector<float> x = {1, 2, 3, 4, 5, 6};
    std::vector<uint8_t> mask = {1, 0, 0, 1, 1, 0};
    auto outputs = run_once(*model, {{"x", bytes_of(x)}, {"mask", mask}});
    EXPECT_EQ(values_of<float>(outputs["kept"]), (std::vector<float>{1, 0, 0, 4, 5, 0}));
    EXPECT_EQ(outputs["inverted"], (std::vector<uint8_t>{0, 1, 1, 0, 0, 1}));
}

TEST(ElementTypesTest, BoolStreamBoundAsFloat32ConvertsBothWays) {
    ASSERT_OK_AND_ASSIGN(auto vdevice, VDevice::create());
    auto model = load(*vdevice, "bool_mask.onnx");
    ASSERT_TRUE(model);
    model->input("mask")->set_format_type(FormatType::FLOAT32);
    model->output("inverted")->set_format_type(FormatType::FLOAT32);
    std::vector<float> x = {1, 2, 3, 4, 5, 6};
    std::vector<float> mask = {0.5f, 0, 0, -2, 1, 0};  // nonzero is true
    auto outputs = run_once(*model, {{"x", bytes_of(x)}, {"mask", bytes_of(mask)}});
    EXPECT_EQ(values_of<float>(outputs["kept"]), (std::vector<float>{1, 0, 0, 4, 5, 0}));
    EXPECT_EQ(values_of<float>(outputs["inverted"]), (std::vector<float>{0, 1, 1, 0, 0, 1}));
}

TEST(ElementTypesTest, DoubleInt16Uint32Uint64AndBfloat16BindNatively) {
    ASSERT_OK_AND_ASSIGN(auto vdevice, VDevice::create());
    auto model = load(*vdevice, "double_and_wide_ints.onnx");
    ASSERT_TRUE(model);
    EXPECT_EQ(model->input("f64")->native_format().type, FormatType::FLOAT64);
    EXPECT_EQ(model->input("i16")->native_format().type, FormatType::INT16);
    EXPECT_EQ(model->input("u32")->native_format().type, FormatType::UINT32);
    EXPECT_EQ(model->input("u64")->native_format().type, FormatType::UINT64);
    EXPECT_EQ(model->input("bf16")->native_format().type, FormatType::BFLOAT16);
    const uint64_t big = (uint64_t{1} << 62) + 7;  // beyond a double's 53-bit mantissa
    std::vector<uint16_t> bf16 = {0x3F80, 0xC040, 0x0000, 0x7F80};
    auto outputs = run_once(*model, {{"f64", bytes_of(std::vector<double>{0.1, -2.5, 1e300, 0})},
                                     {"i16", bytes_of(std::vector<int16_t>{-3, 7, 16000, 0})},
                                     {"u32", bytes_of(std::vector<uint32_t>{1, 2, 2000000000u, 0})},
                                     {"u64", bytes_of(std::vector<uint64_t>{big, 1, 0, 5})},
                                     {"bf16", bytes_of(bf16)}});
    EXPECT_EQ(values_of<double>(outputs["f64_out"]), (std::vector<double>{0.2, -5.0, 2e300, 0}));
    EXPECT_EQ(values_of<int16_t>(outputs["i16_out"]),
              (std::vector<int16_t>{-6, 14, static_cast<int16_t>(32000), 0}));
    EXPECT_EQ(values_of<uint32_t>(outputs["u32_out"]),
              (std::vector<uint32_t>{2, 4, 4000000000u, 0}));
    EXPECT_EQ(values_of<uint64_t>(outputs["u64_out"]),
              (std::vector<uint64_t>{2 * big, 2, 0, 10}));  // exact: no detour through double
    EXPECT_EQ(values_of<uint16_t>(outputs["bf16_out"]), bf16);
}

TEST(ElementTypesTest, Bfloat16StreamBoundAsFloat32) {
    ASSERT_OK_AND_ASSIGN(auto vdevice, VDevice::create());
    auto model = load(*vdevice, "double_and_wide_ints.onnx");
    ASSERT_TRUE(model);
    model->input("bf16")->set_format_type(FormatType::FLOAT32);
    model->output("bf16_out")->set_format_type(FormatType::FLOAT32);
    auto outputs =
        run_once(*model, {{"f64", bytes_of(std::vector<double>(4))},
                          {"i16", bytes_of(std::vector<int16_t>(4))},
                          {"u32", bytes_of(std::vector<uint32_t>(4))},
                          {"u64", bytes_of(std::vector<uint64_t>(4))},
                          {"bf16", bytes_of(std::vector<float>{1.0f, -3.0f, 1.00390625f, 0.1f})}});
    // 1 + 2^-8 ties to even (1.0); 0.1 rounds to the nearest bfloat16, 0.10009765625.
    EXPECT_EQ(values_of<float>(outputs["bf16_out"]),
              (std::vector<float>{1.0f, -3.0f, 1.0f, 0.10009765625f}));
}

TEST(ElementTypesTest, ConversionCastsBetweenWideIntegersWithSaturation) {
    const std::vector<int64_t> values = {-5, 70000, 3};
    runtime::FrameLayout from{FormatType::INT64, FormatOrder::FLAT, {3}};
    runtime::FrameLayout to{FormatType::INT16, FormatOrder::FLAT, {3}};
    std::vector<int16_t> out(3);
    ASSERT_OK(runtime::convert_frame(values.data(), 24, from, out.data(), 6, to, QuantInfo{}));
    EXPECT_EQ(out, (std::vector<int16_t>{-5, 32767, 3}));
    runtime::FrameLayout unsigned_layout{FormatType::UINT32, FormatOrder::FLAT, {3}};
    std::vector<uint32_t> unsigned_out(3);
    ASSERT_OK(runtime::convert_frame(values.data(), 24, from, unsigned_out.data(), 12,
                                     unsigned_layout, QuantInfo{}));
    EXPECT_EQ(unsigned_out, (std::vector<uint32_t>{0, 70000, 3}));
}

std::vector<uint8_t> string_buffer(const std::vector<std::string>& strings) {
    std::vector<uint8_t> bytes;
    for (const auto& text : strings) {
        const auto length = static_cast<uint32_t>(text.size());
        for (int i = 0; i < 4; ++i) bytes.push_back(static_cast<uint8_t>(length >> (8 * i)));
        bytes.insert(bytes.end(), text.begin(), text.end());
    }
    return bytes;
}

TEST(ElementTypesTest, StringsInAndOutInKserveBytesLayout) {
    ASSERT_OK_AND_ASSIGN(auto vdevice, VDevice::create());
    auto model = load(*vdevice, "string_upper.onnx");
    ASSERT_TRUE(model);
    EXPECT_EQ(model->input()->native_format().type, FormatType::STRING);
    ASSERT_OK_AND_ASSIGN(auto configured, model->configure());
    ASSERT_OK_AND_ASSIGN(auto bindings, configured.create_bindings());
    auto words = string_buffer({"corun", "", "Edge NPU"});
    ASSERT_OK(bindings.input()->set_buffer(MemoryView(words.data(), words.size())));
    std::vector<uint8_t> upper(64, 0xEE);
    ASSERT_OK(bindings.output()->set_buffer(MemoryView(upper.data(), upper.size())));
    ASSERT_OK(configured.run(bindings, kTimeout));
    const auto want = string_buffer({"CORUN", "", "EDGE NPU"});
    EXPECT_EQ(std::vector<uint8_t>(upper.begin(), upper.begin() + want.size()), want);
    EXPECT_EQ(upper[want.size()], 0xEE);  // nothing written past the strings

    // Too little room for the output: the frame fails naming what it needs.
    std::vector<uint8_t> small(10);
    ASSERT_OK(bindings.output()->set_buffer(MemoryView(small.data(), small.size())));
    auto status = configured.run(bindings, kTimeout);
    EXPECT_STATUS(status, StatusCode::INVALID_ARGUMENT);
    EXPECT_TRUE(contains(status.message(), "output 'upper' is 25 bytes of strings")) << status;

    // An input whose lengths do not add up to three strings is refused at set_buffer.
    auto two = string_buffer({"a", "b"});
    auto refused = bindings.input()->set_buffer(MemoryView(two.data(), two.size()));
    EXPECT_STATUS(refused, StatusCode::INVALID_ARGUMENT);
    EXPECT_TRUE(contains(refused.message(), "not 3 strings")) << refused;
}

TEST(ElementTypesTest, StringIsNotAConversionTarget) {
    ASSERT_OK_AND_ASSIGN(auto vdevice, VDevice::create());
    auto model = load(*vdevice, "bool_mask.onnx");
    ASSERT_TRUE(model);
    model->input("x")->set_format_type(FormatType::STRING);
    auto configured = model->configure();
    EXPECT_STATUS(configured, StatusCode::NOT_SUPPORTED);
    EXPECT_TRUE(contains(configured.status().message(), "input 'x' is FLOAT32"))
        << configured.status();
}

TEST(ElementTypesTest, SequenceInputIsRefusedWithWhatToDo) {
    ASSERT_OK_AND_ASSIGN(auto vdevice, VDevice::create());
    auto model = load(*vdevice, "sequence_input.onnx");
    ASSERT_TRUE(model);
    auto configured = model->configure();
    EXPECT_STATUS(configured, StatusCode::NOT_SUPPORTED);
    const std::string message = configured.status().message();
    EXPECT_TRUE(contains(message, "input 'items' is a seq(tensor(float))")) << message;
    EXPECT_TRUE(contains(message, "SequenceConstruct")) << message;
    EXPECT_FALSE(contains(message, "re-export")) << message;
}

TEST(ElementTypesTest, MissingKernelForAStandardOperatorNamesOperatorAndType) {
    ASSERT_OK_AND_ASSIGN(auto vdevice, VDevice::create());
    auto model = vdevice->create_infer_model(test_model("int16_max.onnx"));
    ASSERT_FALSE(model.has_value());
    EXPECT_EQ(model.status().code(), StatusCode::NOT_SUPPORTED) << model.status();
    const std::string message = model.status().message();
    EXPECT_TRUE(
        contains(message, "no kernel for operator Max (opset 13, the standard ONNX domain)"))
        << message;
    EXPECT_TRUE(contains(message, "a: int16, b: int16")) << message;
    EXPECT_FALSE(contains(message, "re-export it with standard ONNX operators")) << message;
}

}  // namespace
}  // namespace corun
