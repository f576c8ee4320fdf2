// whisper.cpp as a device engine (issue 12): a ggml Whisper model checked before whisper.cpp
// reads it (whisper.cpp 1.9.1 loads a file cut in its header or vocabulary), and a context that
// transcribes one window of at most 30 s of audio per call (one scheduled unit), with a callback
// at every point where whisper.cpp lets its caller stop: before the encoder, after the encoder
// and after every decoder pass. Nothing here knows the scheduler; runtime/genai/ drives it.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "corun/expected.hpp"

struct whisper_context;
struct whisper_state;

namespace corun::devices::whisper {

constexpr int SAMPLE_RATE = 16000;                   // what Whisper takes (WHISPER_SAMPLE_RATE)
constexpr size_t WINDOW_SAMPLES = 30 * SAMPLE_RATE;  // the model's 30 s window
// The longest audio one call of Speech2Text takes: an hour (a larger buffer is a mistake, such
// as a sample count passed as a byte count, or audio that is not 16 kHz).
constexpr size_t MAX_AUDIO_SAMPLES = 3600ull * SAMPLE_RATE;

// NOT_FOUND for a missing file; INVALID_MODEL for one that is not in whisper.cpp's ggml format
// (magic 0x67676d6c), whose hyperparameters are implausible, or that is cut short anywhere
// (header, mel filters, vocabulary, tensor table or tensor data: every tensor's header is
// walked and its data's size checked against the file). Messages name the file and the fix.
Status check_whisper_file(const std::string& path);

// INVALID_ARGUMENT for audio whisper.cpp cannot take: empty, longer than MAX_AUDIO_SAMPLES,
// or holding a NaN or an infinity (naming the first such sample and its time).
Status check_audio(std::span<const float> samples);

// INVALID_ARGUMENT for a language whisper.cpp does not know; "" and "auto" mean detection.
Status check_language(const std::string& language);

struct TranscribeOptions {
    std::string language;    // "" or "auto": detected per window
    bool translate = false;  // into English
    // The window continues the previous call's text (whose last tokens prompt the decoder);
    // false for the first window of a new transcription.
    bool continues = false;
};

// One segment of a window, in seconds from the start of the window.
struct WindowSegment {
    double start_sec = 0;
    double end_sec = 0;
    std::string text;
};

class WhisperModel {
public:
    // Checks the file, then loads it for the CPU with `threads` threads (0 = one per core, less
    // one, at least one).
    static Expected<std::unique_ptr<WhisperModel>> load(const std::string& path, uint32_t threads);
    ~WhisperModel();
    WhisperModel(const WhisperModel&) = delete;
    WhisperModel& operator=(const WhisperModel&) = delete;

    const std::string& path() const { return path_; }
    // False for the English-only models (ggml-*.en.bin): they neither translate nor take
    // another language.
    bool multilingual() const;
    // INVALID_ARGUMENT for options this model cannot honour (a language for an English-only
    // model, translation with one).
    Status check_options(const TranscribeOptions& options) const;

    // Called where whisper.cpp lets the caller stop: before the encoder, after it, after every
    // decoder pass (whisper.cpp 1.9.1 checks its abort callback per graph, not per node).
    // Returning true stops the call (transcribe then returns ABORTED).
    using StopPoint = std::function<bool()>;
    // Transcribes `samples` (16 kHz mono, at most WINDOW_SAMPLES) into segments whose times lie
    // within the window's audio. Not thread safe: one call at a time per model.
    Expected<std::vector<WindowSegment>> transcribe(std::span<const float> samples,
                                                    const TranscribeOptions& options,
                                                    const StopPoint& stop_point);

private:
    WhisperModel(std::string path, whisper_context* context, uint32_t threads)
        : path_(std::move(path)), context_(context), threads_(threads) {}
    static bool on_abort_check(void* self);
    static bool on_encoder_begin(whisper_context*, whisper_state*, void* self);

    std::string path_;
    whisper_context* context_;
    const uint32_t threads_;
    const StopPoint* stop_point_ = nullptr;  // during transcribe() only
    bool stopped_ = false;
};

}  // namespace corun::devices::whisper
