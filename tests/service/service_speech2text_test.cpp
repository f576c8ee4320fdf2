// genai::Speech2Text through corund (issue 12, item 6: `--multi-process-service` works for every
// generative model): the real corund on a private socket and the tiny Whisper-shaped model written
// at build time (random weights: the text is gibberish, but greedy decoding makes it repeatable).
// The segments are the same as in-process, the windows are units of corund's scheduler, and bad
// input gets the same clear errors.
#include <cmath>
#include <vector>

#include "corun/genai/speech2text.hpp"
#include "corund_process.hpp"
#include "test_support.hpp"

namespace corun::test {
namespace {

using genai::Speech2Text;
using genai::Speech2TextParams;
using genai::Speech2TextSegment;

const std::string kTinyWhisper = test_model("genai/tiny_whisper.bin");
constexpr int kRate = 16000;

// Three seconds of tones and silence: audio the model decodes to some text, the same every time.
std::vector<float> tones() {
    std::vector<float> audio(static_cast<size_t>(3 * kRate), 0.0f);
    for (size_t i = kRate / 2; i < audio.size() - kRate / 2; ++i) {
        const double t = static_cast<double>(i) / kRate;
        audio[i] = static_cast<float>(0.3 * std::sin(2 * M_PI * (220.0 + 110.0 * t) * t));
    }
    return audio;
}

Speech2TextParams one_thread() {
    Speech2TextParams params;
    params.threads = 1;  // the same arithmetic in both processes
    params.language = "en";
    return params;
}

uint64_t units_done(const VDevice& vdevice, uint64_t model_id, std::string* name = nullptr) {
    for (const auto& stats : vdevice.get_scheduler_stats()) {
        if (stats.model_id != model_id) continue;
        if (name != nullptr) *name = stats.name;
        return stats.frames_done;
    }
    return 0;
}

class ServiceSpeech2TextTest : public CorundTest {};

TEST_F(ServiceSpeech2TextTest, SegmentsThroughCorundAreTheSameAsInProcess) {
    VDeviceParams local_params;
    local_params.group_id = unique_group("speech-local");
    ASSERT_OK_AND_ASSIGN(auto local_vdevice, VDevice::create(local_params));
    ASSERT_OK_AND_ASSIGN(auto local,
                         Speech2Text::create(*local_vdevice, kTinyWhisper, one_thread()));
    ASSERT_OK_AND_ASSIGN(auto remote_vdevice, VDevice::create(params()));
    ASSERT_OK_AND_ASSIGN(auto remote,
                         Speech2Text::create(*remote_vdevice, kTinyWhisper, one_thread()));

    const std::vector<float> audio = tones();
    ASSERT_OK_AND_ASSIGN(const auto local_segments, local->generate_all_segments(audio));
    ASSERT_OK_AND_ASSIGN(const auto remote_segments, remote->generate_all_segments(audio));
    ASSERT_FALSE(local_segments.empty());
    ASSERT_EQ(remote_segments.size(), local_segments.size());
    for (size_t i = 0; i < local_segments.size(); ++i) {
        EXPECT_EQ(remote_segments[i].text, local_segments[i].text) << "segment " << i;
        EXPECT_EQ(remote_segments[i].start_sec, local_segments[i].start_sec) << "segment " << i;
        EXPECT_EQ(remote_segments[i].end_sec, local_segments[i].end_sec) << "segment " << i;
    }
    ASSERT_OK_AND_ASSIGN(const std::string text, remote->generate_all_text(audio));
    std::string joined;
    for (const auto& segment : local_segments) joined += segment.text;
    EXPECT_EQ(text, joined);

    // Each call's one window was one unit of corund's scheduler, under the model's name.
    std::string name;
    const uint64_t id = remote->scheduler_model_id();
    EXPECT_TRUE(wait_until([&] { return units_done(*remote_vdevice, id, &name) == 2; }))
        << units_done(*remote_vdevice, id) << " units";
    EXPECT_EQ(name, "tiny_whisper");
    ASSERT_OK(remote->set_scheduler_priority(24));
    ASSERT_OK(remote->set_scheduler_timeout(std::chrono::milliseconds(5)));
}

TEST_F(ServiceSpeech2TextTest, BadInputGetsTheSameClearErrorsAsInProcess) {
    ASSERT_OK_AND_ASSIGN(auto vdevice, VDevice::create(params()));
    // A missing file: named, with what to pass.
    const auto missing = status_of(Speech2Text::create(*vdevice, "/nonexistent/ggml-tiny.bin"));
    EXPECT_EQ(missing.code(), StatusCode::NOT_FOUND) << missing;
    EXPECT_NE(missing.message().find("/nonexistent/ggml-tiny.bin"), std::string::npos) << missing;
    // A file that is not a whisper.cpp model: refused by corund, naming the client's file.
    const auto wrong = status_of(Speech2Text::create(*vdevice, test_model("add_one.onnx")));
    EXPECT_FALSE(wrong.is_ok());
    EXPECT_NE(wrong.message().find("add_one (sent by the client)"), std::string::npos) << wrong;
    EXPECT_EQ(wrong.message().find("/proc/self/fd"), std::string::npos) << wrong;
    // A language the model does not know: refused by create(), as in-process.
    const auto language =
        status_of(Speech2Text::create(*vdevice, kTinyWhisper, {.language = "xx", .threads = 1}));
    EXPECT_EQ(language.code(), StatusCode::INVALID_ARGUMENT) << language;
    EXPECT_NE(language.message().find("xx"), std::string::npos) << language;

    ASSERT_OK_AND_ASSIGN(auto speech2text,
                         Speech2Text::create(*vdevice, kTinyWhisper, one_thread()));
    const auto empty = status_of(speech2text->generate_all_segments({}));
    EXPECT_EQ(empty.code(), StatusCode::INVALID_ARGUMENT) << empty;
    EXPECT_NE(empty.message().find("empty"), std::string::npos) << empty;
    std::vector<float> not_finite = tones();
    not_finite[kRate] = NAN;
    const auto nan = status_of(speech2text->generate_all_segments(not_finite));
    EXPECT_EQ(nan.code(), StatusCode::INVALID_ARGUMENT) << nan;
    // The model still serves after the errors.
    EXPECT_OK(speech2text->generate_all_segments(tones()).status());
}

class ServiceSpeech2TextLimitsTest : public CorundTest {
protected:
    std::vector<std::string> daemon_args() const override {
        return {"--max-speech-models-per-client", "1"};
    }
};

TEST_F(ServiceSpeech2TextLimitsTest, ModelsBeyondTheLimitAreRefusedNamingTheSetting) {
    ASSERT_OK_AND_ASSIGN(auto vdevice, VDevice::create(params()));
    ASSERT_OK_AND_ASSIGN(auto first, Speech2Text::create(*vdevice, kTinyWhisper, one_thread()));
    const auto second = status_of(Speech2Text::create(*vdevice, kTinyWhisper, one_thread()));
    EXPECT_EQ(second.code(), StatusCode::RESOURCE_LIMIT) << second;
    EXPECT_NE(second.message().find("max_speech_models_per_client"), std::string::npos) << second;
    // Freeing the first makes room.
    first.reset();
    EXPECT_OK(Speech2Text::create(*vdevice, kTinyWhisper, one_thread()).status());
}

}  // namespace
}  // namespace corun::test
