// genai::Speech2Text (issue 12) with the Whisper-tiny-shaped model that
// tests/models/make_tiny_whisper.py writes at build time (random weights: the text is gibberish
// by design, so only the structure is asserted) and speech espeak-ng renders at test time: the
// segments and their times, one scheduled unit per 30 s window, every bad file and bad audio with
// its exact code, frames of a model of a higher priority beside a window (the lent slot, with and
// without preemption). Through corund: service/service_speech2text_test.cpp. A real Whisper model,
// when CORUN_WHISPER_MODEL names one, must hear the words spoken.
#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cctype>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <limits>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "corun/genai/speech2text.hpp"
#include "runtime/api_access.hpp"
#include "runtime/device_group.hpp"
#include "runtime/local_backend.hpp"
#include "scheduler/scheduler.hpp"
#include "tasks/audio.hpp"
#include "test_support.hpp"

namespace corun::genai {
namespace {

using test::contains;
using test::scratch_directory;
using test::test_model;
using test::unique_group;
using test::wait_until;

const std::string kTinyWhisper = test_model("genai/tiny_whisper.bin");
constexpr int kRate = 16000;
constexpr double kWindowSec = 30.0;

// espeak-ng's speech of `text` (22,050 Hz) resampled to 16 kHz, with 0.5 s of silence on each
// side. Empty when espeak-ng is missing.
std::vector<float> speech(const std::string& text) {
    const std::string wav = (scratch_directory() / "speech.wav").string();
    const std::string command = "espeak-ng -w '" + wav + "' '" + text + "' 2>/dev/null";
    if (std::system(command.c_str()) != 0) return {};
    auto clip = tasks::read_wav(wav);
    if (!clip.has_value()) return {};
    auto resampled = tasks::resample(*clip, kRate);
    if (!resampled.has_value()) return {};
    std::vector<float> samples(kRate / 2, 0.0f);
    samples.insert(samples.end(), resampled->samples.begin(), resampled->samples.end());
    samples.insert(samples.end(), kRate / 2, 0.0f);
    return samples;
}

const std::string kSentence =
    "The quick brown fox jumps over the lazy dog. Speech to text runs beside vision.";

// The same clip for every test (espeak-ng runs once).
const std::vector<float>& sentence_clip() {
    static const std::vector<float> clip = speech(kSentence);
    return clip;
}

// The sentence, then silence to 33 s, then the sentence again: two 30 s windows.
std::vector<float> long_clip() {
    std::vector<float> clip = sentence_clip();
    clip.resize(static_cast<size_t>(33 * kRate), 0.0f);
    clip.insert(clip.end(), sentence_clip().begin(), sentence_clip().end());
    return clip;
}

std::unique_ptr<VDevice> make_vdevice(const std::string& prefix) {
    VDeviceParams params;
    params.group_id = unique_group(prefix);
    params.cpu.execution_slots = 1;  // one slot, as the tests beside vision assume (lent slots)
    auto vdevice = VDevice::create(params);
    EXPECT_TRUE(vdevice.has_value()) << vdevice.status();
    return vdevice.has_value() ? vdevice.release() : nullptr;
}

ScheduledModelStats stats_of(const VDevice& vdevice, uint64_t model_id) {
    for (const auto& stats : vdevice.get_scheduler_stats()) {
        if (stats.model_id == model_id) return stats;
    }
    return {};
}

// Segments exist, run forward, and stay within the audio.
void expect_well_formed(const std::vector<Speech2TextSegment>& segments, double audio_sec) {
    ASSERT_FALSE(segments.empty());
    double previous_start = 0.0;
    for (size_t i = 0; i < segments.size(); ++i) {
        const auto& segment = segments[i];
        SCOPED_TRACE("segment " + std::to_string(i) + " [" + std::to_string(segment.start_sec) +
                     ", " + std::to_string(segment.end_sec) + "]: \"" + segment.text + "\"");
        EXPECT_GE(segment.start_sec, previous_start);
        EXPECT_LE(segment.start_sec, segment.end_sec);
        EXPECT_LE(segment.end_sec, audio_sec + 0.01);
        previous_start = segment.start_sec;
    }
}

class Speech2TextTest : public ::testing::Test {
protected:
    void SetUp() override {
        if (sentence_clip().empty()) {
            GTEST_SKIP() << "espeak-ng is not installed (scripts/setup.sh installs it)";
        }
        vdevice_ = make_vdevice("speech2text");
        ASSERT_NE(vdevice_, nullptr);
    }

