#include "service/daemon/llm_registry.hpp"

#include "devices/llama/llama_engine.hpp"

#include <sys/mman.h>
#include <unistd.h>

#include <spdlog/spdlog.h>

#include <cerrno>
#include <cmath>
#include <cstring>
#include <thread>

#include "protocol/proto_conversion.hpp"
#include "runtime/genai/generation.hpp"
#include "service/daemon/model_registry.hpp"
#include "service/daemon/received_model_file.hpp"

namespace corun::service {
namespace {

using genai::LLMGeneratorCompletion;
using GenerationStatus = LLMGeneratorCompletion::Status;
constexpr size_t MAX_STOP_SEQUENCES = 64;
constexpr size_t MAX_STOP_SEQUENCE_BYTES = 1024;
// How often a generation's server thread looks whether its client is still there.
constexpr std::chrono::milliseconds CLIENT_CHECK{100};

// What the client may not ask for; the same checks as genai::LLM::generate makes in-process.
Status check_generate_request(const v1::GenerateRequest& request) {
    CORUN_RETURN_IF_ERROR(check_llm_text(request.prompt(), "the prompt"));
    if (request.max_generated_tokens() == 0) {
        return Status(StatusCode::INVALID_ARGUMENT,
                      "max_generated_tokens is 0; ask for at least one token");
    }
    if (!std::isfinite(request.temperature()) || request.temperature() < 0.0f) {
        return Status(StatusCode::INVALID_ARGUMENT,
                      "temperature " + std::to_string(request.temperature()) +
                          " is out of range; use 0 (greedy) or a positive value");
    }
    if (!std::isfinite(request.top_p()) || request.top_p() <= 0.0f || request.top_p() > 1.0f) {
        return Status(StatusCode::INVALID_ARGUMENT,
                      "top_p " + std::to_string(request.top_p()) + " is out of range; use (0, 1]");
    }
    if (static_cast<size_t>(request.stop_sequences_size()) > MAX_STOP_SEQUENCES) {
        return Status(StatusCode::INVALID_ARGUMENT, std::to_string(request.stop_sequences_size()) +
                                                        " stop sequences; corund takes at most " +
                                                        std::to_string(MAX_STOP_SEQUENCES));
    }
    for (const auto& stop : request.stop_sequences()) {
        if (stop.size() > MAX_STOP_SEQUENCE_BYTES) {
            return Status(StatusCode::INVALID_ARGUMENT,
                          "a stop sequence of " + std::to_string(stop.size()) +
                              " bytes; corund takes at most " +
                              std::to_string(MAX_STOP_SEQUENCE_BYTES));
        }
    }
    return Status::ok();
}

}  // namespace

Status check_llm_text(const std::string& text, const char* what) {
    if (text.size() <= MAX_LLM_TEXT_BYTES) return Status::ok();
    return Status(StatusCode::INVALID_ARGUMENT,
                  std::string(what) + " has " + std::to_string(text.size()) +
                      " bytes; corund takes at most " + std::to_string(MAX_LLM_TEXT_BYTES) +
                      " (an LLM's context holds far less)");
}

void ServedLlm::abort_generation() {
    std::shared_ptr<genai::detail::Generation> active;
    {
        std::lock_guard lock(mutex_);
        active = active_;
    }
    if (!active || active->status() != GenerationStatus::GENERATING) return;
    active->request_abort([this] { session->cancel_queued_units(); });
}

void ServedLlm::set_active(std::shared_ptr<genai::detail::Generation> generation) {
    std::lock_guard lock(mutex_);
    active_ = std::move(generation);
}

void ServedLlm::clear_active(const std::shared_ptr<genai::detail::Generation>& generation) {
    std::lock_guard lock(mutex_);
    if (active_ == generation) active_.reset();
}

LlmRegistry::LlmRegistry(uint64_t session_id, VDevice& vdevice, DaemonLimits limits,
                         std::shared_ptr<ClientAccount> account)
    : session_id_(session_id),
      vdevice_(vdevice),
      limits_(limits),
      account_(std::move(account)),
      llms_({"an LLM", "LLMs", "llm_id", "LoadLlm", "max_llms_per_client",
             "destroy its genai::LLM"}) {}

LlmRegistry::~LlmRegistry() {
    close();
}

Expected<std::shared_ptr<ServedLlm>> LlmRegistry::load(
    const v1::LoadLlmChunk& first, const std::function<bool(v1::LoadLlmChunk&)>& next) {
    auto llm = std::make_shared<ServedLlm>();
    llm->name = first.name().empty() ? "llm" : first.name().substr(0, 256);
    genai::LLMParams params = from_proto(first.params());
    if (first.total_bytes() > limits_.max_gguf_bytes) {
        return Status(
            StatusCode::RESOURCE_LIMIT,
            "LLM '" + llm->name + "' is a file of " + std::to_string(first.total_bytes()) +
                " bytes, more than corund's max_gguf_bytes (" +
                std::to_string(limits_.max_gguf_bytes) + "); " + how_to_raise("max_gguf_bytes"));
    }
    if (params.context_size > limits_.max_llm_context_tokens) {
        return Status(StatusCode::RESOURCE_LIMIT,
                      "LLM '" + llm->name + "' asks for a context of " +
                          std::to_string(params.context_size) +
                          " tokens, more than corund's max_llm_context_tokens (" +
                          std::to_string(limits_.max_llm_context_tokens) +
                          "); ask for less (LLMParams::context_size) or " +
                          how_to_raise("max_llm_context_tokens"));
    }
    // The engine's threads are the user's: 0 (the engine's default) is resolved here, where
    // they run.
    // (devices::llama::default_thread_count(), which corund does not link without the engines).
    if (params.threads == 0) params.threads = std::max(2u, std::thread::hardware_concurrency()) - 1;
    CORUN_TRY(llm->threads, charge_account(account_, ClientAccount::Resource::THREADS,
                                           params.threads, limits_.max_threads_per_client,
                                           "LLM '" + llm->name + "' computing with " +
                                               std::to_string(params.threads) + " threads"));
    // The file stays in corund's memory (the engine maps it) while the LLM is loaded: it counts
    // as the user's model memory, like an ONNX model's.
    CORUN_TRY(llm->memory,
              charge_account(account_, ClientAccount::Resource::MODEL_MEMORY, first.total_bytes(),
                             limits_.max_model_memory_per_client,
                             "LLM '" + llm->name + "' (its GGUF file, held in memory)"));
    CORUN_TRY(const auto reservation, llms_.reserve(limits_.max_llms_per_client));
    CORUN_TRY(const ReceivedModelFile file,
              ReceivedModelFile::receive_chunks<v1::LoadLlmChunk>("LoadLlm", first, next));
    auto opened = genai::detail::open_llm_session(vdevice_, file.path(), params);
    if (!opened) {
        return naming_the_client_file(opened.status(), file.path(), llm->name + ".gguf");
    }
    llm->session = opened.release();
    if (llm->session->context_capacity() > limits_.max_llm_context_tokens) {
        const size_t capacity = llm->session->context_capacity();
        llm->session->close();
        return Status(StatusCode::RESOURCE_LIMIT,
                      "LLM '" + llm->name + "' would have a context of " +
                          std::to_string(capacity) +
                          " tokens, more than corund's max_llm_context_tokens (" +
                          std::to_string(limits_.max_llm_context_tokens) +
                          "); set LLMParams::context_size to at most that, or " +
                          how_to_raise("max_llm_context_tokens"));
    }
    llm->llm_id = next_daemon_model_id();
    if (Status added = llms_.add(llm->llm_id, llm); !added.is_ok()) {
        llm->session->close();
        return added;
    }
    spdlog::info("session {}: loaded LLM '{}' ({} bytes, context {} tokens, {} threads) as {}",
                 session_id_, llm->name, file.bytes(), llm->session->context_capacity(),
                 params.threads, llm->llm_id);
    return llm;
}

Expected<std::shared_ptr<ServedLlm>> LlmRegistry::find(uint64_t llm_id) const {
    return llms_.find(llm_id);
}

Status LlmRegistry::unload(uint64_t llm_id) {
    CORUN_TRY(auto llm, llms_.take(llm_id));
    // Aborts a running generation (its unit stops at the next graph node) and leaves the
    // scheduler; the context goes with the last holder (a generation's server thread, briefly).
    llm->session->close();
    return Status::ok();
}

std::vector<std::shared_ptr<ServedLlm>> LlmRegistry::list() const {
    return llms_.list();
}

void LlmRegistry::close() {
    for (auto& llm : llms_.close()) llm->session->close();
}

void serve_generation(ServedLlm& llm, const v1::GenerateRequest& request,
                      grpc::ServerContext& context, grpc::ServerWriter<v1::GenerateEvent>& writer) {
    v1::GenerateEvent event;
    auto send_end = [&](const Status& status, GenerationStatus how,
                        const LLMGeneratorCompletion::Timings& timings) {
        event.Clear();
        v1::GenerationEnded* ended = event.mutable_ended();
        *ended->mutable_status() = to_proto(status);
        ended->set_generation_status(static_cast<int32_t>(how));
        ended->set_prompt_tokens(timings.prompt_tokens);
        ended->set_generated_tokens(timings.generated_tokens);
        ended->set_time_to_first_token_ms(timings.time_to_first_token_ms);
        writer.Write(event);
    };
    if (Status checked = check_generate_request(request); !checked.is_ok()) {
        send_end(checked, GenerationStatus::ABORTED, {});
        return;
    }
    auto started = llm.session->generate(generator_params_from_proto(request), request.prompt(),
                                         request.parse_special());
    if (!started) {
        send_end(started.status(), GenerationStatus::ABORTED, {});
        return;
    }
    const std::shared_ptr<genai::detail::Generation> generation = started.release();
    llm.set_active(generation);
    event.mutable_started()->set_prompt_tokens(generation->timings().prompt_tokens);
    bool client_gone = !writer.Write(event);
    uint32_t tokens_sent = 0;
    Status ended_with;
    for (;;) {
        if (!client_gone && context.IsCancelled()) client_gone = true;
        if (client_gone && !generation->abort_requested()) {
            generation->request_abort([&] { llm.session->cancel_queued_units(); });
        }
        auto piece = generation->read(CLIENT_CHECK);
        // Tokens sampled so far, those whose text is held back included.
        const uint32_t produced = generation->timings().generated_tokens;
        if (piece) {
            event.Clear();
            event.mutable_text()->set_text(*piece);
            event.mutable_text()->set_tokens(produced - tokens_sent);
            if (produced > tokens_sent) {
                llm.tokens.record(ModelActivity::Clock::now(), produced - tokens_sent, 0, 0);
            }
            tokens_sent = produced;
            if (!client_gone && !writer.Write(event)) client_gone = true;
            continue;
        }
        if (generation->status() == GenerationStatus::GENERATING) continue;  // nothing yet
        ended_with = piece.status();
        break;
    }
    llm.clear_active(generation);
    // Tokens whose text was held back to the end (a stop sequence that did not complete).
    if (const uint32_t produced = generation->timings().generated_tokens; produced > tokens_sent) {
        llm.tokens.record(ModelActivity::Clock::now(), produced - tokens_sent, 0, 0);
    }
    const GenerationStatus how = generation->status();
    // read() after the end: INVALID_OPERATION for a generation that ended normally, ABORTED
    // for an aborted one, the cause for a failed one (which also reads as ABORTED).
    Status status = Status::ok();
    if (how == GenerationStatus::ABORTED && ended_with.code() != StatusCode::ABORTED) {
        status = ended_with;
    }
    if (!client_gone) send_end(status, how, generation->timings());
}

Status set_llm_scheduling(ServedLlm& llm, const v1::SetLlmSchedulingRequest& request) {
    switch (request.setting_case()) {
        case v1::SetLlmSchedulingRequest::kPriority:
            if (request.priority() > 255) {
                return Status(StatusCode::INVALID_ARGUMENT, "priority " +
                                                                std::to_string(request.priority()) +
                                                                " is out of range; use 0..31");
            }
            return llm.session->set_priority(static_cast<uint8_t>(request.priority()));
        case v1::SetLlmSchedulingRequest::kTimeoutMs:
            return llm.session->set_timeout(std::chrono::milliseconds(request.timeout_ms()));
        case v1::SetLlmSchedulingRequest::kThreshold:
            return llm.session->set_threshold(request.threshold());
        case v1::SetLlmSchedulingRequest::SETTING_NOT_SET:
            break;
    }
    return Status(StatusCode::INVALID_ARGUMENT,
                  "SetLlmScheduling names no setting; set priority, timeout_ms or threshold");
}

}  // namespace corun::service
