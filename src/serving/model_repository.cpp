#include "serving/model_repository.hpp"

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <sstream>

#include <nlohmann/json.hpp>

namespace corun::serving {
namespace {

namespace fs = std::filesystem;
using Json = nlohmann::json;

// config.json is small; a bigger file is not a config.
constexpr uintmax_t MAX_CONFIG_BYTES = 64 * 1024;

Status invalid(const std::string& message) {
    return Status(StatusCode::INVALID_ARGUMENT, message);
}

Expected<uint64_t> unsigned_value(const Json& value, const std::string& key, uint64_t low,
                                  uint64_t high, const std::string& label) {
    if (!value.is_number_unsigned() && !(value.is_number_integer() && value >= 0)) {
        return invalid(label + ": '" + key + "' must be an integer " + std::to_string(low) + ".." +
                       std::to_string(high));
    }
    const uint64_t number = value.get<uint64_t>();
    if (number < low || number > high) {
        return invalid(label + ": '" + key + "' is " + std::to_string(number) + "; it must be " +
                       std::to_string(low) + ".." + std::to_string(high));
    }
    return number;
}

bool is_version_name(const std::string& name) {
    return !name.empty() && name.size() <= 18 &&
           std::all_of(name.begin(), name.end(), [](char c) { return c >= '0' && c <= '9'; });
}

}  // namespace

Expected<ModelConfig> parse_model_config(std::string_view json_text, const std::string& label) {
    Json json;
    try {  // nlohmann reports syntax errors by throwing; nothing leaves this function
        json = Json::parse(json_text);
    } catch (const Json::exception& error) {
        return invalid(label + " is not valid JSON: " + error.what());
    }
    if (!json.is_object()) return invalid(label + " must hold a JSON object");
    ModelConfig config;
    for (const auto& [key, value] : json.items()) {
        if (key == "file") {
            if (!value.is_string() || value.get<std::string>().empty() ||
                value.get<std::string>().find('/') != std::string::npos ||
                value.get<std::string>().starts_with(".")) {
                return invalid(label +
                               ": 'file' must be a file name inside the version folder "
                               "(no '/', not starting with '.')");
            }
            config.file = value.get<std::string>();
        } else if (key == "priority") {
            CORUN_TRY(config.priority, unsigned_value(value, key, 0, 31, label));
        } else if (key == "batch_size") {
            CORUN_TRY(config.batch_size, unsigned_value(value, key, 0, 256, label));
        } else if (key == "latency_slo_ms") {
            CORUN_TRY(config.latency_slo_ms, unsigned_value(value, key, 0, 3'600'000, label));
        } else if (key == "instance_count") {
            CORUN_TRY(config.instance_count, unsigned_value(value, key, 1, 16, label));
        } else if (key == "max_queued_requests") {
            CORUN_TRY(config.max_queued_requests, unsigned_value(value, key, 1, 65536, label));
        } else if (key == "frame_time_limit_ms") {
            CORUN_TRY(config.frame_time_limit_ms, unsigned_value(value, key, 1, 86'400'000, label));
        } else if (key == "placements") {
            if (!value.is_array() || value.empty()) {
                return invalid(label +
                               ": 'placements' must be a non-empty array of devices in order of "
                               "preference, e.g. [\"npu-sim\", \"cpu\"]");
            }
            for (const auto& placement : value) {
                const std::string device =
                    placement.is_string() ? placement.get<std::string>() : "";
                if (device != "npu-sim" && device != "cpu") {
                    return invalid(label + ": 'placements' holds " + placement.dump() +
                                   "; the devices are \"npu-sim\" and \"cpu\"");
                }
                if (std::find(config.placements.begin(), config.placements.end(), device) !=
                    config.placements.end()) {
                    return invalid(label + ": 'placements' names \"" + device +
                                   "\" twice; name each device once");
                }
                config.placements.push_back(device);
            }
        } else if (key == "context_size") {
            CORUN_TRY(config.context_size, unsigned_value(value, key, 0, 1u << 20, label));
        } else if (key == "prefill_chunk_tokens") {
            CORUN_TRY(config.prefill_chunk_tokens, unsigned_value(value, key, 1, 4096, label));
        } else if (key == "threads") {
            CORUN_TRY(config.threads, unsigned_value(value, key, 0, 256, label));
        } else if (key == "versions") {
            if (!value.is_array() || value.empty()) {
                return invalid(label +
                               ": 'versions' must be a non-empty array of version "
                               "numbers");
            }
            for (const auto& version : value) {
                std::string text;
                if (version.is_number_unsigned()) {
                    text = std::to_string(version.get<uint64_t>());
                } else if (version.is_string()) {
                    text = version.get<std::string>();
                }
                if (!is_version_name(text)) {
                    return invalid(label + ": 'versions' must hold version numbers");
                }
                config.versions.push_back(text);
            }
        } else {
            return invalid(label + ": unknown key '" + key +
                           "' (known: file, priority, batch_size, latency_slo_ms, "
                           "instance_count, max_queued_requests, frame_time_limit_ms, versions, "
                           "placements, context_size, prefill_chunk_tokens, threads)");
        }
    }
    return config;
}

bool is_valid_model_name(std::string_view name) {
    if (name.empty() || name.size() > 128 || name.front() == '.') return false;
    return std::all_of(name.begin(), name.end(), [](char c) {
        return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
               c == '_' || c == '-' || c == '.';
    });
}

Expected<std::vector<std::string>> ModelRepository::model_names() const {
    std::error_code error;
    fs::directory_iterator entries(root_, error);
    if (error) {
        return Status(StatusCode::OPEN_FILE_FAILURE,
                      "cannot read the model repository '" + root_ + "': " + error.message());
    }
    std::vector<std::string> names;
    for (const auto& entry : entries) {
        const std::string name = entry.path().filename().string();
        if (entry.is_directory(error) && is_valid_model_name(name)) names.push_back(name);
    }
    std::sort(names.begin(), names.end());
    return names;
}

Expected<RepositoryModel> ModelRepository::resolve(const std::string& name) const {
    if (!is_valid_model_name(name)) {
        return Status(
            StatusCode::INVALID_ARGUMENT,
            "'" + name.substr(0, 128) + "' is not a model name (letters, digits, '_', '-', '.')");
    }
    const fs::path folder = fs::path(root_) / name;
    std::error_code error;
    if (!fs::is_directory(folder, error)) {
        return Status(StatusCode::NOT_FOUND,
                      "the model repository '" + root_ + "' has no model '" + name + "'");
    }
    RepositoryModel model;
    model.name = name;
    const fs::path config_path = folder / "config.json";
    if (fs::exists(config_path, error)) {
        const std::string label = config_path.string();
        const auto size = fs::file_size(config_path, error);
        if (error || size > MAX_CONFIG_BYTES) {
            return invalid(label + " cannot be read or is larger than 64 KiB");
        }
        std::ifstream in(config_path);
        std::stringstream text;
        text << in.rdbuf();
        CORUN_TRY(model.config, parse_model_config(text.str(), label));
    }
    std::vector<std::string> present;
    for (const auto& entry : fs::directory_iterator(folder, error)) {
        const std::string version = entry.path().filename().string();
        if (is_version_name(version) && entry.is_directory(error)) present.push_back(version);
    }
    auto numeric_less = [](const std::string& a, const std::string& b) {
        return std::stoull(a) < std::stoull(b);
    };
    std::sort(present.begin(), present.end(), numeric_less);
    std::vector<std::string> chosen;
    if (model.config.versions.empty()) {
        if (present.empty()) {
            return invalid("model '" + name + "' has no version folder (" + folder.string() +
                           "/1/" + model.config.file + ")");
        }
        chosen.push_back(present.back());
    } else {
        for (const auto& version : model.config.versions) {
            if (std::find(present.begin(), present.end(), version) == present.end()) {
                return invalid("model '" + name + "': config.json lists version " + version +
                               ", which has no folder " + (folder / version).string());
            }
            chosen.push_back(version);
        }
        std::sort(chosen.begin(), chosen.end(), numeric_less);
        chosen.erase(std::unique(chosen.begin(), chosen.end()), chosen.end());
    }
    for (const auto& version : chosen) {
        fs::path file = folder / version / model.config.file;
        if (model.config.file.empty()) {
            // model.onnx, else model.gguf: a generative model needs no config.
            file = folder / version / "model.onnx";
            if (!fs::exists(file, error) &&
                fs::is_regular_file(folder / version / "model.gguf", error)) {
                file = folder / version / "model.gguf";
            }
        }
        if (!fs::is_regular_file(file, error)) {
            return invalid("model '" + name + "' version " + version + " has no model file " +
                           file.string() + (model.config.file.empty() ? " (nor model.gguf)" : ""));
        }
        model.versions.push_back({version, file.string()});
    }
    const ModelFileKind kind = model_file_kind(model.versions.front().path);
    for (const auto& version : model.versions) {
        if (model_file_kind(version.path) != kind) {
            return invalid("model '" + name +
                           "' mixes ONNX and GGUF versions; serve them under two names");
        }
    }
    if (kind == ModelFileKind::GGUF && !model.config.placements.empty()) {
        return invalid("model '" + name +
                       "' is a GGUF LLM: 'placements' is for ONNX models (an LLM runs on the "
                       "shared device)");
    }
    return model;
}

ModelFileKind model_file_kind(std::string_view path) {
    return path.ends_with(".gguf") ? ModelFileKind::GGUF : ModelFileKind::ONNX;
}

}  // namespace corun::serving
