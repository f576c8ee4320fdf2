// Issue 4's sharing benchmark: two and three real models on one machine, every client keeping
// its queue full, measured side by side in one run:
//   - naive baselines: one bare ONNX Runtime session per model, each in its own thread, all at
//     once; once with default intra-op threads and once with one thread per session; and two
//     references that are not baselines: default threads without ONNX Runtime's spin-waiting,
//     and time slicing by hand (one thread runs the sessions in turn);
//   - corun on the cpu device in several sharing modes (execution slots x intra-op threads);
//   - normalised combined throughput = sum over models of (FPS together / FPS solo), where solo
//     is the model alone on a bare session with the whole machine (default threads);
//   - the priority figure: one model at 10 frames/s beside two saturating models, with priority
//     24 against 16 and with all priorities equal: its p95 latency against its solo p95 plus one
//     frame of the longest other model;
//   - npu-sim with the measured frame times: virtual time (simulate()) and real time.
// Configurations alternate within each round and rounds repeat, so machine noise hits every
// configuration alike; figures are medians over rounds.
//
// Default models (scripts/fetch_models.sh): mobilefacenet, nanodet and blazeface-256, about 8, 22
// and 7 ms per frame alone on two cores; the two-model set is the first two.
//
//   sharing_bench [--models A.onnx,B.onnx,C.onnx] [--shape NAME=dims] [--seconds 2] [--rounds 2]
//                 [--priority-seconds 3] [--skip-priority] [--skip-npu] [--urgent-only] [--json]
// --urgent-only: only the solo frame times and the urgent figure (issue 13, item 5) for the
// default mode, against naive threads, `--rounds` times, with where the urgent frame's time went
// (queue and device p95).
#include <unistd.h>
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <latch>
#include <map>
#include <random>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include <onnxruntime_cxx_api.h>
#include <nlohmann/json.hpp>

#include "bench_support.hpp"
#include "cli_support.hpp"
#include "corun/corun.hpp"
#include "devices/cpu/onnx_element_type.hpp"
#include "devices/npu_sim/npu_timing_model.hpp"
#include "frame_pump.hpp"
#include "scheduler/virtual_time_simulation.hpp"

