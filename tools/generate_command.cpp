// `corun generate MODEL.gguf "prompt"`: streams what an LLM generates, then prints time to first
// token, tokens/s and the inter-token latency (issue 12). With --multi-process-service the LLM
// runs in corund, beside the models of other processes.
#include <iostream>

#include "cli_support.hpp"
#include "commands.hpp"
#include "corun/genai/llm.hpp"

namespace corun::tools {
namespace {

struct GenerateOptions {
    std::string model;
    std::string prompt;
    bool chat = false;
    uint32_t max_tokens = 128;
    float temperature = 0.0f;
    float top_p = 1.0f;
    uint32_t top_k = 0;
    uint32_t seed = 0;
    std::vector<std::string> stop;
    uint32_t context = 0;
    uint32_t chunk = 64;
    uint32_t threads = 0;
    uint32_t priority = 16;
    bool no_preemption = false;
    bool quiet = false;
    bool json = false;
    ServiceOptions service;
};

int generate(const GenerateOptions& options) {
    VDeviceParams params;
    apply_service_options(options.service, params);
    auto vdevice = VDevice::create(params);
    if (!vdevice) return report_error(vdevice.status());
    genai::LLMParams llm_params;
    llm_params.context_size = options.context;
    llm_params.prefill_chunk_tokens = options.chunk;
    llm_params.threads = options.threads;
    llm_params.preemption = !options.no_preemption;
    auto llm = genai::LLM::create(**vdevice, options.model, llm_params);
    if (!llm) return report_error(llm.status());
    if (auto set = (*llm)->set_scheduler_priority(static_cast<uint8_t>(options.priority)); !set) {
        return report_error(set);
    }
    genai::LLMGeneratorParams generator;
    generator.max_generated_tokens = options.max_tokens;
    generator.temperature = options.temperature;
    generator.top_p = options.top_p;
    generator.top_k = options.top_k;
    generator.seed = options.seed;
    generator.stop_sequences = options.stop;
    auto completion =
        options.chat
            ? (*llm)->generate(generator, std::vector<genai::ChatMessage>{{"user", options.prompt}})
            : (*llm)->generate(generator, options.prompt);
    if (!completion) return report_error(completion.status());
    std::string text;
    while (true) {
        auto piece = completion->read(std::chrono::minutes(10));
        if (!piece) {
            if (piece.status().code() != StatusCode::INVALID_OPERATION) {
                return report_error(piece.status());
            }
            break;
        }
        text += *piece;
        if (!options.quiet && !options.json) std::cout << *piece << std::flush;
    }
    const auto timings = completion->timings();
    const double p50 = timings.inter_token_ms.empty() ? 0 : percentile(timings.inter_token_ms, 50);
    const double p95 = timings.inter_token_ms.empty() ? 0 : percentile(timings.inter_token_ms, 95);
    double decode_ms = 0;
    for (double gap : timings.inter_token_ms) decode_ms += gap;
    const double tokens_per_second =
        decode_ms > 0 ? 1000.0 * static_cast<double>(timings.inter_token_ms.size()) / decode_ms : 0;
    const char* ended = genai::generation_status_name(completion->generation_status());
    if (options.json) {
        std::cout << nlohmann::json{{"text", text},
                                    {"status", ended},
                                    {"prompt_tokens", timings.prompt_tokens},
                                    {"generated_tokens", timings.generated_tokens},
                                    {"time_to_first_token_ms", timings.time_to_first_token_ms},
                                    {"tokens_per_second", tokens_per_second},
                                    {"inter_token_p50_ms", p50},
                                    {"inter_token_p95_ms", p95}}
                         .dump(2)
                  << "\n";
        return 0;
    }
    std::cout << "\n\n"
              << "ended:               " << ended << "\n"
              << "prompt tokens:       " << timings.prompt_tokens << "\n"
              << "generated tokens:    " << timings.generated_tokens << "\n"
              << "time to first token: " << timings.time_to_first_token_ms << " ms\n"
              << "tokens/s:            " << tokens_per_second << " (decode)\n"
              << "inter-token latency: p50 " << p50 << " ms, p95 " << p95 << " ms\n";
    return 0;
}

}  // namespace

void add_generate_command(CLI::App& app) {
    auto* command = app.add_subcommand(
        "generate", "Generate text with a GGUF LLM, streamed, with its timings (docs/GENAI.md)");
    static GenerateOptions options;
    command->add_option("model", options.model, "GGUF model file")->required();
    command->add_option("prompt", options.prompt, "The text to continue")->required();
    command->add_flag("--chat", options.chat,
                      "Send the prompt as a user message in the model's chat template");
    command->add_option("--max-tokens", options.max_tokens, "Tokens to generate at most")
        ->check(CLI::Range(1u, 1000000u));
    command->add_option("--temperature", options.temperature, "0 = greedy")
        ->check(CLI::Range(0.0f, 100.0f));
    command->add_option("--top-p", options.top_p, "Nucleus sampling, (0, 1]")
        ->check(CLI::Range(0.000001f, 1.0f));
    command->add_option("--top-k", options.top_k, "Sample among the k most likely (0 = all)");
    command->add_option("--seed", options.seed, "Sampling seed");
    command->add_option("--stop", options.stop, "Stop sequence (repeatable)");
    command->add_option("--context", options.context,
                        "Context tokens (0 = the model's, capped at 4096)");
    command->add_option("--prefill-chunk", options.chunk, "Prompt tokens per scheduled unit")
        ->check(CLI::Range(1u, 4096u));
    command->add_option("--threads", options.threads, "Engine threads (0 = cores less one)");
    command->add_option("--priority", options.priority, "Scheduler priority, 0..31")
        ->check(CLI::Range(0u, 31u));
    command->add_flag("--no-preemption", options.no_preemption,
                      "Let frames of higher priority wait for the running chunk or step");
    command->add_flag("--quiet", options.quiet, "Print only the timings");
    command->add_flag("--json", options.json, "Print the text and timings as JSON");
    add_service_options(*command, options.service);
    command->callback([] {
        if (int code = generate(options); code != 0) throw CLI::RuntimeError(code);
    });
}

}  // namespace corun::tools
