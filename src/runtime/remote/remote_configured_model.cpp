#include "runtime/remote/remote_configured_model.hpp"

#include <chrono>
#include <cmath>

#include "runtime/api_access.hpp"
#include "runtime/configured_pipeline.hpp"
#include "runtime/frame_staging.hpp"
#include "runtime/infer_job.hpp"
#include "runtime/remote/remote_backend.hpp"

namespace corun::remote {
namespace {

using Clock = std::chrono::steady_clock;

// How long shutdown() waits for the completions of a model the daemon has shut down.
constexpr std::chrono::seconds COMPLETIONS_AFTER_SHUTDOWN{30};

// Tensors start on cache-line boundaries inside a slot.
size_t aligned(size_t bytes) {
    constexpr size_t line = 64;
    return (bytes + line - 1) / line * line;
}

int64_t nanoseconds_since(Clock::time_point from) {
    return std::chrono::duration_cast<std::chrono::nanoseconds>(Clock::now() - from).count();
}

service::SchedulingSettings settings_of(const scheduler::ModelSchedulingParams& params) {
    service::SchedulingSettings settings;
    settings.priority = params.priority;
    settings.threshold = params.threshold;
    settings.timeout_ms =
        static_cast<uint32_t>(std::chrono::ceil<std::chrono::milliseconds>(params.timeout).count());
    settings.burst = params.burst;
    settings.latency_slo_ms = static_cast<uint32_t>(
        std::chrono::ceil<std::chrono::milliseconds>(params.latency_slo).count());
    return settings;
}

}  // namespace

Expected<std::unique_ptr<runtime::ModelExecution>> RemoteConfiguredModel::create(
    std::shared_ptr<service::ServiceConnection> connection, const RemoteModel& loaded,
    const ConfiguredPipeline& configured) {
    const std::string& name = configured.model->info.name;
    size_t slot_bytes = 0;
    for (const auto& stream : configured.streams) slot_bytes += aligned(stream.native.byte_size());

    service::RemoteModelConfiguration configuration;
    configuration.loaded_model_id = loaded.loaded_model_id();
    configuration.name = name;
    configuration.native_inputs = configured.native_inputs;
    configuration.native_outputs = configured.native_outputs;
    configuration.batch_size = configured.batch_size;
    configuration.queue_size = static_cast<uint32_t>(configured.queue_size);
    configuration.scheduling = settings_of(configured.scheduling);
    configuration.frame_time_limit =
        std::chrono::duration_cast<std::chrono::milliseconds>(configured.frame_limits.time_limit);
    CORUN_TRY(uint64_t model_id, connection->configure_model(configuration));

    auto region = service::SharedMemoryRegion::create(slot_bytes * configured.queue_size);
    Expected<uint64_t> buffer_id = region
                                       ? connection->register_buffer(region->name(), region->size())
                                       : Expected<uint64_t>(region.status());
    // The daemon mapped it (or failed to): the name is not needed any more either way.
    if (region) region->unlink();
    if (!buffer_id) {
        connection->release_model(model_id).ignore();
        return buffer_id.status().with_context("configure: frame buffers for model '" + name +
                                               "' in corund");
    }
    std::unique_ptr<RemoteConfiguredModel> remote(
        new RemoteConfiguredModel(std::move(connection), configured, region.release(), slot_bytes));
    remote->model_id_ = model_id;
    remote->buffer_id_ = *buffer_id;
    return std::unique_ptr<runtime::ModelExecution>(std::move(remote));
}

RemoteConfiguredModel::RemoteConfiguredModel(std::shared_ptr<service::ServiceConnection> connection,
                                             const ConfiguredPipeline& configured,
                                             service::SharedMemoryRegion region, size_t slot_bytes)
    : connection_(std::move(connection)),
      configured_(configured),
      region_(std::move(region)),
      slot_bytes_(slot_bytes) {
    size_t offset = 0;
    for (const auto& stream : configured_.streams) {
        stream_offsets_.push_back(offset);
        offset += aligned(stream.native.byte_size());
    }
    for (size_t slot = 0; slot < configured_.queue_size; ++slot) {
        for (size_t stream_offset : stream_offsets_) {
            slot_stream_buffers_.push_back(slot_data(static_cast<uint32_t>(slot)) + stream_offset);
        }
    }
    // Highest first, so that pop_back hands out slot 0 first.
    for (size_t slot = configured_.queue_size; slot > 0; --slot)
        free_slots_.push_back(static_cast<uint32_t>(slot - 1));
}

RemoteConfiguredModel::~RemoteConfiguredModel() {
    if (connection_->is_broken()) return;  // the daemon released everything of the session
    connection_->release_model(model_id_).ignore();
    connection_->release_buffer(buffer_id_).ignore();
}

Status RemoteConfiguredModel::submit(const std::shared_ptr<InferJob>& job, bool may_run_on_caller) {
    const auto started = Clock::now();
    const size_t frame_count = job->bindings.size();
    SentJob sent;
    sent.job = job;
    {
        std::lock_guard lock(mutex_);
        // The queue accounting (frames_in_flight <= queue_size) keeps enough slots free, as a
        // slot is freed before its job releases its frames.
        if (free_slots_.size() < frame_count) {
            return Status(StatusCode::INTERNAL_FAILURE,
                          "run_async: " + std::to_string(frame_count) + " frames need slots but " +
                              std::to_string(free_slots_.size()) +
                              " are free; this is a bug in corun's queue accounting");
        }
        for (size_t f = 0; f < frame_count; ++f) {
            sent.slots.push_back(free_slots_.back());
            free_slots_.pop_back();
        }
    }
    auto give_back_slots = [&] {
        std::lock_guard lock(mutex_);
        free_slots_.insert(free_slots_.end(), sent.slots.begin(), sent.slots.end());
    };
    std::vector<service::FrameSlices> frames(frame_count);
    Status status;
    for (size_t f = 0; f < frame_count && status.is_ok(); ++f) {
        const uint64_t slot_offset = static_cast<uint64_t>(sent.slots[f]) * slot_bytes_;
        for (size_t s = 0; s < configured_.streams.size(); ++s) {
            const service::BufferSlice slice{buffer_id_, slot_offset + stream_offsets_[s],
                                             configured_.streams[s].native.byte_size()};
            (configured_.streams[s].is_input ? frames[f].inputs : frames[f].outputs)
                .push_back(slice);
        }
        status = runtime::stage_inputs(configured_, runtime::ApiAccess::buffers(job->bindings[f]),
                                       slot_streams(sent.slots[f]));
    }
    if (!status.is_ok()) {
        give_back_slots();
        return status;
    }
    sent.conversion_ns = nanoseconds_since(started);
    // From here the daemon may write the job's slots: run()'s timeout must wait for the
    // completion rather than cancel the job (try_cancel fails on a RUNNING job).
    job->phase = InferJob::RUNNING;
    auto& session = connection_->session();
    const uint64_t job_id = session.next_job_id();
    {
        std::lock_guard lock(mutex_);
        sent_.emplace(job_id, sent);
    }
    // A job with its own deadline goes by the stream: the lanes' pages carry no deadline (a
    // model's SLO needs none, corund applies it).
    const bool has_deadline = job->deadline != Clock::time_point{};
    if (auto* lane = connection_->fast_lane();
        lane != nullptr && may_run_on_caller && frame_count == 1 && !has_deadline) {
        auto completion = lane->run(
            // The stream, not a failed control call, says the daemon is gone: while it may still
            // run the frame, its slots must not go back to the free list.
            job_id, model_id_, frames.front(),
            [this] { return connection_->session().is_broken(); }, connection_->socket());
        if (completion) {
            on_completion(job_id, std::move(*completion));
            return Status::ok();
        }
    }
    service::CompletionHandler handler = [this, job_id](service::JobCompletion completion) {
        on_completion(job_id, std::move(completion));
    };
    // Every other job takes the lane ring while it has room, else the stream.
    if (auto* ring = connection_->lane_ring();
        ring != nullptr && !has_deadline && ring->submit(job_id, model_id_, frames, handler)) {
        return Status::ok();
    }
    status = session.submit(job_id, model_id_, frames, std::move(handler), job->deadline);
    if (!status.is_ok()) {
        {
            std::lock_guard lock(mutex_);
            sent_.erase(job_id);
        }
        give_back_slots();
    }
    return status;
}

void RemoteConfiguredModel::on_completion(uint64_t job_id, service::JobCompletion completion) {
    std::shared_ptr<InferJob> job;
    SentJob sent;
    {
        std::lock_guard lock(mutex_);
        auto found = sent_.find(job_id);
        if (found == sent_.end()) return;  // completed by shutdown() already
        sent = std::move(found->second);
        sent_.erase(found);
    }
    job = std::move(sent.job);
    const auto started = Clock::now();
    Status status = std::move(completion.status);
    for (size_t f = 0; f < sent.slots.size() && status.is_ok(); ++f) {
        status = runtime::unstage_outputs(configured_, slot_streams(sent.slots[f]),
                                          runtime::ApiAccess::buffers(job->bindings[f]));
    }
    InferTiming timing;
    timing.queue_ns = completion.queue_ns;
    timing.device_ns = completion.device_ns;
    timing.predicted_ns = completion.predicted_ns;
    timing.conversion_ns = sent.conversion_ns + nanoseconds_since(started);
    timing.total_ns =
        std::chrono::duration_cast<std::chrono::nanoseconds>(Clock::now() - job->submitted).count();
    {
        std::lock_guard lock(mutex_);
        free_slots_.insert(free_slots_.end(), sent.slots.begin(), sent.slots.end());
    }
    job->complete(std::move(status), timing);
    // `job` may hold the last reference to the configured model, and so to this object:
    // nothing touches `this` after it is released here.
}

Expected<std::chrono::nanoseconds> RemoteConfiguredModel::predicted_latency() const {
    CORUN_TRY(auto all, connection_->scheduler_stats());
    for (const auto& stats : all) {
        if (stats.model_id != model_id_) continue;
        if (stats.predicted_latency_ms < 0) return no_latency_prediction_yet();
        return std::chrono::nanoseconds(std::llround(stats.predicted_latency_ms * 1e6));
    }
    return Status(StatusCode::NOT_FOUND, "corund does not list this configured model (id " +
                                             std::to_string(model_id_) +
                                             "); it was released or the service restarted");
}

Status RemoteConfiguredModel::set_scheduling(const scheduler::ModelSchedulingParams& params) {
    return connection_->set_scheduling_params(model_id_, settings_of(params));
}

void RemoteConfiguredModel::stop_jobs(ConfiguredPipeline& state) {
    Status sent;
    {
        // Not mutex_: completions keep arriving (and need it) while the daemon shuts down.
        std::lock_guard lock(shutdown_mutex_);
        if (!shutdown_sent_) {
            shutdown_sent_ = true;
            shutdown_result_ =
                connection_->is_broken() ? Status::ok() : connection_->shutdown_model(model_id_);
        }
        sent = shutdown_result_;
    }
    // Called from a completion callback: that callback runs on the thread that reads the
    // completions still to come, so waiting here would wait for itself. The remaining jobs
    // complete as corund answers, after the callback returns (as in-process).
    if (completion_callback_running()) return;
    {
        std::unique_lock lock(state.mutex);
        const auto wait = sent.is_ok() ? std::chrono::seconds(COMPLETIONS_AFTER_SHUTDOWN)
                                       : std::chrono::seconds(0);
        if (state.changed.wait_for(lock, wait, [&] { return state.jobs_unfinished == 0; })) {
            return;
        }
    }
    complete_unanswered(sent.is_ok()
                            ? Status(StatusCode::RPC_FAILED,
                                     "corund at " + connection_->socket() +
                                         " shut the model down but sent no "
                                         "completion for this job within " +
                                         std::to_string(COMPLETIONS_AFTER_SHUTDOWN.count()) +
                                         " s; see the daemon's log")
                            : sent.with_context("shutting the model down in corund"));
}

void RemoteConfiguredModel::complete_unanswered(const Status& reason) {
    std::vector<std::shared_ptr<InferJob>> unanswered;
    {
        std::lock_guard lock(mutex_);
        for (auto it = sent_.begin(); it != sent_.end();) {
            // A job whose handler is already running is left to it. The slots of the others
            // stay taken: the daemon may still write them, and the model takes no more jobs.
            if (connection_->abandon(it->first)) {
                unanswered.push_back(std::move(it->second.job));
                it = sent_.erase(it);
            } else {
                ++it;
            }
        }
    }
    for (auto& job : unanswered) job->complete(reason, InferTiming{});
}

}  // namespace corun::remote
