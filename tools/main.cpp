// `corun`: the command-line tool (after hailortcli). One file per subcommand.
#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>
#include <CLI/CLI.hpp>

#include <cstdio>
#include <cstdlib>
#include <exception>
#include <new>

#include "commands.hpp"

namespace {

// Every failure a command foresees is a Status it prints as "corun: CODE: message". Anything
// else reaching here is a bug: say what it was, once, and exit 1 instead of aborting.
int report_unexpected(const char* what) {
    std::fprintf(stderr, "corun: internal error: %s; please report it\n", what);
    return 1;
}

// An exception escaping a thread (or a noexcept function) ends in std::terminate, which no
// try block in main sees: print its cause the same way. _Exit, because the process is in no
// state to run destructors.
[[noreturn]] void on_terminate() {
    const std::exception_ptr current = std::current_exception();
    try {
        if (current) std::rethrow_exception(current);
        report_unexpected("std::terminate called without an exception");
    } catch (const std::bad_alloc&) {
        report_unexpected("out of memory (std::bad_alloc)");
    } catch (const std::exception& error) {
        report_unexpected(error.what());
    } catch (...) {
        report_unexpected("an exception of unknown type");
    }
    std::_Exit(1);
}

}  // namespace

int main(int argc, char** argv) {
    std::set_terminate(on_terminate);
    // Log lines go to stderr: stdout carries results (--json) that scripts parse.
    spdlog::set_default_logger(spdlog::stderr_color_mt("corun"));
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
    corun::tools::add_plan_command(app);
    corun::tools::add_faces_command(app);
    corun::tools::add_vad_command(app);
    corun::tools::add_ocr_command(app);
    corun::tools::add_generate_command(app);
    corun::tools::add_transcribe_command(app);
    corun::tools::add_serve_command(app);
    corun::tools::add_monitor_command(app);
    corun::tools::add_trace_command(app);
    corun::tools::add_batch_command(app);
    corun::tools::add_cluster_command(app);
    corun::tools::add_worker_command(app);
    try {
        app.parse(argc, argv);
    } catch (const CLI::ParseError& error) {
        // Usage errors, --help, and a command's failure (CLI::RuntimeError after it printed
        // its Status).
        return app.exit(error);
    } catch (const std::bad_alloc&) {
        return report_unexpected("out of memory (std::bad_alloc)");
    } catch (const std::exception& error) {
        return report_unexpected(error.what());
    } catch (...) {
        return report_unexpected("an exception of unknown type");
    }
    return 0;
}
