// genai::LLM and its completion: argument checks and prompt formatting over an LlmSession.
#include "corun/genai/llm.hpp"

#include <cmath>

#include "runtime/genai/generation.hpp"
#include "runtime/genai/llm_session.hpp"

namespace corun::genai {
namespace {

Status check_generator_params(const LLMGeneratorParams& params) {
    if (params.max_generated_tokens == 0) {
        return Status(StatusCode::INVALID_ARGUMENT,
                      "max_generated_tokens is 0; ask for at least one token");
    }
    if (!std::isfinite(params.temperature) || params.temperature < 0.0f) {
        return Status(StatusCode::INVALID_ARGUMENT,
                      "temperature " + std::to_string(params.temperature) +
                          " is out of range; use 0 (greedy) or a positive value");
    }
    if (!std::isfinite(params.top_p) || params.top_p <= 0.0f || params.top_p > 1.0f) {
        return Status(StatusCode::INVALID_ARGUMENT,
                      "top_p " + std::to_string(params.top_p) + " is out of range; use (0, 1]");
    }
    return Status::ok();
}

}  // namespace

const char* generation_status_name(LLMGeneratorCompletion::Status status) {
    switch (status) {
        case LLMGeneratorCompletion::Status::GENERATING:
            return "GENERATING";
        case LLMGeneratorCompletion::Status::MAX_TOKENS_REACHED:
            return "MAX_TOKENS_REACHED";
        case LLMGeneratorCompletion::Status::LOGICAL_END_OF_GENERATION:
            return "LOGICAL_END_OF_GENERATION";
        case LLMGeneratorCompletion::Status::ABORTED:
            return "ABORTED";
    }
    return "UNKNOWN";
}

LLMGeneratorCompletion::LLMGeneratorCompletion(std::shared_ptr<detail::Generation> generation)
    : generation_(std::move(generation)) {}
LLMGeneratorCompletion::~LLMGeneratorCompletion() = default;
LLMGeneratorCompletion::LLMGeneratorCompletion(LLMGeneratorCompletion&&) noexcept = default;
LLMGeneratorCompletion& LLMGeneratorCompletion::operator=(LLMGeneratorCompletion&&) noexcept =
    default;

Expected<std::string> LLMGeneratorCompletion::read(std::chrono::milliseconds timeout) {
    if (!generation_)
        return corun::Status(StatusCode::INVALID_OPERATION, "the completion was moved from");
    return generation_->read(timeout);
}

Expected<std::string> LLMGeneratorCompletion::read_all(std::chrono::milliseconds timeout) {
    if (!generation_)
        return corun::Status(StatusCode::INVALID_OPERATION, "the completion was moved from");
    return generation_->read_all(timeout);
}

LLMGeneratorCompletion::Status LLMGeneratorCompletion::generation_status() const {
    return generation_ ? generation_->status() : Status::ABORTED;
}

corun::Status LLMGeneratorCompletion::abort() {
    if (!generation_)
        return corun::Status(StatusCode::INVALID_OPERATION, "the completion was moved from");
    // A generation that failed (its engine, or corund going away) says why, whether it
    // failed before this call or while stopping.
    if (generation_->status() == Status::GENERATING) {
        generation_->request_abort(abort_action_ ? abort_action_ : [] {});
    }
    return generation_->error();
}

LLMGeneratorCompletion::Timings LLMGeneratorCompletion::timings() const {
    return generation_ ? generation_->timings() : Timings{};
}

LLM::LLM(std::shared_ptr<detail::LlmSession> session) : session_(std::move(session)) {}

LLM::~LLM() {
    if (session_) session_->close();
}

Expected<std::unique_ptr<LLM>> LLM::create(VDevice& vdevice, const std::string& model_path,
                                           const LLMParams& params) {
    CORUN_TRY(auto session, detail::open_llm_session(vdevice, model_path, params));
    return std::unique_ptr<LLM>(new LLM(std::move(session)));
}

Expected<LLMGeneratorCompletion> LLM::generate(const LLMGeneratorParams& params,
                                               const std::string& prompt) {
    CORUN_RETURN_IF_ERROR(check_generator_params(params));
    CORUN_TRY(auto generation, session_->generate(params, prompt, /*parse_special=*/true));
    LLMGeneratorCompletion completion(std::move(generation));
    completion.abort_action_ = [session = session_] { session->cancel_queued_units(); };
    return completion;
}

Expected<LLMGeneratorCompletion> LLM::generate(const LLMGeneratorParams& params,
                                               const std::vector<ChatMessage>& messages) {
    if (messages.empty()) {
        return Status(StatusCode::INVALID_ARGUMENT, "no chat messages; give at least one");
    }
    CORUN_TRY(auto prompt, session_->apply_chat_template(messages));
    return generate(params, prompt);
}

Expected<std::vector<int32_t>> LLM::tokenize(const std::string& text) const {
    return session_->tokenize(text);
}

size_t LLM::get_context_usage_size() const {
    return session_->context_usage();
}

size_t LLM::max_context_capacity() const {
    return session_->context_capacity();
}

corun::Status LLM::clear_context() {
    return session_->clear_context();
}

corun::Status LLM::set_scheduler_priority(uint8_t priority) {
    return session_->set_priority(priority);
}

corun::Status LLM::set_scheduler_timeout(std::chrono::milliseconds timeout) {
    return session_->set_timeout(timeout);
}

corun::Status LLM::set_scheduler_threshold(uint32_t threshold) {
    return session_->set_threshold(threshold);
}

uint64_t LLM::scheduler_model_id() const {
    return session_->model_id();
}

}  // namespace corun::genai
