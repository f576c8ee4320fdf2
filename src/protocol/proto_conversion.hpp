// corun's own types to and from the service's messages (proto/corun_service.proto).
#pragma once

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
};

void to_proto(const VDeviceParams& params, v1::VDeviceParams& message);
void to_proto(const devices::TensorSpec& tensor, v1::TensorSpec& message);
void to_proto(const SchedulingSettings& settings, v1::SchedulingParams& message);
devices::DeclaredTensor from_proto(const v1::DeclaredTensor& message);
DeviceDescription from_proto(const v1::DeviceInfo& message);
ScheduledModelStats from_proto(const v1::ModelStats& message);

}  // namespace corun::service
