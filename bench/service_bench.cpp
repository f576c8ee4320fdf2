// Issue 5's service benchmark, side by side in one run:
//   - per-inference latency of the service path (corund, multi_process_service = true) against
//     the in-process path, on a small model, synchronous run(), rotating rounds; the added p50
//     is the median over rounds of the difference of the round medians; through corund twice:
//     on the session's fast lane (the default) and on the Session stream (lane and lane ring
//     switched off); and one async frame waited for, in-process and through corund on the
//     lane ring and on the stream, with its added p50 computed the same way;
//   - total throughput of N client processes through corund, each running one of the models
//     with its queue full, and of one client process running them all through corund (their
//     async frames on the lane ring), against one process running the same models in-process.
// It starts its own corund on a socket in a temporary directory and stops it at the end.
//
//   service_bench CORUND CORUN SMALL_MODEL [MODEL...] [--rounds 7] [--iterations 200]
//                 [--seconds 4] [--json]
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include <nlohmann/json.hpp>

#include "child_process.hpp"

#include "corun/corun.hpp"

namespace {

using Clock = std::chrono::steady_clock;
using Json = nlohmann::json;

double median(std::vector<double> values) {
    if (values.empty()) return 0;
    std::sort(values.begin(), values.end());
    return values[values.size() / 2];
}

double microseconds_since(Clock::time_point start) {
    return std::chrono::duration<double, std::micro>(Clock::now() - start).count();
}

using corun::bench::spawn;
using corun::bench::wait_for;

// A configured model with one set of zero-filled buffers, run synchronously.
struct Runner {
    std::shared_ptr<corun::VDevice> vdevice;
    std::shared_ptr<corun::InferModel> model;
    std::optional<corun::ConfiguredInferModel> configured;
    std::optional<corun::ConfiguredInferModel::Bindings> bindings;
    std::vector<std::vector<uint8_t>> buffers;

    static corun::Expected<std::unique_ptr<Runner>> create(const corun::VDeviceParams& params,
                                                           const std::string& path) {
        auto runner = std::make_unique<Runner>();
        CORUN_TRY(runner->vdevice, corun::VDevice::create(params));
        CORUN_TRY(runner->model, runner->vdevice->create_infer_model(path));
        CORUN_TRY(auto configured, runner->model->configure());
        runner->configured.emplace(std::move(configured));
        CORUN_TRY(auto bindings, runner->configured->create_bindings());
        runner->bindings.emplace(std::move(bindings));
        for (const auto& stream : runner->model->inputs()) {
            runner->buffers.emplace_back(stream.get_frame_size(), 1);
            CORUN_TRY(auto bound, runner->bindings->input(stream.name()));
            CORUN_RETURN_IF_ERROR(bound.set_buffer(corun::MemoryView::of(runner->buffers.back())));
        }
        for (const auto& stream : runner->model->outputs()) {
            runner->buffers.emplace_back(stream.get_frame_size(), 0);
            CORUN_TRY(auto bound, runner->bindings->output(stream.name()));
            CORUN_RETURN_IF_ERROR(bound.set_buffer(corun::MemoryView::of(runner->buffers.back())));
        }
        return runner;
    }
    corun::Status run() { return configured->run(*bindings, std::chrono::seconds(10)); }
    // One frame through run_async, waited for: through corund it takes the lane ring.
    corun::Status run_async_and_wait() {
        auto job = configured->run_async({*bindings});
        if (!job) return job.status();
        return job->wait(std::chrono::seconds(10));
    }
};

struct Options {
    std::string corund, corun, small_model;
    std::vector<std::string> models;
    int rounds = 7, iterations = 200;
    double seconds = 4;
    bool json = false;
};

}  // namespace

