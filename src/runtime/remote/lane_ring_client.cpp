#include "runtime/remote/lane_ring_client.hpp"

#include <cstring>

#include "runtime/remote/rpc_status.hpp"

namespace corun::service {
std::shared_ptr<LaneRingClient> LaneRingClient::start(std::shared_ptr<SharedMemoryRegion> region,
                                                      std::function<bool()> daemon_gone,
                                                      std::string socket) {
    std::shared_ptr<LaneRingClient> client(
        new LaneRingClient(std::move(region), std::move(daemon_gone), std::move(socket)));
    // The reader holds the ring (and its region) alive until it has finished.
    client->reader_ = std::thread([keep = client] { keep->read_completions(); });
    return client;
}

LaneRingClient::LaneRingClient(std::shared_ptr<SharedMemoryRegion> region,
                               std::function<bool()> daemon_gone, std::string socket)
    : region_(std::move(region)),
      ring_(lane_ring_in(region_->data())),
      daemon_gone_(std::move(daemon_gone)),
      socket_(std::move(socket)) {}

LaneRingClient::~LaneRingClient() {
    // Only reached once the reader returned (it holds a reference); it may be that thread.
    if (reader_.joinable()) reader_.detach();
}

bool LaneRingClient::submit(uint64_t job_id, uint64_t model_id,
                            const std::vector<FrameSlices>& frames,
                            CompletionHandler& on_completion) {
    if (frames.empty()) return false;
    const size_t inputs = frames.front().inputs.size();
    const size_t outputs = frames.front().outputs.size();
    if (inputs == 0 || outputs == 0 ||
        (inputs + outputs) * frames.size() > LANE_RING_MAX_REFERENCES) {
        return false;
    }
    for (const FrameSlices& frame : frames) {
        if (frame.inputs.size() != inputs || frame.outputs.size() != outputs) return false;
    }
    {
        std::lock_guard lock(submit_mutex_);
        if (closed_ || in_ring_.load(std::memory_order_acquire) >= LANE_RING_ENTRIES) return false;
        // Registered before publishing: the completion may arrive at once.
        pending_.add(job_id, std::move(on_completion));
        in_ring_.fetch_add(1, std::memory_order_relaxed);
        // Free: in_ring_ < N means corund took the entry that was here N submissions ago
        // (it takes an entry before it completes it).
        LaneRingSubmission& entry = ring_.submissions[submitted_ % LANE_RING_ENTRIES];
        entry.sequence = submitted_;
        entry.frame_count = static_cast<uint32_t>(frames.size());
        entry.inputs_per_frame = static_cast<uint32_t>(inputs);
        entry.outputs_per_frame = static_cast<uint32_t>(outputs);
        entry.job_id = job_id;
        entry.model_id = model_id;
        size_t index = 0;
        for (const FrameSlices& frame : frames) {
            for (const auto* slices : {&frame.inputs, &frame.outputs}) {
                for (const BufferSlice& slice : *slices) {
                    entry.references[index++] = {slice.buffer_id, slice.offset, slice.size};
                }
            }
        }
        ++submitted_;
        ring_.submission_head.store(submitted_, std::memory_order_seq_cst);
    }
    ring_doorbell_if_sleeping(ring_.daemon_doorbell, ring_.daemon_sleeping);
    return true;
}

bool LaneRingClient::abandon(uint64_t job_id) {
    return pending_.abandon(job_id);
}

void LaneRingClient::close() {
    if (closing_.exchange(true)) return;
    ring_.client_doorbell.fetch_add(1, std::memory_order_seq_cst);  // our own reader
    futex_wake(ring_.client_doorbell);
    if (!reader_.joinable()) return;
    if (reader_.get_id() == std::this_thread::get_id()) {
        reader_.detach();
    } else {
        reader_.join();
    }
}

void LaneRingClient::read_completions() {
    while (take_completions()) {
        if (closing_ || daemon_gone_()) break;
        sleep_until_rung(
            ring_.client_doorbell, ring_.client_sleeping,
            [&] {
                return closing_ || ring_.completion_head.load(std::memory_order_seq_cst) != taken_;
            },
            DAEMON_CHECK);
    }
    // Completions published before the daemon went away still count.
    if (broken_reason_.is_ok()) take_completions();
    fail_pending(!broken_reason_.is_ok()
                     ? broken_reason_
                     : Status(StatusCode::RPC_FAILED,
                              closing_ ? "the connection to corund at " + socket_ +
                                             " was closed before the job completed [lane ring]"
                                       : daemon_gone_message(socket_) + " [lane ring]"));
}

bool LaneRingClient::take_completions() {
    const uint32_t head = ring_.completion_head.load(std::memory_order_acquire);
    const uint32_t published = head - taken_;
    for (uint32_t i = 0; i < published; ++i) {
        const LaneRingCompletion& slot = ring_.completions[taken_ % LANE_RING_ENTRIES];
        const v1::Completion completion = read_lane_ring_completion(slot);
        const uint32_t sequence = slot.sequence;
        if (published > LANE_RING_ENTRIES || sequence != taken_) {
            // corund writes only whole entries and publishes them in order: this is a bug.
            broken_reason_ =
                Status(StatusCode::INTERNAL_FAILURE,
                       "corund's lane ring is out of step (completion " + std::to_string(sequence) +
                           " where " + std::to_string(taken_) +
                           " was next); the ring is closed for this connection (report this bug)");
            return false;
        }
        ++taken_;
        ring_.completion_tail.store(taken_, std::memory_order_release);
        in_ring_.fetch_sub(1, std::memory_order_release);
        if (completion.job_id() == 0) {
            // Job 0 is no job: corund closed the ring and says why.
            broken_reason_ = from_proto(completion.status());
            return false;
        }
        auto handler = pending_.take(completion.job_id());
        if (!handler) continue;  // abandoned by its owner
        (*handler)(
            {from_proto(completion.status()), completion.queue_ns(), completion.device_ns()});
    }
    return true;
}

void LaneRingClient::fail_pending(const Status& reason) {
    {
        std::lock_guard lock(submit_mutex_);
        closed_ = true;
    }
    pending_.fail_all(reason);
}

}  // namespace corun::service
