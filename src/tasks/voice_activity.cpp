#include "tasks/voice_activity.hpp"

#include <algorithm>
#include <set>

#include "tasks/model_runner.hpp"

namespace corun::tasks {
namespace {

constexpr size_t STATE_SIZE = 2 * 1 * 128;

}  // namespace

std::vector<SpeechSegment> speech_segments(std::span<const float> probabilities, double window_s,
                                           double duration_s, const VadOptions& options) {
    std::vector<SpeechSegment> segments;
    bool speaking = false;
    double start = 0.0;
    double silence_start = -1.0;  // where the current pause began; < 0 while none
    for (size_t i = 0; i < probabilities.size(); ++i) {
        const double t = static_cast<double>(i) * window_s;
        const float p = probabilities[i];
        if (p >= options.threshold) {
            silence_start = -1.0;
            if (!speaking) {
                speaking = true;
                start = t;
            }
            continue;
        }
        if (!speaking || p >= options.negative_threshold) continue;
        // Between the thresholds speech goes on; below the lower one a pause starts, and
        // only a pause of min_silence_s ends the segment (where the pause began).
        if (silence_start < 0.0) silence_start = t;
        if (t - silence_start < options.min_silence_s) continue;
        if (silence_start - start > options.min_speech_s)
            segments.push_back({start, silence_start});
        speaking = false;
        silence_start = -1.0;
    }
    if (speaking && duration_s - start > options.min_speech_s)
        segments.push_back({start, duration_s});

    // Widen by the pad; a gap narrower than two pads is split between its neighbours.
    const double pad = options.speech_pad_s;
    for (size_t i = 0; i < segments.size(); ++i) {
        if (i == 0) segments[i].start_s = std::max(0.0, segments[i].start_s - pad);
        if (i + 1 < segments.size()) {
            const double gap = segments[i + 1].start_s - segments[i].end_s;
            const double widen = gap < 2 * pad ? gap / 2 : pad;
            segments[i].end_s += widen;
            segments[i + 1].start_s = std::max(0.0, segments[i + 1].start_s - widen);
        } else {
            segments[i].end_s = std::min(duration_s, segments[i].end_s + pad);
        }
    }
    return segments;
}

VoiceActivityDetector::~VoiceActivityDetector() = default;

std::string VoiceActivityDetector::default_model(const std::string& cache_dir) {
    return cache_dir + "/models/silero-vad/silero_vad_v5_16k.onnx";
}

Expected<std::unique_ptr<VoiceActivityDetector>> VoiceActivityDetector::create(
    std::shared_ptr<VDevice> vdevice, const std::string& model_path, const VadOptions& options) {
    if (!(options.negative_threshold <= options.threshold) || options.threshold < 0.0f ||
        options.threshold > 1.0f) {
        return Status(StatusCode::INVALID_ARGUMENT,
                      "VAD thresholds must satisfy 0 <= negative_threshold <= threshold <= 1");
    }
    // Check the inputs before configuring: the legacy model would fail there with a message
    // about shapes rather than about which model to use.
    {
        if (!vdevice) return Status(StatusCode::INVALID_ARGUMENT, "no VDevice given");
        CORUN_TRY(auto model, vdevice->create_infer_model(model_path));
        const auto& names = model->get_input_names();
        const std::set<std::string> inputs(names.begin(), names.end());
        if (inputs.count("h") && inputs.count("c")) {
            return Status(StatusCode::INVALID_MODEL,
                          "'" + model_path +
                              "' is the legacy Silero VAD (v4, h/c state); use "
                              "silero_vad_v5.onnx (scripts/fetch_models.sh silero-vad)");
        }
        if (inputs != std::set<std::string>{"input", "state", "sr"}) {
            return Status(StatusCode::INVALID_MODEL,
                          "'" + model_path +
                              "' is not Silero VAD v5: its inputs are not "
                              "'input', 'state' and 'sr'");
        }
    }
    std::unique_ptr<VoiceActivityDetector> detector(new VoiceActivityDetector());
    detector->options_ = options;
    CORUN_TRY(detector->runner_,
              ModelRunner::create(vdevice, model_path,
                                  {{"input", {1, static_cast<int64_t>(CONTEXT + WINDOW)}},
                                   {"state", {2, 1, 128}}}));
    CORUN_TRY(auto state, detector->runner_->floats("state"));
    CORUN_TRY(auto state_out, detector->runner_->floats("stateN"));
    CORUN_TRY(auto probability, detector->runner_->floats("output"));
    if (state.size() != STATE_SIZE || state_out.size() != STATE_SIZE || probability.size() != 1) {
        return Status(StatusCode::INVALID_MODEL,
                      "'" + model_path + "' is not Silero VAD v5: state has " +
                          std::to_string(state_out.size()) + " values, output " +
                          std::to_string(probability.size()));
    }
    return detector;
}

Expected<VoiceActivityDetector::WindowBuffers> VoiceActivityDetector::window_buffers() {
    CORUN_TRY(auto rate, runner_->int64s("sr"));
    rate[0] = SAMPLE_RATE;
    WindowBuffers buffers;
    CORUN_TRY(buffers.input, runner_->floats("input"));
    CORUN_TRY(buffers.state, runner_->floats("state"));
    CORUN_TRY(buffers.state_out, runner_->floats("stateN"));
    CORUN_TRY(buffers.output, runner_->floats("output"));
    return buffers;
}

Expected<std::vector<float>> VoiceActivityDetector::speech_probabilities(const AudioClip& clip) {
    CORUN_TRY(const AudioClip audio, resample(clip, SAMPLE_RATE));
    std::lock_guard lock(mutex_);
    CORUN_TRY(auto buffers, window_buffers());
    auto [input, state, state_out, output] = buffers;
    std::fill(state.begin(), state.end(), 0.0f);
    std::fill(input.begin(), input.end(), 0.0f);  // the first window's context is silence

    std::vector<float> probabilities;
    const size_t windows = (audio.samples.size() + WINDOW - 1) / WINDOW;
    probabilities.reserve(windows);
    for (size_t w = 0; w < windows; ++w) {
        // Context: the previous window's last samples, already at the end of the buffer.
        std::copy(input.end() - CONTEXT, input.end(), input.begin());
        const size_t begin = w * WINDOW;
        const size_t count = std::min(WINDOW, audio.samples.size() - begin);
        std::copy_n(audio.samples.begin() + static_cast<std::ptrdiff_t>(begin), count,
                    input.begin() + CONTEXT);
        std::fill(input.begin() + static_cast<std::ptrdiff_t>(CONTEXT + count), input.end(), 0.0f);
        CORUN_RETURN_IF_ERROR(runner_->run());
        probabilities.push_back(output[0]);
        std::copy(state_out.begin(), state_out.end(), state.begin());
    }
    return probabilities;
}

Status VoiceActivityDetector::set_live_deadline(std::chrono::milliseconds budget,
                                                uint32_t priority) {
    std::lock_guard lock(mutex_);
    CORUN_RETURN_IF_ERROR(runner_->configured().set_scheduler_priority(priority));
    return runner_->configured().set_latency_slo(budget);
}

void VoiceActivityDetector::reset_live() {
    std::lock_guard lock(mutex_);
    live_state_.assign(STATE_SIZE, 0.0f);
    live_context_.assign(CONTEXT, 0.0f);
}

Expected<float> VoiceActivityDetector::push_live_window(std::span<const float> samples) {
    if (samples.size() > WINDOW) {
        return Status(StatusCode::INVALID_ARGUMENT,
                      "a live VAD window holds at most " + std::to_string(WINDOW) +
                          " samples at 16 kHz (32 ms); got " + std::to_string(samples.size()));
    }
    std::lock_guard lock(mutex_);
    if (live_state_.empty()) {
        live_state_.assign(STATE_SIZE, 0.0f);
        live_context_.assign(CONTEXT, 0.0f);  // the first window's context is silence
    }
    CORUN_TRY(auto buffers, window_buffers());
    auto [input, state, state_out, output] = buffers;
    std::copy(live_state_.begin(), live_state_.end(), state.begin());
    std::copy(live_context_.begin(), live_context_.end(), input.begin());
    std::copy(samples.begin(), samples.end(), input.begin() + CONTEXT);
    std::fill(input.begin() + static_cast<std::ptrdiff_t>(CONTEXT + samples.size()), input.end(),
              0.0f);
    // Refused (DEADLINE_EXCEEDED): the state stays as it was before this window.
    CORUN_RETURN_IF_ERROR(runner_->run());
    std::copy(state_out.begin(), state_out.end(), live_state_.begin());
    std::copy(input.end() - CONTEXT, input.end(), live_context_.begin());
    return output[0];
}

Expected<std::vector<SpeechSegment>> VoiceActivityDetector::detect(const AudioClip& clip) {
    CORUN_TRY(const auto probabilities, speech_probabilities(clip));
    return speech_segments(probabilities, static_cast<double>(WINDOW) / SAMPLE_RATE,
                           clip.duration_s(), options_);
}

}  // namespace corun::tasks
