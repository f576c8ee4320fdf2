// vad: the spans of speech in a WAV file with Silero VAD, with `corun vad`'s defaults and JSON
// fields. Resampling to 16 kHz is part of the decode.
#include <algorithm>
#include <chrono>

#include "cluster/batch_task.hpp"
#include "tasks/voice_activity.hpp"

namespace corun::cluster {
namespace {

class VadBatchTask final : public BatchTask {
public:
    VadBatchTask(std::unique_ptr<tasks::VoiceActivityDetector> detector, tasks::VadOptions options)
        : detector_(std::move(detector)), options_(options) {}

    Expected<TaskOutput> run(const DecodedInput& input) override {
        constexpr int RATE = tasks::VoiceActivityDetector::SAMPLE_RATE;
        constexpr double WINDOW_S =
            static_cast<double>(tasks::VoiceActivityDetector::WINDOW) / RATE;
        auto clock = std::chrono::steady_clock::now();
        tasks::StageTiming timing;
        CORUN_TRY(const auto probabilities, detector_->speech_probabilities(input.audio_16k));
        timing.infer_ms = tasks::lap_ms(clock);
        // What VoiceActivityDetector::detect does after the model, timed apart.
        const auto segments =
            tasks::speech_segments(probabilities, WINDOW_S, input.audio_16k.duration_s(), options_);
        timing.post_ms = tasks::lap_ms(clock);

        nlohmann::json list = nlohmann::json::array();
        double speech_s = 0.0;
        for (const auto& s : segments) {
            list.push_back(
                {{"start_s", rounded_value(s.start_s, 3)}, {"end_s", rounded_value(s.end_s, 3)}});
            speech_s += s.end_s - s.start_s;
        }
        TaskOutput output;
        output.result = {{"sample_rate", input.audio.sample_rate},
                         {"duration_s", rounded_value(input.audio.duration_s(), 3)},
                         {"model_sample_rate", RATE},
                         {"resampled", input.resampled},
                         {"threshold", rounded_value(options_.threshold, 3)},
                         {"speech_s", rounded_value(speech_s, 3)},
                         {"segments", list}};
        output.timing = timing;
        return output;
    }

private:
    std::unique_ptr<tasks::VoiceActivityDetector> detector_;
    tasks::VadOptions options_;
};

}  // namespace

Expected<std::unique_ptr<BatchTask>> create_vad_batch_task(
    const TaskDefinition& definition, const std::shared_ptr<VDevice>& vdevice) {
    // `corun vad`'s defaults (tools/vad_command.cpp).
    tasks::VadOptions options{.threshold = 0.5f, .min_speech_s = 0.25, .min_silence_s = 0.1};
    options.negative_threshold = std::max(0.0f, options.threshold - 0.15f);
    CORUN_TRY(auto detector,
              tasks::VoiceActivityDetector::create(vdevice, definition.model_files.at(0), options));
    return std::unique_ptr<BatchTask>(new VadBatchTask(std::move(detector), options));
}

}  // namespace corun::cluster
