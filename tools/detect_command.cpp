// `corun detect IMAGE`: COCO objects in an image with NanoDet (labels, scores, boxes).
#include <CLI/CLI.hpp>

#include <cstdio>
#include <memory>
#include <string>
#include <vector>

#include "cli_support.hpp"
#include "commands.hpp"
#include "image_input.hpp"
#include "task_command.hpp"
#include "tasks/object_detection.hpp"

namespace corun::tools {
namespace {

class DetectTask final : public Task {
public:
    void add_options(CLI::App& command) override {
        command.add_option("--threshold", options_.score_threshold, "Minimum score (default 0.35)")
            ->check(CLI::Range(0.0f, 1.0f));
        command
            .add_option("--iou", options_.iou_threshold,
                        "NMS IoU threshold, per class (default 0.6)")
            ->check(CLI::Range(0.0f, 1.0f));
        command.add_flag("--letterbox", letterbox_,
                         "Keep the aspect ratio (pad) instead of stretching to 416x416");
        command.add_option("--model", model_path_, "NanoDet ONNX file (overrides --models)");
        command.add_option("--labels", labels_path_, "Label file, one per line (coco.names)");
    }

    Status find_models(const std::string& cache) override {
        // Explicit model / labels files override the cache.
        const auto defaults = tasks::ObjectDetectorPaths::in_cache(cache);
        if (model_path_.empty()) model_path_ = defaults.model;
        if (labels_path_.empty()) labels_path_ = defaults.labels;
        CORUN_RETURN_IF_ERROR(
            require_model_file("the NanoDet model", model_path_, "nanodet darknet"));
        return require_model_file("the COCO label file", labels_path_, "nanodet darknet");
    }

    Status read_input(const std::string& path) override { return image_.read(path); }

    Status create_models(const std::shared_ptr<VDevice>& vdevice) override {
        options_.resize = letterbox_ ? tasks::ResizeMode::LETTERBOX : tasks::ResizeMode::STRETCH;
        CORUN_TRY(detector_,
                  tasks::ObjectDetector::create(vdevice, model_path_, labels_path_, options_));
        return Status::ok();
    }

    Status run(StageTimes&) override {
        CORUN_TRY(detections_, detector_->detect(image_.pixels()));
        return Status::ok();
    }

    nlohmann::json result_json(const TaskTimings&) const override {
        nlohmann::json list = nlohmann::json::array();
        for (const auto& d : detections_) {
            list.push_back({{"label", d.label},
                            {"label_id", d.label_id},
                            {"score", rounded(d.score, 4)},
                            {"box", box_json(d.box)}});
        }
        nlohmann::json out = image_.to_json();
        out["model"] = model_path_;
        out["detections"] = list;
        return out;
    }

    void print_result(std::ostream& out) const override {
        out << image_.heading() << ": " << counted(detections_.size(), "object", "objects")
            << " with score >= " << options_.score_threshold << "\n";
        for (const auto& d : detections_) {
            char line[160];
            std::snprintf(line, sizeof line,
                          "  %-14s %.3f  box x1,y1,x2,y2 = %.0f,%.0f,%.0f,%.0f\n", d.label.c_str(),
                          d.score, d.box.x1, d.box.y1, d.box.x2, d.box.y2);
            out << line;
        }
    }

private:
    tasks::ObjectDetectorOptions options_{.score_threshold = 0.35f, .iou_threshold = 0.6f};
    bool letterbox_ = false;
    std::string model_path_;
    std::string labels_path_;
    ImageInput image_;
    std::unique_ptr<tasks::ObjectDetector> detector_;
    std::vector<tasks::Detection> detections_;
};

}  // namespace

void add_detect_command(CLI::App& app) {
    add_task_command(
        app,
        image_command_text("detect", "Find COCO objects (80 classes) in an image with NanoDet"),
        std::make_unique<DetectTask>());
}

}  // namespace corun::tools
