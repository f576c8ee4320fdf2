// Camera frames in planar YUV 4:2:0, as V4L2, libcamera and GStreamer pipelines produce them,
// bound to an image input with Bindings::InferStream::set_pix_buffer(): corun converts the frame
// to the stream's own format (its RGB channels, type and order) when it is set. HailoRT's
// hailo_pix_buffer_t, with the layout named rather than implied by a compiled model.
#pragma once

#include <cstddef>
#include <vector>

namespace corun {

// How the Y, U and V samples of a 4:2:0 frame (U and V at half the width and half the height)
// are laid out.
enum class PixelLayout {
    NV12,  // a Y plane, then one plane of interleaved U,V pairs
    NV21,  // a Y plane, then one plane of interleaved V,U pairs
    I420,  // a Y plane, a U plane, a V plane
};

// "NV12", "NV21", "I420".
const char* pixel_layout_name(PixelLayout layout);

// One plane of a frame: rows of samples with no padding between them. corun only reads it.
struct PixPlane {
    const void* data = nullptr;
    size_t size = 0;  // bytes in use
};

// A frame of the input's height and width (no scaling), in one of the layouts. The planes are
// given one by one (NV12/NV21: 2, I420: 3) or as one contiguous plane holding them all in order.
// Colours are BT.601 limited range ("TV range": Y 16..235), converted to RGB exactly as
// OpenCV's COLOR_YUV2RGB_NV12/NV21/I420 does.
struct PixBuffer {
    PixelLayout layout = PixelLayout::NV12;
    std::vector<PixPlane> planes;
};

}  // namespace corun
