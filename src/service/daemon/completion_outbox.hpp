// Completions on their way to a session's Session stream, one Write at a time (gRPC's rule) and
// in the order they were made.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <deque>
#include <memory>
#include <mutex>

#include "corun_service.pb.h"
#include "service/daemon/monitor_stats.hpp"

namespace corun::service {

// The writer thread sends what is queued (pop, write, write_done); the stream's reader thread
// may send a completion it made itself directly (try_claim_write, write, write_done) when
// nothing is queued or being written. Completions made on scheduler workers are always queued,
// so that a slow client never blocks a worker.
class CompletionOutbox {
public:
    void push(v1::ServerMessage message, std::shared_ptr<ModelActivity> activity);
    // Waits for a completion and claims the stream for it; false once the outbox is closed and
    // empty. The caller writes it, then calls write_done().
    bool pop(v1::ServerMessage& message, std::shared_ptr<ModelActivity>& activity);
    // Claims the stream if nothing is queued or being written; the caller then writes and
    // calls write_done(). False: push() the completion instead, behind the queued ones.
    bool try_claim_write();
    void write_done();
    // Waits (at most `timeout`) until fewer than `limit` completions wait; false on timeout.
    bool wait_for_room(size_t limit, std::chrono::milliseconds timeout);
    void close();
    size_t size() const;

private:
    struct Entry {
        v1::ServerMessage message;
        std::shared_ptr<ModelActivity> activity;
    };
    mutable std::mutex mutex_;
    std::condition_variable changed_;
    std::deque<Entry> entries_;
    bool writing_ = false;  // a completion is being written (by the writer or the reader)
    bool closed_ = false;
};

}  // namespace corun::service
