#include "runtime/genai/local_llm_session.hpp"

#include <algorithm>
#include <atomic>
#include <mutex>

#include "devices/llama/llama_engine.hpp"
#include "runtime/device_group.hpp"
#include "runtime/genai/scheduled_generative_model.hpp"
#include "runtime/genai/text_stream.hpp"
#include "runtime/local_backend.hpp"
#include "scheduler/scheduler.hpp"

namespace corun::genai::detail {
namespace {

using GenerationStatus = LLMGeneratorCompletion::Status;
constexpr uint32_t MAX_PREFILL_CHUNK = 4096;
constexpr uint32_t DEFAULT_CONTEXT_CAP = 4096;

// What one generation needs between its units.
struct GenerationState {
    std::shared_ptr<Generation> generation;
    std::vector<int32_t> prompt;
    size_t prompt_fed = 0;
    int32_t last_token = -1;  // sampled, not yet fed to the context
    uint32_t generated = 0;
    uint32_t max_tokens = 0;
    devices::llama::SamplingParams sampling;
    TextStream text;

    GenerationState(std::shared_ptr<Generation> generation_, std::vector<int32_t> prompt_,
                    const LLMGeneratorParams& params)
        : generation(std::move(generation_)),
          prompt(std::move(prompt_)),
          max_tokens(params.max_generated_tokens),
          sampling{params.temperature, params.top_p, params.top_k, params.seed},
          text(params.stop_sequences) {}
};

class LocalLlmSession final : public LlmSession,
                              public std::enable_shared_from_this<LocalLlmSession> {
public:
    LocalLlmSession(std::shared_ptr<DeviceGroup> group, runtime::LocalBackend& backend,
                    std::unique_ptr<devices::llama::LlamaContext> context, const LLMParams& params,
                    ScheduledGenerativeModel scheduled)
        : group_(std::move(group)),
          backend_(backend),
          context_(std::move(context)),
          params_(params),
          scheduled_(std::move(scheduled)) {
        record_->context_capacity = context_->capacity();
        backend_.add_generative_record(scheduled_.model_id(), record_);
    }

    ~LocalLlmSession() override { close(); }

    Expected<std::shared_ptr<Generation>> generate(const LLMGeneratorParams& params,
                                                   const std::string& prompt,
                                                   bool parse_special) override {
        std::lock_guard lock(mutex_);
        if (closed_) return corun::Status(StatusCode::SHUTDOWN, "the LLM was closed");
        if (active_) {
            return corun::Status(StatusCode::INVALID_OPERATION,
                                 "a generation of this LLM is still running; read it to its "
                                 "end or abort() it before generate() again");
        }
        CORUN_TRY(auto tokens,
                  context_->model().tokenize(prompt, context_->used() == 0, parse_special));
        if (tokens.empty()) {
            return corun::Status(StatusCode::INVALID_ARGUMENT,
                                 "the prompt is empty; give the model some text to continue");
        }
        const size_t used = context_->used();
        if (used + tokens.size() + 1 > context_->capacity()) {
            return corun::Status(
                StatusCode::INVALID_ARGUMENT,
                "the prompt of " + std::to_string(tokens.size()) +
                    " tokens does not fit the context (" + std::to_string(used) + " of " +
                    std::to_string(context_->capacity()) +
                    " tokens used): shorten it, clear_context(), or create the LLM with a larger "
                    "LLMParams::context_size");
        }
        auto generation = std::make_shared<Generation>(static_cast<uint32_t>(tokens.size()));
        auto state = std::make_shared<GenerationState>(generation, std::move(tokens), params);
        context_->reset_sampler(state->sampling);
        active_ = generation;
        if (auto queued = queue_unit(state); !queued.is_ok()) {
            active_.reset();
            return queued;
        }
        return generation;
    }

    Expected<std::vector<int32_t>> tokenize(const std::string& text) const override {
        return context_->model().tokenize(text, false, true);
    }
    Expected<std::string> apply_chat_template(
        const std::vector<ChatMessage>& messages) const override {
        std::vector<std::pair<std::string, std::string>> pairs;
        for (const auto& message : messages) pairs.emplace_back(message.role, message.content);
        return context_->model().apply_chat_template(pairs);
    }
    size_t context_usage() const override {
        std::lock_guard lock(mutex_);
        // While a unit runs the context is the engine's; its count is the one before the unit.
        return used_tokens_;
    }
    size_t context_capacity() const override { return context_->capacity(); }

    corun::Status clear_context() override {
        std::lock_guard lock(mutex_);
        if (active_) {
            return corun::Status(StatusCode::INVALID_OPERATION,
                                 "a generation is running; abort() it before clear_context()");
        }
        context_->clear();
        used_tokens_ = 0;
        record_->context_used = 0;
        return corun::Status::ok();
    }

    corun::Status set_priority(uint8_t priority) override {
        return scheduled_.set_priority(priority);
    }
    corun::Status set_timeout(std::chrono::milliseconds timeout) override {
        return scheduled_.set_timeout(timeout);
    }
    corun::Status set_threshold(uint32_t threshold) override {
        // One unit of a generation is queued at a time: a threshold above 1 would never be met.
        CORUN_RETURN_IF_ERROR(scheduler::check_threshold(threshold, 1)
                                  .with_context("an LLM queues one unit at a time"));
        return corun::Status::ok();
    }
    uint64_t model_id() const override { return scheduled_.model_id(); }

    void close() override {
        std::shared_ptr<Generation> active;
        {
            std::lock_guard lock(mutex_);
            if (closed_) return;
            closed_ = true;
            active = active_;
        }
        if (active) abort_generation(*active);
        backend_.remove_generative_record(scheduled_.model_id());
        scheduled_.remove();
    }

    void cancel_queued_units() override {
        scheduled_.cancel_queued(corun::Status(StatusCode::ABORTED, "aborted"));
    }

    void abort_generation(Generation& generation) {
        generation.request_abort([&] { cancel_queued_units(); });
    }

private:
    corun::Status queue_unit(const std::shared_ptr<GenerationState>& state) {
        scheduler::InferRequest request;
        request.run = [self = shared_from_this(), state](size_t device_index) {
            return self->run_unit(state, device_index);
        };
        request.cancel = [self = shared_from_this(), state](corun::Status reason) {
            if (state->generation->abort_requested()) {
                self->end(*state, GenerationStatus::ABORTED);
            } else {
                self->end_with_error(*state, reason);
            }
        };
        return scheduled_.enqueue(std::move(request));
    }

    // One prefill chunk, or one decode step; queues the next unit or ends the generation.
    int64_t run_unit(const std::shared_ptr<GenerationState>& shared, size_t device_index) {
        GenerationState& state = *shared;
        ScheduledGenerativeModel::UnitClock clock(scheduled_, device_index);
        Generation& generation = *state.generation;
        const devices::llama::LlamaContext::NodeCallback after_node = [&] {
            if (generation.abort_requested()) return true;
            clock.preemption_point();
            return generation.abort_requested();
        };
        if (generation.abort_requested()) {
            end(state, GenerationStatus::ABORTED);
            return 0;
        }
        corun::Status fed;
        const bool prefill = state.prompt_fed < state.prompt.size();
        if (prefill) {
            const size_t count = std::min<size_t>(params_.prefill_chunk_tokens,
                                                  state.prompt.size() - state.prompt_fed);
            fed = context_->decode(
                std::span<const int32_t>(state.prompt.data() + state.prompt_fed, count),
                after_node);
            if (fed.is_ok()) state.prompt_fed += count;
        } else {
            fed = context_->decode(std::span<const int32_t>(&state.last_token, 1), after_node);
        }
        record_usage();
        const int64_t device_ns = clock.device_ns();
        if (fed.code() == StatusCode::ABORTED) {
            end(state, GenerationStatus::ABORTED);
        } else if (fed.code() == StatusCode::RESOURCE_LIMIT && !prefill) {
            end(state, GenerationStatus::MAX_TOKENS_REACHED);  // the context is full
        } else if (!fed.is_ok()) {
            end_with_error(state,
                           fed.with_context("generating with '" + context_->model().path() + "'"));
        } else if (state.prompt_fed < state.prompt.size()) {
            queue_next(shared);
        } else {
            take_token(shared);
        }
        return device_ns;
    }

    // Samples the next token from the last unit's logits and passes its text on.
    void take_token(const std::shared_ptr<GenerationState>& shared) {
        GenerationState& state = *shared;
        const int32_t token = context_->sample();
        if (context_->model().is_end_of_generation(token)) {
            state.generation->add_text(state.text.flush());
            end(state, GenerationStatus::LOGICAL_END_OF_GENERATION);
            return;
        }
        ++state.generated;
        record_->tokens_generated.fetch_add(1, std::memory_order_relaxed);
        state.generation->add_token(state.text.add(context_->model().token_bytes(token)));
        if (state.text.stopped()) {
            end(state, GenerationStatus::LOGICAL_END_OF_GENERATION);
        } else if (state.generated >= state.max_tokens) {
            state.generation->add_text(state.text.flush());
            end(state, GenerationStatus::MAX_TOKENS_REACHED);
        } else {
            state.last_token = token;
            queue_next(shared);
        }
    }

    void queue_next(const std::shared_ptr<GenerationState>& state) {
        if (auto queued = queue_unit(state); !queued.is_ok()) end_with_error(*state, queued);
    }

    void record_usage() {
        std::lock_guard lock(mutex_);
        used_tokens_ = context_->used();
        record_->context_used = used_tokens_;
    }

    // The session is free for the next generate() before readers learn of the end, so a reader
    // that saw the end may start another at once.
    void end(GenerationState& state, GenerationStatus status) {
        release(state);
        state.generation->finish(status);
    }
    void end_with_error(GenerationState& state, const corun::Status& error) {
        release(state);
        state.generation->fail(error);
    }
    void release(const GenerationState& state) {
        std::lock_guard lock(mutex_);
        if (active_ == state.generation) active_.reset();
    }

    std::shared_ptr<DeviceGroup> group_;  // keeps the scheduler alive
    runtime::LocalBackend& backend_;      // the group's: outlives this
    // What the in-process monitor shows of this LLM (registered with the backend).
    const std::shared_ptr<runtime::monitor::GenerativeRecord> record_ =
        std::make_shared<runtime::monitor::GenerativeRecord>();
    std::unique_ptr<devices::llama::LlamaContext> context_;  // used by one unit at a time
    const LLMParams params_;
    ScheduledGenerativeModel scheduled_;
    mutable std::mutex mutex_;
    std::shared_ptr<Generation> active_;
    size_t used_tokens_ = 0;
    bool closed_ = false;
};

}  // namespace

Expected<std::shared_ptr<LlmSession>> open_local_llm_session(std::shared_ptr<DeviceGroup> group,
                                                             runtime::LocalBackend& backend,
                                                             const std::string& model_path,
                                                             const LLMParams& params) {
    if (params.prefill_chunk_tokens == 0 || params.prefill_chunk_tokens > MAX_PREFILL_CHUNK) {
        return corun::Status(StatusCode::INVALID_ARGUMENT,
                             "LLMParams::prefill_chunk_tokens is " +
                                 std::to_string(params.prefill_chunk_tokens) + "; use 1.." +
                                 std::to_string(MAX_PREFILL_CHUNK));
    }
    CORUN_TRY(auto model, devices::llama::LlamaModel::load(model_path));
    uint32_t context_size = params.context_size;
    if (context_size == 0) {
        context_size = std::min(DEFAULT_CONTEXT_CAP, std::max(1u, model->training_context()));
    }
    CORUN_TRY(auto context, devices::llama::LlamaContext::create(
                                model, context_size, params.prefill_chunk_tokens, params.threads));
    CORUN_TRY(auto scheduled,
              ScheduledGenerativeModel::add(backend, model_path, params.preemption));
    return std::shared_ptr<LlmSession>(std::make_shared<LocalLlmSession>(
        std::move(group), backend, std::move(context), params, std::move(scheduled)));
}

}  // namespace corun::genai::detail
