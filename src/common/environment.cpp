#include "common/environment.hpp"

#include <cstdlib>

namespace corun::environment {

std::string value(const char* name) {
    const char* text = std::getenv(name);
    return text == nullptr ? std::string() : std::string(text);
}

std::string resolve_service_socket(const VDeviceParams& params) {
    return resolve_service_socket(params.service_socket);
}

std::string resolve_service_socket(const std::string& given) {
    if (!given.empty()) return given;
    if (std::string from_environment = value(SERVICE_SOCKET); !from_environment.empty()) {
        return from_environment;
    }
    return DEFAULT_SERVICE_SOCKET;
}

bool service_fast_lane_enabled(const VDeviceParams& params) {
    if (params.service_fast_lane) return *params.service_fast_lane;
    return value(SERVICE_FAST_LANE) != "0";
}

bool monitor_enabled(const VDeviceParams& params) {
    if (params.monitor) return *params.monitor;
    // Asking for the metrics page asks for the monitor that serves it.
    return value(MONITOR) == "1" || !value(MONITOR_METRICS).empty();
}

std::string in_process_monitor_socket(const VDeviceParams& params, int pid) {
    std::string folder = params.monitor_dir;
    if (folder.empty()) folder = value(MONITOR_DIR);
    if (folder.empty()) folder = "/tmp";
    return folder + "/corun-monitor-" + std::to_string(pid) + ".sock";
}

std::string in_process_monitor_socket(int pid) {
    return in_process_monitor_socket(VDeviceParams{}, pid);
}

}  // namespace corun::environment
