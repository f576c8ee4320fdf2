#include "runtime/format_conversion.hpp"

#include "common/half_precision.hpp"

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
        case FormatType::INT16:
            return {-32768, 32767};
        case FormatType::INT32:
            return {-2147483648.0, 2147483647.0};
        case FormatType::UINT32:
            return {0, 4294967295.0};
        case FormatType::INT64:
            return {static_cast<double>(std::numeric_limits<int64_t>::min()),
                    static_cast<double>(std::numeric_limits<int64_t>::max())};
        case FormatType::UINT64:
            return {0, static_cast<double>(std::numeric_limits<uint64_t>::max())};
        case FormatType::BOOL:
            return {0, 1};
        default:
            return {-std::numeric_limits<double>::infinity(),
                    std::numeric_limits<double>::infinity()};
    }
}

template <typename T>
T load(const uint8_t* base, size_t index) {
    T value;
    std::memcpy(&value, base + index * sizeof(T), sizeof(T));
    return value;
}

template <typename T>
void store(uint8_t* base, size_t index, T value) {
    std::memcpy(base + index * sizeof(T), &value, sizeof(T));
}

double read_element(const uint8_t* base, size_t index, FormatType type) {
    switch (type) {
        case FormatType::UINT8:
            return base[index];
        case FormatType::BOOL:
            return base[index] != 0 ? 1.0 : 0.0;
        case FormatType::INT8:
            return static_cast<int8_t>(base[index]);
        case FormatType::UINT16:
            return load<uint16_t>(base, index);
        case FormatType::INT16:
            return load<int16_t>(base, index);
        case FormatType::INT32:
            return load<int32_t>(base, index);
        case FormatType::UINT32:
            return load<uint32_t>(base, index);
        case FormatType::INT64:
            return static_cast<double>(load<int64_t>(base, index));
        case FormatType::UINT64:
            return static_cast<double>(load<uint64_t>(base, index));
        case FormatType::FLOAT32:
            return load<float>(base, index);
        case FormatType::FLOAT64:
            return load<double>(base, index);
        case FormatType::FLOAT16:
            return common::half_to_float(load<uint16_t>(base, index));
        case FormatType::BFLOAT16:
            return common::bfloat16_to_float(load<uint16_t>(base, index));
        case FormatType::AUTO:
        case FormatType::STRING:
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
        case FormatType::BOOL:
            base[index] = value != 0.0 ? 1 : 0;
            break;
        case FormatType::INT8:
            store(base, index, static_cast<int8_t>(value));
            break;
        case FormatType::UINT16:
            store(base, index, static_cast<uint16_t>(value));
            break;
        case FormatType::INT16:
            store(base, index, static_cast<int16_t>(value));
            break;
        case FormatType::INT32:
            store(base, index, static_cast<int32_t>(value));
            break;
        case FormatType::UINT32:
            store(base, index, static_cast<uint32_t>(value));
            break;
        case FormatType::INT64:
            // 2^63 is the nearest double above INT64_MAX: saturate instead of overflowing.
            store(base, index,
                  value >= 9223372036854775807.0 ? std::numeric_limits<int64_t>::max()
                                                 : static_cast<int64_t>(value));
            break;
        case FormatType::UINT64:
            store(base, index,
                  value >= 18446744073709551615.0 ? std::numeric_limits<uint64_t>::max()
                                                  : static_cast<uint64_t>(value));
            break;
        case FormatType::FLOAT32:
            store(base, index, static_cast<float>(value));
            break;
        case FormatType::FLOAT64:
            store(base, index, value);
            break;
        case FormatType::FLOAT16:
            store(base, index, common::float_to_half(static_cast<float>(value)));
            break;
        case FormatType::BFLOAT16:
            store(base, index, common::float_to_bfloat16(static_cast<float>(value)));
            break;
        case FormatType::AUTO:
        case FormatType::STRING:
            break;
    }
}

double saturate(double value, FormatType type) {
    const TypeRange range = range_of(type);
    if (value < range.min) return range.min;
    if (value > range.max) return range.max;
    return value;
}

double convert_value(double value, FormatType from, FormatType to, const QuantInfo& quant) {
    if (to == FormatType::BOOL) return value != 0.0 ? 1.0 : 0.0;
    if (is_float_type(from) == is_float_type(to)) {
        if (is_float_type(to)) return value;
        return saturate(value, to);  // integer -> integer: values are already integral
    }
    if (is_float_type(from)) return quantize_value(value, quant, to);
    return dequantize_value(value, quant);
}

