#include "tensor_comparison.hpp"

#include <bit>
#include <cmath>
#include <cstring>
#include <sstream>

#include "common/half_precision.hpp"
#include "corun/format.hpp"

namespace corun::conformance {
namespace {

using onnx::OnnxElementType;

bool is_floating(OnnxElementType type) {
    return type == OnnxElementType::FLOAT || type == OnnxElementType::DOUBLE ||
           type == OnnxElementType::FLOAT16 || type == OnnxElementType::BFLOAT16;
}

template <typename T>
T load(std::span<const uint8_t> bytes, size_t index) {
    T value;
    std::memcpy(&value, bytes.data() + index * sizeof(T), sizeof(T));
    return value;
}

double floating_value(OnnxElementType type, std::span<const uint8_t> bytes, size_t index) {
    switch (type) {
        case OnnxElementType::FLOAT:
            return load<float>(bytes, index);
        case OnnxElementType::DOUBLE:
            return load<double>(bytes, index);
        case OnnxElementType::FLOAT16:
            return common::half_to_float(load<uint16_t>(bytes, index));
        default:
            return common::bfloat16_to_float(load<uint16_t>(bytes, index));
    }
}

// numpy.testing.assert_allclose's rule: |actual - expected| <= atol + rtol * |expected|, with
// NaNs equal to each other and infinities equal only to themselves.
bool close(double actual, double expected) {
    if (std::isnan(actual) || std::isnan(expected))
        return std::isnan(actual) && std::isnan(expected);
    if (std::isinf(actual) || std::isinf(expected)) return actual == expected;
    return std::fabs(actual - expected) <=
           kAbsoluteTolerance + kRelativeTolerance * std::fabs(expected);
}

std::string integer_text(OnnxElementType type, std::span<const uint8_t> bytes, size_t index) {
    switch (type) {
        case OnnxElementType::INT8:
            return std::to_string(load<int8_t>(bytes, index));
        case OnnxElementType::UINT8:
        case OnnxElementType::BOOL:
            return std::to_string(load<uint8_t>(bytes, index));
        case OnnxElementType::INT16:
            return std::to_string(load<int16_t>(bytes, index));
        case OnnxElementType::UINT16:
            return std::to_string(load<uint16_t>(bytes, index));
        case OnnxElementType::INT32:
            return std::to_string(load<int32_t>(bytes, index));
        case OnnxElementType::UINT32:
            return std::to_string(load<uint32_t>(bytes, index));
        case OnnxElementType::INT64:
            return std::to_string(load<int64_t>(bytes, index));
        default:
            return std::to_string(load<uint64_t>(bytes, index));
    }
}

// "[1,0,2]" for flat `index` in `dims`.
std::string index_text(size_t index, const std::vector<int64_t>& dims) {
    std::vector<int64_t> position(dims.size());
    for (size_t d = dims.size(); d-- > 0;) {
        position[d] = dims[d] > 0 ? static_cast<int64_t>(index % dims[d]) : 0;
        if (dims[d] > 0) index /= static_cast<size_t>(dims[d]);
    }
    std::string text = "[";
    for (size_t d = 0; d < position.size(); ++d)
        text += (d ? "," : "") + std::to_string(position[d]);
    return text + "]";
}

std::string number_text(double value) {
    std::ostringstream out;
    out.precision(9);
    out << value;
    return out.str();
}

// Splits corun's STRING layout (4-byte little-endian length, then the bytes, per element).
std::optional<std::vector<std::string>> split_strings(std::span<const uint8_t> bytes) {
    std::vector<std::string> values;
    size_t pos = 0;
    while (pos < bytes.size()) {
        if (bytes.size() - pos < 4) return std::nullopt;
        const uint32_t length = load<uint32_t>(bytes.subspan(pos), 0);
        pos += 4;
        if (bytes.size() - pos < length) return std::nullopt;
        values.emplace_back(reinterpret_cast<const char*>(bytes.data() + pos), length);
        pos += length;
    }
    return values;
}

}  // namespace

std::optional<std::string> compare_output(const std::string& output_name,
                                          const ActualTensor& actual,
                                          const onnx::TensorProtoData& expected) {
    const std::string label = "output '" + output_name + "'";
    if (actual.type != expected.type) {
        return label + " has element type " + onnx::onnx_element_type_name(actual.type) +
               ", expected " + onnx::onnx_element_type_name(expected.type);
    }
    if (actual.dims && *actual.dims != expected.dims) {
        return label + " has shape " + shape_text(*actual.dims) + ", expected " +
               shape_text(expected.dims);
    }
    const size_t count = static_cast<size_t>(expected.element_count);
    if (expected.type == OnnxElementType::STRING) {
        const auto got = split_strings(actual.bytes);
        const auto want = split_strings(expected.bytes);
        if (!got)
            return label + " is not a valid STRING buffer (4-byte length + bytes per element)";
        if (got->size() != want->size()) {
            return label + " has " + std::to_string(got->size()) + " strings, expected " +
                   std::to_string(want->size()) + " (shape " + shape_text(expected.dims) + ")";
        }
        size_t differing = 0, first = 0;
        for (size_t i = 0; i < got->size(); ++i) {
            if ((*got)[i] == (*want)[i]) continue;
            if (differing++ == 0) first = i;
        }
        if (differing == 0) return std::nullopt;
        return label + ": " + std::to_string(differing) + " of " + std::to_string(count) +
               " strings differ; first at " + index_text(first, expected.dims) + ": got '" +
               (*got)[first] + "', expected '" + (*want)[first] + "'";
    }
    const size_t element_size = onnx::tensor_element_size(expected.type);
    if (actual.bytes.size() != expected.bytes.size()) {
        return label + " has " +
               std::to_string(actual.bytes.size() / std::max<size_t>(element_size, 1)) +
               " elements (" + std::to_string(actual.bytes.size()) + " bytes), expected " +
               std::to_string(count) + " (shape " + shape_text(expected.dims) + ")";
    }
    const bool floating = is_floating(expected.type);
    size_t differing = 0, first = 0;
    for (size_t i = 0; i < count; ++i) {
        const bool same =
            floating ? close(floating_value(expected.type, actual.bytes, i),
                             floating_value(expected.type, expected.bytes, i))
                     : std::memcmp(actual.bytes.data() + i * element_size,
                                   expected.bytes.data() + i * element_size, element_size) == 0;
        if (same) continue;
        if (differing++ == 0) first = i;
    }
    if (differing == 0) return std::nullopt;
    const std::string got = floating
                                ? number_text(floating_value(expected.type, actual.bytes, first))
                                : integer_text(expected.type, actual.bytes, first);
    const std::string want = floating
                                 ? number_text(floating_value(expected.type, expected.bytes, first))
                                 : integer_text(expected.type, expected.bytes, first);
    return label + ": " + std::to_string(differing) + " of " + std::to_string(count) +
           " values differ" + (floating ? " beyond rtol 1e-3, atol 1e-7" : "") + "; first at " +
           index_text(first, expected.dims) + ": got " + got + ", expected " + want;
}

}  // namespace corun::conformance
