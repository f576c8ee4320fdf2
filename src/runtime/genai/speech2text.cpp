// genai::Speech2Text: argument checks and per-call params over a Speech2TextSession.
#include "corun/genai/speech2text.hpp"

#include "runtime/genai/speech2text_session.hpp"

namespace corun::genai {

Speech2Text::Speech2Text(std::shared_ptr<detail::Speech2TextSession> session,
                         Speech2TextParams params)
    : session_(std::move(session)), params_(std::move(params)) {}

Speech2Text::~Speech2Text() {
    if (session_) session_->close();
}

Expected<std::unique_ptr<Speech2Text>> Speech2Text::create(VDevice& vdevice,
                                                           const std::string& model_path,
                                                           const Speech2TextParams& params) {
    CORUN_TRY(auto session, detail::open_speech2text_session(vdevice, model_path, params));
    // The model's own defaults are checked once here, so that a wrong language is reported by
    // create(), not by every call.
    CORUN_RETURN_IF_ERROR(
        session->check({params.language, params.task == Speech2TextTask::TRANSLATE}));
    return std::unique_ptr<Speech2Text>(new Speech2Text(std::move(session), params));
}

Speech2TextGeneratorParams Speech2Text::create_generator_params() const {
    return {params_.task, params_.language};
}

Expected<std::vector<Speech2TextSegment>> Speech2Text::generate_all_segments(
    std::span<const float> audio_16khz_mono, const Speech2TextGeneratorParams& params) {
    const detail::TranscriptionRequest request{
        params.language.value_or(params_.language),
        params.task.value_or(params_.task) == Speech2TextTask::TRANSLATE};
    return session_->transcribe(audio_16khz_mono, request);
}

Expected<std::string> Speech2Text::generate_all_text(std::span<const float> audio_16khz_mono,
                                                     const Speech2TextGeneratorParams& params) {
    CORUN_TRY(const auto segments, generate_all_segments(audio_16khz_mono, params));
    std::string text;
    for (const auto& segment : segments) text += segment.text;
    return text;
}

corun::Status Speech2Text::set_scheduler_priority(uint8_t priority) {
    return session_->set_priority(priority);
}

corun::Status Speech2Text::set_scheduler_timeout(std::chrono::milliseconds timeout) {
    return session_->set_timeout(timeout);
}

uint64_t Speech2Text::scheduler_model_id() const {
    return session_->model_id();
}

}  // namespace corun::genai
