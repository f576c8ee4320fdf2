// A configured model whose frames run in corund. It owns one shared-memory region registered
// with the daemon that holds queue_size frame slots (native inputs, then native outputs), the
// list of free slots, and the jobs sent and not yet completed. The client converts formats
// itself (the daemon does none): user inputs are converted or copied into a slot before the
// job is sent, and the slot's outputs into the user's buffers when its completion arrives.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <span>
#include <string>
#include <vector>

#include "corun/expected.hpp"
#include "runtime/backend.hpp"
#include "runtime/remote/service_connection.hpp"
#include "runtime/remote/shared_memory_region.hpp"
#include "scheduler/scheduling_params.hpp"

namespace corun {

struct ConfiguredPipeline;
struct InferJob;

namespace remote {

class RemoteModel;

class RemoteConfiguredModel final : public runtime::ModelExecution {
public:
    // ConfigureModel with the pipeline's native tensors, batch and queue sizes and scheduling,
    // then the slot region: created, registered, unlinked.
    static Expected<std::unique_ptr<runtime::ModelExecution>> create(
        std::shared_ptr<service::ServiceConnection> connection, const RemoteModel& loaded,
        const ConfiguredPipeline& configured);
    // Releases the model and the region in the daemon. Every job must be finished.
    ~RemoteConfiguredModel() override;
    RemoteConfiguredModel(const RemoteConfiguredModel&) = delete;
    RemoteConfiguredModel& operator=(const RemoteConfiguredModel&) = delete;

    // The daemon's id of this configured model (as in its scheduler statistics).
    uint64_t model_id() const override { return model_id_; }

    // Fills free slots with the job's inputs and sends it. SUCCESS: the job will be completed
    // exactly once (from the reader thread of the lane ring or of the stream, or by
    // stop_jobs()). An error: the job was not sent and the caller completes it. With
    // `may_run_on_caller` (a sync run()) a one-frame job goes through the session's fast lane
    // when it is free, and has completed on return.
    Status submit(const std::shared_ptr<InferJob>& job, bool may_run_on_caller) override;

    bool runs_without_optional_inputs() const override { return false; }
    Status set_scheduling(const scheduler::ModelSchedulingParams& params) override;
    Expected<std::chrono::nanoseconds> predicted_latency() const override;

    // ShutdownModel (once): the daemon completes the queued frames with SHUTDOWN and waits for
    // running ones. Then waits, bounded, for their completions; jobs still missing after that
    // (the daemon went away or never answered) are completed here with the reason.
    void stop_jobs(ConfiguredPipeline& pipeline) override;

    // corund terminates the frames it runs itself (a client that goes away, SIGTERM).
    void terminate_running_frames() override {}

private:
    struct SentJob {
        std::shared_ptr<InferJob> job;
        std::vector<uint32_t> slots;  // one per frame
        int64_t conversion_ns = 0;
    };

    RemoteConfiguredModel(std::shared_ptr<service::ServiceConnection> connection,
                          const ConfiguredPipeline& configured, service::SharedMemoryRegion region,
                          size_t slot_bytes);
    void on_completion(uint64_t job_id, service::JobCompletion completion);
    void complete_unanswered(const Status& reason);
    uint8_t* slot_data(uint32_t slot) const { return region_.data() + slot * slot_bytes_; }
    // Each stream's native buffer of `slot`, in stream order (laid out once: no allocation
    // per frame).
    std::span<void* const> slot_streams(uint32_t slot) const {
        return {slot_stream_buffers_.data() + slot * stream_offsets_.size(),
                stream_offsets_.size()};
    }

    std::shared_ptr<service::ServiceConnection> connection_;
    const ConfiguredPipeline& configured_;  // owns this object
    service::SharedMemoryRegion region_;
    size_t slot_bytes_ = 0;
    std::vector<size_t> stream_offsets_;      // within a slot, per stream (inputs, then outputs)
    std::vector<void*> slot_stream_buffers_;  // slot by slot, each stream's buffer
    uint64_t model_id_ = 0;
    uint64_t buffer_id_ = 0;

    std::mutex mutex_;
    std::vector<uint32_t> free_slots_;
    std::map<uint64_t, SentJob> sent_;  // job id -> job awaiting its completion

    std::mutex shutdown_mutex_;
    bool shutdown_sent_ = false;  // guarded by shutdown_mutex_
    Status shutdown_result_;
};

}  // namespace remote
}  // namespace corun
