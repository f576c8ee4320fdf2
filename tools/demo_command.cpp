// `corun demo`: object detection, OCR, face detection and voice-activity detection running at
// once on one shared VDevice, over built-in samples (darknet's test images, text the demo
// renders, speech espeak-ng speaks) or the user's images; prints what each model found and how
// the device was shared.
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <functional>
#include <iostream>
#include <mutex>
#include <sstream>
#include <thread>

#include "cli_support.hpp"
#include "commands.hpp"
#include "tasks/audio.hpp"
#include "tasks/face_detection.hpp"
#include "tasks/image.hpp"
#include "tasks/object_detection.hpp"
#include "tasks/ocr_pipeline.hpp"
#include "tasks/text_rendering.hpp"
#include "tasks/voice_activity.hpp"

namespace corun::tools {
namespace {

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;
// Live audio: one Silero VAD window (512 samples at 16 kHz) arrives every 32 ms and must be done
// before the next one.
constexpr std::chrono::milliseconds LIVE_WINDOW_BUDGET{32};
constexpr uint32_t LIVE_AUDIO_PRIORITY = 24;

struct DemoOptions {
    std::string input_dir;
    std::string models;
    double seconds = 8;
    bool json = false;
};

struct NamedImage {
    std::string name;
    cv::Mat pixels;
};

// One task of the demo: its inputs, one call per input, and what it found the first time.
struct DemoTask {
    std::string title;  // "Objects (NanoDet)"
    size_t input_count = 0;
    std::function<Expected<std::string>(size_t input)> call;  // returns a line of findings
    std::vector<std::string> findings;
    LatencyHistogram latency;  // fixed memory, however long the demo runs
    // What one latency sample is: a call, or (a live stream, whose call records its own) one
    // window of it.
    std::string latency_unit = "call";
    bool records_own_latency() const { return latency_unit != "call"; }
    Status error;
};

std::string box_text(float x1, float y1, float x2, float y2) {
    char text[96];
    std::snprintf(text, sizeof(text), "[%.0f,%.0f,%.0f,%.0f]", x1, y1, x2, y2);
    return text;
}

std::vector<NamedImage> load_images(const std::vector<std::string>& paths, std::ostream& notes) {
    std::vector<NamedImage> images;
    for (const auto& path : paths) {
        auto image = tasks::read_image(path);
        if (!image) {
            notes << "  skipped " << path << ": " << image.status().to_string() << "\n";
            continue;
        }
        images.push_back({fs::path(path).filename().string(), image.release()});
    }
    return images;
}

std::vector<std::string> images_in(const std::string& directory) {
    std::vector<std::string> paths;
    std::error_code error;
    for (const auto& entry : fs::directory_iterator(directory, error)) {
        std::string extension = entry.path().extension().string();
        std::transform(extension.begin(), extension.end(), extension.begin(), ::tolower);
        if (extension == ".jpg" || extension == ".jpeg" || extension == ".png" ||
            extension == ".bmp" || extension == ".webp") {
            paths.push_back(entry.path().string());
        }
    }
    std::sort(paths.begin(), paths.end());
    return paths;
}

// Speech from espeak-ng with a second of silence on each side, resampled to 16 kHz.
Expected<tasks::AudioClip> spoken_sample(const std::string& sentence) {
    char directory_template[] = "/tmp/corun-demo-XXXXXX";
    if (mkdtemp(directory_template) == nullptr) {
        return Status(StatusCode::FILE_OPERATION_FAILURE, "cannot create a temporary folder");
    }
    const std::string wav = std::string(directory_template) + "/speech.wav";
    const std::string command = "espeak-ng -w '" + wav + "' '" + sentence + "' >/dev/null 2>&1";
    const int exit_code = std::system(command.c_str());
    auto clip = exit_code == 0 ? tasks::read_wav(wav)
                               : Expected<tasks::AudioClip>(Status(
                                     StatusCode::NOT_FOUND,
                                     "espeak-ng failed or is missing (apt-get install espeak-ng)"));
    std::error_code ignored;
    fs::remove_all(directory_template, ignored);
    if (!clip) return clip.status();
    tasks::AudioClip padded;
    padded.sample_rate = clip->sample_rate;
    padded.samples.assign(static_cast<size_t>(clip->sample_rate), 0.0f);
    padded.samples.insert(padded.samples.end(), clip->samples.begin(), clip->samples.end());
    padded.samples.insert(padded.samples.end(), static_cast<size_t>(clip->sample_rate), 0.0f);
    return tasks::resample(padded, tasks::VoiceActivityDetector::SAMPLE_RATE);
}

Status run_demo(const DemoOptions& options) {
    if (options.seconds <= 0 || options.seconds > 3600) {
        return Status(StatusCode::INVALID_ARGUMENT, "--time-to-run must be in (0, 3600] seconds");
    }
    const std::string cache = model_cache_dir(options.models);
    VDeviceParams params;
    params.group_id = "corun-demo";
    // A slot for the live audio's windows (priority above normal), so that they never wait for
    // a vision frame to finish (docs/SCHEDULER.md, "Sharing the CPU").
    params.cpu.latency_slots = 1;
    CORUN_TRY(auto vdevice, VDevice::create_shared(params));
    std::ostringstream notes;

    // Inputs.
    std::vector<std::string> image_paths;
    if (!options.input_dir.empty()) {
        if (!fs::is_directory(options.input_dir)) {
            return Status(StatusCode::NOT_FOUND,
                          "--input '" + options.input_dir + "' is not a folder of images");
        }
        image_paths = images_in(options.input_dir);
        if (image_paths.empty()) {
            return Status(StatusCode::NOT_FOUND,
                          "no .jpg/.png/.bmp/.webp images in '" + options.input_dir + "'");
        }
    } else {
        for (const char* name : {"dog.jpg", "person.jpg", "horses.jpg", "giraffe.jpg"}) {
            image_paths.push_back(cache + "/data/darknet/" + name);
        }
        image_paths.push_back(cache + "/data/opencv-doc/messi5.jpg");
    }
    const std::vector<NamedImage> images = load_images(image_paths, notes);
    std::vector<NamedImage> text_images =
        options.input_dir.empty() ? std::vector<NamedImage>{} : images;
    if (options.input_dir.empty()) {
        auto rendered = tasks::render_text_lines({"Hello World 2024", "corun shares accelerators"});
        if (rendered) {
            text_images.push_back({"rendered text", rendered.release()});
        } else {
            notes << "  no text sample: " << rendered.status().to_string() << "\n";
        }
    }

    // Tasks, each skipped with a note when its model or input is missing.
    std::vector<std::unique_ptr<DemoTask>> demo_tasks;
    auto add = [&](const std::string& title, size_t inputs,
                   std::function<Expected<std::string>(size_t)> call) {
        auto task = std::make_unique<DemoTask>();
        task->title = title;
        task->input_count = inputs;
        task->call = std::move(call);
        demo_tasks.push_back(std::move(task));
    };
    std::shared_ptr<tasks::ObjectDetector> objects;
    const auto object_paths = tasks::ObjectDetectorPaths::in_cache(cache);
    if (auto made =
            tasks::ObjectDetector::create(vdevice, object_paths.model, object_paths.labels)) {
        objects = made.release();
        add("Objects (NanoDet, COCO)", images.size(),
            [&, objects](size_t i) -> Expected<std::string> {
                CORUN_TRY(auto found, objects->detect(images[i].pixels));
                std::string line = images[i].name + ":";
                for (const auto& d : found) {
                    char score[16];
                    std::snprintf(score, sizeof(score), "%.2f", d.score);
                    line += " " + d.label + " " + score + " " +
                            box_text(d.box.x1, d.box.y1, d.box.x2, d.box.y2) + ",";
                }
                if (found.empty()) line += " nothing";
                if (line.back() == ',') line.pop_back();
                return line;
            });
    } else {
        notes << "  object detection skipped: " << made.status().to_string() << "\n";
    }
    std::shared_ptr<tasks::OcrPipeline> ocr;
    if (auto made = tasks::OcrPipeline::create(vdevice, tasks::OcrModelPaths::in_cache(cache))) {
        ocr = made.release();
        add("Text (PP-OCRv4)", text_images.size(), [&, ocr](size_t i) -> Expected<std::string> {
            CORUN_TRY(auto lines, ocr->read(text_images[i].pixels));
            std::string line = text_images[i].name + ":";
            for (const auto& text : lines) {
                char confidence[16];
                std::snprintf(confidence, sizeof(confidence), "%.2f", text.confidence);
                line += " \"" + text.text + "\" (" + confidence + "),";
            }
            if (lines.empty()) line += " no text";
            if (line.back() == ',') line.pop_back();
            return line;
        });
    } else {
        notes << "  OCR skipped: " << made.status().to_string() << "\n";
    }
    std::shared_ptr<tasks::FaceDetector> faces;
    if (auto made =
            tasks::FaceDetector::create(vdevice, tasks::FaceDetector::default_model(cache))) {
        faces = made.release();
        add("Faces (BlazeFace)", images.size(), [&, faces](size_t i) -> Expected<std::string> {
            CORUN_TRY(auto found, faces->detect(images[i].pixels));
            std::string line = images[i].name + ": " + std::to_string(found.size()) +
                               (found.size() == 1 ? " face" : " faces");
            for (const auto& face : found) {
                char score[16];
                std::snprintf(score, sizeof(score), "%.2f", face.score);
                line += std::string(" ") + score + " " +
                        box_text(face.box.x1, face.box.y1, face.box.x2, face.box.y2);
            }
            return line;
        });
    } else {
        notes << "  face detection skipped: " << made.status().to_string() << "\n";
    }
    std::shared_ptr<tasks::VoiceActivityDetector> vad;
    const std::string sentence = "corun lets many models share one accelerator";
    auto speech = spoken_sample(sentence);
    auto vad_made = tasks::VoiceActivityDetector::create(
        vdevice, tasks::VoiceActivityDetector::default_model(cache));
    if (vad_made && speech) {
        vad = vad_made.release();
        auto clip = std::make_shared<tasks::AudioClip>(speech.release());
        // Audio is real time: the clip is streamed as a microphone would deliver it, one 32 ms
        // window every 32 ms, and each window must be done before the next arrives. Its model
        // gets that deadline (an SLO) and a priority above the vision tasks, which a latency
        // slot serves at once; a window the scheduler predicts late is refused and counted.
        if (Status deadline = vad->set_live_deadline(LIVE_WINDOW_BUDGET, LIVE_AUDIO_PRIORITY);
            !deadline.is_ok()) {
            notes << "  live speech runs without its 32 ms deadline: " << deadline.to_string()
                  << "\n";
        }
        add("Speech (Silero VAD, live)", 1, nullptr);
        DemoTask& task = *demo_tasks.back();
        task.latency_unit = "window";
        task.call = [vad, clip, sentence, &task](size_t) -> Expected<std::string> {
            CORUN_TRY(const tasks::AudioClip audio,
                      tasks::resample(*clip, tasks::VoiceActivityDetector::SAMPLE_RATE));
            vad->reset_live();
            std::vector<float> probabilities;
            uint64_t missed = 0;
            const size_t window = tasks::VoiceActivityDetector::WINDOW;
            const auto started = Clock::now();
            for (size_t begin = 0; begin < audio.samples.size(); begin += window) {
                // The window is complete once its last sample arrived.
                const auto arrived =
                    started +
                    std::chrono::duration_cast<Clock::duration>(
                        std::chrono::duration<double>(static_cast<double>(begin + window) /
                                                      tasks::VoiceActivityDetector::SAMPLE_RATE));
                std::this_thread::sleep_until(arrived);
                const size_t count = std::min(window, audio.samples.size() - begin);
                auto probability = vad->push_live_window(
                    std::span<const float>(audio.samples.data() + begin, count));
                if (!probability && probability.status().code() != StatusCode::DEADLINE_EXCEEDED) {
                    return probability.status();
                }
                task.latency.record(static_cast<uint64_t>(
                    std::chrono::duration_cast<std::chrono::nanoseconds>(Clock::now() - arrived)
                        .count()));
                if (!probability) ++missed;  // refused: heard as silence
                probabilities.push_back(probability ? *probability : 0.0f);
            }
            const auto segments = tasks::speech_segments(
                probabilities,
                static_cast<double>(window) / tasks::VoiceActivityDetector::SAMPLE_RATE,
                audio.duration_s(), vad->options());
            char span[64];
            std::string line = "espeak-ng \"" + sentence + "\" with 1 s of silence around it, " +
                               std::to_string(probabilities.size()) + " windows live (" +
                               std::to_string(missed) + " missed their 32 ms):";
            for (const auto& segment : segments) {
                std::snprintf(span, sizeof(span), " speech %.2f-%.2f s,", segment.start_s,
                              segment.end_s);
                line += span;
            }
            if (segments.empty()) line += " no speech";
            if (line.back() == ',') line.pop_back();
            return line;
        };
    } else {
        notes << "  voice activity skipped: "
              << (vad_made ? speech.status() : vad_made.status()).to_string() << "\n";
    }
    demo_tasks.erase(std::remove_if(demo_tasks.begin(), demo_tasks.end(),
                                    [](const auto& task) { return task->input_count == 0; }),
                     demo_tasks.end());
    if (demo_tasks.empty()) {
        std::cerr << notes.str();
        return Status(StatusCode::NOT_FOUND,
                      "no demo task could start: run scripts/fetch_models.sh (the README's first "
                      "command does), or point --models at the folder it filled");
    }

    // Every task in its own thread, all at once on the one VDevice, for the time given.
    const auto start = Clock::now();
    const auto deadline = start + std::chrono::duration_cast<Clock::duration>(
                                      std::chrono::duration<double>(options.seconds));
    std::vector<std::thread> threads;
    for (auto& task : demo_tasks) {
        threads.emplace_back([&task = *task, deadline] {
            for (size_t call = 0; Clock::now() < deadline || call < task.input_count; ++call) {
                const size_t input = call % task.input_count;
                const auto began = Clock::now();
                auto found = task.call(input);
                if (!task.records_own_latency()) {
                    task.latency.record(static_cast<uint64_t>(
                        std::chrono::duration_cast<std::chrono::nanoseconds>(Clock::now() - began)
                            .count()));
                }
                if (!found) {
                    task.error = found.status();
                    return;
                }
                if (call < task.input_count) task.findings.push_back(found.release());
            }
        });
    }
    for (auto& thread : threads) thread.join();
    const double elapsed = std::chrono::duration<double>(Clock::now() - start).count();

    // A model configured for several input shapes (OCR) is several scheduled models: one row.
    struct ModelRow {
        std::string name;
        uint64_t frames = 0;
        int64_t device_time_ns = 0;
    };
    std::vector<ModelRow> stats;
    int64_t device_total = 0;
    for (const auto& model : vdevice->get_scheduler_stats()) {
        auto row = std::find_if(stats.begin(), stats.end(),
                                [&](const ModelRow& r) { return r.name == model.name; });
        if (row == stats.end()) row = stats.insert(stats.end(), ModelRow{model.name});
        row->frames += model.frames_done;
        row->device_time_ns += model.device_time_ns;
        device_total += model.device_time_ns;
    }
    const auto device = vdevice->physical_devices().front();
    if (options.json) {
        nlohmann::json report = {{"device", device.id}, {"seconds", elapsed}};
        for (const auto& task : demo_tasks) {
            report["tasks"].push_back(
                {{"task", task->title},
                 {"findings", task->findings},
                 {"calls", task->latency.count()},
                 {"latency_per", task->latency_unit},
                 {"latency", LatencySummary::of(task->latency).to_json()},
                 {"error", task->error.is_ok() ? "" : task->error.to_string()}});
        }
        for (const auto& model : stats) {
            report["models"].push_back(
                {{"model", model.name},
                 {"frames", model.frames},
                 {"fps", model.frames / elapsed},
                 {"device_share",
                  device_total ? double(model.device_time_ns) / device_total : 0.0}});
        }
        std::cout << report.dump(2) << "\n";
        return Status::ok();
    }
    std::printf("corun demo: %zu tasks at once on one VDevice (%s, %u threads) for %.1f s\n\n",
                demo_tasks.size(), device.id.c_str(), device.threads, elapsed);
    if (!notes.str().empty()) std::printf("Notes:\n%s\n", notes.str().c_str());
    for (const auto& task : demo_tasks) {
        std::printf("%s\n", task->title.c_str());
        for (const auto& finding : task->findings) std::printf("  %s\n", finding.c_str());
        if (!task->error.is_ok()) std::printf("  error: %s\n", task->error.to_string().c_str());
        std::printf("\n");
    }
    std::printf("%-28s %7s %8s %9s %9s  %s\n", "task", "calls", "calls/s", "p50 ms", "p95 ms",
                "latency of one");
    for (const auto& task : demo_tasks) {
        const auto latency = LatencySummary::of(task->latency);
        const uint64_t calls = task->latency.count();
        std::printf("%-28s %7llu %8.2f %9.1f %9.1f  %s\n", task->title.c_str(),
                    static_cast<unsigned long long>(calls), static_cast<double>(calls) / elapsed,
                    latency.p50, latency.p95, task->latency_unit.c_str());
    }
    std::printf("\n%-40s %8s %8s %13s\n", "model (on the shared device)", "frames", "FPS",
                "device share");
    for (const auto& model : stats) {
        if (model.frames == 0) continue;
        std::printf("%-40s %8llu %8.1f %12.1f%%\n", model.name.c_str(),
                    static_cast<unsigned long long>(model.frames), model.frames / elapsed,
                    device_total ? 100.0 * model.device_time_ns / device_total : 0.0);
    }
    return Status::ok();
}

}  // namespace

void add_demo_command(CLI::App& app) {
    static DemoOptions options;
    auto* command = app.add_subcommand(
        "demo", "Detection, OCR, faces and voice activity at once on one shared device");
    command->add_option("--input", options.input_dir, "Folder of your own images");
    command->add_option("-t,--time-to-run", options.seconds, "Seconds to keep all tasks running");
    command->add_option("--models", options.models,
                        "Model cache folder (default: $CORUN_CACHE_DIR or the checkout's .cache)");
    command->add_flag("--json", options.json, "Print the report as JSON");
    command->callback([] {
        Status status = run_demo(options);
        if (!status.is_ok()) throw CLI::RuntimeError(report_error(status));
    });
}

}  // namespace corun::tools
