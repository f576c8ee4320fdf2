// `corun vad WAV`: the spans of a 16-bit PCM WAV file where someone speaks, with Silero VAD.
// Audio at another rate than the model's 16 kHz is resampled first (and the output says so).
#include <CLI/CLI.hpp>

#include <algorithm>
#include <cstdio>
#include <memory>
#include <string>
#include <vector>

#include "cli_support.hpp"
#include "commands.hpp"
#include "task_command.hpp"
#include "tasks/audio.hpp"
#include "tasks/voice_activity.hpp"

namespace corun::tools {
namespace {

constexpr int MODEL_RATE = tasks::VoiceActivityDetector::SAMPLE_RATE;

class VadTask final : public Task {
public:
    void add_options(CLI::App& command) override {
        command
            .add_option("--threshold", options_.threshold,
                        "Speech probability that starts a segment (default 0.5; it ends below "
                        "this minus 0.15)")
            ->check(CLI::Range(0.0f, 1.0f));
        command
            .add_option("--min-speech", options_.min_speech_s,
                        "Drop segments shorter than this many seconds (default 0.25)")
            ->check(CLI::Range(0.0, 3600.0));
        command
            .add_option("--min-silence", options_.min_silence_s,
                        "Pauses shorter than this many seconds do not split a segment (default "
                        "0.1)")
            ->check(CLI::Range(0.0, 3600.0));
        command.add_option("--model", model_path_, "Silero VAD v5 ONNX file (overrides --models)");
    }

    Status find_models(const std::string& cache) override {
        if (model_path_.empty()) model_path_ = tasks::VoiceActivityDetector::default_model(cache);
        return require_model_file("the Silero VAD model", model_path_, "silero-vad");
    }

    // Resampled once here (not inside every timed run), so the latency is the model's.
    Status read_input(const std::string& path) override {
        path_ = path;
        CORUN_TRY(clip_, tasks::read_wav(path));
        if (clip_.sample_rate == MODEL_RATE) return Status::ok();
        CORUN_TRY(model_clip_, tasks::resample(clip_, MODEL_RATE));
        resampled_ = true;
        return Status::ok();
    }

    Status create_models(const std::shared_ptr<VDevice>& vdevice) override {
        options_.negative_threshold = std::max(0.0f, options_.threshold - 0.15f);
        CORUN_TRY(detector_, tasks::VoiceActivityDetector::create(vdevice, model_path_, options_));
        return Status::ok();
    }

    Status run(StageTimes&) override {
        CORUN_TRY(segments_, detector_->detect(resampled_ ? model_clip_ : clip_));
        return Status::ok();
    }

    nlohmann::json result_json(const TaskTimings&) const override {
        nlohmann::json list = nlohmann::json::array();
        for (const auto& s : segments_) {
            list.push_back({{"start_s", rounded(s.start_s, 3)}, {"end_s", rounded(s.end_s, 3)}});
        }
        return {{"audio", path_},
                {"sample_rate", clip_.sample_rate},
                {"duration_s", rounded(clip_.duration_s(), 3)},
                {"model", model_path_},
                {"model_sample_rate", MODEL_RATE},
                {"resampled", resampled_},
                {"threshold", rounded(options_.threshold, 3)},
                {"speech_s", rounded(speech_s(), 3)},
                {"segments", list}};
    }

    void print_result(std::ostream& out) const override {
        char line[200];
        std::snprintf(line, sizeof line, "%s: %d Hz, %.2f s", path_.c_str(), clip_.sample_rate,
                      clip_.duration_s());
        out << line;
        if (resampled_) out << " (resampled to " << MODEL_RATE << " Hz for the model)";
        out << ": " << counted(segments_.size(), "speech segment", "speech segments");
        std::snprintf(line, sizeof line, ", %.2f s of speech (threshold %.2f)\n", speech_s(),
                      options_.threshold);
        out << line;
        for (const auto& s : segments_) {
            std::snprintf(line, sizeof line, "  %7.3f s - %7.3f s  (%.3f s)\n", s.start_s, s.end_s,
                          s.end_s - s.start_s);
            out << line;
        }
    }

private:
    double speech_s() const {
        double total = 0.0;
        for (const auto& s : segments_) total += s.end_s - s.start_s;
        return total;
    }

    tasks::VadOptions options_{.threshold = 0.5f, .min_speech_s = 0.25, .min_silence_s = 0.1};
    std::string model_path_;  // an explicit Silero VAD file overrides the cache
    std::string path_;
    tasks::AudioClip clip_;        // as read: its rate and duration are what the output shows
    tasks::AudioClip model_clip_;  // at MODEL_RATE, when the file is not
    bool resampled_ = false;
    std::unique_ptr<tasks::VoiceActivityDetector> detector_;
    std::vector<tasks::SpeechSegment> segments_;
};

}  // namespace

void add_vad_command(CLI::App& app) {
    add_task_command(
        app,
        {.name = "vad",
         .description = "Find the spans of speech in a WAV file with Silero VAD (voice activity)",
         .input_name = "wav",
         .input_help = "16-bit PCM WAV file (any rate; mono or multichannel)",
         .untimed_work = "file reading and resampling"},
        std::make_unique<VadTask>());
}

}  // namespace corun::tools