namespace {

using corun::bench::load_average;
using corun::bench::median;
using corun::bench::split;
using Clock = std::chrono::steady_clock;
using Json = nlohmann::json;
using corun::tools::LatencySummary;
using corun::tools::percentile;

FILE* text_out = stdout;  // the human-readable report (stderr with --json)

struct InputTensor {
    std::string name;
    corun::FormatType type = corun::FormatType::FLOAT32;
    std::vector<int64_t> dims;
    std::vector<uint8_t> data;
};

// One model of the benchmark: its file, the shapes that fix its dynamic inputs, and the
// native inputs a bare session feeds it.
struct ModelSpec {
    std::string path;
    std::string name;
    std::vector<std::string> shapes;
    std::vector<InputTensor> inputs;
    std::vector<std::string> output_names;
};

// Learns each model's native inputs from corun (after --shape), and fills them with noise.
corun::Status describe(ModelSpec& spec) {
    corun::VDeviceParams params;
    params.group_id = "sharing-bench-probe";
    CORUN_TRY(auto vdevice, corun::VDevice::create(params));
    CORUN_TRY(auto model, vdevice->create_infer_model(spec.path));
    spec.name = model->info().name;
    for (const auto& text : spec.shapes) {
        CORUN_TRY(auto shape, corun::tools::parse_shape_option(text));
        auto stream = model->input(shape.first);
        if (!stream) continue;  // one --shape list for every model
        CORUN_RETURN_IF_ERROR(stream->set_shape(shape.second));
    }
    std::mt19937 random(11);
    for (const auto& stream : model->inputs()) {
        InputTensor tensor{stream.name(), stream.native_format().type, stream.native_shape(), {}};
        size_t elements = 1;
        for (int64_t dim : tensor.dims) {
            if (dim <= 0) {
                return corun::Status(corun::StatusCode::INVALID_ARGUMENT,
                                     spec.path + ": input '" + stream.name() +
                                         "' has dynamic dims; fix them with --shape NAME=dims");
            }
            elements *= static_cast<size_t>(dim);
        }
        tensor.data.resize(elements * corun::format_type_size(tensor.type));
        if (tensor.type == corun::FormatType::FLOAT32) {
            std::uniform_real_distribution<float> values(0.f, 1.f);
            auto* floats = reinterpret_cast<float*>(tensor.data.data());
            for (size_t i = 0; i < elements; ++i) floats[i] = values(random);
        } else {
            for (auto& byte : tensor.data) byte = static_cast<uint8_t>(random() % 8);
        }
        spec.inputs.push_back(std::move(tensor));
    }
    spec.output_names = model->get_output_names();
    return corun::Status::ok();
}

// The naive baseline: a bare ONNX Runtime session, inputs preallocated, outputs allocated by ORT.
class BareSession {
public:
    BareSession(Ort::Env& env, ModelSpec& spec, int threads, bool spinning = true)
        : session_(nullptr) {
        Ort::SessionOptions options;
        options.SetIntraOpNumThreads(threads);
        // ONNX Runtime's default: idle intra-op threads spin before they sleep.
        options.AddConfigEntry("session.intra_op.allow_spinning", spinning ? "1" : "0");
        options.SetInterOpNumThreads(1);
        options.SetGraphOptimizationLevel(GraphOptimizationLevel::ORT_ENABLE_ALL);
        session_ = Ort::Session(env, spec.path.c_str(), options);
        auto memory = Ort::MemoryInfo::CreateCpu(OrtArenaAllocator, OrtMemTypeDefault);
        for (auto& tensor : spec.inputs) {
            input_names_.push_back(tensor.name.c_str());
            input_values_.push_back(Ort::Value::CreateTensor(
                memory, tensor.data.data(), tensor.data.size(), tensor.dims.data(),
                tensor.dims.size(), corun::devices::cpu::onnx_type_of(tensor.type)));
        }
        for (const auto& name : spec.output_names) output_names_.push_back(name.c_str());
    }
    void run() {
        auto outputs =
            session_.Run(Ort::RunOptions{nullptr}, input_names_.data(), input_values_.data(),
                         input_values_.size(), output_names_.data(), output_names_.size());
        (void)outputs;
    }

private:
    Ort::Session session_;
    std::vector<const char*> input_names_, output_names_;
    std::vector<Ort::Value> input_values_;
};

// What one client achieved in one run.
struct ClientResult {
    uint64_t frames = 0;
    double seconds = 0;
    std::vector<double> latency_ms;  // naive: Run(); corun: run_async() to completion
    std::vector<double> device_ms;   // corun only: execution on the device
    std::vector<double> queue_ms;    // corun only: waiting for the device
    double fps() const { return seconds > 0 ? frames / seconds : 0; }
};

// Bare sessions, one client thread each, all at once. framerate 0 = back to back.
std::vector<ClientResult> run_naive(Ort::Env& env, std::vector<ModelSpec*> specs, int threads,
                                    double seconds, std::vector<double> framerates = {},
                                    bool spinning = true) {
    framerates.resize(specs.size(), 0.0);
    std::vector<std::unique_ptr<BareSession>> sessions;
    for (auto* spec : specs) {
        sessions.push_back(std::make_unique<BareSession>(env, *spec, threads, spinning));
        for (int i = 0; i < 2; ++i) sessions.back()->run();  // warm up
    }
    std::vector<ClientResult> results(specs.size());
    std::latch start(static_cast<std::ptrdiff_t>(specs.size()));
    std::vector<std::thread> clients;
    for (size_t i = 0; i < specs.size(); ++i) {
        clients.emplace_back([&, i] {
            start.arrive_and_wait();
            const auto begin = Clock::now();
            const auto end = begin + std::chrono::duration_cast<Clock::duration>(
                                         std::chrono::duration<double>(seconds));
            const auto period = framerates[i] > 0
                                    ? std::chrono::duration_cast<Clock::duration>(
                                          std::chrono::duration<double>(1.0 / framerates[i]))
                                    : Clock::duration::zero();
            auto next_due = begin;
            while (Clock::now() < end) {
                if (period > Clock::duration::zero()) {
                    std::this_thread::sleep_until(std::min(next_due, end));
                    if (Clock::now() >= end) break;
                    const auto now = Clock::now();
                    next_due = now - next_due > period ? now + period : next_due + period;
                }
                const auto started = Clock::now();
                sessions[i]->run();
                results[i].latency_ms.push_back(
                    std::chrono::duration<double, std::milli>(Clock::now() - started).count());
                ++results[i].frames;
            }
            results[i].seconds = std::chrono::duration<double>(Clock::now() - begin).count();
        });
    }
    for (auto& client : clients) client.join();
    return results;
}

// The urgent camera's naive baselines (no priorities to give), as the issue compares with
// them: alone on a bare session with default threads, and beside the two saturating models as
// naive threads, one thread each and default threads, the better of the two counting.
struct NaiveUrgentBaseline {
    std::vector<double> solo_ms;
    std::vector<double> one_thread_ms, default_threads_ms;
    double solo_p95 = 0, one_thread_p95 = 0, default_threads_p95 = 0;
    double best_p95() const { return std::min(one_thread_p95, default_threads_p95); }
    const std::vector<double>& best_ms() const {
        return one_thread_p95 <= default_threads_p95 ? one_thread_ms : default_threads_ms;
    }
};

NaiveUrgentBaseline naive_urgent_baseline(Ort::Env& env, const std::vector<ModelSpec*>& mix,
                                          double seconds) {
    NaiveUrgentBaseline baseline;
    baseline.solo_ms = std::move(run_naive(env, {mix[0]}, 0, seconds, {10.0})[0].latency_ms);
    baseline.one_thread_ms = std::move(run_naive(env, mix, 1, seconds, {10.0, 0, 0})[0].latency_ms);
    baseline.default_threads_ms =
        std::move(run_naive(env, mix, 0, seconds, {10.0, 0, 0})[0].latency_ms);
    baseline.solo_p95 = percentile(baseline.solo_ms, 95);
    baseline.one_thread_p95 = percentile(baseline.one_thread_ms, 95);
    baseline.default_threads_p95 = percentile(baseline.default_threads_ms, 95);
    return baseline;
}

// Time slicing by hand: one thread runs the models' bare sessions in turn, one frame each, every
// session with the default threads and no spinning: one inference at a time with the whole
// machine, the ideal that an NPU-style scheduler on the CPU can reach.
std::vector<ClientResult> run_time_sliced(Ort::Env& env, std::vector<ModelSpec*> specs,
                                          double seconds) {
    std::vector<std::unique_ptr<BareSession>> sessions;
    for (auto* spec : specs) {
        sessions.push_back(std::make_unique<BareSession>(env, *spec, 0, false));
        for (int i = 0; i < 2; ++i) sessions.back()->run();
    }
    std::vector<ClientResult> results(specs.size());
    const auto begin = Clock::now();
    const auto end =
        begin + std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(seconds));
    while (Clock::now() < end) {
        for (size_t i = 0; i < sessions.size(); ++i) {
            const auto started = Clock::now();
            sessions[i]->run();
            results[i].latency_ms.push_back(
                std::chrono::duration<double, std::milli>(Clock::now() - started).count());
            ++results[i].frames;
        }
    }
    const double elapsed = std::chrono::duration<double>(Clock::now() - begin).count();
    for (auto& result : results) result.seconds = elapsed;
    return results;
}

