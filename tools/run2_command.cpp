// `corun run2 [OPTIONS] set-net MODEL [NET OPTIONS] set-net MODEL ...`: several models at once
// on one device group, so they share its model scheduler (hailortcli run2). Each model is driven
// by its own thread that keeps its async queue full, or sends frames at --framerate. Prints a
// live line per model once a second (when stderr is a terminal) and a summary per model:
// frames, FPS, latency p50/p95/p99, share of device time and switches.
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <iostream>
#include <map>
#include <sstream>

#include <atomic>
#include <thread>

#include "cli_support.hpp"
#include "commands.hpp"
#include "corun/genai/llm.hpp"
#include "frame_pump.hpp"
#include "net_groups.hpp"
#include "routed_pump.hpp"
#include "runtime/api_access.hpp"
#include "runtime/monitor/group_recording.hpp"

namespace corun::tools {
namespace {

struct Run2Options {
    std::string device = "cpu";
    std::string profile;
    bool timing_only = false;
    double time_to_run = 5;
    CpuDeviceParams cpu;
    std::string fairness = "device-time";
    int64_t aging_step_ms = 250;
    int64_t anticipation_us = 250;
    bool json = false;
    std::string trace_path;         // --trace: a Chrome trace of the run
    uint64_t trace_max_events = 0;  // 0 = the recorder's default
    ServiceOptions service;
    std::vector<NetOptions> nets;
    std::vector<LlmOptions> llms;
};

// The options that apply to the whole run. They may also follow the set-net groups.
void add_run2_options(CLI::App& app, Run2Options& options) {
    app.add_option("--device", options.device, "Device kind: cpu or npu-sim")
        ->check(CLI::IsMember({"cpu", "npu-sim"}));
    app.add_option("--profile", options.profile,
                   "npu-sim timing profile (JSON; `corun benchmark --profile` writes one; default "
                   "$CORUN_NPU_SIM_PROFILE)");
    app.add_flag("--timing-only", options.timing_only,
                 "npu-sim: zero-filled outputs instead of computing them on the CPU");
    app.add_option("-t,--time-to-run", options.time_to_run, "Seconds to run (default 5)");
    add_cpu_options(app, options.cpu);
    app.add_option("--fairness", options.fairness,
                   "Among ready models of one priority: device-time (least device time used "
                   "runs next) or frames (round robin by turns, as HailoRT)")
        ->check(CLI::IsMember({"device-time", "frames"}));
    app.add_option("--aging-step", options.aging_step_ms,
                   "Milliseconds of waiting that raise a model one priority level (0 = strict "
                   "priority)")
        ->check(CLI::Range(int64_t{0}, int64_t{3600000}));
    app.add_option("--anticipation-us", options.anticipation_us,
                   "Microseconds a freed slot waits for the next frame of a client sending from "
                   "its completions (0 = decide at once; docs/SCHEDULER.md)")
        ->check(CLI::Range(int64_t{0}, int64_t{MAX_ANTICIPATION.count()}));
    app.add_flag("--json", options.json, "Print the summary as JSON");
    app.add_option("--trace", options.trace_path,
                   "Write a Chrome trace of the run to this file (open it in ui.perfetto.dev or "
                   "chrome://tracing; docs/TRACING.md)");
    app.add_option("--trace-max-events", options.trace_max_events,
                   "Events the trace keeps (default 1000000); past it they are counted as "
                   "dropped in its otherData");
    add_service_options(app, options.service);
}

// Splits the words after run2's own options into set-net and set-llm groups and parses each.
Status parse_nets(const std::vector<std::string>& words, Run2Options& options) {
    NetGroups groups;
    CORUN_RETURN_IF_ERROR(parse_net_groups(words, "run2", NetSyntax::RUN, groups,
                                           [&](CLI::App& app) { add_run2_options(app, options); }));
    options.nets = std::move(groups.nets);
    options.llms = std::move(groups.llms);
    return Status::ok();
}

Status validate(const Run2Options& options) {
    if (options.time_to_run <= 0) {
        return Status(
            StatusCode::INVALID_ARGUMENT,
            "--time-to-run must be more than 0 seconds, got " + number_text(options.time_to_run));
    }
    const bool routed_to_npu_sim = std::any_of(
        options.nets.begin(), options.nets.end(),
        [](const NetOptions& net) { return net.placements.find("npu-sim") != std::string::npos; });
    if (options.device != "npu-sim" && !routed_to_npu_sim &&
        (!options.profile.empty() || options.timing_only)) {
        return Status(StatusCode::INVALID_ARGUMENT,
                      "--profile and --timing-only are for --device npu-sim (or a set-net "
                      "--placements naming npu-sim)");
    }
    if (!options.trace_path.empty() &&
        (options.service.multi_process_service || !options.service.socket.empty())) {
        return Status(StatusCode::INVALID_ARGUMENT,
                      "--trace records a run in this process; through corund, record the "
                      "daemon with `corun trace --socket PATH --seconds N --output FILE`");
    }
    if (options.trace_max_events > scheduler::MAX_RECORDING_EVENTS) {
        return Status(StatusCode::INVALID_ARGUMENT,
                      "--trace-max-events must be at most " +
                          std::to_string(scheduler::MAX_RECORDING_EVENTS));
    }
    return check_net_options(options.nets);
}

struct NetRun {
    std::unique_ptr<PreparedModel> prepared;      // a plain set-net
    std::unique_ptr<PreparedRoutedModel> routed;  // set-net --placements
    std::string label;                            // "#2 nanodet"
};

// The VDevices of a run: the run's own (--device) and one per other device a set-net's
// --placements names, each created once, with the run's parameters.
class RunDevices {
public:
    RunDevices(VDeviceParams params, std::shared_ptr<VDevice> main) : params_(std::move(params)) {
        by_id_[params_.device_ids.front()] = std::move(main);
    }
    Expected<std::shared_ptr<VDevice>> get(const std::string& device_id) {
        if (auto found = by_id_.find(device_id); found != by_id_.end()) return found->second;
        VDeviceParams params = params_;
        params.device_ids = {device_id};
        params.group_id = "corun-run2-" + device_id;
        CORUN_TRY(auto vdevice, VDevice::create_shared(params));
        by_id_[device_id] = vdevice;
        return vdevice;
    }
    std::vector<std::shared_ptr<VDevice>> all() const {
        std::vector<std::shared_ptr<VDevice>> devices;
        for (const auto& [id, vdevice] : by_id_) devices.push_back(vdevice);
        return devices;
    }

private:
    VDeviceParams params_;
    std::map<std::string, std::shared_ptr<VDevice>> by_id_;
};

// set-net --placements: a routed model over the run's devices.
Expected<std::unique_ptr<PreparedRoutedModel>> prepare_routed(const NetOptions& net,
                                                              RunDevices& devices) {
    if (net.threshold > 0 || net.timeout_ms > 0) {
        return Status(StatusCode::NOT_SUPPORTED,
                      "--scheduler-threshold and --scheduler-timeout are not supported with "
                      "--placements (a routed model takes a priority and an SLO); drop them");
    }
    CORUN_TRY(const auto ids, parse_placement_list(net.placements));
    RoutedModelParams params;
    for (const auto& id : ids) {
        CORUN_TRY(auto vdevice, devices.get(id));
        params.placements.push_back(Placement{id, vdevice});
    }
    params.scheduler_priority = net.priority;
    params.latency_slo = std::chrono::milliseconds(static_cast<int64_t>(net.slo_ms + 0.5));
    ModelSetup setup;
    setup.path = net.path;
    setup.batch_size = net.batch_size;
    setup.shapes = net.shapes;
    return PreparedRoutedModel::create(setup, std::move(params));
}

void print_live(const std::vector<NetRun>& nets, const std::vector<PumpProgress>& progress,
                bool first) {
    if (!first) std::fprintf(stderr, "\033[%zuA", nets.size());
    for (size_t i = 0; i < nets.size(); ++i) {
        std::fprintf(
            stderr, "\r\033[K[run2] %-24s %8llu frames  %7.1f FPS  p50 %8.2f ms  (%.0f s)\n",
            nets[i].label.c_str(), static_cast<unsigned long long>(progress[i].frames_done),
            progress[i].recent_fps, progress[i].recent_p50_ms, progress[i].seconds);
    }
}

// One set-llm: its LLM and what its generations measured.
struct LlmRun {
    std::unique_ptr<genai::LLM> llm;
    std::string label;
    std::string prompt;
    uint64_t generations = 0;
    uint64_t tokens = 0;
    std::vector<double> ttft_ms;
    std::vector<double> inter_token_ms;
    double seconds = 0;
    Status failure;
};

// A prompt of at least `tokens` tokens for this LLM's tokenizer.
std::string prompt_of(genai::LLM& llm, uint32_t tokens) {
    static const char* words[] = {"the ", "lighthouse ", "keeper ",  "wrote ", "a ",   "letter ",
                                  "to ",  "the ",        "village ", "about ", "the ", "storm "};
    std::string prompt;
    for (size_t i = 0; i < 100000; ++i) {
        prompt += words[i % std::size(words)];
        if (i % 8 == 7) {
            auto counted = llm.tokenize(prompt);
            if (!counted || counted->size() >= tokens) break;
        }
    }
    return prompt;
}

// Generates until `stop`: each generation starts from an empty context.
void generate_continuously(LlmRun& run, const LlmOptions& options, const std::atomic<bool>& stop) {
    genai::LLMGeneratorParams params;
    params.max_generated_tokens = options.max_tokens;
    const auto started = std::chrono::steady_clock::now();
    while (!stop) {
        run.llm->clear_context().ignore();
        auto completion = run.llm->generate(params, run.prompt);
        if (!completion) {
            run.failure = completion.status();
            break;
        }
        while (completion->read(std::chrono::minutes(10)).has_value()) {
            if (stop) {
                completion->abort().ignore();
                break;
            }
        }
        const auto timings = completion->timings();
        run.tokens += timings.generated_tokens;
        if (timings.generated_tokens > 0) run.ttft_ms.push_back(timings.time_to_first_token_ms);
        run.inter_token_ms.insert(run.inter_token_ms.end(), timings.inter_token_ms.begin(),
                                  timings.inter_token_ms.end());
        ++run.generations;
    }
    run.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
}

nlohmann::json refused_json(const std::map<StatusCode, uint64_t>& refused) {
    nlohmann::json reasons = nlohmann::json::object();
    for (const auto& [code, frames] : refused) reasons[status_code_name(code)] = frames;
    return reasons;
}

// Per placement of a routed model: where its frames ran, what each refused and why, and the
// latency it predicted for its frames beside what they took.
nlohmann::json placements_json(const RoutedModelStats& stats) {
    nlohmann::json placements = nlohmann::json::array();
    for (const auto& placement : stats.placements) {
        placements.push_back({{"placement", placement.label},
                              {"condition", placement_condition_name(placement.condition)},
                              {"condition_reason", placement.condition_reason},
                              {"frames", placement.frames_run},
                              {"refused", refused_json(placement.rejections)},
                              {"failures", placement.failures},
                              {"fallbacks_away", placement.fallbacks_away},
                              {"latency_mean_ms", placement.measured_latency_mean_ms},
                              {"predicted_frames", placement.predicted_frames},
                              {"predicted_latency_mean_ms", placement.predicted_latency_mean_ms},
                              {"prediction_error_mean_ms", placement.prediction_error_mean_ms}});
    }
    return placements;
}

std::string refused_text(const nlohmann::json& refused) {
    std::string text;
    for (const auto& [reason, frames] : refused.items()) {
        text += (text.empty() ? "" : ", ") + reason + " " + std::to_string(frames.get<uint64_t>());
    }
    return text.empty() ? "none" : text;
}

Status run(Run2Options& options, const std::vector<std::string>& words) {
    CORUN_RETURN_IF_ERROR(parse_nets(words, options));
    CORUN_RETURN_IF_ERROR(validate(options));
    // An unwritable trace file is found before the run, not after it.
    if (!options.trace_path.empty()) {
        CORUN_RETURN_IF_ERROR(runtime::monitor::check_trace_output(options.trace_path));
    }

    VDeviceParams params;
    params.group_id = "corun-run2";
    params.device_ids = {options.device == "npu-sim" ? "npu-sim:0" : "cpu:0"};
    // Also for the npu-sim placements of routed set-nets.
    params.npu_sim.profile_path = options.profile;
    params.npu_sim.compute_outputs = !options.timing_only;
    params.cpu = options.cpu;
    params.scheduler.fair_device_time = options.fairness == "device-time";
    params.scheduler.aging_step = std::chrono::milliseconds(options.aging_step_ms);
    params.scheduler.anticipation = std::chrono::microseconds(options.anticipation_us);
    apply_service_options(options.service, params);
    CORUN_TRY(std::shared_ptr<VDevice> vdevice, VDevice::create_shared(params));
    RunDevices devices(params, vdevice);
    // 0 slots: the cpu device picked them; the figures below name what it picked.
    if (options.cpu.execution_slots == 0) {
        options.cpu.execution_slots = runtime::execution_slots(*vdevice);
    }

    std::vector<NetRun> nets;
    for (size_t i = 0; i < options.nets.size(); ++i) {
        const NetOptions& net = options.nets[i];
        const std::string where = "set-net #" + std::to_string(i + 1) + " (" + net.path + ")";
        const std::string label = "#" + std::to_string(i + 1) + " " + model_stem(net.path);
        if (!net.placements.empty()) {
            auto routed = prepare_routed(net, devices);
            if (!routed) return routed.status().with_context(where);
            nets.push_back({nullptr, routed.release(), label});
            continue;
        }
        ModelSetup setup;
        setup.path = net.path;
        setup.batch_size = net.batch_size;
        setup.shapes = net.shapes;
        auto prepared = prepare_model(*vdevice, setup);
        if (!prepared) return prepared.status().with_context(where);
        ConfiguredInferModel& configured = *(*prepared)->configured;
        Status status = configured.set_scheduler_priority(net.priority);
        if (status.is_ok() && net.threshold > 0) {
            status = configured.set_scheduler_threshold(net.threshold);
        }
        if (status.is_ok() && net.timeout_ms > 0) {
            status = configured.set_scheduler_timeout(
                std::chrono::milliseconds(static_cast<int64_t>(net.timeout_ms + 0.5)));
        }
        if (status.is_ok() && net.slo_ms > 0) {
            status = configured.set_latency_slo(
                std::chrono::milliseconds(static_cast<int64_t>(net.slo_ms + 0.5)));
        }
        if (!status.is_ok()) return status.with_context(where);
        nets.push_back({prepared.release(), nullptr, label});
    }

    std::vector<LlmRun> llms(options.llms.size());
    for (size_t i = 0; i < options.llms.size(); ++i) {
        const LlmOptions& llm = options.llms[i];
        const std::string where = "set-llm #" + std::to_string(i + 1) + " (" + llm.path + ")";
        genai::LLMParams params;
        params.threads = llm.threads;
        params.prefill_chunk_tokens = llm.prefill_chunk;
        params.preemption = !llm.no_preemption;
        params.context_size = llm.prompt_tokens + llm.max_tokens + 64;
        auto loaded = genai::LLM::create(*vdevice, llm.path, params);
        if (!loaded) return loaded.status().with_context(where);
        llms[i].llm = loaded.release();
        if (auto set = llms[i].llm->set_scheduler_priority(static_cast<uint8_t>(llm.priority));
            !set) {
            return set.with_context(where);
        }
        llms[i].label = "#" + std::to_string(options.nets.size() + i + 1) + " " +
                        model_stem(llm.path) + " (LLM)";
        llms[i].prompt = prompt_of(*llms[i].llm, llm.prompt_tokens);
    }

    // Every device's models (model ids are unique in the process).
    auto stats_by_id = [&] {
        std::map<uint64_t, ScheduledModelStats> by_id;
        for (auto& device : devices.all()) {
            for (auto& stats : device->get_scheduler_stats()) by_id[stats.model_id] = stats;
        }
        return by_id;
    };
    const auto before = stats_by_id();
    // The run is recorded from its first frame to its last completion.
    std::shared_ptr<DeviceGroup> traced_group;
    if (!options.trace_path.empty()) {
        traced_group = runtime::monitor::group_of(*vdevice);
        scheduler::RecordingOptions recording;
        if (options.trace_max_events != 0) recording.max_events = options.trace_max_events;
        CORUN_RETURN_IF_ERROR(runtime::monitor::start_recording(*traced_group, recording));
    }
    std::vector<PumpTask> tasks;
    for (size_t i = 0; i < nets.size(); ++i) {
        PumpTask task;
        task.model = nets[i].prepared.get();
        task.target = nets[i].routed.get();
        task.options.seconds = options.time_to_run;
        task.options.framerate = options.nets[i].framerate;
        // Frames refused for their SLO, or by every placement, are counted, not fatal.
        task.options.count_refusals = options.nets[i].slo_ms > 0 || nets[i].routed;
        tasks.push_back(std::move(task));
    }
    const bool live = !options.json && isatty(STDERR_FILENO) && !nets.empty();
    bool first_tick = true;
    std::atomic<bool> stop_llms{false};
    std::vector<std::thread> generators;
    for (size_t i = 0; i < llms.size(); ++i) {
        generators.emplace_back(
            [&, i] { generate_continuously(llms[i], options.llms[i], stop_llms); });
    }
    auto results = pump_together(tasks, [&](const std::vector<PumpProgress>& progress) {
        if (!live) return;
        print_live(nets, progress, first_tick);
        first_tick = false;
    });
    if (nets.empty()) {
        std::this_thread::sleep_for(std::chrono::duration<double>(options.time_to_run));
    }
    stop_llms = true;
    for (auto& generator : generators) generator.join();
    if (traced_group) {
        // A job completes (its callback returns) just before the scheduler frees its slot: the
        // trace ends once the last burst ended, so that it holds every frame run2 counts.
        const auto idle = [&] {
            for (const auto& stats : vdevice->get_scheduler_stats()) {
                if (stats.frames_running > 0 || stats.frames_queued > 0) return false;
            }
            return true;
        };
        const auto give_up = std::chrono::steady_clock::now() + std::chrono::seconds(10);
        while (!idle() && std::chrono::steady_clock::now() < give_up) {
            std::this_thread::sleep_for(std::chrono::milliseconds(1));
        }
        const auto traced = runtime::monitor::stop_recording(*traced_group);
        CORUN_RETURN_IF_ERROR(runtime::monitor::write_trace_file(
            options.trace_path, runtime::monitor::chrome_trace_json({traced})));
        std::fprintf(stderr,
                     "[run2] trace written to %s: %zu bursts, %zu frames, %llu events dropped; "
                     "open it in https://ui.perfetto.dev or chrome://tracing\n",
                     options.trace_path.c_str(), traced.recording.bursts.size(),
                     traced.recording.frames.size(),
                     static_cast<unsigned long long>(traced.recording.dropped_events));
    }
    if (live && !first_tick) std::fprintf(stderr, "\033[%zuA\033[J", nets.size());
    const auto after = stats_by_id();
    for (size_t i = 0; i < llms.size(); ++i) {
        if (!llms[i].failure.is_ok()) return llms[i].failure.with_context(llms[i].label);
    }

    for (size_t i = 0; i < results.size(); ++i) {
        if (!results[i]) return results[i].status().with_context(nets[i].label);
    }
    // Device time each model used during the run, from the scheduler's ledger.
    std::vector<int64_t> device_ns(nets.size(), 0);
    std::vector<uint64_t> switches(nets.size(), 0);
    std::vector<uint64_t> max_overtaken_by(nets.size(), 0);
    int64_t device_total_ns = 0;
    std::vector<RoutedModelStats> routed_stats(nets.size());
    for (size_t i = 0; i < nets.size(); ++i) {
        // A routed model: its configured model on each placement.
        std::vector<uint64_t> ids;
        if (nets[i].routed) {
            routed_stats[i] = nets[i].routed->routed().get_stats();
            for (const auto& placement : routed_stats[i].placements) {
                if (placement.scheduler_model_id != 0) ids.push_back(placement.scheduler_model_id);
            }
        } else {
            ids.push_back(nets[i].prepared->configured->scheduler_model_id());
        }
        for (const uint64_t id : ids) {
            auto end = after.find(id);
            if (end == after.end()) continue;
            const auto start = before.find(id);
            device_ns[i] += end->second.device_time_ns -
                            (start != before.end() ? start->second.device_time_ns : 0);
            switches[i] +=
                end->second.switches - (start != before.end() ? start->second.switches : 0);
            max_overtaken_by[i] = std::max(max_overtaken_by[i], end->second.max_overtaken_by);
        }
        device_total_ns += device_ns[i];
    }
    std::vector<int64_t> llm_device_ns(llms.size(), 0);
    for (size_t i = 0; i < llms.size(); ++i) {
        const uint64_t id = llms[i].llm->scheduler_model_id();
        if (auto end = after.find(id); end != after.end()) {
            const auto start = before.find(id);
            llm_device_ns[i] = end->second.device_time_ns -
                               (start != before.end() ? start->second.device_time_ns : 0);
        }
        device_total_ns += llm_device_ns[i];
    }

    const auto description = vdevice->physical_devices().front();
    nlohmann::json summary = {{"device", description.id},
                              {"architecture", description.architecture},
                              {"threads", description.threads},
                              {"slots", options.device == "cpu" ? options.cpu.execution_slots : 1},
                              {"time_to_run", options.time_to_run},
                              {"fairness", options.fairness},
                              {"aging_step_ms", options.aging_step_ms},
                              {"anticipation_us", options.anticipation_us},
                              {"models", nlohmann::json::array()}};
    for (size_t i = 0; i < nets.size(); ++i) {
        const PumpResult& result = *results[i];
        const NetOptions& net = options.nets[i];
        const double fps = result.seconds > 0 ? result.frames / result.seconds : 0;
        const double share =
            device_total_ns > 0 ? static_cast<double>(device_ns[i]) / device_total_ns : 0;
        summary["models"].push_back(
            {{"index", i + 1},
             {"model", net.path},
             {"name", nets[i].routed ? nets[i].routed->name() : nets[i].prepared->name()},
             {"batch_size",
              nets[i].routed ? net.batch_size : nets[i].prepared->model->batch_size()},
             {"priority", net.priority},
             {"threshold", net.threshold == 0 ? 1 : net.threshold},
             {"timeout_ms", net.timeout_ms},
             {"framerate", net.framerate},
             {"frames", result.frames},
             {"seconds", result.seconds},
             {"fps", fps},
             {"latency", LatencySummary::of(result.total).to_json()},
             {"device_latency", LatencySummary::of(result.device).to_json()},
             {"device_time_ms", static_cast<double>(device_ns[i]) / 1e6},
             {"device_share", share},
             {"switches", switches[i]},
             {"max_overtaken_by", max_overtaken_by[i]},
             {"latency_slo_ms", net.slo_ms},
             {"refused", refused_json(result.refused)}});
        if (nets[i].routed) {
            summary["models"].back()["placements"] = placements_json(routed_stats[i]);
        }
    }
    summary["llms"] = nlohmann::json::array();
    for (size_t i = 0; i < llms.size(); ++i) {
        const LlmRun& llm = llms[i];
        const auto percentile_or_zero = [](const std::vector<double>& values, double p) {
            return values.empty() ? 0.0 : percentile(values, p);
        };
        summary["llms"].push_back(
            {{"index", nets.size() + i + 1},
             {"model", options.llms[i].path},
             {"priority", options.llms[i].priority},
             {"prompt_tokens", options.llms[i].prompt_tokens},
             {"max_tokens", options.llms[i].max_tokens},
             {"generations", llm.generations},
             {"tokens", llm.tokens},
             {"seconds", llm.seconds},
             {"tokens_per_second", llm.seconds > 0 ? llm.tokens / llm.seconds : 0},
             {"ttft_p50_ms", percentile_or_zero(llm.ttft_ms, 50)},
             {"inter_token_p50_ms", percentile_or_zero(llm.inter_token_ms, 50)},
             {"inter_token_p95_ms", percentile_or_zero(llm.inter_token_ms, 95)},
             {"device_time_ms", static_cast<double>(llm_device_ns[i]) / 1e6},
             {"device_share",
              device_total_ns > 0 ? static_cast<double>(llm_device_ns[i]) / device_total_ns : 0}});
    }
    // The models' shares counted the LLMs' device time too.
    for (size_t i = 0; i < nets.size(); ++i) {
        summary["models"][i]["device_share"] =
            device_total_ns > 0 ? static_cast<double>(device_ns[i]) / device_total_ns : 0;
    }
    if (options.json) {
        std::cout << summary.dump(2) << "\n";
        return Status::ok();
    }
    std::printf("run2 on %s (%s), %.1f s, %zu models\n", description.id.c_str(),
                options.device == "cpu" ? (std::to_string(description.threads) + " threads, " +
                                           std::to_string(options.cpu.execution_slots) + " slot(s)")
                                              .c_str()
                                        : "single context",
                options.time_to_run, nets.size() + llms.size());
    std::printf("  %-24s %4s %5s %8s %8s %9s %9s %9s %7s %8s\n", "model", "prio", "batch", "frames",
                "FPS", "p50 ms", "p95 ms", "p99 ms", "device", "switches");
    for (size_t i = 0; i < nets.size(); ++i) {
        const auto& entry = summary["models"][i];
        const auto latency = LatencySummary::of(results[i]->total);
        std::printf(
            "  %-24s %4u %5u %8llu %8.1f %9.2f %9.2f %9.2f %6.1f%% %8llu\n", nets[i].label.c_str(),
            options.nets[i].priority, entry["batch_size"].get<unsigned>(),
            static_cast<unsigned long long>(results[i]->frames), entry["fps"].get<double>(),
            latency.p50, latency.p95, latency.p99, 100.0 * entry["device_share"].get<double>(),
            static_cast<unsigned long long>(switches[i]));
        if (!entry["refused"].empty()) {
            std::printf("  %-24s refused (SLO %.1f ms): %s\n", "",
                        entry["latency_slo_ms"].get<double>(),
                        refused_text(entry["refused"]).c_str());
        }
        if (!entry.contains("placements")) continue;
        for (const auto& placement : entry["placements"]) {
            std::printf(
                "  %-24s on %-10s %8llu frames, mean %.2f ms (predicted %.2f ms), "
                "refused: %s%s\n",
                "", placement["placement"].get<std::string>().c_str(),
                static_cast<unsigned long long>(placement["frames"].get<uint64_t>()),
                placement["latency_mean_ms"].get<double>(),
                placement["predicted_latency_mean_ms"].get<double>(),
                refused_text(placement["refused"]).c_str(),
                placement["condition"] == "IN_SERVICE"
                    ? ""
                    : (", " + placement["condition"].get<std::string>() + ": " +
                       placement["condition_reason"].get<std::string>())
                          .c_str());
        }
    }
    if (!llms.empty()) {
        std::printf("  %-24s %4s %11s %9s %9s %12s %12s %7s\n", "LLM", "prio", "generations",
                    "tokens", "tok/s", "TTFT p50 ms", "ITL p95 ms", "device");
        for (size_t i = 0; i < llms.size(); ++i) {
            const auto& entry = summary["llms"][i];
            std::printf(
                "  %-24s %4u %11llu %9llu %9.2f %12.1f %12.1f %6.1f%%\n", llms[i].label.c_str(),
                options.llms[i].priority, static_cast<unsigned long long>(llms[i].generations),
                static_cast<unsigned long long>(llms[i].tokens),
                entry["tokens_per_second"].get<double>(), entry["ttft_p50_ms"].get<double>(),
                entry["inter_token_p95_ms"].get<double>(),
                100.0 * entry["device_share"].get<double>());
        }
    }
    std::printf(
        "  (latency: run_async() to completion; device: share of the device time all "
        "models used; ITL: inter-token latency)\n");
    return Status::ok();
}

}  // namespace

void add_run2_command(CLI::App& app) {
    static Run2Options options;
    auto* command = app.add_subcommand(
        "run2", "Run several models at once on one device, sharing its scheduler (set-net ...)");
    add_run2_options(*command, options);
    // Everything from the first `set-net` on is parsed per model by parse_nets().
    command->prefix_command();
    command->footer(set_net_help("run2", NetSyntax::RUN));
    command->callback([command] {
        Status status = run(options, command->remaining());
        if (!status.is_ok()) throw CLI::RuntimeError(report_error(status));
    });
}

}  // namespace corun::tools