    std::unique_ptr<Speech2Text> create(const Speech2TextParams& params = {}) {
        auto created = Speech2Text::create(*vdevice_, kTinyWhisper, params);
        EXPECT_TRUE(created.has_value()) << created.status();
        return created.has_value() ? created.release() : nullptr;
    }

    std::unique_ptr<VDevice> vdevice_;
};

TEST_F(Speech2TextTest, TranscribesIntoSegmentsWithMonotoneTimes) {
    auto speech2text = create();
    ASSERT_NE(speech2text, nullptr);
    const auto& clip = sentence_clip();
    const double audio_sec = static_cast<double>(clip.size()) / kRate;
    ASSERT_LT(audio_sec, kWindowSec);
    ASSERT_OK_AND_ASSIGN(const auto segments,
                         speech2text->generate_all_segments(clip, {.language = "en"}));
    expect_well_formed(segments, audio_sec);

    // One window: one unit of the scheduler (which counts it just after the caller returned).
    const uint64_t id = speech2text->scheduler_model_id();
    EXPECT_TRUE(wait_until([&] { return stats_of(*vdevice_, id).frames_done == 1; }))
        << stats_of(*vdevice_, id).frames_done << " units";
    EXPECT_EQ(stats_of(*vdevice_, id).name, "tiny_whisper");

    // The text is the segments' texts, joined (greedy decoding: the same audio, the same text).
    ASSERT_OK_AND_ASSIGN(const std::string text,
                         speech2text->generate_all_text(clip, {.language = "en"}));
    std::string joined;
    for (const auto& segment : segments) joined += segment.text;
    EXPECT_EQ(text, joined);
}

TEST_F(Speech2TextTest, AudioLongerThanAWindowRunsAsOneUnitPerWindow) {
    auto speech2text = create({.language = "en"});
    ASSERT_NE(speech2text, nullptr);
    const std::vector<float> clip = long_clip();
    const double audio_sec = static_cast<double>(clip.size()) / kRate;
    ASSERT_GT(audio_sec, kWindowSec);
    ASSERT_LT(audio_sec, 2 * kWindowSec);
    ASSERT_OK_AND_ASSIGN(const auto segments, speech2text->generate_all_segments(clip));
    expect_well_formed(segments, audio_sec);
    // Two windows: two units (counted just after the caller returned).
    const uint64_t id = speech2text->scheduler_model_id();
    EXPECT_TRUE(wait_until([&] { return stats_of(*vdevice_, id).frames_done >= 2; }));
    const auto stats = stats_of(*vdevice_, id);
    EXPECT_EQ(stats.frames_done, 2u);
    EXPECT_GT(stats.device_time_ns, 0);
    // A window's segments lie within it.
    for (const auto& segment : segments) {
        const bool first = segment.start_sec < kWindowSec;
        EXPECT_LE(segment.end_sec, first ? kWindowSec : audio_sec + 0.01) << segment.text;
    }
}

// Calls from two threads take turns on the one engine context: both complete, with the same
// text (greedy decoding, and each call starts without the other's text as its prompt).
TEST_F(Speech2TextTest, CallsFromSeveralThreadsTakeTurns) {
    auto speech2text = create({.language = "en"});
    ASSERT_NE(speech2text, nullptr);
    Expected<std::string> first = Status(StatusCode::UNINITIALIZED, "not run");
    std::thread other([&] { first = speech2text->generate_all_text(sentence_clip()); });
    const auto second = speech2text->generate_all_text(sentence_clip());
    other.join();
    ASSERT_OK(first);
    ASSERT_OK(second);
    EXPECT_EQ(*first, *second);
    const uint64_t id = speech2text->scheduler_model_id();
    EXPECT_TRUE(wait_until([&] { return stats_of(*vdevice_, id).frames_done == 2; }));
}

TEST_F(Speech2TextTest, GeneratorParamsDefaultToTheModelsOwn) {
    auto speech2text = create({.language = "de", .task = Speech2TextTask::TRANSLATE});
    ASSERT_NE(speech2text, nullptr);
    const auto params = speech2text->create_generator_params();
    EXPECT_EQ(params.language, "de");
    EXPECT_EQ(params.task, Speech2TextTask::TRANSLATE);
}

TEST_F(Speech2TextTest, BadAudio) {
    auto speech2text = create();
    ASSERT_NE(speech2text, nullptr);
    EXPECT_STATUS(speech2text->generate_all_text({}), StatusCode::INVALID_ARGUMENT);

    std::vector<float> clip = sentence_clip();
    clip[12345] = std::numeric_limits<float>::quiet_NaN();
    const auto nan = speech2text->generate_all_segments(clip);
    EXPECT_STATUS(nan, StatusCode::INVALID_ARGUMENT);
    EXPECT_TRUE(contains(nan.status().message(), "sample 12345")) << nan.status();
    EXPECT_TRUE(contains(nan.status().message(), "NaN")) << nan.status();
    clip[12345] = std::numeric_limits<float>::infinity();
    EXPECT_STATUS(speech2text->generate_all_text(clip), StatusCode::INVALID_ARGUMENT);

    // More than an hour at 16 kHz: a caller's mistake (a byte count, another rate).
    const std::vector<float> hour_and_a_bit(static_cast<size_t>(3600) * kRate + 1, 0.0f);
    const auto too_long = speech2text->generate_all_text(hour_and_a_bit);
    EXPECT_STATUS(too_long, StatusCode::INVALID_ARGUMENT);
    EXPECT_TRUE(contains(too_long.status().message(), "hour")) << too_long.status();

    EXPECT_STATUS(speech2text->generate_all_text(sentence_clip(), {.language = "klingon"}),
                  StatusCode::INVALID_ARGUMENT);
    // Nothing reached the scheduler.
    EXPECT_EQ(stats_of(*vdevice_, speech2text->scheduler_model_id()).frames_done, 0u);
}

TEST_F(Speech2TextTest, UnknownLanguageIsRefusedAtCreate) {
    const auto created = Speech2Text::create(*vdevice_, kTinyWhisper, {.language = "xx"});
    EXPECT_STATUS(created, StatusCode::INVALID_ARGUMENT);
    EXPECT_TRUE(contains(created.status().message(), "'xx'")) << created.status();
}

TEST_F(Speech2TextTest, SchedulerKnobs) {
    auto speech2text = create();
    ASSERT_NE(speech2text, nullptr);
    ASSERT_OK(speech2text->set_scheduler_priority(20));
    EXPECT_EQ(stats_of(*vdevice_, speech2text->scheduler_model_id()).priority, 20u);
    EXPECT_STATUS(speech2text->set_scheduler_priority(32), StatusCode::INVALID_ARGUMENT);
    EXPECT_OK(speech2text->set_scheduler_timeout(std::chrono::milliseconds(5)));
    EXPECT_STATUS(speech2text->set_scheduler_timeout(std::chrono::milliseconds(-1)),
                  StatusCode::INVALID_ARGUMENT);
}

// ---- bad files ----

class Speech2TextFileTest : public ::testing::Test {
protected:
    void SetUp() override {
        vdevice_ = make_vdevice("speech2text-files");
        ASSERT_NE(vdevice_, nullptr);
        std::ifstream in(kTinyWhisper, std::ios::binary);
        whole_.assign(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
        ASSERT_GT(whole_.size(), 1000000u);
        directory_ = scratch_directory();
    }

    std::string write(const std::string& name, const std::string& bytes) {
        const std::string path = (directory_ / name).string();
        std::ofstream(path, std::ios::binary)
            .write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
        return path;
    }

    Status load(const std::string& path) {
        return test::status_of(Speech2Text::create(*vdevice_, path));
    }

    std::unique_ptr<VDevice> vdevice_;
    std::string whole_;
    std::filesystem::path directory_;
};

TEST_F(Speech2TextFileTest, MissingFile) {
    const Status status = load((directory_ / "missing.bin").string());
    EXPECT_EQ(status.code(), StatusCode::NOT_FOUND) << status;
    EXPECT_TRUE(contains(status.message(), "missing.bin")) << status;
}

// whisper.cpp itself loads a file cut in its header or vocabulary, and one cut inside its last
// tensor's data; each is refused here, before whisper.cpp reads it.
TEST_F(Speech2TextFileTest, TruncatedFiles) {
    // The last tensor is decoder.ln.bias: 384 floats after a header of 3 + 1 int32 and its name.
    const size_t last_tensor = 16 + std::string("decoder.ln.bias").size() + 384 * 4;
    const std::vector<std::pair<std::string, size_t>> cuts = {
        {"in the magic", 2},
        {"in the hyperparameters", 20},
        {"in the mel filters", 100},
        {"in the vocabulary", 100000},
        {"in a tensor header", whole_.size() - last_tensor + 5},
        {"in the tensor data", whole_.size() / 2},
        {"in the last tensor's data", whole_.size() - 1},
        {"at a tensor boundary", whole_.size() - last_tensor},
    };
    for (const auto& [where, size] : cuts) {
        SCOPED_TRACE("cut " + where + " (" + std::to_string(size) + " bytes)");
        const Status status = load(write("truncated.bin", whole_.substr(0, size)));
        EXPECT_EQ(status.code(), StatusCode::INVALID_MODEL) << status;
        EXPECT_TRUE(contains(status.message(), "truncated.bin")) << status;
        if (size > 4) {
            EXPECT_TRUE(contains(status.message(), "cut short")) << status;
        }
    }
}

TEST_F(Speech2TextFileTest, NotAWhisperModel) {
    for (const auto& [name, bytes] : std::vector<std::pair<std::string, std::string>>{
             {"text.bin", "this is not a model\n"},
             {"empty.bin", ""},
         }) {
        SCOPED_TRACE(name);
        EXPECT_EQ(load(write(name, bytes)).code(), StatusCode::INVALID_MODEL);
    }
    const Status onnx = load(test_model("add_one.onnx"));
    EXPECT_EQ(onnx.code(), StatusCode::INVALID_MODEL) << onnx;
    EXPECT_TRUE(contains(onnx.message(), "not a whisper.cpp model")) << onnx;
    const Status gguf = load(test_model("genai/tiny_qwen2.gguf"));
    EXPECT_EQ(gguf.code(), StatusCode::INVALID_MODEL) << gguf;
    EXPECT_TRUE(contains(gguf.message(), "GGUF")) << gguf;
}

TEST_F(Speech2TextFileTest, DamagedHeader) {
    std::string damaged = whole_;
    const int32_t layers = 1000;  // n_audio_layer, the fifth hyperparameter
    std::memcpy(damaged.data() + 4 + 4 * 4, &layers, sizeof layers);
    const Status status = load(write("damaged.bin", damaged));
    EXPECT_EQ(status.code(), StatusCode::INVALID_MODEL) << status;
    EXPECT_TRUE(contains(status.message(), "implausible")) << status;

    // A plausible vocabulary size that the token embedding in the file does not have: whisper.cpp
    // would allocate the embedding from it before reading the tensors.
    damaged = whole_;
    const int32_t vocabulary = 900000;  // n_vocab, the first hyperparameter
    std::memcpy(damaged.data() + 4, &vocabulary, sizeof vocabulary);
    const Status embedding = load(write("vocabulary.bin", damaged));
    EXPECT_EQ(embedding.code(), StatusCode::INVALID_MODEL) << embedding;
    EXPECT_TRUE(contains(embedding.message(), "decoder.token_embedding.weight")) << embedding;

    // A weight type ggml does not know would abort the process inside whisper.cpp.
    damaged = whole_;
    const int32_t ftype = 5;  // the eleventh hyperparameter
    std::memcpy(damaged.data() + 4 + 10 * 4, &ftype, sizeof ftype);
    EXPECT_EQ(load(write("ftype.bin", damaged)).code(), StatusCode::INVALID_MODEL);
}

// A file corun's checks pass but whisper.cpp refuses (a tensor it does not know): whisper.cpp's
// own error line, from its log, is in the message.
TEST_F(Speech2TextFileTest, EngineErrorsAreInTheMessage) {
    std::string renamed = whole_;
    const size_t at = renamed.rfind("decoder.ln.bias");
    ASSERT_NE(at, std::string::npos);
    renamed.replace(at, 15, "decoder.ln.biaz");
    const Status status = load(write("renamed.bin", renamed));
    EXPECT_EQ(status.code(), StatusCode::INVALID_MODEL) << status;
    EXPECT_TRUE(contains(status.message(), "whisper.cpp cannot load")) << status;
    EXPECT_TRUE(contains(status.message(), "unknown tensor 'decoder.ln.biaz'")) << status;
    EXPECT_EQ(status.message().find('\n'), std::string::npos) << status;
}

// ---- preemption ----

// The vision model's frames, and the scheduler's decisions about them. slow_matmul (24 layers of
// 512 x 512, a millisecond or more a frame) rather than add_one: back-to-back frames then cover
// nearly all of the window's time, so that its preemption points meet a running frame however
// the machine's load spreads the threads (with add_one's microseconds a loaded machine could let
// every point fall between two frames).
class VisionFrames {
public:
    explicit VisionFrames(VDevice& vdevice) {
        auto model = vdevice.create_infer_model(test_model("slow_matmul.onnx"));
        EXPECT_TRUE(model.has_value()) << model.status();
        if (!model.has_value()) return;
        auto configured = (*model)->configure();
        EXPECT_TRUE(configured.has_value()) << configured.status();
        if (!configured.has_value()) return;
        configured_.emplace(std::move(configured).value());
        EXPECT_OK(configured_->set_scheduler_priority(24));
        auto bindings = configured_->create_bindings(
            {{"x", MemoryView::of(input_)}, {"y", MemoryView::of(output_)}});
        EXPECT_TRUE(bindings.has_value()) << bindings.status();
        if (bindings.has_value()) bindings_.emplace(std::move(bindings).value());
        auto* local =
            dynamic_cast<runtime::LocalBackend*>(&runtime::ApiAccess::group_of(vdevice)->backend());
        EXPECT_NE(local, nullptr);
        if (local == nullptr) return;
        scheduler_ = &local->scheduler();
        const uint64_t id = configured_->scheduler_model_id();
        scheduler_->set_decision_sink([this, id](const scheduler::DecisionRecord& record) {
            if (record.model_id != id) return;
            std::lock_guard lock(mutex_);
            preempted_.push_back(record.preempted_model);
        });
    }
    ~VisionFrames() {
        if (scheduler_ != nullptr) scheduler_->set_decision_sink(nullptr);
    }
    bool ready() const { return bindings_.has_value() && scheduler_ != nullptr; }
    scheduler::Scheduler& scheduler() { return *scheduler_; }

