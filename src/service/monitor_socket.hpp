// Where a process run with CORUN_MONITOR=1 answers `corun monitor --pid PID`.
#pragma once

#include <cstdlib>
#include <string>

namespace corun::service {

// $CORUN_MONITOR_DIR (default /tmp) + "/corun-monitor-PID.sock".
inline std::string in_process_monitor_socket(int pid) {
    const char* directory = std::getenv("CORUN_MONITOR_DIR");
    const std::string base = directory != nullptr && *directory != '\0' ? directory : "/tmp";
    return base + "/corun-monitor-" + std::to_string(pid) + ".sock";
}

}  // namespace corun::service
