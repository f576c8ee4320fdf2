#include "scheduler/fifo_scheduler.hpp"

#include <condition_variable>
#include <deque>
#include <mutex>

namespace corun::scheduler {

struct FifoScheduler::Queue {
    mutable std::mutex mutex;
    std::condition_variable wake;
    std::deque<InferRequest> waiting;
    size_t running = 0;
    bool stopping = false;
};


FifoScheduler::FifoScheduler(const std::vector<uint32_t>& slots_per_device)
    : queue_(std::make_shared<Queue>()) {
    for (size_t device = 0; device < slots_per_device.size(); ++device) {
        for (uint32_t slot = 0; slot < slots_per_device[device]; ++slot) {
            workers_.emplace_back([queue = queue_, device] {
                std::unique_lock lock(queue->mutex);
                while (true) {
                    queue->wake.wait(lock, [&] { return queue->stopping || !queue->waiting.empty(); });
                    if (queue->waiting.empty()) return;  // stopping and drained
                    InferRequest request = std::move(queue->waiting.front());
                    queue->waiting.pop_front();
                    ++queue->running;
                    lock.unlock();
                    request.run(device);
                    request = {};  // release the job's references outside the lock
                    lock.lock();
                    --queue->running;
                }
            });
        }
    }
}

FifoScheduler::~FifoScheduler() { stop(); }

Status FifoScheduler::enqueue(InferRequest request) {
    {
        std::lock_guard lock(queue_->mutex);
        if (queue_->stopping) {
            return Status(StatusCode::SHUTDOWN, "the device group is shutting down");
        }
        queue_->waiting.push_back(std::move(request));
    }
    queue_->wake.notify_one();
    return Status::ok();
}

size_t FifoScheduler::cancel_queued(uint64_t model_id, const Status& reason) {
    std::deque<InferRequest> cancelled;
    {
        std::lock_guard lock(queue_->mutex);
        for (auto it = queue_->waiting.begin(); it != queue_->waiting.end();) {
            if (it->model_id == model_id) {
                cancelled.push_back(std::move(*it));
                it = queue_->waiting.erase(it);
            } else {
                ++it;
            }
        }
    }
    for (auto& request : cancelled) request.cancel(reason);
    return cancelled.size();
}

size_t FifoScheduler::in_flight() const {
    std::lock_guard lock(queue_->mutex);
    return queue_->waiting.size() + queue_->running;
}

void FifoScheduler::stop() {
    std::deque<InferRequest> cancelled;
    {
        std::lock_guard lock(queue_->mutex);
        if (queue_->stopping && workers_.empty()) return;
        queue_->stopping = true;
        cancelled.swap(queue_->waiting);
    }
    queue_->wake.notify_all();
    for (auto& request : cancelled) {
        request.cancel(Status(StatusCode::SHUTDOWN, "the device group was shut down"));
    }
    for (auto& worker : workers_) {
        // The last reference to the group may be dropped by a job on a worker thread.
        if (worker.get_id() == std::this_thread::get_id()) {
            worker.detach();
        } else if (worker.joinable()) {
            worker.join();
        }
    }
    workers_.clear();
}

}  // namespace corun::scheduler
