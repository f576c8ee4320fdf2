#include "corun/configured_infer_model.hpp"
#include "runtime/job_state.hpp"

namespace corun {

AsyncInferJob::AsyncInferJob(std::shared_ptr<JobState> state) : state_(std::move(state)) {}

AsyncInferJob::AsyncInferJob(AsyncInferJob&& other) noexcept
    : state_(std::move(other.state_)), detached_(other.detached_) {}

AsyncInferJob& AsyncInferJob::operator=(AsyncInferJob&& other) noexcept {
    if (this != &other) {
        if (state_ && !detached_) wait(std::chrono::milliseconds::max()).ignore();
        state_ = std::move(other.state_);
        detached_ = other.detached_;
    }
    return *this;
}

AsyncInferJob::~AsyncInferJob() {
    if (state_ && !detached_) wait(std::chrono::milliseconds::max()).ignore();
}

Status AsyncInferJob::wait(std::chrono::milliseconds timeout) {
    if (!state_) {
        return Status(StatusCode::INVALID_OPERATION,
                      "this AsyncInferJob holds no job (default-constructed or moved from)");
    }
    std::unique_lock lock(state_->mutex);
    auto is_done = [&] { return state_->done; };
    if (timeout == std::chrono::milliseconds::max()) {
        state_->finished.wait(lock, is_done);
    } else if (!state_->finished.wait_for(lock, timeout, is_done)) {
        return Status(StatusCode::TIMEOUT, "the job did not finish within " +
                                               std::to_string(timeout.count()) +
                                               " ms; it is still queued or running");
    }
    return state_->status;
}

void AsyncInferJob::detach() {
    detached_ = true;
}

bool AsyncInferJob::is_done() const {
    if (!state_) return false;
    std::lock_guard lock(state_->mutex);
    return state_->done;
}

}  // namespace corun
