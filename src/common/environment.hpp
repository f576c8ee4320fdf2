// How the typed params and the environment (corun/environment.hpp) combine: one rule per
// setting, used by the runtime, corund and the CLI alike.
#pragma once

#include <string>

#include "corun/environment.hpp"
#include "corun/vdevice.hpp"

namespace corun::environment {

// The socket a VDevice with multi_process_service connects to: params.service_socket when set,
// else $CORUN_SERVICE_SOCKET when set, else DEFAULT_SERVICE_SOCKET.
std::string resolve_service_socket(const VDeviceParams& params);
// The same rule for a path given some other way (corund --socket, corun monitor --socket).
std::string resolve_service_socket(const std::string& given);

// params.service_fast_lane when set, else false only when $CORUN_SERVICE_FAST_LANE is "0".
bool service_fast_lane_enabled(const VDeviceParams& params);

// params.monitor when set, else true only when $CORUN_MONITOR is "1" or $CORUN_MONITOR_METRICS
// is set.
bool monitor_enabled(const VDeviceParams& params);

// Where a process with the in-process monitor answers `corun monitor --pid PID`:
// <monitor dir>/corun-monitor-PID.sock, the folder being params.monitor_dir, else
// $CORUN_MONITOR_DIR, else /tmp. The second form (for the CLI) knows no params.
std::string in_process_monitor_socket(const VDeviceParams& params, int pid);
std::string in_process_monitor_socket(int pid);

}  // namespace corun::environment
