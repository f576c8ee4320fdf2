// `corun vad WAV`: the spans of a 16-bit PCM WAV file where someone speaks, with Silero VAD.
// Audio at another rate than the model's 16 kHz is resampled first (and the output says so).
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <iostream>
#include <string>
#include <vector>

#include "cli_support.hpp"
#include "commands.hpp"
#include "tasks/audio.hpp"
#include "tasks/voice_activity.hpp"

namespace corun::tools {
namespace {

struct VadCommandOptions {
    std::string wav;
    std::string models;  // the cache folder scripts/fetch_models.sh fills
    std::string model;   // an explicit Silero VAD file overrides the cache
    float threshold = 0.5f;
    double min_speech_s = 0.25;
    double min_silence_s = 0.1;
    int repeat = 1;
    bool json = false;
};

double elapsed_ms(std::chrono::steady_clock::time_point start) {
    return std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start)
        .count();
}

int run_vad(const VadCommandOptions& options) {
    const std::string model_path =
        options.model.empty()
            ? tasks::VoiceActivityDetector::default_model(model_cache_dir(options.models))
            : options.model;
    std::error_code error;
    if (!std::filesystem::exists(model_path, error)) {
        return report_error(missing_model_file("the Silero VAD model", model_path, "silero-vad"));
    }
    if (options.repeat < 1) {
        return report_error(Status(StatusCode::INVALID_ARGUMENT, "--repeat must be at least 1"));
    }

    auto clip = tasks::read_wav(options.wav);
    if (!clip) return report_error(clip.status());
    constexpr int MODEL_RATE = tasks::VoiceActivityDetector::SAMPLE_RATE;
    const bool resampled = clip->sample_rate != MODEL_RATE;
    // Resampled once here (not inside every timed run), so the latency is the model's.
    tasks::AudioClip model_clip;
    if (resampled) {
        auto converted = tasks::resample(*clip, MODEL_RATE);
        if (!converted) return report_error(converted.status());
        model_clip = converted.release();
    }
    const tasks::AudioClip& input = resampled ? model_clip : *clip;

    auto vdevice = VDevice::create_shared();
    if (!vdevice) return report_error(vdevice.status());
    tasks::VadOptions vad_options;
    vad_options.threshold = options.threshold;
    vad_options.negative_threshold = std::max(0.0f, options.threshold - 0.15f);
    vad_options.min_speech_s = options.min_speech_s;
    vad_options.min_silence_s = options.min_silence_s;
    auto detector = tasks::VoiceActivityDetector::create(*vdevice, model_path, vad_options);
    if (!detector) return report_error(detector.status());

    if (options.repeat > 1) {
        auto warm_up = (*detector)->detect(input);
        if (!warm_up) return report_error(warm_up.status());
    }
    std::vector<double> latencies_ms;
    std::vector<tasks::SpeechSegment> segments;
    for (int i = 0; i < options.repeat; ++i) {
        const auto start = std::chrono::steady_clock::now();
        auto result = (*detector)->detect(input);
        latencies_ms.push_back(elapsed_ms(start));
        if (!result) return report_error(result.status());
        segments = result.release();
    }
    const LatencySummary latency = LatencySummary::of(latencies_ms);
    double speech_s = 0.0;
    for (const auto& s : segments) speech_s += s.end_s - s.start_s;

    if (options.json) {
        nlohmann::json list = nlohmann::json::array();
        for (const auto& s : segments) {
            list.push_back({{"start_s", rounded(s.start_s, 3)}, {"end_s", rounded(s.end_s, 3)}});
        }
        nlohmann::json out{{"audio", options.wav},
                           {"sample_rate", clip->sample_rate},
                           {"duration_s", rounded(clip->duration_s(), 3)},
                           {"model", model_path},
                           {"model_sample_rate", MODEL_RATE},
                           {"resampled", resampled},
                           {"threshold", rounded(options.threshold, 3)},
                           {"speech_s", rounded(speech_s, 3)},
                           {"segments", list}};
        nlohmann::json timing = latency.to_json();
        timing["runs"] = options.repeat;
        out["latency"] = timing;
        std::cout << out.dump(2) << "\n";
        return 0;
    }

    char line[200];
    std::snprintf(line, sizeof line, "%s: %d Hz, %.2f s", options.wav.c_str(), clip->sample_rate,
                  clip->duration_s());
    std::cout << line;
    if (resampled) std::cout << " (resampled to " << MODEL_RATE << " Hz for the model)";
    std::cout << ": " << segments.size()
              << (segments.size() == 1 ? " speech segment" : " speech segments");
    std::snprintf(line, sizeof line, ", %.2f s of speech (threshold %.2f)\n", speech_s,
                  options.threshold);
    std::cout << line;
    for (const auto& s : segments) {
        std::snprintf(line, sizeof line, "  %7.3f s - %7.3f s  (%.3f s)\n", s.start_s, s.end_s,
                      s.end_s - s.start_s);
        std::cout << line;
    }
    if (options.repeat > 1) {
        std::snprintf(line, sizeof line,
                      "latency over %d runs (file reading and resampling excluded): p50 %.1f ms, "
                      "p95 %.1f ms, mean %.1f ms\n",
                      options.repeat, latency.p50, latency.p95, latency.mean);
    } else {
        std::snprintf(line, sizeof line, "latency: %.1f ms (first run)\n", latency.p50);
    }
    std::cout << line;
    return 0;
}

}  // namespace

void add_vad_command(CLI::App& app) {
    auto* command = app.add_subcommand(
        "vad", "Find the spans of speech in a WAV file with Silero VAD (voice activity)");
    static VadCommandOptions options;
    command->add_option("wav", options.wav, "16-bit PCM WAV file (any rate; mono or multichannel)")
        ->required();
    command->add_flag("--json", options.json, "Print JSON for scripts");
    command
        ->add_option("--threshold", options.threshold,
                     "Speech probability that starts a segment (default 0.5; it ends below "
                     "this minus 0.15)")
        ->check(CLI::Range(0.0f, 1.0f));
    command
        ->add_option("--min-speech", options.min_speech_s,
                     "Drop segments shorter than this many seconds (default 0.25)")
        ->check(CLI::Range(0.0, 3600.0));
    command
        ->add_option("--min-silence", options.min_silence_s,
                     "Pauses shorter than this many seconds do not split a segment (default "
                     "0.1)")
        ->check(CLI::Range(0.0, 3600.0));
    command->add_option("--repeat", options.repeat,
                        "Run N times after a warm-up and report latency percentiles");
    command->add_option("--models", options.models,
                        "Folder filled by scripts/fetch_models.sh (default: $CORUN_CACHE_DIR, "
                        "else the checkout's .cache)");
    command->add_option("--model", options.model, "Silero VAD v5 ONNX file (overrides --models)");
    command->callback([] {
        const int code = run_vad(options);
        if (code != 0) throw CLI::RuntimeError(code);
    });
}

}  // namespace corun::tools
