// Images for vision models: decoding files and bytes safely, resizing and letterboxing, and
// turning pixels into the float tensor a model takes. Images are cv::Mat in OpenCV's own
// convention (8-bit, 3 channels, BGR order), so OpenCV routines apply to them directly; the
// tensor step swaps to RGB when the model wants it.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include <opencv2/core.hpp>

#include "corun/expected.hpp"

namespace corun::tasks {

// Decoding refuses anything larger before it allocates pixels: a 64 MP image decodes to
// 192 MB, and an image whose header claims 100000 x 100000 pixels would need 30 GB.
constexpr uint64_t MAX_IMAGE_PIXELS = 64ull * 1000 * 1000;
constexpr uint64_t MAX_IMAGE_FILE_BYTES = 256ull * 1024 * 1024;

struct ImageLimits {
    uint64_t max_pixels = MAX_IMAGE_PIXELS;
    uint64_t max_file_bytes = MAX_IMAGE_FILE_BYTES;
};

// What an image file's header says, read without decoding any pixels.
struct ImageHeader {
    std::string format;  // "PNG", "JPEG", "BMP", "WebP", "PNM", "TIFF"
    int width = 0;
    int height = 0;
};

// Reads the format and size from the first bytes of an encoded image. Supported formats:
// PNG, JPEG, BMP, WebP, PNM (PBM/PGM/PPM) and TIFF. INVALID_ARGUMENT for empty input or a
// damaged header; NOT_SUPPORTED for data that is no image in these formats.
Expected<ImageHeader> read_image_header(std::span<const uint8_t> bytes);

// Decodes an image (8-bit BGR, 3 channels; gray, alpha and 16-bit images are converted;
// EXIF orientation applied). Refuses images above `limits.max_pixels` twice: from the header
// before decoding, and, under a DecodePixelLimit, from the size the decoder itself reads, so a
// header that says one size to us and another to the decoder (a TIFF with repeated size tags)
// cannot pass. Either refusal is INVALID_ARGUMENT naming the size and the limit.
Expected<cv::Mat> decode_image(std::span<const uint8_t> bytes, const ImageLimits& limits = {});

// While it lives, every cv::Mat allocated on this thread with more than `max_pixels` elements
// (the product of its dimensions, channels not counted) fails: cv::Mat::create throws before
// any memory is taken. It works by putting an allocator in front of cv::Mat's default one (once
// per process; it changes nothing for other threads or outside a DecodePixelLimit). Scopes may
// nest; the innermost limit applies.
class DecodePixelLimit {
public:
    explicit DecodePixelLimit(uint64_t max_pixels);
    ~DecodePixelLimit();
    DecodePixelLimit(const DecodePixelLimit&) = delete;
    DecodePixelLimit& operator=(const DecodePixelLimit&) = delete;

private:
    uint64_t previous_;
};
// As decode_image, reading a file (at most `limits.max_file_bytes`). Errors name the path.
Expected<cv::Mat> read_image(const std::string& path, const ImageLimits& limits = {});

// Resizes to exactly width x height (aspect ratio not kept): area averaging when shrinking,
// bilinear when enlarging.
Expected<cv::Mat> resize_image(const cv::Mat& image, int width, int height);

// An image scaled to fit a model input with its aspect ratio kept, and padded.
// model = image * scale + offset, per axis; to_image_* maps model pixels back.
struct Letterbox {
    cv::Mat image;  // exactly the requested width x height
    float scale = 1.0f;
    float offset_x = 0.0f;  // padding left of the image, in model pixels
    float offset_y = 0.0f;  // padding above the image
    float to_image_x(float model_x) const { return (model_x - offset_x) / scale; }
    float to_image_y(float model_y) const { return (model_y - offset_y) / scale; }
};

// Fits `image` into width x height: centred when `centre`, else in the top-left corner,
// padding with `pad` (BGR). A 1x1 image becomes a block of one colour.
Expected<Letterbox> letterbox(const cv::Mat& image, int width, int height, bool centre = true,
                              cv::Scalar pad = cv::Scalar(0, 0, 0));

enum class TensorLayout { NCHW, NHWC };
enum class ChannelOrder { RGB, BGR };

// value = (pixel * scale - mean[c]) / std[c], with c in the model's channel order.
struct PixelNormalization {
    ChannelOrder order = ChannelOrder::RGB;
    float scale = 1.0f / 255.0f;
    std::array<float, 3> mean{0.0f, 0.0f, 0.0f};
    std::array<float, 3> std{1.0f, 1.0f, 1.0f};

    static PixelNormalization unit() { return {}; }  // RGB in [0, 1]
    static PixelNormalization symmetric() {          // RGB in [-1, 1]
        return {ChannelOrder::RGB, 1.0f / 127.5f, {1.0f, 1.0f, 1.0f}, {1.0f, 1.0f, 1.0f}};
    }
    static PixelNormalization imagenet() {
        return {
            ChannelOrder::RGB, 1.0f / 255.0f, {0.485f, 0.456f, 0.406f}, {0.229f, 0.224f, 0.225f}};
    }
};

// The float tensor of one 8-bit image (1 or 3 channels; a 1-channel image gives 1 channel),
// written into `out`, which must hold exactly channels x height x width floats.
Status image_to_tensor(const cv::Mat& image, TensorLayout layout, const PixelNormalization& norm,
                       std::span<float> out);
Expected<std::vector<float>> image_to_tensor(const cv::Mat& image, TensorLayout layout,
                                             const PixelNormalization& norm);

}  // namespace corun::tasks
