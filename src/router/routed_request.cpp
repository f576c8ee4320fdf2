#include "router/routed_request.hpp"

#include <spdlog/spdlog.h>

#include <exception>

namespace corun::router {

void RoutedRequest::complete(RoutedCompletionInfo info) {
    {
        std::lock_guard lock(mutex_);
        if (completion_) {
            spdlog::error("corun router: a routed frame completed a second time ({}); ignored",
                          info.status.to_string());
            return;
        }
        completion_ = info;
    }
    if (callback) {
        // As ConfiguredInferModel's callbacks: an exception must not end a corun thread.
        try {
            callback(info);
        } catch (const std::exception& error) {
            spdlog::error(
                "corun router: a routed run_async callback threw ({}); callbacks must "
                "not throw: catch inside the callback",
                error.what());
        } catch (...) {
            spdlog::error(
                "corun router: a routed run_async callback threw; callbacks must not "
                "throw: catch inside the callback");
        }
    }
    {
        std::lock_guard lock(mutex_);
        done_ = true;
    }
    finished_.notify_all();
}

Status RoutedRequest::wait(std::chrono::milliseconds timeout) {
    std::unique_lock lock(mutex_);
    auto is_done = [&] { return done_; };
    if (waits_forever(timeout)) {
        finished_.wait(lock, is_done);
    } else if (!finished_.wait_for(lock, timeout, is_done)) {
        return Status(StatusCode::TIMEOUT, "the routed frame did not finish within " +
                                               std::to_string(timeout.count()) +
                                               " ms; it is still queued or running");
    }
    return completion_->status;
}

bool RoutedRequest::is_done() const {
    std::lock_guard lock(mutex_);
    return done_;
}

Expected<RoutedCompletionInfo> RoutedRequest::completion() const {
    std::lock_guard lock(mutex_);
    if (!done_) {
        return Status(StatusCode::INVALID_OPERATION,
                      "the routed frame is not done yet; call wait() before completion()");
    }
    return *completion_;
}

}  // namespace corun::router
