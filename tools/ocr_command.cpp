// `corun ocr IMAGE`: the text lines in an image with PaddleOCR's PP-OCRv4 models (text
// detection -> angle classification -> recognition), each with its confidence and box.
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
#include "tasks/ocr_pipeline.hpp"

namespace corun::tools {
namespace {

struct OcrCommandOptions {
    std::string image;
    std::string models;  // the cache folder scripts/fetch_models.sh fills
    float min_confidence = 0.5f;
    bool no_angle = false;
    int repeat = 1;
    bool json = false;
};

int run_ocr(const OcrCommandOptions& options) {
    const auto paths = tasks::OcrModelPaths::in_cache(model_cache_dir(options.models));
    std::string missing;
    std::vector<std::string> needed = {paths.detector, paths.recognizer, paths.keys};
    if (!options.no_angle) needed.push_back(paths.classifier);
    for (const auto& path : needed) {
        std::error_code error;
        if (!std::filesystem::exists(path, error)) {
            missing += (missing.empty() ? "'" : ", '") + path + "'";
        }
    }
    if (!missing.empty()) {
        return report_error(
            Status(StatusCode::NOT_FOUND,
                   "the OCR model files " + missing +
                       " are missing; run scripts/fetch_models.sh ppocr-det ppocr-rec ppocr-cls "
                       "ppocr-keys, or point --models (or CORUN_CACHE_DIR) at the folder it "
                       "filled"));
    }
    if (options.repeat < 1) {
        return report_error(Status(StatusCode::INVALID_ARGUMENT, "--repeat must be at least 1"));
    }

    auto image = tasks::read_image(options.image);
    if (!image) return report_error(image.status());
    auto vdevice = VDevice::create_shared();
    if (!vdevice) return report_error(vdevice.status());
    tasks::OcrParams params;
    params.classify_angle = !options.no_angle;
    params.min_confidence = options.min_confidence;
    auto pipeline = tasks::OcrPipeline::create(*vdevice, paths, params);
    if (!pipeline) return report_error(pipeline.status());

    // With --repeat, one untimed warm-up run first: ONNX Runtime's first run allocates, and the
    // pipeline configures each new input shape once.
    if (options.repeat > 1) {
        auto warm_up = (*pipeline)->read(*image);
        if (!warm_up) return report_error(warm_up.status());
    }
    std::vector<double> total_ms, detect_ms, classify_ms, recognize_ms;
    std::vector<tasks::TextLine> lines;
    for (int i = 0; i < options.repeat; ++i) {
        tasks::OcrTiming timing;
        const auto start = std::chrono::steady_clock::now();
        auto result = (*pipeline)->read(*image, &timing);
        const auto end = std::chrono::steady_clock::now();
        if (!result) return report_error(result.status());
        total_ms.push_back(std::chrono::duration<double, std::milli>(end - start).count());
        detect_ms.push_back(timing.detect_ms);
        classify_ms.push_back(timing.classify_ms);
        recognize_ms.push_back(timing.recognize_ms);
        lines = result.release();
    }
    const LatencySummary latency = LatencySummary::of(total_ms);
    const double detect_p50 = percentile(detect_ms, 50);
    const double classify_p50 = percentile(classify_ms, 50);
    const double recognize_p50 = percentile(recognize_ms, 50);

    if (options.json) {
        nlohmann::json list = nlohmann::json::array();
        for (const auto& line : lines) {
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
        nlohmann::json out{{"image", options.image},
                           {"width", image->cols},
                           {"height", image->rows},
                           {"models",
                            {{"detector", paths.detector},
                             {"recognizer", paths.recognizer},
                             {"classifier", options.no_angle ? "" : paths.classifier},
                             {"keys", paths.keys}}},
                           {"lines", list}};
        nlohmann::json timing = latency.to_json();
        timing["runs"] = options.repeat;
        timing["stages_p50_ms"] = {{"detect", rounded(detect_p50, 3)},
                                   {"classify", rounded(classify_p50, 3)},
                                   {"recognize", rounded(recognize_p50, 3)}};
        out["latency"] = timing;
        std::cout << out.dump(2) << "\n";
        return 0;
    }

    std::cout << options.image << " (" << image->cols << "x" << image->rows << "): " << lines.size()
              << (lines.size() == 1 ? " line" : " lines") << " read\n";
    for (const auto& line : lines) {
        char text[200];
        std::snprintf(text, sizeof text,
                      "  %.3f  box (%.0f,%.0f) (%.0f,%.0f) (%.0f,%.0f) (%.0f,%.0f)%s  ",
                      line.confidence, line.box[0].x, line.box[0].y, line.box[1].x, line.box[1].y,
                      line.box[2].x, line.box[2].y, line.box[3].x, line.box[3].y,
                      line.rotated ? " upside down" : "");
        std::cout << text << "\"" << line.text << "\"\n";
    }
    char summary[240];
    if (options.repeat > 1) {
        std::snprintf(summary, sizeof summary,
                      "latency over %d runs (file decoding excluded): p50 %.1f ms, p95 %.1f ms, "
                      "mean %.1f ms; stage p50: detect %.1f, classify %.1f, recognize %.1f ms\n",
                      options.repeat, latency.p50, latency.p95, latency.mean, detect_p50,
                      classify_p50, recognize_p50);
    } else {
        std::snprintf(summary, sizeof summary,
                      "latency: %.1f ms (first run; detect %.1f, classify %.1f, recognize "
                      "%.1f ms)\n",
                      latency.p50, detect_p50, classify_p50, recognize_p50);
    }
    std::cout << summary;
    return 0;
}

}  // namespace

void add_ocr_command(CLI::App& app) {
    auto* command = app.add_subcommand(
        "ocr", "Read the text lines in an image with PP-OCRv4 (detection, angle, recognition)");
    static OcrCommandOptions options;
    command->add_option("image", options.image, "Image file (JPEG, PNG, BMP, WebP, ...)")
        ->required();
    command->add_flag("--json", options.json, "Print JSON for scripts");
    command
        ->add_option("--min-confidence", options.min_confidence,
                     "Drop lines read with a lower mean character probability (default 0.5)")
        ->check(CLI::Range(0.0f, 1.0f));
    command->add_flag("--no-angle", options.no_angle,
                      "Skip the angle classifier (all text is upright)");
    command->add_option("--repeat", options.repeat,
                        "Run N times after a warm-up and report latency percentiles");
    command->add_option("--models", options.models,
                        "Folder filled by scripts/fetch_models.sh (default: $CORUN_CACHE_DIR, "
                        "else the checkout's .cache)");
    command->callback([] {
        const int code = run_ocr(options);
        if (code != 0) throw CLI::RuntimeError(code);
    });
}

}  // namespace corun::tools
