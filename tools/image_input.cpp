#include "image_input.hpp"

#include <utility>

#include "cli_support.hpp"
#include "tasks/image.hpp"

namespace corun::tools {

Status ImageInput::read(const std::string& path) {
    CORUN_TRY(pixels_, tasks::read_image(path));
    path_ = path;
    return Status::ok();
}

nlohmann::json ImageInput::to_json() const {
    return {{"image", path_}, {"width", pixels_.cols}, {"height", pixels_.rows}};
}

std::string ImageInput::heading() const {
    return path_ + " (" + std::to_string(pixels_.cols) + "x" + std::to_string(pixels_.rows) + ")";
}

TaskCommandText image_command_text(std::string name, std::string description) {
    return {.name = std::move(name),
            .description = std::move(description),
            .input_name = "image",
            .input_help = "Image file (JPEG, PNG, BMP, WebP, ...)",
            .untimed_work = "file decoding"};
}

nlohmann::json box_json(const tasks::Box& box) {
    return {rounded(box.x1, 1), rounded(box.y1, 1), rounded(box.x2, 1), rounded(box.y2, 1)};
}

}  // namespace corun::tools
