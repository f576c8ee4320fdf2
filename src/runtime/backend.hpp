// The seam between the public objects and where models run (HailoRT does the same: its
// service client is a second implementation of its configured-model interface). Each VDevice
// group holds one Backend: the local one (devices and the scheduler in this process,
// runtime/local_backend.hpp) or the remote one (corund, runtime/remote/remote_backend.hpp).
// VDevice, InferModel and ConfiguredInferModel hold what a backend made and never ask which
// backend it is.
#pragma once

#include <cstdint>
#include <memory>
#include <vector>

#include "corun/expected.hpp"
#include "corun/vdevice.hpp"
#include "devices/device.hpp"
#include "scheduler/scheduler_recording.hpp"
#include "scheduler/scheduling_params.hpp"

namespace corun {

struct ConfiguredPipeline;
struct InferJob;

namespace runtime {

// Where the frames of one configured model run: made by BackendModel::configure, owned by the
// model's ConfiguredPipeline, destroyed after every job of it completed.
class ModelExecution {
public:
    // Releases the model in its scheduler (here or in corund).
    virtual ~ModelExecution() = default;

    // The scheduler's id of the model (ScheduledModelStats::model_id).
    virtual uint64_t model_id() const = 0;

    // Hands the job over. SUCCESS: the job completes exactly once, later or before this
    // returns. An error: the job was not taken, and the caller completes it with that error.
    // `may_run_on_caller`: the job may run on the calling thread before this returns, when a
    // device slot is free and the policy picks it at once (synchronous run(), corund's session
    // reader); otherwise it is queued, and this takes nothing but short locks.
    virtual Status submit(const std::shared_ptr<InferJob>& job, bool may_run_on_caller) = 0;

    // Whether a frame may leave an optional input unbound (the model then runs without it).
    // corund's lane carries every stream of every frame, so the remote backend cannot.
    virtual bool runs_without_optional_inputs() const { return true; }

    // Takes effect from the next scheduling decision.
    virtual Status set_scheduling(const scheduler::ModelSchedulingParams& params) = 0;

    // The latency its scheduler predicts for a frame queued now (ConfiguredInferModel::
    // predicted_latency); UNINITIALIZED before a frame of the model has run.
    virtual Expected<std::chrono::nanoseconds> predicted_latency() const = 0;

    // The model's jobs not yet started complete with SHUTDOWN; running ones finish. Returns
    // without waiting for them (the pipeline waits for its own jobs), except that a backend
    // whose jobs complete elsewhere may wait, bounded, for their answers and then complete the
    // ones never answered (it must not wait when completion_callback_running()).
    virtual void stop_jobs(ConfiguredPipeline& pipeline) = 0;

    // Stops the frames running now, and every frame that starts later: each completes with
    // ABORTED. Does not wait. A backend whose frames run elsewhere leaves that to its host.
    virtual void terminate_running_frames() = 0;
};

// A model loaded on every device of a group.
class BackendModel {
public:
    virtual ~BackendModel() = default;

    // The tensors as the model declares them (dims may be -1).
    virtual const std::vector<devices::DeclaredTensor>& declared_inputs() const = 0;
    virtual const std::vector<devices::DeclaredTensor>& declared_outputs() const = 0;

    // Output shapes for the given input shapes, found by running one zero-filled frame within
    // `limits`: for models that declare dynamic output dimensions.
    virtual Expected<std::vector<std::vector<int64_t>>> infer_output_dims(
        const std::vector<devices::TensorSpec>& inputs, const devices::FrameLimits& limits) = 0;

    // Registers `pipeline` (its streams, batch, queue size and scheduling are set) with the
    // group's scheduler. The execution keeps a reference to the pipeline, which owns it.
    virtual Expected<std::unique_ptr<ModelExecution>> configure(ConfiguredPipeline& pipeline) = 0;
};

// What a VDevice group does.
class Backend {
public:
    virtual ~Backend() = default;

    // What VDevice::physical_devices() lists.
    virtual std::vector<DeviceDescription> describe_devices() const = 0;
    // What VDevice::get_scheduler_stats() returns.
    virtual std::vector<ScheduledModelStats> scheduler_stats() const = 0;
    // Frames the group's devices may run at once (the denominator of utilisation).
    virtual uint32_t execution_slots() const = 0;
    // False once the backend can serve nothing more (corund went away): the handles that hold
    // it get errors naming the cause, and the next VDevice of the group gets a new backend.
    virtual bool is_usable() const = 0;

    // Loads the model on the group's devices. The source carries the content of every external
    // data file the model names (runtime/external_data.hpp); a backend opens no file itself.
    virtual Expected<std::shared_ptr<BackendModel>> load_model(
        const devices::ModelSource& source) = 0;

    // Timelines (docs/TRACING.md): records what the group's scheduler does until
    // stop_recording (Scheduler::start_recording). A backend whose scheduler runs elsewhere
    // cannot: NOT_SUPPORTED naming the way to record it there.
    virtual Status start_recording(const scheduler::RecordingOptions& options) {
        (void)options;
        return Status(StatusCode::NOT_SUPPORTED,
                      "this device group runs in corund, whose scheduler records only for "
                      "`corun trace --socket PATH`; record it with that command");
    }
    // The recording (empty if none ran), and recording stops.
    virtual scheduler::SchedulerRecording stop_recording() { return {}; }

    // At process exit: nothing may run while the process tears itself down (running frames are
    // terminated and queued ones complete with SHUTDOWN), and a session with corund ends
    // cleanly rather than as a broken connection.
    virtual void stop_at_exit() = 0;
};

}  // namespace runtime
}  // namespace corun
