#include "service/daemon/speech_registry.hpp"

#include <spdlog/spdlog.h>

#include <cstring>
#include <thread>

#include "protocol/proto_conversion.hpp"
#include "service/daemon/model_registry.hpp"
#include "service/daemon/received_model_file.hpp"

namespace corun::service {

Speech2TextRegistry::Speech2TextRegistry(uint64_t session_id, VDevice& vdevice, DaemonLimits limits,
                                         std::shared_ptr<ClientAccount> account)
    : session_id_(session_id),
      vdevice_(vdevice),
      limits_(limits),
      account_(std::move(account)),
      models_({"a Speech2Text", "Speech2Text models", "model_id", "LoadSpeech2Text",
               "max_speech_models_per_client", "destroy its genai::Speech2Text"}) {}

Speech2TextRegistry::~Speech2TextRegistry() {
    close();
}

Expected<std::shared_ptr<ServedSpeech2Text>> Speech2TextRegistry::load(
    const v1::LoadSpeech2TextChunk& first,
    const std::function<bool(v1::LoadSpeech2TextChunk&)>& next) {
    auto model = std::make_shared<ServedSpeech2Text>();
    model->name = first.name().empty() ? "speech2text" : first.name().substr(0, 256);
    genai::Speech2TextParams params = from_proto(first.params());
    if (first.total_bytes() > limits_.max_gguf_bytes) {
        return Status(StatusCode::RESOURCE_LIMIT,
                      "Speech2Text model '" + model->name + "' is a file of " +
                          std::to_string(first.total_bytes()) +
                          " bytes, more than corund's max_gguf_bytes (" +
                          std::to_string(limits_.max_gguf_bytes) + "); " +
                          how_to_raise("max_gguf_bytes"));
    }
    // Resolved here, where the engine runs (Speech2TextParams::threads).
    if (params.threads == 0) params.threads = std::max(2u, std::thread::hardware_concurrency()) - 1;
    CORUN_TRY(model->threads,
              charge_account(account_, ClientAccount::Resource::THREADS, params.threads,
                             limits_.max_threads_per_client,
                             "Speech2Text model '" + model->name + "' computing with " +
                                 std::to_string(params.threads) + " threads"));
    CORUN_TRY(model->memory,
              charge_account(account_, ClientAccount::Resource::MODEL_MEMORY, first.total_bytes(),
                             limits_.max_model_memory_per_client,
                             "Speech2Text model '" + model->name + "' (its file, held in memory)"));
    CORUN_TRY(const auto reservation, models_.reserve(limits_.max_speech_models_per_client));
    CORUN_TRY(const ReceivedModelFile file,
              ReceivedModelFile::receive_chunks<v1::LoadSpeech2TextChunk>("LoadSpeech2Text", first,
                                                                          next));
    auto opened = genai::detail::open_speech2text_session(vdevice_, file.path(), params);
    if (!opened) {
        return naming_the_client_file(opened.status(), file.path(), model->name);
    }
    model->session = opened.release();
    model->model_id = next_daemon_model_id();
    if (Status added = models_.add(model->model_id, model); !added.is_ok()) {
        model->session->close();
        return added;
    }
    spdlog::info("session {}: loaded Speech2Text '{}' ({} bytes, {} threads) as {}", session_id_,
                 model->name, file.bytes(), params.threads, model->model_id);
    return model;
}

Expected<std::shared_ptr<ServedSpeech2Text>> Speech2TextRegistry::find(uint64_t model_id) const {
    return models_.find(model_id);
}

Status Speech2TextRegistry::unload(uint64_t model_id) {
    CORUN_TRY(auto model, models_.take(model_id));
    model->session->close();
    return Status::ok();
}

std::vector<std::shared_ptr<ServedSpeech2Text>> Speech2TextRegistry::list() const {
    return models_.list();
}

void Speech2TextRegistry::close() {
    for (auto& model : models_.close()) model->session->close();
}

Status serve_transcription(ServedSpeech2Text& model, const v1::TranscribeRequest& request,
                           v1::TranscribeReply& reply) {
    const genai::detail::TranscriptionRequest transcription{request.language(),
                                                            request.translate()};
    if (request.check_only()) return model.session->check(transcription);
    if (request.audio().size() % sizeof(float) != 0) {
        return Status(StatusCode::INVALID_ARGUMENT,
                      "Transcribe's audio has " + std::to_string(request.audio().size()) +
                          " bytes, not a whole number of float32 samples");
    }
    std::vector<float> audio(request.audio().size() / sizeof(float));
    std::memcpy(audio.data(), request.audio().data(), audio.size() * sizeof(float));
    CORUN_TRY(const auto segments, model.session->transcribe(audio, transcription));
    for (const auto& segment : segments) {
        v1::TranscribedSegment* sent = reply.add_segments();
        sent->set_start_sec(segment.start_sec);
        sent->set_end_sec(segment.end_sec);
        sent->set_text(segment.text);
    }
    return Status::ok();
}

Status set_speech_scheduling(ServedSpeech2Text& model,
                             const v1::SetSpeech2TextSchedulingRequest& request) {
    switch (request.setting_case()) {
        case v1::SetSpeech2TextSchedulingRequest::kPriority:
            if (request.priority() > 255) {
                return Status(StatusCode::INVALID_ARGUMENT, "priority " +
                                                                std::to_string(request.priority()) +
                                                                " is out of range; use 0..31");
            }
            return model.session->set_priority(static_cast<uint8_t>(request.priority()));
        case v1::SetSpeech2TextSchedulingRequest::kTimeoutMs:
            return model.session->set_timeout(std::chrono::milliseconds(request.timeout_ms()));
        case v1::SetSpeech2TextSchedulingRequest::SETTING_NOT_SET:
            break;
    }
    return Status(StatusCode::INVALID_ARGUMENT,
                  "SetSpeech2TextScheduling names no setting; set priority or timeout_ms");
}

}  // namespace corun::service
