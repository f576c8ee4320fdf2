// The local backend: the group's devices and its one scheduler, in this process.
#pragma once

#include <atomic>
#include <map>
#include <memory>
#include <mutex>
#include <vector>

#include "runtime/backend.hpp"
#include "runtime/monitor/generative_record.hpp"
#include "scheduler/scheduler.hpp"

namespace corun::runtime {

class LocalBackend final : public Backend {
public:
    // Opens the devices params name (or device_count of the default kind) and starts the
    // scheduler; with monitoring asked for (CORUN_MONITOR=1), the in-process monitor too.
    static Expected<std::unique_ptr<Backend>> create(const VDeviceParams& params);
    ~LocalBackend() override;

    std::vector<DeviceDescription> describe_devices() const override;
    std::vector<ScheduledModelStats> scheduler_stats() const override;
    uint32_t execution_slots() const override;
    bool is_usable() const override { return true; }
    Expected<std::shared_ptr<BackendModel>> load_model(const devices::ModelSource& source) override;
    void stop_at_exit() override;
    Status start_recording(const scheduler::RecordingOptions& options) override {
        return scheduler_->start_recording(options);
    }
    scheduler::SchedulerRecording stop_recording() override { return scheduler_->stop_recording(); }

    const VDeviceParams& params() const { return params_; }
    scheduler::Scheduler& scheduler() { return *scheduler_; }
    uint64_t next_model_id() { return ++last_model_id_; }

    // The in-process monitor's view of a generative model of this group (scheduler model id):
    // its tokens and context, beside the scheduler's figures. Removed when the model goes.
    void add_generative_record(uint64_t model_id,
                               std::shared_ptr<const monitor::GenerativeRecord> record);
    void remove_generative_record(uint64_t model_id);
    std::map<uint64_t, monitor::GenerativeSample> sample_generative_records() const;

private:
    LocalBackend(VDeviceParams params, std::vector<std::shared_ptr<devices::Device>> devices);

    VDeviceParams params_;
    std::vector<std::shared_ptr<devices::Device>> devices_;
    std::unique_ptr<scheduler::Scheduler> scheduler_;
    std::atomic<uint64_t> last_model_id_{0};
    mutable std::mutex generative_mutex_;  // guards generative_records_
    std::map<uint64_t, std::shared_ptr<const monitor::GenerativeRecord>> generative_records_;
};

// A model loaded on each device of a local group.
class LocalModel final : public BackendModel {
public:
    LocalModel(LocalBackend& backend, std::vector<std::shared_ptr<devices::LoadedModel>> loaded)
        : backend_(backend), loaded_(std::move(loaded)) {}

    const std::vector<devices::DeclaredTensor>& declared_inputs() const override {
        return loaded_.front()->declared_inputs();
    }
    const std::vector<devices::DeclaredTensor>& declared_outputs() const override {
        return loaded_.front()->declared_outputs();
    }
    Expected<std::vector<std::vector<int64_t>>> infer_output_dims(
        const std::vector<devices::TensorSpec>& inputs,
        const devices::FrameLimits& limits) override {
        return loaded_.front()->infer_output_dims(inputs, limits);
    }
    Expected<std::unique_ptr<ModelExecution>> configure(ConfiguredPipeline& pipeline) override;

    // The model on device `device_index` of the group (the scheduler's index).
    devices::LoadedModel& on_device(size_t device_index) { return *loaded_[device_index]; }

private:
    // The pipeline's model holds the group, and the group this backend: it outlives the model.
    LocalBackend& backend_;
    std::vector<std::shared_ptr<devices::LoadedModel>> loaded_;  // one per device of the group
};

}  // namespace corun::runtime
