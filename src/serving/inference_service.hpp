// InferenceService: the protocol-neutral core of `corun serve`'s KServe v2 fronts. It owns the
// served models (loaded from the model repository onto one VDevice, the daemon's, so they share
// the device and the scheduler with corund's Unix-socket clients), runs decoded requests on
// them, answers metadata, readiness and the repository extension (index, load, unload), and
// exposes what the metrics page shows. The REST front (http_front.hpp) and a gRPC front use it
// unchanged: every call takes and returns plain types and a Status whose code the front maps to
// its protocol (docs/SERVING.md, "Errors").
//
// Thread-safe: every call may come from any front thread at once. Loading and unloading swap a
// model's entry; requests already running on the old one finish on it.
#pragma once

#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "corun/corun.hpp"
#include "serving/inference_request.hpp"
#include "serving/model_repository.hpp"
#include "serving/served_model.hpp"

namespace corun::serving {

// The repository extension's states (Triton's): READY, UNAVAILABLE (not loaded, unloaded, or
// failed to load: `reason` says which), LOADING.
struct ModelIndexEntry {
    std::string name;
    std::string version;  // "" when no version is loaded
    std::string state;
    std::string reason;
};

struct ModelMetadata {
    std::string name;
    std::vector<std::string> versions;
    std::string platform;  // "onnxruntime_onnx", as Triton names ONNX models
    std::vector<TensorMetadata> inputs;
    std::vector<TensorMetadata> outputs;
};

class InferenceService {
public:
    InferenceService(std::shared_ptr<VDevice> vdevice, ModelRepository repository);
    ~InferenceService();
    InferenceService(const InferenceService&) = delete;
    InferenceService& operator=(const InferenceService&) = delete;

    // Loads every model of the repository; a model that fails is logged and listed in the
    // index with its reason, and the others serve. Fails only when the repository folder
    // cannot be read. Readiness turns true once this returned.
    Status load_repository();

    Expected<InferResponse> infer(const InferRequest& request);

    // The model's metadata; `version` "" = its default. NOT_FOUND naming what is served.
    Expected<ModelMetadata> model_metadata(const std::string& name,
                                           const std::string& version) const;
    // OK when the model (version) serves, else NOT_FOUND / UNAVAILABLE with the reason.
    Status model_ready(const std::string& name, const std::string& version) const;
    bool ready() const;

    // The repository extension: every model of the repository folder and every model known to
    // the service, with its state.
    std::vector<ModelIndexEntry> repository_index() const;
    // Loads (or reloads: the new version replaces the old once loaded; requests inside the old
    // finish on it) a model of the repository. Fails with the reason, which the index then
    // shows too.
    Status load_model(const std::string& name);
    // Stops serving the model: new requests fail with SHUTDOWN (503), requests already inside
    // finish. NOT_FOUND when it is not loaded.
    Status unload_model(const std::string& name);
    // For the process's end: every served model's queued frames complete with SHUTDOWN, and
    // later requests fail with SHUTDOWN at once, so that the fronts' threads return.
    void stop();

    // Every version that serves now (for the metrics page).
    std::vector<std::shared_ptr<ServedModel>> served_models() const;
    VDevice& vdevice() const { return *vdevice_; }

private:
    struct ModelEntry {
        std::map<std::string, std::shared_ptr<ServedModel>> versions;  // serving now
        std::string default_version;
        std::string state = "UNAVAILABLE";
        std::string reason;
    };
    Expected<std::shared_ptr<ServedModel>> find(const std::string& name,
                                                const std::string& version) const;

    std::shared_ptr<VDevice> vdevice_;
    ModelRepository repository_;
    mutable std::mutex mutex_;
    std::map<std::string, ModelEntry> models_;
    bool ready_ = false;
    // One load at a time: a reload must not race another load of the same model.
    std::mutex load_mutex_;
};

}  // namespace corun::serving
