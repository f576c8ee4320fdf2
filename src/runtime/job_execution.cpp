#include <chrono>
#include <cstdio>
#include <exception>

#include "runtime/job_state.hpp"

namespace corun {
namespace {

using Clock = std::chrono::steady_clock;

int64_t nanoseconds_between(Clock::time_point from, Clock::time_point to) {
    return std::chrono::duration_cast<std::chrono::nanoseconds>(to - from).count();
}

// Staging buffers for streams that need conversion, reused by each worker thread.
thread_local std::vector<std::vector<uint8_t>> staging_buffers;

// Callbacks running on this thread now: more than one when a callback's shutdown() cancels
// queued jobs, whose callbacks then run inside it.
thread_local int callbacks_running = 0;

// An exception from a user's callback would end the worker thread, and with it the process;
// it is reported where the user looks and otherwise ignored.
void report_callback_exception(const ConfiguredModelState& model, const char* what) {
    std::fprintf(stderr,
                 "corun: a run_async callback of model '%s' threw (%s); corun caught it and goes "
                 "on. Callbacks must not throw: catch inside the callback.\n",
                 model.model->info.name.c_str(), what);
}

}  // namespace

bool completion_callback_running() {
    return callbacks_running > 0;
}

void JobState::complete(Status result, const InferTiming& timing) {
    const auto frame_count = static_cast<uint32_t>(bindings.size());
    model->release_frames(frame_count);
    if (callback) {
        AsyncInferCompletionInfo info(result);
        info.timing = timing;
        info.frames = frame_count;
        ++callbacks_running;
        try {
            callback(info);
        } catch (const std::exception& error) {
            report_callback_exception(*model, error.what());
        } catch (...) {
            report_callback_exception(*model, "an exception not derived from std::exception");
        }
        --callbacks_running;
    }
    {
        std::lock_guard lock(mutex);
        status = std::move(result);
        done = true;
    }
    finished.notify_all();
    model->finish_job();
}

int64_t execute_job(const std::shared_ptr<JobState>& job, size_t device_index) {
    int expected = JobState::QUEUED;
    if (!job->phase.compare_exchange_strong(expected, JobState::RUNNING)) return 0;  // cancelled

    const ConfiguredModelState& model = *job->model;
    {
        // Shut down after the scheduler took this job but before it started (shutdown() from
        // the callback of an earlier job of the same burst): it does not start.
        std::unique_lock lock(model.mutex);
        if (model.shut_down) {
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

    // Point each stream at the user's buffer, or at a staging buffer where formats differ.
    std::vector<devices::FrameBuffers> frames(frame_count);
    size_t staging_used = 0;
    auto staging_for = [&](size_t bytes) -> uint8_t* {
        if (staging_buffers.size() <= staging_used) staging_buffers.emplace_back();
        auto& buffer = staging_buffers[staging_used++];
        if (buffer.size() < bytes) buffer.resize(bytes);
        return buffer.data();
    };
    Status status;
    for (size_t f = 0; f < frame_count && status.is_ok(); ++f) {
        const auto& buffers = job->bindings[f].buffers();
        for (size_t s = 0; s < model.streams.size() && status.is_ok(); ++s) {
            const ConfiguredStream& stream = model.streams[s];
            void* user = buffers[s].data;
            void* native = user;
            if (stream.converts) {
                native = staging_for(stream.native.byte_size());
                if (stream.is_input) {
                    status = runtime::convert_frame(user, buffers[s].size, stream.user, native,
                                                    stream.native.byte_size(), stream.native,
                                                    stream.quant);
                }
            }
            if (stream.is_input) {
                frames[f].inputs.push_back(native);
            } else {
                frames[f].outputs.push_back(native);
            }
        }
    }
    const auto device_started = Clock::now();
    if (status.is_ok()) {
        status = model.model->loaded[device_index]->execute(
            model.native_inputs, model.native_outputs, frames, model.frame_limits);
    }
    const auto device_finished = Clock::now();
    for (size_t f = 0; f < frame_count && status.is_ok(); ++f) {
        const auto& buffers = job->bindings[f].buffers();
        for (size_t s = model.input_count; s < model.streams.size() && status.is_ok(); ++s) {
            const ConfiguredStream& stream = model.streams[s];
            if (!stream.converts) continue;
            status = runtime::convert_frame(
                frames[f].outputs[s - model.input_count], stream.native.byte_size(), stream.native,
                buffers[s].data, buffers[s].size, stream.user, stream.quant);
        }
    }
    const auto finished = Clock::now();
    timing.device_ns = nanoseconds_between(device_started, device_finished);
    timing.conversion_ns = nanoseconds_between(started, device_started) +
                           nanoseconds_between(device_finished, finished);
    timing.total_ns = nanoseconds_between(job->submitted, finished);
    job->complete(std::move(status), timing);
    return timing.device_ns;
}

}  // namespace corun
