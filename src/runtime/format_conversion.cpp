#include "runtime/format_conversion.hpp"

#include <cmath>
#include <cstring>
#include <limits>
#include <string>

namespace corun::runtime {
namespace {

struct TypeRange {
    double min;
    double max;
};

TypeRange range_of(FormatType type) {
    switch (type) {
        case FormatType::UINT8:
            return {0, 255};
        case FormatType::INT8:
            return {-128, 127};
        case FormatType::UINT16:
            return {0, 65535};
        case FormatType::INT32:
            return {-2147483648.0, 2147483647.0};
        case FormatType::INT64:
            return {static_cast<double>(std::numeric_limits<int64_t>::min()),
                    static_cast<double>(std::numeric_limits<int64_t>::max())};
        default:
            return {-std::numeric_limits<double>::infinity(),
                    std::numeric_limits<double>::infinity()};
    }
}

double read_element(const uint8_t* base, size_t index, FormatType type) {
    switch (type) {
        case FormatType::UINT8:
            return base[index];
        case FormatType::INT8:
            return reinterpret_cast<const int8_t*>(base)[index];
        case FormatType::UINT16:
            return reinterpret_cast<const uint16_t*>(base)[index];
        case FormatType::INT32:
            return reinterpret_cast<const int32_t*>(base)[index];
        case FormatType::INT64:
            return static_cast<double>(reinterpret_cast<const int64_t*>(base)[index]);
        case FormatType::FLOAT32:
            return reinterpret_cast<const float*>(base)[index];
        case FormatType::AUTO:
            break;
    }
    return 0;
}

// `value` is already rounded and saturated for integer types.
void write_element(uint8_t* base, size_t index, FormatType type, double value) {
    switch (type) {
        case FormatType::UINT8:
            base[index] = static_cast<uint8_t>(value);
            break;
        case FormatType::INT8:
            reinterpret_cast<int8_t*>(base)[index] = static_cast<int8_t>(value);
            break;
        case FormatType::UINT16:
            reinterpret_cast<uint16_t*>(base)[index] = static_cast<uint16_t>(value);
            break;
        case FormatType::INT32:
            reinterpret_cast<int32_t*>(base)[index] = static_cast<int32_t>(value);
            break;
        case FormatType::INT64:
            reinterpret_cast<int64_t*>(base)[index] = static_cast<int64_t>(value);
            break;
        case FormatType::FLOAT32:
            reinterpret_cast<float*>(base)[index] = static_cast<float>(value);
            break;
        case FormatType::AUTO:
            break;
    }
}

bool is_float(FormatType type) {
    return type == FormatType::FLOAT32;
}

double saturate(double value, FormatType type) {
    const TypeRange range = range_of(type);
    if (value < range.min) return range.min;
    if (value > range.max) return range.max;
    return value;
}

double convert_value(double value, FormatType from, FormatType to, const QuantInfo& quant) {
    if (is_float(from) == is_float(to)) {
        if (is_float(to)) return value;
        return saturate(value, to);  // integer -> integer: values are already integral
    }
    if (is_float(from)) return quantize_value(value, quant, to);
    return dequantize_value(value, quant);
}

bool is_image_reorder(const FrameLayout& a, const FrameLayout& b) {
    return a.dims.size() == 4 && a.order != b.order &&
           ((a.order == FormatOrder::NHWC && b.order == FormatOrder::NCHW) ||
            (a.order == FormatOrder::NCHW && b.order == FormatOrder::NHWC));
}

}  // namespace

size_t FrameLayout::element_count() const {
    size_t count = 1;
    for (int64_t dim : dims) count *= static_cast<size_t>(dim < 0 ? 0 : dim);
    return count;
}

std::vector<int64_t> reorder_dims(const std::vector<int64_t>& dims, FormatOrder from,
                                  FormatOrder to) {
    if (dims.size() != 4 || from == to) return dims;
    if (from == FormatOrder::NHWC && to == FormatOrder::NCHW) {
        return {dims[0], dims[3], dims[1], dims[2]};
    }
    if (from == FormatOrder::NCHW && to == FormatOrder::NHWC) {
        return {dims[0], dims[2], dims[3], dims[1]};
    }
    return dims;
}

bool is_same_layout(const FrameLayout& a, const FrameLayout& b) {
    return a.type == b.type && !is_image_reorder(a, b);
}

double dequantize_value(double quantized, const QuantInfo& quant) {
    return (quantized - quant.zero_point) * quant.scale;
}

double quantize_value(double real, const QuantInfo& quant, FormatType type) {
    if (std::isnan(real)) return saturate(quant.zero_point, type);
    // std::nearbyint rounds half to even in the default rounding mode, as ONNX requires.
    const double scaled = std::nearbyint(real / quant.scale) + quant.zero_point;
    return saturate(scaled, type);
}

Status convert_frame(const void* source, size_t source_bytes, const FrameLayout& source_layout,
                     void* target, size_t target_bytes, const FrameLayout& target_layout,
                     const QuantInfo& quant) {
    const size_t count = source_layout.element_count();
    if (count != target_layout.element_count()) {
        return Status(StatusCode::INVALID_ARGUMENT,
                      "format conversion between tensors of " + std::to_string(count) + " and " +
                          std::to_string(target_layout.element_count()) + " elements");
    }
    if (source_bytes != source_layout.byte_size() || target_bytes != target_layout.byte_size()) {
        return Status(StatusCode::INVALID_ARGUMENT,
                      "format conversion buffers of " + std::to_string(source_bytes) + " and " +
                          std::to_string(target_bytes) + " bytes, expected " +
                          std::to_string(source_layout.byte_size()) + " and " +
                          std::to_string(target_layout.byte_size()));
    }
    if (quant.scale == 0.0f || !std::isfinite(quant.scale)) {
        return Status(StatusCode::INVALID_ARGUMENT,
                      "quantization scale " + std::to_string(quant.scale) +
                          " cannot convert values; the model's quant info is invalid");
    }
    const auto* in = static_cast<const uint8_t*>(source);
    auto* out = static_cast<uint8_t*>(target);
    const FormatType from = source_layout.type;
    const FormatType to = target_layout.type;

    if (!is_image_reorder(source_layout, target_layout)) {
        if (from == to) {
            std::memcpy(out, in, source_bytes);
            return Status::ok();
        }
        for (size_t i = 0; i < count; ++i) {
            write_element(out, i, to, convert_value(read_element(in, i, from), from, to, quant));
        }
        return Status::ok();
    }

    // Walk the target in order and read the matching source element.
    const auto& t = target_layout.dims;  // target dims, listed in target order
    const size_t d1 = static_cast<size_t>(t[1]), d2 = static_cast<size_t>(t[2]),
                 d3 = static_cast<size_t>(t[3]);
    size_t index = 0;
    for (size_t n = 0; n < static_cast<size_t>(t[0]); ++n) {
        for (size_t a = 0; a < d1; ++a) {
            for (size_t b = 0; b < d2; ++b) {
                for (size_t c = 0; c < d3; ++c, ++index) {
                    size_t source_index;
                    if (target_layout.order == FormatOrder::NCHW) {
                        // target (n, channel a, row b, column c); source NHWC (n, b, c, a)
                        source_index = ((n * d2 + b) * d3 + c) * d1 + a;
                    } else {
                        // target NHWC (n, row a, column b, channel c); source NCHW (n, c, a, b)
                        source_index = ((n * d3 + c) * d1 + a) * d2 + b;
                    }
                    const double value = read_element(in, source_index, from);
                    write_element(out, index, to,
                                  from == to ? value : convert_value(value, from, to, quant));
                }
            }
        }
    }
    return Status::ok();
}

}  // namespace corun::runtime
