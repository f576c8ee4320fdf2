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
#include "serving/generate_request.hpp"
#include "serving/inference_request.hpp"
#include "serving/model_repository.hpp"
#include "serving/served_llm.hpp"
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
    // "onnxruntime_onnx", as Triton names ONNX models; "llama.cpp_gguf" for an LLM, whose
    // tensors are then the generate extension's text_input and text_output (BYTES [1]).
    std::string platform;
    std::vector<TensorMetadata> inputs;
    std::vector<TensorMetadata> outputs;
};

// One version of a model as served: an ONNX model (plain or routed) or an LLM, never both.
struct ServedVersion {
    std::shared_ptr<ServedModel> model;
    std::shared_ptr<ServedLlm> llm;
};

struct InferenceServiceOptions {
    // The npu-sim timing profile of routed models' "npu-sim" placements ("" = the environment's
    // $CORUN_NPU_SIM_PROFILE, docs/SCHEDULER.md).
    std::string npu_sim_profile;
};

class InferenceService {
public:
    InferenceService(std::shared_ptr<VDevice> vdevice, ModelRepository repository,
                     InferenceServiceOptions options = {});
    ~InferenceService();
    InferenceService(const InferenceService&) = delete;
    InferenceService& operator=(const InferenceService&) = delete;

    // Loads every model of the repository; a model that fails is logged and listed in the
    // index with its reason, and the others serve. Fails only when the repository folder
    // cannot be read. Readiness turns true once this returned.
    Status load_repository();

    // INVALID_ARGUMENT (naming generate) for an LLM.
    Expected<InferResponse> infer(const InferRequest& request);
    // Triton's generate extension on an LLM (ServedLlm::generate); INVALID_ARGUMENT (naming
    // infer) for an ONNX model.
    Expected<GenerateResponse> generate(const GenerateRequest& request,
                                        const ServedLlm::PieceSink& on_piece = nullptr);
    // The version generate would run (for a stream's events, before it starts); the errors
    // generate would give for a model that is unknown, not loaded or not generative.
    Expected<std::string> generative_version(const std::string& name,
                                             const std::string& version) const;

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

    // Every ONNX model version, and every LLM version, that serves now (for the metrics page).
    std::vector<std::shared_ptr<ServedModel>> served_models() const;
    std::vector<std::shared_ptr<ServedLlm>> served_llms() const;
    VDevice& vdevice() const { return *vdevice_; }

private:
    struct ModelEntry {
        std::map<std::string, ServedVersion> versions;  // serving now
        std::string default_version;
        std::string state = "UNAVAILABLE";
        std::string reason;
    };
    Expected<ServedVersion> find(const std::string& name, const std::string& version) const;
    Expected<ServedVersion> load_version(const RepositoryModel& model,
                                         const ModelVersionFile& file);
    // The VDevice of a routed model's placement: "cpu" is the shared device; "npu-sim" one
    // simulated NPU for every routed model, made on first use.
    Expected<std::shared_ptr<VDevice>> placement_vdevice(const std::string& device);

    std::shared_ptr<VDevice> vdevice_;
    ModelRepository repository_;
    InferenceServiceOptions options_;
    std::shared_ptr<VDevice> npu_sim_;  // under load_mutex_
    mutable std::mutex mutex_;
    std::map<std::string, ModelEntry> models_;
    bool ready_ = false;
    // One load at a time: a reload must not race another load of the same model.
    std::mutex load_mutex_;
};

}  // namespace corun::serving
