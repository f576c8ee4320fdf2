#include "runtime/pix_conversion.hpp"

#include <algorithm>
#include <string>
#include <vector>

namespace corun {

const char* pixel_layout_name(PixelLayout layout) {
    switch (layout) {
        case PixelLayout::NV12:
            return "NV12";
        case PixelLayout::NV21:
            return "NV21";
        case PixelLayout::I420:
            return "I420";
    }
    return "?";
}

}  // namespace corun

namespace corun::runtime {
namespace {

// ITU-R BT.601 YUV -> RGB in 20-bit fixed point: the coefficients OpenCV uses
// (color_yuv.simd.hpp, ITUR_BT_601_*), 1.164 for Y and 1.596, -0.813, -0.391, 2.018 for V and U.
constexpr int SHIFT = 20;
constexpr int HALF = 1 << (SHIFT - 1);
constexpr int COEFF_Y = 1220542;
constexpr int COEFF_V_TO_R = 1673527;
constexpr int COEFF_V_TO_G = -852492;
constexpr int COEFF_U_TO_G = -409993;
constexpr int COEFF_U_TO_B = 2116026;

uint8_t saturate(int value) {
    return static_cast<uint8_t>(std::clamp(value, 0, 255));
}

// Where the samples of each plane start, whether the planes came one by one or in one piece.
struct PlaneStarts {
    const uint8_t* y;
    const uint8_t* first_chroma;   // UV pairs (NV12), VU pairs (NV21), or U (I420)
    const uint8_t* second_chroma;  // V (I420); unused otherwise
};

PlaneStarts plane_starts(const PixBuffer& pix_buffer, size_t height, size_t width) {
    const size_t luma = height * width;
    const size_t chroma = luma / 4;
    auto at = [&](size_t plane) {
        return static_cast<const uint8_t*>(pix_buffer.planes[plane].data);
    };
    if (pix_buffer.planes.size() == 1) {
        return {at(0), at(0) + luma, at(0) + luma + chroma};
    }
    return {at(0), at(1), pix_buffer.planes.size() > 2 ? at(2) : nullptr};
}

std::vector<size_t> plane_sizes(PixelLayout layout, size_t height, size_t width) {
    const size_t luma = height * width;
    if (layout == PixelLayout::I420) return {luma, luma / 4, luma / 4};
    return {luma, luma / 2};
}

std::string sizes_text(const std::vector<size_t>& sizes) {
    std::string text;
    for (size_t size : sizes) text += (text.empty() ? "" : " + ") + std::to_string(size);
    return text;
}

}  // namespace

Status check_pix_buffer(const PixBuffer& pix_buffer, size_t height, size_t width) {
    const std::string what = std::string("set_pix_buffer: a ") +
                             pixel_layout_name(pix_buffer.layout) + " frame of " +
                             std::to_string(width) + "x" + std::to_string(height);
    if (height % 2 != 0 || width % 2 != 0) {
        return Status(StatusCode::INVALID_ARGUMENT,
                      what +
                          " cannot be 4:2:0 (its height and width must be even); bind the "
                          "frame as RGB with set_buffer instead");
    }
    const std::vector<size_t> expected = plane_sizes(pix_buffer.layout, height, width);
    size_t total = 0;
    for (size_t size : expected) total += size;
    const auto& planes = pix_buffer.planes;
    const bool one_by_one = planes.size() == expected.size();
    if (!one_by_one && planes.size() != 1) {
        return Status(StatusCode::INVALID_ARGUMENT,
                      what + " has " + std::to_string(expected.size()) + " planes (" +
                          sizes_text(expected) + " bytes), or one of " + std::to_string(total) +
                          " bytes holding them in order; got " + std::to_string(planes.size()) +
                          " planes");
    }
    for (size_t p = 0; p < planes.size(); ++p) {
        const size_t wanted = one_by_one ? expected[p] : total;
        if (planes[p].data == nullptr || planes[p].size != wanted) {
            return Status(
                StatusCode::INVALID_ARGUMENT,
                what + " needs plane " + std::to_string(p) + " of " + std::to_string(wanted) +
                    " bytes (planes: " + sizes_text(expected) + "); got " +
                    (planes[p].data == nullptr ? std::string("a null plane")
                                               : std::to_string(planes[p].size) + " bytes"));
        }
    }
    return Status::ok();
}

void pix_buffer_to_rgb(const PixBuffer& pix_buffer, size_t height, size_t width, uint8_t* rgb) {
    const PlaneStarts starts = plane_starts(pix_buffer, height, width);
    const size_t chroma_width = width / 2;
    // Per chroma row: where its U and V samples are, and how far apart consecutive ones are.
    const bool interleaved = pix_buffer.layout != PixelLayout::I420;
    const size_t step = interleaved ? 2 : 1;
    const size_t u_offset = pix_buffer.layout == PixelLayout::NV21 ? 1 : 0;
    const size_t v_offset = pix_buffer.layout == PixelLayout::NV12 ? 1 : 0;
    for (size_t row = 0; row < height; ++row) {
        const size_t chroma_row = (row / 2) * chroma_width * step;
        const uint8_t* u_samples = starts.first_chroma + chroma_row + u_offset;
        const uint8_t* v_samples =
            (interleaved ? starts.first_chroma : starts.second_chroma) + chroma_row + v_offset;
        const uint8_t* luma = starts.y + row * width;
        uint8_t* pixel = rgb + row * width * 3;
        // Two pixels share one U,V pair: its three chroma terms are computed once for both.
        for (size_t pair = 0; pair < chroma_width; ++pair) {
            const int u = int(u_samples[pair * step]) - 128;
            const int v = int(v_samples[pair * step]) - 128;
            const int red = HALF + COEFF_V_TO_R * v;
            const int green = HALF + COEFF_V_TO_G * v + COEFF_U_TO_G * u;
            const int blue = HALF + COEFF_U_TO_B * u;
            for (size_t half = 0; half < 2; ++half, pixel += 3) {
                const int y = std::max(0, int(luma[2 * pair + half]) - 16) * COEFF_Y;
                pixel[0] = saturate((y + red) >> SHIFT);
                pixel[1] = saturate((y + green) >> SHIFT);
                pixel[2] = saturate((y + blue) >> SHIFT);
            }
        }
    }
}

void rgb_to_float32(const uint8_t* rgb, size_t height, size_t width, bool planar, float* values) {
    const size_t pixels = height * width;
    if (!planar) {
        for (size_t i = 0; i < pixels * 3; ++i) values[i] = rgb[i];
        return;
    }
    for (size_t pixel = 0; pixel < pixels; ++pixel) {
        values[pixel] = rgb[pixel * 3];
        values[pixels + pixel] = rgb[pixel * 3 + 1];
        values[2 * pixels + pixel] = rgb[pixel * 3 + 2];
    }
}

}  // namespace corun::runtime
