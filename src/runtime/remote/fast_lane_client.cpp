#include "runtime/remote/fast_lane_client.hpp"

#include "runtime/remote/rpc_status.hpp"

namespace corun::service {
Expected<std::unique_ptr<FastLaneClient>> FastLaneClient::create() {
    CORUN_TRY(auto region, SharedMemoryRegion::create(FAST_LANE_BYTES));
    return std::unique_ptr<FastLaneClient>(
        new FastLaneClient(std::make_shared<SharedMemoryRegion>(std::move(region))));
}

FastLaneClient::FastLaneClient(std::shared_ptr<SharedMemoryRegion> region)
    : region_(std::move(region)), lane_(*reinterpret_cast<FastLane*>(region_->data())) {}

std::optional<JobCompletion> FastLaneClient::run(uint64_t job_id, uint64_t model_id,
                                                 const FrameSlices& frame,
                                                 const std::function<bool()>& daemon_gone,
                                                 const std::string& socket) {
    const size_t references = frame.inputs.size() + frame.outputs.size();
    if (references > FAST_LANE_MAX_REFERENCES) return std::nullopt;
    std::unique_lock lock(busy_, std::try_to_lock);
    if (!lock.owns_lock() || broken_) return std::nullopt;

    FastLaneRequest& request = lane_.request;
    request.job_id = job_id;
    request.model_id = model_id;
    request.input_count = static_cast<uint32_t>(frame.inputs.size());
    request.output_count = static_cast<uint32_t>(frame.outputs.size());
    size_t index = 0;
    for (const auto* slices : {&frame.inputs, &frame.outputs}) {
        for (const BufferSlice& slice : *slices) {
            request.references[index++] = {slice.buffer_id, slice.offset, slice.size};
        }
    }
    const uint32_t completed = lane_.completion_sequence.load(std::memory_order_acquire);
    lane_.request_sequence.fetch_add(1, std::memory_order_release);
    futex_wake(lane_.request_sequence);

    while (true) {
        const uint32_t current = lane_.completion_sequence.load(std::memory_order_acquire);
        if (current != completed) break;
        if (daemon_gone()) {
            broken_ = true;
            return JobCompletion{
                Status(StatusCode::RPC_FAILED, daemon_gone_message(socket) + " [fast lane]"), 0, 0};
        }
        futex_wait(lane_.completion_sequence, current, DAEMON_CHECK);
    }
    const v1::Completion completion = read_fast_lane_completion(lane_);
    if (completion.job_id() != job_id) {
        broken_ = true;  // out of step with the daemon: the stream serves from here on
        return JobCompletion{
            Status(StatusCode::INTERNAL_FAILURE,
                   "corund's fast lane completed job " + std::to_string(completion.job_id()) +
                       " while job " + std::to_string(job_id) +
                       " was waiting; the lane is closed for this connection (report this bug)"),
            0, 0};
    }
    return JobCompletion{from_proto(completion.status()), completion.queue_ns(),
                         completion.device_ns()};
}

}  // namespace corun::service
