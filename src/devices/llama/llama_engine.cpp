#include "devices/llama/llama_engine.hpp"

#include <algorithm>
#include <array>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <thread>

#include "llama.h"

namespace corun::devices::llama {
namespace {

// llama.cpp reports why a load failed only to its log. Keep the errors of this thread's latest
// call, to put the reason into the Status; print nothing (corun's own messages say it).
thread_local std::string last_engine_error;

void record_engine_log(ggml_log_level level, const char* text, void*) {
    if (level != GGML_LOG_LEVEL_ERROR) return;
    if (last_engine_error.size() < 2048) last_engine_error += text;
}

void init_engine_once() {
    static std::once_flag once;
    std::call_once(once, [] {
        llama_log_set(record_engine_log, nullptr);
        llama_backend_init();
    });
}

std::string engine_error() {
    std::string error = last_engine_error;
    while (!error.empty() && (error.back() == '\n' || error.back() == ' ')) error.pop_back();
    return error.empty() ? "no reason given" : error;
}

}  // namespace

uint32_t default_thread_count() {
    return std::max(2u, std::thread::hardware_concurrency()) - 1;
}

Status check_gguf_file(const std::string& path) {
    std::error_code error;
    if (!std::filesystem::is_regular_file(path, error)) {
        return Status(StatusCode::NOT_FOUND,
                      "model file '" + path + "' does not exist; pass the path of a GGUF file");
    }
    const uintmax_t size = std::filesystem::file_size(path, error);
    std::ifstream file(path, std::ios::binary);
    std::array<char, 24> header{};
    if (error || !file.read(header.data(), header.size())) {
        return Status(StatusCode::INVALID_MODEL,
                      "'" + path + "' is " + std::to_string(size) +
                          " bytes, too short for a GGUF header; the file is cut short or is "
                          "not a GGUF model");
    }
    if (std::memcmp(header.data(), "GGUF", 4) != 0) {
        return Status(StatusCode::INVALID_MODEL,
                      "'" + path +
                          "' is not a GGUF file (it does not start with \"GGUF\"); LLMs are "
                          "loaded from llama.cpp's GGUF format (convert a Hugging Face model "
                          "with llama.cpp's convert_hf_to_gguf.py)");
    }
    uint32_t version = 0;
    uint64_t tensors = 0;
    uint64_t entries = 0;
    std::memcpy(&version, header.data() + 4, sizeof version);
    std::memcpy(&tensors, header.data() + 8, sizeof tensors);
    std::memcpy(&entries, header.data() + 16, sizeof entries);
    if (version < 2 || version > 3) {
        return Status(StatusCode::INVALID_MODEL,
                      "'" + path + "' is GGUF version " + std::to_string(version) +
                          "; this llama.cpp reads versions 2 and 3 (re-convert the model)");
    }
    // Every tensor and key/value pair takes bytes in the file: counts beyond its size mean a
    // damaged header, which llama.cpp would otherwise try to allocate for.
    if (tensors > size / 8 || entries > size / 8) {
        return Status(StatusCode::INVALID_MODEL,
                      "'" + path + "' declares " + std::to_string(tensors) + " tensors and " +
                          std::to_string(entries) + " metadata entries, more than a " +
                          std::to_string(size) + "-byte file can hold: the header is damaged");
    }
    return Status::ok();
}

Expected<std::shared_ptr<LlamaModel>> LlamaModel::load(const std::string& path) {
    CORUN_RETURN_IF_ERROR(check_gguf_file(path));
    init_engine_once();
    last_engine_error.clear();
    llama_model_params params = llama_model_default_params();
    params.n_gpu_layers = 0;
    llama_model* model = llama_model_load_from_file(path.c_str(), params);
    if (model == nullptr) {
        return Status(StatusCode::INVALID_MODEL,
                      "llama.cpp cannot load '" + path + "': " + engine_error() +
                          " (a file cut short, or an architecture this llama.cpp does not "
                          "know; see docs/GENAI.md)");
    }
    return std::shared_ptr<LlamaModel>(new LlamaModel(path, model));
}

LlamaModel::~LlamaModel() {
    llama_model_free(model_);
}

const llama_vocab* LlamaModel::vocab() const {
    return llama_model_get_vocab(model_);
}

uint32_t LlamaModel::training_context() const {
    return static_cast<uint32_t>(std::max(0, llama_model_n_ctx_train(model_)));
}

Expected<std::vector<int32_t>> LlamaModel::tokenize(const std::string& text, bool add_special,
                                                    bool parse_special) const {
    if (text.size() > (1u << 30)) {
        return Status(StatusCode::INVALID_ARGUMENT,
                      "text of " + std::to_string(text.size()) + " bytes is too long to tokenize");
    }
    std::vector<llama_token> tokens(text.size() + 8);
    int32_t count =
        llama_tokenize(vocab(), text.data(), static_cast<int32_t>(text.size()), tokens.data(),
                       static_cast<int32_t>(tokens.size()), add_special, parse_special);
    if (count < 0) {  // more tokens than room: -count is how many
        tokens.resize(static_cast<size_t>(-count));
        count =
            llama_tokenize(vocab(), text.data(), static_cast<int32_t>(text.size()), tokens.data(),
                           static_cast<int32_t>(tokens.size()), add_special, parse_special);
    }
    if (count < 0) {
        return Status(StatusCode::INTERNAL_FAILURE, "llama_tokenize failed on the text");
    }
    tokens.resize(static_cast<size_t>(count));
    return std::vector<int32_t>(tokens.begin(), tokens.end());
}

std::string LlamaModel::token_bytes(int32_t token) const {
    std::array<char, 256> buffer{};
    const int32_t length =
        llama_token_to_piece(vocab(), token, buffer.data(), static_cast<int32_t>(buffer.size()),
                             /*lstrip=*/0, /*special=*/false);
    if (length <= 0) return {};
    return std::string(buffer.data(), static_cast<size_t>(length));
}

bool LlamaModel::is_end_of_generation(int32_t token) const {
    return llama_vocab_is_eog(vocab(), token);
}

Expected<std::string> LlamaModel::apply_chat_template(
    const std::vector<std::pair<std::string, std::string>>& role_content) const {
    const char* chat_template = llama_model_chat_template(model_, nullptr);
    if (chat_template == nullptr) {
        return Status(StatusCode::NOT_SUPPORTED,
                      "'" + path_ +
                          "' has no chat template (tokenizer.chat_template); format the "
                          "conversation yourself and call generate() with the text");
    }
    std::vector<llama_chat_message> messages;
    size_t characters = 0;
    for (const auto& [role, content] : role_content) {
        messages.push_back({role.c_str(), content.c_str()});
        characters += role.size() + content.size();
    }
    std::vector<char> text(2 * characters + 1024);
    int32_t length =
        llama_chat_apply_template(chat_template, messages.data(), messages.size(),
                                  /*add_ass=*/true, text.data(), static_cast<int32_t>(text.size()));
    if (length > static_cast<int32_t>(text.size())) {
        text.resize(static_cast<size_t>(length));
        length = llama_chat_apply_template(chat_template, messages.data(), messages.size(), true,
                                           text.data(), static_cast<int32_t>(text.size()));
    }
    if (length < 0) {
        return Status(StatusCode::NOT_SUPPORTED,
                      "llama.cpp does not know the chat template of '" + path_ +
                          "'; format the conversation yourself and call generate() with the text");
    }
    return std::string(text.data(), static_cast<size_t>(length));
}

Expected<std::unique_ptr<LlamaContext>> LlamaContext::create(std::shared_ptr<LlamaModel> model,
                                                             uint32_t context_size,
                                                             uint32_t max_tokens_per_call,
                                                             uint32_t threads) {
    init_engine_once();
    last_engine_error.clear();
    if (threads == 0) threads = default_thread_count();
    llama_context_params params = llama_context_default_params();
    params.n_ctx = context_size;
    params.n_batch = max_tokens_per_call;
    params.n_ubatch = max_tokens_per_call;
    params.n_seq_max = 1;
    params.n_threads = static_cast<int32_t>(threads);
    params.n_threads_batch = static_cast<int32_t>(threads);
    params.no_perf = true;
    llama_context* context = llama_init_from_model(model->raw(), params);
    if (context == nullptr) {
        return Status(StatusCode::OUT_OF_HOST_MEMORY,
                      "llama.cpp cannot make a context of " + std::to_string(context_size) +
                          " tokens for '" + model->path() + "': " + engine_error() +
                          "; ask for a smaller LLMParams::context_size");
    }
    auto made = std::unique_ptr<LlamaContext>(
        new LlamaContext(std::move(model), context, llama_n_ctx(context), max_tokens_per_call));
    llama_set_abort_callback(context, &LlamaContext::on_node, made.get());
    made->reset_sampler({});
    return made;
}

LlamaContext::~LlamaContext() {
    if (sampler_ != nullptr) llama_sampler_free(sampler_);
    llama_free(context_);
}

bool LlamaContext::on_node(void* self) {
    const auto* context = static_cast<const LlamaContext*>(self);
    return context->after_node_ != nullptr && (*context->after_node_)();
}

Status LlamaContext::decode(std::span<const int32_t> tokens, const NodeCallback& after_node) {
    if (tokens.empty()) return Status::ok();
    if (tokens.size() > max_tokens_per_call_) {
        return Status(StatusCode::INTERNAL_FAILURE,
                      "a unit of " + std::to_string(tokens.size()) +
                          " tokens is larger than the context's batch of " +
                          std::to_string(max_tokens_per_call_));
    }
    if (used() + tokens.size() > capacity_) {
        return Status(StatusCode::RESOURCE_LIMIT, "the context is full (" + std::to_string(used()) +
                                                      " of " + std::to_string(capacity_) +
                                                      " tokens)");
    }
    std::vector<llama_token> batch_tokens(tokens.begin(), tokens.end());
    const llama_batch batch =
        llama_batch_get_one(batch_tokens.data(), static_cast<int32_t>(batch_tokens.size()));
    last_engine_error.clear();
    after_node_ = &after_node;
    const int32_t result = llama_decode(context_, batch);
    after_node_ = nullptr;
    switch (result) {
        case 0:
            return Status::ok();
        case 1:
            return Status(StatusCode::RESOURCE_LIMIT,
                          "the context has no room for " + std::to_string(tokens.size()) +
                              " more tokens (" + std::to_string(used()) + " of " +
                              std::to_string(capacity_) + " used)");
        case 2:
            return Status(StatusCode::ABORTED, "stopped at a graph node");
        default:
            return Status(
                StatusCode::DEVICE_FAILURE,
                "llama_decode failed (" + std::to_string(result) + "): " + engine_error());
    }
}

void LlamaContext::reset_sampler(const SamplingParams& params) {
    if (sampler_ != nullptr) llama_sampler_free(sampler_);
    sampler_ = llama_sampler_chain_init(llama_sampler_chain_default_params());
    if (params.temperature <= 0.0f) {
        llama_sampler_chain_add(sampler_, llama_sampler_init_greedy());
        return;
    }
    if (params.top_k > 0) {
        llama_sampler_chain_add(sampler_,
                                llama_sampler_init_top_k(static_cast<int32_t>(params.top_k)));
    }
    if (params.top_p < 1.0f)
        llama_sampler_chain_add(sampler_, llama_sampler_init_top_p(params.top_p, 1));
    llama_sampler_chain_add(sampler_, llama_sampler_init_temp(params.temperature));
    llama_sampler_chain_add(sampler_, llama_sampler_init_dist(params.seed));
}

int32_t LlamaContext::sample() {
    return llama_sampler_sample(sampler_, context_, -1);
}

uint32_t LlamaContext::used() const {
    const llama_pos last = llama_memory_seq_pos_max(llama_get_memory(context_), 0);
    return last < 0 ? 0 : static_cast<uint32_t>(last) + 1;
}

void LlamaContext::clear() {
    llama_memory_clear(llama_get_memory(context_), true);
}

}  // namespace corun::devices::llama