// Half <-> float32 without quantization, the common case of a user binding FLOAT32 buffers to
// a half-precision model: bulk conversion (F16C where the CPU has it). False when not that case.
bool convert_half_precision(const uint8_t* in, FormatType from, uint8_t* out, FormatType to,
                            size_t count) {
    // The bulk routines take typed pointers; user buffers carry no alignment promise, so they
    // are used only when both buffers are aligned for their element types.
    const bool aligned =
        reinterpret_cast<uintptr_t>(in) % 4 == 0 && reinterpret_cast<uintptr_t>(out) % 4 == 0;
    if (!aligned) return false;
    if (from == FormatType::FLOAT16 && to == FormatType::FLOAT32) {
        common::halves_to_floats(reinterpret_cast<const uint16_t*>(in),
                                 reinterpret_cast<float*>(out), count);
    } else if (from == FormatType::FLOAT32 && to == FormatType::FLOAT16) {
        common::floats_to_halves(reinterpret_cast<const float*>(in),
                                 reinterpret_cast<uint16_t*>(out), count);
    } else if (from == FormatType::BFLOAT16 && to == FormatType::FLOAT32) {
        common::bfloat16s_to_floats(reinterpret_cast<const uint16_t*>(in),
                                    reinterpret_cast<float*>(out), count);
    } else if (from == FormatType::FLOAT32 && to == FormatType::BFLOAT16) {
        common::floats_to_bfloat16s(reinterpret_cast<const float*>(in),
                                    reinterpret_cast<uint16_t*>(out), count);
    } else {
        return false;
    }
    return true;
}

// A layout's dims must give it a size: none negative (unresolved), and their product times the
// element size within size_t.
Status check_frame_dims(const FrameLayout& layout, const char* which) {
    size_t count = 1;
    for (const int64_t dim : layout.dims) {
        if (dim < 0) {
            return Status(StatusCode::INVALID_ARGUMENT,
                          std::string("format conversion ") + which + " dims " +
                              shape_text(layout.dims) +
                              " hold a negative (unresolved) dimension; give the stream its "
                              "shape (set_shape) first");
        }
        size_t bytes = 0;
        if (__builtin_mul_overflow(count, static_cast<size_t>(dim), &count) ||
            __builtin_mul_overflow(count, format_type_size(layout.type), &bytes)) {
            return Status(StatusCode::INVALID_ARGUMENT, std::string("format conversion ") + which +
                                                            " dims " + shape_text(layout.dims) +
                                                            " hold more bytes than memory can");
        }
    }
    return Status::ok();
}

bool is_image_reorder(const FrameLayout& a, const FrameLayout& b) {
    return a.dims.size() == 4 && a.order != b.order &&
           ((a.order == FormatOrder::NHWC && b.order == FormatOrder::NCHW) ||
            (a.order == FormatOrder::NCHW && b.order == FormatOrder::NHWC));
}

}  // namespace

bool is_float_type(FormatType type) {
    return type == FormatType::FLOAT32 || type == FormatType::FLOAT16 ||
           type == FormatType::BFLOAT16 || type == FormatType::FLOAT64;
}

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
    // Sizes from the dims, checked: FrameLayout::byte_size() takes a negative dimension as 0
    // and wraps on overflow, and either would let a buffer of the wrong size pass the size
    // check below while the loops run over the dims (found by tests/fuzz/convert_frame_fuzz).
    CORUN_RETURN_IF_ERROR(check_frame_dims(source_layout, "source"));
    CORUN_RETURN_IF_ERROR(check_frame_dims(target_layout, "target"));
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
    // A NaN or infinite zero point makes quantized values NaN, and casting NaN to an integer
    // type is undefined behaviour.
    if (!std::isfinite(quant.zero_point)) {
        return Status(StatusCode::INVALID_ARGUMENT,
                      "quantization zero point " + std::to_string(quant.zero_point) +
                          " cannot convert values; the model's quant info is invalid");
    }
    // The transpose walks the target's four dims; a target of another rank has none to walk.
    if (is_image_reorder(source_layout, target_layout) && target_layout.dims.size() != 4) {
        return Status(
            StatusCode::INVALID_ARGUMENT,
            std::string("format conversion from ") + format_order_name(source_layout.order) + " " +
                shape_text(source_layout.dims) + " to " + format_order_name(target_layout.order) +
                " " + shape_text(target_layout.dims) +
                ": a transpose between NHWC and NCHW needs rank-4 dims on both sides");
    }
    // An empty frame has nothing to convert, and its buffers may be null (memcpy's arguments
    // must not be, whatever the size). Returning here also keeps the transpose from walking
    // dims such as {2^30, 0, 0, 0} element by element for nothing (found by convert_frame_fuzz).
    if (count == 0) return Status::ok();
    const auto* in = static_cast<const uint8_t*>(source);
    auto* out = static_cast<uint8_t*>(target);
    const FormatType from = source_layout.type;
    const FormatType to = target_layout.type;

    if (!is_image_reorder(source_layout, target_layout)) {
        if (from == to) {
            std::memcpy(out, in, source_bytes);
            return Status::ok();
        }
        if (quant.is_identity() && convert_half_precision(in, from, out, to, count)) {
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
