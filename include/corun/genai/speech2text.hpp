// genai::Speech2Text: a Whisper model (whisper.cpp's ggml format) on a VDevice, with HailoRT's
// GenAI names (hailo/genai/speech2text/speech2text.hpp) so that their users feel at home. Unlike
// the vendor's, a transcription is a scheduled workload of the VDevice's scheduler: each 30 s
// window of the audio is one unit, and a frame of a model with a higher priority runs between
// units, or inside one at a preemption point (docs/GENAI.md, "Speech to text").
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "corun/expected.hpp"
#include "corun/vdevice.hpp"

namespace corun::genai {

namespace detail {
class Speech2TextSession;
}  // namespace detail

enum class Speech2TextTask {
    TRANSCRIBE,  // text in the language spoken
    TRANSLATE,   // text in English (multilingual models only)
};

struct Speech2TextParams {
    // The language spoken, as Whisper's code ("en", "de", ...); "" detects it (per 30 s window).
    std::string language{};
    Speech2TextTask task = Speech2TextTask::TRANSCRIBE;
    // Threads the engine computes with. 0 = one per core the machine reports, less one (at
    // least one), so that frames of other models have a core beside a running window.
    uint32_t threads = 0;
    // Frames of a model of a higher priority never wait for a running window: they run beside
    // it at once (the lent slot). With preemption the window also pauses at the engine's next
    // preemption point (before and after each encoder pass, after every decoder pass) until
    // they are done, so that they have the cores to themselves; off, it goes on beside them.
    bool preemption = true;
};

// HailoRT's Speech2TextGeneratorParams: per call, what differs from the Speech2TextParams.
struct Speech2TextGeneratorParams {
    std::optional<Speech2TextTask> task{};  // unset: the Speech2Text's own
    std::optional<std::string> language{};  // unset: the Speech2Text's own; "": detect
};

// One stretch of text with its times, in seconds from the start of the audio.
struct Speech2TextSegment {
    double start_sec = 0;
    double end_sec = 0;
    std::string text;
};

class Speech2Text {
public:
    // Loads a whisper.cpp model (ggml-tiny.bin and so on) on the VDevice's group. Errors name
    // the cause: a missing file (NOT_FOUND), one that is not a whisper.cpp model or is cut
    // short (INVALID_MODEL), an unknown language (INVALID_ARGUMENT), a VDevice through corund or
    // a build without the generative engines (NOT_SUPPORTED).
    static Expected<std::unique_ptr<Speech2Text>> create(VDevice& vdevice,
                                                         const std::string& model_path,
                                                         const Speech2TextParams& params = {});
    ~Speech2Text();
    Speech2Text(const Speech2Text&) = delete;
    Speech2Text& operator=(const Speech2Text&) = delete;

    // The generator params this Speech2Text uses when a call sets none (its task and language).
    Speech2TextGeneratorParams create_generator_params() const;

    // Transcribes (or translates) `audio_16khz_mono`: floats in [-1, 1] at 16 kHz, one channel,
    // at most an hour. Blocks until every 30 s window ran. INVALID_ARGUMENT for empty audio,
    // audio with a NaN or an infinity, longer than an hour, or a language the model cannot
    // take. Calls from several threads take turns.
    Expected<std::vector<Speech2TextSegment>> generate_all_segments(
        std::span<const float> audio_16khz_mono, const Speech2TextGeneratorParams& params = {});
    // The segments' texts, concatenated.
    Expected<std::string> generate_all_text(std::span<const float> audio_16khz_mono,
                                            const Speech2TextGeneratorParams& params = {});

    // The scheduler's knobs, as on ConfiguredInferModel.
    corun::Status set_scheduler_priority(uint8_t priority);
    corun::Status set_scheduler_timeout(std::chrono::milliseconds timeout);
    // The id under which VDevice::get_scheduler_stats() lists this model (one frame per window).
    uint64_t scheduler_model_id() const;

private:
    Speech2Text(std::shared_ptr<detail::Speech2TextSession> session, Speech2TextParams params);
    std::shared_ptr<detail::Speech2TextSession> session_;
    const Speech2TextParams params_;
};

}  // namespace corun::genai
