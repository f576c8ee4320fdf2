// Returns from main while corun still works for it: one frame of a model with an endless Loop
// runs, a second waits in the queue, and the callback of the first holds the last references to
// the configured model, the model and the VDevice. frame_limits_test runs it as a subprocess and
// expects exit status 0 and no sanitizer report: docs/API.md promises that any destruction
// order is safe, the last reference dropped on a worker thread during exit included.
//
// Usage: exit_with_pending_work TEST_MODEL_DIR
#include <chrono>
#include <cstdio>
#include <memory>
#include <string>

#include "corun/corun.hpp"

namespace {

// Static: the buffers must stay valid until the jobs are done, which is after main returns.
float inputs[2] = {0.0f, 0.0f};
float outputs[2] = {0.0f, 0.0f};

int fail(const corun::Status& status) {
    std::fprintf(stderr, "exit_with_pending_work: %s\n", status.to_string().c_str());
    return 1;
}

}  // namespace

int main(int argc, char** argv) {
    using namespace std::chrono_literals;
    if (argc != 2) {
        std::fprintf(stderr, "usage: exit_with_pending_work TEST_MODEL_DIR\n");
        return 2;
    }
    corun::VDeviceParams params;
    params.group_id = "exit-with-pending-work";
    params.cpu.intra_op_threads = 1;
    auto created = corun::VDevice::create_shared(params);
    if (!created) return fail(created.status());
    std::shared_ptr<corun::VDevice> vdevice = created.release();
    auto loaded = vdevice->create_infer_model(std::string(argv[1]) + "/endless_loop.onnx");
    if (!loaded) return fail(loaded.status());
    std::shared_ptr<corun::InferModel> model = loaded.release();
    // Short enough that the running frame may end during exit, on its own.
    if (auto set = model->set_frame_time_limit(50ms); !set) return fail(set);
    auto configured = model->configure();
    if (!configured) return fail(configured.status());
    for (int f = 0; f < 2; ++f) {
        auto bindings = configured.value().create_bindings(
            {{"x", corun::MemoryView(&inputs[f], sizeof(float))},
             {"y", corun::MemoryView(&outputs[f], sizeof(float))}});
        if (!bindings) return fail(bindings.status());
        auto job = configured.value().run_async(
            bindings.value(), [configured = configured.value(), model,
                               vdevice](const corun::AsyncInferCompletionInfo&) {});
        if (!job) return fail(job.status());
        job.value().detach();
    }
    std::printf("pending work submitted\n");
    std::fflush(stdout);
    return 0;  // every handle of main goes; the jobs' callbacks hold the last references
}
