// Formats of the buffers a user binds: element type, dimension order and quantization.
// corun converts between the user's format and the model's native one (see docs/API.md).
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

namespace corun {

// Element type of a stream's buffer. UINT8, UINT16 and FLOAT32 are HailoRT's user types; the
// others exist because ONNX models take them natively (token ids, masks, half-precision
// weights exported for GPUs and NPUs). docs/API.md has the table of ONNX types and the
// conversions corun offers between them.
enum class FormatType {
    AUTO,  // "the model's native type"; resolved when the model is created
    UINT8,
    UINT16,
    FLOAT32,
    INT8,
    INT32,
    INT64,
    FLOAT16,   // IEEE 754 half
    BFLOAT16,  // the upper 16 bits of a float32
    FLOAT64,
    BOOL,  // one byte per element, 0 or 1
    INT16,
    UINT32,
    UINT64,
    // Variable-length elements, laid out as KServe v2's BYTES: each element is a 4-byte
    // little-endian length followed by that many bytes. format_type_size() is 0 for it.
    STRING,
};

// Order of a stream's dimensions. NHWC/NCHW apply to rank-4 image tensors and convert into
// each other; the others describe a tensor and must match the model's native order.
enum class FormatOrder {
    AUTO,  // "the model's native order"
    NHWC,
    NCHW,
    NC,    // rank 2: batch, features
    NHW,   // rank 3
    FLAT,  // any other rank: dimensions taken as the model lists them
};

// How integer values map to real ones: real = (quantized - zero_point) * scale.
// A float stream, or an integer stream the model declares no quantization for, has scale 1
// and zero point 0 (an identity mapping), and `is_identity()` says so.
struct QuantInfo {
    float scale = 1.0f;
    float zero_point = 0.0f;
    float limvals_min = 0.0f;  // the real range the quantized type covers (HailoRT's limvals)
    float limvals_max = 0.0f;

    bool is_identity() const { return scale == 1.0f && zero_point == 0.0f; }
};

struct Format {
    FormatType type = FormatType::AUTO;
    FormatOrder order = FormatOrder::AUTO;
};

const char* format_type_name(FormatType type);     // "UINT8", ...
const char* format_order_name(FormatOrder order);  // "NHWC", ...
size_t format_type_size(FormatType type);          // bytes per element; 0 for AUTO and STRING
// "[1,3,224,224]"; a dynamic (negative) dimension prints as "?".
std::string shape_text(const std::vector<int64_t>& dims);

}  // namespace corun
