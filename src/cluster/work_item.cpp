#include "cluster/work_item.hpp"

#include <algorithm>
#include <cctype>
#include <cstring>

#include "tasks/image.hpp"

namespace corun::cluster {
namespace {

constexpr const char* UNREAD_PREFIX = "unread:";

std::string lower_extension(const std::string& path) {
    const size_t slash = path.find_last_of('/');
    const size_t dot = path.find_last_of('.');
    if (dot == std::string::npos || (slash != std::string::npos && dot < slash)) return "";
    std::string extension = path.substr(dot + 1);
    std::transform(extension.begin(), extension.end(), extension.begin(),
                   [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
    return extension;
}

void put_optional(nlohmann::json& json, const char* key, const std::optional<double>& value) {
    json[key] = value ? nlohmann::json(*value) : nlohmann::json(nullptr);
}

std::optional<double> get_optional(const nlohmann::json& json, const char* key) {
    if (!json.contains(key) || json[key].is_null()) return std::nullopt;
    return json[key].get<double>();
}

}  // namespace

InputKind input_kind_of_extension(const std::string& path) {
    static const char* const IMAGES[] = {"jpg", "jpeg", "png", "bmp", "webp", "pbm",
                                         "pgm", "ppm",  "pnm", "tif", "tiff"};
    const std::string extension = lower_extension(path);
    for (const char* image : IMAGES) {
        if (extension == image) return InputKind::IMAGE;
    }
    return extension == "wav" ? InputKind::AUDIO : InputKind::UNKNOWN;
}

InputKind input_kind_of_bytes(std::span<const uint8_t> bytes) {
    if (bytes.size() >= 12 && std::memcmp(bytes.data(), "RIFF", 4) == 0 &&
        std::memcmp(bytes.data() + 8, "WAVE", 4) == 0) {
        return InputKind::AUDIO;
    }
    const auto header = tasks::read_image_header(bytes);
    if (header.has_value() || header.status().code() != StatusCode::NOT_SUPPORTED) {
        return bytes.empty() ? InputKind::UNKNOWN : InputKind::IMAGE;
    }
    return InputKind::UNKNOWN;
}

std::string unread_input_key(const std::string& path) {
    return UNREAD_PREFIX + path;
}

bool is_unread_input_key(const std::string& key) {
    return key.rfind(UNREAD_PREFIX, 0) == 0;
}

nlohmann::json to_json(const WorkItem& item) {
    return {{"path", item.path},
            {"content_hash", item.content_hash},
            {"size", item.size},
            {"kind", input_kind_name(item.kind)},
            {"tasks", item.tasks}};
}

Expected<WorkItem> work_item_from_json(const nlohmann::json& json) {
    try {
        WorkItem item;
        item.path = json.at("path").get<std::string>();
        item.content_hash = json.at("content_hash").get<std::string>();
        item.size = json.at("size").get<uint64_t>();
        item.kind = input_kind_from_name(json.at("kind").get<std::string>());
        item.tasks = json.at("tasks").get<std::vector<std::string>>();
        return item;
    } catch (const nlohmann::json::exception& error) {
        return Status(StatusCode::INVALID_ARGUMENT,
                      std::string("a work item's JSON is incomplete: ") + error.what());
    }
}

nlohmann::json to_json(const TaskResult& result) {
    nlohmann::json times{{"decode_ms", result.times.decode_ms},
                         {"total_ms", result.times.total_ms}};
    put_optional(times, "pre_ms", result.times.pre_ms);
    put_optional(times, "infer_ms", result.times.infer_ms);
    put_optional(times, "post_ms", result.times.post_ms);
    nlohmann::json json{{"content_hash", result.content_hash},
                        {"path", result.path},
                        {"size", result.size},
                        {"task", result.task},
                        {"model", result.model},
                        {"model_version", result.model_version},
                        {"status", result.ok() ? "ok" : "error"},
                        {"times", times},
                        {"result", result.result}};
    if (!result.ok()) {
        json["error_kind"] = result.error_kind;
        json["error"] = result.error;
    }
    if (!result.stages.is_null()) json["stages"] = result.stages;
    if (!result.embeddings.empty()) json["embeddings"] = result.embeddings;
    if (!result.node.empty()) json["node"] = result.node;
    return json;
}

Expected<TaskResult> task_result_from_json(const nlohmann::json& json) {
    try {
        TaskResult result;
        result.content_hash = json.at("content_hash").get<std::string>();
        result.path = json.at("path").get<std::string>();
        result.size = json.at("size").get<uint64_t>();
        result.task = json.at("task").get<std::string>();
        result.model = json.at("model").get<std::string>();
        result.model_version = json.at("model_version").get<std::string>();
        if (json.at("status").get<std::string>() != "ok") {
            result.error_kind = json.at("error_kind").get<std::string>();
            result.error = json.at("error").get<std::string>();
        }
        const auto& times = json.at("times");
        result.times.decode_ms = times.at("decode_ms").get<double>();
        result.times.total_ms = times.at("total_ms").get<double>();
        result.times.pre_ms = get_optional(times, "pre_ms");
        result.times.infer_ms = get_optional(times, "infer_ms");
        result.times.post_ms = get_optional(times, "post_ms");
        result.result = json.at("result");
        if (json.contains("stages")) result.stages = json["stages"];
        if (json.contains("embeddings")) {
            result.embeddings = json["embeddings"].get<std::vector<std::vector<float>>>();
        }
        if (json.contains("node")) result.node = json["node"].get<std::string>();
        return result;
    } catch (const nlohmann::json::exception& error) {
        return Status(StatusCode::INVALID_ARGUMENT,
                      std::string("a task result's JSON is incomplete: ") + error.what());
    }
}

}  // namespace corun::cluster