struct CorunConfig {
    std::string label;
    uint32_t threads = 0;  // intra-op threads per inference (0 = one per core)
    uint32_t slots = 1;    // inferences at once
    std::string device = "cpu";
    std::string profile;      // npu-sim
    uint16_t batch_size = 0;  // 0 = corun's default
    uint32_t latency_slots = 0;
};

// corun: one device group, every model configured on it, each driven by its own thread.
corun::Expected<std::vector<ClientResult>> run_corun(const CorunConfig& config,
                                                     std::vector<ModelSpec*> specs, double seconds,
                                                     std::vector<double> framerates = {},
                                                     std::vector<uint32_t> priorities = {},
                                                     bool first_runs_synchronously = false) {
    framerates.resize(specs.size(), 0.0);
    priorities.resize(specs.size(), 16);
    corun::VDeviceParams params;
    params.group_id = "sharing-bench-" + config.label;
    params.cpu.intra_op_threads = config.threads;
    params.cpu.execution_slots = config.slots;
    params.cpu.latency_slots = config.latency_slots;
    if (config.device == "npu-sim") {
        params.device_ids = {"npu-sim:0"};
        params.npu_sim.profile_path = config.profile;
        params.npu_sim.compute_outputs = false;
    } else {
        params.device_ids = {"cpu:0"};
    }
    CORUN_TRY(auto vdevice, corun::VDevice::create(params));
    std::vector<std::unique_ptr<corun::tools::PreparedModel>> models;
    std::vector<corun::tools::PumpTask> tasks;
    for (size_t i = 0; i < specs.size(); ++i) {
        corun::tools::ModelSetup setup;
        setup.path = specs[i]->path;
        setup.shapes = specs[i]->shapes;
        setup.skip_missing_inputs = true;
        setup.batch_size = config.batch_size;
        CORUN_TRY(auto prepared, corun::tools::prepare_model(*vdevice, setup));
        CORUN_RETURN_IF_ERROR(prepared->configured->set_scheduler_priority(priorities[i]));
        corun::tools::PumpOptions warmup;
        warmup.frames = 2 * prepared->queue_size;
        CORUN_TRY(auto ignored,
                  corun::tools::pump_frames(*prepared->configured, prepared->slots, warmup));
        (void)ignored;
        models.push_back(std::move(prepared));
    }
    // Warm up together too: on the default (automatic) device, a model's one-core session is
    // built the first time it runs beside another, once per process; a long-running application
    // pays it at its start, not in every measured window.
    if (specs.size() > 1) {
        std::vector<corun::tools::PumpTask> warmups;
        for (auto& model : models) {
            corun::tools::PumpTask warmup;
            warmup.model = model.get();
            warmup.options.frames = 4 * model->queue_size;
            warmups.push_back(std::move(warmup));
        }
        for (auto& result : corun::tools::pump_together(warmups)) {
            if (!result) return result.status();
        }
    }
    for (size_t i = 0; i < specs.size(); ++i) {
        corun::tools::PumpTask task;
        task.model = models[i].get();
        task.options.seconds = seconds;
        task.options.framerate = framerates[i];
        task.options.keep_every_frame = true;  // percentiles over the rounds
        task.options.synchronous = i == 0 && first_runs_synchronously;
        tasks.push_back(std::move(task));
    }
    auto pumped = corun::tools::pump_together(tasks);
    std::vector<ClientResult> results;
    for (auto& result : pumped) {
        if (!result) return result.status();
        ClientResult client;
        client.frames = result->frames;
        client.seconds = result->seconds;
        client.latency_ms = std::move(result->total_ms);
        client.device_ms = std::move(result->device_ms);
        client.queue_ms = std::move(result->queue_ms);
        results.push_back(std::move(client));
    }
    return results;
}

// One configuration's figures over the rounds.
struct ConfigFigures {
    std::string label;
    std::string kind;                              // naive, corun
    std::vector<double> normalised;                // per round
    std::vector<std::vector<double>> fps;          // [model][round]
    std::vector<std::vector<double>> latency_p50;  // [model][round]
    std::vector<std::vector<double>> device_p50;   // [model][round], corun
};

void record(ConfigFigures& figures, const std::vector<ClientResult>& results,
            const std::vector<double>& solo_fps) {
    figures.fps.resize(results.size());
    figures.latency_p50.resize(results.size());
    figures.device_p50.resize(results.size());
    double normalised = 0;
    for (size_t i = 0; i < results.size(); ++i) {
        figures.fps[i].push_back(results[i].fps());
        figures.latency_p50[i].push_back(percentile(results[i].latency_ms, 50));
        figures.device_p50[i].push_back(percentile(results[i].device_ms, 50));
        if (solo_fps[i] > 0) normalised += results[i].fps() / solo_fps[i];
    }
    figures.normalised.push_back(normalised);
}

