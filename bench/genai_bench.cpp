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
//               [--corund PATH] [--skip-corund] [--json]
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
#include <iostream>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include <nlohmann/json.hpp>

#include "corun/corun.hpp"
#include "corun/genai/llm.hpp"
#include "llama.h"

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
    if (!options.socket.empty()) {
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

const std::string kPrompt =
    "Write a long story about a lighthouse keeper who finds a message in a bottle, and what "
    "happens in the village when the keeper decides to answer it.";

// corun's LLM generating continuously (max_tokens a generation, the context cleared each time)
// until `stop` or options.seconds.
LlmFigures run_corun_llm(corun::VDevice& vdevice, const Options& options,
                         const std::atomic<bool>* stop = nullptr) {
    corun::genai::LLMParams params;
    params.threads = options.threads;
    params.context_size = 1024;
    params.preemption = options.preemption;
    auto llm = corun::genai::LLM::create(vdevice, options.llm, params);
    if (!llm) fail("loading " + options.llm, llm.status());
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
    llama_context* context = llama_init_from_model(model, context_params);
    llama_sampler* sampler = llama_sampler_init_greedy();
    std::vector<llama_token> prompt(kPrompt.size() + 8);
    prompt.resize(llama_tokenize(vocab, kPrompt.data(), static_cast<int32_t>(kPrompt.size()),
                                 prompt.data(), static_cast<int32_t>(prompt.size()), true, true));
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

// ---- child processes ----

pid_t spawn(const std::vector<std::string>& args, const std::string& stdout_path) {
    std::fflush(nullptr);
    const pid_t pid = fork();
    if (pid < 0) {
        std::perror("genai_bench: fork");
        std::exit(1);
    }
    if (pid == 0) {
        if (!stdout_path.empty() && !std::freopen(stdout_path.c_str(), "w", stdout)) _exit(127);
        std::vector<char*> argv;
        for (const auto& arg : args) argv.push_back(const_cast<char*>(arg.c_str()));
        argv.push_back(nullptr);
        execv(argv[0], argv.data());
        _exit(127);
    }
    return pid;
}

int wait_for(pid_t pid) {
    int status = 0;
    waitpid(pid, &status, 0);
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

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
    } else {
        std::cerr << "genai_bench: unknown role " << options.role << "\n";
        return 2;
    }
    std::cout << out.dump() << "\n";
    return 0;
}

}  // namespace

