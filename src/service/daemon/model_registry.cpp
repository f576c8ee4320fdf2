#include "service/daemon/model_registry.hpp"

namespace corun::service {

ModelRegistry::ModelRegistry(uint64_t session_id, VDevice& vdevice, DaemonLimits limits,
                             std::shared_ptr<ClientAccount> account, LoadMemoryMeter& load_memory)
    : session_id_(session_id),
      vdevice_(vdevice),
      limits_(limits),
      account_(std::move(account)),
      load_memory_(load_memory) {}

Status ModelRegistry::room_for_another(size_t count, const char* state,
                                       const char* release_call) const {
    if (count < limits_.max_models_per_client) return Status::ok();
    return Status(StatusCode::RESOURCE_LIMIT,
                  "this client has " + std::to_string(count) + " " + state +
                      " models, corund's limit per client; release one (" + release_call + ") or " +
                      how_to_raise("max_models_per_client"));
}

Status ModelRegistry::check_room_for_loaded() const {
    std::lock_guard lock(mutex_);
    return room_for_another(loaded_.size(), "loaded", "ReleaseLoadedModel");
}

Status ModelRegistry::check_room_for_served() const {
    std::lock_guard lock(mutex_);
    return room_for_another(served_.size(), "configured", "ReleaseModel");
}

Status ModelRegistry::add_loaded(const std::shared_ptr<LoadedModelEntry>& entry) {
    std::lock_guard lock(mutex_);
    if (closed_) return Status(StatusCode::SHUTDOWN, "the session is being released");
    CORUN_RETURN_IF_ERROR(room_for_another(loaded_.size(), "loaded", "ReleaseLoadedModel"));
    entry->loaded_model_id = ++last_loaded_model_id_;
    loaded_[entry->loaded_model_id] = entry;
    return Status::ok();
}

Status ModelRegistry::add_served(const std::shared_ptr<ServedModel>& served) {
    std::lock_guard lock(mutex_);
    if (closed_) return Status(StatusCode::SHUTDOWN, "the session is being released");
    CORUN_RETURN_IF_ERROR(room_for_another(served_.size(), "configured", "ReleaseModel"));
    served_[served->model_id] = served;
    return Status::ok();
}

Expected<std::shared_ptr<LoadedModelEntry>> ModelRegistry::find_loaded(
    uint64_t loaded_model_id) const {
    std::lock_guard lock(mutex_);
    auto found = loaded_.find(loaded_model_id);
    if (found == loaded_.end()) {
        return Status(StatusCode::NOT_FOUND,
                      "loaded_model_id " + std::to_string(loaded_model_id) +
                          " is not a model loaded by this session; use the id LoadModel returned");
    }
    return found->second;
}

Expected<std::shared_ptr<ServedModel>> ModelRegistry::find_served(uint64_t model_id) const {
    std::lock_guard lock(mutex_);
    auto found = served_.find(model_id);
    if (found == served_.end()) {
        return Status(StatusCode::NOT_FOUND,
                      "model_id " + std::to_string(model_id) +
                          " is not a configured model of this session; use the id "
                          "ConfigureModel returned on this session");
    }
    return found->second;
}

Status ModelRegistry::shutdown(uint64_t model_id) {
    CORUN_TRY(auto served, find_served(model_id));
    return served->configured.shutdown();
}

Status ModelRegistry::release(uint64_t model_id) {
    std::shared_ptr<ServedModel> served;
    {
        std::lock_guard lock(mutex_);
        auto found = served_.find(model_id);
        if (found == served_.end()) {
            return Status(StatusCode::NOT_FOUND, "model_id " + std::to_string(model_id) +
                                                     " is not a configured model of this session");
        }
        served = std::move(found->second);
        served_.erase(found);
    }
    // Outside the lock: shutdown waits for running frames, whose callbacks need no session lock.
    return served->configured.shutdown();
}

Status ModelRegistry::release_loaded(uint64_t loaded_model_id) {
    std::lock_guard lock(mutex_);
    // Configured models keep what they need of it; this only drops the session's handle.
    if (loaded_.erase(loaded_model_id) == 0) {
        return Status(StatusCode::NOT_FOUND, "loaded_model_id " + std::to_string(loaded_model_id) +
                                                 " is not a model loaded by this session");
    }
    return Status::ok();
}

std::vector<std::shared_ptr<ServedModel>> ModelRegistry::served() const {
    std::lock_guard lock(mutex_);
    std::vector<std::shared_ptr<ServedModel>> models;
    for (const auto& [id, model] : served_) models.push_back(model);
    return models;
}

ModelRegistry::Closed ModelRegistry::close() {
    std::lock_guard lock(mutex_);
    Closed closed;
    closed_ = true;
    for (auto& [id, model] : served_) closed.served.push_back(std::move(model));
    for (auto& [id, entry] : loaded_) closed.loaded.push_back(std::move(entry));
    served_.clear();
    loaded_.clear();
    return closed;
}

}  // namespace corun::service
