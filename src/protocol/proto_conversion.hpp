// corun's own types to and from the service's messages (proto/corun_service.proto).
#pragma once

#include "corun/genai/llm.hpp"
#include "corun/genai/speech2text.hpp"
#include "corun/vdevice.hpp"
#include "corun_service.pb.h"
#include "devices/device.hpp"

namespace corun::service {

// The scheduling knobs of one configured model as the protocol carries them.
struct SchedulingSettings {
    uint32_t priority = 16;
    uint32_t threshold = 1;
    uint32_t timeout_ms = 0;
    uint32_t burst = 1;
    uint32_t latency_slo_ms = 0;
};

// Both directions of each type, here and nowhere else (client: runtime/remote; daemon:
// service/daemon).
void to_proto(const VDeviceParams& params, v1::VDeviceParams& message);
// What corund makes of a client's params: always in-process inside the daemon, no path (only
// the npu-sim profile's text), defaults for fields left 0.
VDeviceParams from_proto(const v1::VDeviceParams& message);
void to_proto(const devices::TensorSpec& tensor, v1::TensorSpec& message);
void to_proto(const SchedulingSettings& settings, v1::SchedulingParams& message);
void to_proto(const devices::DeclaredTensor& tensor, v1::DeclaredTensor& message);
devices::DeclaredTensor from_proto(const v1::DeclaredTensor& message);
void to_proto(const DeviceDescription& device, v1::DeviceInfo& message);
DeviceDescription from_proto(const v1::DeviceInfo& message);
ScheduledModelStats from_proto(const v1::ModelStats& message);
// What the scheduler says of a model's deadlines, into a ModelStats or a MonitoredModel (their
// fields carry the same names).
template <typename Message>
void set_deadline_figures(const ScheduledModelStats& stats, Message& message) {
    message.set_deadline_admitted(stats.deadline_admitted);
    message.set_deadline_refused(stats.deadline_refused);
    message.set_deadline_dropped(stats.deadline_dropped);
    message.set_deadline_finished_late(stats.deadline_finished_late);
    message.set_deadline_met(stats.deadline_met);
    message.set_predicted_latency_ms(stats.predicted_latency_ms);
}
void to_proto(const genai::LLMParams& params, v1::LlmParams& message);
genai::LLMParams from_proto(const v1::LlmParams& message);
void to_proto(const genai::Speech2TextParams& params, v1::Speech2TextParams& message);
genai::Speech2TextParams from_proto(const v1::Speech2TextParams& message);
// The generator params of a GenerateRequest (its prompt and ids are the caller's).
void to_proto(const genai::LLMGeneratorParams& params, v1::GenerateRequest& message);
genai::LLMGeneratorParams generator_params_from_proto(const v1::GenerateRequest& message);
// The proto Status of a corun Status (code as corun::StatusCode's number).
v1::Status to_proto(const Status& status);
// The daemon's verdict; a code this build does not know becomes INTERNAL_FAILURE (naming it),
// since a client must never act on a value outside corun::StatusCode.
Status from_proto(const v1::Status& status);

}  // namespace corun::service
