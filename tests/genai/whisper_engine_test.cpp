// whisper.cpp on its own C API (issue 12), with the Whisper-tiny-shaped model that
// tests/models/make_tiny_whisper.py writes at build time (random weights): it loads, and it
// transcribes speech that espeak-ng renders at test time into segments whose times run forward.
// With random weights the text is gibberish by design, so only the structure is asserted.
// whisper.cpp runs here on llama.cpp's ggml (cmake/GenAIEngines.cmake), and this program links
// both engines, as corund will: one ggml, no clashing symbols.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <memory>
#include <string>
#include <vector>

#include "llama.h"
#include "whisper.h"

namespace {

const std::string kTinyWhisper = std::string(CORUN_TEST_MODEL_DIR) + "/genai/tiny_whisper.bin";
constexpr int kSampleRate = 16000;  // what whisper.cpp takes (WHISPER_SAMPLE_RATE)

void quiet_log(ggml_log_level level, const char* text, void*) {
    if (level == GGML_LOG_LEVEL_ERROR) std::fputs(text, stderr);
}

struct ContextFree {
    void operator()(whisper_context* context) const { whisper_free(context); }
};
using Context = std::unique_ptr<whisper_context, ContextFree>;

Context load(const std::string& path) {
    whisper_context_params params = whisper_context_default_params();
    params.use_gpu = false;
    return Context(whisper_init_from_file_with_params(path.c_str(), params));
}

// espeak-ng's WAV (16-bit PCM mono, 22,050 Hz) as 16 kHz float samples, resampled linearly,
// with 0.5 s of silence before and after. Empty when espeak-ng is missing.
std::vector<float> speech(const std::string& text, const std::filesystem::path& directory) {
    const std::string wav = (directory / "speech.wav").string();
    const std::string command = "espeak-ng -w '" + wav + "' '" + text + "' 2>/dev/null";
    if (std::system(command.c_str()) != 0) return {};
    std::ifstream in(wav, std::ios::binary);
    const std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    auto u32 = [&](size_t at) {
        uint32_t v = 0;
        std::memcpy(&v, bytes.data() + at, 4);
        return v;
    };
    auto u16 = [&](size_t at) {
        uint16_t v = 0;
        std::memcpy(&v, bytes.data() + at, 2);
        return v;
    };
    if (bytes.size() < 12 || bytes.compare(0, 4, "RIFF") != 0 || bytes.compare(8, 4, "WAVE") != 0)
        return {};
    uint32_t rate = 0;
    std::vector<float> source;
    for (size_t at = 12; at + 8 <= bytes.size();) {
        const std::string id = bytes.substr(at, 4);
        const uint32_t size =
            std::min<uint32_t>(u32(at + 4), static_cast<uint32_t>(bytes.size() - at - 8));
        if (id == "fmt ") {
            if (u16(at + 8) != 1 || u16(at + 10) != 1 || u16(at + 22) != 16)
                return {};  // PCM mono 16-bit
            rate = u32(at + 12);
        } else if (id == "data") {
            for (uint32_t i = 0; i + 1 < size; i += 2) {
                source.push_back(static_cast<int16_t>(u16(at + 8 + i)) / 32768.0f);
            }
        }
        at += 8 + size + (size & 1);
    }
    if (rate == 0 || source.empty()) return {};
    std::vector<float> samples(kSampleRate / 2, 0.0f);
    const double step = static_cast<double>(rate) / kSampleRate;
    for (double t = 0; t + 1 < static_cast<double>(source.size()); t += step) {
        const auto i = static_cast<size_t>(t);
        const double f = t - static_cast<double>(i);
        samples.push_back(static_cast<float>(source[i] * (1 - f) + source[i + 1] * f));
    }
    samples.insert(samples.end(), kSampleRate / 2, 0.0f);
    return samples;
}

class WhisperEngineTest : public ::testing::Test {
protected:
    void SetUp() override {
        whisper_log_set(quiet_log, nullptr);
        directory_ = std::filesystem::temp_directory_path() /
                     ("whisper_engine_test." + std::to_string(::getpid()) + "." +
                      ::testing::UnitTest::GetInstance()->current_test_info()->name());
        std::filesystem::create_directories(directory_);
    }
    void TearDown() override { std::filesystem::remove_all(directory_); }
    std::filesystem::path directory_;
};

TEST_F(WhisperEngineTest, LoadsTheTinyShape) {
    Context context = load(kTinyWhisper);
    ASSERT_NE(context, nullptr) << "cannot load " << kTinyWhisper;
    EXPECT_EQ(whisper_model_n_vocab(context.get()), 51865);
    EXPECT_EQ(whisper_model_n_audio_ctx(context.get()), 1500);
    EXPECT_EQ(whisper_model_n_audio_state(context.get()), 384);
    EXPECT_EQ(whisper_model_n_audio_head(context.get()), 6);
    EXPECT_EQ(whisper_model_n_audio_layer(context.get()), 4);
    EXPECT_EQ(whisper_model_n_text_ctx(context.get()), 448);
    EXPECT_EQ(whisper_model_n_text_layer(context.get()), 4);
    EXPECT_EQ(whisper_model_n_mels(context.get()), 80);
    EXPECT_EQ(whisper_is_multilingual(context.get()), 1);
    // The special tokens whisper.cpp appends to the 50,257 of the file sit where the real
    // multilingual model has them.
    EXPECT_EQ(whisper_token_eot(context.get()), 50257);
    EXPECT_EQ(whisper_token_sot(context.get()), 50258);
    EXPECT_EQ(whisper_token_transcribe(context.get()), 50359);
    EXPECT_EQ(whisper_token_beg(context.get()), 50364);
    EXPECT_STREQ(whisper_token_to_str(context.get(), whisper_token_eot(context.get())), "[_EOT_]");
}

TEST_F(WhisperEngineTest, TranscribesSpeechIntoSegmentsWithMonotoneTimes) {
    Context context = load(kTinyWhisper);
    ASSERT_NE(context, nullptr);
    const std::vector<float> samples =
        speech("The quick brown fox jumps over the lazy dog. Speech to text runs beside vision.",
               directory_);
    if (samples.empty())
        GTEST_SKIP() << "espeak-ng is not installed (scripts/setup.sh installs it)";
    ASSERT_GT(samples.size(), static_cast<size_t>(2 * kSampleRate));

    whisper_full_params params = whisper_full_default_params(WHISPER_SAMPLING_GREEDY);
    params.n_threads = 2;
    params.language = "en";
    params.print_progress = false;
    params.print_realtime = false;
    params.print_timestamps = false;
    // No temperature fallback: random weights would fail every quality threshold and decode
    // each window six times over.
    params.temperature_inc = 0.0f;
    ASSERT_EQ(whisper_full(context.get(), params, samples.data(), static_cast<int>(samples.size())),
              0);

    const int segments = whisper_full_n_segments(context.get());
    ASSERT_GE(segments, 1);
    // Times are in 10 ms units from the start of the audio.
    const auto audio_end = static_cast<int64_t>(samples.size() * 100 / kSampleRate);
    int64_t previous_end = 0;
    for (int i = 0; i < segments; ++i) {
        SCOPED_TRACE("segment " + std::to_string(i) + ": \"" +
                     whisper_full_get_segment_text(context.get(), i) + "\"");
        const int64_t start = whisper_full_get_segment_t0(context.get(), i);
        const int64_t end = whisper_full_get_segment_t1(context.get(), i);
        EXPECT_GE(start, previous_end);
        EXPECT_LE(start, end);
        // A segment may end at the 30 s window whisper.cpp pads the audio to, not past it.
        EXPECT_LE(end, std::max<int64_t>(audio_end, 3000));
        EXPECT_NE(whisper_full_get_segment_text(context.get(), i), nullptr);
        previous_end = end;
    }
}

TEST_F(WhisperEngineTest, BadFiles) {
    std::ifstream in(kTinyWhisper, std::ios::binary);
    const std::string whole((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    ASSERT_GT(whole.size(), 1000000u);
    auto write = [&](const std::string& name, const std::string& bytes) {
        const std::string path = (directory_ / name).string();
        std::ofstream(path, std::ios::binary)
            .write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
        return path;
    };
    for (const auto& [name, bytes] : std::vector<std::pair<std::string, std::string>>{
             {"text.bin", "this is not a model\n"},
             {"empty.bin", ""},
             {"truncated_tensors.bin", whole.substr(0, whole.size() / 2)},
         }) {
        SCOPED_TRACE(name);
        EXPECT_EQ(load(write(name, bytes)), nullptr);
    }
    EXPECT_EQ(load((directory_ / "missing.bin").string()), nullptr);
    // whisper.cpp 1.9.1 does not check for the end of the file while it reads the
    // hyperparameters and the vocabulary: a file cut there loads, with whatever the reads left
    // behind. corun's Speech2Text must check the file's size against its header before handing
    // it over. (A newer whisper.cpp that refuses these fails here: then drop the check.)
    for (const auto& [name, bytes] : std::vector<std::pair<std::string, std::string>>{
             {"truncated_header.bin", whole.substr(0, 20)},
             {"truncated_vocabulary.bin", whole.substr(0, 100000)},
         }) {
        SCOPED_TRACE(name);
        EXPECT_NE(load(write(name, bytes)), nullptr);
    }
}

// Both engines in one program on one ggml: a GGUF LLM and a Whisper model loaded side by side.
TEST_F(WhisperEngineTest, LoadsBesideLlamaCpp) {
    llama_log_set(quiet_log, nullptr);
    llama_backend_init();
    llama_model_params params = llama_model_default_params();
    params.n_gpu_layers = 0;
    llama_model* llm = llama_model_load_from_file(
        (std::string(CORUN_TEST_MODEL_DIR) + "/genai/tiny_qwen2.gguf").c_str(), params);
    ASSERT_NE(llm, nullptr);
    Context context = load(kTinyWhisper);
    EXPECT_NE(context, nullptr);
    llama_model_free(llm);
    llama_backend_free();
}

}  // namespace
