// Issue 12's benchmark: a vision model at a fixed frame rate beside an LLM that generates
// continuously, on the cpu device, measured side by side in one run:
//   - solo: the vision model alone (its p50/p95), the LLM alone (tokens/s, time to first token);
//   - naive: what users do today: the LLM on llama.cpp's own API with its default threads and
//     the vision model in another process on ONNX Runtime (a corun VDevice of its own, which is
//     a bare ONNX Runtime session with default threads), with no coordination;
//   - corun in one process: both on one VDevice, vision at priority 24, with preemption (the
//     default) and without (frames wait for the running chunk or step);
//   - corun through corund: the LLM in one client process, the vision model in another.
// Targets (issue 12): vision p95 <= 1.5x its solo p95 while the LLM keeps >= 0.8x its solo
// tokens/s, in-process and through corund.
//
//   genai_bench [--llm FILE.gguf] [--vision FILE.onnx] [--fps 10] [--seconds 15] [--threads N]
//               [--corund PATH] [--skip-corund] [--only CONFIG,...] [--json]
// --only runs only the named configurations (the keys of the JSON report: vision_solo,
// vision_solo_corun, llm_solo, llm_naive_solo, naive, corun, corun_no_preemption, corund,
// speech_solo, speech_naive, speech_corun); the ratios need vision_solo and llm_solo.
// Roles (the benchmark runs itself as a child process for them): --role vision|llm-naive|llm.
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <functional>
#include <iostream>
#include <map>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include <nlohmann/json.hpp>

#include "child_process.hpp"

#include "corun/corun.hpp"
#include "corun/genai/llm.hpp"
#include "corun/genai/speech2text.hpp"
#include "llama.h"
#include "tasks/audio.hpp"

