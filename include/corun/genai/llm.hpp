// genai::LLM: a GGUF language model on a VDevice, with HailoRT's GenAI names (hailo/genai/llm/
// llm.hpp) so that their users feel at home. Unlike the vendor's, a generation is a scheduled
// workload of the VDevice's scheduler: its prompt is fed in chunks and each new token is one
// decode step, and a frame of a model with a higher priority runs between them, or inside one at
// a preemption point (docs/GENAI.md, "How interleaving works").
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "corun/expected.hpp"
#include "corun/vdevice.hpp"

namespace corun::genai {

namespace detail {
class LlmSession;
class Generation;
}  // namespace detail

struct LLMParams {
    // Tokens the context holds (prompt and generated, over every generate() until
    // clear_context()). 0 = the model's training context, capped at 4096.
    uint32_t context_size = 0;
    // The prompt is fed in chunks of at most this many tokens, each one scheduled unit: a frame
    // of another model never waits for more than one chunk (or, with preemption, for more than
    // one graph node). 1..4096.
    uint32_t prefill_chunk_tokens = 64;
    // Threads the engine computes with. 0 = one per core the machine reports, less one (at
    // least one), so that frames of other models have a core beside a running unit.
    uint32_t threads = 0;
    // Pause a running chunk or step at the engine's next graph node while a model of a higher
    // priority has frames queued or running, and run them first (docs/GENAI.md). Off: such
    // frames wait for the end of the running chunk or step.
    bool preemption = true;
};

// HailoRT's LLMGeneratorParams.
struct LLMGeneratorParams {
    uint32_t max_generated_tokens = 128;
    // 0 = greedy (the most likely token, every time); above 0 samples with top_k/top_p.
    float temperature = 0.0f;
    float top_p = 1.0f;  // nucleus sampling threshold, (0, 1]
    uint32_t top_k = 0;  // 0 = all tokens
    uint32_t seed = 0;   // for sampling; the same seed, prompt and context give the same text
    // Generation ends (LOGICAL_END_OF_GENERATION) when the text ends with one of these; the
    // stop sequence itself is not returned.
    std::vector<std::string> stop_sequences;
};

// One message of a chat; the model's own chat template (from its GGUF) formats them.
struct ChatMessage {
    std::string role;  // "system", "user", "assistant"
    std::string content;
};

// What generate() returns: the generated text, piece by piece, as it is produced.
class LLMGeneratorCompletion {
public:
    enum class Status {
        GENERATING,
        MAX_TOKENS_REACHED,         // max_generated_tokens, or the context is full
        LOGICAL_END_OF_GENERATION,  // an end-of-generation token or a stop sequence
        ABORTED,                    // abort(), or the LLM was destroyed
    };

    ~LLMGeneratorCompletion();
    LLMGeneratorCompletion(LLMGeneratorCompletion&&) noexcept;
    LLMGeneratorCompletion& operator=(LLMGeneratorCompletion&&) noexcept;

    // The next piece of text (one token's, or more if several were produced since the last
    // read; a token that ends inside a UTF-8 character waits for the rest). After the last
    // piece: INVALID_OPERATION naming how the generation ended. TIMEOUT if nothing came within
    // `timeout`; ABORTED after abort(); an engine failure as its status.
    Expected<std::string> read(std::chrono::milliseconds timeout = std::chrono::seconds(10));
    // Everything not yet read, once the generation ended (`timeout` bounds the whole wait).
    Expected<std::string> read_all(std::chrono::milliseconds timeout = std::chrono::seconds(60));
    Status generation_status() const;
    // Stops the generation: the running step stops at its next graph node, no further step is
    // scheduled, and the context keeps the tokens fed so far. Returns once it stopped: OK, or
    // the error the generation failed with (through corund: RPC_FAILED naming the socket when
    // corund is gone or does not answer; the generation is then ABORTED, never left hanging).
    corun::Status abort();

    // Measured on this generation (corun's addition).
    struct Timings {
        uint32_t prompt_tokens = 0;
        uint32_t generated_tokens = 0;
        double time_to_first_token_ms = 0;   // from generate() to the first token sampled
        std::vector<double> inter_token_ms;  // between consecutive tokens
    };
    Timings timings() const;

private:
    friend class LLM;
    explicit LLMGeneratorCompletion(std::shared_ptr<detail::Generation> generation);
    std::shared_ptr<detail::Generation> generation_;
    std::function<void()> abort_action_;  // stops the producer's queued work
};

const char* generation_status_name(LLMGeneratorCompletion::Status status);

class LLM {
public:
    // Loads a GGUF model (llama.cpp's format) on the VDevice's group. Errors name the cause: a
    // missing file (NOT_FOUND), one that is not GGUF or is cut short (INVALID_MODEL), a model
    // the engine cannot run, or a build without the generative engines (NOT_SUPPORTED).
    static Expected<std::unique_ptr<LLM>> create(VDevice& vdevice, const std::string& model_path,
                                                 const LLMParams& params = {});
    ~LLM();
    LLM(const LLM&) = delete;
    LLM& operator=(const LLM&) = delete;

    LLMGeneratorParams create_generator_params() const { return {}; }

    // Starts a generation that continues the context (a chat's history stays until
    // clear_context()). INVALID_OPERATION while another generation of this LLM runs;
    // INVALID_ARGUMENT for a prompt that does not fit the context that is left, or bad params.
    Expected<LLMGeneratorCompletion> generate(const LLMGeneratorParams& params,
                                              const std::string& prompt);
    // The messages formatted with the model's chat template, ending with the assistant's turn.
    Expected<LLMGeneratorCompletion> generate(const LLMGeneratorParams& params,
                                              const std::vector<ChatMessage>& messages);

    Expected<std::vector<int32_t>> tokenize(const std::string& text) const;
    // Tokens in the context now, and how many it can hold.
    size_t get_context_usage_size() const;
    size_t max_context_capacity() const;
    // Forgets the context. INVALID_OPERATION while a generation runs.
    corun::Status clear_context();

    // The scheduler's knobs, as on ConfiguredInferModel. The threshold counts units (chunks
    // and steps), of which at most one is queued at a time, so only 1 makes sense for an LLM.
    corun::Status set_scheduler_priority(uint8_t priority);
    corun::Status set_scheduler_timeout(std::chrono::milliseconds timeout);
    corun::Status set_scheduler_threshold(uint32_t threshold);
    // The id under which VDevice::get_scheduler_stats() lists this LLM.
    uint64_t scheduler_model_id() const;

private:
    explicit LLM(std::shared_ptr<detail::LlmSession> session);
    std::shared_ptr<detail::LlmSession> session_;
};

}  // namespace corun::genai
