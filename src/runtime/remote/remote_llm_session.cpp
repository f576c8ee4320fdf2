// genai::LLM through corund: the LlmSession of a VDevice group whose backend is corund. The GGUF
// file is read here and streamed to corund in chunks (corund opens no path a client names); the
// LLM runs there on the group's devices, through the one scheduler the group shares with every
// other client's models. A generation's text streams back as it is produced, into the same
// detail::Generation an in-process LLM fills, so read(), read_all() and abort() behave the same.
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <grpcpp/grpcpp.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <limits>
#include <mutex>
#include <thread>

#include "runtime/api_access.hpp"
#include "runtime/device_group.hpp"
#include "runtime/genai/generation.hpp"
#include "runtime/genai/llm_session.hpp"
#include "runtime/remote/model_file_upload.hpp"
#include "runtime/remote/remote_backend.hpp"
#include "runtime/remote/service_connection.hpp"

namespace corun::remote {
namespace {

namespace v1 = service::v1;
using genai::LLMGeneratorCompletion;
using genai::detail::Generation;
using genai::detail::LlmSession;

// AbortGeneration returns once the running unit stopped at its next graph node.
constexpr std::chrono::seconds ABORT_DEADLINE{60};
// A GenerationEnded cannot make the reader count more tokens than this beyond those it saw.
constexpr uint32_t MAX_UNSEEN_TOKENS = 1u << 20;

// One generation's stream from corund, read by its own thread into the Generation.
struct GenerationStream {
    grpc::ClientContext context;
    std::unique_ptr<grpc::ClientReader<v1::GenerateEvent>> reader;
    std::shared_ptr<Generation> generation;
    std::thread thread;
};

Expected<LLMGeneratorCompletion::Status> ended_status(int32_t value) {
    using GenerationStatus = LLMGeneratorCompletion::Status;
    switch (static_cast<GenerationStatus>(value)) {
        case GenerationStatus::MAX_TOKENS_REACHED:
        case GenerationStatus::LOGICAL_END_OF_GENERATION:
        case GenerationStatus::ABORTED:
            return static_cast<GenerationStatus>(value);
        case GenerationStatus::GENERATING:
            break;
    }
    return Status(StatusCode::INTERNAL_FAILURE,
                  "corund ended a generation with status " + std::to_string(value) +
                      ", which this client does not know; use a client and a daemon from the "
                      "same corun release");
}

// The reader thread: pieces, then the end, into the Generation; a stream that breaks off fails
// the generation with RPC_FAILED naming the socket.
void read_events(GenerationStream& stream, service::ServiceConnection& connection) {
    Generation& generation = *stream.generation;
    v1::GenerateEvent event;
    uint32_t tokens_seen = 0;
    bool ended = false;
    while (!ended && stream.reader->Read(&event)) {
        if (event.has_text()) {
            const v1::GeneratedText& text = event.text();
            if (text.tokens() == 0) {
                generation.add_text(text.text());
            } else {
                // One token carries the text, the rest were held back (their text comes later).
                generation.add_token(text.text());
                for (uint32_t i = 1; i < text.tokens(); ++i) generation.add_token("");
            }
            tokens_seen += text.tokens();
        } else if (event.has_ended()) {
            ended = true;
            const v1::GenerationEnded& end = event.ended();
            const uint32_t total =
                std::min(end.generated_tokens(), tokens_seen + MAX_UNSEEN_TOKENS);
            for (; tokens_seen < total; ++tokens_seen) generation.add_token("");
            const Status status = service::from_proto(end.status());
            if (!status.is_ok()) {
                generation.fail(status);
            } else if (auto how = ended_status(end.generation_status())) {
                generation.finish(*how);
            } else {
                generation.fail(how.status());
            }
        }
    }
    while (stream.reader->Read(&event)) {
    }
    const grpc::Status finished = stream.reader->Finish();
    if (ended) return;
    Status cause = connection.call_outcome("Generate", finished, v1::Status());
    if (cause.is_ok()) {
        cause = Status(StatusCode::RPC_FAILED,
                       "corund at " + connection.socket() +
                           " ended the generation's stream without saying how it ended");
    }
    generation.fail(cause);
}

class RemoteLlmSession final : public LlmSession {
public:
    RemoteLlmSession(std::shared_ptr<service::ServiceConnection> connection, uint64_t llm_id,
                     size_t capacity)
        : connection_(std::move(connection)), llm_id_(llm_id), capacity_(capacity) {}

    ~RemoteLlmSession() override { close(); }

