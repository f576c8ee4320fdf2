#include "runtime/infer_job.hpp"

#include <cstdio>
#include <exception>

namespace corun {
namespace {

// Callbacks running on this thread now: more than one when a callback's shutdown() cancels
// queued jobs, whose callbacks then run inside it.
thread_local int callbacks_running = 0;

// An exception from a user's callback would end the worker thread, and with it the process;
// it is reported where the user looks and otherwise ignored.
void report_callback_exception(const ConfiguredPipeline& pipeline, const char* what) {
    std::fprintf(stderr,
                 "corun: a run_async callback of model '%s' threw (%s); corun caught it and goes "
                 "on. Callbacks must not throw: catch inside the callback.\n",
                 pipeline.model->info.name.c_str(), what);
}

}  // namespace

bool completion_callback_running() {
    return callbacks_running > 0;
}

void InferJob::complete(Status result, const InferTiming& timing) {
    const auto frame_count = static_cast<uint32_t>(bindings.size());
    pipeline->release_frames(frame_count);
    if (callback) {
        AsyncInferCompletionInfo info(result);
        info.timing = timing;
        info.frames = frame_count;
        ++callbacks_running;
        try {
            callback(info);
        } catch (const std::exception& error) {
            report_callback_exception(*pipeline, error.what());
        } catch (...) {
            report_callback_exception(*pipeline, "an exception not derived from std::exception");
        }
        --callbacks_running;
    }
    {
        std::lock_guard lock(mutex);
        status = std::move(result);
        this->timing = timing;
        done = true;
    }
    finished.notify_all();
    pipeline->finish_job();
}

}  // namespace corun
