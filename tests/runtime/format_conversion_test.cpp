// Unit tests for the value types (Status, Expected, format names) and for the pure format
// conversion functions: the quantization arithmetic and the NHWC <-> NCHW transpose.
#include "runtime/format_conversion.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <memory>
#include <sstream>
#include <string>
#include <vector>

#include "corun/expected.hpp"
#include "corun/format.hpp"
#include "corun/status.hpp"
#include "test_support.hpp"

namespace corun::runtime {
namespace {

// ---- Status and Expected ----

TEST(StatusTest, DefaultIsSuccess) {
    Status status;
    EXPECT_TRUE(status.is_ok());
    EXPECT_TRUE(static_cast<bool>(status));
    EXPECT_EQ(status.code(), StatusCode::SUCCESS);
    EXPECT_EQ(status.to_string(), "SUCCESS");
    EXPECT_TRUE(Status::ok().is_ok());
}

TEST(StatusTest, ErrorCarriesCodeAndMessage) {
    Status status(StatusCode::INVALID_ARGUMENT, "input 'x' expects 12 bytes, got 4");
    EXPECT_FALSE(status.is_ok());
    EXPECT_FALSE(static_cast<bool>(status));
    EXPECT_TRUE(status == StatusCode::INVALID_ARGUMENT);
    EXPECT_EQ(status.message(), "input 'x' expects 12 bytes, got 4");
    EXPECT_EQ(status.to_string(), "INVALID_ARGUMENT: input 'x' expects 12 bytes, got 4");
    std::ostringstream out;
    out << status << " " << StatusCode::TIMEOUT;
    EXPECT_EQ(out.str(), "INVALID_ARGUMENT: input 'x' expects 12 bytes, got 4 TIMEOUT");
}

TEST(StatusTest, WithContextPrefixesErrorsOnly) {
    const Status error(StatusCode::NOT_FOUND, "no such file");
    const Status wrapped = error.with_context("loading 'a.onnx'");
    EXPECT_EQ(wrapped.code(), StatusCode::NOT_FOUND);
    EXPECT_EQ(wrapped.message(), "loading 'a.onnx': no such file");
    const Status ok = Status::ok().with_context("anything");
    EXPECT_TRUE(ok.is_ok());
    EXPECT_EQ(ok.message(), "");
}

TEST(StatusTest, EveryCodeHasItsName) {
    const std::vector<std::pair<StatusCode, std::string>> names = {
        {StatusCode::SUCCESS, "SUCCESS"},
        {StatusCode::UNINITIALIZED, "UNINITIALIZED"},
        {StatusCode::INVALID_ARGUMENT, "INVALID_ARGUMENT"},
        {StatusCode::OUT_OF_HOST_MEMORY, "OUT_OF_HOST_MEMORY"},
        {StatusCode::TIMEOUT, "TIMEOUT"},
        {StatusCode::NOT_FOUND, "NOT_FOUND"},
        {StatusCode::INVALID_OPERATION, "INVALID_OPERATION"},
        {StatusCode::OUT_OF_PHYSICAL_DEVICES, "OUT_OF_PHYSICAL_DEVICES"},
        {StatusCode::NOT_SUPPORTED, "NOT_SUPPORTED"},
        {StatusCode::SHUTDOWN, "SHUTDOWN"},
        {StatusCode::INVALID_MODEL, "INVALID_MODEL"},
        {StatusCode::QUEUE_IS_FULL, "QUEUE_IS_FULL"},
        {StatusCode::OPEN_FILE_FAILURE, "OPEN_FILE_FAILURE"},
        {StatusCode::FILE_OPERATION_FAILURE, "FILE_OPERATION_FAILURE"},
        {StatusCode::INTERNAL_FAILURE, "INTERNAL_FAILURE"},
        {StatusCode::DEVICE_FAILURE, "DEVICE_FAILURE"},
        {StatusCode::ABORTED, "ABORTED"},
    };
    for (const auto& [code, name] : names) EXPECT_EQ(status_code_name(code), name);
}

Status fails_with_timeout() {
    return Status(StatusCode::TIMEOUT, "late");
}
Status returns_if_error(bool fail, int* reached) {
    if (fail) CORUN_RETURN_IF_ERROR(fails_with_timeout());
    CORUN_CHECK(reached != nullptr, StatusCode::INVALID_ARGUMENT, "no counter");
    ++*reached;
    return Status::ok();
}

TEST(StatusTest, ReturnIfErrorAndCheckMacros) {
    int reached = 0;
    EXPECT_EQ(returns_if_error(true, &reached).code(), StatusCode::TIMEOUT);
    EXPECT_EQ(reached, 0);
    EXPECT_TRUE(returns_if_error(false, &reached).is_ok());
    EXPECT_EQ(reached, 1);
    const Status unchecked = returns_if_error(false, nullptr);
    EXPECT_EQ(unchecked.code(), StatusCode::INVALID_ARGUMENT);
    EXPECT_EQ(unchecked.message(), "no counter");
}

TEST(ExpectedTest, HoldsValueOrStatus) {
    Expected<int> value(42);
    ASSERT_TRUE(value.has_value());
    EXPECT_TRUE(static_cast<bool>(value));
    EXPECT_TRUE(value.status().is_ok());
    EXPECT_EQ(*value, 42);
    EXPECT_EQ(value.value(), 42);

    Expected<int> error(StatusCode::NOT_FOUND, "nothing here");
    EXPECT_FALSE(error.has_value());
    EXPECT_FALSE(static_cast<bool>(error));
    EXPECT_EQ(error.status().code(), StatusCode::NOT_FOUND);
    EXPECT_EQ(error.status().message(), "nothing here");
}

TEST(ExpectedTest, SuccessStatusWithoutValueBecomesInternalFailure) {
    Expected<int> odd{Status::ok()};
    EXPECT_FALSE(odd.has_value());
    EXPECT_EQ(odd.status().code(), StatusCode::INTERNAL_FAILURE);
}

TEST(ExpectedTest, ReleaseMovesTheValueOut) {
    Expected<std::unique_ptr<std::string>> expected(std::make_unique<std::string>("model"));
    EXPECT_EQ(expected->get()->size(), 5u);
    std::unique_ptr<std::string> taken = expected.release();
    ASSERT_NE(taken, nullptr);
    EXPECT_EQ(*taken, "model");
}

Expected<int> parse_positive(int value) {
    if (value <= 0) return Status(StatusCode::INVALID_ARGUMENT, "not positive");
    return value;
}
Expected<int> doubled_positive(int value) {
    CORUN_TRY(int parsed, parse_positive(value));
    return parsed * 2;
}

TEST(ExpectedTest, TryBindsOrReturns) {
    auto good = doubled_positive(21);
    ASSERT_TRUE(good.has_value());
    EXPECT_EQ(*good, 42);
    auto bad = doubled_positive(-1);
    ASSERT_FALSE(bad.has_value());
    EXPECT_EQ(bad.status().code(), StatusCode::INVALID_ARGUMENT);
    EXPECT_EQ(bad.status().message(), "not positive");
}

// ---- format names and sizes ----

TEST(FormatTest, NamesAndSizes) {
    EXPECT_STREQ(format_type_name(FormatType::AUTO), "AUTO");
    EXPECT_STREQ(format_type_name(FormatType::UINT8), "UINT8");
    EXPECT_STREQ(format_type_name(FormatType::UINT16), "UINT16");
    EXPECT_STREQ(format_type_name(FormatType::FLOAT32), "FLOAT32");
    EXPECT_STREQ(format_type_name(FormatType::INT8), "INT8");
    EXPECT_STREQ(format_type_name(FormatType::INT32), "INT32");
    EXPECT_STREQ(format_type_name(FormatType::INT64), "INT64");
    EXPECT_STREQ(format_order_name(FormatOrder::AUTO), "AUTO");
    EXPECT_STREQ(format_order_name(FormatOrder::NHWC), "NHWC");
    EXPECT_STREQ(format_order_name(FormatOrder::NCHW), "NCHW");
    EXPECT_STREQ(format_order_name(FormatOrder::NC), "NC");
    EXPECT_STREQ(format_order_name(FormatOrder::NHW), "NHW");
    EXPECT_STREQ(format_order_name(FormatOrder::FLAT), "FLAT");
    EXPECT_EQ(format_type_size(FormatType::AUTO), 0u);
    EXPECT_EQ(format_type_size(FormatType::UINT8), 1u);
    EXPECT_EQ(format_type_size(FormatType::INT8), 1u);
    EXPECT_EQ(format_type_size(FormatType::UINT16), 2u);
    EXPECT_EQ(format_type_size(FormatType::FLOAT32), 4u);
    EXPECT_EQ(format_type_size(FormatType::INT32), 4u);
    EXPECT_EQ(format_type_size(FormatType::INT64), 8u);
    // The types issue 11 added.
    EXPECT_STREQ(format_type_name(FormatType::FLOAT16), "FLOAT16");
    EXPECT_STREQ(format_type_name(FormatType::BOOL), "BOOL");
    EXPECT_STREQ(format_type_name(FormatType::STRING), "STRING");
    EXPECT_EQ(format_type_size(FormatType::FLOAT16), 2u);
    EXPECT_EQ(format_type_size(FormatType::BFLOAT16), 2u);
    EXPECT_EQ(format_type_size(FormatType::FLOAT64), 8u);
    EXPECT_EQ(format_type_size(FormatType::BOOL), 1u);
    EXPECT_EQ(format_type_size(FormatType::INT16), 2u);
    EXPECT_EQ(format_type_size(FormatType::UINT32), 4u);
    EXPECT_EQ(format_type_size(FormatType::UINT64), 8u);
    EXPECT_EQ(format_type_size(FormatType::STRING), 0u);
}

TEST(FormatTest, QuantInfoIdentity) {
    EXPECT_TRUE(QuantInfo{}.is_identity());
    EXPECT_FALSE((QuantInfo{0.5f, 0.0f}).is_identity());
    EXPECT_FALSE((QuantInfo{1.0f, 3.0f}).is_identity());
}

TEST(FrameLayoutTest, ElementCountAndByteSize) {
    const FrameLayout layout{FormatType::FLOAT32, FormatOrder::NCHW, {1, 2, 3, 4}};
    EXPECT_EQ(layout.element_count(), 24u);
    EXPECT_EQ(layout.byte_size(), 96u);
    const FrameLayout bytes{FormatType::UINT16, FormatOrder::NC, {1, 5}};
    EXPECT_EQ(bytes.byte_size(), 10u);
    const FrameLayout unknown{FormatType::FLOAT32, FormatOrder::NC, {-1, 5}};
    EXPECT_EQ(unknown.element_count(), 0u);
}

// ---- scalar quantization rules ----

const QuantInfo kUnit{1.0f, 0.0f};
const QuantInfo kHalf10{0.5f, 10.0f};

TEST(QuantizeTest, RoundsHalfToEven) {
    EXPECT_EQ(quantize_value(2.5, kUnit, FormatType::UINT8), 2.0);
    EXPECT_EQ(quantize_value(3.5, kUnit, FormatType::UINT8), 4.0);
    EXPECT_EQ(quantize_value(0.5, kUnit, FormatType::UINT8), 0.0);
    EXPECT_EQ(quantize_value(1.5, kUnit, FormatType::UINT8), 2.0);
    EXPECT_EQ(quantize_value(2.4999, kUnit, FormatType::UINT8), 2.0);
    EXPECT_EQ(quantize_value(2.5001, kUnit, FormatType::UINT8), 3.0);
    EXPECT_EQ(quantize_value(-1.5, kUnit, FormatType::INT8), -2.0);
    EXPECT_EQ(quantize_value(-2.5, kUnit, FormatType::INT8), -2.0);
    EXPECT_EQ(quantize_value(-3.5, kUnit, FormatType::INT8), -4.0);
    // With a scale and zero point: 1.25 / 0.5 = 2.5 -> 2, + 10.
    EXPECT_EQ(quantize_value(1.25, kHalf10, FormatType::UINT8), 12.0);
    EXPECT_EQ(quantize_value(1.75, kHalf10, FormatType::UINT8), 14.0);  // 3.5 -> 4
    EXPECT_EQ(quantize_value(2.0, kHalf10, FormatType::UINT8), 14.0);
}

TEST(QuantizeTest, SaturatesToTheTypeRange) {
    EXPECT_EQ(quantize_value(300.0, kUnit, FormatType::UINT8), 255.0);
    EXPECT_EQ(quantize_value(255.4, kUnit, FormatType::UINT8), 255.0);
    EXPECT_EQ(quantize_value(-5.0, kUnit, FormatType::UINT8), 0.0);
    EXPECT_EQ(quantize_value(-10.0, kHalf10, FormatType::UINT8), 0.0);  // -20 + 10 = -10 -> 0
    EXPECT_EQ(quantize_value(200.0, kHalf10, FormatType::UINT8), 255.0);
    EXPECT_EQ(quantize_value(200.0, kUnit, FormatType::INT8), 127.0);
    EXPECT_EQ(quantize_value(-200.0, kUnit, FormatType::INT8), -128.0);
    EXPECT_EQ(quantize_value(127.0, kUnit, FormatType::INT8), 127.0);
    EXPECT_EQ(quantize_value(-128.0, kUnit, FormatType::INT8), -128.0);
    EXPECT_EQ(quantize_value(70000.0, kUnit, FormatType::UINT16), 65535.0);
    EXPECT_EQ(quantize_value(65535.0, kUnit, FormatType::UINT16), 65535.0);
    EXPECT_EQ(quantize_value(-1.0, kUnit, FormatType::UINT16), 0.0);
    const double inf = std::numeric_limits<double>::infinity();
    EXPECT_EQ(quantize_value(inf, kUnit, FormatType::UINT8), 255.0);
    EXPECT_EQ(quantize_value(-inf, kUnit, FormatType::UINT8), 0.0);
}

TEST(QuantizeTest, NanBecomesTheZeroPoint) {
    const double nan = std::numeric_limits<double>::quiet_NaN();
    EXPECT_EQ(quantize_value(nan, kHalf10, FormatType::UINT8), 10.0);
    EXPECT_EQ(quantize_value(nan, kUnit, FormatType::UINT8), 0.0);
    EXPECT_EQ(quantize_value(nan, QuantInfo{0.1f, -3.0f}, FormatType::INT8), -3.0);
}

TEST(QuantizeTest, DequantizeIsAffine) {
    EXPECT_EQ(dequantize_value(14, kHalf10), 2.0);
    EXPECT_EQ(dequantize_value(10, kHalf10), 0.0);
    EXPECT_EQ(dequantize_value(0, kHalf10), -5.0);
    EXPECT_EQ(dequantize_value(255, kHalf10), 122.5);
    EXPECT_EQ(dequantize_value(7, QuantInfo{0.25f, 3.0f}), 1.0);
    EXPECT_EQ(dequantize_value(-128, QuantInfo{1.0f, -128.0f}), 0.0);
}

TEST(QuantizeTest, Uint8RoundTripIsExactForEveryValue) {
    for (int q = 0; q <= 255; ++q) {
        const double real = dequantize_value(q, kHalf10);
        EXPECT_EQ(real, (q - 10) * 0.5) << q;
        EXPECT_EQ(quantize_value(real, kHalf10, FormatType::UINT8), static_cast<double>(q)) << q;
    }
}

// ---- reorder_dims / is_same_layout ----

TEST(ReorderDimsTest, SwapsChannelsBetweenNhwcAndNchw) {
    EXPECT_EQ(reorder_dims({1, 2, 3, 4}, FormatOrder::NCHW, FormatOrder::NHWC),
              (std::vector<int64_t>{1, 3, 4, 2}));
    EXPECT_EQ(reorder_dims({1, 2, 3, 4}, FormatOrder::NHWC, FormatOrder::NCHW),
              (std::vector<int64_t>{1, 4, 2, 3}));
    EXPECT_EQ(reorder_dims({1, 2, 3, 4}, FormatOrder::NCHW, FormatOrder::NCHW),
              (std::vector<int64_t>{1, 2, 3, 4}));
    EXPECT_EQ(reorder_dims({1, 2, 3}, FormatOrder::NHW, FormatOrder::NHWC),
              (std::vector<int64_t>{1, 2, 3}));
    EXPECT_EQ(reorder_dims({1, 2, 3, 4}, FormatOrder::FLAT, FormatOrder::NHWC),
              (std::vector<int64_t>{1, 2, 3, 4}));
}

TEST(ReorderDimsTest, SameLayoutNeedsSameTypeAndNoTranspose) {
    const FrameLayout nchw{FormatType::FLOAT32, FormatOrder::NCHW, {1, 2, 3, 4}};
    const FrameLayout nhwc{FormatType::FLOAT32, FormatOrder::NHWC, {1, 3, 4, 2}};
    const FrameLayout nchw_u8{FormatType::UINT8, FormatOrder::NCHW, {1, 2, 3, 4}};
    EXPECT_TRUE(is_same_layout(nchw, nchw));
    EXPECT_FALSE(is_same_layout(nchw, nhwc));
    EXPECT_FALSE(is_same_layout(nchw, nchw_u8));
    const FrameLayout nc{FormatType::FLOAT32, FormatOrder::NC, {1, 8}};
    EXPECT_TRUE(is_same_layout(nc, nc));
}

// ---- convert_frame ----

// 1x2x3x4 with dims listed in `order`; value = 100*d1 + 10*d2 + d3 of its own coordinates.
std::vector<float> coordinate_tensor() {
    std::vector<float> values;
    for (int a = 0; a < 2; ++a) {
        for (int b = 0; b < 3; ++b) {
            for (int c = 0; c < 4; ++c) values.push_back(static_cast<float>(100 * a + 10 * b + c));
        }
    }
    return values;
}

TEST(ConvertFrameTest, NchwToNhwcMovesEveryElement) {
    // NCHW source: C=2, H=3, W=4; element (c, h, w) holds 100c + 10h + w.
    const std::vector<float> source = coordinate_tensor();
    const FrameLayout from{FormatType::FLOAT32, FormatOrder::NCHW, {1, 2, 3, 4}};
    const FrameLayout to{FormatType::FLOAT32, FormatOrder::NHWC, {1, 3, 4, 2}};
    std::vector<float> target(24, -1.0f);
    ASSERT_OK(convert_frame(source.data(), 96, from, target.data(), 96, to, QuantInfo{}));
    for (int h = 0; h < 3; ++h) {
        for (int w = 0; w < 4; ++w) {
            for (int c = 0; c < 2; ++c) {
                EXPECT_EQ(target[(h * 4 + w) * 2 + c], static_cast<float>(100 * c + 10 * h + w))
                    << "h=" << h << " w=" << w << " c=" << c;
            }
        }
    }
    // The first elements spelled out: (h0,w0,c0), (h0,w0,c1), (h0,w1,c0), ...
    EXPECT_EQ(target[0], 0.0f);
    EXPECT_EQ(target[1], 100.0f);
    EXPECT_EQ(target[2], 1.0f);
    EXPECT_EQ(target[3], 101.0f);
    EXPECT_EQ(target[23], 123.0f);
}

TEST(ConvertFrameTest, NhwcToNchwMovesEveryElement) {
    // NHWC source: H=2, W=3, C=4; element (h, w, c) holds 100h + 10w + c.
    const std::vector<float> source = coordinate_tensor();
    const FrameLayout from{FormatType::FLOAT32, FormatOrder::NHWC, {1, 2, 3, 4}};
    const FrameLayout to{FormatType::FLOAT32, FormatOrder::NCHW, {1, 4, 2, 3}};
    std::vector<float> target(24, -1.0f);
    ASSERT_OK(convert_frame(source.data(), 96, from, target.data(), 96, to, QuantInfo{}));
    for (int c = 0; c < 4; ++c) {
        for (int h = 0; h < 2; ++h) {
            for (int w = 0; w < 3; ++w) {
                EXPECT_EQ(target[(c * 2 + h) * 3 + w], static_cast<float>(100 * h + 10 * w + c))
                    << "c=" << c << " h=" << h << " w=" << w;
            }
        }
    }
    EXPECT_EQ(target[1], 10.0f);    // c0 h0 w1
    EXPECT_EQ(target[6], 1.0f);     // c1 h0 w0
    EXPECT_EQ(target[23], 123.0f);  // c3 h1 w2
}

TEST(ConvertFrameTest, TransposeThereAndBackIsIdentity) {
    const std::vector<float> source = coordinate_tensor();
    const FrameLayout nchw{FormatType::FLOAT32, FormatOrder::NCHW, {1, 2, 3, 4}};
    const FrameLayout nhwc{FormatType::FLOAT32, FormatOrder::NHWC, {1, 3, 4, 2}};
    std::vector<float> middle(24), back(24);
    ASSERT_OK(convert_frame(source.data(), 96, nchw, middle.data(), 96, nhwc, QuantInfo{}));
    ASSERT_OK(convert_frame(middle.data(), 96, nhwc, back.data(), 96, nchw, QuantInfo{}));
    EXPECT_EQ(back, source);
    EXPECT_NE(middle, source);
}

TEST(ConvertFrameTest, Uint8NhwcToFloatNchwDequantizesAndTransposes) {
    // NHWC uint8 source: H=2, W=3, C=4, element (h, w, c) = 10 + 20h + 5w + c.
    std::vector<uint8_t> source;
    for (int h = 0; h < 2; ++h) {
        for (int w = 0; w < 3; ++w) {
            for (int c = 0; c < 4; ++c)
                source.push_back(static_cast<uint8_t>(10 + 20 * h + 5 * w + c));
        }
    }
    const FrameLayout from{FormatType::UINT8, FormatOrder::NHWC, {1, 2, 3, 4}};
    const FrameLayout to{FormatType::FLOAT32, FormatOrder::NCHW, {1, 4, 2, 3}};
    std::vector<float> target(24, -1.0f);
    ASSERT_OK(convert_frame(source.data(), 24, from, target.data(), 96, to, kHalf10));
    for (int c = 0; c < 4; ++c) {
        for (int h = 0; h < 2; ++h) {
            for (int w = 0; w < 3; ++w) {
                const int q = 10 + 20 * h + 5 * w + c;
                EXPECT_EQ(target[(c * 2 + h) * 3 + w], (q - 10) * 0.5f)
                    << "c=" << c << " h=" << h << " w=" << w;
            }
        }
    }
}

TEST(ConvertFrameTest, FloatNchwToUint8NhwcQuantizesAndTransposes) {
    // NCHW float source: C=2, H=3, W=4, element (c, h, w) = 0.25 * (4c + h - w) (some halves
    // of the 0.5 step, so round-half-to-even shows).
    std::vector<float> source;
    for (int c = 0; c < 2; ++c) {
        for (int h = 0; h < 3; ++h) {
            for (int w = 0; w < 4; ++w) source.push_back(0.25f * static_cast<float>(4 * c + h - w));
        }
    }
    const FrameLayout from{FormatType::FLOAT32, FormatOrder::NCHW, {1, 2, 3, 4}};
    const FrameLayout to{FormatType::UINT8, FormatOrder::NHWC, {1, 3, 4, 2}};
    std::vector<uint8_t> target(24, 0xEE);
    ASSERT_OK(convert_frame(source.data(), 96, from, target.data(), 24, to, kHalf10));
    for (int h = 0; h < 3; ++h) {
        for (int w = 0; w < 4; ++w) {
            for (int c = 0; c < 2; ++c) {
                const double real = 0.25 * (4 * c + h - w);
                const double expected = std::clamp(std::nearbyint(real / 0.5) + 10.0, 0.0, 255.0);
                EXPECT_EQ(target[(h * 4 + w) * 2 + c], static_cast<uint8_t>(expected))
                    << "h=" << h << " w=" << w << " c=" << c;
            }
        }
    }
    // c=0, h=0, w=1: real -0.25 -> -0.5 -> -0 -> 10;  c=0, h=1, w=0: 0.25 -> 0.5 -> 0 -> 10;
    // c=0, h=2, w=0: 0.5 -> 1 -> 11;  c=1, h=2, w=0: 1.5 -> 3 -> 13.
    EXPECT_EQ(target[(0 * 4 + 1) * 2 + 0], 10);
    EXPECT_EQ(target[(1 * 4 + 0) * 2 + 0], 10);
    EXPECT_EQ(target[(2 * 4 + 0) * 2 + 0], 11);
    EXPECT_EQ(target[(2 * 4 + 0) * 2 + 1], 13);
    // c=1, h=0, w=1: 0.75 -> 1.5 -> 2 -> 12;  c=1, h=1, w=0: 1.25 -> 2.5 -> 2 -> 12.
    EXPECT_EQ(target[(0 * 4 + 1) * 2 + 1], 12);
    EXPECT_EQ(target[(1 * 4 + 0) * 2 + 1], 12);
}

TEST(ConvertFrameTest, Uint8RoundTripThroughFloatIsExact) {
    std::vector<uint8_t> source(256);
    for (int i = 0; i < 256; ++i) source[i] = static_cast<uint8_t>(i);
    const FrameLayout bytes{FormatType::UINT8, FormatOrder::NC, {1, 256}};
    const FrameLayout reals{FormatType::FLOAT32, FormatOrder::NC, {1, 256}};
    std::vector<float> middle(256);
    std::vector<uint8_t> back(256, 0);
    ASSERT_OK(convert_frame(source.data(), 256, bytes, middle.data(), 1024, reals, kHalf10));
    for (int i = 0; i < 256; ++i) EXPECT_EQ(middle[i], (i - 10) * 0.5f) << i;
    ASSERT_OK(convert_frame(middle.data(), 1024, reals, back.data(), 256, bytes, kHalf10));
    EXPECT_EQ(back, source);
}

TEST(ConvertFrameTest, IntegerToIntegerSaturates) {
    const std::vector<uint16_t> source = {0, 1, 254, 255, 256, 65535};
    const FrameLayout from{FormatType::UINT16, FormatOrder::NC, {1, 6}};
    const FrameLayout to{FormatType::UINT8, FormatOrder::NC, {1, 6}};
    std::vector<uint8_t> target(6, 7);
    ASSERT_OK(convert_frame(source.data(), 12, from, target.data(), 6, to, QuantInfo{}));
    EXPECT_EQ(target, (std::vector<uint8_t>{0, 1, 254, 255, 255, 255}));

    const std::vector<int8_t> negative = {-128, -1, 0, 127};
    const FrameLayout from_i8{FormatType::INT8, FormatOrder::NC, {1, 4}};
    const FrameLayout to_u8{FormatType::UINT8, FormatOrder::NC, {1, 4}};
    std::vector<uint8_t> clipped(4, 7);
    ASSERT_OK(convert_frame(negative.data(), 4, from_i8, clipped.data(), 4, to_u8, QuantInfo{}));
    EXPECT_EQ(clipped, (std::vector<uint8_t>{0, 0, 0, 127}));
}

TEST(ConvertFrameTest, SameLayoutCopiesBytes) {
    const std::vector<float> source = coordinate_tensor();
    const FrameLayout layout{FormatType::FLOAT32, FormatOrder::NCHW, {1, 2, 3, 4}};
    std::vector<float> target(24, -1.0f);
    ASSERT_OK(convert_frame(source.data(), 96, layout, target.data(), 96, layout, kHalf10));
    EXPECT_EQ(target, source);
}

TEST(ConvertFrameTest, RejectsSizeMismatches) {
    const std::vector<float> source = coordinate_tensor();
    std::vector<float> target(24);
    const FrameLayout nchw{FormatType::FLOAT32, FormatOrder::NCHW, {1, 2, 3, 4}};
    const FrameLayout nhwc{FormatType::FLOAT32, FormatOrder::NHWC, {1, 3, 4, 2}};
    const FrameLayout smaller{FormatType::FLOAT32, FormatOrder::NHWC, {1, 3, 4, 1}};
    const Status short_source =
        convert_frame(source.data(), 95, nchw, target.data(), 96, nhwc, QuantInfo{});
    EXPECT_EQ(short_source.code(), StatusCode::INVALID_ARGUMENT);
    EXPECT_TRUE(test::contains(short_source.message(), "95")) << short_source;
    const Status short_target =
        convert_frame(source.data(), 96, nchw, target.data(), 48, nhwc, QuantInfo{});
    EXPECT_EQ(short_target.code(), StatusCode::INVALID_ARGUMENT);
    const Status fewer =
        convert_frame(source.data(), 96, nchw, target.data(), 48, smaller, QuantInfo{});
    EXPECT_EQ(fewer.code(), StatusCode::INVALID_ARGUMENT);
    EXPECT_TRUE(test::contains(fewer.message(), "24 and 12 elements")) << fewer;
}

TEST(ConvertFrameTest, RejectsAZeroScale) {
    const std::vector<float> source(4, 1.0f);
    std::vector<uint8_t> target(4, 0);
    const FrameLayout from{FormatType::FLOAT32, FormatOrder::NC, {1, 4}};
    const FrameLayout to{FormatType::UINT8, FormatOrder::NC, {1, 4}};
    EXPECT_STATUS(
        convert_frame(source.data(), 16, from, target.data(), 4, to, QuantInfo{0.0f, 0.0f}),
        StatusCode::INVALID_ARGUMENT);
    EXPECT_EQ(target, (std::vector<uint8_t>{0, 0, 0, 0}));
}

// Found by tests/fuzz/convert_frame_fuzz: byte_size() takes a negative dimension as 0, so a
// layout with one passed the size check with an empty buffer; with the transpose the loop then
// ran over the dims cast to size_t (far past the buffers).
TEST(ConvertFrameTest, RejectsANegativeDimension) {
    std::vector<uint8_t> target(4, 7);
    const FrameLayout from{FormatType::UINT8, FormatOrder::NHWC, {1, 1, -1, 1}};
    const FrameLayout to{FormatType::UINT8, FormatOrder::NCHW, {1, 1, 1, -1}};
    const Status status = convert_frame(nullptr, 0, from, target.data(), 0, to, QuantInfo{});
    EXPECT_EQ(status.code(), StatusCode::INVALID_ARGUMENT);
    EXPECT_TRUE(test::contains(status.message(), "negative")) << status;
    EXPECT_EQ(target, (std::vector<uint8_t>{7, 7, 7, 7}));
}

// 3 x 3074457345618258603 = 2^63 + 1 elements of 2 bytes: 2^64 + 2 bytes, which wrapped to 2,
// so a 2-byte buffer passed for a frame of 2^63 + 1 elements.
TEST(ConvertFrameTest, RejectsDimsWhoseByteSizeOverflows) {
    const std::vector<uint16_t> source(1, 1);
    std::vector<float> target(1);
    const FrameLayout from{FormatType::UINT16, FormatOrder::NC, {3, 3074457345618258603}};
    const FrameLayout to{FormatType::FLOAT32, FormatOrder::NC, {3, 3074457345618258603}};
    const Status status = convert_frame(source.data(), 2, from, target.data(), 4, to, QuantInfo{});
    EXPECT_EQ(status.code(), StatusCode::INVALID_ARGUMENT);
    EXPECT_TRUE(test::contains(status.message(), "more bytes than memory can")) << status;
}

// The transpose walked the target's four dims whatever the target's rank: an NHWC source of rank
// 4 and an NCHW target of rank 1 read past the target's dims.
TEST(ConvertFrameTest, RejectsATransposeToAnotherRank) {
    const std::vector<uint8_t> source(6, 1);
    std::vector<uint8_t> target(6, 0);
    const FrameLayout from{FormatType::UINT8, FormatOrder::NHWC, {1, 2, 3, 1}};
    const FrameLayout to{FormatType::UINT8, FormatOrder::NCHW, {6}};
    const Status status = convert_frame(source.data(), 6, from, target.data(), 6, to, QuantInfo{});
    EXPECT_EQ(status.code(), StatusCode::INVALID_ARGUMENT);
    EXPECT_TRUE(test::contains(status.message(), "rank-4 dims on both sides")) << status;
}

// A NaN zero point made every quantized value NaN, and NaN cast to uint8 is undefined.
TEST(ConvertFrameTest, RejectsANonFiniteZeroPoint) {
    const std::vector<float> source(4, 1.0f);
    std::vector<uint8_t> target(4, 0);
    const FrameLayout from{FormatType::FLOAT32, FormatOrder::NC, {1, 4}};
    const FrameLayout to{FormatType::UINT8, FormatOrder::NC, {1, 4}};
    for (const float zero_point :
         {std::numeric_limits<float>::quiet_NaN(), std::numeric_limits<float>::infinity()}) {
        const Status status = convert_frame(source.data(), 16, from, target.data(), 4, to,
                                            QuantInfo{0.5f, zero_point});
        EXPECT_EQ(status.code(), StatusCode::INVALID_ARGUMENT);
        EXPECT_TRUE(test::contains(status.message(), "zero point")) << status;
    }
    EXPECT_EQ(target, (std::vector<uint8_t>{0, 0, 0, 0}));
}

// An empty frame: nothing to do, null buffers allowed (memcpy with null was undefined even for
// 0 bytes), and a transpose of dims {2^40, 0, 0, 0} returns at once instead of walking 2^40
// empty rows (a hang found by convert_frame_fuzz; this test would not finish).
TEST(ConvertFrameTest, AnEmptyFrameConvertsNothing) {
    const FrameLayout nchw{FormatType::FLOAT32, FormatOrder::NCHW, {int64_t{1} << 40, 0, 0, 0}};
    const FrameLayout nhwc{FormatType::UINT8, FormatOrder::NHWC, {int64_t{1} << 40, 0, 0, 0}};
    EXPECT_OK(convert_frame(nullptr, 0, nchw, nullptr, 0, nhwc, QuantInfo{}));
    const FrameLayout empty{FormatType::FLOAT32, FormatOrder::NC, {0, 4}};
    EXPECT_OK(convert_frame(nullptr, 0, empty, nullptr, 0, empty, QuantInfo{}));
}

}  // namespace
}  // namespace corun::runtime
