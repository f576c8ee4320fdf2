// Voice-activity detection with Silero VAD v5 (the ONNX model in @ricky0123/vad-web):
// audio is resampled to 16 kHz and run in 512-sample windows (32 ms), each with the last 64
// samples of the one before as context and the recurrent state the previous window left;
// the per-window speech probabilities become segments with hysteresis, as silero-vad's
// get_speech_timestamps does.
#pragma once

#include <chrono>
#include <cstddef>
#include <memory>
#include <mutex>
#include <span>
#include <string>
#include <vector>

#include "corun/corun.hpp"
#include "tasks/audio.hpp"

namespace corun::tasks {

class ModelRunner;

struct SpeechSegment {
    double start_s = 0.0;
    double end_s = 0.0;
};

// silero-vad's defaults.
struct VadOptions {
    float threshold = 0.5f;            // a window with this probability or more starts speech
    float negative_threshold = 0.35f;  // speech ends only below this (threshold - 0.15)
    double min_speech_s = 0.25;        // shorter segments are dropped
    double min_silence_s = 0.1;        // shorter pauses do not split a segment
    double speech_pad_s = 0.03;        // each segment is widened by this on both sides
};

// Segments from per-window probabilities (window i covers [i, i + 1) * window_s), clipped to
// [0, duration_s]. Pure function: the model-free half of the detector.
std::vector<SpeechSegment> speech_segments(std::span<const float> probabilities, double window_s,
                                           double duration_s, const VadOptions& options = {});

class VoiceActivityDetector {
public:
    static constexpr int SAMPLE_RATE = 16000;
    static constexpr size_t WINDOW = 512;  // new samples per model run
    static constexpr size_t CONTEXT = 64;  // samples of the previous window in front of them

    // Loads Silero VAD v5 (inputs input [1, 576], state [2, 1, 128], sr int64; outputs output
    // [1, 1] and stateN). INVALID_MODEL for another model (the legacy v4 model with h/c state
    // is named as such).
    static Expected<std::unique_ptr<VoiceActivityDetector>> create(std::shared_ptr<VDevice> vdevice,
                                                                   const std::string& model_path,
                                                                   const VadOptions& options = {});
    ~VoiceActivityDetector();

    // The zoo's model under `cache_dir`: the copy of silero_vad_v5.onnx with declared output
    // shapes that fetch_models.sh writes (the package's own file cannot be configured; see
    // models/manifest.json, "fixed_shapes").
    static std::string default_model(const std::string& cache_dir);

    // Speech probability per 512-sample window of the clip at 16 kHz (resampled from any other
    // rate; the last window is zero-padded). The state starts from zero on every call.
    // Thread-safe; calls run one at a time.
    Expected<std::vector<float>> speech_probabilities(const AudioClip& clip);
    // Speech segments of the clip, in seconds of the clip.
    Expected<std::vector<SpeechSegment>> detect(const AudioClip& clip);

    // Live audio (a microphone): windows of WINDOW samples at 16 kHz as they arrive, the
    // recurrent state carried from one to the next (its own, apart from the calls above). Audio
    // is real time: a window must be done before the next one arrives, so
    // `set_live_deadline(budget, priority)` gives every window a latency SLO (and a scheduler
    // priority): a window that cannot be done in time is refused at once with
    // DEADLINE_EXCEEDED rather than late, and the stream goes on from the state before it
    // (the caller counts it as missed). 0 = no SLO (default).
    Status set_live_deadline(std::chrono::milliseconds budget, uint32_t priority);
    // The speech probability of the next window (fewer samples are zero-padded; more are
    // INVALID_ARGUMENT).
    Expected<float> push_live_window(std::span<const float> samples);
    // Starts the live stream over from silence.
    void reset_live();

    const VadOptions& options() const { return options_; }

private:
    VoiceActivityDetector() = default;

    // The runner's buffers of one window (the rate input set to 16 kHz); mutex_ held.
    struct WindowBuffers {
        std::span<float> input;      // CONTEXT + WINDOW samples
        std::span<float> state;      // the recurrent state going in
        std::span<float> state_out;  // and coming out
        std::span<float> output;     // the speech probability
    };
    Expected<WindowBuffers> window_buffers();

    std::unique_ptr<ModelRunner> runner_;
    VadOptions options_;
    std::vector<float> live_state_;    // the live stream's recurrent state
    std::vector<float> live_context_;  // and the last CONTEXT samples it was given
    std::mutex mutex_;
};

}  // namespace corun::tasks
