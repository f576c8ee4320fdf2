// What corund needs of a ConfiguredInferModel beyond the public API. Submission that may run
// the job on the submitting thread: for corund's session reader, not for users. The public
// run_async() promises that its callback runs on a corun thread, never inside run_async(); a daemon
// thread that only feeds requests can instead run a frame itself when the device has a free slot,
// and save the hand-off to a scheduler worker (a wake-up and a cold core, as synchronous run()
// does).
#pragma once

#include <vector>

#include "corun/configured_infer_model.hpp"

namespace corun {

// The one internal door into ConfiguredInferModel (its friend); keep it to what the daemon needs.
struct ConfiguredInferModelInternals {
    // Like ConfiguredInferModel::run_async, except that the job runs on the calling thread,
    // before this returns, when a device slot is free and the scheduler's policy picks it at
    // once (ModelScheduler::run_or_enqueue: the rule synchronous run() follows). Then the
    // callback also runs on the calling thread before this returns. Otherwise the job is
    // queued exactly as by run_async (threshold, timeout and priority decide when it runs), and
    // the call takes nothing but short locks.
    static Expected<AsyncInferJob> run_async_on_caller(
        ConfiguredInferModel& model, const std::vector<ConfiguredInferModel::Bindings>& bindings,
        AsyncInferCallback callback);

    // Stops the frames of `model` that run on a device now, and every frame that starts later:
    // each completes with ABORTED (ONNX Runtime's terminate flag ends a frame between two
    // nodes, inside a Loop's body too). Does not wait; frames still queued stay queued (and are
    // aborted when they start), so follow it with shutdown() to cancel them with SHUTDOWN and
    // wait for the callbacks. For corund: a client that went away, SIGTERM. Nothing for a
    // model whose frames run in corund (multi_process_service).
    static void terminate_running_frames(ConfiguredInferModel& model);
};

}  // namespace corun
