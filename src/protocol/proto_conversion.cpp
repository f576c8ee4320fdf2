#include "protocol/proto_conversion.hpp"

#include <algorithm>
#include <chrono>

namespace corun::service {

void to_proto(const VDeviceParams& params, v1::VDeviceParams& message) {
    for (const auto& id : params.device_ids) message.add_device_ids(id);
    message.set_device_count(params.device_count);
    message.set_round_robin(params.scheduling_algorithm == SchedulingAlgorithm::ROUND_ROBIN);
    message.set_group_id(params.group_id);
    message.set_cpu_intra_op_threads(params.cpu.intra_op_threads);
    message.set_cpu_execution_slots(params.cpu.execution_slots);
    message.set_cpu_latency_slots(params.cpu.latency_slots);
    message.set_cpu_spin_wait(params.cpu.spin_wait);
    message.set_npu_sim_profile_json(params.npu_sim.profile_json);
    message.set_npu_sim_compute_outputs(params.npu_sim.compute_outputs);
    message.set_fair_device_time(params.scheduler.fair_device_time);
    message.set_aging_step_ms(static_cast<uint32_t>(params.scheduler.aging_step.count()));
    message.set_anticipation_us(
        static_cast<uint32_t>(std::max<int64_t>(0, params.scheduler.anticipation.count())));
}

void to_proto(const devices::TensorSpec& tensor, v1::TensorSpec& message) {
    message.set_name(tensor.name);
    message.set_element_type(static_cast<int32_t>(tensor.type));
    for (int64_t dim : tensor.dims) message.add_dims(dim);
}

void to_proto(const SchedulingSettings& settings, v1::SchedulingParams& message) {
    message.set_priority(settings.priority);
    message.set_threshold(settings.threshold);
    message.set_timeout_ms(settings.timeout_ms);
    message.set_burst(settings.burst);
    message.set_latency_slo_ms(settings.latency_slo_ms);
}

devices::DeclaredTensor from_proto(const v1::DeclaredTensor& message) {
    devices::DeclaredTensor tensor;
    tensor.name = message.name();
    constexpr int32_t last_type = static_cast<int32_t>(FormatType::STRING);
    // A type this build does not know stays AUTO, which configure() reports as unbindable.
    tensor.type = message.element_type() >= 0 && message.element_type() <= last_type
                      ? static_cast<FormatType>(message.element_type())
                      : FormatType::AUTO;
    tensor.onnx_type_name = message.onnx_type_name();
    tensor.is_tensor = !message.not_tensor();
    tensor.optional = message.optional();
    tensor.dims.assign(message.dims().begin(), message.dims().end());
    tensor.dim_names.assign(message.dim_names().begin(), message.dim_names().end());
    // Every dimension has a (possibly empty) symbolic name, as local devices report them.
    tensor.dim_names.resize(tensor.dims.size());
    return tensor;
}

DeviceDescription from_proto(const v1::DeviceInfo& message) {
    DeviceDescription description;
    description.id = message.id();
    description.kind = message.kind();
    description.architecture = message.architecture();
    description.cores = message.cores();
    description.threads = message.threads();
    description.status = message.status();
    return description;
}

void to_proto(const genai::LLMParams& params, v1::LlmParams& message) {
    message.set_context_size(params.context_size);
    message.set_prefill_chunk_tokens(params.prefill_chunk_tokens);
    message.set_threads(params.threads);
    message.set_preemption(params.preemption);
}

genai::LLMParams from_proto(const v1::LlmParams& message) {
    genai::LLMParams params;
    params.context_size = message.context_size();
    params.prefill_chunk_tokens = message.prefill_chunk_tokens();
    params.threads = message.threads();
    params.preemption = message.preemption();
    return params;
}

void to_proto(const genai::Speech2TextParams& params, v1::Speech2TextParams& message) {
    message.set_language(params.language);
    message.set_translate(params.task == genai::Speech2TextTask::TRANSLATE);
    message.set_threads(params.threads);
    message.set_preemption(params.preemption);
}

genai::Speech2TextParams from_proto(const v1::Speech2TextParams& message) {
    genai::Speech2TextParams params;
    params.language = message.language();
    params.task = message.translate() ? genai::Speech2TextTask::TRANSLATE
                                      : genai::Speech2TextTask::TRANSCRIBE;
    params.threads = message.threads();
    params.preemption = message.preemption();
    return params;
}

void to_proto(const genai::LLMGeneratorParams& params, v1::GenerateRequest& message) {
    message.set_max_generated_tokens(params.max_generated_tokens);
    message.set_temperature(params.temperature);
    message.set_top_p(params.top_p);
    message.set_top_k(params.top_k);
    message.set_seed(params.seed);
    for (const auto& stop : params.stop_sequences) message.add_stop_sequences(stop);
}

genai::LLMGeneratorParams generator_params_from_proto(const v1::GenerateRequest& message) {
    genai::LLMGeneratorParams params;
    params.max_generated_tokens = message.max_generated_tokens();
    params.temperature = message.temperature();
    params.top_p = message.top_p();
    params.top_k = message.top_k();
    params.seed = message.seed();
    params.stop_sequences.assign(message.stop_sequences().begin(), message.stop_sequences().end());
    return params;
}

ScheduledModelStats from_proto(const v1::ModelStats& message) {
    ScheduledModelStats stats;
    stats.model_id = message.model_id();
    stats.name = message.name();
    stats.priority = message.scheduling().priority();
    stats.frames_done = message.frames_done();
    stats.device_time_ns = message.device_time_ns();
    stats.switches = message.switches_in();
    stats.frames_queued = message.frames_queued();
    stats.frames_running = message.frames_running();
    stats.queue_capacity = message.queue_capacity();
    stats.latency_p50_ms = message.latency_p50_ms();
    stats.latency_p95_ms = message.latency_p95_ms();
    stats.max_overtaken_by = message.max_overtaken_by();
    stats.latency_slo_ms = message.scheduling().latency_slo_ms();
    stats.deadline_admitted = message.deadline_admitted();
    stats.deadline_refused = message.deadline_refused();
    stats.deadline_dropped = message.deadline_dropped();
    stats.deadline_finished_late = message.deadline_finished_late();
    stats.deadline_met = message.deadline_met();
    stats.predicted_latency_ms = message.predicted_latency_ms();
    return stats;
}

VDeviceParams from_proto(const v1::VDeviceParams& proto) {
    VDeviceParams params;
    params.device_ids.assign(proto.device_ids().begin(), proto.device_ids().end());
    params.device_count = proto.device_count() == 0 ? 1 : proto.device_count();
    params.scheduling_algorithm =
        proto.round_robin() ? SchedulingAlgorithm::ROUND_ROBIN : SchedulingAlgorithm::NONE;
    params.group_id = proto.group_id().empty() ? DEFAULT_GROUP_ID : proto.group_id();
    params.multi_process_service = false;  // inside the daemon the group is in-process
    params.cpu.intra_op_threads = proto.cpu_intra_op_threads();
    params.cpu.execution_slots = proto.cpu_execution_slots();  // 0: the device picks
    params.cpu.latency_slots = proto.cpu_latency_slots();
    params.cpu.spin_wait = proto.cpu_spin_wait();
    // The profile's text only: corund opens no path a client names.
    params.npu_sim.profile_json = proto.npu_sim_profile_json();
    params.npu_sim.compute_outputs = proto.npu_sim_compute_outputs();
    params.scheduler.fair_device_time = proto.fair_device_time();
    params.scheduler.aging_step = std::chrono::milliseconds(proto.aging_step_ms());
    if (proto.has_anticipation_us()) {
        params.scheduler.anticipation = std::chrono::microseconds(proto.anticipation_us());
    }
    return params;
}

void to_proto(const DeviceDescription& device, v1::DeviceInfo& message) {
    message.set_id(device.id);
    message.set_kind(device.kind);
    message.set_architecture(device.architecture);
    message.set_cores(device.cores);
    message.set_threads(device.threads);
    message.set_status(device.status);
}

void to_proto(const devices::DeclaredTensor& tensor, v1::DeclaredTensor& message) {
    message.set_name(tensor.name);
    message.set_element_type(static_cast<int32_t>(tensor.type));
    message.set_onnx_type_name(tensor.onnx_type_name);
    message.set_not_tensor(!tensor.is_tensor);
    message.set_optional(tensor.optional);
    for (int64_t dim : tensor.dims) message.add_dims(dim);
    for (const auto& name : tensor.dim_names) message.add_dim_names(name);
}

v1::Status to_proto(const Status& status) {
    v1::Status proto;
    proto.set_code(static_cast<int32_t>(status.code()));
    proto.set_message(status.message());
    return proto;
}

Status from_proto(const v1::Status& status) {
    constexpr int last_known = static_cast<int>(StatusCode::DEADLINE_EXCEEDED);
    if (status.code() == 0) return Status::ok();
    if (status.code() < 0 || status.code() > last_known) {
        return Status(StatusCode::INTERNAL_FAILURE,
                      "corund answered with status code " + std::to_string(status.code()) +
                          ", which this client does not know (" + status.message() +
                          "); use a client and a daemon from the same corun release");
    }
    return Status(static_cast<StatusCode>(status.code()), status.message());
}

}  // namespace corun::service
