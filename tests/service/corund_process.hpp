// The real corund (CORUN_CORUND_PATH) as a child of a test, on a socket in a fresh temporary
// directory: started and waited for, paused and resumed (SIGSTOP/SIGCONT: a stalled daemon),
// killed (SIGKILL: a daemon that dies), restarted on the same socket, or stopped with SIGTERM
// as an operator would, which reports how it exited. Every wait is bounded.
#pragma once

#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "runtime/remote/service_socket.hpp"
#include "test_support.hpp"

extern char** environ;

namespace corun::test {

class CorundProcess {
public:
    // `extra_args` go after `--socket PATH`, e.g. {"--max-models-per-client", "1"}.
    explicit CorundProcess(std::vector<std::string> extra_args = {})
        : extra_args_(std::move(extra_args)) {
        char pattern[] = "/tmp/corund-test-XXXXXX";
        if (mkdtemp(pattern) != nullptr) directory_ = pattern;
        socket_ = directory_ + "/corund.sock";
    }
    ~CorundProcess() {
        kill_now();
        std::error_code ignored;
        if (!directory_.empty()) std::filesystem::remove_all(directory_, ignored);
    }
    CorundProcess(const CorundProcess&) = delete;
    CorundProcess& operator=(const CorundProcess&) = delete;

    const std::string& socket() const { return socket_; }
    bool running() const { return pid_ > 0; }

    // Starts it (again, after kill_now or stop) and waits until it accepts connections.
    bool start(std::chrono::seconds limit = std::chrono::seconds(30)) {
        if (directory_.empty() || running()) return false;
        unlink(socket_.c_str());
        std::vector<std::string> args = {CORUN_CORUND_PATH, "--socket", socket_, "--log-level",
                                         "warn"};
        args.insert(args.end(), extra_args_.begin(), extra_args_.end());
        std::vector<char*> argv;
        for (auto& arg : args) argv.push_back(arg.data());
        argv.push_back(nullptr);
        std::vector<std::string> environment_strings = child_environment();
        std::vector<char*> envp;
        for (auto& entry : environment_strings) envp.push_back(entry.data());
        envp.push_back(nullptr);
        if (posix_spawn(&pid_, CORUN_CORUND_PATH, nullptr, nullptr, argv.data(), envp.data()) !=
            0) {
            pid_ = -1;
            return false;
        }
        const auto deadline = std::chrono::steady_clock::now() + limit;
        while (std::chrono::steady_clock::now() < deadline) {
            if (service::probe_service_socket(socket_).empty()) return true;
            if (waitpid(pid_, nullptr, WNOHANG) == pid_) {
                pid_ = -1;
                return false;
            }
            std::this_thread::sleep_for(std::chrono::milliseconds(20));
        }
        kill_now();
        return false;
    }

    // SIGSTOP takes effect asynchronously: wait (bounded) until the kernel reports every thread
    // of corund stopped, so that nothing it had in hand completes after pause() returns.
    void pause() const {
        kill(pid_, SIGSTOP);
        for (int i = 0; i < 2000 && !all_threads_stopped(); ++i) {
            std::this_thread::sleep_for(std::chrono::milliseconds(1));
        }
    }
    void resume() const { kill(pid_, SIGCONT); }

    bool all_threads_stopped() const {
        const std::string tasks = "/proc/" + std::to_string(pid_) + "/task";
        std::error_code error;
        for (const auto& task : std::filesystem::directory_iterator(tasks, error)) {
            std::ifstream stat(task.path() / "stat");
            std::string line;
            std::getline(stat, line);
            const auto close = line.rfind(')');
            if (close == std::string::npos || close + 2 >= line.size()) return false;
            const char state = line[close + 2];
            if (state != 'T' && state != 't') return false;
        }
        return !error;
    }

    void kill_now() {
        if (!running()) return;
        kill(pid_, SIGKILL);
        waitpid(pid_, nullptr, 0);
        pid_ = -1;
    }

    // SIGTERM, then waits for it to exit: its exit code, 128 + signal when a signal ended it,
    // or -1 when it had not exited after `limit` (it is then killed).
    int stop(std::chrono::seconds limit = std::chrono::seconds(20)) {
        if (!running()) return -1;
        kill(pid_, SIGCONT);
        kill(pid_, SIGTERM);
        const auto deadline = std::chrono::steady_clock::now() + limit;
        int status = 0;
        while (std::chrono::steady_clock::now() < deadline) {
            if (waitpid(pid_, &status, WNOHANG) == pid_) {
                pid_ = -1;
                return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
            }
            std::this_thread::sleep_for(std::chrono::milliseconds(20));
        }
        kill_now();
        return -1;
    }

private:
    // The test's environment; in AddressSanitizer builds also the suppression the test
    // binaries have (tests/sanitizer_options.cpp): ONNX Runtime, prebuilt and uninstrumented,
    // leaks a few bytes per process, which would otherwise fail corund's clean exit.
    std::vector<std::string> child_environment() const {
        std::vector<std::string> environment;
        std::string lsan_options;
        for (char** entry = environ; *entry != nullptr; ++entry) {
            const std::string text = *entry;
            if (text.rfind("LSAN_OPTIONS=", 0) == 0) {
                lsan_options = text.substr(13);
            } else {
                environment.push_back(text);
            }
        }
#if defined(__SANITIZE_ADDRESS__)
        const std::string suppressions = directory_ + "/lsan.supp";
        std::ofstream(suppressions) << "leak:libonnxruntime.so\n";
        lsan_options += (lsan_options.empty() ? "" : ":") + ("suppressions=" + suppressions);
#endif
        if (!lsan_options.empty()) environment.push_back("LSAN_OPTIONS=" + lsan_options);
        return environment;
    }

    std::vector<std::string> extra_args_;
    std::string directory_;
    std::string socket_;
    pid_t pid_ = -1;
};

// A test with its own corund. TearDown stops it with SIGTERM and expects a clean exit, so that
// a crash or a sanitizer report in the daemon fails the test that caused it.
class CorundTest : public ::testing::Test {
protected:
    void SetUp() override {
        daemon_ = std::make_unique<CorundProcess>(daemon_args());
        ASSERT_TRUE(daemon_->start()) << "corund did not start at " << daemon_->socket();
    }
    void TearDown() override {
        if (daemon_ && daemon_->running()) {
            EXPECT_EQ(daemon_->stop(), 0) << "corund did not exit cleanly (its stderr is above)";
        }
    }
    virtual std::vector<std::string> daemon_args() const { return {}; }

    // A service VDevice of a group no other test uses, on this test's corund.
    VDeviceParams params() const {
        VDeviceParams params;
        params.multi_process_service = true;
        params.service_socket = daemon_->socket();
        params.group_id = unique_group("service");
        return params;
    }

    std::unique_ptr<CorundProcess> daemon_;
};

}  // namespace corun::test
