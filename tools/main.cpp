// `corun`: the command-line tool (after hailortcli). One file per subcommand.
#include <CLI/CLI.hpp>

#include "commands.hpp"

int main(int argc, char** argv) {
    CLI::App app{"corun: run many neural-network models on shared accelerators"};
    app.require_subcommand(1);
    app.set_version_flag("--version", "corun 0.1.0");
    corun::tools::add_scan_command(app);
    corun::tools::add_parse_command(app);
    corun::tools::add_run_command(app);
    corun::tools::add_detect_command(app);
    corun::tools::add_demo_command(app);
    corun::tools::add_run2_command(app);
    corun::tools::add_benchmark_command(app);
    corun::tools::add_faces_command(app);
    corun::tools::add_vad_command(app);
    corun::tools::add_ocr_command(app);
    corun::tools::add_serve_command(app);
    corun::tools::add_monitor_command(app);
    CLI11_PARSE(app, argc, argv);
    return 0;
}
