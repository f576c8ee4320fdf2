// Converting one frame between two formats of the same tensor: element type (with
// quantization), and dimension order (NHWC <-> NCHW). Pure functions, no state.
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

#include "corun/format.hpp"
#include "corun/status.hpp"

namespace corun::runtime {

// A frame's layout: type, order and dims listed in that order.
struct FrameLayout {
    FormatType type = FormatType::FLOAT32;
    FormatOrder order = FormatOrder::FLAT;
    std::vector<int64_t> dims;

    size_t element_count() const;
    size_t byte_size() const { return element_count() * format_type_size(type); }
};

// FLOAT32, FLOAT64, FLOAT16 and BFLOAT16: the types values convert into without quantizing.
bool is_float_type(FormatType type);

// Dims of `dims` (given in `from` order) listed in `to` order. Only NHWC <-> NCHW reorder;
// any other pair returns the dims unchanged.
std::vector<int64_t> reorder_dims(const std::vector<int64_t>& dims, FormatOrder from,
                                  FormatOrder to);

// True when bytes can be used as they are (same type, same order or rank < 4).
bool is_same_layout(const FrameLayout& a, const FrameLayout& b);

// The scalar rules, exposed for tests and docs. ONNX QuantizeLinear semantics:
// q = saturate(round_half_to_even(real / scale) + zero_point); NaN quantizes to zero_point.
double dequantize_value(double quantized, const QuantInfo& quant);
double quantize_value(double real, const QuantInfo& quant, FormatType type);

// Converts one frame. `quant` is the stream's: integer -> FLOAT32 dequantizes with it, FLOAT32 ->
// integer quantizes with it, integer -> integer casts with saturation, FLOAT32 -> FLOAT32 copies.
// Sizes are checked: INVALID_ARGUMENT if a buffer does not match its layout.
Status convert_frame(const void* source, size_t source_bytes, const FrameLayout& source_layout,
                     void* target, size_t target_bytes, const FrameLayout& target_layout,
                     const QuantInfo& quant);

}  // namespace corun::runtime
