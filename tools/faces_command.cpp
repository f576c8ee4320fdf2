// `corun faces IMAGE`: faces in an image with BlazeFace (scores, boxes, six keypoints each), and
// optionally each face's identity embedding (faceres).
#include <CLI/CLI.hpp>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <memory>
#include <string>
#include <vector>

#include "cli_support.hpp"
#include "commands.hpp"
#include "image_input.hpp"
#include "task_command.hpp"
#include "tasks/face_detection.hpp"
#include "tasks/face_embedding.hpp"

namespace corun::tools {
namespace {

// Face::keypoints in order ("right" is the subject's right).
const char* const KEYPOINT_NAMES[6] = {"right_eye", "left_eye",          "nose_tip",
                                       "mouth",     "right_ear_tragion", "left_ear_tragion"};
// How many leading embedding values the output shows.
constexpr size_t EMBEDDING_PREVIEW = 8;

double norm_of(const std::vector<float>& values) {
    double sum = 0.0;
    for (const float v : values) sum += static_cast<double>(v) * v;
    return std::sqrt(sum);
}

class FacesTask final : public Task {
public:
    void add_options(CLI::App& command) override {
        command.add_option("--threshold", options_.score_threshold, "Minimum score (default 0.75)")
            ->check(CLI::Range(0.0f, 1.0f));
        command.add_option("--iou", options_.iou_threshold, "NMS IoU threshold (default 0.3)")
            ->check(CLI::Range(0.0f, 1.0f));
        command.add_flag("--embed", embed_,
                         "Also compute each face's identity embedding (faceres) and show its "
                         "size, norm and first values");
        command.add_option("--model", model_path_,
                           "BlazeFace ONNX file (overrides --models; default blazeface-256)");
        command.add_option("--embed-model", embed_path_,
                           "Face embedding ONNX file for --embed (default faceres)");
    }

    Status find_models(const std::string& cache) override {
        if (model_path_.empty()) model_path_ = tasks::FaceDetector::default_model(cache);
        if (embed_path_.empty()) embed_path_ = tasks::FaceEmbedder::default_model(cache);
        CORUN_RETURN_IF_ERROR(
            require_model_file("the BlazeFace model", model_path_, "blazeface-256"));
        if (!embed_) return Status::ok();
        return require_model_file("the face embedding model", embed_path_, "faceres");
    }

    Status read_input(const std::string& path) override { return image_.read(path); }

    Status create_models(const std::shared_ptr<VDevice>& vdevice) override {
        CORUN_TRY(detector_, tasks::FaceDetector::create(vdevice, model_path_, options_));
        if (!embed_) return Status::ok();
        CORUN_TRY(embedder_, tasks::FaceEmbedder::create(vdevice, embed_path_));
        return Status::ok();
    }

    // With --embed, two stages: the detection and the embeddings of all its faces together.
    Status run(StageTimes& stages) override {
        auto start = std::chrono::steady_clock::now();
        CORUN_TRY(faces_, detector_->detect(image_.pixels()));
        if (!embedder_) return Status::ok();
        stages.emplace_back("detect", elapsed_ms(start));
        start = std::chrono::steady_clock::now();
        embeddings_.clear();
        for (const auto& face : faces_) {
            CORUN_TRY(auto vector, embedder_->embed(image_.pixels(), face));
            embeddings_.push_back(std::move(vector));
        }
        stages.emplace_back("embed", elapsed_ms(start));
        return Status::ok();
    }

    nlohmann::json result_json(const TaskTimings& timings) const override {
        nlohmann::json list = nlohmann::json::array();
        for (size_t f = 0; f < faces_.size(); ++f) {
            const auto& face = faces_[f];
            nlohmann::json keypoints = nlohmann::json::array();
            for (const auto& point : face.keypoints) {
                keypoints.push_back({rounded(point.x, 1), rounded(point.y, 1)});
            }
            nlohmann::json entry{{"score", rounded(face.score, 4)},
                                 {"box", box_json(face.box)},
                                 {"keypoints", keypoints}};
            if (embedder_) entry["embedding"] = embedding_json(embeddings_[f]);
            list.push_back(entry);
        }
        nlohmann::json out = image_.to_json();
        out["model"] = model_path_;
        out["keypoint_names"] = KEYPOINT_NAMES;
        out["faces"] = list;
        if (embedder_) {
            // Kept from before the embedding was a stage of "latency": the embeddings' whole
            // summary, not only their p50.
            nlohmann::json embed_timing = LatencySummary::of(timings.stage("embed")).to_json();
            embed_timing["runs"] = timings.runs();
            out["embedding_model"] = embed_path_;
            out["embedding_latency"] = embed_timing;
        }
        return out;
    }

    void print_result(std::ostream& out) const override {
        out << image_.heading() << ": " << counted(faces_.size(), "face", "faces")
            << " with score >= " << options_.score_threshold << "\n";
        for (size_t f = 0; f < faces_.size(); ++f) {
            const auto& face = faces_[f];
            const auto& k = face.keypoints;
            char line[320];
            std::snprintf(line, sizeof line,
                          "  %.3f  box x1,y1,x2,y2 = %.0f,%.0f,%.0f,%.0f  eyes (%.0f,%.0f) "
                          "(%.0f,%.0f)  nose (%.0f,%.0f)  mouth (%.0f,%.0f)\n",
                          face.score, face.box.x1, face.box.y1, face.box.x2, face.box.y2, k[0].x,
                          k[0].y, k[1].x, k[1].y, k[2].x, k[2].y, k[3].x, k[3].y);
            out << line;
            if (!embedder_) continue;
            const auto& vector = embeddings_[f];
            std::snprintf(line, sizeof line, "         embedding: %zu values, norm %.3f, first",
                          vector.size(), norm_of(vector));
            out << line;
            for (size_t i = 0; i < std::min(vector.size(), EMBEDDING_PREVIEW); ++i) {
                std::snprintf(line, sizeof line, " %+.4f", vector[i]);
                out << line;
            }
            out << "\n";
        }
    }

private:
    static nlohmann::json embedding_json(const std::vector<float>& vector) {
        nlohmann::json first = nlohmann::json::array();
        for (size_t i = 0; i < std::min(vector.size(), EMBEDDING_PREVIEW); ++i) {
            first.push_back(rounded(vector[i], 5));
        }
        return {
            {"dimension", vector.size()}, {"norm", rounded(norm_of(vector), 4)}, {"first", first}};
    }

    tasks::FaceDetectorOptions options_{.score_threshold = 0.75f, .iou_threshold = 0.3f};
    bool embed_ = false;
    std::string model_path_;  // an explicit BlazeFace file overrides the cache
    std::string embed_path_;
    ImageInput image_;
    std::unique_ptr<tasks::FaceDetector> detector_;
    std::unique_ptr<tasks::FaceEmbedder> embedder_;  // with --embed
    std::vector<tasks::Face> faces_;
    std::vector<std::vector<float>> embeddings_;  // one per face, with --embed
};

}  // namespace

void add_faces_command(CLI::App& app) {
    add_task_command(
        app,
        image_command_text(
            "faces", "Find faces (box, score, eyes/nose/mouth/ears) in an image with BlazeFace"),
        std::make_unique<FacesTask>());
}

}  // namespace corun::tools
