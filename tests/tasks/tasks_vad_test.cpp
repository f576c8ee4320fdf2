// Audio and voice activity (issue 3): WAV reading and writing, bad WAV input, resampling,
// segment hysteresis on synthetic probabilities, and Silero VAD v5 through the corun API on
// speech that espeak-ng renders at test time, padded with 1 s of silence on both sides: the
// spoken span is marked, the silence is not, also when the WAV has another sample rate. The
// model tests skip, saying why, when scripts/fetch_models.sh has not run or espeak-ng is
// missing. Issue 9: sample rates outside 4..384 kHz, impossible channel counts, chunk sizes
// beyond the file, and resampled lengths above the sample limit are refused before allocating.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <numbers>
#include <string>
#include <vector>

#include "tasks/audio.hpp"
#include "tasks/voice_activity.hpp"
#include "test_support.hpp"

namespace corun::tasks {
namespace {

using corun::test::contains;
using corun::test::scratch_directory;

const std::string VAD_MODEL = VoiceActivityDetector::default_model(CORUN_CACHE_DIR);

std::string write_bytes(const std::string& name, const std::string& bytes) {
    const std::string path = (scratch_directory() / name).string();
    std::ofstream(path, std::ios::binary)
        .write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
    return path;
}

// A WAV header + data with the given fmt fields; `samples` bytes of data follow.
std::string wav_bytes(uint16_t format, uint16_t channels, uint32_t rate, uint16_t bits,
                      const std::string& data) {
    auto u16 = [](uint32_t v) { return std::string{char(v & 0xFF), char((v >> 8) & 0xFF)}; };
    auto u32 = [&](uint32_t v) { return u16(v & 0xFFFF) + u16(v >> 16); };
    const uint16_t block = static_cast<uint16_t>(channels * bits / 8);
    return "RIFF" + u32(static_cast<uint32_t>(36 + data.size())) + "WAVEfmt " + u32(16) +
           u16(format) + u16(channels) + u32(rate) + u32(rate * block) + u16(block) + u16(bits) +
           "data" + u32(static_cast<uint32_t>(data.size())) + data;
}

AudioClip sine(int rate, double frequency, double seconds, float amplitude = 0.5f) {
    AudioClip clip;
    clip.sample_rate = rate;
    clip.samples.resize(static_cast<size_t>(rate * seconds));
    for (size_t i = 0; i < clip.samples.size(); ++i) {
        clip.samples[i] =
            amplitude * static_cast<float>(std::sin(2 * std::numbers::pi * frequency * i / rate));
    }
    return clip;
}

// Correlation with a sine and cosine of `frequency`: the amplitude of that component.
double component(const AudioClip& clip, double frequency) {
    double s = 0, c = 0;
    for (size_t i = 0; i < clip.samples.size(); ++i) {
        const double phase = 2 * std::numbers::pi * frequency * i / clip.sample_rate;
        s += clip.samples[i] * std::sin(phase);
        c += clip.samples[i] * std::cos(phase);
    }
    return 2 * std::sqrt(s * s + c * c) / static_cast<double>(clip.samples.size());
}

// ---- WAV files ----

TEST(WavTest, WriteThenReadKeepsSamples) {
    AudioClip clip = sine(16000, 440, 0.25);
    const std::string path = (scratch_directory() / "sine.wav").string();
    ASSERT_OK(write_wav(path, clip));
    ASSERT_OK_AND_ASSIGN(const AudioClip read, read_wav(path));
    EXPECT_EQ(read.sample_rate, 16000);
    ASSERT_EQ(read.samples.size(), clip.samples.size());
    for (size_t i = 0; i < clip.samples.size(); ++i) {
        ASSERT_NEAR(read.samples[i], clip.samples[i], 1.0 / 32767) << i;
    }
    EXPECT_NEAR(read.duration_s(), 0.25, 1e-9);
}

TEST(WavTest, StereoIsAveragedToMono) {
    std::string data;
    for (int16_t v : {int16_t{1000}, int16_t{3000}, int16_t{-2000}, int16_t{0}}) {  // L R L R
        data += char(v & 0xFF);
        data += char((v >> 8) & 0xFF);
    }
    ASSERT_OK_AND_ASSIGN(const AudioClip clip,
                         read_wav(write_bytes("stereo.wav", wav_bytes(1, 2, 8000, 16, data))));
    EXPECT_EQ(clip.sample_rate, 8000);
    ASSERT_EQ(clip.samples.size(), 2u);
    EXPECT_FLOAT_EQ(clip.samples[0], 2000.0f / 32768.0f);
    EXPECT_FLOAT_EQ(clip.samples[1], -1000.0f / 32768.0f);
}

TEST(WavTest, OtherEncodingsAreNamedInTheError) {
    auto float_wav =
        read_wav(write_bytes("float.wav", wav_bytes(3, 1, 16000, 32, std::string(8, '\0'))));
    EXPECT_STATUS(float_wav, StatusCode::NOT_SUPPORTED);
    EXPECT_TRUE(contains(float_wav.status().message(), "32-bit float")) << float_wav.status();
    auto eight_bit =
        read_wav(write_bytes("u8.wav", wav_bytes(1, 1, 16000, 8, std::string(8, '\x80'))));
    EXPECT_STATUS(eight_bit, StatusCode::NOT_SUPPORTED);
    EXPECT_TRUE(contains(eight_bit.status().message(), "8-bit PCM")) << eight_bit.status();
    EXPECT_TRUE(contains(eight_bit.status().message(), "16-bit PCM")) << eight_bit.status();
}

TEST(WavTest, NonWavEmptyAndDamagedFilesAreClearErrors) {
    const std::string path = write_bytes("notes.wav", "these are notes, not audio\n");
    auto text = read_wav(path);
    EXPECT_STATUS(text, StatusCode::INVALID_ARGUMENT);
    EXPECT_TRUE(contains(text.status().message(), "not a WAV")) << text.status();
    EXPECT_TRUE(contains(text.status().message(), path)) << text.status();

    auto empty = read_wav(write_bytes("empty.wav", ""));
    EXPECT_STATUS(empty, StatusCode::INVALID_ARGUMENT);
    EXPECT_TRUE(contains(empty.status().message(), "empty")) << empty.status();

    // A header with no data chunk, and one whose data is cut short (read as far as it goes).
    const std::string whole = wav_bytes(1, 1, 16000, 16, std::string(100, '\0'));
    EXPECT_STATUS(decode_wav(std::vector<uint8_t>(whole.begin(), whole.begin() + 36)),
                  StatusCode::INVALID_ARGUMENT);
    ASSERT_OK_AND_ASSIGN(const AudioClip cut,
                         decode_wav(std::vector<uint8_t>(whole.begin(), whole.begin() + 64)));
    EXPECT_EQ(cut.samples.size(), 10u);
    EXPECT_STATUS(read_wav("/nonexistent/corun/a.wav"), StatusCode::NOT_FOUND);
}

TEST(WavTest, SampleRatesOutsideTheRangeAreRefusedNamingRateAndRange) {
    // 1 Hz would be resampled 16,000x for the VAD: a 400 KB file asked for 12.8 GB.
    for (const uint32_t rate : {0u, 1u, 3999u, 384001u, 0xFFFFFFFFu}) {
        SCOPED_TRACE(rate);
        const std::string bytes = wav_bytes(1, 1, rate, 16, std::string(400, '\x01'));
        auto clip = decode_wav(std::vector<uint8_t>(bytes.begin(), bytes.end()));
        EXPECT_STATUS(clip, StatusCode::INVALID_ARGUMENT);
        EXPECT_EQ(clip.status().message(),
                  "the WAV's sample rate " + std::to_string(rate) +
                      " Hz is outside the supported range 4000..384000 Hz; resample it first "
                      "(e.g. `sox in.wav -r 16000 out.wav`)")
            << clip.status();
    }
    for (const uint32_t rate : {4000u, 384000u}) {
        const std::string bytes = wav_bytes(1, 1, rate, 16, std::string(400, '\x01'));
        ASSERT_OK_AND_ASSIGN(const AudioClip clip,
                             decode_wav(std::vector<uint8_t>(bytes.begin(), bytes.end())));
        EXPECT_EQ(clip.sample_rate, static_cast<int>(rate));
        EXPECT_EQ(clip.samples.size(), 200u);
    }
}

TEST(WavTest, ImpossibleChannelCountsAreRefused) {
    for (const uint16_t channels : {uint16_t{0}, uint16_t{9}, uint16_t{65535}}) {
        SCOPED_TRACE(channels);
        const std::string bytes = wav_bytes(1, channels, 16000, 16, std::string(64, '\0'));
        auto clip = decode_wav(std::vector<uint8_t>(bytes.begin(), bytes.end()));
        EXPECT_STATUS(clip, StatusCode::INVALID_ARGUMENT);
        EXPECT_TRUE(contains(clip.status().message(), "fmt chunk is inconsistent: " +
                                                          std::to_string(channels) + " channels"))
            << clip.status();
    }
}

TEST(WavTest, DataChunkLongerThanTheFileIsReadAsFarAsItGoes) {
    // The data chunk claims 0xFFFFFFFF bytes (a streaming writer) but 6 follow: 3 samples, and
    // an odd trailing byte is not a sample.
    std::string bytes = wav_bytes(1, 1, 16000, 16, std::string("\x01\x00\x02\x00\x03\x00\x04", 7));
    for (size_t i = 40; i < 44; ++i) bytes[i] = '\xFF';  // the data chunk's size
    ASSERT_OK_AND_ASSIGN(const AudioClip clip,
                         decode_wav(std::vector<uint8_t>(bytes.begin(), bytes.end())));
    ASSERT_EQ(clip.samples.size(), 3u);
    EXPECT_FLOAT_EQ(clip.samples[2], 3.0f / 32768.0f);
    // A fmt chunk claiming 4 GiB leaves no room for a data chunk after it.
    std::string huge_fmt = wav_bytes(1, 1, 16000, 16, std::string(8, '\0'));
    for (size_t i = 16; i < 20; ++i) huge_fmt[i] = '\xFF';
    auto no_data = decode_wav(std::vector<uint8_t>(huge_fmt.begin(), huge_fmt.end()));
    EXPECT_STATUS(no_data, StatusCode::INVALID_ARGUMENT);
    EXPECT_EQ(no_data.status().message(), "the WAV has no data chunk");
}

// ---- resampling ----

TEST(ResampleTest, KeepsToneAndDurationAcrossRates) {
    const AudioClip source = sine(22050, 440, 1.0);
    ASSERT_OK_AND_ASSIGN(const AudioClip down, resample(source, 16000));
    EXPECT_EQ(down.sample_rate, 16000);
    EXPECT_EQ(down.samples.size(), 16000u);
    EXPECT_NEAR(component(down, 440), 0.5, 0.01);
    ASSERT_OK_AND_ASSIGN(const AudioClip up, resample(sine(8000, 440, 1.0), 16000));
    EXPECT_EQ(up.samples.size(), 16000u);
    EXPECT_NEAR(component(up, 440), 0.5, 0.01);
    ASSERT_OK_AND_ASSIGN(const AudioClip same, resample(source, 22050));
    EXPECT_EQ(same.samples, source.samples);
}

TEST(ResampleTest, RemovesFrequenciesAboveTheNewNyquist) {
    // 10 kHz fits at 22050 Hz but not at 16000 Hz (Nyquist 8 kHz): it must not alias to 6 kHz.
    ASSERT_OK_AND_ASSIGN(const AudioClip down, resample(sine(22050, 10000, 1.0), 16000));
    EXPECT_LT(component(down, 6000), 0.01);
    EXPECT_LT(component(down, 10000), 0.01);
}

TEST(ResampleTest, RejectsImpossibleRates) {
    EXPECT_STATUS(resample(sine(16000, 440, 0.1), 0), StatusCode::INVALID_ARGUMENT);
    EXPECT_STATUS(resample(AudioClip{}, 16000), StatusCode::INVALID_ARGUMENT);
    // A 1 Hz clip is refused before 16,000 output samples per input sample are allocated.
    AudioClip one_hertz;
    one_hertz.sample_rate = 1;
    one_hertz.samples.assign(200000, 0.0f);
    auto up = resample(one_hertz, 16000);
    EXPECT_STATUS(up, StatusCode::INVALID_ARGUMENT);
    EXPECT_TRUE(contains(up.status().message(),
                         "sample rate 1 Hz is outside the supported "
                         "range 4000..384000 Hz"))
        << up.status();
    EXPECT_STATUS(resample(sine(16000, 440, 0.1), 384001), StatusCode::INVALID_ARGUMENT);
}

TEST(ResampleTest, ResultAboveTheSampleLimitIsRefusedBeforeAllocating) {
    // 4 kHz to 384 kHz multiplies by 96: a clip of MAX_AUDIO_SAMPLES / 64 samples would give
    // 1.5x the limit. Only the source (32 MiB of floats) is allocated.
    AudioClip clip;
    clip.sample_rate = 4000;
    clip.samples.assign(MAX_AUDIO_SAMPLES / 64, 0.0f);
    auto up = resample(clip, 384000);
    EXPECT_STATUS(up, StatusCode::INVALID_ARGUMENT);
    EXPECT_EQ(up.status().message(),
              "resample: 8388608 samples from 4000 Hz to 384000 Hz give 805306368 samples, "
              "above the limit of 536870912; split the audio first");
}

// ---- segments from probabilities ----

TEST(SpeechSegmentsTest, HysteresisMinimumsAndPadding) {
    const double w = 0.032;
    VadOptions options;
    options.speech_pad_s = 0.0;
    // Silence, 20 windows of speech with one dip between the thresholds (kept) and a short
    // pause below both (2 windows = 64 ms < 100 ms: bridged), then silence.
    std::vector<float> p(10, 0.0f);
    for (int i = 0; i < 20; ++i) p.push_back(0.9f);
    p[15] = 0.4f;
    p[20] = 0.1f;
    p[21] = 0.1f;
    p.insert(p.end(), 10, 0.0f);
    auto segments = speech_segments(p, w, p.size() * w, options);
    ASSERT_EQ(segments.size(), 1u);
    EXPECT_NEAR(segments[0].start_s, 10 * w, 1e-9);
    EXPECT_NEAR(segments[0].end_s, 30 * w, 1e-9);

    // A blip shorter than min_speech_s (3 windows = 96 ms) is dropped.
    std::vector<float> blip(10, 0.0f);
    blip[3] = blip[4] = blip[5] = 0.9f;
    EXPECT_TRUE(speech_segments(blip, w, blip.size() * w, options).empty());

    // Speech running to the end closes at the clip's end; padding widens and is clipped.
    std::vector<float> tail(20, 0.0f);
    std::fill(tail.begin() + 5, tail.end(), 0.9f);
    options.speech_pad_s = 0.05;
    segments = speech_segments(tail, w, 0.63, options);
    ASSERT_EQ(segments.size(), 1u);
    EXPECT_NEAR(segments[0].start_s, 5 * w - 0.05, 1e-9);
    EXPECT_NEAR(segments[0].end_s, 0.63, 1e-9);

    // Two segments 6 windows (192 ms) apart, a gap narrower than two pads: they share it.
    // (A pause is measured up to its last silent window, so 4 silent windows, 96 ms, would
    // be bridged.)
    std::vector<float> two(40, 0.0f);
    std::fill(two.begin() + 2, two.begin() + 14, 0.9f);
    std::fill(two.begin() + 20, two.begin() + 32, 0.9f);
    options.speech_pad_s = 0.1;
    segments = speech_segments(two, w, two.size() * w, options);
    ASSERT_EQ(segments.size(), 2u);
    EXPECT_NEAR(segments[0].end_s, 17 * w, 1e-9);
    EXPECT_NEAR(segments[1].start_s, 17 * w, 1e-9);
    EXPECT_TRUE(speech_segments({}, w, 0.0, options).empty());
}

// ---- Silero VAD on rendered speech ----

class VoiceActivityTest : public ::testing::Test {
protected:
    void SetUp() override {
        if (!std::filesystem::is_regular_file(VAD_MODEL)) {
            GTEST_SKIP() << VAD_MODEL << " is missing; run scripts/fetch_models.sh";
        }
        const std::string raw = (scratch_directory() / "espeak.wav").string();
        const std::string command = "espeak-ng -w '" + raw +
                                    "' 'Hello, this is a test of voice activity detection.' "
                                    ">/dev/null 2>&1";
        if (std::system(command.c_str()) != 0) GTEST_SKIP() << "espeak-ng is not installed";
        auto speech = read_wav(raw);
        ASSERT_TRUE(speech.has_value()) << speech.status();
        // The spoken span: from the first to the last sample above -34 dBFS.
        const auto& s = speech->samples;
        auto loud = [](float v) { return std::abs(v) > 0.02f; };
        const auto first = std::find_if(s.begin(), s.end(), loud) - s.begin();
        const auto last = s.rend() - std::find_if(s.rbegin(), s.rend(), loud) - 1;
        ASSERT_LT(first, last);
        // 1 s of silence before and after.
        clip_.sample_rate = speech->sample_rate;
        clip_.samples.assign(static_cast<size_t>(clip_.sample_rate), 0.0f);
        clip_.samples.insert(clip_.samples.end(), s.begin(), s.end());
        clip_.samples.insert(clip_.samples.end(), static_cast<size_t>(clip_.sample_rate), 0.0f);
        speech_start_ = 1.0 + static_cast<double>(first) / clip_.sample_rate;
        speech_end_ = 1.0 + static_cast<double>(last) / clip_.sample_rate;
        auto vdevice = VDevice::create_shared();
        ASSERT_TRUE(vdevice.has_value()) << vdevice.status();
        auto detector = VoiceActivityDetector::create(vdevice.release(), VAD_MODEL);
        ASSERT_TRUE(detector.has_value()) << detector.status();
        detector_ = detector.release();
    }

