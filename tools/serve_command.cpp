// `corun serve`: runs corund in the foreground, with corund's flags.
#include "commands.hpp"
#include "service/daemon/daemon_main.hpp"

namespace corun::tools {

void add_serve_command(CLI::App& app) {
    auto* command = app.add_subcommand(
        "serve", "Run the corund service: processes with multi_process_service share its devices");
    static service::DaemonCommandLine command_line;
    service::add_daemon_options(*command, command_line);
    command->callback([] {
        const int code = service::run_daemon(command_line);
        if (code != 0) throw CLI::RuntimeError(code);
    });
}

}  // namespace corun::tools
