// What routing costs per frame on the cpu device, side by side in one process, in alternating
// rounds whose order rotates: a ConfiguredInferModel's own run() ("direct"), a RoutedModel with
// the cpu as its only placement ("routed"), and a RoutedModel whose first placement, an npu-sim
// with its queue full (held by NpuSimFaultInjection, the test double), refuses every frame so
// that each one falls back to the cpu ("fallback"); the same three with run_async + wait.
// "added" is the median over rounds of (mode's round median - direct's round median); "direct,
// again" (the baseline measured a second time) shows the run's noise floor.
//
//   router_bench MODEL [MODEL...] [--rounds 9] [--iterations 200] [--json]
#include <spdlog/spdlog.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <iostream>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "corun/corun.hpp"
#include "corun/routed_model.hpp"
#include "devices/npu_sim/npu_sim_fault_injection.hpp"

namespace {

using Clock = std::chrono::steady_clock;
using corun::devices::npu_sim::test_double::NpuSimFaultInjection;

double median(std::vector<double> values) {
    if (values.empty()) return 0;
    std::sort(values.begin(), values.end());
    const size_t middle = values.size() / 2;
    return values.size() % 2 ? values[middle] : (values[middle - 1] + values[middle]) / 2;
}

[[noreturn]] void fail(const std::string& what, const corun::Status& status) {
    std::cerr << "router_bench: " << what << ": " << status << "\n";
    std::exit(1);
}

template <typename T>
T take(corun::Expected<T> expected, const std::string& what) {
    if (!expected.has_value()) fail(what, expected.status());
    return expected.release();
}

void check(const corun::Status& status, const std::string& what) {
    if (!status.is_ok()) fail(what, status);
}

// Buffers of one frame, bound for the direct model and for a routed one alike.
struct FrameBuffers {
    std::map<std::string, std::vector<uint8_t>> bytes;
    std::map<std::string, corun::MemoryView> views;
};

FrameBuffers buffers_for(corun::InferModel& model) {
    FrameBuffers frame;
    auto add = [&](const corun::InferModel::InferStream& stream) {
        auto& bytes = frame.bytes[stream.name()];
        bytes.resize(stream.get_frame_size());
        for (size_t i = 0; i < bytes.size(); ++i) bytes[i] = static_cast<uint8_t>(i % 7);
        frame.views[stream.name()] = corun::MemoryView::of(bytes);
    };
    for (const auto& stream : model.inputs()) add(stream);
    for (const auto& stream : model.outputs()) add(stream);
    return frame;
}

struct Mode {
    std::string name;
    std::function<void()> run_one;
    std::vector<double> round_medians_us;
};

nlohmann::json bench_model(const std::string& path, int rounds, int iterations) {
    const std::string stem = std::filesystem::path(path).stem().string();
    const std::string profile = "/tmp/corun-router-bench-" + std::to_string(getpid()) + ".json";
    std::ofstream(profile) << R"({"device": {"context_switch_us": 0}, "models": {")" << stem
                           << R"(": {"frame_us": 1000}}})";
    corun::VDeviceParams cpu_params;
    cpu_params.device_ids = {"cpu:0"};
    cpu_params.group_id = "router-bench-cpu";
    auto cpu = take(corun::VDevice::create_shared(cpu_params), "cpu VDevice");
    corun::VDeviceParams npu_params;
    npu_params.device_ids = {"npu-sim:0"};
    npu_params.group_id = "router-bench-npu";
    npu_params.npu_sim.profile_path = profile;
    auto npu = take(corun::VDevice::create_shared(npu_params), "npu-sim VDevice");

    auto model = take(cpu->create_infer_model(path), "loading " + path);
    auto configured = take(model->configure(), "configuring " + path);
    FrameBuffers frame = buffers_for(*model);
    auto direct_bindings = take(configured.create_bindings(frame.views), "bindings");

    corun::RoutedModelParams cpu_only;
    cpu_only.placements = {{"cpu", cpu}};
    auto routed = take(corun::RoutedModel::create(path, cpu_only), "routed model");
    auto routed_bindings = take(routed->create_bindings(frame.views), "routed bindings");
    corun::RoutedModelParams npu_then_cpu;
    npu_then_cpu.placements = {{"npu", npu}, {"cpu", cpu}};
    auto fallback = take(corun::RoutedModel::create(path, npu_then_cpu), "fallback model");
    auto fallback_bindings = take(fallback->create_bindings(frame.views), "fallback bindings");

    // The npu-sim placement, stalled with one frame running and one queued: its queue is full
    // for the whole bench, so it refuses every frame (QUEUE_IS_FULL).
    NpuSimFaultInjection::stall_bursts("router-bench-npu");
    std::vector<corun::RoutedInferJob> held;
    for (int i = 0; i < 2; ++i) {
        held.push_back(take(fallback->run_async(fallback_bindings), "filling the npu queue"));
    }

    const auto forever = corun::INFINITE_TIMEOUT;
    std::vector<Mode> modes;
    modes.push_back(
        {"direct run", [&] { check(configured.run(direct_bindings, forever), "run"); }, {}});
    // The noise floor of the run: the baseline measured again, as every other mode is.
    modes.push_back({"direct run, again", modes[0].run_one, {}});
    modes.push_back({"routed run",
                     [&] { check(routed->run(routed_bindings, forever).status(), "routed run"); },
                     {}});
    modes.push_back({"fallback run",
                     [&] {
                         auto info =
                             take(fallback->run(fallback_bindings, forever), "fallback run");
                         if (info.attempts != 2)
                             fail("fallback run", corun::Status(corun::StatusCode::INTERNAL_FAILURE,
                                                                "the npu placement took a frame"));
                     },
                     {}});
    modes.push_back({"direct run_async",
                     [&] {
                         auto job = take(configured.run_async(direct_bindings), "run_async");
                         check(job.wait(forever), "wait");
                     },
                     {}});
    modes.push_back({"direct run_async, again", modes.back().run_one, {}});
    modes.push_back({"routed run_async",
                     [&] {
                         auto job = take(routed->run_async(routed_bindings), "routed run_async");
                         check(job.wait(forever), "routed wait");
                     },
                     {}});
    modes.push_back({"fallback run_async",
                     [&] {
                         auto job =
                             take(fallback->run_async(fallback_bindings), "fallback run_async");
                         check(job.wait(forever), "fallback wait");
                     },
                     {}});

    for (auto& mode : modes) {
        for (int i = 0; i < 20; ++i) mode.run_one();  // warm-up
    }
    for (int round = 0; round < rounds; ++round) {
        for (size_t m = 0; m < modes.size(); ++m) {
            Mode& mode = modes[(m + round) % modes.size()];
            std::vector<double> times;
            for (int i = 0; i < iterations; ++i) {
                const auto start = Clock::now();
                mode.run_one();
                times.push_back(
                    std::chrono::duration<double, std::micro>(Clock::now() - start).count());
            }
            mode.round_medians_us.push_back(median(times));
        }
    }
    NpuSimFaultInjection::clear("router-bench-npu");
    for (auto& job : held) check(job.wait(forever), "the held frames");
    unlink(profile.c_str());

    nlohmann::json result = {{"model", stem}, {"rounds", rounds}, {"iterations", iterations}};
    for (const auto& mode : modes) {
        const Mode& baseline =
            mode.name.find("run_async") == std::string::npos ? modes[0] : modes[4];
        std::vector<double> added;
        for (size_t r = 0; r < mode.round_medians_us.size(); ++r) {
            added.push_back(mode.round_medians_us[r] - baseline.round_medians_us[r]);
        }
        result["modes"].push_back({{"mode", mode.name},
                                   {"p50_us", median(mode.round_medians_us)},
                                   {"added_us", median(added)},
                                   {"against", baseline.name}});
    }
    const auto stats = fallback->get_stats();
    result["fallback_npu_queue_full"] =
        stats.placements[0].rejections.at(corun::StatusCode::QUEUE_IS_FULL);
    result["fallback_cpu_frames"] = stats.placements[1].frames_run;
    return result;
}

}  // namespace

