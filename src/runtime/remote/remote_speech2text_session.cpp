// genai::Speech2Text through corund: the Speech2TextSession of a VDevice group whose backend is
// corund. The model file is streamed to corund as an LLM's GGUF is (model_file_upload.hpp); the
// audio travels in one Transcribe call and its segments come back in the reply. The windows run
// in corund, on the group's devices, through the one scheduler every client of the group shares.
#include <grpcpp/grpcpp.h>

#include <chrono>
#include <cstring>
#include <filesystem>
#include <limits>
#include <mutex>

#include "protocol/proto_conversion.hpp"
#include "runtime/api_access.hpp"
#include "runtime/device_group.hpp"
#include "runtime/genai/speech2text_session.hpp"
#include "runtime/remote/model_file_upload.hpp"
#include "runtime/remote/remote_backend.hpp"
#include "runtime/remote/service_connection.hpp"

namespace corun::remote {
namespace {

namespace v1 = service::v1;
using genai::Speech2TextSegment;
using genai::detail::Speech2TextSession;
using genai::detail::TranscriptionRequest;

// A transcription of the longest audio one call takes (an hour) on a slow machine.
constexpr std::chrono::hours TRANSCRIBE_DEADLINE{2};

class RemoteSpeech2TextSession final : public Speech2TextSession {
public:
    RemoteSpeech2TextSession(std::shared_ptr<service::ServiceConnection> connection,
                             uint64_t remote_id)
        : connection_(std::move(connection)), remote_id_(remote_id) {}

    ~RemoteSpeech2TextSession() override { close(); }

    Status check(const TranscriptionRequest& request) const override {
        v1::TranscribeRequest message = transcribe_request(request);
        message.set_check_only(true);
        v1::TranscribeReply reply;
        return unary("Transcribe", &v1::Corun::Stub::Transcribe, message, reply,
                     service::ServiceConnection::CONTROL_DEADLINE);
    }

    Expected<std::vector<Speech2TextSegment>> transcribe(
        std::span<const float> audio, const TranscriptionRequest& request) override {
        {
            std::lock_guard lock(mutex_);
            if (closed_) return Status(StatusCode::SHUTDOWN, "the Speech2Text was closed");
        }
        v1::TranscribeRequest message = transcribe_request(request);
        message.set_audio(reinterpret_cast<const char*>(audio.data()), audio.size_bytes());
        v1::TranscribeReply reply;
        CORUN_RETURN_IF_ERROR(
            unary("Transcribe", &v1::Corun::Stub::Transcribe, message, reply, TRANSCRIBE_DEADLINE));
        std::vector<Speech2TextSegment> segments;
        segments.reserve(static_cast<size_t>(reply.segments_size()));
        for (const auto& segment : reply.segments()) {
            segments.push_back({segment.start_sec(), segment.end_sec(), segment.text()});
        }
        return segments;
    }

    Status set_priority(uint8_t priority) override {
        v1::SetSpeech2TextSchedulingRequest request = scheduling_request();
        request.set_priority(priority);
        return set_scheduling(request);
    }

    Status set_timeout(std::chrono::milliseconds timeout) override {
        CORUN_TRY(const uint32_t milliseconds, service::timeout_milliseconds(timeout));
        v1::SetSpeech2TextSchedulingRequest request = scheduling_request();
        request.set_timeout_ms(milliseconds);
        return set_scheduling(request);
    }

    // corund's id: the one its SchedulerStats and Monitor show for this model.
    uint64_t model_id() const override { return remote_id_; }

    // UnloadSpeech2Text stops a running transcription in corund (its Transcribe returns
    // ABORTED) and frees the model.
    void close() override {
        {
            std::lock_guard lock(mutex_);
            if (closed_) return;
            closed_ = true;
        }
        if (!connection_->is_broken()) {
            v1::Speech2TextRequest request;
            request.set_session_id(connection_->session_id());
            request.set_model_id(remote_id_);
            v1::Reply reply;
            unary("UnloadSpeech2Text", &v1::Corun::Stub::UnloadSpeech2Text, request, reply,
                  service::ServiceConnection::CONTROL_DEADLINE)
                .ignore();
        }
    }

private:
    template <typename Request, typename Reply, typename Method>
    Status unary(const char* name, Method method, const Request& request, Reply& reply,
                 std::chrono::seconds deadline) const {
        return connection_->call(name, method, request, reply, deadline);
    }

    v1::TranscribeRequest transcribe_request(const TranscriptionRequest& request) const {
        v1::TranscribeRequest message;
        message.set_session_id(connection_->session_id());
        message.set_model_id(remote_id_);
        message.set_language(request.language);
        message.set_translate(request.translate);
        return message;
    }

    v1::SetSpeech2TextSchedulingRequest scheduling_request() const {
        v1::SetSpeech2TextSchedulingRequest request;
        request.set_session_id(connection_->session_id());
        request.set_model_id(remote_id_);
        return request;
    }

    Status set_scheduling(const v1::SetSpeech2TextSchedulingRequest& request) {
        v1::Reply reply;
        return unary("SetSpeech2TextScheduling", &v1::Corun::Stub::SetSpeech2TextScheduling,
                     request, reply, service::ServiceConnection::CONTROL_DEADLINE);
    }

    const std::shared_ptr<service::ServiceConnection> connection_;
    const uint64_t remote_id_;
    std::mutex mutex_;
    bool closed_ = false;
};

Expected<std::shared_ptr<Speech2TextSession>> open_remote_speech2text_session(
    VDevice& vdevice, const std::string& model_path, const genai::Speech2TextParams& params) {
    const auto& group = runtime::ApiAccess::group_of(vdevice);
    auto* backend = dynamic_cast<RemoteBackend*>(&group->backend());
    if (backend == nullptr) {
        return Status(StatusCode::NOT_SUPPORTED,
                      "this VDevice's group runs neither in this process nor in corund; a "
                      "Speech2Text cannot be loaded on it");
    }
    const std::shared_ptr<service::ServiceConnection>& connection = backend->connection();
    v1::LoadSpeech2TextChunk first;
    first.set_session_id(connection->session_id());
    first.set_name(std::filesystem::path(model_path).stem().string());
    service::to_proto(params, *first.mutable_params());
    v1::LoadSpeech2TextReply reply;
    CORUN_RETURN_IF_ERROR(upload_model_file(
        *connection, "LoadSpeech2Text", model_path, "a whisper.cpp model file (ggml-*.bin)",
        std::move(first), &v1::Corun::Stub::LoadSpeech2Text, reply));
    return std::shared_ptr<Speech2TextSession>(
        std::make_shared<RemoteSpeech2TextSession>(connection, reply.model_id()));
}

// Registered when this code is loaded, as the remote backend registers itself.
[[maybe_unused]] const bool remote_speech2text_registered =
    genai::detail::register_remote_speech2text_opener(&open_remote_speech2text_session);

}  // namespace
}  // namespace corun::remote
