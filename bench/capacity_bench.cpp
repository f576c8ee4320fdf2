// Issue 13's prediction accuracy (P5): the capacity model against measurement, side by side in
// one run. For mixes of 2, 3 and 4 zoo models, on the cpu device and on npu-sim (timing only),
// with closed-loop clients (one each, sending the next frame as the last completes) and with
// fixed rates (together about 60% of the device):
//   1. the profile is measured in this run, as `corun benchmark --profile` measures it
//      (tools/profile_measurement: each model alone with one frame in flight, the slowdown of
//      concurrent slots);
//   2. each model runs alone with its client pattern, for the "N x solo latency" rule;
//   3. each mix runs on a fresh device group, and the capacity model (corun::CapacityPlanner)
//      predicts it from the profile (closed-loop clients call run(): see docs/ROUTER.md), each
//      model's frame time scaled to what it measured alone on that group moments before the
//      mix and moments after it, the mean of the two (--recalibrate SECONDS, default 0.5; 0:
//      the profile as measured; --recalibrate-before-only: the figure before, as until the
//      fifteenth session; the summary prints the other too). On this VM frame times drift by
//      up to 2x over minutes and 10-40% between windows seconds apart: that is the machine's
//      drift, not the model's error; nothing of the mix itself enters a prediction;
//   4. per model: measured p50 and p95 against the prediction and against N x solo, its slot
//      time alone right before and after the mix, and its frames' median time on the device in
//      the mix (the scheduler's recording; a slowdown off tells from a queue off); the median
//      and worst absolute error of both, per device and over all;
//   5. unless --no-repeat, each mix runs a second time right after the first, and that second
//      run is scored against the first as if it were a prediction: the run-to-run floor, what
//      even a perfect model could not beat on this machine.
// With an LLM (--llm, default the tiny test LLM if built) one more mix on the cpu device: a
// camera model at 10 frames/s with priority 24, another model in a closed loop, and the LLM
// generating continuously; its time to first token is compared too.
// Every run is bounded by --seconds; the whole bench takes about
// (models x 3 + 24) x seconds, plus 14 x seconds for the repeated mixes, plus the
// recalibration windows before and after each mix (13-14 minutes with the defaults). Run it on
// a quiet machine: it prints the load average.
//
//   capacity_bench [--models A.onnx,B.onnx,C.onnx,D.onnx] [--shape NAME=dims] [--seconds 12]
//                  [--profile-seconds 2] [--slots N --threads T] [--llm PATH | --no-llm]
//                  [--skip-cpu] [--skip-npu] [--recalibrate 0.5] [--recalibrate-before-only]
//                  [--no-repeat] [--trace DIR]
//                  [--closed-loop-in-time SHARE] [--cameras-drop] [--anticipation-us 250]
//                  [--speed-share S] [--speed-memory-ms M]
//                  [--json]
// --closed-loop-in-time plans with that share of closed-loop frames in time for the decision
// after their last instead of the profile's measured one (1: as before it was measured);
// --cameras-drop plans the cameras as dropping a frame that finds the queue full, though the
// pumps wait for room (as the planner did before it modelled waiting).
// --speed-share and --speed-memory-ms set the machine's speed (scheduler::SimulatedDevice::
// speed_share) of the variant "with the machine's speed" instead of the one phase 1 measured.
// --trace DIR writes each mix's first run twice, as Chrome traces to open side by side: as
// measured (DEVICE-WORKLOAD-N.measured.json, the scheduler's own recording) and as the capacity
// model predicted it (.predicted.json, the simulation drawn the same way).
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <latch>
#include <limits>
#include <optional>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include <nlohmann/json.hpp>

#include "bench_support.hpp"
#include "cli_support.hpp"
#include "corun/capacity_plan.hpp"
#include "corun/corun.hpp"
#include "corun/genai/llm.hpp"
#include "frame_pump.hpp"
#include "llm_prompt.hpp"
#include "predicted_trace.hpp"
#include "profile_measurement.hpp"
#include "router/capacity_model.hpp"
#include "router/capacity_profile.hpp"
#include "runtime/api_access.hpp"
#include "runtime/monitor/chrome_trace_writer.hpp"
#include "runtime/monitor/group_recording.hpp"

