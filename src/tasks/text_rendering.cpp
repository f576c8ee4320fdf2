#include "tasks/text_rendering.hpp"

#include <sys/stat.h>

#include <algorithm>

#include <opencv2/freetype.hpp>
#include <opencv2/imgproc.hpp>

namespace corun::tasks {

Expected<cv::Mat> render_text_lines(const std::vector<std::string>& lines, int font_height,
                                    int margin, const std::string& font) {
    struct stat info {};
    if (stat(font.c_str(), &info) != 0) {
        return Status(StatusCode::NOT_FOUND,
                      "font '" + font + "' is missing; apt-get install fonts-dejavu-core");
    }
    if (lines.empty() || font_height < 4 || font_height > 512 || margin < 0) {
        return Status(StatusCode::INVALID_ARGUMENT,
                      "render_text_lines needs at least one line, a font height of 4..512 "
                      "pixels and a margin >= 0");
    }
    auto renderer = cv::freetype::createFreeType2();
    renderer->loadFontData(font, 0);
    int width = 0;
    const int line_step = font_height * 2;
    for (const auto& line : lines) {
        int baseline = 0;
        width = std::max(width, renderer->getTextSize(line, font_height, -1, &baseline).width);
    }
    cv::Mat image(2 * margin + line_step * static_cast<int>(lines.size()), width + 2 * margin,
                  CV_8UC3, cv::Scalar::all(255));
    for (size_t i = 0; i < lines.size(); ++i) {
        const cv::Point baseline_left(margin,
                                      margin + line_step * static_cast<int>(i) + font_height);
        renderer->putText(image, lines[i], baseline_left, font_height, cv::Scalar::all(0), -1,
                          cv::LINE_AA, true);
    }
    return image;
}

}  // namespace corun::tasks
