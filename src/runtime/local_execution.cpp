#include "runtime/local_execution.hpp"

#include <chrono>

#include "runtime/api_access.hpp"
#include "runtime/device_group.hpp"
#include "runtime/frame_staging.hpp"
#include "runtime/infer_job.hpp"

namespace corun::runtime {
namespace {

using Clock = std::chrono::steady_clock;

int64_t nanoseconds_between(Clock::time_point from, Clock::time_point to) {
    return std::chrono::duration_cast<std::chrono::nanoseconds>(to - from).count();
}

// Staging buffers for streams that need conversion, reused by each worker thread.
thread_local std::vector<std::vector<uint8_t>> staging_buffers;

}  // namespace

Expected<std::unique_ptr<ModelExecution>> LocalExecution::create(LocalBackend& backend,
                                                                 LocalModel& model,
                                                                 ConfiguredPipeline& pipeline) {
    DeviceGroup::stop_all_at_exit();
    const uint64_t model_id = backend.next_model_id();
    CORUN_RETURN_IF_ERROR(
        backend.scheduler().add_model(model_id, pipeline.model->info.name, pipeline.scheduling));
    return std::unique_ptr<ModelExecution>(new LocalExecution(backend, model, pipeline, model_id));
}

LocalExecution::~LocalExecution() {
    backend_.scheduler().remove_model(model_id_);
}

Status LocalExecution::submit(const std::shared_ptr<InferJob>& job, bool may_run_on_caller) {
    scheduler::InferRequest request;
    request.model_id = model_id_;
    request.frames = static_cast<uint32_t>(job->bindings.size());
    request.deadline = job->deadline;
    request.run = [this, job](size_t device_index) { return run_job(job, device_index); };
    request.cancel = [job](Status reason) {
        InferTiming timing;
        timing.predicted_ns = job->predicted_ns;  // a refused frame's prediction says why
        if (job->try_cancel()) job->complete(std::move(reason), timing);
    };
    request.predicted = [job](std::chrono::nanoseconds predicted) {
        job->predicted_ns = predicted.count();
    };
    auto& scheduler = backend_.scheduler();
    return may_run_on_caller ? scheduler.run_or_enqueue(std::move(request))
                             : scheduler.enqueue(std::move(request));
}

Status LocalExecution::set_scheduling(const scheduler::ModelSchedulingParams& params) {
    return backend_.scheduler().set_params(model_id_, params);
}

Expected<std::chrono::nanoseconds> LocalExecution::predicted_latency() const {
    auto predicted = backend_.scheduler().predicted_latency(model_id_);
    if (!predicted) return no_latency_prediction_yet();
    return *predicted;
}

void LocalExecution::stop_jobs(ConfiguredPipeline&) {
    backend_.scheduler().cancel_queued(
        model_id_,
        Status(StatusCode::SHUTDOWN, "the ConfiguredInferModel was shut down before this job ran"));
}

void LocalExecution::terminate_running_frames() {
    devices::FrameWatchdog::instance().terminate(pipeline_.termination);
}

int64_t LocalExecution::run_job(const std::shared_ptr<InferJob>& job, size_t device_index) {
    int expected = InferJob::QUEUED;
    if (!job->phase.compare_exchange_strong(expected, InferJob::RUNNING)) return 0;  // cancelled
    // A frame above normal priority is urgent: a device that shares its cores by itself gives
    // it all of them (devices::FrameLimits::urgent).
    devices::FrameLimits limits = pipeline_.frame_limits;
    {
        // Shut down after the scheduler took this job but before it started (shutdown() from
        // the callback of an earlier job of the same burst): it does not start.
        std::unique_lock lock(pipeline_.mutex);
        limits.urgent = pipeline_.scheduling.priority > scheduler::PRIORITY_NORMAL;
        if (pipeline_.shut_down) {
            lock.unlock();
            job->complete(Status(StatusCode::SHUTDOWN,
                                 "the ConfiguredInferModel was shut down before this job ran"),
                          InferTiming{});
            return 0;
        }
    }
    const auto started = Clock::now();
    InferTiming timing;
    timing.queue_ns = nanoseconds_between(job->submitted, started);
    const size_t frame_count = job->bindings.size();
    const size_t stream_count = pipeline_.streams.size();

    // Each stream's native buffer: the user's own, or a staging buffer where formats differ.
    std::vector<void*> native(frame_count * stream_count);
    auto native_of = [&](size_t f) {
        return std::span<void* const>(native.data() + f * stream_count, stream_count);
    };
    std::vector<devices::FrameBuffers> frames(frame_count);
    size_t staging_used = 0;
    Status status;
    for (size_t f = 0; f < frame_count && status.is_ok(); ++f) {
        const auto& user = ApiAccess::buffers(job->bindings[f]);
        for (size_t s = 0; s < stream_count; ++s) {
            const ConfiguredStream& stream = pipeline_.streams[s];
            native[f * stream_count + s] = user[s].data;
            if (user[s].data == nullptr) {
                native[f * stream_count + s] =
                    const_cast<void*>(native_buffer_for_unbound(stream));  // never written
            } else if (stream.converts) {
                if (staging_buffers.size() <= staging_used) staging_buffers.emplace_back();
                auto& buffer = staging_buffers[staging_used++];
                if (buffer.size() < stream.native.byte_size()) {
                    buffer.resize(stream.native.byte_size());
                }
                native[f * stream_count + s] = buffer.data();
            }
            // Sizes matter only for STRING streams, which never convert: native is the user's.
            if (stream.is_input) {
                frames[f].inputs.push_back(native[f * stream_count + s]);
                frames[f].input_sizes.push_back(user[s].size);
            } else {
                frames[f].outputs.push_back(native[f * stream_count + s]);
                frames[f].output_sizes.push_back(user[s].size);
            }
        }
        status = stage_inputs(pipeline_, user, native_of(f));
    }
    const auto device_started = Clock::now();
    if (status.is_ok()) {
        status = model_.on_device(device_index)
                     .execute(pipeline_.native_inputs, pipeline_.native_outputs, frames, limits);
    }
    const auto device_finished = Clock::now();
    for (size_t f = 0; f < frame_count && status.is_ok(); ++f) {
        status = unstage_outputs(pipeline_, native_of(f), ApiAccess::buffers(job->bindings[f]));
    }
    const auto finished = Clock::now();
    timing.device_ns = nanoseconds_between(device_started, device_finished);
    timing.conversion_ns = nanoseconds_between(started, device_started) +
                           nanoseconds_between(device_finished, finished);
    timing.total_ns = nanoseconds_between(job->submitted, finished);
    timing.predicted_ns = job->predicted_ns;
    job->complete(std::move(status), timing);
    return timing.device_ns;
}

}  // namespace corun::runtime