int main(int argc, char** argv) {
    Options options;
    std::vector<std::string> args(argv + 1, argv + argc);
    for (size_t i = 0; i < args.size(); ++i) {
        auto value = [&]() -> std::string {
            if (i + 1 >= args.size()) {
                std::cerr << "genai_bench: " << args[i] << " needs a value\n";
                std::exit(2);
            }
            return args[++i];
        };
        if (args[i] == "--llm")
            options.llm = value();
        else if (args[i] == "--vision")
            options.vision = value();
        else if (args[i] == "--fps")
            options.fps = std::stod(value());
        else if (args[i] == "--seconds")
            options.seconds = std::stod(value());
        else if (args[i] == "--threads")
            options.threads = static_cast<uint32_t>(std::stoul(value()));
        else if (args[i] == "--max-tokens")
            options.max_tokens = static_cast<uint32_t>(std::stoul(value()));
        else if (args[i] == "--corund")
            options.corund = value();
        else if (args[i] == "--skip-corund")
            options.skip_corund = true;
        else if (args[i] == "--json")
            options.json = true;
        else if (args[i] == "--role")
            options.role = value();
        else if (args[i] == "--socket")
            options.socket = value();
        else if (args[i] == "--no-preemption")
            options.preemption = false;
        else {
            std::cerr << "genai_bench: unknown argument " << args[i] << "\n";
            return 2;
        }
    }
    if (!options.role.empty()) return run_role(options);
    for (const auto& file : {options.llm, options.vision}) {
        if (!std::filesystem::exists(file)) {
            std::cerr << "genai_bench: " << file
                      << " is missing (make genai-models writes the LLM; scripts/fetch_models.sh "
                         "the vision model)\n";
            return 1;
        }
    }
    FILE* text = options.json ? stderr : stdout;
    const std::string self = std::filesystem::read_symlink("/proc/self/exe").string();
    const auto directory =
        std::filesystem::temp_directory_path() / ("corun-genai-bench-" + std::to_string(getpid()));
    std::filesystem::create_directories(directory);
    std::filesystem::permissions(directory, std::filesystem::perms::owner_all);
    auto child_args = [&](const std::string& role, const std::string& socket = "") {
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
                                          std::to_string(options.max_tokens)};
        if (!socket.empty()) child.insert(child.end(), {"--socket", socket});
        return child;
    };
    // Runs the roles at once, each in its own process; returns their JSON.
    auto run_children = [&](const std::vector<std::vector<std::string>>& commands) {
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
    Json report = {{"llm", options.llm},
                   {"vision", options.vision},
                   {"fps", options.fps},
                   {"seconds", options.seconds},
                   {"load_before", load_average()}};
    std::fprintf(text, "genai_bench: %s beside %s at %.0f frames/s, %.0f s per phase (load %.2f)\n",
                 std::filesystem::path(options.llm).filename().c_str(),
                 std::filesystem::path(options.vision).filename().c_str(), options.fps,
                 options.seconds, load_average());

    // Solo.
    report["vision_solo"] = run_children({child_args("vision")})[0];
    report["llm_solo"] = run_children({child_args("llm")})[0];
    report["llm_naive_solo"] = run_children({child_args("llm-naive")})[0];
    // Naive: two processes, no coordination.
    {
        auto both = run_children({child_args("llm-naive"), child_args("vision")});
        report["naive"] = {{"llm", both[0]}, {"vision", both[1]}};
    }
    // corun in one process, with and without preemption.
    for (bool preemption : {true, false}) {
        Options in_process = options;
        in_process.preemption = preemption;
        auto vdevice = corun::VDevice::create(
            device_params(in_process, preemption ? "genai-bench-p" : "genai-bench-np"));
        if (!vdevice) fail("VDevice", vdevice.status());
        std::atomic<bool> stop{false};
        LlmFigures llm_figures;
        std::thread generator([&] { llm_figures = run_corun_llm(**vdevice, in_process, &stop); });
        // Let the LLM load and start before the frames begin.
        std::this_thread::sleep_for(std::chrono::seconds(2));
        auto latencies = run_vision(**vdevice, in_process, 24);
        stop = true;
        generator.join();
        report[preemption ? "corun" : "corun_no_preemption"] = {{"llm", to_json(llm_figures)},
                                                                {"vision", vision_json(latencies)}};
    }
    // corun through corund: two client processes.
    if (!options.skip_corund) {
        std::string corund = options.corund;
        if (corund.empty())
            corund = (std::filesystem::path(self).parent_path().parent_path() / "tools" / "corund")
                         .string();
        const std::string socket = (directory / "corund.sock").string();
        const pid_t daemon = spawn({corund, "--socket", socket, "--log-level", "warn"}, "");
        for (int attempt = 0; attempt < 100 && !std::filesystem::exists(socket); ++attempt) {
            std::this_thread::sleep_for(std::chrono::milliseconds(100));
        }
        auto both = run_children({child_args("llm", socket), child_args("vision", socket)});
        report["corund"] = {{"llm", both[0]}, {"vision", both[1]}};
        kill(daemon, SIGTERM);
        wait_for(daemon);
    }
    std::filesystem::remove_all(directory);
    report["load_after"] = load_average();

    const double vision_solo_p95 = report["vision_solo"].value("p95_ms", 0.0);
    const double llm_solo = report["llm_solo"].value("tokens_per_second", 0.0);
    std::fprintf(text, "\n%-26s %10s %10s %12s %12s %10s %10s\n", "configuration", "vision p50",
                 "vision p95", "p95/solo", "LLM tok/s", "tok/s/solo", "TTFT ms");
    auto row = [&](const char* name, const Json& vision, const Json& llm) {
        const double p95 = vision.value("p95_ms", 0.0);
        const double tokens = llm.value("tokens_per_second", 0.0);
        std::fprintf(text, "%-26s %10.2f %10.2f %12.2f %12.2f %10.2f %10.0f\n", name,
                     vision.value("p50_ms", 0.0), p95,
                     vision_solo_p95 > 0 ? p95 / vision_solo_p95 : 0, tokens,
                     llm_solo > 0 ? tokens / llm_solo : 0, llm.value("ttft_p50_ms", 0.0));
    };
    row("solo (each alone)", report["vision_solo"], report["llm_solo"]);
    row("naive LLM alone", Json::object(), report["llm_naive_solo"]);
    row("naive (2 processes)", report["naive"]["vision"], report["naive"]["llm"]);
    row("corun in-process", report["corun"]["vision"], report["corun"]["llm"]);
    row("corun, no preemption", report["corun_no_preemption"]["vision"],
        report["corun_no_preemption"]["llm"]);
    if (report.contains("corund"))
        row("corun via corund", report["corund"]["vision"], report["corund"]["llm"]);
    std::fprintf(text,
                 "targets: vision p95/solo <= 1.5 while LLM tok/s/solo >= 0.8 (in-process and via "
                 "corund)\n");
    if (options.json) std::cout << report.dump(2) << "\n";
    return 0;
}