namespace {

using corun::bench::load_average;
using corun::bench::median;
using corun::bench::split;
using Json = nlohmann::json;
using corun::tools::percentile;

struct Options {
    std::vector<std::string> models;
    std::vector<std::string> shapes;
    // 12, not 4: at its fixed rate nanodet sends 5 frames a second, and a p95 of the 20 frames
    // of 4 s moved by up to 100% between two runs of the same mix (45% at most with 12 s).
    double seconds = 12;
    double profile_seconds = 2;
    // The cpu configuration: one slot per core, one ONNX Runtime thread each (what the device's
    // automatic sharing gives frames that run at once). --slots 1 --threads 0 is the old
    // default, whose frames use both cores and on this VM take up to 2x longer after an idle
    // moment (an idle vCPU waking for each parallel section); --slots 0, the automatic sharing
    // itself, which the capacity model does not model yet (docs/ROUTER.md).
    uint32_t slots = std::max(1u, std::thread::hardware_concurrency());
    uint32_t threads = 1;
    std::string llm;
    bool no_llm = false;
    bool skip_cpu = false;
    bool skip_npu = false;
    bool repeat = true;
    double recalibrate_seconds = 0.5;  // 0: predict from the profile as measured
    // --recalibrate-before-only: scale to the figure before the mix, not the mean of before
    // and after (the summary prints the other as well).
    bool recalibrate_bracketed = true;
    // --closed-loop-in-time SHARE: plan with this share instead of the measured one (an A/B of
    // the closed-loop race's model; 1 is the simulation before it was measured).
    double closed_loop_in_time = -1;  // < 0: as measured
    // --speed-share S --speed-memory-ms M: the variant with the machine's speed takes this
    // share and memory instead of the measured ones (< 0: as measured).
    double speed_share = -1;
    double speed_memory_ms = -1;
    // --cameras-drop: plan the fixed-rate cameras as dropping a frame that finds the queue full
    // (as before), though the bench's pumps wait for room (an A/B of that model).
    bool cameras_wait = true;
    // --anticipation-us: the scheduler's anticipation on both devices, measured and planned
    // (docs/SCHEDULER.md; 0: decide at once, as before the fifteenth session).
    std::chrono::microseconds anticipation = corun::SchedulerParams{}.anticipation;
    bool json = false;
    // --trace DIR: each mix's first run as measured and as predicted, two Chrome traces side
    // by side (DEVICE-WORKLOAD-N.measured.json, .predicted.json).
    std::string trace_dir;
};

FILE* text_out = stdout;

// The start of every mix that is not counted (see run_mix).
constexpr double SETTLE_SECONDS = 0.5;

std::vector<std::string> default_models() {
    const std::string cache = corun::tools::model_cache_dir();
    const std::vector<std::string> zoo = {
        cache + "/models/mobilefacenet/mobilefacenet.onnx",
        cache + "/models/nanodet/nanodet.onnx",
        cache + "/models/blazeface-256/face_detection_back_256x256_barracuda.onnx",
        cache + "/models/emotion/emotion.onnx",
    };
    if (std::all_of(zoo.begin(), zoo.end(),
                    [](const std::string& path) { return std::filesystem::exists(path); })) {
        return zoo;
    }
    const std::string built = CORUN_TEST_MODEL_DIR;
    return {built + "/slow_matmul.onnx", built + "/conv_nchw.onnx", built + "/slow_matmul.onnx",
            built + "/add_one.onnx"};
}

// How the clients of one model send frames in a mix.
struct ClientPattern {
    double rate = 0;  // frames per second; 0 = a closed loop of one client
};

// What one model measured in one run.
struct Measured {
    double p50 = 0, p95 = 0;
    uint64_t frames = 0;
    // Its slot time per frame alone (device + conversion, medians), measured on the mix's own
    // device group right before the mix and right after it; 0 without --recalibrate or for an
    // LLM.
    double alone_ms = 0;
    double alone_after_ms = 0;
    // Its frames' median time on the device in the mix (the scheduler's recording: a frame's
    // start to its end), for telling a wrong slowdown from a wrong queue; 0 for an LLM.
    double mix_device_ms = 0;
    // Their 95th percentile: a tail the mix adds to the frames themselves (threads preempted)
    // tells from one its queue adds.
    double mix_device_p95_ms = 0;
    // What the prediction scales the profile's frame time to: the mean of the two alone figures
    // (--recalibrate-before-only: the first).
    double recalibrated_ms(bool bracketed) const {
        return bracketed && alone_after_ms > 0 ? (alone_ms + alone_after_ms) / 2 : alone_ms;
    }
};

// A device to run on: its params and the planner's name for it.
struct Target {
    std::string kind;  // "cpu", "npu-sim"
    corun::VDeviceParams params;
};

int group_counter = 0;

corun::VDeviceParams fresh_group(const Target& target) {
    corun::VDeviceParams params = target.params;
    // A group of its own per run: no scheduler history (device-time ledgers) carries over.
    params.group_id = "capacity-bench-" + target.kind + "-" + std::to_string(++group_counter);
    return params;
}

struct Loaded {
    std::unique_ptr<corun::VDevice> vdevice;
    std::vector<std::unique_ptr<corun::tools::PreparedModel>> models;
    std::vector<corun::tools::PreparedModel*> pointers() const {
        std::vector<corun::tools::PreparedModel*> all;
        for (const auto& model : models) all.push_back(model.get());
        return all;
    }
};

corun::Expected<Loaded> load(const Target& target, const std::vector<std::string>& paths,
                             const std::vector<uint8_t>& priorities,
                             const std::vector<std::string>& shapes) {
    Loaded loaded;
    CORUN_TRY(loaded.vdevice, corun::VDevice::create(fresh_group(target)));
    for (size_t i = 0; i < paths.size(); ++i) {
        corun::tools::ModelSetup setup;
        setup.path = paths[i];
        setup.shapes = shapes;
        setup.skip_missing_inputs = true;
        CORUN_TRY(auto prepared, corun::tools::prepare_model(*loaded.vdevice, setup), paths[i]);
        if (i < priorities.size()) {
            CORUN_RETURN_IF_ERROR(prepared->configured->set_scheduler_priority(priorities[i]));
        }
        CORUN_RETURN_IF_ERROR(corun::tools::warm_up(*prepared));
        loaded.models.push_back(std::move(prepared));
    }
    return loaded;
}

// Per model of `loaded`, the median time its frames that started after `counted_from` took on
// the device (start to end, as the scheduler recorded them); 0 where none is recorded.
struct DeviceTimes {
    double p50_ms = 0, p95_ms = 0;
};

std::vector<DeviceTimes> device_ms_by_model(const corun::scheduler::SchedulerRecording& recording,
                                            const Loaded& loaded,
                                            std::chrono::steady_clock::time_point counted_from) {
    const auto from = std::chrono::nanoseconds(
        std::chrono::duration_cast<std::chrono::nanoseconds>(counted_from.time_since_epoch())
            .count() -
        recording.origin_steady_ns);
    std::vector<DeviceTimes> by_model;
    for (const auto& model : loaded.models) {
        std::vector<double> times_ms;
        for (const auto& frame : recording.frames) {
            const auto name = recording.model_names.find(frame.model_id);
            if (name == recording.model_names.end() || name->second != model->name() ||
                frame.outcome != corun::scheduler::FrameOutcome::COMPLETED ||
                frame.started == corun::scheduler::NOT_ENDED || frame.started < from) {
                continue;
            }
            times_ms.push_back(
                std::chrono::duration<double, std::milli>(frame.ended - frame.started).count());
        }
        by_model.push_back(times_ms.empty()
                               ? DeviceTimes{}
                               : DeviceTimes{percentile(times_ms, 50), percentile(times_ms, 95)});
    }
    return by_model;
}

// Each model of `loaded` alone, one after the other, for `seconds` (at least MIN_WINDOW_FRAMES
// frames: 0.5 s held 7 of nanodet's, and its figure moved 55-87 ms between mixes where its
// frames in the mixes took 65-79): its slot time per frame. All 0 when `seconds` is 0.
corun::Expected<std::vector<double>> slot_times_alone(const Loaded& loaded, double seconds) {
    std::vector<double> times_ms(loaded.models.size(), 0.0);
    for (size_t i = 0; i < loaded.models.size() && seconds > 0; ++i) {
        CORUN_TRY(const auto result, corun::tools::pump_alone(*loaded.models[i], seconds));
        times_ms[i] = corun::tools::slot_time_ms(result);
    }
    return times_ms;
}

// Runs the models at once with their patterns (and an LLM generating beside them, if given);
// every model's latencies (for the LLM: its times to first token, last).
corun::Expected<std::vector<Measured>> run_mix(
    const Target& target, const std::vector<std::string>& paths,
    const std::vector<ClientPattern>& patterns, const std::vector<uint8_t>& priorities,
    const Options& options, const std::string& llm_path = "",
    const corun::PlannedModel* llm_plan = nullptr, const std::string& trace_path = "") {
    CORUN_TRY(Loaded loaded, load(target, paths, priorities, options.shapes));
    // Each model alone, once more, moments before the mix (the --recalibrate figures). A repeated
    // run measures them too, unused: both runs of a mix go through the same steps, so that the
    // run-to-run figure compares like with like.
    CORUN_TRY(const std::vector<double> alone_ms,
              slot_times_alone(loaded, options.recalibrate_seconds));
    std::unique_ptr<corun::genai::LLM> llm;
    std::string prompt;
    if (!llm_path.empty()) {
        CORUN_TRY(llm, corun::genai::LLM::create(*loaded.vdevice, llm_path));
        CORUN_RETURN_IF_ERROR(llm->set_scheduler_priority(llm_plan->priority));
        // A prompt of the planned length exactly (one more token would take one more chunk).
        CORUN_TRY(const auto exact, corun::tools::prompt_of_tokens(*llm, llm_plan->prompt_tokens));
        if (exact.tokens != llm_plan->prompt_tokens) {
            return corun::Status(
                corun::StatusCode::INVALID_ARGUMENT,
                llm_path + ": no prompt of exactly " + std::to_string(llm_plan->prompt_tokens) +
                    " tokens from its tokenizer (" + std::to_string(exact.tokens) + " at most)");
        }
        prompt = exact.text;
    }
    // Frames sent in the first SETTLE_SECONDS are not counted: the mix starts from the
    // warm-up's and recalibration's scheduler history (device-time ledgers), a transient the
    // capacity model's long simulated horizon hardly sees. The run lasts that much longer.
    // Recorded always: each model's device time in the mix (and, with --trace, the timeline).
    const std::shared_ptr<corun::DeviceGroup> recorded_group =
        corun::runtime::monitor::group_of(*loaded.vdevice);
    CORUN_RETURN_IF_ERROR(corun::runtime::monitor::start_recording(*recorded_group, {}));
    const auto began = std::chrono::steady_clock::now();
    const auto settled = began + std::chrono::duration_cast<std::chrono::steady_clock::duration>(
                                     std::chrono::duration<double>(SETTLE_SECONDS));
    std::vector<double> ttft_ms;
    std::atomic<bool> stop{false};
    corun::Status llm_failure;
    std::thread generator;
    if (llm) {
        generator = std::thread([&] {
            corun::genai::LLMGeneratorParams params;
            params.max_generated_tokens = llm_plan->max_tokens;
            for (int round = 0; round < 100000 && !stop; ++round) {
                const bool counted = std::chrono::steady_clock::now() >= settled;
                llm->clear_context().ignore();
                auto completion = llm->generate(params, prompt);
                if (!completion) {
                    llm_failure = completion.status();
                    return;
                }
                while (completion->read(std::chrono::minutes(10)).has_value()) {
                    if (stop) {
                        completion->abort().ignore();
                        break;
                    }
                }
                const auto timings = completion->timings();
                if (!stop && counted && timings.generated_tokens > 0) {
                    ttft_ms.push_back(timings.time_to_first_token_ms);
                }
            }
        });
    }
    // Every client on its own thread, all starting together: a camera sends at its rate
    // (run_async(), as pump_frames does); a closed-loop client calls run() and sends its next
    // frame when it returns (see docs/ROUTER.md on why not run_async() and wait()).
    std::vector<std::vector<double>> latency_ms(paths.size());
    std::vector<corun::Status> failures(paths.size());
    std::latch start(static_cast<std::ptrdiff_t>(paths.size()));
    std::vector<std::thread> clients;
    for (size_t i = 0; i < paths.size(); ++i) {
        clients.emplace_back([&, i] {
            corun::tools::PreparedModel& model = *loaded.models[i];
            start.arrive_and_wait();
            if (patterns[i].rate > 0) {
                // The settling frames, then the counted ones: a pump that falls behind its clock
                // sends fewer frames than rate x seconds, so they are told apart by pump, not
                // by count.
                corun::tools::PumpOptions pump;
                pump.framerate = patterns[i].rate;
                pump.seconds = SETTLE_SECONDS;
                auto settling = corun::tools::pump_frames(*model.configured, model.slots, pump);
                if (!settling) {
                    failures[i] = settling.status();
                    return;
                }
                pump.seconds = options.seconds;
                pump.keep_every_frame = true;
                auto result = corun::tools::pump_frames(*model.configured, model.slots, pump);
                if (!result) {
                    failures[i] = result.status();
                    return;
                }
                latency_ms[i] = std::move(result->total_ms);
                return;
            }
            const auto end =
                settled + std::chrono::duration_cast<std::chrono::steady_clock::duration>(
                              std::chrono::duration<double>(options.seconds));
            for (uint64_t frame = 0; frame < 10000000; ++frame) {
                const auto sent = std::chrono::steady_clock::now();
                if (sent >= end) break;
                failures[i] = model.configured->run(model.slots[0], std::chrono::seconds(60));
                if (!failures[i].is_ok()) return;
                if (sent < settled) continue;
                latency_ms[i].push_back(std::chrono::duration<double, std::milli>(
                                            std::chrono::steady_clock::now() - sent)
                                            .count());
            }
        });
    }
    for (auto& client : clients) client.join();
    stop = true;
    if (generator.joinable()) generator.join();
    const auto traced = corun::runtime::monitor::stop_recording(*recorded_group);
    if (!trace_path.empty()) {
        CORUN_RETURN_IF_ERROR(corun::runtime::monitor::write_trace_file(
            trace_path, corun::runtime::monitor::chrome_trace_json({traced})));
    }
    if (!llm_failure.is_ok()) return llm_failure;
    const std::vector<DeviceTimes> mix_device =
        device_ms_by_model(traced.recording, loaded, settled);
    // Each model alone once more, right after the mix: with the figure before it, the device's
    // speed while the mix ran (on this VM it moves by 10-40% between windows seconds apart).
    CORUN_TRY(const std::vector<double> alone_after_ms,
              slot_times_alone(loaded, options.recalibrate_seconds));
    std::vector<Measured> measured;
    for (size_t i = 0; i < paths.size(); ++i) {
        if (!failures[i].is_ok()) return failures[i].with_context(paths[i]);
        if (latency_ms[i].empty()) {
            // An error of 0% against nothing measured would count as a perfect prediction.
            return corun::Status(corun::StatusCode::INTERNAL_FAILURE,
                                 paths[i] + " completed no frame in the " +
                                     std::to_string(options.seconds) +
                                     " s measured; give the mix more --seconds");
        }
        measured.push_back({percentile(latency_ms[i], 50), percentile(latency_ms[i], 95),
                            latency_ms[i].size(), alone_ms[i], alone_after_ms[i],
                            mix_device[i].p50_ms, mix_device[i].p95_ms});
    }
    if (llm) {
        if (ttft_ms.empty()) {
            return corun::Status(corun::StatusCode::INTERNAL_FAILURE,
                                 llm_path + " began no generation after the mix settled and " +
                                     "finished it within the " + std::to_string(options.seconds) +
                                     " s measured; give the mix more --seconds");
        }
        measured.push_back({percentile(ttft_ms, 50), percentile(ttft_ms, 95), ttft_ms.size()});
    }
    return measured;
}

std::string stem(const std::string& path) {
    return std::filesystem::path(path).stem().string();
}

void clear_return_gaps(corun::router::DeviceProfile& section) {
    section.closed_loop_gaps_by_clients.clear();
    section.model_closed_loop_gaps_by_clients.clear();
}

// Cold frames as until the sixteenth session: after the whole device idled, one figure each.
void cold_by_device(corun::router::DeviceProfile& section) {
    section.cold_by_slot = false;
    section.cold_spread.clear();
}

void clear_beside_spread(corun::router::DeviceProfile& section) {
    section.beside_spread.clear();
}

// The machine's speed the profile's phase 1 measured (or --speed-share / --speed-memory-ms),
// which the profile itself does not carry: scored as a variant.
corun::tools::MachineSpeed machine_speed_measured;

void with_machine_speed(corun::router::DeviceProfile& section) {
    section.speed_share = machine_speed_measured.share;
    section.speed_memory = machine_speed_measured.memory;
}

// The capacity model with a part of it taken out, predicted beside it from the same profile
// and scored in the summary: what each part is worth, in one run.
struct ModelVariant {
    const char* name;
    void (*change)(corun::router::DeviceProfile&);
};

const std::vector<ModelVariant> MODEL_VARIANTS = {
    {"without the return gaps (shares in time alone)", clear_return_gaps},
    {"cold only after the whole device idled, one cold figure", cold_by_device},
    {"without the spread beside others (the spread alone)", clear_beside_spread},
    {"with the machine's speed (draws correlated in time)", with_machine_speed},
    {"the fifteenth session's model (the first three of the above)",
     [](corun::router::DeviceProfile& section) {
         clear_return_gaps(section);
         cold_by_device(section);
         clear_beside_spread(section);
     }},
};

// The profile for one mix: each mix model's frame (and cold frame) scaled to its slot time
// measured alone right before the mix and right after it (the mean; `bracketed` false: before
// only). On this VM a model's frame time drifts by up to 2x over minutes and by 10-40% between
// windows seconds apart; the profile is seconds to minutes old when a mix runs, and that drift
// is the machine's, not the capacity model's error (--recalibrate 0 keeps the profile as
// measured). Only frames alone are timed for it: nothing of the mix itself enters a prediction.
corun::router::CapacityProfile profile_for(const corun::router::DeviceProfile& section,
                                           const std::string& kind,
                                           const std::vector<std::string>& mix,
                                           const std::vector<Measured>& measured, bool bracketed) {
    corun::router::DeviceProfile scaled = section;
    for (size_t i = 0; i < mix.size() && i < measured.size(); ++i) {
        auto timing = scaled.models.find(stem(mix[i]));
        const double alone_ms = measured[i].recalibrated_ms(bracketed);
        if (timing == scaled.models.end() || !(alone_ms > 0)) continue;
        const double ratio = alone_ms * 1e6 / timing->second.frame.count();
        auto scale = [ratio](std::chrono::nanoseconds& time) {
            time = std::chrono::nanoseconds(
                static_cast<int64_t>(static_cast<double>(time.count()) * ratio));
        };
        scale(timing->second.frame);
        if (auto cold = scaled.cold_frame.find(timing->first); cold != scaled.cold_frame.end()) {
            scale(cold->second);
        }
    }
    corun::router::CapacityProfile capacity;
    capacity.devices[kind] = scaled;
    return capacity;
}

// --trace: the mix's predicted schedule over the measured seconds (settling included, rounded up
// to whole seconds), beside its measured trace.
corun::Status write_predicted_trace(const std::string& path,
                                    const corun::router::CapacityProfile& profile,
                                    corun::CapacityWorkload workload, const Options& options) {
    workload.horizon =
        std::chrono::seconds(static_cast<int64_t>(std::ceil(SETTLE_SECONDS + options.seconds)));
    return corun::tools::write_predicted_trace(path, "capacity-bench", profile, workload).status();
}

// --trace: where a mix's trace goes ("" without --trace).
std::string trace_path(const Options& options, const std::string& kind, const std::string& workload,
                       size_t count, const char* what) {
    if (options.trace_dir.empty()) return "";
    return options.trace_dir + "/" + kind + "-" + workload + "-" + std::to_string(count) + "." +
           what + ".json";
}

// One comparison: a model's measured percentile against the prediction and the rule.
struct Comparison {
    std::string target, mix, workload, model, percentile;
    double measured = 0, predicted = 0, rule = 0;
    double again = 0;  // the same mix measured a second time (0: not repeated)
    // Predicted with the other recalibration (before only, or bracketed; 0: not predicted).
    double other = 0;
    // Predicted by each of MODEL_VARIANTS (empty: not predicted).
    std::vector<double> variants{};
    double error() const { return error_of(predicted); }
    double other_error() const { return error_of(other); }
    double rule_error() const { return error_of(rule); }
    double again_error() const { return error_of(again); }
    double error_of(double estimate) const {
        return measured > 0 ? std::fabs(estimate - measured) / measured : 0;
    }
};

// The second run of a mix under the first's line; `rate` fills the first line's rate column
// (empty where it has none).
void print_second_run(const std::string& rate, const Comparison& p50, const Comparison& p95) {
    std::fprintf(text_out,
                 "    %-24.24s %sagain: p50 %7.2f (%5.1f%% from the first run) | p95 %7.2f "
                 "(%5.1f%%)\n",
                 "", rate.c_str(), p50.again, 100 * p50.again_error(), p95.again,
                 100 * p95.again_error());
}

// The median and the largest of a set of absolute errors (0 and 0 for none).
struct ErrorSpread {
    double median = 0, worst = 0;
    static ErrorSpread of(std::vector<double> errors) {
        if (errors.empty()) return {};
        return {corun::bench::median(errors), *std::max_element(errors.begin(), errors.end())};
    }
};

struct Summary {
    ErrorSpread model, rule, again, other;
    std::vector<ErrorSpread> variants;  // per MODEL_VARIANTS
    size_t count = 0;
};

Summary summarise(const std::vector<Comparison>& all, const std::string& target) {
    std::vector<double> errors, rule_errors, again_errors, other_errors;
    std::vector<std::vector<double>> variant_errors(MODEL_VARIANTS.size());
    for (const auto& comparison : all) {
        if (!target.empty() && comparison.target != target) continue;
        errors.push_back(comparison.error());
        if (comparison.rule > 0) rule_errors.push_back(comparison.rule_error());
        if (comparison.again > 0) again_errors.push_back(comparison.again_error());
        if (comparison.other > 0) other_errors.push_back(comparison.other_error());
        for (size_t v = 0; v < comparison.variants.size() && v < variant_errors.size(); ++v) {
            variant_errors[v].push_back(comparison.error_of(comparison.variants[v]));
        }
    }
    Summary summary{ErrorSpread::of(errors),
                    ErrorSpread::of(rule_errors),
                    ErrorSpread::of(again_errors),
                    ErrorSpread::of(other_errors),
                    {},
                    errors.size()};
    for (const auto& spread : variant_errors) summary.variants.push_back(ErrorSpread::of(spread));
    return summary;
}

// `text` as a number from 0 to `most` for `flag`; nullopt once it said what the flag takes.
std::optional<double> number_from_zero(const std::string& flag, const std::string& text,
                                       double most, const char* takes) {
    char* end = nullptr;
    const double number = std::strtod(text.c_str(), &end);
    if (text.empty() || *end != '\0' || !(number >= 0 && number <= most)) {
        std::cerr << "capacity_bench: " << flag << " takes " << takes << ", got '" << text << "'\n";
        return std::nullopt;
    }
    return number;
}

int usage() {
    std::cerr << "usage: capacity_bench [--models A.onnx,B.onnx,C.onnx,D.onnx] [--shape "
                 "NAME=dims]... [--seconds 12] [--profile-seconds 2] [--slots N] [--threads T] "
                 "[--llm PATH | --no-llm] [--skip-cpu] [--skip-npu] [--recalibrate 0.5] "
                 "[--recalibrate-before-only] [--no-repeat] [--closed-loop-in-time SHARE] "
                 "[--cameras-drop] [--speed-share S] [--speed-memory-ms M] [--trace DIR] "
                 "[--anticipation-us 250] [--json]\n";
    return 2;
}

// The bench on one device: profile, solo runs, mixes, predictions.
corun::Status bench_target(const Target& target, const Options& options,
                           std::vector<Comparison>& comparisons, Json& report) {
    const std::vector<std::string>& paths = options.models;
    // 1. The profile, measured as `corun benchmark --profile` measures it.
    corun::CpuDeviceParams measured_as = target.params.cpu;
    CORUN_TRY(Loaded loaded, load(target, paths, {}, options.shapes));
    // 0 slots: the cpu device picked them (as `corun benchmark` records it).
    const bool automatic_sharing = target.kind == "cpu" && measured_as.execution_slots == 0 &&
                                   measured_as.intra_op_threads == 0;
    if (measured_as.execution_slots == 0) {
        measured_as.execution_slots = corun::runtime::execution_slots(*loaded.vdevice);
    }
    if (target.kind == "npu-sim") measured_as.execution_slots = 1;
    const auto description = loaded.vdevice->physical_devices().front();
    CORUN_TRY(corun::router::DeviceProfile section,
              corun::tools::measure_cpu_section(*loaded.vdevice, loaded.pointers(), measured_as,
                                                description.cores, options.profile_seconds,
                                                automatic_sharing, &machine_speed_measured));
    if (options.closed_loop_in_time >= 0) {
        section.closed_loop_in_time = options.closed_loop_in_time;
        section.closed_loop_in_time_by_clients.clear();
        section.model_closed_loop_in_time_by_clients.clear();
        clear_return_gaps(section);
    }
    if (options.speed_share >= 0) machine_speed_measured.share = options.speed_share;
    if (options.speed_memory_ms >= 0) {
        machine_speed_measured.memory =
            std::chrono::nanoseconds(std::llround(options.speed_memory_ms * 1e6));
    }
    std::string llm_path = options.no_llm || target.kind != "cpu" ? "" : options.llm;
    if (!llm_path.empty()) {
        auto timing =
            corun::tools::measure_llm(*loaded.vdevice, llm_path, 16, options.profile_seconds);
        if (!timing) return timing.status().with_context(llm_path);
        section.generative[stem(llm_path)] = *timing;
    }
    loaded.models.clear();
    loaded.vdevice.reset();
    std::fprintf(text_out, "\n%s: profile measured (slot time per frame:", target.kind.c_str());
    std::vector<double> slot_ms;
    for (const auto& path : paths) {
        slot_ms.push_back(section.models.at(stem(path)).frame.count() / 1e6);
        const auto cold = section.cold_frame.find(stem(path));
        const auto own = section.model_interference.find(stem(path));
        std::fprintf(text_out, " %s %.2f ms (cold %.2f, beside others x%.2f)", stem(path).c_str(),
                     slot_ms.back(),
                     cold == section.cold_frame.end() ? slot_ms.back() : cold->second.count() / 1e6,
                     own == section.model_interference.end() ? 1.0 : own->second.back());
    }
    std::fprintf(text_out,
                 "; context switch %.2f ms; the machine's speed (a variant): share %.2f, memory "
                 "%.0f ms; closed-loop frames in time %.0f%%",
                 static_cast<double>(section.context_switch.count()) / 1e6,
                 machine_speed_measured.share,
                 static_cast<double>(machine_speed_measured.memory.count()) / 1e6,
                 100 * section.closed_loop_in_time);
    if (!section.closed_loop_in_time_by_clients.empty()) {
        std::fprintf(text_out,
                     " (with 2..%zu models:", section.closed_loop_in_time_by_clients.size() + 1);
        for (double share : section.closed_loop_in_time_by_clients) {
            std::fprintf(text_out, " %.0f%%", 100 * share);
        }
        std::fprintf(text_out, ")");
    }
    if (!section.closed_loop_gaps_by_clients.empty()) {
        // Where the late frames came, against the scheduler's anticipation window: what the
        // share in time alone cannot say.
        std::fprintf(text_out, "; next frames after the window of %lld us with 2..%zu models:",
                     static_cast<long long>(options.anticipation.count()),
                     section.closed_loop_gaps_by_clients.size() + 1);
        for (const auto& gaps : section.closed_loop_gaps_by_clients) {
            const auto after = std::count_if(gaps.begin(), gaps.end(),
                                             [&](auto gap) { return gap > options.anticipation; });
            std::fprintf(text_out, " %.0f%%",
                         100.0 * static_cast<double>(after) / static_cast<double>(gaps.size()));
        }
    }
    std::fprintf(text_out, "; slowdown with 1..%zu slots busy:", section.interference.size());
    for (double factor : section.interference) std::fprintf(text_out, " %.2f", factor);
    std::fprintf(text_out, ")\n");
    Json target_report = {
        {"device", target.kind},
        {"interference", section.interference},
        {"closed_loop_in_time", section.closed_loop_in_time},
        {"closed_loop_in_time_by_clients", section.closed_loop_in_time_by_clients},
        {"closed_loop_gap_us_by_clients",
         corun::router::DeviceProfile::gaps_in_microseconds(section.closed_loop_gaps_by_clients)},
        {"slot_ms", slot_ms},
        {"runs", Json::array()}};

    // 2..4. Per workload: solo runs, then the mixes of 2, 3 and 4.
    for (const std::string workload : {"closed-loop", "fixed-rate"}) {
        // Fixed rates: together 60% of the device in the largest mix, the models' shares
        // unequal (weights 1, 0.8, 0.6, ...), so that no two cameras come in step.
        std::vector<ClientPattern> patterns(paths.size());
        double weights = 0;
        for (size_t i = 0; i < paths.size(); ++i) weights += 1.0 - 0.2 * static_cast<double>(i % 4);
        for (size_t i = 0; i < paths.size(); ++i) {
            if (workload != "fixed-rate") continue;
            const double share = 0.6 * (1.0 - 0.2 * static_cast<double>(i % 4)) / weights;
            patterns[i].rate = share * section.execution_slots / (slot_ms[i] / 1000.0);
        }
        std::vector<Measured> solo;
        for (size_t i = 0; i < paths.size(); ++i) {
            CORUN_TRY(auto alone, run_mix(target, {paths[i]}, {patterns[i]}, {}, options));
            solo.push_back(alone[0]);
        }
        for (size_t count = 2; count <= paths.size(); ++count) {
            const std::vector<std::string> mix(paths.begin(), paths.begin() + count);
            const std::vector<ClientPattern> mix_patterns(patterns.begin(),
                                                          patterns.begin() + count);
            CORUN_TRY(auto measured,
                      run_mix(target, mix, mix_patterns, {}, options, "", nullptr,
                              trace_path(options, target.kind, workload, count, "measured")));
            std::vector<Measured> again;
            if (options.repeat) {
                CORUN_TRY(again, run_mix(target, mix, mix_patterns, {}, options));
            }
            corun::CapacityWorkload plan;
            plan.device = target.kind;
            plan.headroom = false;
            plan.anticipation = options.anticipation;
            for (size_t i = 0; i < count; ++i) {
                corun::PlannedModel model =
                    mix_patterns[i].rate > 0
                        ? corun::PlannedModel::at_rate(stem(mix[i]), mix_patterns[i].rate)
                        : corun::PlannedModel::closed_loop(stem(mix[i]), 1);
                // The pumps start together: every camera's first frame at 0; a pump waits for
                // room in the queue rather than dropping a frame.
                model.phase = std::chrono::nanoseconds(0);
                model.waits_when_full = options.cameras_wait;
                plan.models.push_back(model);
            }
            const auto profile =
                profile_for(section, target.kind, mix, measured, options.recalibrate_bracketed);
            CORUN_TRY(const auto predicted, corun::router::predict(profile, plan));
            // The other recalibration, side by side in the summary.
            CORUN_TRY(const auto predicted_other,
                      corun::router::predict(profile_for(section, target.kind, mix, measured,
                                                         !options.recalibrate_bracketed),
                                             plan));
            // And by each variant of the model.
            std::vector<corun::CapacityPrediction> predicted_variants;
            for (const ModelVariant& variant : MODEL_VARIANTS) {
                corun::router::DeviceProfile changed = section;
                variant.change(changed);
                CORUN_TRY(auto prediction,
                          corun::router::predict(profile_for(changed, target.kind, mix, measured,
                                                             options.recalibrate_bracketed),
                                                 plan));
                predicted_variants.push_back(std::move(prediction));
            }
            if (!options.trace_dir.empty()) {
                CORUN_RETURN_IF_ERROR(write_predicted_trace(
                    trace_path(options, target.kind, workload, count, "predicted"), profile, plan,
                    options));
            }
            std::string mix_name;
            for (const auto& path : mix) mix_name += (mix_name.empty() ? "" : "+") + stem(path);
            std::fprintf(text_out, "  %s, %zu models (%s):\n", workload.c_str(), count,
                         mix_name.c_str());
            Json run = {{"workload", workload}, {"mix", mix_name}, {"models", Json::array()}};
            for (size_t i = 0; i < count; ++i) {
                const auto& prediction = predicted.models[i];
                const double n = static_cast<double>(count);
                const auto& other = predicted_other.models[i];
                auto compare = [&](const char* percentile, double measured_ms, double predicted_ms,
                                   double solo_ms, double again_ms, double other_ms) {
                    return Comparison{target.kind, mix_name,    workload,     stem(mix[i]),
                                      percentile,  measured_ms, predicted_ms, n * solo_ms,
                                      again_ms,    other_ms};
                };
                Comparison p50 =
                    compare("p50", measured[i].p50, prediction.latency_p50_ms, solo[i].p50,
                            again.empty() ? 0.0 : again[i].p50, other.latency_p50_ms);
                Comparison p95 =
                    compare("p95", measured[i].p95, prediction.latency_p95_ms, solo[i].p95,
                            again.empty() ? 0.0 : again[i].p95, other.latency_p95_ms);
                Json variants_ms = Json::array();
                for (const auto& variant : predicted_variants) {
                    p50.variants.push_back(variant.models[i].latency_p50_ms);
                    p95.variants.push_back(variant.models[i].latency_p95_ms);
                    variants_ms.push_back({p50.variants.back(), p95.variants.back()});
                }
                std::fprintf(text_out,
                             "    %-24.24s %6.1f/s p50 %7.2f meas %7.2f pred (%5.1f%%) %7.2f rule "
                             "(%5.1f%%) | p95 %7.2f meas %7.2f pred (%5.1f%%) %7.2f rule "
                             "(%5.1f%%) | alone %.2f, %.2f after, %.2f in the mix (p95 %.2f)\n",
                             stem(mix[i]).c_str(), measured[i].frames / options.seconds,
                             p50.measured, p50.predicted, 100 * p50.error(), p50.rule,
                             100 * p50.rule_error(), p95.measured, p95.predicted, 100 * p95.error(),
                             p95.rule, 100 * p95.rule_error(), measured[i].alone_ms,
                             measured[i].alone_after_ms, measured[i].mix_device_ms,
                             measured[i].mix_device_p95_ms);
                if (!again.empty()) {
                    char rate[32];
                    std::snprintf(rate, sizeof rate, "%6.1f/s ", again[i].frames / options.seconds);
                    print_second_run(rate, p50, p95);
                }
                run["models"].push_back({{"name", stem(mix[i])},
                                         {"rate", mix_patterns[i].rate},
                                         {"frames", measured[i].frames},
                                         {"measured_p50_ms", p50.measured},
                                         {"predicted_p50_ms", p50.predicted},
                                         {"alone_before_ms", measured[i].alone_ms},
                                         {"alone_after_ms", measured[i].alone_after_ms},
                                         {"mix_device_ms", measured[i].mix_device_ms},
                                         {"mix_device_p95_ms", measured[i].mix_device_p95_ms},
                                         {"other_recalibration_p50_ms", p50.other},
                                         {"other_recalibration_p95_ms", p95.other},
                                         {"variants_p50_p95_ms", variants_ms},
                                         {"rule_p50_ms", p50.rule},
                                         {"measured_p95_ms", p95.measured},
                                         {"predicted_p95_ms", p95.predicted},
                                         {"rule_p95_ms", p95.rule},
                                         {"again_p50_ms", p50.again},
                                         {"again_p95_ms", p95.again}});
                comparisons.push_back(p50);
                comparisons.push_back(p95);
            }
            std::fflush(text_out);
            target_report["runs"].push_back(run);
        }
    }

    // The generative mix: a camera at 10 frames/s above normal priority, a model in a closed
    // loop, an LLM generating continuously.
    if (!llm_path.empty() && paths.size() >= 2) {
        const std::vector<std::string> mix = {paths[0], paths[1]};
        const std::vector<ClientPattern> mix_patterns = {{10.0}, {0.0}};
        const std::vector<uint8_t> priorities = {24, 16};
        corun::PlannedModel llm = corun::PlannedModel::closed_loop(stem(llm_path), 1);
        llm.prompt_tokens = 64;
        llm.max_tokens = 32;
        CORUN_TRY(auto measured,
                  run_mix(target, mix, mix_patterns, priorities, options, llm_path, &llm));
        std::vector<Measured> again;
        if (options.repeat) {
            CORUN_TRY(again,
                      run_mix(target, mix, mix_patterns, priorities, options, llm_path, &llm));
        }
        corun::CapacityWorkload plan;
        plan.device = target.kind;
        plan.headroom = false;
        plan.anticipation = options.anticipation;
        corun::PlannedModel camera = corun::PlannedModel::at_rate(stem(mix[0]), 10.0);
        camera.priority = 24;
        camera.phase = std::chrono::nanoseconds(0);
        camera.waits_when_full = options.cameras_wait;
        plan.models = {camera, corun::PlannedModel::closed_loop(stem(mix[1]), 1), llm};
        CORUN_TRY(const auto predicted,
                  corun::router::predict(profile_for(section, target.kind, mix, measured,
                                                     options.recalibrate_bracketed),
                                         plan));
        const std::string mix_name = stem(mix[0]) + "+" + stem(mix[1]) + "+" + stem(llm_path);
        std::fprintf(text_out, "  with an LLM (%s; camera 10 FPS at priority 24):\n",
                     mix_name.c_str());
        Json run = {{"workload", "llm"}, {"mix", mix_name}, {"models", Json::array()}};
        for (size_t i = 0; i < 3; ++i) {
            const auto& prediction = predicted.models[i];
            const bool generative = i == 2;
            const std::string name = generative ? stem(llm_path) + " TTFT" : stem(mix[i]);
            Comparison p50{target.kind,
                           mix_name,
                           "llm",
                           name,
                           "p50",
                           measured[i].p50,
                           generative ? prediction.ttft_p50_ms : prediction.latency_p50_ms,
                           0,
                           again.empty() ? 0.0 : again[i].p50};
            Comparison p95{target.kind,
                           mix_name,
                           "llm",
                           name,
                           "p95",
                           measured[i].p95,
                           generative ? prediction.ttft_p95_ms : prediction.latency_p95_ms,
                           0,
                           again.empty() ? 0.0 : again[i].p95};
            std::fprintf(text_out,
                         "    %-24.24s p50 %7.2f meas %7.2f pred (%5.1f%%) | p95 %7.2f meas "
                         "%7.2f pred (%5.1f%%)  (%llu measured)\n",
                         name.c_str(), p50.measured, p50.predicted, 100 * p50.error(), p95.measured,
                         p95.predicted, 100 * p95.error(),
                         static_cast<unsigned long long>(measured[i].frames));
            if (!again.empty()) print_second_run("", p50, p95);
            run["models"].push_back({{"name", name},
                                     {"measured_p50_ms", p50.measured},
                                     {"predicted_p50_ms", p50.predicted},
                                     {"again_p50_ms", p50.again},
                                     {"measured_p95_ms", p95.measured},
                                     {"predicted_p95_ms", p95.predicted},
                                     {"again_p95_ms", p95.again}});
            comparisons.push_back(p50);
            comparisons.push_back(p95);
        }
        target_report["runs"].push_back(run);
    }
    report["targets"].push_back(target_report);
    return corun::Status::ok();
}

}  // namespace