    // Runs one frame (synchronously) and returns the model that lent it its slot (0: none).
    Expected<uint64_t> run_one() {
        CORUN_RETURN_IF_ERROR(configured_->run(*bindings_, test::WAIT_LIMIT));
        std::lock_guard lock(mutex_);
        if (preempted_.empty()) return Status(StatusCode::INTERNAL_FAILURE, "no decision seen");
        const uint64_t preempted = preempted_.back();
        preempted_.clear();
        return preempted;
    }

private:
    std::vector<float> input_ = std::vector<float>(512, 1.0f);
    std::vector<float> output_ = std::vector<float>(512, 0.0f);
    std::optional<ConfiguredInferModel> configured_;
    std::optional<ConfiguredInferModel::Bindings> bindings_;
    scheduler::Scheduler* scheduler_ = nullptr;
    std::mutex mutex_;
    std::vector<uint64_t> preempted_;
};

// Frames of a priority-24 model sent one after another, from a camera thread, while a window
// (priority 16) runs on the device's one slot: each is dispatched at once, beside the window on
// the lent slot, and its decision names the speech model as the one that lent it. Whether the
// window still held the slot when a frame was dispatched is known exactly: the audio is one window
// (one unit), and the scheduler counts the unit done before anything else can take the slot it
// frees, so a unit not yet counted after the frame completed held the slot all along. (The
// caller's return is no such sign: it wakes when the unit finished, before the scheduler counted
// it.) With preemption the window paused for the frames at its preemption points; without, it
// went on beside them.
class Speech2TextBesideVisionTest : public Speech2TextTest,
                                    public ::testing::WithParamInterface<bool> {};

TEST_P(Speech2TextBesideVisionTest, OutrankingFramesRunAtOnceWhileAWindowRuns) {
    const bool preemption = GetParam();
    auto speech2text = create({.language = "en", .preemption = preemption});
    ASSERT_NE(speech2text, nullptr);
    VisionFrames vision(*vdevice_);
    ASSERT_TRUE(vision.ready());
    const uint64_t speech_id = speech2text->scheduler_model_id();
    auto unit_counted = [&] { return stats_of(*vdevice_, speech_id).frames_done > 0; };

    std::thread transcription(
        [&] { EXPECT_OK(speech2text->generate_all_segments(sentence_clip())); });
    EXPECT_TRUE(wait_until(
        [&] { return unit_counted() || stats_of(*vdevice_, speech_id).frames_running == 1; }));
    int lent_while_running = 0;
    // Bounded: at most 200000 frames, and no longer than the window runs. The window's first
    // preemption point comes after a whole encoder pass, which on a slow machine outlasts many
    // of these frames.
    for (int frame = 0; frame < 200000 && !unit_counted(); ++frame) {
        const auto lent_by = vision.run_one();
        if (!lent_by.has_value()) {
            ADD_FAILURE() << lent_by.status();
            break;
        }
        if (unit_counted()) break;  // the window may have ended before this frame ran
        EXPECT_EQ(*lent_by, speech_id) << "frame " << frame;
        if (*lent_by != speech_id) break;
        ++lent_while_running;
    }
    transcription.join();
    EXPECT_GT(lent_while_running, 0) << "no vision frame completed while the window was running";
    uint64_t preemptions = 0;
    for (const auto& stats : vision.scheduler().stats()) {
        if (stats.model_id == speech_id) preemptions = stats.preemptions;
    }
    if (preemption) {
        EXPECT_GT(preemptions, 0u) << lent_while_running << " frames beside the window";
    } else {
        EXPECT_EQ(preemptions, 0u);
    }
}

INSTANTIATE_TEST_SUITE_P(Preemption, Speech2TextBesideVisionTest, ::testing::Bool(),
                         [](const auto& info) { return info.param ? "On" : "Off"; });

// ---- a real model ----

std::string lowercase(std::string text) {
    std::transform(text.begin(), text.end(), text.begin(),
                   [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
    return text;
}

TEST_F(Speech2TextTest, RealModelHearsTheWords) {
    const char* path = std::getenv("CORUN_WHISPER_MODEL");
    if (path == nullptr || *path == '\0') {
        GTEST_SKIP() << "set CORUN_WHISPER_MODEL to a whisper.cpp model (e.g. ggml-tiny.en.bin "
                        "from whisper.cpp's models/download-ggml-model.sh) to run this test";
    }
    auto created = Speech2Text::create(*vdevice_, path, {.language = "en"});
    ASSERT_TRUE(created.has_value()) << created.status();
    ASSERT_OK_AND_ASSIGN(const std::string text, (*created)->generate_all_text(sentence_clip()));
    const std::string heard = lowercase(text);
    for (const char* word : {"quick", "brown", "fox", "lazy", "dog", "speech", "text"}) {
        EXPECT_TRUE(contains(heard, word)) << "'" << word << "' not in: " << text;
    }
}

}  // namespace
}  // namespace corun::genai
