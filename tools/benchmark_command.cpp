// `corun benchmark MODEL...`: each model alone, then all together on one device group, with
// device-only FPS, full-pipeline FPS and latency percentiles (hailortcli benchmark), and a
// profile written from the figures (--profile OUT.json): its top level is the npu-sim timing
// profile from the solo figures; on the cpu device it adds the capacity model's "cpu" section
// (each model's slot time and time outside the slot, one frame in flight; the slowdown of
// concurrent slots; LLMs given as .gguf files: their prefill chunk and decode step).
#include <unistd.h>

#include <cstdio>
#include <fstream>
#include <iostream>
#include <map>

#include "cli_support.hpp"
#include "commands.hpp"
#include "devices/npu_sim/npu_timing_model.hpp"
#include "frame_pump.hpp"
#include "profile_measurement.hpp"
#include "router/capacity_profile.hpp"
#include "runtime/api_access.hpp"

namespace corun::tools {
namespace {

struct BenchmarkOptions {
    std::vector<std::string> models;
    double time_to_run = 3;
    CpuDeviceParams cpu;
    uint16_t batch_size = 0;
    std::vector<std::string> shapes;
    std::string device = "cpu";
    std::string sim_profile;
    bool timing_only = false;
    std::string profile_out;
    bool json = false;
};

struct PhaseFigures {
    uint64_t frames = 0;
    double seconds = 0;
    double fps = 0;         // full pipeline: frames completed per second
    double device_fps = 0;  // the device alone: 1000 / median device ms x frames run at once
    LatencySummary latency, device_latency, conversion;
    double device_share = 0;  // together: share of the device time all models used

