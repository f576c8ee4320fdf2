#include "serving/inference_service.hpp"

#include <spdlog/spdlog.h>

namespace corun::serving {

namespace {

void shut_down(const ServedVersion& served) {
    if (served.model) served.model->shutdown();
    if (served.llm) served.llm->shutdown();
}

}  // namespace

InferenceService::InferenceService(std::shared_ptr<VDevice> vdevice, ModelRepository repository,
                                   InferenceServiceOptions options)
    : vdevice_(std::move(vdevice)),
      repository_(std::move(repository)),
      options_(std::move(options)) {}

InferenceService::~InferenceService() {
    std::map<std::string, ModelEntry> models;
    {
        std::lock_guard lock(mutex_);
        models.swap(models_);
    }
    for (auto& [name, entry] : models) {
        for (auto& [version, served] : entry.versions) shut_down(served);
    }
}

void InferenceService::stop() {
    std::vector<ServedVersion> serving;
    {
        std::lock_guard lock(mutex_);
        for (const auto& [name, entry] : models_) {
            for (const auto& [version, served] : entry.versions) serving.push_back(served);
        }
    }
    for (const auto& served : serving) shut_down(served);
}

Expected<std::shared_ptr<VDevice>> InferenceService::placement_vdevice(const std::string& device) {
    if (device == "cpu") return vdevice_;
    if (!npu_sim_) {
        VDeviceParams params;
        params.device_ids = {"npu-sim:0"};
        params.group_id = "kserve-npu-sim";
        params.npu_sim.profile_path = options_.npu_sim_profile;
        CORUN_TRY(npu_sim_, VDevice::create_shared(params), "the npu-sim placement's device");
    }
    return npu_sim_;
}

Expected<ServedVersion> InferenceService::load_version(const RepositoryModel& model,
                                                       const ModelVersionFile& file) {
    ServedVersion served;
    if (model_file_kind(file.path) == ModelFileKind::GGUF) {
        CORUN_TRY(served.llm, ServedLlm::load(*vdevice_, model.name, file, model.config));
        return served;
    }
    std::vector<Placement> placements;
    for (const auto& device : model.config.placements) {
        CORUN_TRY(auto placement_device, placement_vdevice(device));
        placements.push_back({device, std::move(placement_device)});
    }
    CORUN_TRY(served.model,
              ServedModel::load(*vdevice_, model.name, file, model.config, placements));
    return served;
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
            auto served = load_version(resolved.value(), file);
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
    const std::string served_version = entry.default_version;
    std::map<std::string, ServedVersion> replaced;
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
        spdlog::info("model '{}' serves (version {})", name, served_version);
    } else {
        spdlog::error("model '{}' failed to load: {}", name, status.to_string());
    }
    return status;
}

Status InferenceService::unload_model(const std::string& name) {
    std::map<std::string, ServedVersion> unloaded;
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

Expected<ServedVersion> InferenceService::find(const std::string& name,
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
    if (served.llm) {
        return Status(StatusCode::INVALID_ARGUMENT,
                      "model '" + request.model_name +
                          "' is a generative model (GGUF): it takes text, not tensors; send "
                          "POST v2/models/" +
                          request.model_name +
                          "/generate (or generate_stream) with {\"text_input\": ...}");
    }
    return served.model->infer(request);
}

namespace {

Status not_generative(const std::string& name) {
    return Status(StatusCode::INVALID_ARGUMENT,
                  "model '" + name +
                      "' is not a generative model (it is ONNX): generate takes GGUF LLMs; "
                      "send its tensors to POST v2/models/" +
                      name + "/infer");
}

}  // namespace

Expected<GenerateResponse> InferenceService::generate(const GenerateRequest& request,
                                                      const ServedLlm::PieceSink& on_piece) {
    CORUN_TRY(auto served, find(request.model_name, request.model_version));
    if (!served.llm) return not_generative(request.model_name);
    return served.llm->generate(request, on_piece);
}

Expected<std::string> InferenceService::generative_version(const std::string& name,
                                                           const std::string& version) const {
    CORUN_TRY(auto served, find(name, version));
    if (!served.llm) return not_generative(name);
    return served.llm->version();
}

Expected<ModelMetadata> InferenceService::model_metadata(const std::string& name,
                                                         const std::string& version) const {
    CORUN_TRY(auto served, find(name, version));
    ModelMetadata metadata;
    metadata.name = name;
    if (served.llm) {
        // As Triton's LLM backends describe theirs: the generate extension's text in and out.
        metadata.platform = "llama.cpp_gguf";
        metadata.inputs = {{"text_input", FormatType::STRING, {1}}};
        metadata.outputs = {{"text_output", FormatType::STRING, {1}}};
    } else {
        metadata.platform = "onnxruntime_onnx";
        metadata.inputs = served.model->inputs();
        metadata.outputs = served.model->outputs();
    }
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
        for (const auto& [version, served] : entry.versions) {
            if (served.model) listed.push_back(served.model);
        }
    }
    return listed;
}

std::vector<std::shared_ptr<ServedLlm>> InferenceService::served_llms() const {
    std::lock_guard lock(mutex_);
    std::vector<std::shared_ptr<ServedLlm>> listed;
    for (const auto& [name, entry] : models_) {
        for (const auto& [version, served] : entry.versions) {
            if (served.llm) listed.push_back(served.llm);
        }
    }
    return listed;
}

}  // namespace corun::serving
