// corund's command line and main loop, shared by the `corund` executable and `corun serve`
// (one set of flags, one behaviour).
#pragma once

#include <map>
#include <string>

#include <CLI/CLI.hpp>

namespace corun::service {

struct DaemonCommandLine {
    std::string config_file;
    std::map<std::string, std::string> settings;  // config key -> flag value ("" = not given)
};

// --config FILE plus one flag per setting of daemon_config.hpp (--socket, --log-level, ...).
void add_daemon_options(CLI::App& app, DaemonCommandLine& command_line);

// Serves until SIGTERM or SIGINT; returns the process exit code (0 after a clean shutdown).
int run_daemon(const DaemonCommandLine& command_line);

}  // namespace corun::service
