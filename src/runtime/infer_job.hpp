// One run_async() call: its bindings, callback and completion, shared by the AsyncInferJob
// the user holds and the request in the scheduler's queue.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <vector>

#include "corun/configured_infer_model.hpp"
#include "runtime/configured_pipeline.hpp"

namespace corun {

struct InferJob {
    enum Phase : int { QUEUED, RUNNING, CANCELLED };

    std::shared_ptr<ConfiguredPipeline> pipeline;
    std::vector<ConfiguredInferModel::Bindings> bindings;
    AsyncInferCallback callback;
    std::chrono::steady_clock::time_point submitted;
    std::chrono::steady_clock::time_point deadline{};  // the job's own; the epoch = none
    // InferTiming::predicted_ns: set by the in-process scheduler at admission, before the job
    // runs or is cancelled; 0 = no prediction. (Through corund the completion's timing
    // carries the service's instead.)
    int64_t predicted_ns = 0;
    std::atomic<int> phase{QUEUED};

    std::mutex mutex;
    std::condition_variable finished;
    bool done = false;
    Status status;
    InferTiming timing;  // as the callback got it, once done

    // Claims the job for cancellation; false if it already runs or was cancelled.
    bool try_cancel() {
        int expected = QUEUED;
        return phase.compare_exchange_strong(expected, CANCELLED);
    }
    // Frees the queue space, runs the callback, wakes waiters. Called exactly once. An
    // exception thrown by the callback is caught and logged: it must not end the worker.
    void complete(Status result, const InferTiming& timing);
};

// True while a run_async callback runs on the calling thread. shutdown() from a callback must
// not wait for unfinished jobs: the callback's own job is one of them, and a callback on
// another slot may be waiting for this one.
bool completion_callback_running();

}  // namespace corun