int main(int argc, char** argv) {
    Options options;
    for (int i = 1; i < argc; ++i) {
        const std::string arg = argv[i];
        auto next = [&]() -> std::string { return i + 1 < argc ? argv[++i] : ""; };
        if (arg == "--models") {
            options.models = split(next(), ',');
        } else if (arg == "--shape") {
            options.shapes.push_back(next());
        } else if (arg == "--seconds") {
            options.seconds = std::atof(next().c_str());
        } else if (arg == "--profile-seconds") {
            options.profile_seconds = std::atof(next().c_str());
        } else if (arg == "--slots") {
            options.slots = static_cast<uint32_t>(std::max(0, std::atoi(next().c_str())));
        } else if (arg == "--threads") {
            options.threads = static_cast<uint32_t>(std::max(0, std::atoi(next().c_str())));
        } else if (arg == "--llm") {
            options.llm = next();
        } else if (arg == "--no-llm") {
            options.no_llm = true;
        } else if (arg == "--skip-cpu") {
            options.skip_cpu = true;
        } else if (arg == "--skip-npu") {
            options.skip_npu = true;
        } else if (arg == "--recalibrate") {
            options.recalibrate_seconds = std::atof(next().c_str());
        } else if (arg == "--recalibrate-before-only") {
            options.recalibrate_bracketed = false;
        } else if (arg == "--no-repeat") {
            options.repeat = false;
        } else if (arg == "--anticipation-us") {
            options.anticipation = std::chrono::microseconds(std::atoll(next().c_str()));
        } else if (arg == "--cameras-drop") {
            options.cameras_wait = false;
        } else if (arg == "--closed-loop-in-time") {
            const auto share = number_from_zero(arg, next(), 1, "a share from 0 to 1");
            if (!share) return 2;
            options.closed_loop_in_time = *share;
        } else if (arg == "--speed-share") {
            const auto share = number_from_zero(arg, next(), 1, "a share from 0 to 1");
            if (!share) return 2;
            options.speed_share = *share;
        } else if (arg == "--speed-memory-ms") {
            const auto memory = number_from_zero(
                arg, next(), std::numeric_limits<double>::infinity(), "milliseconds >= 0");
            if (!memory) return 2;
            options.speed_memory_ms = *memory;
        } else if (arg == "--trace") {
            options.trace_dir = next();
            if (options.trace_dir.empty()) return usage();
        } else if (arg == "--json") {
            options.json = true;
        } else {
            return usage();
        }
    }
    if (!(options.seconds > 0 && options.seconds <= 600) ||
        !(options.recalibrate_seconds >= 0 && options.recalibrate_seconds <= 60) ||
        !(options.profile_seconds > 0 && options.profile_seconds <= 600)) {
        return usage();
    }
    if (!options.trace_dir.empty() && !std::filesystem::is_directory(options.trace_dir)) {
        std::cerr << "capacity_bench: --trace " << options.trace_dir
                  << " is not a directory; create it first\n";
        return 2;
    }
    if (options.models.empty()) options.models = default_models();
    if (options.models.size() < 2 || options.models.size() > 8) {
        std::cerr << "capacity_bench needs 2..8 models (--models A,B[,C,D]); run "
                     "scripts/fetch_models.sh for the default ones\n";
        return 2;
    }
    if (options.llm.empty()) {
        const std::string tiny = std::string(CORUN_TEST_MODEL_DIR) + "/genai/tiny_qwen2.gguf";
        if (std::filesystem::exists(tiny)) options.llm = tiny;
    }
    if (options.json) text_out = stderr;
    const double load_at_start = load_average();
    std::fprintf(text_out,
                 "capacity_bench: %u cores, %.1f s per run, profile %.1f s per phase, cpu %u "
                 "slot(s) x %u thread(s), frame times recalibrated %.1f s %s each mix; load "
                 "average %.2f before it started (above 0.5, other work skews the figures)\n",
                 std::thread::hardware_concurrency(), options.seconds, options.profile_seconds,
                 options.slots, options.threads, options.recalibrate_seconds,
                 options.recalibrate_bracketed ? "before and after" : "before", load_at_start);
    Json report = {{"seconds", options.seconds},
                   {"profile_seconds", options.profile_seconds},
                   {"recalibrate_seconds", options.recalibrate_seconds},
                   {"recalibrate_bracketed", options.recalibrate_bracketed},
                   {"anticipation_us", options.anticipation.count()},
                   {"load_average_at_start", load_at_start},
                   {"cpu_slots", options.slots},
                   {"cpu_threads", options.threads},
                   {"targets", Json::array()}};
    std::vector<Target> targets;
    if (!options.skip_cpu) {
        Target cpu{"cpu", {}};
        cpu.params.device_ids = {"cpu:0"};
        cpu.params.cpu.execution_slots = options.slots;
        cpu.params.cpu.intra_op_threads = options.threads;
        cpu.params.scheduler.anticipation = options.anticipation;
        targets.push_back(cpu);
    }
    std::string npu_profile;
    if (!options.skip_npu) {
        // npu-sim with the models' cpu frame times, measured here alone (the npu-sim device
        // needs a timing profile to run at all; the capacity model then uses the profile
        // measured on npu-sim itself).
        corun::devices::npu_sim::NpuTimingModel timing;
        Target probe{"cpu", {}};
        probe.params.device_ids = {"cpu:0"};
        auto loaded = load(probe, options.models, {}, options.shapes);
        if (!loaded) {
            std::cerr << "capacity_bench: " << loaded.status() << "\n";
            return 1;
        }
        for (auto* model : loaded->pointers()) {
            corun::tools::PumpOptions pump;
            pump.seconds = options.profile_seconds / 2;
            pump.in_flight = 1;
            auto result = corun::tools::pump_frames(*model->configured, model->slots, pump);
            if (!result) {
                std::cerr << "capacity_bench: " << result.status() << "\n";
                return 1;
            }
            corun::devices::npu_sim::ModelTiming model_timing;
            model_timing.frame = std::chrono::nanoseconds(static_cast<int64_t>(
                std::max(0.05, corun::tools::LatencySummary::of(result->device).p50) * 1e6));
            timing.models[model->name()] = model_timing;
        }
        npu_profile = (std::filesystem::temp_directory_path() /
                       ("capacity_bench_npu_" + std::to_string(getpid()) + ".json"))
                          .string();
        std::ofstream(npu_profile) << corun::devices::npu_sim::npu_profile_to_json(timing);
        Target npu{"npu-sim", {}};
        npu.params.device_ids = {"npu-sim:0"};
        npu.params.npu_sim.profile_path = npu_profile;
        npu.params.npu_sim.compute_outputs = false;
        npu.params.scheduler.anticipation = options.anticipation;
        targets.push_back(npu);
    }
    std::vector<Comparison> comparisons;
    for (const auto& target : targets) {
        corun::Status status = bench_target(target, options, comparisons, report);
        if (!status.is_ok()) {
            std::cerr << "capacity_bench: " << target.kind << ": " << status << "\n";
            if (!npu_profile.empty()) std::filesystem::remove(npu_profile);
            return 1;
        }
    }
    if (!npu_profile.empty()) std::filesystem::remove(npu_profile);

    std::fprintf(text_out,
                 "\nAbsolute error of p50 and p95 per model (target: median <= 10%%, worst <= "
                 "20%%), against the \"N x solo latency\" rule on the same runs:\n");
    report["summary"] = Json::array();
    std::vector<std::string> scopes;
    for (const auto& target : targets) scopes.push_back(target.kind);
    scopes.push_back("");
    for (const auto& scope : scopes) {
        const Summary summary = summarise(comparisons, scope);
        const std::string label = scope.empty() ? "all" : scope;
        const bool met = summary.model.median <= 0.10 && summary.model.worst <= 0.20;
        std::fprintf(text_out,
                     "  %-8s %3zu figures: capacity model median %5.1f%% worst %6.1f%% (%s); "
                     "N x solo median %5.1f%% worst %6.1f%%\n",
                     label.c_str(), summary.count, 100 * summary.model.median,
                     100 * summary.model.worst, met ? "target met" : "MISSED",
                     100 * summary.rule.median, 100 * summary.rule.worst);
        if (summary.other.worst > 0) {
            std::fprintf(
                text_out, "  %-8s %3s          recalibrated %s: median %5.1f%% worst %6.1f%%\n", "",
                "",
                options.recalibrate_bracketed ? "before the mix only" : "before and after the mix",
                100 * summary.other.median, 100 * summary.other.worst);
        }
        Json variants = Json::array();
        for (size_t v = 0; v < summary.variants.size(); ++v) {
            std::fprintf(text_out, "  %-8s %3s          %s: median %5.1f%% worst %6.1f%%\n", "", "",
                         MODEL_VARIANTS[v].name, 100 * summary.variants[v].median,
                         100 * summary.variants[v].worst);
            variants.push_back({{"variant", MODEL_VARIANTS[v].name},
                                {"median_error", summary.variants[v].median},
                                {"worst_error", summary.variants[v].worst}});
        }
        if (options.repeat) {
            std::fprintf(text_out,
                         "  %-8s %3s          the same mixes run again (run-to-run floor): "
                         "median %5.1f%% worst %6.1f%%\n",
                         "", "", 100 * summary.again.median, 100 * summary.again.worst);
        }
        report["summary"].push_back({{"scope", label},
                                     {"figures", summary.count},
                                     {"median_error", summary.model.median},
                                     {"worst_error", summary.model.worst},
                                     {"rule_median_error", summary.rule.median},
                                     {"rule_worst_error", summary.rule.worst},
                                     {"other_recalibration_median_error", summary.other.median},
                                     {"other_recalibration_worst_error", summary.other.worst},
                                     {"model_variants", variants},
                                     {"run_to_run_median_error", summary.again.median},
                                     {"run_to_run_worst_error", summary.again.worst},
                                     {"target_met", met}});
    }
    report["load_average_at_end"] = load_average();
    std::fprintf(text_out, "load average at the end: %.2f\n", load_average());
    if (options.json) std::cout << report.dump(2) << "\n";
    return 0;
}
