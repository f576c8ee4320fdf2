// Running the `corun` binary from a test: a scratch folder removed at exit, shell quoting, and
// one run's exit code, stdout and stderr. Shared by the CLI tests (cli_test,
// cli_run_output_test); each defines CORUN_BINARY, the built `corun`.
#pragma once

#include <sys/wait.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <ostream>
#include <string>
#include <vector>

#include "test_support.hpp"

namespace corun::test {

// `arg` in single quotes for /bin/sh, whatever it holds.
inline std::string quoted(const std::string& arg) {
    std::string out = "'";
    for (const char c : arg) out += c == '\'' ? std::string("'\\''") : std::string(1, c);
    return out + "'";
}

struct CliResult {
    int exit_code = -1;
    std::string out;
    std::string err;
};

inline std::ostream& operator<<(std::ostream& os, const CliResult& run) {
    return os << "exit code " << run.exit_code << "\nstdout:\n"
              << run.out.substr(0, 4000) << "\nstderr:\n"
              << run.err.substr(0, 4000);
}

// Runs `corun ARGS...` with no stdin and collects its exit code, stdout and stderr.
inline CliResult corun(const std::vector<std::string>& args) {
    static int counter = 0;
    const std::string err_path =
        (scratch_directory() / ("stderr-" + std::to_string(counter++))).string();
    std::string command = quoted(CORUN_BINARY);
    for (const auto& arg : args) command += " " + quoted(arg);
    command += " 2>" + quoted(err_path) + " </dev/null";
    CliResult run;
    FILE* pipe = popen(command.c_str(), "r");
    if (pipe == nullptr) return run;
    char buffer[4096];
    size_t got = 0;
    while ((got = std::fread(buffer, 1, sizeof buffer, pipe)) > 0) run.out.append(buffer, got);
    const int status = pclose(pipe);
    run.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
    std::ifstream err(err_path, std::ios::binary);
    run.err.assign(std::istreambuf_iterator<char>(err), {});
    return run;
}

}  // namespace corun::test