namespace {

using Clock = std::chrono::steady_clock;
using Json = nlohmann::json;

struct Options {
    std::string llm = std::string(CORUN_CACHE_DIR) + "/models/genai/qwen2.5-1.5b-shape-q4_k_m.gguf";
    std::string vision = std::string(CORUN_CACHE_DIR) +
                         "/models/blazeface-256/face_detection_back_256x256_barracuda.onnx";
    double fps = 10;
    double seconds = 15;
    uint32_t threads = 0;  // LLM threads for corun (0 = its default)
    uint32_t max_tokens = 64;
    std::string corund;
    bool skip_corund = false;
    bool json = false;
    std::string role;
    std::string socket;  // roles: through corund on this socket
    bool preemption = true;
    int rounds = 3;
    std::string speech_model = std::string(CORUN_CACHE_DIR) + "/models/genai/tiny_whisper.bin";
    bool skip_speech = false;
    // ONNX Runtime intra-op threads of the vision model in corun's configurations (0 = ONNX
    // Runtime's default, a process-wide pool that spins between inferences).
    uint32_t vision_threads = 1;
    bool vision_default_threads = false;  // this process: the vision model on ORT's defaults
    // Two-process phases: the generative child touches ready_file once its model is loaded, and
    // the vision child starts its frames only then, so that both run for the same seconds.
    std::string ready_file;
    std::string wait_file;
    std::set<std::string> only;  // configurations to run; empty: all
    bool runs(const std::string& configuration) const {
        return only.empty() || only.count(configuration) > 0;
    }
};

double percentile(std::vector<double> values, double percent) {
    if (values.empty()) return 0;
    std::sort(values.begin(), values.end());
    const size_t rank =
        static_cast<size_t>(percent / 100.0 * static_cast<double>(values.size() - 1) + 0.5);
    return values[std::min(rank, values.size() - 1)];
}

double load_average() {
    std::ifstream file("/proc/loadavg");
    double load = -1;
    file >> load;
    return load;
}

[[noreturn]] void fail(const std::string& what, const corun::Status& status) {
    std::cerr << "genai_bench: " << what << ": " << status << "\n";
    std::exit(1);
}

corun::VDeviceParams device_params(const Options& options, const std::string& group) {
    corun::VDeviceParams params;
    params.group_id = group;
    if (!options.vision_default_threads) params.cpu.intra_op_threads = options.vision_threads;
    if (!options.socket.empty()) {
        // One group in corund: the two client processes share its device and scheduler.
        params.group_id = "genai-bench";
        params.multi_process_service = true;
        params.service_socket = options.socket;
    }
    return params;
}

// ---- the workloads ----

// The vision model at options.fps with run() until `stop` (or options.seconds): latencies in ms.
std::vector<double> run_vision(corun::VDevice& vdevice, const Options& options, uint8_t priority,
                               const std::atomic<bool>* stop = nullptr) {
    auto model = vdevice.create_infer_model(options.vision);
    if (!model) fail("loading " + options.vision, model.status());
    auto configured = (*model)->configure();
    if (!configured) fail("configuring the vision model", configured.status());
    if (auto set = configured->set_scheduler_priority(priority); !set) fail("priority", set);
    auto bindings = configured->create_bindings();
    if (!bindings) fail("bindings", bindings.status());
    std::vector<std::vector<uint8_t>> buffers;
    buffers.reserve(16);
    for (const auto& stream : (*model)->inputs()) {
        buffers.emplace_back(stream.get_frame_size(), 1);
        auto bound = bindings->input(stream.name());
        bound->set_buffer(corun::MemoryView::of(buffers.back())).ignore();
    }
    for (const auto& stream : (*model)->outputs()) {
        buffers.emplace_back(stream.get_frame_size(), 0);
        auto bound = bindings->output(stream.name());
        bound->set_buffer(corun::MemoryView::of(buffers.back())).ignore();
    }
    // Two warm-up frames, not counted.
    for (int i = 0; i < 2; ++i) configured->run(*bindings, std::chrono::seconds(60)).ignore();
    if (!options.wait_file.empty()) {
        for (int i = 0; i < 3000 && !std::filesystem::exists(options.wait_file); ++i) {
            std::this_thread::sleep_for(std::chrono::milliseconds(100));
        }
    }
    std::vector<double> latencies;
    const auto period = std::chrono::duration_cast<Clock::duration>(
        std::chrono::duration<double>(1.0 / options.fps));
    const auto end = Clock::now() + std::chrono::duration_cast<Clock::duration>(
                                        std::chrono::duration<double>(options.seconds));
    auto next = Clock::now();
    while (Clock::now() < end && (stop == nullptr || !*stop) && latencies.size() < 100000) {
        std::this_thread::sleep_until(next);
        const auto started = Clock::now();
        if (auto ran = configured->run(*bindings, std::chrono::seconds(60)); !ran) fail("run", ran);
        latencies.push_back(
            std::chrono::duration<double, std::milli>(Clock::now() - started).count());
        next += period;
        if (next < Clock::now()) next = Clock::now();
    }
    return latencies;
}

struct LlmFigures {
    uint64_t tokens = 0;
    double seconds = 0;
    std::vector<double> ttft_ms;
    double tokens_per_second() const {
        return seconds > 0 ? static_cast<double>(tokens) / seconds : 0;
    }
};

Json to_json(const LlmFigures& figures) {
    return {{"tokens", figures.tokens},
            {"seconds", figures.seconds},
            {"tokens_per_second", figures.tokens_per_second()},
            {"ttft_p50_ms", percentile(figures.ttft_ms, 50)}};
}

void signal_ready(const Options& options, std::atomic<bool>* loaded) {
    if (loaded != nullptr) *loaded = true;
    if (!options.ready_file.empty()) std::ofstream(options.ready_file) << "ready\n";
}

const std::string kPrompt =
    "Write a long story about a lighthouse keeper who finds a message in a bottle, and what "
    "happens in the village when the keeper decides to answer it.";

// corun's LLM generating continuously (max_tokens a generation, the context cleared each time)
// until `stop` or options.seconds.
LlmFigures run_corun_llm(corun::VDevice& vdevice, const Options& options,
                         const std::atomic<bool>* stop = nullptr,
                         std::atomic<bool>* loaded = nullptr) {
    corun::genai::LLMParams params;
    params.threads = options.threads;
    params.context_size = 1024;
    params.preemption = options.preemption;
    auto llm = corun::genai::LLM::create(vdevice, options.llm, params);
    if (!llm) fail("loading " + options.llm, llm.status());
    signal_ready(options, loaded);
    corun::genai::LLMGeneratorParams generator;
    generator.max_generated_tokens = options.max_tokens;
    LlmFigures figures;
    const auto started = Clock::now();
    const auto end = started + std::chrono::duration_cast<Clock::duration>(
                                   std::chrono::duration<double>(options.seconds));
    while (Clock::now() < end && (stop == nullptr || !*stop)) {
        (*llm)->clear_context().ignore();
        auto completion = (*llm)->generate(generator, kPrompt);
        if (!completion) fail("generate", completion.status());
        while (completion->read(std::chrono::minutes(5)).has_value()) {
            if (Clock::now() >= end || (stop != nullptr && *stop)) {
                completion->abort().ignore();
                break;
            }
        }
        const auto timings = completion->timings();
        figures.tokens += timings.generated_tokens;
        if (timings.generated_tokens > 0) figures.ttft_ms.push_back(timings.time_to_first_token_ms);
    }
    figures.seconds = std::chrono::duration<double>(Clock::now() - started).count();
    return figures;
}

// llama.cpp's own API with its defaults (threads included), as an application uses it.
LlmFigures run_naive_llm(const Options& options) {
    llama_log_set([](ggml_log_level, const char*, void*) {}, nullptr);
    llama_backend_init();
    llama_model_params model_params = llama_model_default_params();
    llama_model* model = llama_model_load_from_file(options.llm.c_str(), model_params);
    if (model == nullptr) fail("llama.cpp cannot load " + options.llm, corun::Status());
    const llama_vocab* vocab = llama_model_get_vocab(model);
    llama_context_params context_params = llama_context_default_params();
    context_params.n_ctx = 1024;
    // What llama.cpp's own tools use: one thread per core (the C API's default is 4).
    context_params.n_threads =
        static_cast<int32_t>(std::max(1u, std::thread::hardware_concurrency()));
    context_params.n_threads_batch = context_params.n_threads;
    llama_context* context = llama_init_from_model(model, context_params);
    llama_sampler* sampler = llama_sampler_init_greedy();
    std::vector<llama_token> prompt(kPrompt.size() + 8);
    prompt.resize(llama_tokenize(vocab, kPrompt.data(), static_cast<int32_t>(kPrompt.size()),
                                 prompt.data(), static_cast<int32_t>(prompt.size()), true, true));
    signal_ready(options, nullptr);
    LlmFigures figures;
    const auto started = Clock::now();
    const auto end = started + std::chrono::duration_cast<Clock::duration>(
                                   std::chrono::duration<double>(options.seconds));
    while (Clock::now() < end) {
        llama_memory_clear(llama_get_memory(context), true);
        const auto generation_started = Clock::now();
        llama_batch batch = llama_batch_get_one(prompt.data(), static_cast<int32_t>(prompt.size()));
        llama_token token = 0;
        for (uint32_t i = 0; i < options.max_tokens && Clock::now() < end; ++i) {
            if (llama_decode(context, batch) != 0) break;
            token = llama_sampler_sample(sampler, context, -1);
            if (i == 0) {
                figures.ttft_ms.push_back(
                    std::chrono::duration<double, std::milli>(Clock::now() - generation_started)
                        .count());
            }
            ++figures.tokens;
            batch = llama_batch_get_one(&token, 1);
        }
    }
    figures.seconds = std::chrono::duration<double>(Clock::now() - started).count();
    llama_sampler_free(sampler);
    llama_free(context);
    llama_model_free(model);
    return figures;
}

// A 30 s clip of espeak-ng's speech at 16 kHz (the sentence repeated); empty without espeak-ng.
std::vector<float> speech_clip(const std::filesystem::path& directory) {
    const std::string wav = (directory / "speech.wav").string();
    const std::string command =
        "espeak-ng -w '" + wav +
        "' 'The lighthouse keeper wrote a letter to the village about the storm that came in the "
        "night.' 2>/dev/null";
    if (std::system(command.c_str()) != 0) return {};
    auto clip = corun::tasks::read_wav(wav);
    if (!clip) return {};
    auto resampled = corun::tasks::resample(*clip, 16000);
    if (!resampled) return {};
    std::vector<float> samples;
    while (samples.size() < 30 * 16000) {
        samples.insert(samples.end(), resampled->samples.begin(), resampled->samples.end());
        samples.insert(samples.end(), 8000, 0.0f);
    }
    samples.resize(30 * 16000);
    return samples;
}

struct SpeechFigures {
    uint64_t clips = 0;
    double seconds = 0;
    std::vector<double> latency_ms;  // per 30 s clip
};

Json to_json(const SpeechFigures& figures) {
    return {{"clips", figures.clips},
            {"seconds", figures.seconds},
            // Audio seconds transcribed per second: the throughput figure of speech to text.
            {"tokens_per_second", figures.seconds > 0 ? 30.0 * figures.clips / figures.seconds : 0},
            {"ttft_p50_ms", percentile(figures.latency_ms, 50)}};
}

// Speech2Text transcribing the 30 s clip in a loop until `stop` or options.seconds.
SpeechFigures run_speech(corun::VDevice& vdevice, const Options& options,
                         const std::vector<float>& clip, const std::atomic<bool>* stop = nullptr,
                         std::atomic<bool>* loaded = nullptr) {
    corun::genai::Speech2TextParams params;
    params.language = "en";
    params.preemption = options.preemption;
    auto model = corun::genai::Speech2Text::create(vdevice, options.speech_model, params);
    if (!model) fail("loading " + options.speech_model, model.status());
    signal_ready(options, loaded);
    SpeechFigures figures;
    const auto started = Clock::now();
    const auto end = started + std::chrono::duration_cast<Clock::duration>(
                                   std::chrono::duration<double>(options.seconds));
    while (Clock::now() < end && (stop == nullptr || !*stop)) {
        const auto clip_started = Clock::now();
        if (auto text = (*model)->generate_all_text(clip); !text) fail("transcribe", text.status());
        figures.latency_ms.push_back(
            std::chrono::duration<double, std::milli>(Clock::now() - clip_started).count());
        ++figures.clips;
    }
    figures.seconds = std::chrono::duration<double>(Clock::now() - started).count();
    return figures;
}

// ---- child processes ----

using corun::bench::spawn;
using corun::bench::wait_for;

Json read_json(const std::string& path) {
    std::ifstream file(path);
    Json parsed = Json::parse(file, nullptr, false);
    return parsed.is_discarded() ? Json::object() : parsed;
}

Json vision_json(const std::vector<double>& latencies) {
    return {{"frames", latencies.size()},
            {"p50_ms", percentile(latencies, 50)},
            {"p95_ms", percentile(latencies, 95)},
            {"p99_ms", percentile(latencies, 99)}};
}

int run_role(Options options) {
    Json out;
    if (options.role == "vision") {
        auto vdevice = corun::VDevice::create(device_params(options, "genai-bench-vision"));
        if (!vdevice) fail("VDevice", vdevice.status());
        out = vision_json(run_vision(**vdevice, options, 24));
    } else if (options.role == "llm-naive") {
        out = to_json(run_naive_llm(options));
    } else if (options.role == "llm") {
        auto vdevice = corun::VDevice::create(device_params(options, "genai-bench-llm"));
        if (!vdevice) fail("VDevice", vdevice.status());
        out = to_json(run_corun_llm(**vdevice, options));
    } else if (options.role == "speech") {
        auto vdevice = corun::VDevice::create(device_params(options, "genai-bench-speech"));
        if (!vdevice) fail("VDevice", vdevice.status());
        const auto clip = speech_clip(std::filesystem::path(options.ready_file).parent_path());
        if (clip.empty()) fail("espeak-ng", corun::Status());
        out = to_json(run_speech(**vdevice, options, clip));
    } else {
        std::cerr << "genai_bench: unknown role " << options.role << "\n";
        return 2;
    }
    std::cout << out.dump() << "\n";
    return 0;
}

}  // namespace

