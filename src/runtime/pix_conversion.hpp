// YUV 4:2:0 camera frames (corun/pix_buffer.hpp) into 8-bit RGB, the step before a pix buffer
// becomes an input frame in the stream's own format (format_conversion.hpp does the rest).
#pragma once

#include <cstddef>
#include <cstdint>

#include "corun/pix_buffer.hpp"
#include "corun/status.hpp"

namespace corun::runtime {

// The planes' sizes for a height x width frame: Y, then U,V (NV12/NV21) or U and V (I420).
// INVALID_ARGUMENT naming what was expected unless the planes are those (one by one, or all in
// one contiguous plane), the height and width even, and no plane null.
Status check_pix_buffer(const PixBuffer& pix_buffer, size_t height, size_t width);

// Writes height x width x 3 bytes (R, G, B per pixel, row by row) into `rgb`. BT.601 limited
// range in OpenCV's fixed-point arithmetic (COLOR_YUV2RGB_NV12/NV21/I420), so the bytes equal
// cv::cvtColor's. The buffer must have passed check_pix_buffer.
void pix_buffer_to_rgb(const PixBuffer& pix_buffer, size_t height, size_t width, uint8_t* rgb);

// Those RGB bytes as FLOAT32 values 0..255, interleaved (NHWC) or planar (NCHW): a float image
// input is the common case, and the general conversion (format_conversion.hpp) costs about ten
// times more per element (docs/PERFORMANCE.md, "Pix buffers").
void rgb_to_float32(const uint8_t* rgb, size_t height, size_t width, bool planar, float* values);

}  // namespace corun::runtime
