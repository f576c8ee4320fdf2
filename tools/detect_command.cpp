// `corun detect IMAGE`: COCO objects in an image with NanoDet (labels, scores, boxes).
#include <chrono>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <iostream>
#include <string>
#include <vector>

#include "cli_support.hpp"
#include "commands.hpp"
#include "tasks/image.hpp"
#include "tasks/object_detection.hpp"

namespace corun::tools {
namespace {

struct DetectOptions {
    std::string image;
    std::string models;  // the cache folder scripts/fetch_models.sh fills
    std::string model;   // explicit model / labels files override the cache
    std::string labels;
    float threshold = 0.35f;
    float iou = 0.6f;
    bool letterbox = false;
    int repeat = 1;
    bool json = false;
};

int run_detect(const DetectOptions& options) {
    const auto defaults = tasks::ObjectDetectorPaths::in_cache(model_cache_dir(options.models));
    const std::string model_path = options.model.empty() ? defaults.model : options.model;
    const std::string labels_path = options.labels.empty() ? defaults.labels : options.labels;
    std::error_code error;
    if (!std::filesystem::exists(model_path, error)) {
        return report_error(missing_model_file("the NanoDet model", model_path, "nanodet darknet"));
    }
    if (!std::filesystem::exists(labels_path, error)) {
        return report_error(
            missing_model_file("the COCO label file", labels_path, "nanodet darknet"));
    }
    if (options.repeat < 1) {
        return report_error(Status(StatusCode::INVALID_ARGUMENT, "--repeat must be at least 1"));
    }

    auto image = tasks::read_image(options.image);
    if (!image) return report_error(image.status());
    auto vdevice = VDevice::create_shared();
    if (!vdevice) return report_error(vdevice.status());
    tasks::ObjectDetectorOptions detector_options;
    detector_options.score_threshold = options.threshold;
    detector_options.iou_threshold = options.iou;
    detector_options.resize =
        options.letterbox ? tasks::ResizeMode::LETTERBOX : tasks::ResizeMode::STRETCH;
    auto detector =
        tasks::ObjectDetector::create(*vdevice, model_path, labels_path, detector_options);
    if (!detector) return report_error(detector.status());

    // With --repeat, one untimed warm-up run first: ONNX Runtime's first run allocates.
    if (options.repeat > 1) {
        auto warm_up = (*detector)->detect(*image);
        if (!warm_up) return report_error(warm_up.status());
    }
    std::vector<double> latencies_ms;
    std::vector<tasks::Detection> detections;
    for (int i = 0; i < options.repeat; ++i) {
        const auto start = std::chrono::steady_clock::now();
        auto result = (*detector)->detect(*image);
        const auto end = std::chrono::steady_clock::now();
        if (!result) return report_error(result.status());
        latencies_ms.push_back(std::chrono::duration<double, std::milli>(end - start).count());
        detections = result.release();
    }
    const LatencySummary latency = LatencySummary::of(latencies_ms);

    if (options.json) {
        nlohmann::json list = nlohmann::json::array();
        for (const auto& d : detections) {
            list.push_back({{"label", d.label},
                            {"label_id", d.label_id},
                            {"score", rounded(d.score, 4)},
                            {"box",
                             {rounded(d.box.x1, 1), rounded(d.box.y1, 1), rounded(d.box.x2, 1),
                              rounded(d.box.y2, 1)}}});
        }
        nlohmann::json out{{"image", options.image},
                           {"width", image->cols},
                           {"height", image->rows},
                           {"model", model_path},
                           {"detections", list}};
        nlohmann::json timing = latency.to_json();
        timing["runs"] = options.repeat;
        out["latency"] = timing;
        std::cout << out.dump(2) << "\n";
        return 0;
    }
    std::cout << options.image << " (" << image->cols << "x" << image->rows
              << "): " << detections.size() << (detections.size() == 1 ? " object" : " objects")
              << " with score >= " << options.threshold << "\n";
    for (const auto& d : detections) {
        char line[160];
        std::snprintf(line, sizeof line, "  %-14s %.3f  box x1,y1,x2,y2 = %.0f,%.0f,%.0f,%.0f\n",
                      d.label.c_str(), d.score, d.box.x1, d.box.y1, d.box.x2, d.box.y2);
        std::cout << line;
    }
    char summary[160];
    if (options.repeat > 1) {
        std::snprintf(
            summary, sizeof summary,
            "latency over %d runs (file decoding excluded): p50 %.1f ms, p95 %.1f ms, mean "
            "%.1f ms\n",
            options.repeat, latency.p50, latency.p95, latency.mean);
    } else {
        std::snprintf(summary, sizeof summary, "latency: %.1f ms (first run)\n", latency.p50);
    }
    std::cout << summary;
    return 0;
}

}  // namespace

void add_detect_command(CLI::App& app) {
    auto* command =
        app.add_subcommand("detect", "Find COCO objects (80 classes) in an image with NanoDet");
    static DetectOptions options;
    command->add_option("image", options.image, "Image file (JPEG, PNG, BMP, WebP, ...)")
        ->required();
    command->add_flag("--json", options.json, "Print JSON for scripts");
    command->add_option("--threshold", options.threshold, "Minimum score (default 0.35)")
        ->check(CLI::Range(0.0f, 1.0f));
    command->add_option("--iou", options.iou, "NMS IoU threshold, per class (default 0.6)")
        ->check(CLI::Range(0.0f, 1.0f));
    command->add_flag("--letterbox", options.letterbox,
                      "Keep the aspect ratio (pad) instead of stretching to 416x416");
    command->add_option("--repeat", options.repeat,
                        "Run N times after a warm-up and report latency percentiles");
    command->add_option("--models", options.models,
                        "Folder filled by scripts/fetch_models.sh (default: $CORUN_CACHE_DIR, "
                        "else the checkout's .cache)");
    command->add_option("--model", options.model, "NanoDet ONNX file (overrides --models)");
    command->add_option("--labels", options.labels, "Label file, one per line (coco.names)");
    command->callback([] {
        const int code = run_detect(options);
        if (code != 0) throw CLI::RuntimeError(code);
    });
}

}  // namespace corun::tools
