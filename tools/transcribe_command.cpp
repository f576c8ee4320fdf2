// `corun transcribe MODEL.bin AUDIO.wav`: speech to text with a whisper.cpp model
// (genai::Speech2Text). The WAV is resampled to 16 kHz first when it is not (and the output says
// so); the text, optionally its segments with their times, and the real-time factor.
#include <CLI/CLI.hpp>

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <iostream>
#include <string>

#include "cli_support.hpp"
#include "commands.hpp"
#include "corun/genai/speech2text.hpp"
#include "task_timings.hpp"
#include "tasks/audio.hpp"

namespace corun::tools {
namespace {

constexpr int MODEL_RATE = 16000;

struct TranscribeOptions {
    std::string model;
    std::string audio;
    std::string language;
    bool translate = false;
    bool segments = false;
    bool json = false;
    uint32_t threads = 0;
    ServiceOptions service;
};

std::string time_text(double seconds) {
    char text[32];
    std::snprintf(text, sizeof text, "%8.3f s", seconds);
    return text;
}

Status run_transcribe(const TranscribeOptions& options) {
    CORUN_TRY(const tasks::AudioClip clip, tasks::read_wav(options.audio));
    const bool resampled = clip.sample_rate != MODEL_RATE;
    tasks::AudioClip model_clip;
    if (resampled) {
        CORUN_TRY(model_clip, tasks::resample(clip, MODEL_RATE));
    }
    const tasks::AudioClip& input = resampled ? model_clip : clip;

    VDeviceParams params;
    apply_service_options(options.service, params);
    CORUN_TRY(auto vdevice, VDevice::create(params));
    genai::Speech2TextParams speech_params;
    speech_params.language = options.language;
    speech_params.task =
        options.translate ? genai::Speech2TextTask::TRANSLATE : genai::Speech2TextTask::TRANSCRIBE;
    speech_params.threads = options.threads;
    CORUN_TRY(auto speech2text, genai::Speech2Text::create(*vdevice, options.model, speech_params));

    const auto started = std::chrono::steady_clock::now();
    CORUN_TRY(const auto segments, speech2text->generate_all_segments(input.samples));
    const double seconds = elapsed_ms(started) / 1000.0;
    const double duration = clip.duration_s();
    const double real_time_factor = duration > 0 ? seconds / duration : 0.0;
    const size_t windows = (input.samples.size() + 30 * MODEL_RATE - 1) / (30 * MODEL_RATE);
    std::string text;
    for (const auto& segment : segments) text += segment.text;
    const std::string task = options.translate ? "translate" : "transcribe";
    const std::string language = options.language.empty() ? "auto" : options.language;

    if (options.json) {
        nlohmann::json list = nlohmann::json::array();
        for (const auto& segment : segments) {
            list.push_back({{"start_s", rounded(segment.start_sec, 3)},
                            {"end_s", rounded(segment.end_sec, 3)},
                            {"text", segment.text}});
        }
        const nlohmann::json out = {{"audio", options.audio},
                                    {"sample_rate", clip.sample_rate},
                                    {"duration_s", rounded(duration, 3)},
                                    {"resampled", resampled},
                                    {"model", options.model},
                                    {"language", language},
                                    {"task", task},
                                    {"windows", windows},
                                    {"text", text},
                                    {"segments", list},
                                    {"seconds", rounded(seconds, 3)},
                                    {"real_time_factor", rounded(real_time_factor, 4)}};
        // Model text may hold bytes that are not UTF-8 (a token cut inside a character).
        std::cout << out.dump(2, ' ', false, nlohmann::json::error_handler_t::replace) << "\n";
        return Status::ok();
    }
    char line[256];
    std::snprintf(line, sizeof line, "%s: %d Hz, %.2f s", options.audio.c_str(), clip.sample_rate,
                  duration);
    std::cout << line;
    if (resampled) std::cout << " (resampled to " << MODEL_RATE << " Hz for the model)";
    std::cout << "\n"
              << std::filesystem::path(options.model).filename().string() << ": " << task
              << ", language " << language << "\n";
    if (options.segments) {
        for (const auto& segment : segments) {
            std::cout << "  [" << time_text(segment.start_sec) << " -> "
                      << time_text(segment.end_sec) << "]  " << segment.text << "\n";
        }
    } else {
        std::cout << text << "\n";
    }
    // The real-time factor: transcription time / audio duration (below 1: faster than real time).
    const bool faster = real_time_factor > 0 && real_time_factor < 1;
    std::snprintf(line, sizeof line, "%s, %s in %.2f s: real-time factor %.3f (%.1fx %s)\n",
                  counted(windows, "30 s window", "30 s windows").c_str(),
                  counted(segments.size(), "segment", "segments").c_str(), seconds,
                  real_time_factor, faster ? 1.0 / real_time_factor : real_time_factor,
                  faster ? "faster than real time" : "slower than real time");
    std::cout << line;
    return Status::ok();
}

}  // namespace

void add_transcribe_command(CLI::App& app) {
    auto* command = app.add_subcommand(
        "transcribe", "Speech to text with a whisper.cpp model (ggml-*.bin) on a WAV file");
    auto options = std::make_shared<TranscribeOptions>();
    command
        ->add_option("model", options->model,
                     "whisper.cpp model file (ggml-tiny.bin, ...; docs/GENAI.md)")
        ->required();
    command->add_option("audio", options->audio, "16-bit PCM WAV file (any rate; resampled)")
        ->required();
    command->add_option("--language", options->language,
                        "Language spoken (\"en\", \"de\", ...; default: detected)");
    command->add_flag("--translate", options->translate, "Translate into English");
    command->add_flag("--segments", options->segments, "Print each segment with its times");
    command->add_option("--threads", options->threads,
                        "Threads the engine computes with (default: one per core, less one)");
    command->add_flag("--json", options->json, "Print JSON for scripts");
    add_service_options(*command, options->service);
    command->callback([options] {
        const Status status = run_transcribe(*options);
        if (!status.is_ok()) throw CLI::RuntimeError(report_error(status));
    });
}

}  // namespace corun::tools
