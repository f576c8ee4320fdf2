// Issue 13, "admission pays": goodput (frames finished within their SLO, per second) under an
// open-loop load above the device's capacity, with admission control against a plain FIFO
// queue, side by side in one run.
//
// The device is one slot of the threaded ModelScheduler whose requests hold it for a fixed
// service time (an NPU's frame: what npu-sim does in real time), so the figures are the
// scheduler's own and not the host's noise. Arrivals are Poisson at `load` x capacity.
//  - fifo: no SLO; every frame queues and runs in arrival order (what users have today).
//  - admission: a latency SLO; a frame predicted to miss it is refused at once
//    (DEADLINE_EXCEEDED), and one whose wait outgrew it is dropped before it runs.
//
//   admission_bench [--seconds S] [--frame-ms F] [--slo-ms X] [--json]
#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <limits>
#include <mutex>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include <nlohmann/json.hpp>

#include "scheduler/model_scheduler.hpp"

namespace {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;
using corun::scheduler::DeviceSlots;
using corun::scheduler::InferRequest;
using corun::scheduler::ModelScheduler;
using corun::scheduler::ModelSchedulingParams;
using corun::scheduler::PolicyOptions;

struct Arm {
    std::string name;
    double load = 1;
    bool admission = false;
    // Results.
    uint64_t offered = 0;
    uint64_t within_slo = 0;
    uint64_t finished_late = 0;
    // Refused at admission or dropped before running; for fifo, still queued at the end.
    uint64_t not_run = 0;
    uint64_t ran = 0;
    double seconds = 0;
    double goodput() const { return seconds > 0 ? static_cast<double>(within_slo) / seconds : 0; }
    double late_fraction() const {
        return ran > 0 ? static_cast<double>(finished_late) / static_cast<double>(ran) : 0;
    }
};

void run_arm(Arm& arm, std::chrono::nanoseconds frame, std::chrono::nanoseconds slo,
             std::chrono::nanoseconds duration) {
    ModelScheduler scheduler({DeviceSlots{1, 0}}, PolicyOptions{});
    ModelSchedulingParams params;
    if (arm.admission) params.latency_slo = slo;
    if (!scheduler.add_model(1, "camera", params).is_ok()) std::abort();
    std::mutex mutex;
    std::atomic<uint64_t> outstanding{0};
    std::mt19937_64 random(7);
    const double rate = arm.load / std::chrono::duration<double>(frame).count();
    std::exponential_distribution<double> gap(rate);
    const Clock::time_point start = Clock::now();
    Clock::time_point next = start;
    while (next - start < duration) {
        std::this_thread::sleep_until(next);
        const Clock::time_point arrived = Clock::now();
        InferRequest request;
        request.model_id = 1;
        request.run = [&, arrived, frame](size_t) {
            std::this_thread::sleep_for(frame);
            const auto latency = Clock::now() - arrived;
            {
                std::lock_guard lock(mutex);
                ++arm.ran;
                ++(latency <= slo ? arm.within_slo : arm.finished_late);
            }
            --outstanding;
            return frame.count();
        };
        request.cancel = [&](corun::Status) {
            {
                std::lock_guard lock(mutex);
                ++arm.not_run;
            }
            --outstanding;
        };
        ++outstanding;
        ++arm.offered;
        if (!scheduler.enqueue(std::move(request)).is_ok()) std::abort();
        next +=
            std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(gap(random)));
    }
    // Goodput counts the offered period: what the FIFO still owes after it is late anyway, and
    // is cancelled here rather than run for minutes.
    arm.seconds = std::chrono::duration<double>(Clock::now() - start).count();
    scheduler.stop();
    std::lock_guard lock(mutex);
    arm.not_run = arm.offered - arm.ran;
}

}  // namespace

