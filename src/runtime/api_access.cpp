#include "runtime/api_access.hpp"

#include "runtime/configured_pipeline.hpp"
#include "runtime/device_group.hpp"

namespace corun::runtime {

Expected<std::shared_ptr<InferModel>> load_infer_model(VDevice& vdevice,
                                                       std::span<const uint8_t> onnx_bytes,
                                                       ModelInfo info, ModelLoadExtras extras) {
    CORUN_TRY(auto loaded, load_model(ApiAccess::group_of(vdevice), onnx_bytes, std::move(info),
                                      std::move(extras)));
    return ApiAccess::infer_model(std::move(loaded));
}

const devices::DeclaredTensor& declared_tensor(const InferModel::InferStream& stream) {
    return ApiAccess::settings_of(stream).declared;
}

Expected<std::vector<std::vector<int64_t>>> infer_output_dims(
    const InferModel& model, const std::vector<devices::TensorSpec>& inputs) {
    return ApiAccess::loaded_of(model)->backend_model->infer_output_dims(inputs,
                                                                         devices::FrameLimits{});
}

uint32_t execution_slots(const VDevice& vdevice) {
    return ApiAccess::group_of(vdevice)->backend().execution_slots();
}

Expected<AsyncInferJob> run_async_on_caller(
    ConfiguredInferModel& model, const std::vector<ConfiguredInferModel::Bindings>& bindings,
    AsyncInferCallback callback) {
    CORUN_TRY(auto job, submit_job(ApiAccess::pipeline_of(model), "run_async", bindings,
                                   std::move(callback), true));
    return ApiAccess::job_handle(std::move(job));
}

void terminate_running_frames(ConfiguredInferModel& model) {
    ApiAccess::pipeline_of(model)->execution->terminate_running_frames();
}

}  // namespace corun::runtime
