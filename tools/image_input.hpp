// The image a task command works on (detect, faces, ocr): decoded once, before the timed runs,
// and named the same way in every such command's output.
#pragma once

#include <string>

#include <nlohmann/json.hpp>
#include <opencv2/core/mat.hpp>

#include "corun/corun.hpp"
#include "task_command.hpp"
#include "tasks/nms.hpp"

namespace corun::tools {

class ImageInput {
public:
    Status read(const std::string& path);

    const cv::Mat& pixels() const { return pixels_; }
    // {"image": PATH, "width": W, "height": H}
    nlohmann::json to_json() const;
    // "PATH (WxH)", the start of the text output's first line.
    std::string heading() const;

private:
    std::string path_;
    cv::Mat pixels_;
};

// How a task command on an image presents itself: the argument "image" (any format OpenCV
// decodes) and decoding as the work its latency leaves out.
TaskCommandText image_command_text(std::string name, std::string description);

// [x1, y1, x2, y2] in image pixels, to a tenth of a pixel.
nlohmann::json box_json(const tasks::Box& box);

}  // namespace corun::tools
