#include "service/daemon/completion_outbox.hpp"

namespace corun::service {

void CompletionOutbox::push(v1::ServerMessage message, std::shared_ptr<ModelActivity> activity) {
    if (activity) ++activity->results_waiting_out;
    {
        std::lock_guard lock(mutex_);
        entries_.push_back({std::move(message), std::move(activity)});
    }
    changed_.notify_all();
}

bool CompletionOutbox::pop(v1::ServerMessage& message, std::shared_ptr<ModelActivity>& activity) {
    std::unique_lock lock(mutex_);
    changed_.wait(
        lock, [&] { return (closed_ && entries_.empty()) || (!entries_.empty() && !writing_); });
    if (entries_.empty()) return false;
    writing_ = true;
    message = std::move(entries_.front().message);
    activity = std::move(entries_.front().activity);
    entries_.pop_front();
    lock.unlock();
    if (activity) --activity->results_waiting_out;
    changed_.notify_all();
    return true;
}

bool CompletionOutbox::try_claim_write() {
    std::lock_guard lock(mutex_);
    if (writing_ || !entries_.empty()) return false;
    writing_ = true;
    return true;
}

void CompletionOutbox::write_done() {
    bool queued = false;
    {
        std::lock_guard lock(mutex_);
        writing_ = false;
        queued = !entries_.empty();
    }
    // Only a queued completion waits for the stream; waking the writer for nothing would cost
    // a context switch per completion.
    if (queued) changed_.notify_all();
}

bool CompletionOutbox::wait_for_room(size_t limit, std::chrono::milliseconds timeout) {
    std::unique_lock lock(mutex_);
    return changed_.wait_for(lock, timeout, [&] { return closed_ || entries_.size() < limit; });
}

void CompletionOutbox::close() {
    {
        std::lock_guard lock(mutex_);
        closed_ = true;
    }
    changed_.notify_all();
}

size_t CompletionOutbox::size() const {
    std::lock_guard lock(mutex_);
    return entries_.size();
}

}  // namespace corun::service