int main(int argc, char** argv) {
    Options options;
    std::vector<std::string> positional;
    for (int i = 1; i < argc; ++i) {
        const std::string arg = argv[i];
        auto next = [&]() -> std::string { return i + 1 < argc ? argv[++i] : ""; };
        if (arg == "--rounds") {
            options.rounds = std::max(1, std::atoi(next().c_str()));
        } else if (arg == "--iterations") {
            options.iterations = std::max(1, std::atoi(next().c_str()));
        } else if (arg == "--seconds") {
            options.seconds = std::atof(next().c_str());
        } else if (arg == "--json") {
            options.json = true;
        } else {
            positional.push_back(arg);
        }
    }
    if (positional.size() < 3 || options.seconds <= 0) {
        std::cerr << "usage: service_bench CORUND CORUN SMALL_MODEL [MODEL...] [--rounds 7] "
                     "[--iterations 200] [--seconds 4] [--json]\n";
        return 2;
    }
    options.corund = positional[0];
    options.corun = positional[1];
    options.small_model = positional[2];
    options.models.assign(positional.begin() + 3, positional.end());
    FILE* text = options.json ? stderr : stdout;

    const auto directory = std::filesystem::temp_directory_path() /
                           ("corun-service-bench-" + std::to_string(getpid()));
    std::filesystem::create_directories(directory);
    const std::string socket = (directory / "corund.sock").string();
    const pid_t daemon = spawn({options.corund, "--socket", socket, "--log-level", "warn"});
    Json report;
    int exit_code = 0;
    {
        corun::VDeviceParams in_process;
        in_process.group_id = "bench-in-process";
        corun::VDeviceParams service;
        service.group_id = "bench-service";
        service.multi_process_service = true;
        service.service_socket = socket;
        // Wait for the daemon to answer (bounded). The first client through corund uses the
        // fast lane for its synchronous frames; the second (another group, so another
        // connection) is made with the lane switched off, so that every frame takes the stream.
        std::unique_ptr<Runner> lane;
        for (int attempt = 0; attempt < 150 && !lane; ++attempt) {
            auto created = Runner::create(service, options.small_model);
            if (created) {
                lane = std::move(*created);
            } else {
                std::this_thread::sleep_for(std::chrono::milliseconds(100));
            }
        }
        corun::VDeviceParams stream_service = service;
        stream_service.group_id = "bench-service-stream";
        setenv("CORUN_SERVICE_FAST_LANE", "0", 1);
        auto stream = Runner::create(stream_service, options.small_model);
        unsetenv("CORUN_SERVICE_FAST_LANE");
        auto local = Runner::create(in_process, options.small_model);
        if (!lane || !stream || !local) {
            std::cerr << "service_bench: could not set up: "
                      << (!lane     ? "corund did not answer on " + socket
                          : !stream ? stream.status().to_string()
                                    : local.status().to_string())
                      << "\n";
            kill(daemon, SIGTERM);
            wait_for(daemon);
            return 1;
        }
        // Legs: sync run() in-process, through corund on the fast lane, through corund on the
        // stream; then one async frame waited for, in-process and through corund (on the lane
        // ring); each round starts with another leg.
        struct Leg {
            Runner* runner;
            bool async;
            corun::Status run() { return async ? runner->run_async_and_wait() : runner->run(); }
        };
        std::vector<Leg> legs = {{local->get(), false}, {lane.get(), false}, {stream->get(), false},
                                 {local->get(), true},  {lane.get(), true},  {stream->get(), true}};
        for (int i = 0; i < 20; ++i) {
            for (Leg& leg : legs) leg.run().ignore();
        }
        std::vector<std::vector<double>> all(legs.size());
        std::vector<double> added_lane, added_stream, added_ring, added_stream_async;
        for (int round = 0; round < options.rounds; ++round) {
            std::vector<std::vector<double>> samples(legs.size());
            for (size_t turn = 0; turn < legs.size(); ++turn) {
                const size_t leg = (turn + static_cast<size_t>(round)) % legs.size();
                for (int i = 0; i < options.iterations; ++i) {
                    const auto start = Clock::now();
                    corun::Status status = legs[leg].run();
                    samples[leg].push_back(microseconds_since(start));
                    if (!status.is_ok()) {
                        std::cerr << "service_bench: " << status << "\n";
                        exit_code = 1;
                        break;
                    }
                }
            }
            added_lane.push_back(median(samples[1]) - median(samples[0]));
            added_stream.push_back(median(samples[2]) - median(samples[0]));
            added_ring.push_back(median(samples[4]) - median(samples[3]));
            added_stream_async.push_back(median(samples[5]) - median(samples[3]));
            for (size_t leg = 0; leg < legs.size(); ++leg) {
                all[leg].insert(all[leg].end(), samples[leg].begin(), samples[leg].end());
            }
        }
        const double local_p50 = median(all[0]), lane_p50 = median(all[1]),
                     stream_p50 = median(all[2]), local_async_p50 = median(all[3]),
                     ring_p50 = median(all[4]), stream_async_p50 = median(all[5]);
        std::fprintf(text,
                     "latency, %s, sync run(): in-process p50 %.1f us; through corund on the "
                     "fast lane p50 %.1f us, added p50 %+.1f us (target <= 50 us); on the "
                     "Session stream p50 %.1f us, added p50 %+.1f us\n",
                     std::filesystem::path(options.small_model).filename().c_str(), local_p50,
                     lane_p50, median(added_lane), stream_p50, median(added_stream));
        std::fprintf(text,
                     "latency, %s, one async frame waited for: in-process p50 %.1f us; through "
                     "corund on the lane ring p50 %.1f us, added p50 %+.1f us; on the Session "
                     "stream p50 %.1f us, added p50 %+.1f us\n",
                     std::filesystem::path(options.small_model).filename().c_str(), local_async_p50,
                     ring_p50, median(added_ring), stream_async_p50, median(added_stream_async));
        report["latency"] = {{"model", options.small_model},
                             {"in_process_p50_us", local_p50},
                             {"service_p50_us", lane_p50},
                             {"added_p50_us", median(added_lane)},
                             {"stream_p50_us", stream_p50},
                             {"stream_added_p50_us", median(added_stream)},
                             {"in_process_async_p50_us", local_async_p50},
                             {"ring_async_p50_us", ring_p50},
                             {"ring_added_p50_us", median(added_ring)},
                             {"stream_async_p50_us", stream_async_p50},
                             {"stream_async_added_p50_us", median(added_stream_async)},
                             {"rounds", options.rounds},
                             {"iterations", options.iterations}};
    }

    if (!options.models.empty()) {
        const std::string seconds = std::to_string(options.seconds);
        // One run2 process with every model: in-process, then through corund (one connection
        // carrying all the models' frames).
        auto run2_total_fps = [&](bool through_corund, const std::string& name) {
            std::vector<std::string> args = {options.corun, "run2", "-t", seconds, "--json"};
            if (through_corund) {
                args.insert(args.end(), {"--multi-process-service", "--service-socket", socket});
            }
            for (const auto& model : options.models) {
                args.push_back("set-net");
                args.push_back(model);
            }
            const std::string out = (directory / (name + ".json")).string();
            wait_for(spawn(args, out));
            double fps = 0;
            try {
                Json summary = Json::parse(std::ifstream(out));
                for (const auto& model : summary["models"]) fps += model["fps"].get<double>();
            } catch (const std::exception& error) {
                std::cerr << "service_bench: run2 (" << name
                          << ") gave no summary: " << error.what() << "\n";
                exit_code = 1;
            }
            return fps;
        };
        const double one_process_fps = run2_total_fps(false, "one-process");
        const double one_client_fps = run2_total_fps(true, "one-client");
        // One process per model, all through corund.
        std::vector<pid_t> clients;
        for (size_t i = 0; i < options.models.size(); ++i) {
            clients.push_back(
                spawn({options.corun, "run", options.models[i], "--multi-process-service",
                       "--service-socket", socket, "-t", seconds, "--json"},
                      (directory / ("client-" + std::to_string(i) + ".json")).string()));
        }
        double service_fps = 0;
        for (size_t i = 0; i < clients.size(); ++i) {
            wait_for(clients[i]);
            try {
                Json summary = Json::parse(
                    std::ifstream(directory / ("client-" + std::to_string(i) + ".json")));
                service_fps += summary["fps"].get<double>();
            } catch (const std::exception& error) {
                std::cerr << "service_bench: client " << i << " gave no summary: " << error.what()
                          << "\n";
                exit_code = 1;
            }
        }
        auto ratio = [&](double fps) { return one_process_fps > 0 ? fps / one_process_fps : 0; };
        std::fprintf(text,
                     "throughput, %zu models: one process in-process %.1f FPS in total; %zu "
                     "client processes through corund %.1f FPS (ratio %.3f); one client process "
                     "with every model through corund %.1f FPS (ratio %.3f); target: both "
                     "ratios >= 0.95\n",
                     options.models.size(), one_process_fps, clients.size(), service_fps,
                     ratio(service_fps), one_client_fps, ratio(one_client_fps));
        report["throughput"] = {{"models", options.models},
                                {"one_process_fps", one_process_fps},
                                {"client_processes_fps", service_fps},
                                {"ratio", ratio(service_fps)},
                                {"one_client_process_fps", one_client_fps},
                                {"one_client_process_ratio", ratio(one_client_fps)}};
    }
    kill(daemon, SIGTERM);
    wait_for(daemon);
    std::filesystem::remove_all(directory);
    if (options.json) std::cout << report.dump(2) << "\n";
    return exit_code;
}
