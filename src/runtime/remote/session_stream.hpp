// The client's half of the Session stream: inference requests go out through one writer (a
// mutex serializes them), completions come back on one reader thread that hands each to the
// handler registered for its job id. When the stream breaks (the daemon died), every pending
// job completes with RPC_FAILED and every later submit fails at once: nobody waits forever.
#pragma once

#include <grpcpp/grpcpp.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <unordered_map>
#include <vector>

#include "corun/expected.hpp"
#include "corun_service.grpc.pb.h"
#include "runtime/remote/pending_completions.hpp"

namespace corun::service {

// A slice of a buffer registered with the daemon.
struct BufferSlice {
    uint64_t buffer_id = 0;
    uint64_t offset = 0;
    uint64_t size = 0;
};

// The native tensors of one frame, in the configured model's stream order.
struct FrameSlices {
    std::vector<BufferSlice> inputs;
    std::vector<BufferSlice> outputs;
};

class SessionStream : public std::enable_shared_from_this<SessionStream> {
public:
    // Opens the stream of `session_id` and starts the reader thread.
    static Expected<std::shared_ptr<SessionStream>> open(std::shared_ptr<grpc::Channel> channel,
                                                         uint64_t session_id, std::string socket);
    ~SessionStream();
    SessionStream(const SessionStream&) = delete;
    SessionStream& operator=(const SessionStream&) = delete;

    uint64_t next_job_id() { return last_job_id_.fetch_add(1) + 1; }

    // Sends one job. SUCCESS: `on_completion` runs exactly once, on the reader thread (or on
    // the thread that finds the stream broken). An error: it never runs. `deadline`: the job's
    // own (the epoch = none).
    Status submit(uint64_t job_id, uint64_t model_id, const std::vector<FrameSlices>& frames,
                  CompletionHandler on_completion,
                  std::chrono::steady_clock::time_point deadline = {});

    // Forgets a pending job, so that its completion, should it still come, is dropped. True
    // when it was pending (its handler will not run).
    bool abandon(uint64_t job_id);

    // True once the stream broke or was closed.
    bool is_broken() const { return broken_.load(); }

    // Ends the stream; pending jobs complete with RPC_FAILED. Joins the reader unless called
    // on it (a completion handler may drop the last reference to the connection).
    void close();

private:
    SessionStream(std::shared_ptr<grpc::Channel> channel, std::string socket);
    void read_completions();
    void fail_pending(const Status& reason);

    std::shared_ptr<grpc::Channel> channel_;
    std::unique_ptr<v1::Corun::Stub> stub_;
    std::string socket_;
    grpc::ClientContext context_;
    std::unique_ptr<grpc::ClientReaderWriter<v1::ClientMessage, v1::ServerMessage>> stream_;
    std::thread reader_;
    // Set when the reader has finished the call, for close()'s clean end.
    static constexpr std::chrono::milliseconds CLEAN_CLOSE_WAIT{500};
    std::mutex reader_done_mutex_;
    std::condition_variable reader_done_changed_;
    bool reader_done_ = false;
    std::atomic<bool> closed_{false};

    std::mutex write_mutex_;  // one writer at a time; guards broken_ transitions with writes
    std::atomic<bool> broken_{false};
    std::atomic<uint64_t> last_job_id_{0};

    PendingCompletions pending_;
};

}  // namespace corun::service
