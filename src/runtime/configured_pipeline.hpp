// The pipeline behind a ConfiguredInferModel: each stream's user and native layouts (fixed at
// configure time), the async queue accounting, and the backend's execution of its frames.
#pragma once

#include <condition_variable>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "corun/configured_infer_model.hpp"
#include "devices/device.hpp"
#include "runtime/backend.hpp"
#include "runtime/format_conversion.hpp"
#include "runtime/loaded_infer_model.hpp"
#include "scheduler/scheduling_params.hpp"

namespace corun {

struct InferJob;

struct ConfiguredStream {
    std::string name;
    bool is_input = false;
    runtime::FrameLayout user;    // what the user's buffer holds
    runtime::FrameLayout native;  // what the device reads or writes
    QuantInfo quant;
    bool converts = false;         // false: the user's buffer goes to the device as it is
    bool optional = false;         // an optional(tensor) input: a frame may leave it unbound
    std::string describe() const;  // "input 'x' (FLOAT32 NHWC [1,224,224,3], 602112 bytes)"
};

struct ConfiguredPipeline {
    std::shared_ptr<LoadedInferModel> model;  // keeps the loaded model and the group alive
    std::vector<ConfiguredStream> streams;    // inputs, then outputs
    size_t input_count = 0;
    std::vector<devices::TensorSpec> native_inputs;
    std::vector<devices::TensorSpec> native_outputs;
    std::vector<std::string> input_names;
    std::vector<std::string> output_names;
    uint16_t batch_size = 1;
    size_t queue_size = 2;
    scheduler::ModelSchedulingParams scheduling;  // guarded by mutex
    // Each frame's run-time bound (InferModel::set_frame_time_limit), and the flag that
    // terminate_running_frames() raises; frame_limits.termination points at it.
    devices::FrameTermination termination;
    devices::FrameLimits frame_limits;
    // Where its frames run (set by configure(); released after every job completed).
    std::unique_ptr<runtime::ModelExecution> execution;
    uint64_t model_id = 0;  // execution->model_id()

    mutable std::mutex mutex;
    std::condition_variable changed;
    size_t frames_in_flight = 0;  // counted against queue_size
    size_t jobs_unfinished = 0;   // until each job's callback has returned
    bool shut_down = false;

    ~ConfiguredPipeline();
    // Waits for running frames and their callbacks, except when called from a callback
    // (completion_callback_running()): then it returns at once.
    Status shutdown();
    void release_frames(size_t frames);
    void finish_job();
};

// SHUTDOWN for a call on a configured model that was shut down, saying what to do instead.
Status shut_down_error();
// UNINITIALIZED from predicted_latency() before a frame of the model has run.
Status no_latency_prediction_yet();

// Checks the bindings, takes queue space and hands a job to the pipeline's execution. `call`
// names the public call in messages ("run", "run_async"); `may_run_on_caller` as in
// ModelExecution::submit; `deadline` is the job's own (the epoch = none).
Expected<std::shared_ptr<InferJob>> submit_job(
    const std::shared_ptr<ConfiguredPipeline>& pipeline, const std::string& call,
    const std::vector<ConfiguredInferModel::Bindings>& bindings, AsyncInferCallback callback,
    bool may_run_on_caller, std::chrono::steady_clock::time_point deadline = {});

}  // namespace corun
