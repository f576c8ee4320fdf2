// One version of one model as the serving front runs it: the InferModel loaded on the shared
// VDevice, configured on the model's native formats (what the protocol's tensors carry), and
// its configured instances, one set per scheduler priority a request asked for.
//
// Why an instance per priority: corun's priority belongs to a configured model (HailoRT's
// set_scheduler_priority), not to a frame. A request's wire priority therefore picks (and on
// first use configures) the instances at that level, so its frames really are scheduled at it:
// they overtake lower levels and show in the scheduler's statistics under that priority.
#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "corun/corun.hpp"
#include "corun/routed_model.hpp"
#include "serving/inference_request.hpp"
#include "serving/model_repository.hpp"
#include "serving/request_statistics.hpp"

namespace corun::serving {

// A stream as the protocol's metadata describes it.
struct TensorMetadata {
    std::string name;
    FormatType type = FormatType::AUTO;
    std::vector<int64_t> shape;  // -1 for a dynamic dimension
};

// corun's scheduler priority for a request's Triton priority: 0 (or none) = the model's
// configured one; 1 = the highest (31), 2 = 30, ..., 32 and above = 0 (docs/SERVING.md).
uint32_t scheduler_priority_for(std::optional<uint64_t> wire_priority, uint32_t model_priority);

// How long a request with no timeout may wait for room in its model's queue before it fails
// with QUEUE_IS_FULL (429): a model that never drains must not hold HTTP threads forever.
constexpr std::chrono::seconds MAX_QUEUE_WAIT{30};

// Room a BYTES output gets for one frame (its size is known only once computed); a frame whose
// strings need more fails with INVALID_ARGUMENT naming the bytes needed.
constexpr size_t BYTES_OUTPUT_ROOM = size_t{1} << 20;

// One configured instance and the scheduler's id for it (for the metrics).
struct ServedInstance {
    uint32_t priority = 16;
    uint64_t scheduler_model_id = 0;
};

class ServedModel {
public:
    // With placements (the config's "placements", each a VDevice), a routed model
    // (docs/ROUTER.md): each frame runs on the first placement that takes it, and the response
    // names it. `vdevice` is the shared device either way (the metadata is read there).
    static Expected<std::shared_ptr<ServedModel>> load(
        VDevice& vdevice, const std::string& name, const ModelVersionFile& file,
        const ModelConfig& config, const std::vector<Placement>& placements = {});
    ~ServedModel();
    ServedModel(const ServedModel&) = delete;
    ServedModel& operator=(const ServedModel&) = delete;

    const std::string& name() const { return name_; }
    const std::string& version() const { return version_; }
    const ModelConfig& config() const { return config_; }
    const std::vector<TensorMetadata>& inputs() const { return inputs_; }
    const std::vector<TensorMetadata>& outputs() const { return outputs_; }

    // Runs the request's frames (a first dimension of N where the model's is 1 = N frames, as
    // one or more bursts) at the request's priority, with its timeout as deadline. Fails with
    // INVALID_ARGUMENT naming model, tensor, expected and given for a tensor the model does not
    // take; QUEUE_IS_FULL beyond max_queued_requests; DEADLINE_EXCEEDED when the timeout ran
    // out or the scheduler predicted it would; SHUTDOWN once unloaded.
    Expected<InferResponse> infer(const InferRequest& request);

    const RequestStatistics& statistics() const { return statistics_; }
    // The configured instances on the shared device's scheduler (a routed model's: its "cpu"
    // placement, when it has one).
    std::vector<ServedInstance> instances() const;
    // Where a routed model's frames ran, fell back and failed; nullopt when it is not routed.
    std::optional<RoutedModelStats> routed_stats() const;

    // Queued requests complete with SHUTDOWN; later ones fail with SHUTDOWN at once.
    void shutdown();

private:
    struct Instance {
        ConfiguredInferModel configured;
        uint32_t priority;
    };
    struct PreparedRequest;

    ServedModel() = default;
    Expected<PreparedRequest> prepare(const InferRequest& request) const;
    Status load_routed(const std::string& path, const std::vector<Placement>& placements);
    Expected<std::shared_ptr<Instance>> instance_for(uint32_t priority);
    Status run_frames(Instance& instance, PreparedRequest& prepared,
                      std::optional<std::chrono::steady_clock::time_point> deadline,
                      InferTiming& timing, uint64_t& jobs);
    Status run_routed_frames(PreparedRequest& prepared,
                             std::optional<std::chrono::steady_clock::time_point> deadline,
                             InferTiming& timing, uint64_t& jobs);
    // Buffers for every output of every frame; the asked-for ones are the response's own.
    std::vector<uint8_t*> output_buffers(PreparedRequest& prepared,
                                         std::vector<std::vector<uint8_t>>& unasked) const;

    std::string name_;
    std::string version_;
    ModelConfig config_;
    std::shared_ptr<InferModel> model_;
    std::shared_ptr<RoutedModel> routed_;  // set for a routed model
    std::vector<TensorMetadata> inputs_;
    std::vector<TensorMetadata> outputs_;
    std::vector<size_t> input_frame_bytes_;   // per input: bytes of one frame
    std::vector<size_t> output_frame_bytes_;  // per output: bytes of one frame

    mutable std::mutex mutex_;
    bool shut_down_ = false;
    std::map<uint32_t, std::vector<std::shared_ptr<Instance>>> instances_;  // by priority
    uint64_t next_instance_ = 0;  // round robin over a level's instances
    RequestStatistics statistics_;
};

}  // namespace corun::serving