int main(int argc, char** argv) {
    std::vector<std::string> models;
    int rounds = 9;
    int iterations = 200;
    bool json = false;
    for (int i = 1; i < argc; ++i) {
        const std::string arg = argv[i];
        if (arg == "--rounds" && i + 1 < argc) {
            rounds = std::stoi(argv[++i]);
        } else if (arg == "--iterations" && i + 1 < argc) {
            iterations = std::stoi(argv[++i]);
        } else if (arg == "--json") {
            json = true;
        } else if (arg.rfind("--", 0) == 0) {
            std::cerr << "usage: router_bench MODEL [MODEL...] [--rounds 9] [--iterations 200] "
                         "[--json]\n";
            return 2;
        } else {
            models.push_back(arg);
        }
    }
    if (models.empty() || rounds < 1 || iterations < 1) {
        std::cerr << "usage: router_bench MODEL [MODEL...] [--rounds 9] [--iterations 200] "
                     "[--json]\n";
        return 2;
    }
    spdlog::set_level(spdlog::level::warn);  // one fallback line per second is not the figure
    nlohmann::json results = nlohmann::json::array();
    for (const auto& model : models) results.push_back(bench_model(model, rounds, iterations));
    if (json) {
        std::cout << results.dump(2) << "\n";
        return 0;
    }
    std::printf("%-40s %-20s %10s %10s  %s\n", "model", "mode", "p50 us", "added us", "against");
    for (const auto& result : results) {
        for (const auto& mode : result["modes"]) {
            std::printf("%-40s %-20s %10.1f %+10.1f  %s\n",
                        result["model"].get<std::string>().c_str(),
                        mode["mode"].get<std::string>().c_str(), mode["p50_us"].get<double>(),
                        mode["added_us"].get<double>(), mode["against"].get<std::string>().c_str());
        }
    }
    return 0;
}