// The median over rounds of one figure of one configuration.
double median_of(const std::vector<Json>& rounds, const std::string& part, const std::string& key) {
    std::vector<double> values;
    for (const auto& round : rounds) {
        const Json& section = part.empty() ? round : round.value(part, Json::object());
        if (section.contains(key)) values.push_back(section[key].get<double>());
    }
    return percentile(values, 50);
}

int main(int argc, char** argv) {
    Options options;
    std::vector<std::string> args(argv + 1, argv + argc);
    const std::map<std::string, std::function<void(const std::string&)>> with_value = {
        {"--llm", [&](const std::string& v) { options.llm = v; }},
        {"--vision", [&](const std::string& v) { options.vision = v; }},
        {"--fps", [&](const std::string& v) { options.fps = std::stod(v); }},
        {"--seconds", [&](const std::string& v) { options.seconds = std::stod(v); }},
        {"--threads", [&](const std::string& v) { options.threads = std::stoul(v); }},
        {"--max-tokens", [&](const std::string& v) { options.max_tokens = std::stoul(v); }},
        {"--corund", [&](const std::string& v) { options.corund = v; }},
        {"--role", [&](const std::string& v) { options.role = v; }},
        {"--socket", [&](const std::string& v) { options.socket = v; }},
        {"--rounds", [&](const std::string& v) { options.rounds = std::max(1, std::stoi(v)); }},
        {"--speech-model", [&](const std::string& v) { options.speech_model = v; }},
        {"--ready-file", [&](const std::string& v) { options.ready_file = v; }},
        {"--wait-file", [&](const std::string& v) { options.wait_file = v; }},
        {"--vision-threads", [&](const std::string& v) { options.vision_threads = std::stoul(v); }},
        {"--only",
         [&](const std::string& v) {
             std::stringstream list(v);
             for (std::string name; std::getline(list, name, ',');) options.only.insert(name);
         }},
    };
    const std::map<std::string, std::function<void()>> flags = {
        {"--skip-corund", [&] { options.skip_corund = true; }},
        {"--skip-speech", [&] { options.skip_speech = true; }},
        {"--json", [&] { options.json = true; }},
        {"--no-preemption", [&] { options.preemption = false; }},
        {"--vision-default-threads", [&] { options.vision_default_threads = true; }},
    };
    for (size_t i = 0; i < args.size(); ++i) {
        if (auto flag = flags.find(args[i]); flag != flags.end()) {
            flag->second();
        } else if (auto option = with_value.find(args[i]);
                   option != with_value.end() && i + 1 < args.size()) {
            option->second(args[++i]);
        } else {
            std::cerr << "genai_bench: unknown argument or missing value: " << args[i] << "\n";
            return 2;
        }
    }
    if (!options.role.empty()) return run_role(options);
    const std::set<std::string> configurations = {
        "vision_solo", "vision_solo_corun",   "llm_solo", "llm_naive_solo", "naive",
        "corun",       "corun_no_preemption", "corund",   "speech_solo",    "speech_naive",
        "speech_corun"};
    for (const auto& name : options.only) {
        if (configurations.count(name) == 0) {
            std::cerr << "genai_bench: --only: no configuration '" << name
                      << "'; the configurations are the keys of the JSON report (see the top of "
                         "bench/genai_bench.cpp)\n";
            return 2;
        }
    }
    for (const auto& file : {options.llm, options.vision}) {
        if (!std::filesystem::exists(file)) {
            std::cerr << "genai_bench: " << file
                      << " is missing (make genai-models writes the LLM; scripts/fetch_models.sh "
                         "the vision model)\n";
            return 1;
        }
    }
    if (!std::filesystem::exists(options.speech_model)) options.skip_speech = true;
    FILE* text = options.json ? stderr : stdout;
    const std::string self = std::filesystem::read_symlink("/proc/self/exe").string();
    const auto directory =
        std::filesystem::temp_directory_path() / ("corun-genai-bench-" + std::to_string(getpid()));
    std::filesystem::create_directories(directory);
    std::filesystem::permissions(directory, std::filesystem::perms::owner_all);
    const std::string ready_file = (directory / "ready").string();
    auto child_args = [&](const std::string& role, const std::string& socket = "",
                          bool waits = false, bool signals = false) {
        std::vector<std::string> child = {self,
                                          "--role",
                                          role,
                                          "--llm",
                                          options.llm,
                                          "--vision",
                                          options.vision,
                                          "--fps",
                                          std::to_string(options.fps),
                                          "--seconds",
                                          std::to_string(options.seconds),
                                          "--threads",
                                          std::to_string(options.threads),
                                          "--max-tokens",
                                          std::to_string(options.max_tokens),
                                          "--speech-model",
                                          options.speech_model};
        child.insert(child.end(), {"--vision-threads", std::to_string(options.vision_threads)});
        if (!socket.empty()) child.insert(child.end(), {"--socket", socket});
        if (waits) child.insert(child.end(), {"--wait-file", ready_file});
        if (signals || role == "speech") child.insert(child.end(), {"--ready-file", ready_file});
        return child;
    };
    // The vision model of the naive baselines: its own process, ONNX Runtime's defaults.
    auto naive_vision = [&](bool waits) {
        auto child = child_args("vision", "", waits);
        child.push_back("--vision-default-threads");
        return child;
    };
    // Runs the roles at once, each in its own process; returns their JSON.
    auto run_children = [&](const std::vector<std::vector<std::string>>& commands) {
        std::filesystem::remove(ready_file);
        std::vector<pid_t> pids;
        std::vector<std::string> outputs;
        for (size_t i = 0; i < commands.size(); ++i) {
            outputs.push_back((directory / ("child" + std::to_string(i) + ".json")).string());
            pids.push_back(spawn(commands[i], outputs.back()));
        }
        std::vector<Json> results;
        for (size_t i = 0; i < pids.size(); ++i) {
            if (wait_for(pids[i]) != 0) std::fprintf(stderr, "genai_bench: a child failed\n");
            results.push_back(read_json(outputs[i]));
        }
        return results;
    };
    // A generative workload and the vision model in this process, on one VDevice.
    auto in_process = [&](const std::string& workload, bool preemption) {
        Options phase = options;
        phase.preemption = preemption;
        auto vdevice = corun::VDevice::create(
            device_params(phase, "genai-bench-" + workload + (preemption ? "-p" : "-np")));
        if (!vdevice) fail("VDevice", vdevice.status());
        std::atomic<bool> stop{false}, loaded{false};
        Json figures;
        const auto clip = workload == "speech" ? speech_clip(directory) : std::vector<float>{};
        std::thread generator([&] {
            figures = workload == "speech"
                          ? to_json(run_speech(**vdevice, phase, clip, &stop, &loaded))
                          : to_json(run_corun_llm(**vdevice, phase, &stop, &loaded));
        });
        for (int i = 0; i < 3000 && !loaded; ++i) {
            std::this_thread::sleep_for(std::chrono::milliseconds(100));
        }
        auto latencies = run_vision(**vdevice, phase, 24);
        stop = true;
        generator.join();
        return Json{{workload, figures}, {"vision", vision_json(latencies)}};
    };
    std::string socket;
    pid_t daemon = -1;
    if (!options.runs("corund")) options.skip_corund = true;
    if (!options.skip_corund) {
        std::string corund = options.corund;
        if (corund.empty()) {
            corund = (std::filesystem::path(self).parent_path().parent_path() / "tools" / "corund")
                         .string();
        }
        socket = (directory / "corund.sock").string();
        daemon = spawn({corund, "--socket", socket, "--log-level", "warn"}, "");
        for (int attempt = 0; attempt < 100 && !std::filesystem::exists(socket); ++attempt) {
            std::this_thread::sleep_for(std::chrono::milliseconds(100));
        }
    }

    std::fprintf(text,
                 "genai_bench: %s beside %s at %.0f frames/s, %.0f s per phase, %d round(s) "
                 "(load %.2f)\n",
                 std::filesystem::path(options.llm).filename().c_str(),
                 std::filesystem::path(options.vision).filename().c_str(), options.fps,
                 options.seconds, options.rounds, load_average());
    // Every configuration once per round, in the same order; figures are medians over rounds,
    // so machine noise hits each configuration alike.
    std::map<std::string, std::vector<Json>> rounds;
    for (int round = 0; round < options.rounds; ++round) {
        // The vision model as users run it alone (ONNX Runtime's default threads), and alone in
        // corun's configuration beside a generative model (--vision-threads).
        if (options.runs("vision_solo")) {
            rounds["vision_solo"].push_back({{"vision", run_children({naive_vision(false)})[0]}});
        }
        if (options.runs("vision_solo_corun")) {
            rounds["vision_solo_corun"].push_back(
                {{"vision", run_children({child_args("vision")})[0]}});
        }
        if (options.runs("llm_solo")) {
            rounds["llm_solo"].push_back({{"llm", run_children({child_args("llm")})[0]}});
        }
        if (options.runs("llm_naive_solo")) {
            rounds["llm_naive_solo"].push_back(
                {{"llm", run_children({child_args("llm-naive")})[0]}});
        }
        if (options.runs("naive")) {
            auto both =
                run_children({child_args("llm-naive", "", false, true), naive_vision(true)});
            rounds["naive"].push_back({{"llm", both[0]}, {"vision", both[1]}});
        }
        if (options.runs("corun")) rounds["corun"].push_back(in_process("llm", true));
        if (options.runs("corun_no_preemption")) {
            rounds["corun_no_preemption"].push_back(in_process("llm", false));
        }
        if (!options.skip_corund && options.runs("corund")) {
            auto both = run_children(
                {child_args("llm", socket, false, true), child_args("vision", socket, true)});
            rounds["corund"].push_back({{"llm", both[0]}, {"vision", both[1]}});
        }
        if (!options.skip_speech) {
            if (options.runs("speech_solo")) {
                rounds["speech_solo"].push_back(
                    {{"speech", run_children({child_args("speech")})[0]}});
            }
            if (options.runs("speech_naive")) {
                auto naive =
                    run_children({child_args("speech", "", false, true), naive_vision(true)});
                rounds["speech_naive"].push_back({{"speech", naive[0]}, {"vision", naive[1]}});
            }
            if (options.runs("speech_corun")) {
                rounds["speech_corun"].push_back(in_process("speech", true));
            }
        }
        std::fprintf(text, "  round %d of %d done (load %.2f)\n", round + 1, options.rounds,
                     load_average());
    }
    if (daemon > 0) {
        kill(daemon, SIGTERM);
        wait_for(daemon);
    }
    std::filesystem::remove_all(directory);

    Json report = {{"llm", options.llm},
                   {"vision", options.vision},
                   {"fps", options.fps},
                   {"seconds", options.seconds},
                   {"rounds_run", options.rounds},
                   {"load_after", load_average()},
                   {"rounds", rounds}};
    const double vision_solo_p95 = median_of(rounds["vision_solo"], "vision", "p95_ms");
    const double llm_solo = median_of(rounds["llm_solo"], "llm", "tokens_per_second");
    const double speech_solo = median_of(rounds["speech_solo"], "speech", "tokens_per_second");
    std::fprintf(text, "\n%-26s %10s %10s %9s %10s %10s %9s\n", "configuration", "vision p50",
                 "vision p95", "p95/solo", "gen rate", "rate/solo", "TTFT ms");
    auto row = [&](const char* name, const std::string& key, const std::string& workload) {
        const auto& series = rounds[key];
        if (series.empty()) return;
        const double p95 = median_of(series, "vision", "p95_ms");
        const double rate = median_of(series, workload, "tokens_per_second");
        const double solo = workload == "speech" ? speech_solo : llm_solo;
        report["summary"][key] = {
            {"vision_p50_ms", median_of(series, "vision", "p50_ms")},
            {"vision_p95_ms", p95},
            {"vision_p95_over_solo", vision_solo_p95 > 0 ? p95 / vision_solo_p95 : 0},
            {"rate", rate},
            {"rate_over_solo", solo > 0 ? rate / solo : 0}};
        std::fprintf(text, "%-26s %10.2f %10.2f %9.2f %10.2f %10.2f %9.0f\n", name,
                     median_of(series, "vision", "p50_ms"), p95,
                     vision_solo_p95 > 0 && p95 > 0 ? p95 / vision_solo_p95 : 0, rate,
                     solo > 0 ? rate / solo : 0, median_of(series, workload, "ttft_p50_ms"));
    };
    row("vision alone", "vision_solo", "llm");
    row("vision alone, corun config", "vision_solo_corun", "llm");
    row("LLM alone (corun)", "llm_solo", "llm");
    row("LLM alone (llama.cpp)", "llm_naive_solo", "llm");
    row("naive: 2 processes", "naive", "llm");
    row("corun in-process", "corun", "llm");
    row("corun, no preemption", "corun_no_preemption", "llm");
    row("corun via corund", "corund", "llm");
    row("speech alone (corun)", "speech_solo", "speech");
    row("speech naive: 2 procs", "speech_naive", "speech");
    row("speech + vision (corun)", "speech_corun", "speech");
    std::fprintf(text,
                 "(medians over rounds; gen rate: LLM tokens/s, or audio seconds transcribed per "
                 "second for speech; TTFT: LLM time to first token, or ms per 30 s clip)\n"
                 "targets: vision p95/solo <= 1.5 while the LLM keeps >= 0.8 of its solo rate, "
                 "in-process and via corund\n");
    if (options.json) std::cout << report.dump(2) << "\n";
    return 0;
}