    // Segments lie on the spoken span, cover it, and leave the padding silence alone.
    void expect_marks_speech_only(const std::vector<SpeechSegment>& segments) {
        ASSERT_FALSE(segments.empty());
        EXPECT_NEAR(segments.front().start_s, speech_start_, 0.15);
        EXPECT_NEAR(segments.back().end_s, speech_end_, 0.25);
        double covered = 0;
        for (const auto& segment : segments) {
            EXPECT_GT(segment.start_s, 0.8) << "speech marked in the leading silence";
            EXPECT_LT(segment.end_s, speech_end_ + 0.3) << "speech marked in the trailing silence";
            covered += std::max(0.0, std::min(segment.end_s, speech_end_) -
                                         std::max(segment.start_s, speech_start_));
        }
        EXPECT_GT(covered / (speech_end_ - speech_start_), 0.85);
    }

    AudioClip clip_;
    double speech_start_ = 0;
    double speech_end_ = 0;
    std::unique_ptr<VoiceActivityDetector> detector_;
};

TEST_F(VoiceActivityTest, MarksTheSpokenSpanOfEspeakSpeech) {
    EXPECT_EQ(clip_.sample_rate, 22050);  // espeak-ng's rate: resampled to 16 kHz inside
    ASSERT_OK_AND_ASSIGN(const auto probabilities, detector_->speech_probabilities(clip_));
    const double window = 512.0 / 16000;
    EXPECT_EQ(probabilities.size(),
              static_cast<size_t>(std::ceil(clip_.duration_s() * 16000 / 512 - 1e-9)));
    // The padding is silence with a probability near zero throughout.
    for (size_t i = 0; i < probabilities.size(); ++i) {
        const double t = static_cast<double>(i) * window;
        if (t + window < 0.9 || t > speech_end_ + 0.3) {
            EXPECT_LT(probabilities[i], 0.1f) << "window at " << t << " s";
        }
    }
    ASSERT_OK_AND_ASSIGN(const auto segments, detector_->detect(clip_));
    expect_marks_speech_only(segments);
}

TEST_F(VoiceActivityTest, OtherSampleRatesAreResampled) {
    for (int rate : {8000, 16000, 44100}) {
        ASSERT_OK_AND_ASSIGN(const AudioClip converted, resample(clip_, rate));
        const std::string path =
            (scratch_directory() / ("speech_" + std::to_string(rate) + ".wav")).string();
        ASSERT_OK(write_wav(path, converted));
        ASSERT_OK_AND_ASSIGN(const AudioClip read, read_wav(path));
        EXPECT_EQ(read.sample_rate, rate);
        ASSERT_OK_AND_ASSIGN(const auto segments, detector_->detect(read));
        SCOPED_TRACE("sample rate " + std::to_string(rate));
        expect_marks_speech_only(segments);
    }
}

TEST_F(VoiceActivityTest, SilenceAndNoiseHaveNoSpeech) {
    AudioClip silence;
    silence.sample_rate = 16000;
    silence.samples.assign(32000, 0.0f);
    ASSERT_OK_AND_ASSIGN(const auto none, detector_->detect(silence));
    EXPECT_TRUE(none.empty());
    // A steady 50 Hz hum is not speech either.
    ASSERT_OK_AND_ASSIGN(const auto hum, detector_->detect(sine(16000, 50, 2.0, 0.1f)));
    EXPECT_TRUE(hum.empty());
    // An empty clip gives no windows and no segments.
    AudioClip empty;
    empty.sample_rate = 16000;
    ASSERT_OK_AND_ASSIGN(const auto nothing, detector_->detect(empty));
    EXPECT_TRUE(nothing.empty());
}

TEST_F(VoiceActivityTest, ALiveStreamGivesTheProbabilitiesOfTheWholeClip) {
    // Window by window, as a microphone delivers them: the same probabilities as the whole clip
    // at once, exactly (same state, same context).
    ASSERT_OK_AND_ASSIGN(const AudioClip audio, resample(clip_, 16000));
    ASSERT_OK_AND_ASSIGN(const auto whole, detector_->speech_probabilities(clip_));
    ASSERT_OK(detector_->set_live_deadline(std::chrono::hours(1), 24));
    std::vector<float> live;
    for (size_t begin = 0; begin < audio.samples.size(); begin += VoiceActivityDetector::WINDOW) {
        const size_t count = std::min(VoiceActivityDetector::WINDOW, audio.samples.size() - begin);
        ASSERT_OK_AND_ASSIGN(const float probability,
                             detector_->push_live_window(
                                 std::span<const float>(audio.samples.data() + begin, count)));
        live.push_back(probability);
    }
    EXPECT_EQ(live, whole);
    // reset_live starts over from silence.
    detector_->reset_live();
    ASSERT_OK_AND_ASSIGN(const float first, detector_->push_live_window(
                                                std::span<const float>(audio.samples.data(), 512)));
    EXPECT_EQ(first, whole[0]);
    EXPECT_STATUS(detector_->push_live_window(std::vector<float>(513, 0.0f)),
                  StatusCode::INVALID_ARGUMENT);
}

TEST_F(VoiceActivityTest, RejectsOtherModelsAndBadOptions) {
    const std::string blazeface =
        std::string(CORUN_CACHE_DIR) +
        "/models/blazeface-128/face_detection_front_128x128_barracuda.onnx";
    if (std::filesystem::is_regular_file(blazeface)) {
        auto wrong = VoiceActivityDetector::create(VDevice::create_shared().release(), blazeface);
        EXPECT_STATUS(wrong, StatusCode::INVALID_MODEL);
        EXPECT_TRUE(contains(wrong.status().message(), "Silero VAD v5")) << wrong.status();
    }
    VadOptions inverted;
    inverted.negative_threshold = 0.9f;
    EXPECT_STATUS(
        VoiceActivityDetector::create(VDevice::create_shared().release(), VAD_MODEL, inverted),
        StatusCode::INVALID_ARGUMENT);
}

}  // namespace
}  // namespace corun::tasks
