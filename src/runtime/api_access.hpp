// What the runtime and corund need of the public handles beyond the public API. The handles
// keep their state private (constructors included); ApiAccess is their one friend inside
// corun, and the functions below are what corund uses, so that no daemon code reaches into
// the runtime's structures.
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <vector>

#include "corun/configured_infer_model.hpp"
#include "corun/infer_model.hpp"
#include "corun/vdevice.hpp"
#include "devices/device.hpp"
#include "runtime/loaded_infer_model.hpp"

namespace corun::runtime {

struct ApiAccess {
    static const std::vector<MemoryView>& buffers(const ConfiguredInferModel::Bindings& bindings) {
        return bindings.buffers_;
    }
    static const ConfiguredPipeline* pipeline_of(const ConfiguredInferModel::Bindings& bindings) {
        return bindings.pipeline_.get();
    }
    static const std::shared_ptr<ConfiguredPipeline>& pipeline_of(
        const ConfiguredInferModel& model) {
        return model.pipeline_;
    }
    static AsyncInferJob job_handle(std::shared_ptr<InferJob> job) {
        return AsyncInferJob(std::move(job));
    }
    static std::shared_ptr<InferModel> infer_model(std::shared_ptr<LoadedInferModel> loaded) {
        return std::shared_ptr<InferModel>(new InferModel(std::move(loaded)));
    }
    static const std::shared_ptr<LoadedInferModel>& loaded_of(const InferModel& model) {
        return model.loaded_;
    }
    static const StreamSettings& settings_of(const InferModel::InferStream& stream) {
        return *stream.settings_;
    }
    static const std::shared_ptr<DeviceGroup>& group_of(const VDevice& vdevice) {
        return vdevice.group_;
    }
};

// ---- for corund ----

// An InferModel from bytes with what only corund has: the external data files the client sent
// and a cap on constant folding (loaded_infer_model.hpp).
Expected<std::shared_ptr<InferModel>> load_infer_model(VDevice& vdevice,
                                                       std::span<const uint8_t> onnx_bytes,
                                                       ModelInfo info, ModelLoadExtras extras);

// A stream as the model declares it (dims may be -1, with their symbolic names).
const devices::DeclaredTensor& declared_tensor(const InferModel::InferStream& stream);

// Output shapes for the given input shapes (one zero-filled frame within the model's default
// limits), for a client that configures dynamic outputs.
Expected<std::vector<std::vector<int64_t>>> infer_output_dims(
    const InferModel& model, const std::vector<devices::TensorSpec>& inputs);

// Frames the group's devices may run at once.
uint32_t execution_slots(const VDevice& vdevice);

// Like ConfiguredInferModel::run_async, except that the job runs on the calling thread, before
// this returns, when a device slot is free and the scheduler's policy picks it at once (the
// rule synchronous run() follows); then the callback also runs on the calling thread before
// this returns. Otherwise the job is queued exactly as by run_async, and the call takes nothing
// but short locks. For corund's session reader: the public run_async() promises that its
// callback never runs inside run_async(), but a daemon thread that only feeds requests saves a
// hand-off to a scheduler worker (a wake-up and a cold core) by running a frame itself.
Expected<AsyncInferJob> run_async_on_caller(
    ConfiguredInferModel& model, const std::vector<ConfiguredInferModel::Bindings>& bindings,
    AsyncInferCallback callback);

// Stops the frames of `model` running now and every frame that starts later: each completes
// with ABORTED. Does not wait; follow it with shutdown(). For corund: a client that went away,
// SIGTERM.
void terminate_running_frames(ConfiguredInferModel& model);

}  // namespace corun::runtime
