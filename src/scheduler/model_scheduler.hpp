// The model scheduler's mechanism in real time: per-model request queues, one worker thread per
// execution slot of each device, a device-time ledger, and a SchedulingPolicy that decides.
#pragma once

#include <memory>
#include <optional>
#include <thread>
#include <vector>

#include "scheduler/scheduler.hpp"

namespace corun::scheduler {

// The slots of one device: `shared` run any model; `latency` run only models whose priority is
// above normal (a latency-critical model then never waits behind a running burst).
struct DeviceSlots {
    uint32_t shared = 1;
    uint32_t latency = 0;
    // At most one burst of a model runs at a time (in the group), so that its jobs complete in
    // order: the cpu device sharing its cores by itself gives a model alone every core rather
    // than a second slot (devices::Device::one_burst_per_model).
    bool one_burst_per_model = false;
};

class ModelScheduler final : public Scheduler {
public:
    // One worker thread per slot of each device.
    ModelScheduler(const std::vector<DeviceSlots>& slots_per_device, PolicyOptions options);
    ~ModelScheduler() override;

    Status add_model(uint64_t model_id, const std::string& name,
                     const ModelSchedulingParams& params) override;
    Status set_params(uint64_t model_id, const ModelSchedulingParams& params) override;
    void remove_model(uint64_t model_id) override;
    Status enqueue(InferRequest request) override;
    Status run_or_enqueue(InferRequest request) override;
    size_t cancel_queued(uint64_t model_id, const Status& reason) override;
    size_t in_flight() const override;
    std::optional<std::chrono::nanoseconds> predicted_latency(uint64_t model_id) const override;
    std::vector<ModelSchedulingStats> stats() const override;
    void set_decision_sink(DecisionSink sink) override;
    Status start_recording(const RecordingOptions& options) override;
    SchedulerRecording stop_recording() override;
    bool outranked(uint8_t priority) const override;
    int64_t yield_to_outranking(uint64_t model_id, size_t device_index) override;
    void stop() override;
    void stop_within(std::chrono::nanoseconds limit) override;

    struct State;  // shared with the workers, so a worker that drops the last reference to
                   // the group (and so to this scheduler) still has its state to return to

private:
    // A request that admission control refused: cancelled with `reason` outside the lock.
    struct Refusal {
        InferRequest request;
        Status reason;
    };
    // state_->mutex held. On a refusal, returns SUCCESS and fills `refused`.
    Status push_locked(InferRequest request, std::optional<Refusal>& refused);

    std::shared_ptr<State> state_;
    std::vector<std::thread> workers_;
};

}  // namespace corun::scheduler
