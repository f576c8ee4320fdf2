// One version of a generative model (a GGUF LLM) as the serving fronts run it: a genai::LLM on
// the shared VDevice (so its units are scheduled beside every vision model, docs/GENAI.md),
// answering the generate extension. The LLM has one context, so its requests run one at a time,
// each on a fresh context (the protocol is stateless: no request sees another's text); the
// others wait their turn (up to max_queued_requests, then 429).
#pragma once

#include <array>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>

#include "corun/genai/llm.hpp"
#include "serving/generate_request.hpp"
#include "serving/model_repository.hpp"
#include "serving/request_statistics.hpp"

namespace corun::serving {

// Upper bounds (microseconds) of the time-to-first-token histogram's buckets, +Inf beyond.
constexpr std::array<uint64_t, 12> TIME_TO_FIRST_TOKEN_BUCKETS_US{
    1'000,   5'000,   10'000,    25'000,    50'000,     100'000,
    250'000, 500'000, 1'000'000, 2'500'000, 10'000'000, 60'000'000};

struct GenerationStatisticsSnapshot {
    uint64_t generated_tokens = 0;  // over every generation, aborted ones included
    uint64_t prompt_tokens = 0;
    // Tokens per second of the last generation that produced two or more tokens (its tokens
    // after the first over the time between them); 0 before one did.
    double last_tokens_per_second = 0;
    // Per bucket of TIME_TO_FIRST_TOKEN_BUCKETS_US, then +Inf; not cumulative.
    std::array<uint64_t, TIME_TO_FIRST_TOKEN_BUCKETS_US.size() + 1> first_token_buckets{};
    uint64_t first_token_sum_us = 0;
    // Generations by how they ended: "length", "stop", "aborted", "error".
    std::map<std::string, uint64_t> finished;
};

class ServedLlm {
public:
    static Expected<std::shared_ptr<ServedLlm>> load(VDevice& vdevice, const std::string& name,
                                                     const ModelVersionFile& file,
                                                     const ModelConfig& config);
    ~ServedLlm();
    ServedLlm(const ServedLlm&) = delete;
    ServedLlm& operator=(const ServedLlm&) = delete;

    const std::string& name() const { return name_; }
    const std::string& version() const { return version_; }
    const ModelConfig& config() const { return config_; }
    size_t context_capacity() const;

    // Called with each piece of text as it is produced; returning false (the client went away)
    // aborts the generation, which then ends as "aborted".
    using PieceSink = std::function<bool(const std::string& piece)>;
    // Runs the request on a fresh context. INVALID_ARGUMENT for a prompt that does not fit the
    // context or bad parameters; QUEUE_IS_FULL beyond max_queued_requests; SHUTDOWN once
    // unloaded.
    Expected<GenerateResponse> generate(const GenerateRequest& request,
                                        const PieceSink& on_piece = nullptr);

    const RequestStatistics& statistics() const { return statistics_; }
    GenerationStatisticsSnapshot generation_statistics() const;
    uint64_t scheduler_model_id() const;

    // The running generation is aborted; waiting and later requests fail with SHUTDOWN.
    void shutdown();

private:
    ServedLlm() = default;
    Expected<GenerateResponse> run(const GenerateRequest& request, const PieceSink& on_piece);
    void record(const genai::LLMGeneratorCompletion::Timings& timings, const std::string& ending);

    std::string name_;
    std::string version_;
    ModelConfig config_;
    std::unique_ptr<genai::LLM> llm_;
    std::mutex generation_mutex_;  // one generation at a time: the LLM has one context
    std::mutex mutex_;             // guards shut_down_
    bool shut_down_ = false;
    RequestStatistics statistics_;
    mutable std::mutex generation_statistics_mutex_;
    GenerationStatisticsSnapshot generation_statistics_;
};

}  // namespace corun::serving
