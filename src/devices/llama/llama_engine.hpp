// llama.cpp as a device engine (issue 12): a GGUF model checked before llama.cpp reads it, and
// a context that feeds tokens one scheduled unit at a time (a prefill chunk or a decode step)
// with a callback after every graph node, where the runtime pauses or stops the unit.
// Nothing here knows the scheduler; runtime/genai/ drives it.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "corun/expected.hpp"

struct llama_model;
struct llama_context;
struct llama_sampler;
struct llama_vocab;

namespace corun::devices::llama {

// The engine's threads when a caller asks for 0: the cores less one (at least one). A unit's
// threads meet at a spinning barrier after every graph node, so one descheduled thread stalls
// them all; the core left over runs the frames of other models beside a unit.
uint32_t default_thread_count();

// NOT_FOUND for a missing file, INVALID_MODEL for one that is not GGUF, is cut short or whose
// header is implausible; what the message says names the file and the fix.
Status check_gguf_file(const std::string& path);

class LlamaModel {
public:
    // Checks the file, then loads it (memory-mapped) for the CPU.
    static Expected<std::shared_ptr<LlamaModel>> load(const std::string& path);
    ~LlamaModel();
    LlamaModel(const LlamaModel&) = delete;
    LlamaModel& operator=(const LlamaModel&) = delete;

    const std::string& path() const { return path_; }
    uint32_t training_context() const;
    // parse_special: text such as "<|im_start|>" becomes the special token (chat templates).
    Expected<std::vector<int32_t>> tokenize(const std::string& text, bool add_special,
                                            bool parse_special) const;
    // The bytes of one token (a piece of a UTF-8 character, for some).
    std::string token_bytes(int32_t token) const;
    bool is_end_of_generation(int32_t token) const;
    // The messages in the model's own chat template, ending with the assistant's turn.
    Expected<std::string> apply_chat_template(
        const std::vector<std::pair<std::string, std::string>>& role_content) const;

    llama_model* raw() const { return model_; }

private:
    LlamaModel(std::string path, llama_model* model) : path_(std::move(path)), model_(model) {}
    const llama_vocab* vocab() const;

    std::string path_;
    llama_model* model_;
};

struct SamplingParams {
    float temperature = 0.0f;  // 0: greedy
    float top_p = 1.0f;
    uint32_t top_k = 0;
    uint32_t seed = 0;
};

// One sequence's context: the KV cache of the tokens fed so far.
class LlamaContext {
public:
    // max_tokens_per_call: the largest unit (prefill chunk) decode() is given; llama.cpp aborts
    // the process on a larger batch, so decode() refuses one.
    static Expected<std::unique_ptr<LlamaContext>> create(std::shared_ptr<LlamaModel> model,
                                                          uint32_t context_size,
                                                          uint32_t max_tokens_per_call,
                                                          uint32_t threads);
    ~LlamaContext();
    LlamaContext(const LlamaContext&) = delete;
    LlamaContext& operator=(const LlamaContext&) = delete;

    // Called after every node of the graph while decode() computes; returning true stops it
    // (decode then returns ABORTED, and the tokens of this call are not kept in the context).
    using NodeCallback = std::function<bool()>;
    // Feeds `tokens` after those already in the context; the logits of the last one are then
    // ready for sample(). RESOURCE_LIMIT when they do not fit the context.
    Status decode(std::span<const int32_t> tokens, const NodeCallback& after_node);
    // The next token from the last decode()'s logits.
    int32_t sample();
    // Resets the sampler's state (seed) for a new generation.
    void reset_sampler(const SamplingParams& params);

    uint32_t used() const;
    uint32_t capacity() const { return capacity_; }
    void clear();
    const LlamaModel& model() const { return *model_; }

private:
    LlamaContext(std::shared_ptr<LlamaModel> model, llama_context* context, uint32_t capacity,
                 uint32_t max_tokens_per_call)
        : model_(std::move(model)),
          context_(context),
          capacity_(capacity),
          max_tokens_per_call_(max_tokens_per_call) {}
    static bool on_node(void* self);

    std::shared_ptr<LlamaModel> model_;
    llama_context* context_;
    llama_sampler* sampler_ = nullptr;
    const uint32_t capacity_;
    const uint32_t max_tokens_per_call_;
    const NodeCallback* after_node_ = nullptr;  // during decode() only
};

}  // namespace corun::devices::llama
