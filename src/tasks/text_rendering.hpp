// Renders lines of text into an image with a TrueType font (OpenCV's freetype module): the
// demo's and the tests' OCR inputs are made here rather than shipped.
#pragma once

#include <string>
#include <vector>

#include <opencv2/core.hpp>

#include "corun/expected.hpp"

namespace corun::tasks {

constexpr const char* DEFAULT_FONT = "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf";

// Black lines on white, `font_height` pixels high, `margin` pixels around them. NOT_FOUND
// naming the package when the font is missing.
Expected<cv::Mat> render_text_lines(const std::vector<std::string>& lines, int font_height = 36,
                                    int margin = 24, const std::string& font = DEFAULT_FONT);

}  // namespace corun::tasks
