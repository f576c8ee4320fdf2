// Text detection with a DB (differentiable binarization) model such as PP-OCRv4's detector:
// the image -> tensor step before the model, and the probability map -> text boxes step after
// it, both as PaddleOCR does them (DetResizeForTest, NormalizeImage, DBPostProcess,
// sorted_boxes, get_rotate_crop_image), so that its models read the same here.
#pragma once

#include <array>
#include <vector>

#include <opencv2/core.hpp>

#include "corun/expected.hpp"

namespace corun::tasks {

// A text region's corners in image pixels, clockwise from the top left:
// top-left, top-right, bottom-right, bottom-left.
using Quad = std::array<cv::Point2f, 4>;

struct TextBox {
    Quad quad;
    float score = 0.0f;  // mean text probability inside the region before it was expanded
};

struct TextDetectionParams {
    // The longer image side is scaled down to this (never up), then both sides are rounded to
    // multiples of 32 (PaddleOCR's det_limit_type "max", det_limit_side_len 960).
    int max_side = 960;
    float threshold = 0.3f;      // a pixel is text when its probability exceeds this
    float box_threshold = 0.6f;  // a region is kept when its mean probability reaches this
    float unclip_ratio = 1.5f;   // how far a region grows: area * ratio / perimeter
    int max_candidates = 1000;   // regions looked at, at most
    int min_size = 3;            // regions with a shorter side (map pixels) are dropped
};

// The detector's input: one NCHW float frame, with the scale from image to tensor pixels.
struct DetectionInput {
    std::vector<float> tensor;  // [1, 3, height, width]
    int height = 0;
    int width = 0;
    float scale_y = 1.0f;  // tensor height / image height
    float scale_x = 1.0f;
};

// A 3-channel 8-bit image (BGR, as OpenCV decodes it) from an 8-bit gray, BGR or BGRA image.
// INVALID_ARGUMENT for an empty image or another pixel type.
Expected<cv::Mat> to_bgr(const cv::Mat& image);

// Resizes a BGR image (sides multiples of 32, the longer one at most params.max_side) and
// normalises it as PaddleOCR does: channels in BGR order, (v / 255 - mean) / std with
// mean 0.485, 0.456, 0.406 and std 0.229, 0.224, 0.225.
DetectionInput make_detection_input(const cv::Mat& bgr, const TextDetectionParams& params);

// Text boxes from the detector's probability map (one channel, float, the tensor's height x
// width), in the pixels of an image of `image_size`, sorted into reading order.
std::vector<TextBox> boxes_from_probability_map(const cv::Mat& probability, cv::Size image_size,
                                                const TextDetectionParams& params);

// Reading order: top to bottom, and left to right among boxes whose tops are within 10 pixels.
void sort_text_boxes(std::vector<TextBox>& boxes);

// The region of `image` inside `quad`, warped upright (perspective transform). Tall crops
// (height >= 1.5 x width) are turned 90 degrees counter-clockwise, as PaddleOCR does for
// vertical text. The crop's shorter side is capped at `max_short_side` pixels so that a huge
// image cannot make a huge crop.
cv::Mat crop_text_region(const cv::Mat& image, const Quad& quad, int max_short_side = 256);

// Whether the text in a crop (the darker or lighter pixels, whichever are fewer, split with
// Otsu's threshold) reaches the crop's border: the box cut through the glyphs.
bool ink_touches_border(const cv::Mat& crop);

// `quad` grown on every side by `fraction` of its shorter side (the height of its text).
Quad grow_quad(const Quad& quad, float fraction);

}  // namespace corun::tasks
