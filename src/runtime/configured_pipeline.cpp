#include "runtime/configured_pipeline.hpp"

#include "runtime/api_access.hpp"
#include "runtime/infer_job.hpp"

namespace corun {
Status shut_down_error() {
    return Status(StatusCode::SHUTDOWN,
                  "this ConfiguredInferModel was shut down; configure the InferModel again to "
                  "run more inferences");
}

std::string ConfiguredStream::describe() const {
    const std::string size = user.type == FormatType::STRING
                                 ? std::to_string(user.element_count()) + " strings per frame"
                                 : std::to_string(user.byte_size()) + " bytes per frame";
    return std::string(is_input ? "input '" : "output '") + name + "' (" +
           format_type_name(user.type) + " " + format_order_name(user.order) + " " +
           shape_text(user.dims) + ", " + size + ")";
}

ConfiguredPipeline::~ConfiguredPipeline() {
    shutdown().ignore();
    // Every job has completed: the backend releases the model (here or in corund).
    execution.reset();
}

Status ConfiguredPipeline::shutdown() {
    {
        std::lock_guard lock(mutex);
        shut_down = true;
    }
    if (execution) execution->stop_jobs(*this);
    std::unique_lock lock(mutex);
    changed.notify_all();  // wake wait_for_async_ready callers
    // From a callback, the callback's own job is unfinished until it returns, and a callback on
    // another slot may be waiting in shutdown() for this one: return without waiting. Jobs not
    // yet started complete with SHUTDOWN all the same (they check shut_down before running).
    if (completion_callback_running()) return Status::ok();
    changed.wait(lock, [&] { return jobs_unfinished == 0; });
    return Status::ok();
}

void ConfiguredPipeline::release_frames(size_t frames) {
    {
        std::lock_guard lock(mutex);
        frames_in_flight -= frames;
    }
    changed.notify_all();
}

void ConfiguredPipeline::finish_job() {
    {
        std::lock_guard lock(mutex);
        --jobs_unfinished;
    }
    changed.notify_all();
}

Status no_latency_prediction_yet() {
    return Status(StatusCode::UNINITIALIZED,
                  "no frame of this model has run yet, so the scheduler has no execution time "
                  "to plan with; run a frame first");
}

// `call` names the public call in messages: "run" or "run_async".
Expected<std::shared_ptr<InferJob>> submit_job(
    const std::shared_ptr<ConfiguredPipeline>& state, const std::string& call,
    const std::vector<ConfiguredInferModel::Bindings>& bindings, AsyncInferCallback callback,
    bool may_run_on_caller, std::chrono::steady_clock::time_point deadline) {
    if (bindings.empty()) {
        return Status(StatusCode::INVALID_ARGUMENT, call + ": no bindings given");
    }
    for (size_t f = 0; f < bindings.size(); ++f) {
        if (runtime::ApiAccess::pipeline_of(bindings[f]) != state.get()) {
            return Status(StatusCode::INVALID_ARGUMENT,
                          call + ": bindings " + std::to_string(f) +
                              " were created by another ConfiguredInferModel");
        }
        const auto& buffers = runtime::ApiAccess::buffers(bindings[f]);
        for (size_t s = 0; s < state->streams.size(); ++s) {
            const auto& stream = state->streams[s];
            // A zero-size stream has no bytes to bind; an unbound optional input is omitted.
            const bool no_bytes =
                stream.user.byte_size() == 0 && stream.user.type != FormatType::STRING;
            if (buffers[s].data != nullptr || no_bytes) continue;
            if (stream.optional && state->execution->runs_without_optional_inputs()) continue;
            if (stream.optional) {
                return Status(StatusCode::NOT_SUPPORTED,
                              call + ": optional " + stream.describe() +
                                  " is unbound; leaving an optional input out works in-process, "
                                  "but corund receives every stream of a frame: bind it "
                                  "(bindings.input(\"" +
                                  stream.name + "\")->set_buffer(...))");
            }
            return Status(StatusCode::INVALID_ARGUMENT,
                          call + ": " + stream.describe() + " has no buffer; call bindings." +
                              (stream.is_input ? "input" : "output") + "(\"" + stream.name +
                              "\")->set_buffer(...) first");
        }
    }
    auto job = std::make_shared<InferJob>();
    job->pipeline = state;
    job->bindings = bindings;
    job->callback = std::move(callback);
    job->deadline = deadline;
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
    Status taken = state->execution->submit(job, may_run_on_caller);
    if (!taken.is_ok()) {
        job->complete(taken, InferTiming{});  // not taken: completed here, exactly once
        return taken;
    }
    return job;
}

}  // namespace corun
