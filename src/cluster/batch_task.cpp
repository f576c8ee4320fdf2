#include "cluster/batch_task.hpp"

#include <cmath>
#include <filesystem>

#include "cluster/content_hash.hpp"
#include "tasks/face_detection.hpp"
#include "tasks/face_embedding.hpp"
#include "tasks/object_detection.hpp"
#include "tasks/ocr_pipeline.hpp"
#include "tasks/voice_activity.hpp"

namespace corun::cluster {
namespace {

// The length of the model version: 64 bits of the files' SHA-256 tell versions apart.
constexpr size_t VERSION_DIGITS = 16;

struct TaskModels {
    InputKind kind;
    std::string model;
    std::vector<std::string> files;
    std::string fetch_entries;  // what scripts/fetch_models.sh takes to fetch them
};

Expected<TaskModels> models_of(const std::string& name, const std::string& cache) {
    if (name == "detect") {
        const auto paths = tasks::ObjectDetectorPaths::in_cache(cache);
        return TaskModels{
            InputKind::IMAGE, "nanodet", {paths.model, paths.labels}, "nanodet darknet"};
    }
    if (name == "ocr") {
        const auto paths = tasks::OcrModelPaths::in_cache(cache);
        return TaskModels{InputKind::IMAGE,
                          "ppocr-v4",
                          {paths.detector, paths.recognizer, paths.classifier, paths.keys},
                          "ppocr-det ppocr-rec ppocr-cls ppocr-keys"};
    }
    if (name == "faces") {
        return TaskModels{
            InputKind::IMAGE,
            "blazeface-256+faceres",
            {tasks::FaceDetector::default_model(cache), tasks::FaceEmbedder::default_model(cache)},
            "blazeface-256 faceres"};
    }
    if (name == "vad") {
        return TaskModels{InputKind::AUDIO,
                          "silero-vad-v5",
                          {tasks::VoiceActivityDetector::default_model(cache)},
                          "silero-vad"};
    }
    return Status(StatusCode::INVALID_ARGUMENT,
                  "unknown task '" + name + "'; the batch tasks are detect, ocr, faces and vad");
}

}  // namespace

const std::vector<std::string>& batch_task_names() {
    static const std::vector<std::string> names = {"detect", "ocr", "faces", "vad"};
    return names;
}

bool is_batch_task_name(const std::string& name) {
    for (const auto& known : batch_task_names()) {
        if (known == name) return true;
    }
    return false;
}

InputKind batch_task_input_kind(const std::string& name) {
    if (name == "vad") return InputKind::AUDIO;
    return is_batch_task_name(name) ? InputKind::IMAGE : InputKind::UNKNOWN;
}

Expected<TaskDefinition> define_batch_task(const std::string& name, const std::string& cache) {
    CORUN_TRY(const TaskModels models, models_of(name, cache));
    std::string missing;
    for (const auto& file : models.files) {
        std::error_code error;
        if (!std::filesystem::is_regular_file(file, error)) {
            missing += (missing.empty() ? "'" : ", '") + file + "'";
        }
    }
    if (!missing.empty()) {
        return Status(StatusCode::NOT_FOUND,
                      "the " + name + " task's model files " + missing +
                          " are missing; run scripts/fetch_models.sh " + models.fetch_entries +
                          ", or point --models (or CORUN_CACHE_DIR) at the folder it filled");
    }
    std::string hashes;
    for (const auto& file : models.files) {
        CORUN_TRY(const std::string hash, file_sha256_hex(file));
        hashes += hash;
    }
    const std::string combined =
        sha256_hex(std::span(reinterpret_cast<const uint8_t*>(hashes.data()), hashes.size()));
    return TaskDefinition{name, models.kind, models.model, models.files,
                          combined.substr(0, VERSION_DIGITS)};
}

Expected<std::unique_ptr<BatchTask>> create_batch_task(const TaskDefinition& definition,
                                                       const std::shared_ptr<VDevice>& vdevice) {
    if (definition.name == "detect") return create_detect_batch_task(definition, vdevice);
    if (definition.name == "ocr") return create_ocr_batch_task(definition, vdevice);
    if (definition.name == "faces") return create_faces_batch_task(definition, vdevice);
    if (definition.name == "vad") return create_vad_batch_task(definition, vdevice);
    return Status(StatusCode::INVALID_ARGUMENT, "unknown task '" + definition.name + "'");
}

double rounded_value(double value, int digits) {
    const double scale = std::pow(10.0, digits);
    return std::round(value * scale) / scale;
}

nlohmann::json box_json(float x1, float y1, float x2, float y2) {
    return {rounded_value(x1, 1), rounded_value(y1, 1), rounded_value(x2, 1), rounded_value(y2, 1)};
}

std::vector<const TaskDefinition*> tasks_for_input(const std::vector<TaskDefinition>& tasks,
                                                   InputKind kind) {
    std::vector<const TaskDefinition*> matching;
    for (const auto& task : tasks) {
        if (task.kind == kind) matching.push_back(&task);
    }
    if (!matching.empty()) return matching;
    for (const auto& task : tasks) matching.push_back(&task);
    return matching;
}

}  // namespace corun::cluster
