// The Speech2Text models of one session (genai::Speech2Text through corund): loaded from a file
// the client streams (as an LLM's GGUF), run on the session's group through its one scheduler,
// freed by UnloadSpeech2Text or when the session ends. At most max_speech_models_per_client.
#pragma once

#include <grpcpp/grpcpp.h>

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "corun/vdevice.hpp"
#include "corun_service.grpc.pb.h"
#include "runtime/genai/speech2text_session.hpp"
#include "service/daemon/client_account.hpp"
#include "service/daemon/daemon_config.hpp"
#include "service/daemon/generative_model_table.hpp"

namespace corun::service {

struct ServedSpeech2Text {
    uint64_t model_id = 0;  // daemon-wide (next_daemon_model_id)
    std::string name;
    std::shared_ptr<genai::detail::Speech2TextSession> session;
    std::shared_ptr<AccountCharge> threads;  // the engine's threads, charged to the user
    std::shared_ptr<AccountCharge> memory;   // the model file's bytes, held while loaded
};

class Speech2TextRegistry {
public:
    Speech2TextRegistry(uint64_t session_id, VDevice& vdevice, DaemonLimits limits,
                        std::shared_ptr<ClientAccount> account);
    Speech2TextRegistry(const Speech2TextRegistry&) = delete;
    Speech2TextRegistry& operator=(const Speech2TextRegistry&) = delete;
    ~Speech2TextRegistry();

    // LoadSpeech2Text, as LlmRegistry::load: RESOURCE_LIMIT naming the setting for a model
    // beyond max_speech_models_per_client or a file over max_gguf_bytes (from the first chunk).
    Expected<std::shared_ptr<ServedSpeech2Text>> load(
        const v1::LoadSpeech2TextChunk& first,
        const std::function<bool(v1::LoadSpeech2TextChunk&)>& next);
    // NOT_FOUND naming the fix when `model_id` is not a Speech2Text of this session.
    Expected<std::shared_ptr<ServedSpeech2Text>> find(uint64_t model_id) const;
    // Stops its transcription (ABORTED) and frees it.
    Status unload(uint64_t model_id);
    std::vector<std::shared_ptr<ServedSpeech2Text>> list() const;
    // The session ends: transcriptions stop, models are freed, later loads are refused.
    void close();

private:
    const uint64_t session_id_;
    VDevice& vdevice_;  // the session's, which outlives its registry
    const DaemonLimits limits_;
    const std::shared_ptr<ClientAccount> account_;
    GenerativeModelTable<ServedSpeech2Text> models_;
};

// Transcribe on `model` (the audio checked as in-process: empty, too long, not finite).
Status serve_transcription(ServedSpeech2Text& model, const v1::TranscribeRequest& request,
                           v1::TranscribeReply& reply);
// SetSpeech2TextScheduling on `model`.
Status set_speech_scheduling(ServedSpeech2Text& model,
                             const v1::SetSpeech2TextSchedulingRequest& request);

}  // namespace corun::service
