#include "service/daemon/job_submitter.hpp"

#include "runtime/api_access.hpp"
#include "service/daemon/daemon_config.hpp"
#include "service/daemon/status_message.hpp"

namespace corun::service {
namespace {

// The completion of the job that submit() is handing to the scheduler on this thread. Set only
// for the length of that call: a callback that finds its job here runs on the submitting
// thread (the frame ran there, or the scheduler refused it) and leaves its Completion here for
// submit() to return, instead of queueing it for the writer.
struct CompletionOnThisThread {
    uint64_t job_id = 0;
    std::optional<v1::ServerMessage> message;
};
thread_local CompletionOnThisThread* completion_on_this_thread = nullptr;

}  // namespace

JobSubmitter::JobSubmitter(ModelRegistry& models, BufferRegistry& buffers,
                           std::shared_ptr<CompletionOutbox> outbox, uint64_t max_queued_frames)
    : models_(models),
      buffers_(buffers),
      outbox_(std::move(outbox)),
      max_queued_frames_(max_queued_frames) {}

std::optional<v1::ServerMessage> JobSubmitter::submit(const v1::InferRequest& request,
                                                      std::shared_ptr<FastLaneServer> lane,
                                                      bool may_run_here) {
    auto found = models_.find_served(request.model_id());
    std::shared_ptr<ServedModel> served = found ? found.release() : nullptr;
    // Resolved and pinned under the registry's lock, so that a ReleaseBuffer cannot succeed
    // between here and the frame holding them; every refusal below unpins.
    auto resolved = buffers_.resolve(request, served ? &served->layout : nullptr);
    if (!resolved) return error_completion(request.job_id(), resolved.status());
    const std::vector<ResolvedFrame> frames = std::move(resolved->frames);
    const RegionPins pins = std::move(resolved->pins);
    const uint64_t frame_count = pins.frames;
    if (Status fault = pins.fault(); !fault.is_ok()) {
        pins.release();
        return error_completion(request.job_id(), fault);
    }
    const uint64_t before = frames_in_flight_->fetch_add(frame_count);
    if (before + frame_count > max_queued_frames_) {
        frames_in_flight_->fetch_sub(frame_count);
        pins.release();
        return error_completion(
            request.job_id(),
            Status(StatusCode::RESOURCE_LIMIT,
                   "this client has " + std::to_string(before) +
                       " frames queued or running, and corund allows " +
                       std::to_string(max_queued_frames_) +
                       " per client; wait for completions before sending more, or " +
                       how_to_raise("max_queued_frames_per_client")));
    }
    std::vector<ConfiguredInferModel::Bindings> bindings;
    bindings.reserve(frames.size());
    const auto& layout = served->layout;
    for (const auto& frame : frames) {
        auto created = served->configured.create_bindings();
        Status bound = created.status();
        for (size_t s = 0; bound.is_ok() && s < layout.inputs.size(); ++s) {
            auto stream = created->input(layout.inputs[s].name);
            bound = stream ? stream->set_buffer(frame.inputs[s]) : stream.status();
        }
        for (size_t s = 0; bound.is_ok() && s < layout.outputs.size(); ++s) {
            auto stream = created->output(layout.outputs[s].name);
            bound = stream ? stream->set_buffer(frame.outputs[s]) : stream.status();
        }
        if (!bound.is_ok()) {
            frames_in_flight_->fetch_sub(frame_count);
            pins.release();
            return error_completion(request.job_id(), bound);
        }
        bindings.push_back(created.release());
    }
    if (lane) served->fast_lane_frames += frame_count;
    // The callback holds only what cannot block when it is dropped on a worker thread: the
    // outbox, the activity counters and the regions (unmapped when the last holder goes).
    auto callback = [outbox = outbox_, activity = served->activity, counter = frames_in_flight_,
                     pins, lane, job_id = request.job_id()](const AsyncInferCompletionInfo& info) {
        pins.release();
        counter->fetch_sub(pins.frames);
        if (info.status.is_ok()) {
            activity->record(ModelActivity::Clock::now(), static_cast<uint32_t>(pins.frames),
                             info.timing.queue_ns + info.timing.device_ns, info.timing.device_ns);
        }
        // A region the client shrank while the frame ran read as zeros: the result is void.
        const Status status = info.status.is_ok() ? pins.fault() : info.status;
        v1::ServerMessage message;
        v1::Completion& completion = *message.mutable_completion();
        completion.set_job_id(job_id);
        *completion.mutable_status() = to_proto(status);
        completion.set_queue_ns(info.timing.queue_ns);
        completion.set_device_ns(info.timing.device_ns);
        completion.set_predicted_ns(info.timing.predicted_ns);
        if (completion_on_this_thread != nullptr && completion_on_this_thread->job_id == job_id) {
            completion_on_this_thread->message = std::move(message);
        } else if (lane) {
            lane->complete(message.completion());
        } else {
            outbox->push(std::move(message), activity);
        }
    };
    // A fast-lane frame (a synchronous run(), the latency-bound case) of a client with nothing
    // else in flight runs on the lane's thread when a slot is free and the policy picks it now;
    // else it is queued as by run_async. Stream requests are always queued: while the stream's
    // reader ran one frame it would read none of the next, and the client's other frames would
    // wait in the socket instead of the scheduler's queues. "Nothing else in flight" counts
    // only frames corund holds, not those on their way, so serving stream requests inline made
    // a client pumping several models run them in arrival order, one at a time (4 models in
    // one process: 210 FPS in lockstep, 422 FPS with fair device time once queued). The lane
    // ring's jobs are queued for the same reason: its thread must go on taking entries.
    CompletionOnThisThread here{request.job_id(), std::nullopt};
    completion_on_this_thread = &here;
    // A job's own deadline is an instant on the monotonic clock that client and daemon share.
    const std::chrono::steady_clock::time_point deadline{
        std::chrono::nanoseconds(request.deadline_ns())};
    auto job = request.deadline_ns() != 0
                   ? served->configured.run_async(bindings, deadline, std::move(callback))
               : lane && may_run_here && before == 0
                   ? runtime::run_async_on_caller(served->configured, bindings, std::move(callback))
                   : served->configured.run_async(bindings, std::move(callback));
    completion_on_this_thread = nullptr;
    if (job) {
        job->detach();
        return std::move(here.message);  // empty unless the frame ran on this thread
    }
    // Refused. By the scheduler: the job was completed through the callback, on this thread.
    // Before queueing (QUEUE_IS_FULL, SHUTDOWN, ...): no callback ran, so undo what it would have.
    if (here.message) return std::move(here.message);
    pins.release();
    frames_in_flight_->fetch_sub(frame_count);
    return error_completion(request.job_id(), job.status());
}

}  // namespace corun::service
