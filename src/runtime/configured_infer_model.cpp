#include "corun/configured_infer_model.hpp"

#include <algorithm>

#include "runtime/infer_job.hpp"

namespace corun {

ConfiguredInferModel::ConfiguredInferModel(std::shared_ptr<ConfiguredPipeline> pipeline)
    : pipeline_(std::move(pipeline)) {}

Expected<ConfiguredInferModel::Bindings> ConfiguredInferModel::create_bindings() {
    {
        std::lock_guard lock(pipeline_->mutex);
        if (pipeline_->shut_down) return shut_down_error();
    }
    return Bindings(pipeline_);
}

Expected<ConfiguredInferModel::Bindings> ConfiguredInferModel::create_bindings(
    const std::map<std::string, MemoryView>& buffers) {
    CORUN_TRY(Bindings bindings, create_bindings());
    for (const auto& [bound_name, view] : buffers) {
        // A named copy: clang 14 (make fuzz) cannot capture a structured binding.
        const std::string& name = bound_name;
        const auto& streams = pipeline_->streams;
        auto found = std::find_if(streams.begin(), streams.end(),
                                  [&](const ConfiguredStream& s) { return s.name == name; });
        if (found == streams.end()) {
            std::string known;
            for (const auto& s : streams) known += (known.empty() ? "'" : ", '") + s.name + "'";
            return Status(StatusCode::NOT_FOUND, "create_bindings: the model has no stream '" +
                                                     name + "'; its streams are " + known);
        }
        CORUN_TRY(auto stream, found->is_input ? bindings.input(name) : bindings.output(name));
        CORUN_RETURN_IF_ERROR(stream.set_buffer(view));
    }
    return bindings;
}

namespace {

// wait_for_async_ready(), and the first step of run(); `call` names the public call in messages.
Status wait_for_queue_space(ConfiguredPipeline& state, const std::string& call,
                            std::chrono::milliseconds timeout, uint32_t frames_count) {
    if (frames_count == 0 || frames_count > state.queue_size) {
        return Status(StatusCode::INVALID_ARGUMENT,
                      call + ": frames_count " + std::to_string(frames_count) +
                          " can never fit; the async queue holds 1.." +
                          std::to_string(state.queue_size) +
                          " frames (get_async_queue_size(); it is 2 x the batch size)");
    }
    std::unique_lock lock(state.mutex);
    auto ready = [&] {
        return state.shut_down || state.frames_in_flight + frames_count <= state.queue_size;
    };
    if (waits_forever(timeout)) {
        state.changed.wait(lock, ready);
    } else if (!state.changed.wait_for(lock, timeout, ready)) {
        return Status(StatusCode::TIMEOUT, call + ": " + std::to_string(state.frames_in_flight) +
                                               " of " + std::to_string(state.queue_size) +
                                               " queue slots still busy after " +
                                               std::to_string(timeout.count()) + " ms; " +
                                               std::to_string(frames_count) + " needed");
    }
    if (state.shut_down) return shut_down_error();
    return Status::ok();
}

}  // namespace

Status ConfiguredInferModel::wait_for_async_ready(std::chrono::milliseconds timeout,
                                                  uint32_t frames_count) {
    return wait_for_queue_space(*pipeline_, "wait_for_async_ready", timeout, frames_count);
}

namespace {

// A job deadline of the steady clock's epoch is how "no deadline" is stored: refused when passed
// as one, rather than silently running the frame without it.
Status check_job_deadline(const std::string& call, std::chrono::steady_clock::time_point deadline) {
    if (deadline != std::chrono::steady_clock::time_point{}) return Status::ok();
    return Status(StatusCode::INVALID_ARGUMENT,
                  call +
                      ": the deadline is the steady clock's epoch, which means none; pass "
                      "std::chrono::steady_clock::now() + budget, or call " +
                      call + " without a deadline");
}

// run(), with or without a job deadline (the epoch: none); the job's timing into `timing` when
// it ran or was refused (left as it was when the call timed out or failed to queue the job).
Status run_and_wait(const std::shared_ptr<ConfiguredPipeline>& pipeline,
                    const ConfiguredInferModel::Bindings& bindings,
                    std::chrono::milliseconds timeout,
                    std::chrono::steady_clock::time_point job_deadline,
                    InferTiming* timing = nullptr) {
    // Unused when waiting forever (where now + timeout could overflow).
    const auto give_up_at = waits_forever(timeout) ? std::chrono::steady_clock::time_point::max()
                                                   : std::chrono::steady_clock::now() + timeout;
    CORUN_RETURN_IF_ERROR(wait_for_queue_space(*pipeline, "run", timeout, 1));
    CORUN_TRY(auto job, submit_job(pipeline, "run", {bindings}, nullptr, true, job_deadline));
    std::unique_lock lock(job->mutex);
    auto is_done = [&] { return job->done; };
    if (waits_forever(timeout)) {
        job->finished.wait(lock, is_done);
    } else if (!job->finished.wait_until(lock, give_up_at, is_done)) {
        lock.unlock();
        // Cancel a job that has not started, so that corun no longer holds the buffers when
        // run() returns; a job already running is waited for.
        const Status timed_out(StatusCode::TIMEOUT,
                               "run: no result within " + std::to_string(timeout.count()) +
                                   " ms; the frame was cancelled (raise the timeout, or use "
                                   "run_async to overlap frames)");
        if (job->try_cancel()) {
            job->complete(timed_out, InferTiming{});
            return timed_out;
        }
        lock.lock();
        job->finished.wait(lock, is_done);
        return job->status.is_ok() ? timed_out : job->status;
    }
    if (timing != nullptr) *timing = job->timing;
    return job->status;
}

}  // namespace

Status ConfiguredInferModel::run(const Bindings& bindings, std::chrono::milliseconds timeout) {
    return run_and_wait(pipeline_, bindings, timeout, {});
}

Status ConfiguredInferModel::run(const Bindings& bindings,
                                 std::chrono::steady_clock::time_point deadline,
                                 std::chrono::milliseconds timeout, InferTiming* timing) {
    CORUN_RETURN_IF_ERROR(check_job_deadline("run", deadline));
    return run_and_wait(pipeline_, bindings, timeout, deadline, timing);
}

Expected<AsyncInferJob> ConfiguredInferModel::run_async(const Bindings& bindings,
                                                        AsyncInferCallback callback) {
    return run_async(std::vector<Bindings>{bindings}, std::move(callback));
}

Expected<AsyncInferJob> ConfiguredInferModel::run_async(const std::vector<Bindings>& bindings,
                                                        AsyncInferCallback callback) {
    CORUN_TRY(auto job, submit_job(pipeline_, "run_async", bindings, std::move(callback), false));
    return AsyncInferJob(std::move(job));
}

Expected<AsyncInferJob> ConfiguredInferModel::run_async(
    const Bindings& bindings, std::chrono::steady_clock::time_point deadline,
    AsyncInferCallback callback) {
    return run_async(std::vector<Bindings>{bindings}, deadline, std::move(callback));
}

Expected<AsyncInferJob> ConfiguredInferModel::run_async(
    const std::vector<Bindings>& bindings, std::chrono::steady_clock::time_point deadline,
    AsyncInferCallback callback) {
    CORUN_RETURN_IF_ERROR(check_job_deadline("run_async", deadline));
    CORUN_TRY(auto job,
              submit_job(pipeline_, "run_async", bindings, std::move(callback), false, deadline));
    return AsyncInferJob(std::move(job));
}

Expected<std::chrono::nanoseconds> ConfiguredInferModel::predicted_latency() const {
    {
        std::lock_guard lock(pipeline_->mutex);
        if (pipeline_->shut_down) return shut_down_error();
    }
    // Outside the lock: through corund this is a call to the service. The execution lives as
    // long as the pipeline (set_scheduling relies on the same).
    return pipeline_->execution->predicted_latency();
}

Expected<size_t> ConfiguredInferModel::get_async_queue_size() const {
    return pipeline_->queue_size;
}

Expected<size_t> ConfiguredInferModel::get_frames_in_flight() const {
    std::lock_guard lock(pipeline_->mutex);
    return pipeline_->frames_in_flight;
}

Status ConfiguredInferModel::shutdown() {
    return pipeline_->shutdown();
}

namespace {

// INVALID_ARGUMENT for a negative duration knob, naming what 0 means.
Status check_not_negative(const std::string& knob, std::chrono::milliseconds value,
                          const std::string& zero_means) {
    if (value.count() >= 0) return Status::ok();
    return Status(StatusCode::INVALID_ARGUMENT, knob + " " + std::to_string(value.count()) +
                                                    " ms is negative; use 0 (" + zero_means +
                                                    ") or more");
}

// Applies `change` to the model's scheduling params and hands them to the scheduler.
template <typename Change>
Status update_scheduling(ConfiguredPipeline& state, Change change) {
    if (state.model->group->params().scheduling_algorithm == SchedulingAlgorithm::NONE) {
        return Status(StatusCode::INVALID_OPERATION,
                      "scheduler settings need a VDevice with a scheduler; this one was created "
                      "with SchedulingAlgorithm::NONE (use ROUND_ROBIN, the default)");
    }
    scheduler::ModelSchedulingParams params;
    {
        std::lock_guard lock(state.mutex);
        if (state.shut_down) return shut_down_error();
        params = state.scheduling;
        CORUN_RETURN_IF_ERROR(change(params));
        state.scheduling = params;
    }
    return state.execution->set_scheduling(params);
}

}  // namespace

Status ConfiguredInferModel::set_scheduler_priority(uint32_t priority) {
    return update_scheduling(*pipeline_, [&](scheduler::ModelSchedulingParams& params) {
        CORUN_RETURN_IF_ERROR(scheduler::check_priority(priority));
        params.priority = static_cast<uint8_t>(priority);
        return Status::ok();
    });
}

Status ConfiguredInferModel::set_scheduler_threshold(uint32_t threshold) {
    const auto queue_size = static_cast<uint32_t>(pipeline_->queue_size);
    return update_scheduling(*pipeline_, [&](scheduler::ModelSchedulingParams& params) {
        CORUN_RETURN_IF_ERROR(scheduler::check_threshold(threshold, queue_size));
        params.threshold = threshold;
        return Status::ok();
    });
}

Status ConfiguredInferModel::set_scheduler_timeout(const std::chrono::milliseconds& timeout) {
    return update_scheduling(*pipeline_, [&](scheduler::ModelSchedulingParams& params) {
        CORUN_RETURN_IF_ERROR(check_not_negative("scheduler timeout", timeout, "no timeout"));
        params.timeout = timeout;
        return Status::ok();
    });
}

Status ConfiguredInferModel::set_latency_slo(std::chrono::milliseconds slo) {
    return update_scheduling(*pipeline_, [&](scheduler::ModelSchedulingParams& params) {
        CORUN_RETURN_IF_ERROR(check_not_negative("latency SLO", slo, "no SLO"));
        params.latency_slo = slo;
        return Status::ok();
    });
}

std::chrono::milliseconds ConfiguredInferModel::get_frame_time_limit() const {
    return std::chrono::duration_cast<std::chrono::milliseconds>(
        pipeline_->frame_limits.time_limit);
}

uint64_t ConfiguredInferModel::scheduler_model_id() const {
    return pipeline_->model_id;
}

const std::vector<std::string>& ConfiguredInferModel::get_input_names() const {
    return pipeline_->input_names;
}
const std::vector<std::string>& ConfiguredInferModel::get_output_names() const {
    return pipeline_->output_names;
}

}  // namespace corun
