// TEST DOUBLE, not a feature: faults that a test injects into npu-sim devices, standing for what
// a real NPU does and a test cannot cause for real (a device that fails its bursts or drops off
// the bus and comes back, a device that stalls). No public header, param or environment variable
// reaches it; only code that includes this file (tests, benchmarks) can arm it. Used by the
// router's fallback tests (docs/ROUTER.md, "Routed models").
//
// Faults are per VDevice group (an npu-sim device belongs to exactly one), so tests in one
// process that use other groups are not touched. A fault applies to bursts that start after it
// is armed; a burst already running finishes normally.
#pragma once

#include <cstddef>
#include <string>

#include "corun/status.hpp"

namespace corun::devices::npu_sim::test_double {

class NpuSimFaultInjection {
public:
    // Every burst of the group's npu-sim device fails with `failure` (e.g. DEVICE_FAILURE: "the
    // NPU went away") without running, until clear(). `failure` must not be SUCCESS.
    static void fail_bursts(const std::string& group_id, Status failure);
    // Every burst of the group's npu-sim device waits before it runs, holding the device, until
    // clear(): a stalled NPU, whose queue then fills up as it would under load.
    static void stall_bursts(const std::string& group_id);
    // Bursts stalled now (waiting in stall_bursts) on the group's device: lets a test wait until
    // the device has taken a frame off its queue.
    static size_t stalled_bursts(const std::string& group_id);
    // Back to normal: failing stops, stalled bursts run.
    static void clear(const std::string& group_id);

    // Called by the npu-sim device at the start of each burst, holding the device: waits while
    // the group is stalled, then returns the failure armed for the group, or SUCCESS.
    static Status before_burst(const std::string& group_id);
};

}  // namespace corun::devices::npu_sim::test_double
