#include "serving/inference_service.hpp"

#include <spdlog/spdlog.h>

namespace corun::serving {

InferenceService::InferenceService(std::shared_ptr<VDevice> vdevice, ModelRepository repository)
    : vdevice_(std::move(vdevice)), repository_(std::move(repository)) {}

InferenceService::~InferenceService() {
    std::map<std::string, ModelEntry> models;
    {
        std::lock_guard lock(mutex_);
        models.swap(models_);
    }
    for (auto& [name, entry] : models) {
        for (auto& [version, served] : entry.versions) served->shutdown();
    }
}

void InferenceService::stop() {
    for (const auto& served : served_models()) served->shutdown();
}

Status InferenceService::load_repository() {
    CORUN_TRY(auto names, repository_.model_names());
    size_t loaded = 0;
    for (const auto& name : names) {
        if (load_model(name).is_ok()) ++loaded;
    }
    spdlog::info("model repository '{}': {} of {} models serve", repository_.root(), loaded,
                 names.size());
    std::lock_guard lock(mutex_);
    ready_ = true;
    return Status::ok();
}

bool InferenceService::ready() const {
    std::lock_guard lock(mutex_);
    return ready_;
}

Status InferenceService::load_model(const std::string& name) {
    std::lock_guard load_lock(load_mutex_);
    auto resolved = repository_.resolve(name);
    ModelEntry entry;
    Status status = resolved.status();
    if (resolved) {
        for (const auto& file : resolved.value().versions) {
            auto served = ServedModel::load(*vdevice_, name, file, resolved.value().config);
            if (!served) {
                status = served.status();
                entry.versions.clear();
                break;
            }
            entry.versions[file.version] = served.release();
            entry.default_version = file.version;
        }
    }
    if (!is_valid_model_name(name)) return status;  // nothing to list under such a name
    std::map<std::string, std::shared_ptr<ServedModel>> replaced;
    {
        std::lock_guard lock(mutex_);
        ModelEntry& slot = models_[name];
        if (status.is_ok()) {
            entry.state = "READY";
            replaced.swap(slot.versions);
            slot = std::move(entry);
        } else if (status.code() == StatusCode::NOT_FOUND && slot.versions.empty()) {
            models_.erase(name);  // neither in the repository nor serving: nothing to list
        } else {
            // A failed reload leaves the loaded versions serving; the index shows the reason.
            slot.reason = status.to_string();
            if (slot.versions.empty()) slot.state = "UNAVAILABLE";
        }
    }
    // The replaced versions are not shut down: requests already inside finish on them, and the
    // last of those frees them.
    replaced.clear();
    if (status.is_ok()) {
        spdlog::info("model '{}' serves (version {})", name, entry.default_version);
    } else {
        spdlog::error("model '{}' failed to load: {}", name, status.to_string());
    }
    return status;
}

Status InferenceService::unload_model(const std::string& name) {
    std::map<std::string, std::shared_ptr<ServedModel>> unloaded;
    {
        std::lock_guard lock(mutex_);
        auto found = models_.find(name);
        if (found == models_.end() || found->second.versions.empty()) {
            return Status(StatusCode::NOT_FOUND, "model '" + name + "' is not loaded");
        }
        unloaded.swap(found->second.versions);
        found->second.default_version.clear();
        found->second.state = "UNAVAILABLE";
        found->second.reason = "unloaded";
    }
    // Requests already inside finish (the last frees the model); new ones get SHUTDOWN.
    unloaded.clear();
    spdlog::info("model '{}' unloaded", name);
    return Status::ok();
}

Expected<std::shared_ptr<ServedModel>> InferenceService::find(const std::string& name,
                                                              const std::string& version) const {
    std::lock_guard lock(mutex_);
    auto found = models_.find(name);
    if (found == models_.end()) {
        return Status(
            StatusCode::NOT_FOUND,
            "unknown model '" + name.substr(0, 128) +
                "'; the repository index lists the models (REST: POST v2/repository/index, "
                "gRPC: RepositoryIndex)");
    }
    const ModelEntry& entry = found->second;
    if (entry.versions.empty()) {
        return Status(StatusCode::SHUTDOWN,
                      "model '" + name + "' is not loaded (" +
                          (entry.reason.empty() ? std::string("unloaded") : entry.reason) + ")");
    }
    const std::string& wanted = version.empty() ? entry.default_version : version;
    auto served = entry.versions.find(wanted);
    if (served == entry.versions.end()) {
        std::string served_versions;
        for (const auto& [number, model] : entry.versions) {
            served_versions += (served_versions.empty() ? "" : ", ") + number;
        }
        return Status(StatusCode::NOT_FOUND, "model '" + name + "' has no version '" +
                                                 version.substr(0, 32) + "' serving; it serves " +
                                                 served_versions);
    }
    return served->second;
}

Expected<InferResponse> InferenceService::infer(const InferRequest& request) {
    CORUN_TRY(auto served, find(request.model_name, request.model_version));
    return served->infer(request);
}

Expected<ModelMetadata> InferenceService::model_metadata(const std::string& name,
                                                         const std::string& version) const {
    CORUN_TRY(auto served, find(name, version));
    ModelMetadata metadata;
    metadata.name = name;
    metadata.platform = "onnxruntime_onnx";
    metadata.inputs = served->inputs();
    metadata.outputs = served->outputs();
    std::lock_guard lock(mutex_);
    if (auto found = models_.find(name); found != models_.end()) {
        for (const auto& [number, model] : found->second.versions)
            metadata.versions.push_back(number);
    }
    return metadata;
}

Status InferenceService::model_ready(const std::string& name, const std::string& version) const {
    return find(name, version).status();
}

std::vector<ModelIndexEntry> InferenceService::repository_index() const {
    std::map<std::string, ModelIndexEntry> index;
    if (auto names = repository_.model_names()) {
        for (const auto& name : names.value())
            index[name] = {name, "", "UNAVAILABLE", "not loaded"};
    }
    std::lock_guard lock(mutex_);
    for (const auto& [name, entry] : models_) {
        index[name] = {name, entry.default_version, entry.state, entry.reason};
    }
    std::vector<ModelIndexEntry> listed;
    for (auto& [name, entry] : index) listed.push_back(std::move(entry));
    return listed;
}

std::vector<std::shared_ptr<ServedModel>> InferenceService::served_models() const {
    std::lock_guard lock(mutex_);
    std::vector<std::shared_ptr<ServedModel>> listed;
    for (const auto& [name, entry] : models_) {
        for (const auto& [version, served] : entry.versions) listed.push_back(served);
    }
    return listed;
}

}  // namespace corun::serving
