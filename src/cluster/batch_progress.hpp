// How far a batch is, counted by its stages and read by whoever shows it: the progress bar on
// stderr (when it is a terminal) and the summary at the end.
#pragma once

#include <atomic>
#include <chrono>
#include <cstddef>
#include <string>

namespace corun::cluster {

class BatchProgress {
public:
    // The ticker that draws the line may already be reading: start() publishes atomically.
    void start(size_t total) {
        started_ns_.store(std::chrono::steady_clock::now().time_since_epoch().count(),
                          std::memory_order_relaxed);
        total_.store(total, std::memory_order_relaxed);
    }
    void input_done(bool processed, bool bad) {
        done_.fetch_add(1, std::memory_order_relaxed);
        if (processed) processed_.fetch_add(1, std::memory_order_relaxed);
        if (bad) bad_.fetch_add(1, std::memory_order_relaxed);
    }

    size_t total() const { return total_.load(std::memory_order_relaxed); }
    size_t done() const { return done_.load(std::memory_order_relaxed); }
    size_t processed() const { return processed_.load(std::memory_order_relaxed); }
    size_t bad() const { return bad_.load(std::memory_order_relaxed); }
    double elapsed_s() const;

    // One line of width - 1 characters (a terminal's last column stays free, so it never wraps):
    // "[#########.........] 120/400  35.2/s  ETA 0:08  errors 2". The rate counts the inputs run
    // in this run (not those already done), and so does the ETA.
    std::string line(size_t width = 80) const;

private:
    std::atomic<size_t> total_{0};
    std::atomic<size_t> done_{0};
    std::atomic<size_t> processed_{0};
    std::atomic<size_t> bad_{0};
    std::atomic<std::chrono::steady_clock::rep> started_ns_{
        std::chrono::steady_clock::now().time_since_epoch().count()};
};

// "1:02:03", "2:03".
std::string duration_text(double seconds);

}  // namespace corun::cluster