    Expected<std::shared_ptr<Generation>> generate(const genai::LLMGeneratorParams& params,
                                                   const std::string& prompt,
                                                   bool parse_special) override {
        std::lock_guard lock(mutex_);
        if (closed_) return Status(StatusCode::SHUTDOWN, "the LLM was closed");
        CORUN_RETURN_IF_ERROR(settle_ended_stream("generate() again"));
        if (connection_->is_broken()) return connection_->gone();
        v1::GenerateRequest request;
        request.set_session_id(connection_->session_id());
        request.set_llm_id(llm_id_);
        request.set_prompt(prompt);
        request.set_parse_special(parse_special);
        service::to_proto(params, request);

        auto stream = std::make_shared<GenerationStream>();
        // No deadline: a generation runs as long as it produces (abort() stops it).
        stream->reader = connection_->stub().Generate(&stream->context, request);
        v1::GenerateEvent first;
        if (!stream->reader->Read(&first)) {
            const grpc::Status finished = stream->reader->Finish();
            Status cause = connection_->call_outcome("Generate", finished, v1::Status());
            if (cause.is_ok()) {
                cause = Status(StatusCode::RPC_FAILED, "corund at " + connection_->socket() +
                                                           " answered Generate with nothing");
            }
            return cause;
        }
        if (!first.has_started()) {
            Status refused =
                first.has_ended() ? service::from_proto(first.ended().status()) : Status::ok();
            if (refused.is_ok()) {
                refused = Status(StatusCode::INTERNAL_FAILURE,
                                 "corund answered Generate without starting the generation");
            }
            stream->context.TryCancel();
            while (stream->reader->Read(&first)) {
            }
            stream->reader->Finish().ok();
            return refused;
        }
        stream->generation = std::make_shared<Generation>(first.started().prompt_tokens());
        stream->thread = std::thread([stream = stream.get(), connection = connection_] {
            read_events(*stream, *connection);
        });
        stream_ = stream;
        return stream->generation;
    }

    Expected<std::vector<int32_t>> tokenize(const std::string& text) const override {
        v1::TokenizeRequest request;
        request.set_session_id(connection_->session_id());
        request.set_llm_id(llm_id_);
        request.set_text(text);
        v1::TokenizeReply reply;
        CORUN_RETURN_IF_ERROR(unary("Tokenize", &v1::Corun::Stub::Tokenize, request, reply));
        return std::vector<int32_t>(reply.tokens().begin(), reply.tokens().end());
    }

    Expected<std::string> apply_chat_template(
        const std::vector<genai::ChatMessage>& messages) const override {
        v1::ChatTemplateRequest request;
        request.set_session_id(connection_->session_id());
        request.set_llm_id(llm_id_);
        for (const auto& message : messages) {
            v1::ChatMessage* sent = request.add_messages();
            sent->set_role(message.role);
            sent->set_content(message.content);
        }
        v1::ChatTemplateReply reply;
        CORUN_RETURN_IF_ERROR(
            unary("ApplyChatTemplate", &v1::Corun::Stub::ApplyChatTemplate, request, reply));
        return reply.prompt();
    }

    // 0 when corund cannot say (it went away): the interface has no room for an error.
    size_t context_usage() const override {
        v1::ContextUsageReply reply;
        if (!unary("ContextUsage", &v1::Corun::Stub::ContextUsage, llm_request(), reply).is_ok()) {
            return 0;
        }
        return static_cast<size_t>(reply.used_tokens());
    }
    size_t context_capacity() const override { return capacity_; }

    Status clear_context() override {
        {
            std::lock_guard lock(mutex_);
            CORUN_RETURN_IF_ERROR(settle_ended_stream("clear_context()"));
        }
        v1::Reply reply;
        return unary("ClearContext", &v1::Corun::Stub::ClearContext, llm_request(), reply);
    }

    Status set_priority(uint8_t priority) override {
        v1::SetLlmSchedulingRequest request = scheduling_request();
        request.set_priority(priority);
        return set_scheduling(request);
    }
    Status set_timeout(std::chrono::milliseconds timeout) override {
        CORUN_TRY(const uint32_t milliseconds, service::timeout_milliseconds(timeout));
        v1::SetLlmSchedulingRequest request = scheduling_request();
        request.set_timeout_ms(milliseconds);
        return set_scheduling(request);
    }
    Status set_threshold(uint32_t threshold) override {
        v1::SetLlmSchedulingRequest request = scheduling_request();
        request.set_threshold(threshold);
        return set_scheduling(request);
    }
    uint64_t model_id() const override { return llm_id_; }

