// Every environment variable corun reads, in one place. Each only fills in a typed param left
// unset: a param set in code always wins (docs/API.md, "Configuration").
#pragma once

#include <string>

namespace corun::environment {

// VDeviceParams::service_socket: where corund listens (default DEFAULT_SERVICE_SOCKET).
inline constexpr const char* SERVICE_SOCKET = "CORUN_SERVICE_SOCKET";
// VDeviceParams::service_fast_lane: "0" sends every frame on the session stream instead of the
// shared-memory fast lane (default on).
inline constexpr const char* SERVICE_FAST_LANE = "CORUN_SERVICE_FAST_LANE";
// VDeviceParams::monitor: "1" lets `corun monitor --pid PID` watch this process (default off).
inline constexpr const char* MONITOR = "CORUN_MONITOR";
// VDeviceParams::monitor_dir: where that monitor's socket is made (default /tmp).
inline constexpr const char* MONITOR_DIR = "CORUN_MONITOR_DIR";
// "[ADDRESS:]PORT": with the monitor on, it also serves Prometheus's /metrics over HTTP there
// (127.0.0.1 unless an address is given; port 0 = any free one, printed on stderr). No typed
// param yet: it is read where the monitor starts (docs/SERVING.md, "The in-process page").
inline constexpr const char* MONITOR_METRICS = "CORUN_MONITOR_METRICS";
// NpuSimDeviceParams::profile_path: the npu-sim timing profile (default: the built-in one).
inline constexpr const char* NPU_SIM_PROFILE = "CORUN_NPU_SIM_PROFILE";
// The `corun` command's --cache-dir: where the fetched models are (default .cache in the
// source tree).
inline constexpr const char* CACHE_DIR = "CORUN_CACHE_DIR";

// The variable's value; "" when it is unset.
std::string value(const char* name);

}  // namespace corun::environment
