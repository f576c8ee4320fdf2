// `corun plan --profile PROFILE [OPTIONS] set-net MODEL [NET OPTIONS] ...`: predicts, before
// deploying, what a mix of models gets from a device: per model throughput, latency
// p50/p95/p99, share of the device, whether its SLO holds and how much more rate fits. It runs
// corun's scheduling policy in virtual time over the profile `corun benchmark --profile` wrote
// (the capacity model behind corun::CapacityPlanner; docs/ROUTER.md). The set-net groups are
// run2's, plus --slo-ms and closed-loop clients.
#include <chrono>
#include <cmath>
#include <cstdio>
#include <iostream>
#include <sstream>

#include "cli_support.hpp"
#include "commands.hpp"
#include "corun/capacity_plan.hpp"
#include "frame_pump.hpp"
#include "net_groups.hpp"
#include "predicted_trace.hpp"
#include "router/capacity_model.hpp"
#include "router/capacity_profile.hpp"
#include "runtime/monitor/chrome_trace_writer.hpp"

namespace corun::tools {
namespace {

struct PlanOptions {
    std::string profile;
    std::string device = "cpu";
    uint32_t slots = 0;
    uint32_t latency_slots = 0;
    std::string fairness = "device-time";
    int64_t aging_step_ms = 250;
    int64_t anticipation_us = 250;
    int64_t horizon_s = 60;
    bool no_headroom = false;
    bool no_admission = false;
    bool json = false;
    std::string trace_path;  // --trace: the predicted schedule as a Chrome trace
    NetGroups groups;
};

void add_plan_options(CLI::App& app, PlanOptions& options) {
    app.add_option("--profile", options.profile,
                   "The models' profile (JSON; `corun benchmark MODEL... --profile FILE` writes "
                   "one)");
    app.add_option("--device", options.device, "Device kind to plan for: cpu or npu-sim")
        ->check(CLI::IsMember({"cpu", "npu-sim"}));
    app.add_option("--slots", options.slots,
                   "cpu: inferences at once (default: as the profile was measured)");
    app.add_option("--latency-slots", options.latency_slots,
                   "cpu: further slots for models above normal priority");
    app.add_option("--fairness", options.fairness,
                   "Among ready models of one priority: device-time or frames (round robin)")
        ->check(CLI::IsMember({"device-time", "frames"}));
    app.add_option("--aging-step", options.aging_step_ms,
                   "Milliseconds of waiting that raise a model one priority level (0 = strict)")
        ->check(CLI::Range(int64_t{0}, int64_t{3600000}));
    app.add_option("--anticipation-us", options.anticipation_us,
                   "Microseconds a freed slot waits for the next frame of a client sending from "
                   "its completions (0 = decide at once; docs/SCHEDULER.md)")
        ->check(CLI::Range(int64_t{0}, int64_t{MAX_ANTICIPATION.count()}));
    app.add_option("--horizon", options.horizon_s,
                   "Seconds of virtual time to simulate (default 60)")
        ->check(CLI::Range(int64_t{1}, int64_t{3600}));
    app.add_flag("--no-headroom", options.no_headroom,
                 "Skip the headroom search (one simulation instead of a few dozen)");
    app.add_flag("--no-admission", options.no_admission,
                 "Plan the SLOs as targets only: without admission control (as `corun run2 "
                 "--slo-ms` runs them), frames predicted to miss their SLO are not refused");
    app.add_flag("--json", options.json, "Print the prediction as JSON");
    app.add_option("--trace", options.trace_path,
                   "Write the predicted schedule (the simulation over --horizon) as a Chrome "
                   "trace to this file, in the format of `corun run2 --trace`, to open beside a "
                   "measured run (docs/ROUTER.md)");
}

Status check_plan_options(const PlanOptions& options) {
    if (options.profile.empty()) {
        return Status(StatusCode::INVALID_ARGUMENT,
                      "plan needs --profile FILE: the models' measured profile (`corun benchmark "
                      "MODEL.onnx... --profile FILE` writes one)");
    }
    CORUN_RETURN_IF_ERROR(check_net_options(options.groups.nets));
    for (size_t i = 0; i < options.groups.nets.size(); ++i) {
        const NetOptions& net = options.groups.nets[i];
        const std::string where = "set-net #" + std::to_string(i + 1) + " (" + net.path + "): ";
        if (net.framerate_given && net.clients > 0) {
            return Status(StatusCode::INVALID_ARGUMENT,
                          where +
                              "--framerate and --clients exclude each other (a camera sends "
                              "at a rate; a client waits for its frame before the next)");
        }
        if (net.poisson && !net.framerate_given) {
            return Status(StatusCode::INVALID_ARGUMENT,
                          where + "--poisson needs --framerate (the mean rate)");
        }
        if (net.waits && (!net.framerate_given || net.poisson)) {
            return Status(StatusCode::INVALID_ARGUMENT,
                          where +
                              "--waits is for a camera: it needs --framerate, without "
                              "--poisson");
        }
        if (net.slo_ms < 0 || net.think_ms < 0) {
            return Status(StatusCode::INVALID_ARGUMENT,
                          where + "--slo-ms and --think-ms must not be negative");
        }
    }
    for (size_t i = 0; i < options.groups.llms.size(); ++i) {
        const LlmOptions& llm = options.groups.llms[i];
        if ((llm.framerate_given && !(llm.framerate > 0)) || llm.slo_ms < 0) {
            return Status(StatusCode::INVALID_ARGUMENT,
                          "set-llm #" + std::to_string(i + 1) + " (" + llm.path +
                              "): --framerate must be more than 0 generations per second, got " +
                              number_text(llm.framerate) + ", and --slo-ms not negative");
        }
    }
    return Status::ok();
}

CapacityWorkload workload_of(const PlanOptions& options) {
    CapacityWorkload workload;
    workload.device = options.device;
    workload.slots = options.slots;
    workload.latency_slots = options.latency_slots;
    workload.fair_device_time = options.fairness == "device-time";
    workload.aging_step = std::chrono::milliseconds(options.aging_step_ms);
    workload.anticipation = std::chrono::microseconds(options.anticipation_us);
    workload.horizon = std::chrono::seconds(options.horizon_s);
    workload.headroom = !options.no_headroom;
    for (const NetOptions& net : options.groups.nets) {
        PlannedModel model;
        model.name = model_stem(net.path);
        if (net.framerate_given) {
            model.arrivals = net.poisson ? ArrivalKind::POISSON : ArrivalKind::FIXED_RATE;
            model.rate = net.framerate;
            if (net.phase_ms >= 0) model.phase = nanoseconds_from_ms(net.phase_ms);
            model.waits_when_full = net.waits;
        } else {
            model.arrivals = ArrivalKind::CLOSED_LOOP;
            model.clients = net.clients;
            model.think = nanoseconds_from_ms(net.think_ms);
        }
        model.priority = static_cast<uint8_t>(net.priority);
        model.batch_size = net.batch_size == 0 ? 1 : net.batch_size;
        model.threshold = net.threshold == 0 ? 1 : net.threshold;
        model.timeout = nanoseconds_from_ms(net.timeout_ms);
        model.slo = nanoseconds_from_ms(net.slo_ms);
        model.slo_percentile = net.slo_percentile;
        model.admission = !options.no_admission;
        workload.models.push_back(std::move(model));
    }
    for (const LlmOptions& llm : options.groups.llms) {
        PlannedModel model = llm.framerate_given
                                 ? PlannedModel::at_rate(model_stem(llm.path), llm.framerate)
                                 : PlannedModel::closed_loop(model_stem(llm.path), 1);
        model.priority = static_cast<uint8_t>(llm.priority);
        model.prompt_tokens = llm.prompt_tokens;
        model.max_tokens = llm.max_tokens;
        model.slo = nanoseconds_from_ms(llm.slo_ms);
        workload.models.push_back(std::move(model));
    }
    return workload;
}

std::string arrivals_name(const PlannedModel& model) {
    switch (model.arrivals) {
        case ArrivalKind::FIXED_RATE:
            return model.waits_when_full ? "fixed-rate, waits when full" : "fixed-rate";
        case ArrivalKind::POISSON:
            return "poisson";
        case ArrivalKind::CLOSED_LOOP:
            break;
    }
    return "closed-loop";
}

std::string slo_text(const PlannedModel& planned, const ModelPrediction& predicted) {
    if (!predicted.has_slo) return predicted.slo_holds ? "-" : "drops";
    const double slo_ms = std::chrono::duration<double, std::milli>(planned.slo).count();
    std::ostringstream text;
    text << (predicted.generative ? "TTFT " : "") << "p" << planned.slo_percentile << "<=" << slo_ms
         << ": " << (predicted.slo_holds ? "yes" : "NO");
    if (predicted.refused_share > 0) {
        char refused[48];
        std::snprintf(refused, sizeof refused, " (%.1f%% refused)", 100 * predicted.refused_share);
        text << refused;
    }
    return text.str();
}

std::string headroom_text(const std::optional<double>& headroom) {
    if (!headroom) return "-";
    char text[32];
    std::snprintf(text, sizeof text, *headroom >= 64 ? ">=%.0fx" : "%.2fx", *headroom);
    return text;
}

nlohmann::json prediction_json(const PlanOptions& options, const CapacityWorkload& workload,
                               const CapacityPrediction& prediction) {
    nlohmann::json summary = {{"device", prediction.device},
                              {"slots", prediction.slots},
                              {"profile", options.profile},
                              {"horizon_s", options.horizon_s},
                              {"utilisation", rounded(prediction.utilisation, 4)},
                              {"all_slos_hold", prediction.all_slos_hold},
                              {"models", nlohmann::json::array()},
                              {"llms", nlohmann::json::array()}};
    summary["headroom"] =
        prediction.headroom ? nlohmann::json(rounded(*prediction.headroom, 3)) : nullptr;
    for (size_t i = 0; i < prediction.models.size(); ++i) {
        const PlannedModel& planned = workload.models[i];
        const ModelPrediction& model = prediction.models[i];
        nlohmann::json entry = {
            {"index", i + 1},
            {"name", model.name},
            {"priority", planned.priority},
            {"arrivals", arrivals_name(planned)},
            {"offered_rate", rounded(model.offered_rate, 3)},
            {"throughput", rounded(model.throughput, 3)},
            {"latency",
             {{"p50", rounded(model.latency_p50_ms, 3)},
              {"p95", rounded(model.latency_p95_ms, 3)},
              {"p99", rounded(model.latency_p99_ms, 3)}}},
            {"utilisation", rounded(model.utilisation, 4)},
            {"dropped_share", rounded(model.dropped_share, 4)},
            {"admission", model.has_slo && planned.admission},
            {"refused_share", rounded(model.refused_share, 4)},
            {"late_share", rounded(model.late_share, 4)},
            {"slo_ms",
             model.has_slo
                 ? nlohmann::json(std::chrono::duration<double, std::milli>(planned.slo).count())
                 : nullptr},
            {"slo_percentile", planned.slo_percentile},
            {"slo_holds", model.slo_holds},
            {"headroom", model.headroom ? nlohmann::json(rounded(*model.headroom, 3)) : nullptr}};
        if (model.has_slo && std::isfinite(model.slo_latency_ms)) {
            entry["slo_latency_ms"] = rounded(model.slo_latency_ms, 3);
        }
        if (model.generative) {
            entry["prompt_tokens"] = planned.prompt_tokens;
            entry["max_tokens"] = planned.max_tokens;
            entry["ttft_p50_ms"] = rounded(model.ttft_p50_ms, 3);
            entry["ttft_p95_ms"] = rounded(model.ttft_p95_ms, 3);
            entry["tokens_per_second"] = rounded(model.tokens_per_second, 3);
            summary["llms"].push_back(entry);
        } else {
            entry["batch_size"] = planned.batch_size;
            summary["models"].push_back(entry);
        }
    }
    return summary;
}

void print_prediction(const PlanOptions& options, const CapacityWorkload& workload,
                      const CapacityPrediction& prediction) {
    std::printf("plan for %s (%u slot%s), profile %s, %lld s of virtual time\n",
                prediction.device.c_str(), prediction.slots, prediction.slots == 1 ? "" : "s",
                options.profile.c_str(), static_cast<long long>(options.horizon_s));
    bool any_model = false, any_llm = false;
    for (const auto& model : prediction.models) (model.generative ? any_llm : any_model) = true;
    auto label_of = [&](size_t i) {
        return "#" + std::to_string(i + 1) + " " + prediction.models[i].name;
    };
    if (any_model) {
        std::printf("  %-22s %4s %5s %8s %8s %9s %9s %9s %7s  %-18s %8s\n", "model", "prio",
                    "batch", "offered", "FPS", "p50 ms", "p95 ms", "p99 ms", "device", "SLO",
                    "headroom");
        for (size_t i = 0; i < prediction.models.size(); ++i) {
            const ModelPrediction& model = prediction.models[i];
            if (model.generative) continue;
            const PlannedModel& planned = workload.models[i];
            const std::string offered = model.offered_rate > 0
                                            ? number_text(std::round(model.offered_rate * 10) / 10)
                                            : "loop";
            std::printf("  %-22s %4u %5u %8s %8.1f %9.2f %9.2f %9.2f %6.1f%%  %-18s %8s\n",
                        label_of(i).c_str(), planned.priority, planned.batch_size, offered.c_str(),
                        model.throughput, model.latency_p50_ms, model.latency_p95_ms,
                        model.latency_p99_ms, 100 * model.utilisation,
                        slo_text(planned, model).c_str(), headroom_text(model.headroom).c_str());
        }
    }
    if (any_llm) {
        std::printf("  %-22s %4s %8s %8s %10s %10s %7s  %-18s %8s\n", "LLM", "prio", "gen/s",
                    "tok/s", "TTFT p50", "TTFT p95", "device", "SLO", "headroom");
        for (size_t i = 0; i < prediction.models.size(); ++i) {
            const ModelPrediction& model = prediction.models[i];
            if (!model.generative) continue;
            const PlannedModel& planned = workload.models[i];
            std::printf("  %-22s %4u %8.3f %8.2f %10.1f %10.1f %6.1f%%  %-18s %8s\n",
                        label_of(i).c_str(), planned.priority, model.throughput,
                        model.tokens_per_second, model.ttft_p50_ms, model.ttft_p95_ms,
                        100 * model.utilisation, slo_text(planned, model).c_str(),
                        headroom_text(model.headroom).c_str());
        }
    }
    std::printf("  device %.1f%% busy; %s", 100 * prediction.utilisation,
                prediction.all_slos_hold ? "every SLO holds" : "an SLO does NOT hold");
    if (prediction.headroom) {
        std::printf("; the rates together fit %s", headroom_text(prediction.headroom).c_str());
    }
    std::printf(
        "\n  (latency: arrival to completion, host time included; device: share of all slots; "
        "headroom: how many times its rate still fits with every SLO holding and every "
        "rate-driven model keeping up, the others unchanged)\n");
}

Status run(PlanOptions& options, const std::vector<std::string>& words) {
    CORUN_RETURN_IF_ERROR(parse_net_groups(words, "plan", NetSyntax::PLAN, options.groups,
                                           [&](CLI::App& app) { add_plan_options(app, options); }));
    CORUN_RETURN_IF_ERROR(check_plan_options(options));
    // The profile read once, for the prediction and the trace (router::predict is what
    // CapacityPlanner::predict calls).
    CORUN_TRY(const router::CapacityProfile profile,
              router::load_capacity_profile(options.profile));
    const CapacityWorkload workload = workload_of(options);
    // An unwritable trace file is found before the prediction, not after it.
    if (!options.trace_path.empty()) {
        CORUN_RETURN_IF_ERROR(runtime::monitor::check_trace_output(options.trace_path));
    }
    CORUN_TRY(const CapacityPrediction prediction, router::predict(profile, workload));
    if (!options.trace_path.empty()) {
        CORUN_TRY(const PredictedTrace written,
                  write_predicted_trace(options.trace_path, "corun-plan", profile, workload));
        std::fprintf(stderr,
                     "[plan] predicted schedule written to %s: %zu bursts, %zu frames over %lld s "
                     "of virtual time; open it in https://ui.perfetto.dev or chrome://tracing\n",
                     options.trace_path.c_str(), written.bursts, written.frames,
                     static_cast<long long>(options.horizon_s));
    }
    if (options.json) {
        std::cout << prediction_json(options, workload, prediction).dump(2) << "\n";
    } else {
        print_prediction(options, workload, prediction);
    }
    return Status::ok();
}

}  // namespace

void add_plan_command(CLI::App& app) {
    static PlanOptions options;
    auto* command = app.add_subcommand(
        "plan",
        "Predict throughput, latency and SLOs of a mix of models from their profile "
        "(set-net ...), before running it");
    add_plan_options(*command, options);
    // Everything from the first `set-net` on is parsed per model by parse_net_groups().
    command->prefix_command();
    command->footer(set_net_help("plan", NetSyntax::PLAN));
    command->callback([command] {
        Status status = run(options, command->remaining());
        if (!status.is_ok()) throw CLI::RuntimeError(report_error(status));
    });
}

}  // namespace corun::tools