int main(int argc, char** argv) {
    double seconds = 10;
    double frame_ms = 10;
    double slo_ms = 100;
    bool json = false;
    for (int i = 1; i < argc; ++i) {
        const std::string arg = argv[i];
        auto value = [&] {
            if (i + 1 >= argc) {
                std::fprintf(stderr, "%s needs a value\n", arg.c_str());
                std::exit(2);
            }
            return std::atof(argv[++i]);
        };
        if (arg == "--seconds") {
            seconds = value();
        } else if (arg == "--frame-ms") {
            frame_ms = value();
        } else if (arg == "--slo-ms") {
            slo_ms = value();
        } else if (arg == "--json") {
            json = true;
        } else {
            std::fprintf(stderr,
                         "usage: admission_bench [--seconds S] [--frame-ms F] [--slo-ms X] "
                         "[--json]\n");
            return 2;
        }
    }
    if (seconds <= 0 || seconds > 600 || frame_ms <= 0 || slo_ms <= 0) {
        std::fprintf(stderr, "admission_bench: --seconds must be in (0, 600], the others > 0\n");
        return 2;
    }
    const auto frame = std::chrono::duration_cast<std::chrono::nanoseconds>(
        std::chrono::duration<double, std::milli>(frame_ms));
    const auto slo = std::chrono::duration_cast<std::chrono::nanoseconds>(
        std::chrono::duration<double, std::milli>(slo_ms));
    const auto duration = std::chrono::duration_cast<std::chrono::nanoseconds>(
        std::chrono::duration<double>(seconds));
    std::vector<Arm> arms;
    for (double load : {1.5, 2.0}) {
        arms.push_back({"fifo", load, false});
        arms.push_back({"admission", load, true});
    }
    for (Arm& arm : arms) run_arm(arm, frame, slo, duration);

    const double capacity = 1000.0 / frame_ms;
    nlohmann::json summary = {{"frame_ms", frame_ms},
                              {"slo_ms", slo_ms},
                              {"capacity_fps", capacity},
                              {"seconds", seconds}};
    if (!json) {
        std::printf(
            "device: one slot, %.1f ms a frame (capacity %.0f frames/s); SLO %.0f ms; "
            "Poisson arrivals, %.0f s per arm\n",
            frame_ms, capacity, slo_ms, seconds);
        std::printf("%-6s %-10s %9s %9s %9s %9s %12s %10s\n", "load", "arm", "offered", "ran",
                    "not run", "late", "goodput/s", "late/ran");
    }
    for (size_t i = 0; i < arms.size(); ++i) {
        const Arm& arm = arms[i];
        summary["arms"].push_back({{"load", arm.load},
                                   {"arm", arm.name},
                                   {"offered", arm.offered},
                                   {"ran", arm.ran},
                                   {"not_run", arm.not_run},
                                   {"finished_late", arm.finished_late},
                                   {"goodput_fps", arm.goodput()},
                                   {"late_fraction", arm.late_fraction()}});
        if (!json) {
            std::printf("%-6.1f %-10s %9llu %9llu %9llu %9llu %12.1f %9.2f%%\n", arm.load,
                        arm.name.c_str(), static_cast<unsigned long long>(arm.offered),
                        static_cast<unsigned long long>(arm.ran),
                        static_cast<unsigned long long>(arm.not_run),
                        static_cast<unsigned long long>(arm.finished_late), arm.goodput(),
                        100 * arm.late_fraction());
        }
        if (arm.admission && i > 0) {
            const double ratio = arms[i - 1].goodput() > 0
                                     ? arm.goodput() / arms[i - 1].goodput()
                                     : std::numeric_limits<double>::infinity();
            summary["goodput_ratio_at_" + std::to_string(static_cast<int>(arm.load * 10))] = ratio;
            if (!json) {
                std::printf("       goodput with admission / fifo at %.1fx load: %.2fx\n", arm.load,
                            ratio);
            }
        }
    }
    if (json) std::printf("%s\n", summary.dump(2).c_str());
    return 0;
}
