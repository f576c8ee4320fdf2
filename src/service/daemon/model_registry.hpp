// The models of one session and their lifecycle: loaded by LoadModel (model_loading.cpp),
// configured any number of times by ConfigureModel (model_configuration.cpp), shut down and
// released by id (model_registry.cpp). At most max_models_per_client of each kind.
#pragma once

#include <atomic>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "corun/infer_model.hpp"
#include "corun_service.pb.h"
#include "runtime/api_access.hpp"
#include "service/daemon/client_account.hpp"
#include "service/daemon/daemon_config.hpp"
#include "service/daemon/load_memory_meter.hpp"
#include "service/daemon/monitor_stats.hpp"
#include "service/daemon/request_validation.hpp"

namespace corun::service {

// A new daemon-wide model id, for a configured model or an LLM (one counter: one id names one
// model in SchedulerStats, Monitor and the logs).
uint64_t next_daemon_model_id();

// A model loaded by LoadModel: configured any number of times by ConfigureModel.
struct LoadedModelEntry {
    uint64_t loaded_model_id = 0;
    // What loading took from the user's account (memory, intra-op threads); given back when
    // neither this entry nor a configuration of it is left.
    std::vector<std::shared_ptr<AccountCharge>> charges;
    std::string name;
    std::shared_ptr<InferModel> model;  // for configure(); its stream setters are shared state,
    std::mutex configure_mutex;         // so one configuration at a time
};

// A model configured by ConfigureModel, fed by the session's stream and fast lane.
struct ServedModel {
    explicit ServedModel(ConfiguredInferModel configured) : configured(std::move(configured)) {}
    uint64_t model_id = 0;  // daemon-wide
    uint64_t loaded_model_id = 0;
    std::vector<std::shared_ptr<AccountCharge>> charges;  // the loaded model's, shared
    ModelLayout layout;
    ConfiguredInferModel configured;
    uint32_t queue_capacity = 0;
    std::atomic<uint32_t> priority{16};
    std::atomic<uint64_t> fast_lane_frames{0};  // accepted from the session's fast lane
    std::shared_ptr<ModelActivity> activity = std::make_shared<ModelActivity>();
};

class ModelRegistry {
public:
    // Session `session_id`'s models (for the logs) load on `vdevice`; what they take is charged
    // to `account` (the user's, shared by all of its sessions) within `limits`, measured by
    // `load_memory` (the daemon's).
    ModelRegistry(uint64_t session_id, VDevice& vdevice, DaemonLimits limits,
                  std::shared_ptr<ClientAccount> account, LoadMemoryMeter& load_memory);
    ModelRegistry(const ModelRegistry&) = delete;
    ModelRegistry& operator=(const ModelRegistry&) = delete;

    // model_loading.cpp
    Expected<std::shared_ptr<LoadedModelEntry>> load(const v1::LoadModelRequest& request);

    // model_configuration.cpp
    Expected<std::vector<devices::TensorSpec>> output_dims(
        uint64_t loaded_model_id, const google::protobuf::RepeatedPtrField<v1::TensorSpec>& inputs);
    // The new configured model's daemon-wide model_id.
    Expected<uint64_t> configure(const v1::ConfigureModelRequest& request);
    Status set_scheduling(uint64_t model_id, const v1::SchedulingParams& scheduling);

    // model_registry.cpp
    Status shutdown(uint64_t model_id);
    Status release(uint64_t model_id);
    Status release_loaded(uint64_t loaded_model_id);
    // NOT_FOUND naming the fix when `model_id` is not a configured model of this session.
    Expected<std::shared_ptr<ServedModel>> find_served(uint64_t model_id) const;
    std::vector<std::shared_ptr<ServedModel>> served() const;

    // Everything the registry held; later loads and configurations are refused with SHUTDOWN.
    // The caller shuts the configured models down, then drops the loaded ones.
    struct Closed {
        std::vector<std::shared_ptr<ServedModel>> served;
        std::vector<std::shared_ptr<LoadedModelEntry>> loaded;
    };
    Closed close();

private:
    Expected<std::shared_ptr<LoadedModelEntry>> find_loaded(uint64_t loaded_model_id) const;
    // OK while `count` models `state` ("loaded", "configured") leave room for one more, else
    // RESOURCE_LIMIT naming `release_call` and the setting to raise.
    Status room_for_another(size_t count, const char* state, const char* release_call) const;
    // Checked when a load or configuration begins, and again when it is added: those of one
    // session run side by side, each checked before it began.
    Status check_room_for_loaded() const;
    Status check_room_for_served() const;
    Status add_loaded(const std::shared_ptr<LoadedModelEntry>& entry);
    Status add_served(const std::shared_ptr<ServedModel>& served);

    const uint64_t session_id_;
    VDevice& vdevice_;  // the session's, which outlives its registry
    const DaemonLimits limits_;
    const std::shared_ptr<ClientAccount> account_;
    LoadMemoryMeter& load_memory_;

    mutable std::mutex mutex_;  // guards everything below
    bool closed_ = false;
    uint64_t last_loaded_model_id_ = 0;
    std::map<uint64_t, std::shared_ptr<LoadedModelEntry>> loaded_;
    std::map<uint64_t, std::shared_ptr<ServedModel>> served_;
};

}  // namespace corun::service
