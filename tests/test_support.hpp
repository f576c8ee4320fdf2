// Shared helpers for corun's tests: test model paths, Status-aware assertions (ASSERT_OK,
// EXPECT_STATUS, ASSERT_OK_AND_ASSIGN), unique device group ids, and the one way tests wait for
// each other's threads (Gate, Counter, wait_until, wait_until_blocked).
//
// Tests never sleep to let something happen, nor bound how long it took: they wait for the exact
// event (a Gate opened, a count reached, a stat that says so), and every wait gives up after
// WAIT_LIMIT, far beyond anything a passing run needs, so that a broken build fails instead of
// hanging. Timings are benchmark figures (bench/, docs/PERFORMANCE.md), not test assertions.
#pragma once

#include <gtest/gtest.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "corun/corun.hpp"

namespace corun::test {

// Path of a generated test model (tests/models/make_test_models.py).
inline std::string test_model(const std::string& name) {
    return std::string(CORUN_TEST_MODEL_DIR) + "/" + name;
}

// A generated test model loaded on `vdevice`; null (and a test failure naming the model and
// the Status) when it does not load.
inline std::shared_ptr<InferModel> load_test_model(VDevice& vdevice, const std::string& name) {
    auto model = vdevice.create_infer_model(test_model(name));
    EXPECT_TRUE(model.has_value()) << name << ": " << model.status();
    return model.has_value() ? model.release() : nullptr;
}

inline std::vector<uint8_t> read_bytes(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    return std::vector<uint8_t>(std::istreambuf_iterator<char>(in), {});
}

inline const Status& status_of(const Status& status) {
    return status;
}
template <typename T>
const Status& status_of(const Expected<T>& expected) {
    return expected.status();
}

// A group id no other test of this process uses, so that tests with their own VDevice params
// never collide with the default group.
inline std::string unique_group(const std::string& prefix) {
    static std::atomic<int> counter{0};
    return prefix + "-" + std::to_string(counter.fetch_add(1));
}

// A folder of this test process's own (mkdtemp), removed at exit. ctest runs each test of a
// program as its own process, two at once: a fixed path under /tmp would be written by one
// while another reads it.
inline const std::filesystem::path& scratch_directory() {
    static const struct Directory {
        std::filesystem::path path;
        Directory() {
            std::string pattern = (std::filesystem::temp_directory_path() /
                                   (std::string(program_invocation_short_name) + ".XXXXXX"))
                                      .string();
            if (mkdtemp(pattern.data()) == nullptr) {
                std::perror(("cannot create the test's scratch folder " + pattern).c_str());
                std::abort();
            }
            path = pattern;
        }
        ~Directory() {
            std::error_code error;
            std::filesystem::remove_all(path, error);
        }
    } directory;
    return directory.path;
}

inline bool contains(const std::string& text, const std::string& part) {
    return text.find(part) != std::string::npos;
}

// How long any wait of a test may take before the test gives up on it and fails. It bounds a
// hang, nothing else: no test passes or fails by how fast something was.
constexpr std::chrono::milliseconds WAIT_LIMIT{20000};

// A one-shot latch: closed until open(), then open for good. wait() gives up after `limit` and
// says whether the gate opened, so a test whose gate never opens fails instead of hanging.
class Gate {
public:
    // Notifies under the lock: a waiter that returns may destroy the gate at once.
    void open() {
        std::lock_guard lock(mutex_);
        open_ = true;
        changed_.notify_all();
    }
    bool wait(std::chrono::milliseconds limit = WAIT_LIMIT) {
        std::unique_lock lock(mutex_);
        return changed_.wait_for(lock, limit, [&] { return open_; });
    }
    bool is_open() const {
        std::lock_guard lock(mutex_);
        return open_;
    }

private:
    mutable std::mutex mutex_;
    std::condition_variable changed_;
    bool open_ = false;
};

// Counts events (callbacks, cancellations) and waits until a number of them happened.
class Counter {
public:
    // Notifies under the lock: a waiter that returns may destroy the counter at once.
    void add() {
        std::lock_guard lock(mutex_);
        ++count_;
        changed_.notify_all();
    }
    bool wait_for(int count, std::chrono::milliseconds limit = WAIT_LIMIT) {
        std::unique_lock lock(mutex_);
        return changed_.wait_for(lock, limit, [&] { return count_ >= count; });
    }
    int count() const {
        std::lock_guard lock(mutex_);
        return count_;
    }

private:
    mutable std::mutex mutex_;
    std::condition_variable changed_;
    int count_ = 0;
};

// Waits until `done()` holds, for state that no callback announces (a scheduler stat, a device
// group closing, another process): asks again every millisecond, gives up after `limit`. Whether
// it held. The condition is exact; only how often it is asked depends on the clock.
template <typename Predicate>
bool wait_until(Predicate done, std::chrono::milliseconds limit = WAIT_LIMIT) {
    const auto give_up = std::chrono::steady_clock::now() + limit;
    while (!done()) {
        if (std::chrono::steady_clock::now() > give_up) return false;
        std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
    return true;
}

// The kernel's id of the calling thread, for wait_until_blocked().
inline pid_t this_thread_id() {
    return static_cast<pid_t>(syscall(SYS_gettid));
}

// The state letter the kernel reports for thread `tid` of this process ('R' running, 'S' asleep
// on a lock, a condition or I/O, ...), or nullopt once the thread is gone.
inline std::optional<char> thread_state(pid_t tid) {
    std::ifstream stat("/proc/self/task/" + std::to_string(tid) + "/stat");
    std::string line;
    if (!std::getline(stat, line)) return std::nullopt;
    const auto name_end = line.rfind(')');  // the name in parentheses may hold spaces
    if (name_end == std::string::npos || name_end + 2 >= line.size()) return std::nullopt;
    return line[name_end + 2];
}

// Waits until thread `tid` is blocked in the kernel, for "X waits until Y" tests: started on
// another thread, X blocks, and only then does the test do Y (no pause that a slow machine could
// outlast). Whether it blocked; false when the thread ended (it did not wait at all) or `limit`
// passed.
inline bool wait_until_blocked(pid_t tid, std::chrono::milliseconds limit = WAIT_LIMIT) {
    bool gone = false;
    const bool blocked = wait_until(
        [&] {
            const std::optional<char> state = thread_state(tid);
            gone = !state.has_value();
            return gone || *state == 'S' || *state == 'D';
        },
        limit);
    return blocked && !gone;
}

}  // namespace corun::test

// Fails the test (printing the Status) unless `expr`, a Status or an Expected, succeeded.
#define ASSERT_OK(expr)                                                                   \
    do {                                                                                  \
        const ::corun::Status corun_test_status_ = ::corun::test::status_of(expr);        \
        ASSERT_TRUE(corun_test_status_.is_ok()) << #expr << " -> " << corun_test_status_; \
    } while (false)
#define EXPECT_OK(expr)                                                                   \
    do {                                                                                  \
        const ::corun::Status corun_test_status_ = ::corun::test::status_of(expr);        \
        EXPECT_TRUE(corun_test_status_.is_ok()) << #expr << " -> " << corun_test_status_; \
    } while (false)

// Expects `expr` (a Status or an Expected) to fail with `code`.
#define EXPECT_STATUS(expr, expected_code)                                         \
    do {                                                                           \
        const ::corun::Status corun_test_status_ = ::corun::test::status_of(expr); \
        EXPECT_EQ(corun_test_status_.code(), (expected_code))                      \
            << #expr << " -> " << corun_test_status_;                              \
    } while (false)

// ASSERT_OK_AND_ASSIGN(auto x, make_x()); binds the value or fails the test with the Status.
#define CORUN_TEST_ASSIGN_IMPL(tmp, lhs, expr)                       \
    auto tmp = (expr);                                               \
    ASSERT_TRUE(tmp.has_value()) << #expr << " -> " << tmp.status(); \
    lhs = std::move(tmp).value()
#define ASSERT_OK_AND_ASSIGN(lhs, expr) \
    CORUN_TEST_ASSIGN_IMPL(CORUN_CONCAT(corun_test_expected_, __LINE__), lhs, expr)