    // Stops corund's generation of this LLM; the stream then ends it here (ABORTED).
    void cancel_queued_units() override {
        std::shared_ptr<GenerationStream> stream;
        {
            std::lock_guard lock(mutex_);
            stream = stream_;
        }
        stop_in_corund(stream.get());
    }
    void close() override {
        std::shared_ptr<GenerationStream> stream;
        {
            std::lock_guard lock(mutex_);
            if (closed_) return;
            closed_ = true;
            stream = std::move(stream_);
        }
        if (stream) {
            if (stream->generation->status() == LLMGeneratorCompletion::Status::GENERATING) {
                stream->generation->request_abort([&] { stop_in_corund(stream.get()); });
            }
            if (stream->thread.joinable()) stream->thread.join();
        }
        if (!connection_->is_broken()) {
            v1::Reply reply;
            unary("UnloadLlm", &v1::Corun::Stub::UnloadLlm, llm_request(), reply).ignore();
        }
    }

private:
    // Before the next call that needs the LLM free: INVALID_OPERATION while the last generation
    // still runs; once it ended, waits for its reader to finish its call (corund's handler has
    // then returned, so corund holds nothing of it), so that the caller never sees a busy LLM
    // after reading the end or after abort(). Called with mutex_ held.
    Status settle_ended_stream(const char* next) {
        if (!stream_) return Status::ok();
        if (stream_->generation->status() == LLMGeneratorCompletion::Status::GENERATING) {
            return Status(StatusCode::INVALID_OPERATION,
                          std::string("a generation of this LLM is still running; read it to its "
                                      "end or abort() it before ") +
                              next);
        }
        if (stream_->thread.joinable()) stream_->thread.join();
        stream_.reset();
        return Status::ok();
    }

    // Asks corund to stop the generation of `stream`; its stream then ends it here (ABORTED).
    // When corund cannot be asked (it is gone, or does not answer within ABORT_DEADLINE: killed,
    // stopped), the generation ends here at once with that cause, which abort() and read()
    // return, and its stream is cancelled so that the reader thread returns: nothing waits for
    // a daemon that will not answer.
    void stop_in_corund(GenerationStream* stream) {
        Status cause;
        if (connection_->is_broken()) {
            cause = connection_->gone();
        } else {
            grpc::ClientContext context;
            context.set_deadline(std::chrono::system_clock::now() + ABORT_DEADLINE);
            v1::Reply reply;
            const grpc::Status status =
                connection_->stub().AbortGeneration(&context, llm_request(), &reply);
            const Status outcome =
                connection_->call_outcome("AbortGeneration", status, reply.status());
            // A refusal (the generation just ended there) leaves the end to the stream.
            if (!status.ok()) cause = outcome;
        }
        if (cause.is_ok() || stream == nullptr) return;
        stream->generation->fail(cause.with_context("aborting the generation"));
        stream->context.TryCancel();
    }

    template <typename Request, typename Reply, typename Method>
    Status unary(const char* name, Method method, const Request& request, Reply& reply) const {
        return connection_->call(name, method, request, reply,
                                 service::ServiceConnection::CONTROL_DEADLINE);
    }

    v1::LlmRequest llm_request() const {
        v1::LlmRequest request;
        request.set_session_id(connection_->session_id());
        request.set_llm_id(llm_id_);
        return request;
    }
    v1::SetLlmSchedulingRequest scheduling_request() const {
        v1::SetLlmSchedulingRequest request;
        request.set_session_id(connection_->session_id());
        request.set_llm_id(llm_id_);
        return request;
    }
    Status set_scheduling(const v1::SetLlmSchedulingRequest& request) {
        v1::Reply reply;
        return unary("SetLlmScheduling", &v1::Corun::Stub::SetLlmScheduling, request, reply);
    }

    const std::shared_ptr<service::ServiceConnection> connection_;
    const uint64_t llm_id_;
    const size_t capacity_;
    std::mutex mutex_;
    std::shared_ptr<GenerationStream> stream_;  // the last generation
    bool closed_ = false;
};

// The file's bytes go to corund in chunks; corund refuses a file over its max_gguf_bytes from
// the first chunk, before the rest is sent.
Expected<std::shared_ptr<LlmSession>> open_remote_llm_session(VDevice& vdevice,
                                                              const std::string& model_path,
                                                              const genai::LLMParams& params) {
    const auto& group = runtime::ApiAccess::group_of(vdevice);
    auto* backend = dynamic_cast<RemoteBackend*>(&group->backend());
    if (backend == nullptr) {
        return Status(StatusCode::NOT_SUPPORTED,
                      "this VDevice's group runs neither in this process nor in corund; an LLM "
                      "cannot be loaded on it");
    }
    const std::shared_ptr<service::ServiceConnection>& connection = backend->connection();
    if (connection->is_broken()) return connection->gone();

    v1::LoadLlmChunk first;
    first.set_session_id(connection->session_id());
    first.set_name(std::filesystem::path(model_path).stem().string());
    service::to_proto(params, *first.mutable_params());
    v1::LoadLlmReply reply;
    CORUN_RETURN_IF_ERROR(upload_model_file(*connection, "LoadLlm", model_path, "a GGUF file",
                                            std::move(first), &v1::Corun::Stub::LoadLlm, reply));
    return std::shared_ptr<LlmSession>(std::make_shared<RemoteLlmSession>(
        connection, reply.llm_id(), static_cast<size_t>(reply.context_capacity())));
}

// Registered when this code is loaded, as the remote backend registers itself.
[[maybe_unused]] const bool remote_llm_registered =
    genai::detail::register_remote_llm_opener(&open_remote_llm_session);

}  // namespace
}  // namespace corun::remote
