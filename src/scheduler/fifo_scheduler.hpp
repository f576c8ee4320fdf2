// Runs requests in arrival order on every execution slot of every device of a group.
// The stand-in until the priority scheduler (issue 4); the seam stays the same.
#pragma once

#include <memory>
#include <thread>
#include <vector>

#include "scheduler/scheduler.hpp"

namespace corun::scheduler {

class FifoScheduler final : public Scheduler {
public:
    // slots_per_device[d] worker threads execute on device d.
    explicit FifoScheduler(const std::vector<uint32_t>& slots_per_device);
    ~FifoScheduler() override;

    Status enqueue(InferRequest request) override;
    size_t cancel_queued(uint64_t model_id, const Status& reason) override;
    size_t in_flight() const override;
    void stop() override;

private:
    struct Queue;  // shared with the workers, so a worker that drops the last reference to
                   // the group (and so to this scheduler) still has its queue to return to
    std::shared_ptr<Queue> queue_;
    std::vector<std::thread> workers_;
};

}  // namespace corun::scheduler