    nlohmann::json to_json() const {
        return {{"frames", frames},
                {"seconds", seconds},
                {"fps", fps},
                {"device_fps", device_fps},
                {"latency", latency.to_json()},
                {"device_latency", device_latency.to_json()},
                {"conversion", conversion.to_json()},
                {"device_share", device_share}};
    }
};

PhaseFigures figures_of(const PumpResult& result, uint32_t parallel) {
    PhaseFigures figures;
    figures.frames = result.frames;
    figures.seconds = result.seconds;
    figures.fps = result.seconds > 0 ? result.frames / result.seconds : 0;
    figures.latency = LatencySummary::of(result.total);
    figures.device_latency = LatencySummary::of(result.device);
    figures.conversion = LatencySummary::of(result.conversion);
    // From the median, not the mean: one preempted frame on a busy host should not move it.
    figures.device_fps =
        figures.device_latency.p50 > 0 ? 1000.0 / figures.device_latency.p50 * parallel : 0;
    return figures;
}

void print_row(const std::string& label, const char* phase, const PhaseFigures& figures) {
    std::printf("  %-22s %-9s %8.1f %9.1f %9.2f %9.2f %9.2f %10.2f\n", label.c_str(), phase,
                figures.device_fps, figures.fps, figures.latency.p50, figures.latency.p95,
                figures.latency.p99, figures.device_latency.p50);
}

Status run(BenchmarkOptions options) {
    if (options.time_to_run <= 0) {
        return Status(StatusCode::INVALID_ARGUMENT, "--time-to-run must be more than 0 seconds");
    }
    if (options.device != "npu-sim" && (!options.sim_profile.empty() || options.timing_only)) {
        return Status(StatusCode::INVALID_ARGUMENT,
                      "--sim-profile and --timing-only are for --device npu-sim");
    }
    VDeviceParams params;
    params.group_id = "corun-benchmark";
    if (options.device == "npu-sim") {
        params.device_ids = {"npu-sim:0"};
        params.npu_sim.profile_path = options.sim_profile;
        params.npu_sim.compute_outputs = !options.timing_only;
    } else {
        params.device_ids = {"cpu:0"};
    }
    params.cpu = options.cpu;
    CORUN_TRY(auto vdevice, VDevice::create(params));
    const auto description = vdevice->physical_devices().front();
    // 0 slots: the cpu device picked them; the figures below name what it picked.
    const bool automatic_sharing =
        options.cpu.execution_slots == 0 && options.cpu.intra_op_threads == 0;
    if (options.cpu.execution_slots == 0) {
        options.cpu.execution_slots = runtime::execution_slots(*vdevice);
    }

    // LLMs (.gguf) are measured for the profile only: they have no frames to pump.
    std::vector<std::string> llm_paths;
    std::vector<std::unique_ptr<PreparedModel>> models;
    for (const auto& path : options.models) {
        if (path.size() > 5 && path.compare(path.size() - 5, 5, ".gguf") == 0) {
            if (options.device != "cpu" || options.profile_out.empty()) {
                return Status(StatusCode::INVALID_ARGUMENT,
                              path +
                                  ": an LLM is measured for a profile on the cpu device only "
                                  "(--device cpu --profile FILE)");
            }
            llm_paths.push_back(path);
            continue;
        }
        ModelSetup setup;
        setup.path = path;
        setup.batch_size = options.batch_size;
        setup.shapes = options.shapes;
        setup.skip_missing_inputs = true;
        auto prepared = prepare_model(*vdevice, setup);
        if (!prepared) return prepared.status().with_context(path);
        models.push_back(prepared.release());
    }
    auto parallel_of = [&](const PreparedModel& model) {
        return options.device == "cpu" ? std::min<uint32_t>(options.cpu.execution_slots,
                                                            static_cast<uint32_t>(model.queue_size))
                                       : 1u;
    };
    const bool live = !options.json && isatty(STDERR_FILENO);

    // Solo: each model alone, after a few frames to warm it up.
    std::vector<PhaseFigures> solo;
    for (auto& model : models) {
        if (live) {
            std::fprintf(stderr, "\r\033[K[benchmark] %s alone (%.0f s)...", model->name().c_str(),
                         options.time_to_run);
        }
        PumpOptions warmup;
        warmup.frames = 2 * model->queue_size;
        CORUN_TRY(auto ignored, pump_frames(*model->configured, model->slots, warmup));
        (void)ignored;
        PumpOptions pump;
        pump.seconds = options.time_to_run;
        auto result = pump_frames(*model->configured, model->slots, pump);
        if (!result) return result.status().with_context(model->path);
        solo.push_back(figures_of(*result, parallel_of(*model)));
        solo.back().device_share = 1;
    }

    // Together: every model at once, each keeping its queue full.
    std::vector<PhaseFigures> together;
    double normalised = 0;
    if (models.size() > 1) {
        if (live) {
            std::fprintf(stderr, "\r\033[K[benchmark] all %zu together (%.0f s)...", models.size(),
                         options.time_to_run);
        }
        std::map<uint64_t, int64_t> device_before;
        for (const auto& stats : vdevice->get_scheduler_stats())
            device_before[stats.model_id] = stats.device_time_ns;
        std::vector<PumpTask> tasks;
        for (auto& model : models) {
            PumpTask task;
            task.model = model.get();
            task.options.seconds = options.time_to_run;
            tasks.push_back(std::move(task));
        }
        auto results = pump_together(tasks);
        std::map<uint64_t, int64_t> device_used;
        int64_t device_total = 0;
        for (const auto& stats : vdevice->get_scheduler_stats()) {
            device_used[stats.model_id] = stats.device_time_ns - device_before[stats.model_id];
            device_total += device_used[stats.model_id];
        }
        for (size_t i = 0; i < models.size(); ++i) {
            if (!results[i]) return results[i].status().with_context(models[i]->path);
            together.push_back(figures_of(*results[i], parallel_of(*models[i])));
            const uint64_t id = models[i]->configured->scheduler_model_id();
            together.back().device_share =
                device_total > 0 ? static_cast<double>(device_used[id]) / device_total : 0;
            if (solo[i].fps > 0) normalised += together.back().fps / solo[i].fps;
        }
    }
    if (live) std::fprintf(stderr, "\r\033[K");

    // The profile: the npu-sim section from the solo figures, keyed by file stem (how npu-sim
    // finds a model); on the cpu device also the capacity model's cpu section.
    router::CapacityProfile capacity;
    if (!options.profile_out.empty() && options.device == "cpu") {
        if (live) std::fprintf(stderr, "\r\033[K[benchmark] measuring the cpu profile...");
        std::vector<PreparedModel*> measured;
        for (auto& model : models) measured.push_back(model.get());
        CORUN_TRY(capacity.devices[router::CPU_SECTION],
                  measure_cpu_section(*vdevice, measured, options.cpu, description.cores,
                                      options.time_to_run, automatic_sharing));
        for (const auto& path : llm_paths) {
            if (live) std::fprintf(stderr, "\r\033[K[benchmark] %s...", path.c_str());
            CORUN_TRY(capacity.devices[router::CPU_SECTION].generative[model_stem(path)],
                      measure_llm(*vdevice, path, 16, options.time_to_run), path);
        }
        if (live) std::fprintf(stderr, "\r\033[K");
    }
    if (!options.profile_out.empty() && !models.empty()) {
        devices::npu_sim::NpuTimingModel profile;
        // The npu-sim section simulates an NPU as fast as this device, with no switch cost.
        profile.context_switch = std::chrono::nanoseconds(0);
        for (size_t i = 0; i < models.size(); ++i) {
            devices::npu_sim::ModelTiming timing;
            auto micros = [](double milliseconds) {
                return std::chrono::nanoseconds(static_cast<int64_t>(milliseconds * 1e6));
            };
            timing.frame = micros(solo[i].device_latency.p50);
            if (timing.frame.count() <= 0) timing.frame = std::chrono::nanoseconds(1000);
            timing.burst_overhead = std::chrono::nanoseconds(0);
            // corun times pre- and post-processing conversion as one figure per frame.
            timing.host_pre = micros(solo[i].conversion.p50);
            timing.host_post = std::chrono::nanoseconds(0);
            timing.max_in_flight = static_cast<uint32_t>(models[i]->queue_size);
            profile.models[models[i]->name()] = timing;
        }
        router::DeviceProfile& npu = capacity.devices[router::NPU_SIM_SECTION];
        npu.context_switch = profile.context_switch;
        npu.models = profile.models;
    }
    if (!options.profile_out.empty()) {
        std::ofstream file(options.profile_out);
        file << router::capacity_profile_to_json(capacity) << "\n";
        if (!file) {
            return Status(StatusCode::FILE_OPERATION_FAILURE,
                          "cannot write the profile to '" + options.profile_out + "'");
        }
    }

    if (options.json) {
        nlohmann::json summary = {
            {"device", description.id},
            {"architecture", description.architecture},
            {"threads", description.threads},
            {"slots", options.device == "cpu" ? options.cpu.execution_slots : 1},
            {"time_to_run", options.time_to_run},
            {"models", nlohmann::json::array()}};
        for (size_t i = 0; i < models.size(); ++i) {
            nlohmann::json entry = {{"model", models[i]->path},
                                    {"name", models[i]->name()},
                                    {"batch_size", models[i]->model->batch_size()},
                                    {"queue_size", models[i]->queue_size},
                                    {"solo", solo[i].to_json()}};
            if (!together.empty()) entry["together"] = together[i].to_json();
            summary["models"].push_back(entry);
        }
        if (!together.empty()) summary["normalised_throughput"] = normalised;
        if (!options.profile_out.empty()) summary["profile"] = options.profile_out;
        if (auto cpu = capacity.devices.find(router::CPU_SECTION); cpu != capacity.devices.end()) {
            summary["interference"] = cpu->second.interference;
            summary["llms"] = nlohmann::json::array();
            for (const auto& [name, llm] : cpu->second.generative) {
                summary["llms"].push_back({{"name", name},
                                           {"prefill_chunk_tokens", llm.prefill_chunk_tokens},
                                           {"prefill_chunk_ms", llm.prefill_chunk.count() / 1e6},
                                           {"decode_step_ms", llm.decode_step.count() / 1e6}});
            }
        }
        std::cout << summary.dump(2) << "\n";
        return Status::ok();
    }
    const std::string sharing = options.device == "cpu"
                                    ? std::to_string(description.threads) + " threads, " +
                                          std::to_string(options.cpu.execution_slots) + " slot(s)"
                                    : "single context";
    std::printf("benchmark on %s (%s), %.1f s per phase\n", description.id.c_str(), sharing.c_str(),
                options.time_to_run);
    std::printf("  %-22s %-9s %8s %9s %9s %9s %9s %10s\n", "model", "phase", "HW FPS", "FPS",
                "p50 ms", "p95 ms", "p99 ms", "device p50");
    for (size_t i = 0; i < models.size(); ++i) print_row(models[i]->name(), "alone", solo[i]);
    for (size_t i = 0; i < together.size(); ++i) {
        print_row(models[i]->name(), "together", together[i]);
    }
    if (!together.empty()) {
        std::printf("  normalised combined throughput (sum of FPS together / FPS alone): %.3f\n",
                    normalised);
    }
    std::printf(
        "  (HW FPS: the device alone, from its median latency; FPS: the full pipeline; "
        "latency: run_async() to completion)\n");
    if (auto cpu = capacity.devices.find(router::CPU_SECTION); cpu != capacity.devices.end()) {
        std::printf("  cpu profile: slowdown with 1..%zu slots busy:",
                    cpu->second.interference.size());
        for (double factor : cpu->second.interference) std::printf(" %.2f", factor);
        std::printf("\n");
        for (const auto& [name, llm] : cpu->second.generative) {
            std::printf("  %s (LLM): prefill chunk of %u tokens %.1f ms, decode step %.1f ms\n",
                        name.c_str(), llm.prefill_chunk_tokens, llm.prefill_chunk.count() / 1e6,
                        llm.decode_step.count() / 1e6);
        }
    }
    if (!options.profile_out.empty()) {
        std::printf("  profile written to %s (%s)\n", options.profile_out.c_str(),
                    options.device == "cpu" ? "npu-sim timing at the top, capacity model's cpu "
                                              "section; `corun plan --profile` reads it"
                                            : "npu-sim timing");
    }
    return Status::ok();
}

}  // namespace

void add_benchmark_command(CLI::App& app) {
    static BenchmarkOptions options;
    auto* command = app.add_subcommand(
        "benchmark",
        "Measure models alone and together (device-only and full-pipeline FPS, latency) and "
        "write a profile for npu-sim and corun plan");
    command
        ->add_option("models", options.models,
                     "ONNX model files (and, for a cpu --profile, LLMs as .gguf files)")
        ->required();
    command->add_option("-t,--time-to-run", options.time_to_run,
                        "Seconds per phase (each model alone, then all together; default 3)");
    add_cpu_options(*command, options.cpu);
    command->add_option("--batch-size", options.batch_size, "Burst size (1..256; 0 = auto)");
    command->add_option("--shape", options.shapes,
                        "Fix dynamic input dims of every model with that input: NAME=D0,D1,...");
    command->add_option("--device", options.device, "Device kind: cpu or npu-sim")
        ->check(CLI::IsMember({"cpu", "npu-sim"}));
    command->add_option("--sim-profile", options.sim_profile,
                        "npu-sim: the timing profile to run with (default $CORUN_NPU_SIM_PROFILE)");
    command->add_flag("--timing-only", options.timing_only,
                      "npu-sim: zero-filled outputs instead of computing them on the CPU");
    command->add_option("--profile", options.profile_out,
                        "Write a profile (JSON): npu-sim timing from the solo figures, and on "
                        "the cpu device the capacity model's cpu section (corun plan)");
    command->add_flag("--json", options.json, "Print the results as JSON");
    command->callback([] {
        Status status = run(options);
        if (!status.is_ok()) throw CLI::RuntimeError(report_error(status));
    });
}

}  // namespace corun::tools
