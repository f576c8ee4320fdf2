// The conformance comparison (tensor_comparison.hpp) to the letter: floats within ONNX's
// backend-runner tolerance (rtol 1e-3, atol 1e-7) and not beyond, NaN equal to NaN, infinities
// only to themselves, half precision compared as floats, integers and strings exactly, and a
// type, shape or size mismatch named.
#include "tensor_comparison.hpp"

#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <limits>

namespace corun::conformance {
namespace {

using onnx::OnnxElementType;

template <typename T>
onnx::TensorProtoData tensor(OnnxElementType type, std::vector<int64_t> dims,
                             const std::vector<T>& values) {
    onnx::TensorProtoData data;
    data.name = "y";
    data.type = type;
    data.dims = std::move(dims);
    data.element_count = static_cast<int64_t>(values.size());
    data.bytes.resize(values.size() * sizeof(T));
    std::memcpy(data.bytes.data(), values.data(), data.bytes.size());
    return data;
}

std::optional<std::string> compare(const onnx::TensorProtoData& actual,
                                   const onnx::TensorProtoData& expected, bool with_dims = true) {
    ActualTensor got;
    got.type = actual.type;
    if (with_dims) got.dims = actual.dims;
    got.bytes = actual.bytes;
    return compare_output("y", got, expected);
}

TEST(TensorComparisonTest, FloatsWithinToleranceMatch) {
    const auto expected = tensor<float>(OnnxElementType::FLOAT, {3}, {1.0f, 0.0f, -100.0f});
    // 1 +- 1e-3 * 1 + 1e-7; 0 +- 1e-7; -100 +- 0.1.
    EXPECT_EQ(
        compare(tensor<float>(OnnxElementType::FLOAT, {3}, {1.0009f, 5e-8f, -100.09f}), expected),
        std::nullopt);
    EXPECT_EQ(compare(tensor<float>(OnnxElementType::FLOAT, {3}, {1.0f, 2e-7f, -100.0f}), expected),
              "output 'y': 1 of 3 values differ beyond rtol 1e-3, atol 1e-7; first at [1]: got "
              "2.00000002e-07, expected 0");
    EXPECT_EQ(
        compare(tensor<float>(OnnxElementType::FLOAT, {3}, {1.0011f, 0.0f, -100.2f}), expected),
        "output 'y': 2 of 3 values differ beyond rtol 1e-3, atol 1e-7; first at [0]: got "
        "1.00109994, expected 1");
}

TEST(TensorComparisonTest, NanEqualsNanAndInfinitiesOnlyThemselves) {
    const float nan = std::numeric_limits<float>::quiet_NaN();
    const float inf = std::numeric_limits<float>::infinity();
    const auto expected = tensor<float>(OnnxElementType::FLOAT, {2}, {nan, inf});
    EXPECT_EQ(compare(tensor<float>(OnnxElementType::FLOAT, {2}, {nan, inf}), expected),
              std::nullopt);
    EXPECT_NE(compare(tensor<float>(OnnxElementType::FLOAT, {2}, {0.0f, inf}), expected),
              std::nullopt);
    EXPECT_NE(compare(tensor<float>(OnnxElementType::FLOAT, {2}, {nan, -inf}), expected),
              std::nullopt);
    EXPECT_NE(compare(tensor<float>(OnnxElementType::FLOAT, {2}, {nan, 3e38f}), expected),
              std::nullopt);
}

TEST(TensorComparisonTest, HalfPrecisionComparedAsFloats) {
    // 0x3C00 = 1.0; 0x3C01 = 1.000977 is within 1e-3 * 1 + 1e-7, 0x3C02 = 1.001953 is not.
    const auto expected = tensor<uint16_t>(OnnxElementType::FLOAT16, {1}, {0x3C00});
    EXPECT_EQ(compare(tensor<uint16_t>(OnnxElementType::FLOAT16, {1}, {0x3C01}), expected),
              std::nullopt);
    EXPECT_NE(compare(tensor<uint16_t>(OnnxElementType::FLOAT16, {1}, {0x3C02}), expected),
              std::nullopt);
}

TEST(TensorComparisonTest, IntegersExactly) {
    const auto expected = tensor<int64_t>(OnnxElementType::INT64, {2, 2}, {1, 2, 3, 1000000});
    EXPECT_EQ(
        compare(tensor<int64_t>(OnnxElementType::INT64, {2, 2}, {1, 2, 3, 1000000}), expected),
        std::nullopt);
    // 1000001 is within rtol 1e-3 of 1000000, and still differs: integers are exact here.
    EXPECT_EQ(
        compare(tensor<int64_t>(OnnxElementType::INT64, {2, 2}, {1, 2, 3, 1000001}), expected),
        "output 'y': 1 of 4 values differ; first at [1,1]: got 1000001, expected 1000000");
}

TEST(TensorComparisonTest, StringsExactly) {
    // corun's STRING layout: 4-byte little-endian length, then the bytes.
    auto strings = [](std::vector<std::string> values) {
        onnx::TensorProtoData data;
        data.type = OnnxElementType::STRING;
        data.dims = {static_cast<int64_t>(values.size())};
        data.element_count = static_cast<int64_t>(values.size());
        for (const auto& value : values) {
            const uint32_t length = static_cast<uint32_t>(value.size());
            const auto* bytes = reinterpret_cast<const uint8_t*>(&length);
            data.bytes.insert(data.bytes.end(), bytes, bytes + 4);
            data.bytes.insert(data.bytes.end(), value.begin(), value.end());
        }
        return data;
    };
    EXPECT_EQ(compare(strings({"a", ""}), strings({"a", ""})), std::nullopt);
    EXPECT_EQ(compare(strings({"a", "b"}), strings({"a", "B"})),
              "output 'y': 1 of 2 strings differ; first at [1]: got 'b', expected 'B'");
}

TEST(TensorComparisonTest, TypeShapeAndSizeMismatchesAreNamed) {
    const auto expected = tensor<float>(OnnxElementType::FLOAT, {2, 1}, {1.0f, 2.0f});
    EXPECT_EQ(compare(tensor<int32_t>(OnnxElementType::INT32, {2, 1}, {1, 2}), expected),
              "output 'y' has element type int32, expected float");
    EXPECT_EQ(compare(tensor<float>(OnnxElementType::FLOAT, {1, 2}, {1.0f, 2.0f}), expected),
              "output 'y' has shape [1,2], expected [2,1]");
    // Without dims (corun's byte count), the element count stands in for the shape.
    EXPECT_EQ(compare(tensor<float>(OnnxElementType::FLOAT, {1, 2}, {1.0f, 2.0f}), expected, false),
              std::nullopt);
    EXPECT_EQ(
        compare(tensor<float>(OnnxElementType::FLOAT, {3}, {1.0f, 2.0f, 3.0f}), expected, false),
        "output 'y' has 3 elements (12 bytes), expected 2 (shape [2,1])");
}

}  // namespace
}  // namespace corun::conformance
