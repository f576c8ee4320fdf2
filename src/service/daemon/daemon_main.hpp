// corund's command line and main loop, shared by the `corund` executable and `corun serve`
// (one set of flags, one behaviour).
#pragma once

#include <map>
#include <memory>
#include <string>

#include <CLI/CLI.hpp>

#include "corun/status.hpp"
#include "corun/vdevice.hpp"

namespace corun::service {

struct DaemonCommandLine {
    std::string config_file;
    std::map<std::string, std::string> settings;  // config key -> flag value ("" = not given)
};

// --config FILE plus one flag per setting of daemon_config.hpp (--socket, --log-level, ...).
void add_daemon_options(CLI::App& app, DaemonCommandLine& command_line);

// Something that runs inside corund beside its Unix socket: the KServe v2 fronts of `corun
// serve` (src/serving). It is started once the socket listens, with a VDevice of the default
// group, so its models share the device and the one scheduler with every client of that group;
// it is stopped on SIGTERM/SIGINT before corund releases its sessions. corund itself knows
// nothing of what it serves (the service layer never includes serving).
class DaemonFront {
public:
    virtual ~DaemonFront() = default;
    // A failure stops corund with exit code 1, after logging the Status.
    virtual Status start(std::shared_ptr<VDevice> vdevice) = 0;
    virtual void stop() = 0;
};

// Serves until SIGTERM or SIGINT; returns the process exit code (0 after a clean shutdown).
// With a front, also runs it (see DaemonFront).
int run_daemon(const DaemonCommandLine& command_line, DaemonFront* front = nullptr);

}  // namespace corun::service
