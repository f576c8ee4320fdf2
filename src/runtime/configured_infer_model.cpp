#include "corun/configured_infer_model.hpp"

#include <algorithm>

#include "runtime/caller_thread_submission.hpp"
#include "runtime/job_state.hpp"
#include "runtime/remote_configured_model.hpp"

namespace corun {
namespace {

bool is_forever(std::chrono::milliseconds timeout) {
    return timeout >= std::chrono::hours(24 * 365);
}

Status shut_down_error() {
    return Status(StatusCode::SHUTDOWN,
                  "this ConfiguredInferModel was shut down; configure the InferModel again to "
                  "run more inferences");
}

// `call` names the public call in messages: "run" or "run_async".
Expected<std::shared_ptr<JobState>> submit_job(
    const std::shared_ptr<ConfiguredModelState>& state, const std::string& call,
    const std::vector<ConfiguredInferModel::Bindings>& bindings, AsyncInferCallback callback,
    bool may_run_on_caller) {
    if (bindings.empty()) {
        return Status(StatusCode::INVALID_ARGUMENT, call + ": no bindings given");
    }
    for (size_t f = 0; f < bindings.size(); ++f) {
        if (&bindings[f].model() != state.get()) {
            return Status(StatusCode::INVALID_ARGUMENT,
                          call + ": bindings " + std::to_string(f) +
                              " were created by another ConfiguredInferModel");
        }
        const auto& buffers = bindings[f].buffers();
        for (size_t s = 0; s < state->streams.size(); ++s) {
            if (buffers[s].data == nullptr) {
                const auto& stream = state->streams[s];
                return Status(StatusCode::INVALID_ARGUMENT,
                              call + ": " + stream.describe() + " has no buffer; call bindings." +
                                  (stream.is_input ? "input" : "output") + "(\"" + stream.name +
                                  "\")->set_buffer(...) first");
            }
        }
    }
    auto job = std::make_shared<JobState>();
    job->model = state;
    job->bindings = bindings;
    job->callback = std::move(callback);
    {
        std::lock_guard lock(state->mutex);
        if (state->shut_down) return shut_down_error();
        if (state->frames_in_flight + bindings.size() > state->queue_size) {
            return Status(StatusCode::QUEUE_IS_FULL,
                          call + ": " + std::to_string(state->frames_in_flight) + " of " +
                              std::to_string(state->queue_size) + " queue slots are busy and " +
                              std::to_string(bindings.size()) +
                              " more frames do not fit; call wait_for_async_ready() first");
        }
        state->frames_in_flight += bindings.size();
        ++state->jobs_unfinished;
    }
    job->submitted = std::chrono::steady_clock::now();
    if (state->remote) {
        // corund schedules it; sync run() waits for the completion like run_async().
        Status sent = state->remote->submit(job, may_run_on_caller);
        if (!sent.is_ok()) {
            job->complete(sent, InferTiming{});
            return sent;
        }
        return job;
    }
    scheduler::InferRequest request;
    request.model_id = state->model_id;
    request.frames = static_cast<uint32_t>(bindings.size());
    request.run = [job](size_t device_index) { return execute_job(job, device_index); };
    request.cancel = [job](Status reason) {
        if (job->try_cancel()) job->complete(std::move(reason), InferTiming{});
    };
    auto& scheduler = state->model->group->scheduler();
    Status queued = may_run_on_caller ? scheduler.run_or_enqueue(std::move(request))
                                      : scheduler.enqueue(std::move(request));
    if (!queued.is_ok()) {
        if (job->try_cancel()) job->complete(queued, InferTiming{});
        return queued;
    }
    return job;
}

}  // namespace

std::string ConfiguredStream::describe() const {
    return std::string(is_input ? "input '" : "output '") + name + "' (" +
           format_type_name(user.type) + " " + format_order_name(user.order) + " " +
           shape_text(user.dims) + ", " + std::to_string(user.byte_size()) + " bytes per frame)";
}

ConfiguredModelState::~ConfiguredModelState() {
    shutdown().ignore();
    // A remote model is released in corund by its own destructor.
    if (!model->group->is_service()) model->group->scheduler().remove_model(model_id);
}

Status ConfiguredModelState::shutdown() {
    {
        std::lock_guard lock(mutex);
        shut_down = true;
    }
    if (remote) {
        remote->shutdown(*this);
    } else if (!model->group->is_service()) {
        model->group->scheduler().cancel_queued(
            model_id, Status(StatusCode::SHUTDOWN,
                             "the ConfiguredInferModel was shut down before this job ran"));
    }
    std::unique_lock lock(mutex);
    changed.notify_all();  // wake wait_for_async_ready callers
    // From a callback, the callback's own job is unfinished until it returns, and a callback on
    // another slot may be waiting in shutdown() for this one: return without waiting. Jobs not
    // yet started complete with SHUTDOWN all the same (execute_job checks shut_down).
    if (completion_callback_running()) return Status::ok();
    changed.wait(lock, [&] { return jobs_unfinished == 0; });
    return Status::ok();
}

void ConfiguredModelState::release_frames(size_t frames) {
    {
        std::lock_guard lock(mutex);
        frames_in_flight -= frames;
    }
    changed.notify_all();
}

void ConfiguredModelState::finish_job() {
    {
        std::lock_guard lock(mutex);
        --jobs_unfinished;
    }
    changed.notify_all();
}

ConfiguredInferModel::ConfiguredInferModel(std::shared_ptr<ConfiguredModelState> state)
    : state_(std::move(state)) {}

Expected<ConfiguredInferModel::Bindings> ConfiguredInferModel::create_bindings() {
    {
        std::lock_guard lock(state_->mutex);
        if (state_->shut_down) return shut_down_error();
    }
    return Bindings(state_);
}

Expected<ConfiguredInferModel::Bindings> ConfiguredInferModel::create_bindings(
    const std::map<std::string, MemoryView>& buffers) {
    CORUN_TRY(Bindings bindings, create_bindings());
    for (const auto& [name, view] : buffers) {
        const auto& streams = state_->streams;
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
Status wait_for_queue_space(ConfiguredModelState& state, const std::string& call,
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
    if (is_forever(timeout)) {
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
    return wait_for_queue_space(*state_, "wait_for_async_ready", timeout, frames_count);
}

Status ConfiguredInferModel::run(const Bindings& bindings, std::chrono::milliseconds timeout) {
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    CORUN_RETURN_IF_ERROR(wait_for_queue_space(*state_, "run", timeout, 1));
    CORUN_TRY(auto job, submit_job(state_, "run", {bindings}, nullptr, true));
    std::unique_lock lock(job->mutex);
    auto is_done = [&] { return job->done; };
    if (is_forever(timeout)) {
        job->finished.wait(lock, is_done);
    } else if (!job->finished.wait_until(lock, deadline, is_done)) {
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
    return job->status;
}

Expected<AsyncInferJob> ConfiguredInferModel::run_async(const Bindings& bindings,
                                                        AsyncInferCallback callback) {
    return run_async(std::vector<Bindings>{bindings}, std::move(callback));
}

Expected<AsyncInferJob> ConfiguredInferModel::run_async(const std::vector<Bindings>& bindings,
                                                        AsyncInferCallback callback) {
    CORUN_TRY(auto job, submit_job(state_, "run_async", bindings, std::move(callback), false));
    return AsyncInferJob(std::move(job));
}

Expected<AsyncInferJob> ConfiguredInferModelInternals::run_async_on_caller(
    ConfiguredInferModel& model, const std::vector<ConfiguredInferModel::Bindings>& bindings,
    AsyncInferCallback callback) {
    CORUN_TRY(auto job, submit_job(model.state_, "run_async", bindings, std::move(callback), true));
    return AsyncInferJob(std::move(job));
}

void ConfiguredInferModelInternals::terminate_running_frames(ConfiguredInferModel& model) {
    // A service model's frames run in corund, which terminates them itself.
    if (model.state_->remote) return;
    devices::FrameWatchdog::instance().terminate(model.state_->termination);
}

Expected<size_t> ConfiguredInferModel::get_async_queue_size() const {
    return state_->queue_size;
}

size_t ConfiguredInferModel::get_frames_in_flight() const {
    std::lock_guard lock(state_->mutex);
    return state_->frames_in_flight;
}

Status ConfiguredInferModel::shutdown() {
    return state_->shutdown();
}

namespace {

// Applies `change` to the model's scheduling params and hands them to the scheduler.
template <typename Change>
Status update_scheduling(ConfiguredModelState& state, Change change) {
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
    if (state.remote) return state.remote->set_scheduling(params);
    return state.model->group->scheduler().set_params(state.model_id, params);
}

}  // namespace

Status ConfiguredInferModel::set_scheduler_priority(uint32_t priority) {
    return update_scheduling(*state_, [&](scheduler::ModelSchedulingParams& params) {
        CORUN_RETURN_IF_ERROR(scheduler::check_priority(priority));
        params.priority = static_cast<uint8_t>(priority);
        return Status::ok();
    });
}

Status ConfiguredInferModel::set_scheduler_threshold(uint32_t threshold) {
    const auto queue_size = static_cast<uint32_t>(state_->queue_size);
    return update_scheduling(*state_, [&](scheduler::ModelSchedulingParams& params) {
        CORUN_RETURN_IF_ERROR(scheduler::check_threshold(threshold, queue_size));
        params.threshold = threshold;
        return Status::ok();
    });
}

Status ConfiguredInferModel::set_scheduler_timeout(const std::chrono::milliseconds& timeout) {
    return update_scheduling(*state_, [&](scheduler::ModelSchedulingParams& params) {
        if (timeout.count() < 0) {
            return Status(StatusCode::INVALID_ARGUMENT,
                          "scheduler timeout " + std::to_string(timeout.count()) +
                              " ms is negative; use 0 (no timeout) or more");
        }
        params.timeout = timeout;
        return Status::ok();
    });
}

std::chrono::milliseconds ConfiguredInferModel::get_frame_time_limit() const {
    return std::chrono::duration_cast<std::chrono::milliseconds>(state_->frame_limits.time_limit);
}

uint64_t ConfiguredInferModel::scheduler_model_id() const {
    return state_->model_id;
}

const std::vector<std::string>& ConfiguredInferModel::get_input_names() const {
    return state_->input_names;
}
const std::vector<std::string>& ConfiguredInferModel::get_output_names() const {
    return state_->output_names;
}

}  // namespace corun
