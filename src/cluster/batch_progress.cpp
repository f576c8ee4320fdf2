#include "cluster/batch_progress.hpp"

#include <algorithm>
#include <cmath>
#include <cstdio>

namespace corun::cluster {

double BatchProgress::elapsed_s() const {
    const std::chrono::steady_clock::time_point started(
        std::chrono::steady_clock::duration(started_ns_.load(std::memory_order_relaxed)));
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
}

std::string duration_text(double seconds) {
    const auto total = static_cast<long long>(std::llround(std::max(0.0, seconds)));
    char text[32];
    if (total >= 3600) {
        std::snprintf(text, sizeof text, "%lld:%02lld:%02lld", total / 3600, total / 60 % 60,
                      total % 60);
    } else {
        std::snprintf(text, sizeof text, "%lld:%02lld", total / 60, total % 60);
    }
    return text;
}

std::string BatchProgress::line(size_t width) const {
    const size_t total = this->total();
    const size_t done = std::min(this->done(), total);
    const double elapsed = elapsed_s();
    const double rate = elapsed > 0 ? static_cast<double>(processed()) / elapsed : 0.0;
    char tail[128];
    const std::string eta =
        rate > 0 ? duration_text(static_cast<double>(total - done) / rate) : std::string("?");
    std::snprintf(tail, sizeof tail, " %zu/%zu  %.1f/s  ETA %s  errors %zu", done, total, rate,
                  eta.c_str(), bad());
    const size_t bar =
        width > std::string(tail).size() + 12 ? width - std::string(tail).size() - 3 : 10;
    const size_t filled = total > 0 ? bar * done / total : bar;
    return "[" + std::string(filled, '#') + std::string(bar - filled, '.') + "]" + tail;
}

}  // namespace corun::cluster
