// The `npu-sim` device in real time: a single-context NPU whose execution takes the time its
// profile says (sleeping), switching context when the model changes. Outputs are the real
// model's, computed on the CPU meanwhile, or zero-filled when only timing is wanted.
#pragma once

#include "devices/device_registry.hpp"

namespace corun::devices::npu_sim {

DeviceKind npu_sim_device_kind();

}  // namespace corun::devices::npu_sim
