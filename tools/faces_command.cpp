// `corun faces IMAGE`: faces in an image with BlazeFace (scores, boxes, six keypoints each), and
// optionally each face's identity embedding (faceres).
#include <chrono>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <iostream>
#include <string>
#include <vector>

#include "cli_support.hpp"
#include "commands.hpp"
#include "tasks/face_detection.hpp"
#include "tasks/face_embedding.hpp"
#include "tasks/image.hpp"

namespace corun::tools {
namespace {

struct FacesOptions {
    std::string image;
    std::string models;  // the cache folder scripts/fetch_models.sh fills
    std::string model;   // an explicit BlazeFace file overrides the cache
    std::string embed_model;
    float threshold = 0.75f;
    float iou = 0.3f;
    bool embed = false;
    int repeat = 1;
    bool json = false;
};

// Face::keypoints in order ("right" is the subject's right).
const char* const KEYPOINT_NAMES[6] = {"right_eye", "left_eye",          "nose_tip",
                                       "mouth",     "right_ear_tragion", "left_ear_tragion"};
// How many leading embedding values the output shows.
constexpr size_t EMBEDDING_PREVIEW = 8;

double elapsed_ms(std::chrono::steady_clock::time_point start) {
    return std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start)
        .count();
}

double norm_of(const std::vector<float>& values) {
    double sum = 0.0;
    for (const float v : values) sum += static_cast<double>(v) * v;
    return std::sqrt(sum);
}

int run_faces(const FacesOptions& options) {
    const std::string cache = model_cache_dir(options.models);
    const std::string model_path =
        options.model.empty() ? tasks::FaceDetector::default_model(cache) : options.model;
    const std::string embed_path = options.embed_model.empty()
                                       ? tasks::FaceEmbedder::default_model(cache)
                                       : options.embed_model;
    std::error_code error;
    if (!std::filesystem::exists(model_path, error)) {
        return report_error(missing_model_file("the BlazeFace model", model_path, "blazeface-256"));
    }
    if (options.embed && !std::filesystem::exists(embed_path, error)) {
        return report_error(missing_model_file("the face embedding model", embed_path, "faceres"));
    }
    if (options.repeat < 1) {
        return report_error(Status(StatusCode::INVALID_ARGUMENT, "--repeat must be at least 1"));
    }

    auto image = tasks::read_image(options.image);
    if (!image) return report_error(image.status());
    auto vdevice = VDevice::create_shared();
    if (!vdevice) return report_error(vdevice.status());
    tasks::FaceDetectorOptions detector_options;
    detector_options.score_threshold = options.threshold;
    detector_options.iou_threshold = options.iou;
    auto detector = tasks::FaceDetector::create(*vdevice, model_path, detector_options);
    if (!detector) return report_error(detector.status());
    std::unique_ptr<tasks::FaceEmbedder> embedder;
    if (options.embed) {
        auto made = tasks::FaceEmbedder::create(*vdevice, embed_path);
        if (!made) return report_error(made.status());
        embedder = made.release();
    }

    // With --repeat, one untimed warm-up run first: ONNX Runtime's first run allocates.
    if (options.repeat > 1) {
        auto warm_up = (*detector)->detect(*image);
        if (!warm_up) return report_error(warm_up.status());
        if (embedder) {
            for (const auto& face : *warm_up) {
                auto vector = embedder->embed(*image, face);
                if (!vector) return report_error(vector.status());
            }
        }
    }
    std::vector<double> detect_ms;
    std::vector<double> embed_ms;  // all faces of one run together
    std::vector<tasks::Face> faces;
    std::vector<std::vector<float>> embeddings;
    for (int i = 0; i < options.repeat; ++i) {
        auto start = std::chrono::steady_clock::now();
        auto result = (*detector)->detect(*image);
        detect_ms.push_back(elapsed_ms(start));
        if (!result) return report_error(result.status());
        faces = result.release();
        if (embedder) {
            embeddings.clear();
            start = std::chrono::steady_clock::now();
            for (const auto& face : faces) {
                auto vector = embedder->embed(*image, face);
                if (!vector) return report_error(vector.status());
                embeddings.push_back(vector.release());
            }
            embed_ms.push_back(elapsed_ms(start));
        }
    }
    const LatencySummary latency = LatencySummary::of(detect_ms);

    if (options.json) {
        nlohmann::json list = nlohmann::json::array();
        for (size_t f = 0; f < faces.size(); ++f) {
            const auto& face = faces[f];
            nlohmann::json keypoints = nlohmann::json::array();
            for (const auto& point : face.keypoints) {
                keypoints.push_back({rounded(point.x, 1), rounded(point.y, 1)});
            }
            nlohmann::json entry{{"score", rounded(face.score, 4)},
                                 {"box",
                                  {rounded(face.box.x1, 1), rounded(face.box.y1, 1),
                                   rounded(face.box.x2, 1), rounded(face.box.y2, 1)}},
                                 {"keypoints", keypoints}};
            if (embedder) {
                const auto& vector = embeddings[f];
                nlohmann::json first = nlohmann::json::array();
                for (size_t i = 0; i < std::min(vector.size(), EMBEDDING_PREVIEW); ++i) {
                    first.push_back(rounded(vector[i], 5));
                }
                entry["embedding"] = {{"dimension", vector.size()},
                                      {"norm", rounded(norm_of(vector), 4)},
                                      {"first", first}};
            }
            list.push_back(entry);
        }
        nlohmann::json out{{"image", options.image},
                           {"width", image->cols},
                           {"height", image->rows},
                           {"model", model_path},
                           {"keypoint_names", KEYPOINT_NAMES},
                           {"faces", list}};
        nlohmann::json timing = latency.to_json();
        timing["runs"] = options.repeat;
        out["latency"] = timing;
        if (embedder) {
            nlohmann::json embed_timing = LatencySummary::of(embed_ms).to_json();
            embed_timing["runs"] = options.repeat;
            out["embedding_model"] = embed_path;
            out["embedding_latency"] = embed_timing;
        }
        std::cout << out.dump(2) << "\n";
        return 0;
    }

    std::cout << options.image << " (" << image->cols << "x" << image->rows << "): " << faces.size()
              << (faces.size() == 1 ? " face" : " faces") << " with score >= " << options.threshold
              << "\n";
    for (size_t f = 0; f < faces.size(); ++f) {
        const auto& face = faces[f];
        const auto& k = face.keypoints;
        char line[320];
        std::snprintf(line, sizeof line,
                      "  %.3f  box x1,y1,x2,y2 = %.0f,%.0f,%.0f,%.0f  eyes (%.0f,%.0f) "
                      "(%.0f,%.0f)  nose (%.0f,%.0f)  mouth (%.0f,%.0f)\n",
                      face.score, face.box.x1, face.box.y1, face.box.x2, face.box.y2, k[0].x,
                      k[0].y, k[1].x, k[1].y, k[2].x, k[2].y, k[3].x, k[3].y);
        std::cout << line;
        if (embedder) {
            const auto& vector = embeddings[f];
            std::snprintf(line, sizeof line, "         embedding: %zu values, norm %.3f, first",
                          vector.size(), norm_of(vector));
            std::cout << line;
            for (size_t i = 0; i < std::min(vector.size(), EMBEDDING_PREVIEW); ++i) {
                std::snprintf(line, sizeof line, " %+.4f", vector[i]);
                std::cout << line;
            }
            std::cout << "\n";
        }
    }
    char summary[200];
    if (options.repeat > 1) {
        std::snprintf(summary, sizeof summary,
                      "detection latency over %d runs (file decoding excluded): p50 %.1f ms, p95 "
                      "%.1f ms, mean %.1f ms\n",
                      options.repeat, latency.p50, latency.p95, latency.mean);
    } else {
        std::snprintf(summary, sizeof summary, "detection latency: %.1f ms (first run)\n",
                      latency.p50);
    }
    std::cout << summary;
    if (embedder) {
        const LatencySummary embed = LatencySummary::of(embed_ms);
        std::snprintf(summary, sizeof summary,
                      "embedding latency (%zu %s): p50 %.1f ms, p95 %.1f ms\n", faces.size(),
                      faces.size() == 1 ? "face" : "faces", embed.p50, embed.p95);
        std::cout << summary;
    }
    return 0;
}

}  // namespace

