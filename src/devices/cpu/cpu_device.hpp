// The `cpu` device: ONNX Runtime's CPU execution provider.
#pragma once

#include "devices/device_registry.hpp"

namespace corun::devices::cpu {

DeviceKind cpu_device_kind();

}  // namespace corun::devices::cpu
