#include "corun/configured_infer_model.hpp"
#include "runtime/infer_job.hpp"

namespace corun {

AsyncInferJob::AsyncInferJob(std::shared_ptr<InferJob> job) : job_(std::move(job)) {}

AsyncInferJob::AsyncInferJob(AsyncInferJob&& other) noexcept
    : job_(std::move(other.job_)), detached_(other.detached_) {}

AsyncInferJob& AsyncInferJob::operator=(AsyncInferJob&& other) noexcept {
    if (this != &other) {
        if (job_ && !detached_) wait(INFINITE_TIMEOUT).ignore();
        job_ = std::move(other.job_);
        detached_ = other.detached_;
    }
    return *this;
}

AsyncInferJob::~AsyncInferJob() {
    if (job_ && !detached_) wait(INFINITE_TIMEOUT).ignore();
}

Status AsyncInferJob::wait(std::chrono::milliseconds timeout) {
    if (!job_) {
        return Status(StatusCode::INVALID_OPERATION,
                      "this AsyncInferJob holds no job (default-constructed or moved from)");
    }
    std::unique_lock lock(job_->mutex);
    auto is_done = [&] { return job_->done; };
    if (waits_forever(timeout)) {
        job_->finished.wait(lock, is_done);
    } else if (!job_->finished.wait_for(lock, timeout, is_done)) {
        return Status(StatusCode::TIMEOUT, "the job did not finish within " +
                                               std::to_string(timeout.count()) +
                                               " ms; it is still queued or running");
    }
    return job_->status;
}

void AsyncInferJob::detach() {
    detached_ = true;
}

bool AsyncInferJob::is_done() const {
    if (!job_) return false;
    std::lock_guard lock(job_->mutex);
    return job_->done;
}

}  // namespace corun
