// `corun ocr IMAGE`: the text lines in an image with PaddleOCR's PP-OCRv4 models (text
// detection -> angle classification -> recognition), each with its confidence and box.
#include <CLI/CLI.hpp>

#include <cstdio>
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "cli_support.hpp"
#include "commands.hpp"
#include "image_input.hpp"
#include "task_command.hpp"
#include "tasks/ocr_pipeline.hpp"

namespace corun::tools {
namespace {

class OcrTask final : public Task {
public:
    OcrTask() { params_.min_confidence = 0.5f; }  // the default --help names

    void add_options(CLI::App& command) override {
        command
            .add_option("--min-confidence", params_.min_confidence,
                        "Drop lines read with a lower mean character probability (default 0.5)")
            ->check(CLI::Range(0.0f, 1.0f));
        command.add_flag("--no-angle", no_angle_,
                         "Skip the angle classifier (all text is upright)");
    }

    // Names every missing file at once: the pipeline needs four from four manifest entries.
    Status find_models(const std::string& cache) override {
        paths_ = tasks::OcrModelPaths::in_cache(cache);
        std::vector<std::string> needed = {paths_.detector, paths_.recognizer, paths_.keys};
        if (!no_angle_) needed.push_back(paths_.classifier);
        std::string missing;
        for (const auto& path : needed) {
            std::error_code error;
            if (!std::filesystem::exists(path, error)) {
                missing += (missing.empty() ? "'" : ", '") + path + "'";
            }
        }
        if (missing.empty()) return Status::ok();
        return Status(StatusCode::NOT_FOUND,
                      "the OCR model files " + missing +
                          " are missing; run scripts/fetch_models.sh ppocr-det ppocr-rec "
                          "ppocr-cls ppocr-keys, or point --models (or CORUN_CACHE_DIR) at the "
                          "folder it filled");
    }

    Status read_input(const std::string& path) override { return image_.read(path); }

    Status create_models(const std::shared_ptr<VDevice>& vdevice) override {
        params_.classify_angle = !no_angle_;
        CORUN_TRY(pipeline_, tasks::OcrPipeline::create(vdevice, paths_, params_));
        return Status::ok();
    }

    // Three stages, as the pipeline times them.
    Status run(StageTimes& stages) override {
        tasks::OcrTiming timing;
        CORUN_TRY(lines_, pipeline_->read(image_.pixels(), &timing));
        stages = {{"detect", timing.detect_ms},
                  {"classify", timing.classify_ms},
                  {"recognize", timing.recognize_ms}};
        return Status::ok();
    }

    nlohmann::json result_json(const TaskTimings&) const override {
        nlohmann::json list = nlohmann::json::array();
        for (const auto& line : lines_) {
            nlohmann::json box = nlohmann::json::array();
            for (const auto& corner : line.box) {
                box.push_back({rounded(corner.x, 1), rounded(corner.y, 1)});
            }
            list.push_back({{"text", line.text},
                            {"confidence", rounded(line.confidence, 4)},
                            {"box", box},
                            {"box_score", rounded(line.box_score, 4)},
                            {"rotated", line.rotated}});
        }
        nlohmann::json out = image_.to_json();
        out["models"] = {{"detector", paths_.detector},
                         {"recognizer", paths_.recognizer},
                         {"classifier", no_angle_ ? "" : paths_.classifier},
                         {"keys", paths_.keys}};
        out["lines"] = list;
        return out;
    }

    void print_result(std::ostream& out) const override {
        out << image_.heading() << ": " << counted(lines_.size(), "line", "lines") << " read\n";
        for (const auto& line : lines_) {
            char text[200];
            std::snprintf(text, sizeof text,
                          "  %.3f  box (%.0f,%.0f) (%.0f,%.0f) (%.0f,%.0f) (%.0f,%.0f)%s  ",
                          line.confidence, line.box[0].x, line.box[0].y, line.box[1].x,
                          line.box[1].y, line.box[2].x, line.box[2].y, line.box[3].x, line.box[3].y,
                          line.rotated ? " upside down" : "");
            out << text << "\"" << line.text << "\"\n";
        }
    }

private:
    tasks::OcrParams params_;
    bool no_angle_ = false;
    tasks::OcrModelPaths paths_;
    ImageInput image_;
    std::unique_ptr<tasks::OcrPipeline> pipeline_;
    std::vector<tasks::TextLine> lines_;
};

}  // namespace

void add_ocr_command(CLI::App& app) {
    add_task_command(
        app,
        image_command_text(
            "ocr", "Read the text lines in an image with PP-OCRv4 (detection, angle, recognition)"),
        std::make_unique<OcrTask>());
}

}  // namespace corun::tools
