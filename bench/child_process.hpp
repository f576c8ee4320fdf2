// Starting and reaping the benchmarks' child processes (corund, client processes, the roles a
// benchmark runs itself as).
#pragma once

#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

namespace corun::bench {

// Starts args[0] with args, its stdout into `stdout_path` when given. Exits the benchmark when
// fork fails (a -1 handed on would make kill(-1, ...) signal every process of the user).
inline pid_t spawn(const std::vector<std::string>& args, const std::string& stdout_path = "") {
    std::fflush(nullptr);  // or the child would print what this process has buffered
    const pid_t pid = fork();
    if (pid < 0) {
        std::perror("fork");
        std::exit(1);
    }
    if (pid == 0) {
        if (!stdout_path.empty() && !std::freopen(stdout_path.c_str(), "w", stdout)) _exit(127);
        std::vector<char*> argv;
        for (const auto& arg : args) argv.push_back(const_cast<char*>(arg.c_str()));
        argv.push_back(nullptr);
        execv(argv[0], argv.data());
        _exit(127);
    }
    return pid;
}

// The child's exit code, or -1 when a signal ended it.
inline int wait_for(pid_t pid) {
    int status = 0;
    waitpid(pid, &status, 0);
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

}  // namespace corun::bench