struct Options {
    std::vector<std::string> models;
    std::vector<std::string> shapes;
    double seconds = 2;
    int rounds = 2;
    double priority_seconds = 3;
    bool skip_priority = false;
    bool skip_npu = false;
    bool urgent_only = false;
    bool json = false;
};

std::vector<std::string> default_models() {
    const std::string cache = corun::tools::model_cache_dir();
    const std::vector<std::string> candidates = {
        cache + "/models/mobilefacenet/mobilefacenet.onnx",
        cache + "/models/nanodet/nanodet.onnx",
        cache + "/models/blazeface-256/face_detection_back_256x256_barracuda.onnx",
    };
    std::vector<std::string> found;
    for (const auto& path : candidates) {
        if (std::filesystem::exists(path)) found.push_back(path);
    }
    if (found.size() == candidates.size()) return found;
#ifdef CORUN_TEST_MODEL_DIR
    return {std::string(CORUN_TEST_MODEL_DIR) + "/slow_matmul.onnx",
            std::string(CORUN_TEST_MODEL_DIR) + "/conv_nchw.onnx",
            std::string(CORUN_TEST_MODEL_DIR) + "/slow_matmul.onnx"};
#else
    return found;
#endif
}

int usage() {
    std::cerr << "usage: sharing_bench [--models A.onnx,B.onnx,C.onnx] [--shape NAME=dims]... "
                 "[--seconds 2] [--rounds 2] [--priority-seconds 3] [--skip-priority] "
                 "[--skip-npu] [--urgent-only] [--json]\n";
    return 2;
}

