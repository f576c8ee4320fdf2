// Standalone TensorProto files (onnx/tensor_proto_file.hpp) on hand-built bytes: values in
// raw_data and in each typed field come out as the same dense little-endian bytes, strings in
// corun's STRING layout, and a count that does not match the dims, a missing type, external
// data or a truncated file give the exact error instead of a guess or an allocation.
#include "onnx/tensor_proto_file.hpp"

#include <gtest/gtest.h>

#include <cstdint>
#include <string>
#include <vector>

namespace corun::onnx {
namespace {

using Bytes = std::vector<uint8_t>;

void varint(Bytes& out, uint64_t value) {
    while (value >= 0x80) {
        out.push_back(static_cast<uint8_t>(value | 0x80));
        value >>= 7;
    }
    out.push_back(static_cast<uint8_t>(value));
}

void tag(Bytes& out, uint32_t field, uint32_t wire_type) {
    varint(out, (uint64_t{field} << 3) | wire_type);
}

void len_field(Bytes& out, uint32_t field, const Bytes& payload) {
    tag(out, field, 2);
    varint(out, payload.size());
    out.insert(out.end(), payload.begin(), payload.end());
}

// dims (packed), data_type and name: the start of every tensor below.
Bytes header(const std::vector<int64_t>& dims, OnnxElementType type) {
    Bytes out, packed;
    for (const int64_t dim : dims) varint(packed, static_cast<uint64_t>(dim));
    len_field(out, 1, packed);
    tag(out, 2, 0);
    varint(out, static_cast<uint64_t>(type));
    len_field(out, 8, Bytes{'x'});
    return out;
}

TEST(TensorProtoFile, RawDataIsKeptAsIs) {
    Bytes bytes = header({2}, OnnxElementType::FLOAT);
    len_field(bytes, 9, Bytes{0, 0, 0x80, 0x3F, 0, 0, 0, 0x40});  // 1.0f, 2.0f
    const auto tensor = read_tensor_proto(bytes);
    ASSERT_TRUE(tensor.has_value()) << tensor.status();
    EXPECT_EQ(tensor.value().name, "x");
    EXPECT_EQ(tensor.value().type, OnnxElementType::FLOAT);
    EXPECT_EQ(tensor.value().dims, (std::vector<int64_t>{2}));
    EXPECT_EQ(tensor.value().element_count, 2);
    EXPECT_EQ(tensor.value().bytes, (Bytes{0, 0, 0x80, 0x3F, 0, 0, 0, 0x40}));
}

TEST(TensorProtoFile, Int32DataNarrowsToTheElementType) {
    // uint8 values travel as one varint each in int32_data.
    Bytes bytes = header({3}, OnnxElementType::UINT8);
    Bytes packed;
    for (const uint64_t value : {7u, 200u, 0u}) varint(packed, value);
    len_field(bytes, 5, packed);
    const auto tensor = read_tensor_proto(bytes);
    ASSERT_TRUE(tensor.has_value()) << tensor.status();
    EXPECT_EQ(tensor.value().bytes, (Bytes{7, 200, 0}));
}

TEST(TensorProtoFile, NegativeInt64InTypedField) {
    Bytes bytes = header({}, OnnxElementType::INT64);  // a scalar
    tag(bytes, 7, 0);
    varint(bytes, static_cast<uint64_t>(int64_t{-2}));
    const auto tensor = read_tensor_proto(bytes);
    ASSERT_TRUE(tensor.has_value()) << tensor.status();
    EXPECT_EQ(tensor.value().element_count, 1);
    EXPECT_EQ(tensor.value().bytes, (Bytes{0xFE, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF}));
}

TEST(TensorProtoFile, StringsInCorunsLayout) {
    Bytes bytes = header({2}, OnnxElementType::STRING);
    len_field(bytes, 6, Bytes{'a', 'b'});
    len_field(bytes, 6, Bytes{});
    const auto tensor = read_tensor_proto(bytes);
    ASSERT_TRUE(tensor.has_value()) << tensor.status();
    EXPECT_EQ(tensor.value().bytes, (Bytes{2, 0, 0, 0, 'a', 'b', 0, 0, 0, 0}));
}

TEST(TensorProtoFile, ZeroSizeTensor) {
    Bytes bytes = header({3, 0}, OnnxElementType::FLOAT);
    const auto tensor = read_tensor_proto(bytes);
    ASSERT_TRUE(tensor.has_value()) << tensor.status();
    EXPECT_EQ(tensor.value().element_count, 0);
    EXPECT_TRUE(tensor.value().bytes.empty());
}

TEST(TensorProtoFile, DimsThatTheDataDoesNotFillAreRefused) {
    // 10^12 elements claimed, 4 bytes present: an error, not an allocation.
    Bytes bytes = header({1000000, 1000000}, OnnxElementType::FLOAT);
    len_field(bytes, 9, Bytes{0, 0, 0x80, 0x3F});
    const auto tensor = read_tensor_proto(bytes);
    ASSERT_FALSE(tensor.has_value());
    EXPECT_EQ(tensor.status().code(), StatusCode::INVALID_MODEL);
    EXPECT_EQ(tensor.status().message(),
              "tensor 'x' declares 1000000000000 element(s) of float (dims [1000000,1000000]) "
              "(more than the file's bytes) but its raw_data has 4 bytes");
}

TEST(TensorProtoFile, TypedValuesInTheWrongField) {
    Bytes bytes = header({1}, OnnxElementType::FLOAT);
    tag(bytes, 7, 0);
    varint(bytes, 1);
    const auto tensor = read_tensor_proto(bytes);
    ASSERT_FALSE(tensor.has_value());
    EXPECT_EQ(tensor.status().message(),
              "tensor 'x' of type float holds values in int64_data; onnx.proto puts them in "
              "float_data");
}

TEST(TensorProtoFile, NoDataTypeIsNotATensor) {
    Bytes bytes;
    len_field(bytes, 8, Bytes{'x'});
    const auto tensor = read_tensor_proto(bytes);
    ASSERT_FALSE(tensor.has_value());
    EXPECT_EQ(tensor.status().message(),
              "tensor 'x' has no data_type (3 bytes): not a TensorProto, or a truncated one");
}

TEST(TensorProtoFile, ExternalDataIsRefused) {
    Bytes bytes = header({1}, OnnxElementType::FLOAT);
    tag(bytes, 14, 0);
    varint(bytes, 1);
    const auto tensor = read_tensor_proto(bytes);
    ASSERT_FALSE(tensor.has_value());
    EXPECT_EQ(tensor.status().code(), StatusCode::NOT_SUPPORTED);
}

TEST(TensorProtoFile, TruncatedFileNamesTheOffset) {
    Bytes bytes = header({2}, OnnxElementType::FLOAT);
    len_field(bytes, 9, Bytes{0, 0, 0x80, 0x3F, 0, 0, 0, 0x40});
    bytes.resize(bytes.size() - 3);
    const auto tensor = read_tensor_proto(bytes);
    ASSERT_FALSE(tensor.has_value());
    EXPECT_EQ(tensor.status().code(), StatusCode::INVALID_MODEL);
    EXPECT_NE(tensor.status().message().find("TensorProto"), std::string::npos) << tensor.status();
}

TEST(TensorProtoFile, MissingFile) {
    const auto tensor = read_tensor_proto_file("/nonexistent/input_0.pb");
    ASSERT_FALSE(tensor.has_value());
    EXPECT_EQ(tensor.status().code(), StatusCode::NOT_FOUND);
}

}  // namespace
}  // namespace corun::onnx
