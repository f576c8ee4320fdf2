// `corun transcribe MODEL.bin WAV` (issue 12), run as a user runs it: the built binary in a child
// process, on the tiny Whisper model the build writes (random weights: gibberish text, real
// structure) and an espeak-ng recording (22,050 Hz, so resampled). Bad input ends with exit
// code 1 and one line "corun: CODE: message" on stderr.
#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <string>

#include <nlohmann/json.hpp>

#include "cli_process.hpp"
#include "test_support.hpp"

namespace {

using corun::test::CliResult;
using corun::test::contains;
using corun::test::corun;
using corun::test::quoted;
using corun::test::scratch_directory;
using nlohmann::json;

const std::string TINY_WHISPER = corun::test::test_model("genai/tiny_whisper.bin");

// An espeak-ng recording (22050 Hz) of a short sentence; "" when espeak-ng is missing.
std::string espeak_wav() {
    static const std::string path = [] {
        const std::string wav = (scratch_directory() / "speech.wav").string();
        const std::string command =
            "espeak-ng -w " + quoted(wav) + " 'hello world, this is corun' >/dev/null 2>&1";
        std::error_code error;
        return std::system(command.c_str()) == 0 && std::filesystem::is_regular_file(wav, error)
                   ? wav
                   : std::string();
    }();
    return path;
}

void expect_error(const CliResult& run, const std::string& code, const std::string& part) {
    EXPECT_EQ(run.exit_code, 1) << run;
    EXPECT_EQ(run.err.rfind("corun: " + code + ": ", 0), 0u) << run;
    ASSERT_FALSE(run.err.empty()) << run;
    EXPECT_EQ(run.err.find('\n'), run.err.size() - 1) << "not one line: " << run;
    EXPECT_TRUE(contains(run.err, part)) << "no '" << part << "' in: " << run;
    EXPECT_TRUE(run.out.empty()) << run;
}

TEST(CliTranscribeTest, JsonHasTheSegmentsAndTheRealTimeFactor) {
    const std::string wav = espeak_wav();
    if (wav.empty()) GTEST_SKIP() << "espeak-ng is not installed (scripts/setup.sh installs it)";
    const CliResult run = corun({"transcribe", TINY_WHISPER, wav, "--language", "en", "--json"});
    ASSERT_EQ(run.exit_code, 0) << run;
    const json out = json::parse(run.out);
    EXPECT_EQ(out.at("sample_rate").get<int>(), 22050) << run;  // espeak-ng's rate
    EXPECT_TRUE(out.at("resampled").get<bool>()) << run;
    EXPECT_EQ(out.at("windows").get<int>(), 1) << run;
    EXPECT_EQ(out.at("language").get<std::string>(), "en");
    EXPECT_EQ(out.at("task").get<std::string>(), "transcribe");
    const double duration = out.at("duration_s").get<double>();
    const auto& segments = out.at("segments");
    ASSERT_FALSE(segments.empty()) << run;
    std::string text;
    double previous_start = 0;
    for (const auto& segment : segments) {
        const double start = segment.at("start_s").get<double>();
        const double end = segment.at("end_s").get<double>();
        EXPECT_GE(start, previous_start) << run;
        EXPECT_LE(start, end) << run;
        EXPECT_LE(end, duration + 0.01) << run;
        previous_start = start;
        text += segment.at("text").get<std::string>();
    }
    EXPECT_EQ(out.at("text").get<std::string>(), text);
    EXPECT_GT(out.at("real_time_factor").get<double>(), 0.0) << run;
}

TEST(CliTranscribeTest, TextSaysWhatItDid) {
    const std::string wav = espeak_wav();
    if (wav.empty()) GTEST_SKIP() << "espeak-ng is not installed (scripts/setup.sh installs it)";
    const CliResult run = corun({"transcribe", TINY_WHISPER, wav, "--segments"});
    ASSERT_EQ(run.exit_code, 0) << run;
    EXPECT_TRUE(contains(run.out, "22050 Hz")) << run;
    EXPECT_TRUE(contains(run.out, "(resampled to 16000 Hz for the model)")) << run;
    EXPECT_TRUE(contains(run.out, "tiny_whisper.bin: transcribe, language auto")) << run;
    EXPECT_TRUE(contains(run.out, " s]  ")) << run;  // a segment line with its times
    EXPECT_TRUE(contains(run.out, "1 30 s window, ")) << run;
    EXPECT_TRUE(contains(run.out, "real-time factor")) << run;
}

TEST(CliTranscribeTest, BadInputIsAOneLineError) {
    const std::string wav = espeak_wav();
    if (wav.empty()) GTEST_SKIP() << "espeak-ng is not installed (scripts/setup.sh installs it)";
    expect_error(corun({"transcribe", (scratch_directory() / "missing.bin").string(), wav}),
                 "NOT_FOUND", "missing.bin");
    expect_error(corun({"transcribe", corun::test::test_model("add_one.onnx"), wav}),
                 "INVALID_MODEL", "not a whisper.cpp model");
    expect_error(
        corun({"transcribe", TINY_WHISPER, (scratch_directory() / "missing.wav").string()}),
        "NOT_FOUND", "missing.wav");
    expect_error(corun({"transcribe", TINY_WHISPER, wav, "--language", "xx"}), "INVALID_ARGUMENT",
                 "'xx'");
}

}  // namespace
