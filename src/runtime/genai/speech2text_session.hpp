// What genai::Speech2Text drives: one loaded Whisper model, in this process
// (local_speech2text_session) or in corund (runtime/remote/remote_speech2text_session.cpp). The
// public class checks arguments and resolves the per-call params; a session schedules and runs.
#pragma once

#include <chrono>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "corun/genai/speech2text.hpp"

namespace corun::genai::detail {

// One call's settings, resolved against the Speech2Text's own.
struct TranscriptionRequest {
    std::string language;  // "" = detect
    bool translate = false;
};

class Speech2TextSession {
public:
    virtual ~Speech2TextSession() = default;

    // Checks `request` against the model (an English-only model neither translates nor takes
    // another language).
    virtual corun::Status check(const TranscriptionRequest& request) const = 0;
    // Checks the audio and `request`, then runs the audio as one scheduled unit per 30 s window
    // and waits for them.
    virtual Expected<std::vector<Speech2TextSegment>> transcribe(
        std::span<const float> audio, const TranscriptionRequest& request) = 0;
    virtual corun::Status set_priority(uint8_t priority) = 0;
    virtual corun::Status set_timeout(std::chrono::milliseconds timeout) = 0;
    virtual uint64_t model_id() const = 0;
    // Stops a running transcription (ABORTED) and waits for it; then nothing runs for this
    // session.
    virtual void close() = 0;
};

// A session on the VDevice's group; NOT_SUPPORTED where the group cannot host one.
Expected<std::shared_ptr<Speech2TextSession>> open_speech2text_session(
    VDevice& vdevice, const std::string& model_path, const Speech2TextParams& params);

// How a session is opened on a group that is not in this process (corund), as for LLMs
// (llm_session.hpp): the remote backend's library registers it when the program starts.
using RemoteSpeech2TextOpener = Expected<std::shared_ptr<Speech2TextSession>> (*)(
    VDevice& vdevice, const std::string& model_path, const Speech2TextParams& params);
bool register_remote_speech2text_opener(RemoteSpeech2TextOpener opener);
// The registered opener, or nullptr when no remote backend with generative models is linked.
RemoteSpeech2TextOpener remote_speech2text_opener();

}  // namespace corun::genai::detail
