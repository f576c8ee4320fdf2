// `corund`: the multi-process service. Owns the devices and the one scheduler that every
// process connecting to its Unix socket shares (docs/SERVICE.md). `corun serve` is the same.
#include <CLI/CLI.hpp>

#include "service/daemon/daemon_main.hpp"

int main(int argc, char** argv) {
    CLI::App app{"corund: share devices and one scheduler among every corun process"};
    app.set_version_flag("--version", "corund 0.1.0");
    corun::service::DaemonCommandLine command_line;
    corun::service::add_daemon_options(app, command_line);
    CLI11_PARSE(app, argc, argv);
    return corun::service::run_daemon(command_line);
}
