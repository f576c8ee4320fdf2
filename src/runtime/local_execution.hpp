// The local backend's execution of one configured model: its jobs go to the group's scheduler,
// whose workers (or the submitting thread) stage the frames, run them on a device and complete
// the job.
#pragma once

#include <memory>

#include "runtime/backend.hpp"
#include "runtime/local_backend.hpp"

namespace corun::runtime {

class LocalExecution final : public ModelExecution {
public:
    // Adds the pipeline's model to the scheduler under a new id.
    static Expected<std::unique_ptr<ModelExecution>> create(LocalBackend& backend,
                                                            LocalModel& model,
                                                            ConfiguredPipeline& pipeline);
    ~LocalExecution() override;

    uint64_t model_id() const override { return model_id_; }
    Status submit(const std::shared_ptr<InferJob>& job, bool may_run_on_caller) override;
    Status set_scheduling(const scheduler::ModelSchedulingParams& params) override;
    Expected<std::chrono::nanoseconds> predicted_latency() const override;
    void stop_jobs(ConfiguredPipeline& pipeline) override;
    void terminate_running_frames() override;

private:
    LocalExecution(LocalBackend& backend, LocalModel& model, ConfiguredPipeline& pipeline,
                   uint64_t model_id)
        : backend_(backend), model_(model), pipeline_(pipeline), model_id_(model_id) {}
    // Runs the job on device `device_index`: stages the frames, executes, unstages, completes.
    // Returns the nanoseconds the device was busy with it.
    int64_t run_job(const std::shared_ptr<InferJob>& job, size_t device_index);

    // The pipeline owns this execution and holds the model, which holds the group and so the
    // backend: all three outlive it.
    LocalBackend& backend_;
    LocalModel& model_;
    ConfiguredPipeline& pipeline_;
    const uint64_t model_id_;
};

}  // namespace corun::runtime