Json summary_json(const ConfigFigures& figures, const std::vector<ModelSpec*>& set) {
    Json models = Json::array();
    for (size_t i = 0; i < set.size(); ++i) {
        models.push_back({{"name", set[i]->name},
                          {"fps", median(figures.fps[i])},
                          {"latency_p50_ms", median(figures.latency_p50[i])},
                          {"device_p50_ms", median(figures.device_p50[i])}});
    }
    return {{"label", figures.label},
            {"kind", figures.kind},
            {"normalised_throughput", median(figures.normalised)},
            {"normalised_rounds", figures.normalised},
            {"models", models}};
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
        } else if (arg == "--rounds") {
            options.rounds = std::max(1, std::atoi(next().c_str()));
        } else if (arg == "--priority-seconds") {
            options.priority_seconds = std::atof(next().c_str());
        } else if (arg == "--skip-priority") {
            options.skip_priority = true;
        } else if (arg == "--skip-npu") {
            options.skip_npu = true;
        } else if (arg == "--urgent-only") {
            options.urgent_only = true;
            options.skip_npu = true;
        } else if (arg == "--json") {
            options.json = true;
        } else {
            return usage();
        }
    }
    if (options.seconds <= 0 || options.priority_seconds <= 0) return usage();
    if (options.models.empty()) options.models = default_models();
    if (options.models.size() < 2) {
        std::cerr << "sharing_bench needs at least two models (--models A,B[,C]); run "
                     "scripts/fetch_models.sh for the default ones\n";
        return 2;
    }
    if (options.json) text_out = stderr;

    std::vector<ModelSpec> specs(options.models.size());
    for (size_t i = 0; i < specs.size(); ++i) {
        specs[i].path = options.models[i];
        specs[i].shapes = options.shapes;
        corun::Status status = describe(specs[i]);
        if (!status.is_ok()) {
            std::cerr << "sharing_bench: " << status << "\n";
            return 1;
        }
    }
    Ort::Env env(ORT_LOGGING_LEVEL_ERROR, "sharing_bench");
    const unsigned cores = std::thread::hardware_concurrency();
    const double load_at_start = load_average();
    std::fprintf(text_out,
                 "sharing_bench: %u cores, %.1f s per configuration, %d round(s), load average "
                 "%.2f before it started (above 0.5, other work skews the figures)\n",
                 cores, options.seconds, options.rounds, load_at_start);

    // The model sets: the first two, then all three.
    std::vector<std::vector<ModelSpec*>> sets;
    sets.push_back({&specs[0], &specs[1]});
    if (specs.size() >= 3) sets.push_back({&specs[0], &specs[1], &specs[2]});
    // The first is corun's default: the cpu device shares its cores by itself (slots 0).
    const std::vector<CorunConfig> corun_configs = {
        {"corun default (auto)", 0, 0, "cpu", ""},
        {"corun slots1 x threads0", 0, 1, "cpu", ""},
        {"corun slots2 x threads1", 1, 2, "cpu", ""},
        {"corun slots2 x threads0", 0, 2, "cpu", ""},
        {"corun slots1 x threads1", 1, 1, "cpu", ""},
        {"corun slots2 x threads1 batch4", 1, 2, "cpu", "", 4},
        {"corun slots2+1 latency x threads1", 1, 2, "cpu", "", 0, 1},
    };

    // solo[model][round]: FPS and median latency alone on a bare session, default threads.
    std::vector<std::vector<double>> solo_fps(specs.size()), solo_p50(specs.size());
    std::vector<std::vector<ConfigFigures>> figures(sets.size());
    for (size_t s = 0; s < sets.size(); ++s) {
        figures[s].push_back({"naive default threads", "naive", {}, {}, {}, {}});
        figures[s].push_back({"naive 1 thread each", "naive", {}, {}, {}, {}});
        figures[s].push_back({"naive default, no spinning", "reference", {}, {}, {}, {}});
        figures[s].push_back({"time-sliced, no spinning", "reference", {}, {}, {}, {}});
        for (const auto& config : corun_configs) {
            figures[s].push_back({config.label, "corun", {}, {}, {}, {}});
        }
    }
    try {
        for (int round = 0; round < options.rounds; ++round) {
            std::fprintf(text_out, "round %d/%d: solo", round + 1, options.rounds);
            std::vector<double> round_solo_fps;
            for (size_t m = 0; m < specs.size(); ++m) {
                auto result = run_naive(env, {&specs[m]}, 0, options.seconds);
                solo_fps[m].push_back(result[0].fps());
                solo_p50[m].push_back(percentile(result[0].latency_ms, 50));
                round_solo_fps.push_back(result[0].fps());
                std::fprintf(text_out, " %s %.1f FPS", specs[m].name.c_str(), result[0].fps());
                std::fflush(text_out);
            }
            std::fprintf(text_out, "\n");
            for (size_t s = 0; !options.urgent_only && s < sets.size(); ++s) {
                std::vector<double> set_solo;
                for (auto* spec : sets[s]) {
                    set_solo.push_back(round_solo_fps[static_cast<size_t>(spec - specs.data())]);
                }
                size_t c = 0;
                record(figures[s][c++], run_naive(env, sets[s], 0, options.seconds), set_solo);
                record(figures[s][c++], run_naive(env, sets[s], 1, options.seconds), set_solo);
                record(figures[s][c++], run_naive(env, sets[s], 0, options.seconds, {}, false),
                       set_solo);
                record(figures[s][c++], run_time_sliced(env, sets[s], options.seconds), set_solo);
                for (const auto& config : corun_configs) {
                    auto results = run_corun(config, sets[s], options.seconds);
                    if (!results) {
                        std::cerr << "sharing_bench: " << config.label << ": " << results.status()
                                  << "\n";
                        return 1;
                    }
                    record(figures[s][c++], *results, set_solo);
                }
                std::fprintf(text_out, "  %zu models:", sets[s].size());
                for (const auto& config : figures[s]) {
                    std::fprintf(text_out, " [%s %.3f]", config.label.c_str(),
                                 config.normalised.back());
                }
                std::fprintf(text_out, "\n");
                std::fflush(text_out);
            }
        }
    } catch (const Ort::Exception& error) {
        std::cerr << "sharing_bench: ONNX Runtime: " << error.what() << "\n";
        return 1;
    }

    Json report = {{"cores", cores},
                   {"load_average_at_start", load_at_start},
                   {"seconds", options.seconds},
                   {"rounds", options.rounds},
                   {"models", Json::array()},
                   {"sets", Json::array()}};
    std::fprintf(text_out, "\nSolo (bare ONNX Runtime, default threads, whole machine):\n");
    for (size_t m = 0; m < specs.size(); ++m) {
        std::fprintf(text_out, "  %-40s %7.1f FPS  p50 %7.2f ms\n", specs[m].name.c_str(),
                     median(solo_fps[m]), median(solo_p50[m]));
        report["models"].push_back({{"name", specs[m].name},
                                    {"path", specs[m].path},
                                    {"solo_fps", median(solo_fps[m])},
                                    {"solo_p50_ms", median(solo_p50[m])}});
    }
    for (size_t s = 0; !options.urgent_only && s < sets.size(); ++s) {
        std::fprintf(text_out,
                     "\n%zu models together: normalised combined throughput (1.0 = as good as "
                     "running them one after another alone)\n",
                     sets[s].size());
        std::fprintf(text_out, "  %-26s %10s", "configuration", "normalised");
        for (auto* spec : sets[s]) std::fprintf(text_out, "  %18.18s", spec->name.c_str());
        std::fprintf(text_out, "\n");
        Json set = {{"models", Json::array()}, {"configs", Json::array()}};
        for (auto* spec : sets[s]) set["models"].push_back(spec->name);
        double best_naive = 0, best_corun = 0;
        std::string best_naive_label, best_corun_label;
        for (const auto& config : figures[s]) {
            const double normalised = median(config.normalised);
            std::fprintf(text_out, "  %-26s %10.3f", config.label.c_str(), normalised);
            for (size_t i = 0; i < sets[s].size(); ++i) {
                std::fprintf(text_out, "  %6.1f FPS %5.1f ms", median(config.fps[i]),
                             median(config.latency_p50[i]));
            }
            std::fprintf(text_out, "\n");
            set["configs"].push_back(summary_json(config, sets[s]));
            if (config.kind == "reference") continue;  // not one of the baselines
            double& best = config.kind == "naive" ? best_naive : best_corun;
            std::string& label = config.kind == "naive" ? best_naive_label : best_corun_label;
            if (normalised > best) {
                best = normalised;
                label = config.label;
            }
        }
        std::fprintf(text_out,
                     "  best naive: %s %.3f; best corun: %s %.3f (%+.1f%%)\n"
                     "  (FPS and median latency per model; naive latency = Run(), corun latency = "
                     "run_async() to completion, queue of 2 included)\n",
                     best_naive_label.c_str(), best_naive, best_corun_label.c_str(), best_corun,
                     best_naive > 0 ? 100.0 * (best_corun / best_naive - 1) : 0.0);
        set["best_naive"] = {{"label", best_naive_label}, {"normalised_throughput", best_naive}};
        set["best_corun"] = {{"label", best_corun_label}, {"normalised_throughput", best_corun}};
        set["corun_beats_naive"] = best_corun > best_naive;
        // The default against the best fixed sharing mode (slots x threads; batch 1, since a
        // larger batch is the user's trade of latency for throughput, not a sharing mode).
        double default_mode = 0, best_fixed = 0;
        std::string best_fixed_label;
        for (const auto& config : figures[s]) {
            if (config.kind != "corun" || config.label.find("batch") != std::string::npos) continue;
            const double normalised = median(config.normalised);
            if (config.label == corun_configs.front().label) {
                default_mode = normalised;
            } else if (normalised > best_fixed) {
                best_fixed = normalised;
                best_fixed_label = config.label;
            }
        }
        const double default_ratio = best_fixed > 0 ? default_mode / best_fixed : 0;
        std::fprintf(text_out,
                     "  default (auto) %.3f vs best fixed mode %s %.3f: %.3f (target >= 0.95)\n",
                     default_mode, best_fixed_label.c_str(), best_fixed, default_ratio);
        set["default_vs_best_fixed"] = {{"default", default_mode},
                                        {"best_fixed_label", best_fixed_label},
                                        {"best_fixed", best_fixed},
                                        {"ratio", default_ratio}};
        report["sets"].push_back(set);
    }

    // Solo frame time of each model (bare, whole machine): the "one frame" of the priority bound.
    std::vector<double> frame_ms(specs.size());
    for (size_t m = 0; m < specs.size(); ++m) frame_ms[m] = median(solo_p50[m]);

    // The latency-critical model: the fastest of the three; the other two saturate.
    size_t fast = 0;
    for (size_t m = 1; m < std::min<size_t>(3, specs.size()); ++m) {
        if (frame_ms[m] < frame_ms[fast]) fast = m;
    }
    std::vector<ModelSpec*> mix = {&specs[fast]};
    double longest_other = 0;
    for (size_t m = 0; m < std::min<size_t>(3, specs.size()); ++m) {
        if (m == fast) continue;
        mix.push_back(&specs[m]);
        longest_other = std::max(longest_other, frame_ms[m]);
    }

    if (options.urgent_only && mix.size() == 3) {
        // Issue 13, item 5 alone, round after round: the urgent camera (10 frames/s, priority
        // 24) beside two saturating models on the default device, against its naive baselines
        // (naive_urgent_baseline), with where its time went.
        std::fprintf(text_out,
                     "\nUrgent: %s at 10 frames/s, priority 24, beside %s and %s (%.1f s each "
                     "run)\n  %5s %10s %10s %11s %11s %11s %11s %8s %8s %9s\n",
                     specs[fast].name.c_str(), mix[1]->name.c_str(), mix[2]->name.c_str(),
                     options.priority_seconds, "round", "naive solo", "naive mix", "corun solo",
                     "urgent p95", "queue p95", "device p95", "x solo", "x naive", "others");
        // Every frame of every round pooled per configuration: a camera at 10 frames/s gives 50
        // frames in 5 s, so one round's p95 is its third-slowest frame, and a bare session's
        // solo p95 alone moved 9-23 ms between rounds here (a frame every 100 ms on an idle
        // VM starts cold). The ratios compare the pooled p95s.
        std::vector<double> all_naive_solo, all_naive, all_urgent;
        Json rounds = Json::array();
        for (int round = 0; round < options.rounds; ++round) {
            const CorunConfig& automatic = corun_configs.front();
            const NaiveUrgentBaseline naive =
                naive_urgent_baseline(env, mix, options.priority_seconds);
            auto solo =
                run_corun(automatic, {&specs[fast]}, options.priority_seconds, {10.0}, {24});
            auto high =
                run_corun(automatic, mix, options.priority_seconds, {10.0, 0, 0}, {24, 16, 16});
            if (!solo || !high) {
                std::cerr << "sharing_bench: urgent run failed\n";
                return 1;
            }
            const ClientResult& urgent = (*high)[0];
            const double urgent_p95 = percentile(urgent.latency_ms, 95);
            const double queue_p95 = percentile(urgent.queue_ms, 95);
            const double device_p95 = percentile(urgent.device_ms, 95);
            const double corun_solo_p95 = percentile((*solo)[0].latency_ms, 95);
            const double others_fps = (*high)[1].fps() + (*high)[2].fps();
            const auto& naive_frames = naive.best_ms();
            all_naive_solo.insert(all_naive_solo.end(), naive.solo_ms.begin(), naive.solo_ms.end());
            all_naive.insert(all_naive.end(), naive_frames.begin(), naive_frames.end());
            all_urgent.insert(all_urgent.end(), urgent.latency_ms.begin(), urgent.latency_ms.end());
            std::fprintf(
                text_out, "  %5d %10.2f %10.2f %11.2f %11.2f %11.2f %11.2f %8.2f %8.2f %5.1f FPS\n",
                round + 1, naive.solo_p95, naive.best_p95(), corun_solo_p95, urgent_p95, queue_p95,
                device_p95, urgent_p95 / naive.solo_p95, urgent_p95 / naive.best_p95(), others_fps);
            std::fflush(text_out);
            rounds.push_back({{"naive_solo_p95_ms", naive.solo_p95},
                              {"naive_p95_ms", naive.best_p95()},
                              {"corun_solo_p95_ms", corun_solo_p95},
                              {"urgent_p95_ms", urgent_p95},
                              {"urgent_queue_p95_ms", queue_p95},
                              {"urgent_device_p95_ms", device_p95},
                              {"others_fps", others_fps}});
        }
        const double pooled_solo = percentile(all_naive_solo, 95);
        const double pooled_naive = percentile(all_naive, 95);
        const double pooled_urgent = percentile(all_urgent, 95);
        std::fprintf(text_out,
                     "  all rounds pooled: urgent p95 %.2f ms = %.2f x naive solo (%.2f ms; "
                     "target <= 1.2), %.2f x naive threads (%.2f ms; target < 1)\n",
                     pooled_urgent, pooled_urgent / pooled_solo, pooled_solo,
                     pooled_urgent / pooled_naive, pooled_naive);
        report["urgent"] = {{"model", specs[fast].name},
                            {"p95_ms", pooled_urgent},
                            {"naive_solo_p95_ms", pooled_solo},
                            {"naive_p95_ms", pooled_naive},
                            {"vs_solo", pooled_urgent / pooled_solo},
                            {"vs_naive", pooled_urgent / pooled_naive},
                            {"rounds", rounds}};
    }

    if (!options.skip_priority && !options.urgent_only && specs.size() >= 3) {
        std::fprintf(text_out,
                     "\nPriority: %s at 10 frames/s beside two saturating models (%.1f s each "
                     "run); bound = its solo p95 + one frame of the longest other model (%.2f ms)"
                     "\n",
                     specs[fast].name.c_str(), options.priority_seconds, longest_other);
        std::fprintf(text_out, "  %-26s %9s %9s %11s %11s %9s %8s\n", "configuration", "solo p95",
                     "bound", "p95 prio24", "p95 equal", "holds", "others");
        Json priority = Json::array();
        std::vector<CorunConfig> configs = corun_configs;
        for (const auto& config : configs) {
            auto solo = run_corun(config, {&specs[fast]}, options.priority_seconds, {10.0});
            auto high =
                run_corun(config, mix, options.priority_seconds, {10.0, 0, 0}, {24, 16, 16});
            auto equal =
                run_corun(config, mix, options.priority_seconds, {10.0, 0, 0}, {16, 16, 16});
            if (!solo || !high || !equal) {
                std::cerr << "sharing_bench: priority run failed\n";
                return 1;
            }
            const double solo_p95 = percentile((*solo)[0].latency_ms, 95);
            const double bound = solo_p95 + longest_other;
            const double high_p95 = percentile((*high)[0].latency_ms, 95);
            const double equal_p95 = percentile((*equal)[0].latency_ms, 95);
            const double others_fps = (*high)[1].fps() + (*high)[2].fps();
            std::fprintf(text_out, "  %-26s %9.2f %9.2f %11.2f %11.2f %9s %4.1f FPS\n",
                         config.label.c_str(), solo_p95, bound, high_p95, equal_p95,
                         high_p95 <= bound ? "yes" : "NO", others_fps);
            priority.push_back({{"label", config.label},
                                {"latency_model", specs[fast].name},
                                {"solo_p95_ms", solo_p95},
                                {"longest_other_frame_ms", longest_other},
                                {"bound_ms", bound},
                                {"p95_priority24_ms", high_p95},
                                {"p95_equal_ms", equal_p95},
                                {"holds", high_p95 <= bound},
                                {"frames_at_10fps", (*high)[0].frames},
                                {"others_fps_with_priority", others_fps}});
        }
        const NaiveUrgentBaseline naive = naive_urgent_baseline(env, mix, options.priority_seconds);
        const double naive_solo_p95 = naive.solo_p95;
        std::fprintf(text_out,
                     "  naive (no priority): solo p95 %.2f ms; beside the others p95 %.2f ms "
                     "(1 thread each), %.2f ms (default threads)\n",
                     naive_solo_p95, naive.one_thread_p95, naive.default_threads_p95);
        // The urgent model under the default against its solo p95 (bare, whole machine) and
        // against naive threads (no priority), the targets.
        const double auto_p95 = priority.front()["p95_priority24_ms"].get<double>();
        const double naive_best_p95 = naive.best_p95();
        std::fprintf(text_out,
                     "  default (auto), priority 24: p95 %.2f ms = %.2f x solo (target <= 1.2), "
                     "%.2f x the better naive (target < 1)\n",
                     auto_p95, auto_p95 / naive_solo_p95, auto_p95 / naive_best_p95);
        // The same with the camera as a loop around the blocking run(), as the naive threads
        // loop around Run(): the frame then runs on the camera's own thread when the latency
        // slot is free (no hand-off to a worker), which is what a camera application does.
        const CorunConfig& automatic = configs.front();
        auto camera_loop =
            run_corun(automatic, mix, options.priority_seconds, {10.0, 0, 0}, {24, 16, 16}, true);
        auto camera_loop_solo =
            run_corun(automatic, {&specs[fast]}, options.priority_seconds, {10.0}, {24}, true);
        if (!camera_loop || !camera_loop_solo) {
            std::cerr << "sharing_bench: camera loop run failed\n";
            return 1;
        }
        const double loop_p95 = percentile((*camera_loop)[0].latency_ms, 95);
        std::fprintf(text_out,
                     "  default (auto), priority 24, camera calling run(): p95 %.2f ms = %.2f x "
                     "solo, %.2f x the better naive (alone through corun: %.2f ms)\n",
                     loop_p95, loop_p95 / naive_solo_p95, loop_p95 / naive_best_p95,
                     percentile((*camera_loop_solo)[0].latency_ms, 95));
        report["priority_default"] = {{"p95_ms", auto_p95},
                                      {"vs_solo", auto_p95 / naive_solo_p95},
                                      {"vs_naive", auto_p95 / naive_best_p95},
                                      {"camera_run_p95_ms", loop_p95},
                                      {"camera_run_vs_solo", loop_p95 / naive_solo_p95},
                                      {"camera_run_vs_naive", loop_p95 / naive_best_p95}};
        report["priority"] = priority;
        report["priority_naive"] = {{"solo_p95_ms", naive_solo_p95},
                                    {"p95_one_thread_ms", naive.one_thread_p95},
                                    {"p95_default_threads_ms", naive.default_threads_p95}};
    }

    if (!options.skip_npu) {
        // npu-sim with each model's measured solo frame time.
        namespace npu = corun::devices::npu_sim;
        namespace sched = corun::scheduler;
        std::fprintf(text_out,
                     "\nnpu-sim with the measured frame times (normalised combined throughput; "
                     "bound 1.0):\n");
        Json npu_report = {{"virtual_time", Json::array()}};
        const auto& all = sets.back();
        auto timing_of = [&](const ModelSpec& spec) {
            npu::ModelTiming timing;
            timing.frame = std::chrono::nanoseconds(
                static_cast<int64_t>(frame_ms[static_cast<size_t>(&spec - specs.data())] * 1e6));
            timing.max_in_flight = 2;
            return timing;
        };
        for (const int64_t switch_us : {0, 400}) {
            for (const uint32_t burst : {1u, 4u}) {
                std::vector<sched::SimulatedModel> together;
                double normalised = 0;
                const auto duration = std::chrono::seconds(60);
                for (auto* spec : all) {
                    sched::SimulatedModel model;
                    model.name = spec->name;
                    model.params.burst = burst;
                    model.timing = timing_of(*spec);
                    model.queue_capacity = 2 * burst;
                    together.push_back(model);
                }
                const auto shared =
                    sched::simulate(together, std::chrono::microseconds(switch_us), {}, duration);
                Json shares = Json::array();
                for (size_t i = 0; i < together.size(); ++i) {
                    const auto alone = sched::simulate(
                        {together[i]}, std::chrono::microseconds(switch_us), {}, duration);
                    normalised += static_cast<double>(shared.models[i].frames_done) /
                                  static_cast<double>(alone.models[0].frames_done);
                    shares.push_back(static_cast<double>(shared.models[i].device_time.count()) /
                                     static_cast<double>(shared.busy_time.count()));
                }
                std::fprintf(text_out,
                             "  virtual time, context switch %4lld us, batch %u: %.4f (device "
                             "shares",
                             static_cast<long long>(switch_us), burst, normalised);
                for (const auto& share : shares) {
                    std::fprintf(text_out, " %.3f", share.get<double>());
                }
                std::fprintf(text_out, ")\n");
                npu_report["virtual_time"].push_back({{"context_switch_us", switch_us},
                                                      {"batch_size", burst},
                                                      {"normalised_throughput", normalised},
                                                      {"device_shares", shares}});
            }
        }
        // Real time: the npu-sim device, timing only, same frame times.
        npu::NpuTimingModel profile;
        for (auto* spec : all) profile.models[spec->name] = timing_of(*spec);
        const std::string profile_path =
            (std::filesystem::temp_directory_path() /
             ("sharing_bench_profile_" + std::to_string(getpid()) + ".json"))
                .string();
        {
            std::ofstream file(profile_path);
            file << npu::npu_profile_to_json(profile);
        }
        CorunConfig npu_config{"npu-sim", 0, 1, "npu-sim", profile_path};
        std::vector<double> solo_rt;
        double normalised = 0;
        bool ok = true;
        for (auto* spec : all) {
            auto alone = run_corun(npu_config, {spec}, options.seconds);
            if (!alone) {
                std::cerr << "sharing_bench: npu-sim: " << alone.status() << "\n";
                ok = false;
                break;
            }
            solo_rt.push_back((*alone)[0].fps());
        }
        if (ok) {
            auto shared = run_corun(npu_config, all, options.seconds);
            if (shared) {
                for (size_t i = 0; i < all.size(); ++i) {
                    normalised += (*shared)[i].fps() / solo_rt[i];
                }
                std::fprintf(text_out, "  real time (timing only), %.1f s per run: %.4f\n",
                             options.seconds, normalised);
                npu_report["real_time"] = {{"normalised_throughput", normalised},
                                           {"solo_fps", solo_rt}};
            } else {
                std::cerr << "sharing_bench: npu-sim: " << shared.status() << "\n";
            }
        }
        std::filesystem::remove(profile_path);
        report["npu_sim"] = npu_report;
    }
    if (options.json) std::cout << report.dump(2) << "\n";
    return 0;
}