void add_faces_command(CLI::App& app) {
    auto* command = app.add_subcommand(
        "faces", "Find faces (box, score, eyes/nose/mouth/ears) in an image with BlazeFace");
    static FacesOptions options;
    command->add_option("image", options.image, "Image file (JPEG, PNG, BMP, WebP, ...)")
        ->required();
    command->add_flag("--json", options.json, "Print JSON for scripts");
    command->add_option("--threshold", options.threshold, "Minimum score (default 0.75)")
        ->check(CLI::Range(0.0f, 1.0f));
    command->add_option("--iou", options.iou, "NMS IoU threshold (default 0.3)")
        ->check(CLI::Range(0.0f, 1.0f));
    command->add_flag("--embed", options.embed,
                      "Also compute each face's identity embedding (faceres) and show its size, "
                      "norm and first values");
    command->add_option("--repeat", options.repeat,
                        "Run N times after a warm-up and report latency percentiles");
    command->add_option("--models", options.models,
                        "Folder filled by scripts/fetch_models.sh (default: $CORUN_CACHE_DIR, "
                        "else the checkout's .cache)");
    command->add_option("--model", options.model,
                        "BlazeFace ONNX file (overrides --models; default blazeface-256)");
    command->add_option("--embed-model", options.embed_model,
                        "Face embedding ONNX file for --embed (default faceres)");
    command->callback([] {
        const int code = run_faces(options);
        if (code != 0) throw CLI::RuntimeError(code);
    });
}

}  // namespace corun::tools
