// The `cpu` device: ONNX Runtime's CPU execution provider.
#pragma once

#include "devices/device_registry.hpp"

namespace corun::devices::cpu {

DeviceKind cpu_device_kind();

// The slots a cpu device with these params runs: execution_slots 0 = one per core, and with
// the default thread count (automatic sharing) one latency slot unless latency_slots names a
// count (CpuDeviceParams).
struct CpuSlots {
    uint32_t shared = 1;
    uint32_t latency = 0;
    bool automatic = false;  // the device shares its cores by itself (core_arbiter.hpp)
};
CpuSlots cpu_slots(const CpuDeviceParams& params);

}  // namespace corun::devices::cpu
