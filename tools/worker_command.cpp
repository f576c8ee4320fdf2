// `corun worker --cluster URL`: one node of a cluster batch. It takes work items from the shared
// queue, runs them on this machine's corun (in-process, or in corund with
// --multi-process-service) and publishes their results (docs/CLUSTER.md).
#include <signal.h>
#include <unistd.h>

#include <CLI/CLI.hpp>

#include <atomic>
#include <filesystem>
#include <iostream>

#include "cli_support.hpp"
#include "cluster/batch_task.hpp"
#include "cluster/cluster_worker.hpp"
#include "cluster_options.hpp"
#include "commands.hpp"

namespace corun::tools {
namespace {

struct WorkerCommandOptions {
    ClusterConnectOptions connect;
    cluster::WorkerOptions worker;
    std::string models;
    std::string device = "cpu";
    std::string npu_sim_profile;
    double npu_sim_speed = 1.0;
    double npu_sim_frame_ms = 10.0;
    bool timing_only = false;
    double exit_when_idle_s = 0.0;
    bool json = false;
    ServiceOptions service;
};

// The simulated NPU's profile when none is given: every model of the tasks takes
// `frame_ms / speed` of device time per frame, so a node's throughput is its simulated device's
// (the scaling benchmark gives nodes of unequal speed this way).
std::string default_npu_profile(const std::string& models, double frame_ms, double speed) {
    nlohmann::json entries = nlohmann::json::object();
    for (const auto& name : cluster::batch_task_names()) {
        auto definition = cluster::define_batch_task(name, models);
        if (!definition.has_value()) continue;
        for (const auto& file : definition->model_files) {
            const std::filesystem::path path(file);
            if (path.extension() != ".onnx") continue;
            entries[path.stem().string()] = {{"frame_us", frame_ms * 1000.0 / speed},
                                             {"max_in_flight", 4}};
        }
    }
    return nlohmann::json{{"device", {{"context_switch_us", 0}}}, {"models", entries}}.dump();
}

Status run_worker_command(WorkerCommandOptions& options) {
    CORUN_TRY(options.worker.nats, nats_connect_options(options.connect));
    options.worker.models = model_cache_dir(options.models);
    options.worker.exit_when_idle_ms = static_cast<int64_t>(options.exit_when_idle_s * 1000.0);
    apply_service_options(options.service, options.worker.vdevice);
    if (options.device == "npu-sim") {
        options.worker.vdevice.device_ids = {"npu-sim:0"};
        options.worker.vdevice.npu_sim.compute_outputs = !options.timing_only;
        if (!options.npu_sim_profile.empty()) {
            options.worker.vdevice.npu_sim.profile_path = options.npu_sim_profile;
        } else {
            options.worker.vdevice.npu_sim.profile_json = default_npu_profile(
                options.worker.models, options.npu_sim_frame_ms, options.npu_sim_speed);
        }
    } else if (options.timing_only || options.npu_sim_speed != 1.0 ||
               !options.npu_sim_profile.empty()) {
        return Status(StatusCode::INVALID_ARGUMENT,
                      "--timing-only, --npu-sim-speed and --npu-sim-profile are for --device "
                      "npu-sim");
    }
    stop_on_signals();
    CORUN_TRY(const auto summary, cluster::run_worker(options.worker, stop_requested));
    if (options.json) {
        std::cout << summary.to_json().dump(2) << "\n";
    } else {
        std::cout << "worker: " << summary.done << " items done (" << summary.errors
                  << " with errors, " << summary.refused << " refused), " << summary.requeued
                  << " handed back\n";
    }
    return Status::ok();
}

}  // namespace

void add_worker_command(CLI::App& app) {
    auto* command = app.add_subcommand(
        "worker",
        "Run the work items of cluster batches (`corun batch --cluster`) on this machine");
    auto options = std::make_shared<WorkerCommandOptions>();
    add_cluster_connect_options(*command, options->connect, true);
    command->add_option("--name", options->worker.name,
                        "This node's name in `corun cluster status` (default: the host name)");
    command->add_option("--allowed-root", options->worker.allowed_roots,
                        "Folder whose files by-path items may name (repeatable; default: none, "
                        "only items carrying their bytes)");
    command->add_option("--device", options->device, "Device kind: cpu or npu-sim")
        ->check(CLI::IsMember({"cpu", "npu-sim"}));
    command->add_option("--npu-sim-profile", options->npu_sim_profile,
                        "npu-sim timing profile (default: every task model takes "
                        "--npu-sim-frame-ms / --npu-sim-speed per frame)");
    command
        ->add_option("--npu-sim-speed", options->npu_sim_speed,
                     "Speed of the simulated device relative to the default (2 = twice as "
                     "fast)")
        ->check(CLI::Range(0.01, 1000.0));
    command
        ->add_option("--npu-sim-frame-ms", options->npu_sim_frame_ms,
                     "Device time per frame of the default npu-sim profile (default 10)")
        ->check(CLI::Range(0.01, 10000.0));
    command->add_flag("--timing-only", options->timing_only,
                      "npu-sim: zero-filled outputs instead of computing them on the CPU");
    command
        ->add_option("--lanes", options->worker.lanes,
                     "Items run at once, each lane with its own models (default 1)")
        ->check(CLI::Range(1, 64));
    command
        ->add_option("--prefetch", options->worker.prefetch,
                     "Items a lane fetches at once (default 1: the fairest work stealing)")
        ->check(CLI::Range(1, 256));
    command
        ->add_option("--max-deliveries", options->worker.max_deliveries,
                     "Record an item given out more often than this without a result (its "
                     "workers died holding it) as 'abandoned' instead of running it again "
                     "(default 10; 0 = never give up)")
        ->check(CLI::Range(0, 1000000));
    command->add_option("--exit-when-idle", options->exit_when_idle_s,
                        "Exit after this many seconds without an item (default: run until "
                        "SIGTERM)");
    command->add_option("--models", options->models,
                        "Folder filled by scripts/fetch_models.sh (default: $CORUN_CACHE_DIR, "
                        "else the checkout's .cache)");
    command->add_flag("--json", options->json, "Print the final counts as JSON");
    add_service_options(*command, options->service);
    command->callback([options] {
        const Status status = run_worker_command(*options);
        if (!status.is_ok()) throw CLI::RuntimeError(report_error(status));
    });
}

}  // namespace corun::tools
